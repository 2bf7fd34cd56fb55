"""The audit trail seen from lookups and the audit commands."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.cli import app
from tests.support import RDAP_FIXTURES, all_fixture_files, load_fixture, loopback_profiles

runner = CliRunner()
AUTNUM = load_fixture("autnum/arin-as63311.json")


def audit_records(home: Path, tenant: str = "lab") -> list[dict]:
    records = []
    for day in sorted((home / "audit" / tenant).glob("*.jsonl")):
        records.extend(json.loads(line) for line in day.read_text().splitlines())
    return records


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(rdapctl_home, httpserver.port)
    httpserver.expect_request("/autnum/63311").respond_with_json(AUTNUM)
    return httpserver


def lookup(server: HTTPServer, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app, ["lookup", "AS63311", "--server", server.url_for("/"), "-o", "json", *extra]
    )


def test_every_lookup_is_recorded_with_its_context(lab: HTTPServer, rdapctl_home: Path) -> None:
    """A lookup record carries who, what, under which policy, and what came back (names only)."""
    assert lookup(lab).exit_code == 0
    assert lookup(lab).exit_code == 0
    records = [r for r in audit_records(rdapctl_home) if r["event"] == "lookup"]
    assert [r["source"] for r in records] == ["network", "cache"]
    rec = records[0]
    for key in (
        "schema",
        "ts",
        "id",
        "tenant",
        "actor",
        "host",
        "pid",
        "rdapctl",
        "command",
        "policy",
        "business_criticality",
        "purpose",
        "legal_basis",
        "prev",
        "mac",
    ):
        assert key in rec
    assert rec["query"] == "63311"
    assert rec["query_type"] == "autnum"
    assert rec["server_host"] in ("127.0.0.1", "localhost")
    assert rec["url_path"] == "/autnum/63311"
    assert rec["http_status"] == 200
    assert rec["exit_code"] == 0
    assert "email" in rec["redacted_fields"]
    assert rec["purpose"] == "not_specified"
    assert rec["ts"].endswith("Z") and "." in rec["ts"]


def test_audit_verify_and_tamper_detection(lab: HTTPServer, rdapctl_home: Path) -> None:
    """verify exits 0 on an intact log and 10 with file:line after an edit."""
    lookup(lab)
    lookup(lab)
    ok = runner.invoke(app, ["audit", "verify", "-o", "json"])
    assert ok.exit_code == 0, ok.stdout
    day = next((rdapctl_home / "audit" / "lab").glob("*.jsonl"))
    lines = day.read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace('"lookup"', '"lookuq"')
    day.write_text("".join(lines))
    bad = runner.invoke(app, ["audit", "verify", "-o", "text"])
    assert bad.exit_code == 10
    assert f"{day.name}:1" in bad.stdout


def test_denied_lookup_records_the_policy_event(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    """An SSRF refusal is recorded as ssrf_blocked and as a lookup with status denied."""
    result = runner.invoke(app, ["lookup", "AS1", "--server", "https://127.0.0.1:9/", "-o", "json"])
    assert result.exit_code == 4
    events = [r["event"] for r in audit_records(rdapctl_home, "default")]
    assert "ssrf_blocked" in events
    assert [
        r["status"] for r in audit_records(rdapctl_home, "default") if r["event"] == "lookup"
    ] == ["denied"]


def test_audit_write_failure_fails_closed(lab: HTTPServer, rdapctl_home: Path) -> None:
    """If the record cannot be written, exit 10 and no RDAP data is printed."""
    lookup(lab)  # creates keys and the audit folder
    today = time.strftime("%Y-%m-%d", time.gmtime())
    day = rdapctl_home / "audit" / "lab" / f"{today}.jsonl"
    saved = day.read_bytes()
    day.unlink()
    day.mkdir()  # writing the day file now fails
    result = lookup(lab, "--no-cache")
    assert result.exit_code == 10
    envelope = json.loads(result.stdout)
    assert envelope["response"] is None
    assert envelope["error"]["code"] == "audit_error"
    day.rmdir()
    day.write_bytes(saved)


def test_fail_open_prints_with_a_loud_warning(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    """audit.fail_open = true shows the result and warns that nothing was recorded."""
    loopback_profiles(rdapctl_home, httpserver.port, extra="[tenants.lab.audit]\nfail_open = true")
    httpserver.expect_request("/autnum/63311").respond_with_json(AUTNUM)
    lookup(httpserver)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    day = rdapctl_home / "audit" / "lab" / f"{today}.jsonl"
    day.unlink()
    day.mkdir()
    result = lookup(httpserver, "--no-cache")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["response"]["objectClassName"] == "autnum"
    assert "AUDIT RECORD NOT WRITTEN" in result.stderr


def test_hash_queries_keeps_the_query_out_of_the_log(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """With hash_queries the log holds a keyed hash, not the name that was looked up."""
    loopback_profiles(
        rdapctl_home, httpserver.port, extra="[tenants.lab.audit]\nhash_queries = true"
    )
    httpserver.expect_request("/autnum/63311").respond_with_json(AUTNUM)
    lookup(httpserver)
    text = "".join(p.read_text() for p in (rdapctl_home / "audit" / "lab").glob("*.jsonl"))
    assert "63311" not in text


def test_policy_change_is_recorded(lab: HTTPServer, rdapctl_home: Path) -> None:
    """Changing the tenant's policy writes a policy_changed record before the next one."""
    lookup(lab)
    profiles = rdapctl_home / "profiles.toml"
    profiles.write_text(
        profiles.read_text().replace('isolation = "standard"', 'isolation = "strict"')
    )
    lookup(lab)
    assert "policy_changed" in [r["event"] for r in audit_records(rdapctl_home)]


