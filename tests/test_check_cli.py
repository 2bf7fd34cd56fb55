"""``rdapctl check`` end to end: a saved answer (``--file``), a live answer from a real
server on 127.0.0.1 under a tenant's policy, ``--list``, the output formats, ``--fail-on``
and exit 11, and ``lookup --check`` / ``batch --check``. The findings themselves are
tested check by check in tests/test_conformance_*.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.cli import app
from rdapctl.cli.commands.schema import load_schema
from rdapctl.rdap.conformance import all_checks
from tests.hostile import audit_records
from tests.support import RDAP_FIXTURES, load_fixture, loopback_profiles

runner = CliRunner()
DOMAIN = "domain-registrar/markmonitor-google.com.json"
NONCONFORMANT = "odd/registrar-domain-nonconformant-jcard.json"
AUTNUM = "autnum/arin-as63311.json"


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def fits(name: str, doc: Any) -> None:
    validator = Draft202012Validator(load_schema(name))
    problems = [e.message for e in validator.iter_errors(doc)]
    assert not problems, problems[:3]


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(
        rdapctl_home, httpserver.port, extra="[tenants.lab.compliance]\ngdpr = true\n"
    )
    return httpserver


# -- --list ------------------------------------------------------------------------------


def test_list_prints_every_check_once() -> None:
    code, out, _ = invoke("check", "--list", "-o", "json")
    assert code == 0
    doc = json.loads(out)
    fits("check", doc)
    ids = [c["id"] for c in doc["checks"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {c.id for c in all_checks()}
    code, text, _ = invoke("check", "--list", "-o", "text")
    assert code == 0
    assert "rfc9083.events.date" in text and "RFC 9083" in text


# -- a saved answer ------------------------------------------------------------------------


def broken_file(tmp_path: Path) -> Path:
    """A real answer with one eventDate that is not RFC 3339."""
    body = copy.deepcopy(load_fixture(AUTNUM))
    assert isinstance(body, dict)
    body["events"][0]["eventDate"] = "05/07/2023"
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def test_file_mode_reports_the_finding_at_its_pointer_and_exits_11(tmp_path: Path) -> None:
    path = broken_file(tmp_path)
    code, out, _ = invoke("check", "--file", str(path), "--type", "autnum", "-o", "json")
    assert code == 11
    doc = json.loads(out)
    fits("check", doc)
    dates = [f for f in doc["findings"] if f["id"] == "rfc9083.events.date"]
    assert [f["pointer"] for f in dates] == ["/events/0/eventDate"]
    assert dates[0]["severity"] == "error" and "RFC 9083" in dates[0]["reference"]
    assert doc["summary"]["error"] == sum(f["severity"] == "error" for f in doc["findings"])
    assert doc["error"] is None and doc["type"] == "autnum"


def test_the_unbroken_answer_has_no_such_finding(tmp_path: Path) -> None:
    path = RDAP_FIXTURES / AUTNUM
    code, out, _ = invoke("check", "--file", str(path), "--type", "autnum", "-o", "json")
    doc = json.loads(out)
    assert not [f for f in doc["findings"] if f["id"] == "rfc9083.events.date"]
    assert code == (11 if doc["summary"]["error"] else 0)


@pytest.mark.parametrize(("fail_on", "expected"), [("never", 0), ("error", 11), ("warning", 11)])
def test_fail_on_decides_the_exit_code(tmp_path: Path, fail_on: str, expected: int) -> None:
    path = broken_file(tmp_path)
    code, _, _ = invoke("check", "--file", str(path), "--type", "autnum", "--fail-on", fail_on)
    assert code == expected


def test_warnings_fail_only_under_fail_on_warning(tmp_path: Path) -> None:
    """A saved answer whose only finding is a warning: a headers file saying
    application/json (RFC 7480 wants application/rdap+json)."""
    body = load_fixture(AUTNUM)
    answer = tmp_path / "a.json"
    answer.write_text(json.dumps(body), encoding="utf-8")
    headers = tmp_path / "h.txt"
    headers.write_text(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Access-Control-Allow-Origin: *\r\n\r\n",
        encoding="utf-8",
    )
    args = ["check", "--file", str(answer), "--headers", str(headers), "--type", "autnum"]
    _, out, _ = invoke(*args, "-o", "json", "--fail-on", "never")
    doc = json.loads(out)
    assert doc["http_status"] == 200
    ids = {f["id"]: f["severity"] for f in doc["findings"]}
    assert ids.get("rfc7480.media-type.rdap") == "warning"
    assert "rfc7480.cors" not in ids
    errors = doc["summary"]["error"]
    assert invoke(*args, "--fail-on", "error")[0] == (11 if errors else 0)
    assert invoke(*args, "--fail-on", "warning")[0] == 11


def test_github_format_is_one_workflow_command_per_finding(tmp_path: Path) -> None:
    path = broken_file(tmp_path)
    code, out, _ = invoke("check", "--file", str(path), "--type", "autnum", "--format", "github")
    assert code == 11
    lines = out.splitlines()
    _, doc_out, _ = invoke("check", "--file", str(path), "--type", "autnum", "-o", "json")
    findings = json.loads(doc_out)["findings"]
    assert len(lines) == len(findings)
    level = {"error": "::error ", "warning": "::warning ", "info": "::notice "}
    for line, finding in zip(lines, findings, strict=True):
        assert line.startswith(level[finding["severity"]])
        assert f"file={str(path).replace(':', '%3A')}" in line
        assert f"title={finding['id']}::" in line
        assert "\n" not in line and "\r" not in line
    assert any("/events/0/eventDate: " in line for line in lines)


def test_text_view_is_a_table_and_a_summary(tmp_path: Path) -> None:
    path = broken_file(tmp_path)
    code, out, _ = invoke("check", "--file", str(path), "--type", "autnum", "-o", "text")
    assert code == 11
    assert "rfc9083.events.date" in out and "/events/0/eventDate" in out
    assert "(profile rfc)" in out.splitlines()[-1]


@pytest.mark.parametrize(
    "args",
    [
        ["check"],  # nothing to check
        ["check", "x.com", "--file", "a.json"],  # both
        ["check", "--file", "a.json"],  # no --type for a file
        ["check", "--file", "a.json", "--type", "url"],
        ["check", "x.com", "--profile", "iso"],
        ["check", "x.com", "--fail-on", "sometimes"],
        ["check", "x.com", "--format", "sarif"],
        ["check", "x.com", "--headers", "h.txt"],
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "a.json").write_text("{}", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        code, out, err = invoke(*args)
    assert code == 2, err
    assert out == ""


def test_a_file_that_is_not_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "answer.json"
    path.write_bytes(b"<html>nope</html>")
    code, out, err = invoke("check", "--file", str(path), "--type", "domain", "-o", "text")
    assert code == 3
    assert "not JSON" in err and out == ""
    code, out, _ = invoke("check", "--file", str(path), "--type", "domain", "-o", "json")
    assert code == 3
    doc = json.loads(out)
    fits("check", doc)
    assert doc["error"]["code"] == "bad_json" and doc["findings"] == []


# -- a live answer -------------------------------------------------------------------------


def test_live_check_fetches_under_the_tenant_and_records_it(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    lab.expect_request("/domain/google.com").respond_with_json(
        load_fixture(DOMAIN), content_type="application/rdap+json"
    )
    code, out, _ = invoke(
        "check", "google.com", "--server", lab.url_for("/"), "-o", "json", "--fail-on", "never"
    )
    assert code == 0
    doc = json.loads(out)
    fits("check", doc)
    assert doc["url"] == lab.url_for("/domain/google.com") and doc["http_status"] == 200
    # Over http on loopback the https check fires; .com is a gTLD: both profiles run.
    assert "rfc7480.https" in {f["id"] for f in doc["findings"]}
    assert doc["profile"] == "all"
    [record] = [r for r in audit_records(rdapctl_home) if r["event"] == "check"]
    assert record["query"] == "google.com" and record["http_status"] == 200
    assert record["findings"] == doc["summary"]
    assert record["finding_ids"] == sorted({f["id"] for f in doc["findings"]})
    assert "message" not in json.dumps(record)


@pytest.mark.parametrize(
    ("args", "profile"),
    [
        (["afnic.fr"], "rfc"),  # a ccTLD
        (["google.com", "--profile", "rfc"], "rfc"),  # asked for
        (["{base}domain/google.com"], "all"),  # a registrar's URL for a gTLD name
        (["{base}domain/google.zz"], "rfc"),  # a TLD the bootstrap does not list
    ],
)
def test_the_profile_follows_the_tld(lab: HTTPServer, args: list[str], profile: str) -> None:
    body = load_fixture(DOMAIN)
    for path in ("/domain/afnic.fr", "/domain/google.com", "/domain/google.zz"):
        lab.expect_request(path).respond_with_json(body)
    base = lab.url_for("/")
    words = [a.format(base=base) for a in args]
    code, out, _ = invoke("check", *words, "--server", base, "-o", "json", "--fail-on", "never")
    assert code == 0
    doc = json.loads(out)
    assert doc["profile"] == profile
    icann = any(f["id"].startswith("icann.") for f in doc["findings"])
    assert icann == (profile == "all")


def test_findings_never_quote_personal_data(lab: HTTPServer) -> None:
    """The checks run before redaction, so nothing of the contacts may be quoted."""
    body = load_fixture(NONCONFORMANT)
    lab.expect_request("/domain/example.com").respond_with_json(body)
    code, out, _ = invoke(
        "check", "example.com", "--server", lab.url_for("/"), "-o", "json", "--profile", "all"
    )
    assert code == 11
    cards = [e.get("vcardArray") for e in body["entities"]]  # type: ignore[index]
    values = {
        v
        for card in json.dumps(cards).split('"')
        if (v := card.strip()) and ("@" in v or v.startswith("+") or len(v) > 12)
    }
    assert values, "the fixture has contact values"
    for value in values:
        assert value not in out, value


def test_an_error_answer_is_checked_too(lab: HTTPServer) -> None:
    lab.expect_request("/domain/nope.com").respond_with_json({"errorCode": 400}, status=404)
    code, out, _ = invoke(
        "check", "nope.com", "--server", lab.url_for("/"), "-o", "json", "--fail-on", "never"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["http_status"] == 404
    mismatch = [f for f in doc["findings"] if f["id"] == "rfc7480.error-code"]
    assert [f["pointer"] for f in mismatch] == ["/errorCode"]


def test_a_refused_check_sends_nothing(lab: HTTPServer, rdapctl_home: Path) -> None:
    loopback_profiles(rdapctl_home, lab.port, extra='allowed_query_types = ["domain"]\n')
    code, out, err = invoke("check", "AS63311", "--server", lab.url_for("/"), "-o", "text")
    assert code == 4
    assert out == "" and "may not run autnum" in err
    assert lab.log == []
    events = [r["event"] for r in audit_records(rdapctl_home)]
    assert "policy_denied" in events and "check" in events


def test_no_answer_is_json_with_an_error_under_o_json(rdapctl_home: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loopback_profiles(rdapctl_home, port)
    code, out, _ = invoke("check", "AS1", "--server", f"http://127.0.0.1:{port}/", "-o", "json")
    assert code == 7
    doc = json.loads(out)
    fits("check", doc)
    assert doc["findings"] == [] and doc["error"]["exit_code"] == 7


# -- lookup --check and batch --check ---------------------------------------------------


def test_lookup_check_adds_checks_and_a_summary_line(lab: HTTPServer) -> None:
    lab.expect_request("/autnum/63311").respond_with_json(
        load_fixture(AUTNUM), content_type="application/rdap+json"
    )
    base = lab.url_for("/")
    code, out, err = invoke("lookup", "AS63311", "--server", base, "-o", "json", "--check")
    assert code == 0  # findings do not change a lookup's exit code
    env = json.loads(out)
    fits("envelope", env)
    assert env["checks"]["profile"] == "rfc"
    assert "rfc7480.https" in {f["id"] for f in env["checks"]["findings"]}
    assert "rdapctl: checks: " in err and "(profile rfc)" in err
    # A checked lookup is never a cache hit, and the cached answer carries no checks.
    code, out, _ = invoke("lookup", "AS63311", "--server", base, "-o", "json", "--check")
    assert json.loads(out)["source"] == "network"
    assert len(lab.log) == 2
    code, out, _ = invoke("lookup", "AS63311", "--server", base, "-o", "json")
    plain = json.loads(out)
    assert plain["source"] == "cache" and "checks" not in plain


def test_lookup_check_offline_is_refused(lab: HTTPServer) -> None:
    code, out, _ = invoke(
        "lookup", "AS63311", "--server", lab.url_for("/"), "-o", "json", "--check", "--offline"
    )
    assert code == 2
    assert json.loads(out)["error"]["code"] == "usage_error"


def test_batch_check_adds_checks_per_line(lab: HTTPServer, rdapctl_home: Path) -> None:
    lab.expect_request("/autnum/63311").respond_with_json(load_fixture(AUTNUM))
    loopback_profiles(
        rdapctl_home,
        lab.port,
        extra=f'[tenants.lab.servers]\nall = "{lab.url_for("/")}"\n',
    )
    code, out, _ = invoke("batch", "-", "--no-progress", "--check", stdin="AS63311\nAS63311\n")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["line"] for line in lines] == [1, 2]
    for line in lines:
        assert line["checks"]["summary"]["error"] >= 1  # http, and no rdap media type
        fits("envelope", line)