def test_no_contact_data_reaches_the_audit_log(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    """Audit records hold field names, never the redacted values or the response."""
    loopback_profiles(rdapctl_home, httpserver.port, extra="requests_per_second = 100000.0")
    for i, path in enumerate(all_fixture_files()):
        httpserver.expect_request(f"/fx/{i}").respond_with_data(
            path.read_bytes(), content_type="application/rdap+json"
        )
        runner.invoke(app, ["lookup", httpserver.url_for(f"/fx/{i}"), "-o", "json", "--no-cache"])
    text = "".join(p.read_text() for p in (rdapctl_home / "audit" / "lab").glob("*.jsonl"))
    assert "@" not in text
    assert "vcardArray" not in text
    assert "tel:" not in text
    assert RDAP_FIXTURES.exists()


def test_show_export_path_prune_repair(lab: HTTPServer, rdapctl_home: Path) -> None:
    """The audit commands read, export and look after the log without breaking the chain."""
    lookup(lab)
    shown = runner.invoke(app, ["audit", "show", "--event", "lookup", "-o", "json"])
    assert shown.exit_code == 0
    assert [json.loads(x)["event"] for x in shown.stdout.splitlines()] == ["lookup"]
    out = rdapctl_home / "export.jsonl"
    assert (
        runner.invoke(
            app, ["audit", "export", "--since", "2000-01-01", "--output", str(out)]
        ).exit_code
        == 0
    )
    assert len(out.read_text().splitlines()) >= 1
    assert runner.invoke(app, ["audit", "show", "--since", "yesterday"]).exit_code == 2
    assert runner.invoke(app, ["audit", "path"]).stdout.strip().endswith("audit/lab")
    assert runner.invoke(app, ["audit", "prune"]).exit_code == 0
    day = next((rdapctl_home / "audit" / "lab").glob("*.jsonl"))
    with day.open("ab") as fh:
        fh.write(b'{"torn": ')
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 10
    repaired = runner.invoke(app, ["audit", "repair"])
    assert repaired.exit_code == 0
    assert "torn" in repaired.stdout or "moved" in repaired.stdout
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    assert list((rdapctl_home / "audit" / "lab").glob("*quarantine*"))


WORKER = """
import sys
from rdapctl.app.lookup import LookupOptions, run_lookup
from rdapctl.app.runtime import Runtime
from rdapctl.profiles.loader import find_profiles_file, load_profiles, select_tenant
import os
runtime = Runtime.from_env(os.environ, command="lookup")
tenant = select_tenant(load_profiles(find_profiles_file(None, runtime.env, runtime.paths)), None, runtime.env)
from rdapctl.app.session import TenantSession
with TenantSession(runtime, tenant) as session:
    for i in range(int(sys.argv[2])):
        env = run_lookup(session, "AS63311", LookupOptions(server=sys.argv[1], cache_mode="no-cache"))
        assert env["status"] == "ok", env
"""


@pytest.mark.slow
def test_concurrent_processes_write_one_intact_chain(lab: HTTPServer, rdapctl_home: Path) -> None:
    """8 processes x 200 lookups of one tenant → exactly 1,600 lookup records, verify ok."""
    # Single lookups share the tenant's per-host rate: let this one be fast.
    loopback_profiles(rdapctl_home, lab.port, extra="requests_per_second = 100000.0")
    lookup(lab)  # create the keyring first, as a real first run would
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, lab.url_for("/"), "200"]) for _ in range(8)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    lookups = [r for r in audit_records(rdapctl_home) if r["event"] == "lookup"]
    assert len(lookups) == 1 + 1600
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
