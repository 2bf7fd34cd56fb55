"""``hash_queries`` hides the query in every field of every audit record.

Each test provokes one kind of record through the CLI against the local test server,
with the query spelled out in the places a server or rdapctl can put it (URL paths,
referral URLs, redirect targets, refused hosts, error messages), then greps every file
of the tenant's audit folder for the query in each spelling that gives it away.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.cli import app
from rdapctl.store.audit.scrub import query_forms, scrub_text
from tests.support import load_fixture, loopback_profiles

runner = CliRunner()

QUERY = "Bücher.DE"  # as a user types it; rdapctl asks for xn--bcher-kva.de
A_LABEL = "xn--bcher-kva.de"
U_LABEL = "bücher.de"
# Spellings that must not appear (compared case-insensitively, also JSON-escaped).
SPELLINGS = (A_LABEL, U_LABEL, "b%c3%bccher.de", "b\\u00fccher.de", "bücher", "xn--bcher-kva")
HASHED = "[tenants.lab.audit]\nhash_queries = true\n"


def audit_text(home: Path, tenant: str = "lab") -> str:
    """Every byte of the tenant's audit folder (day files, checkpoint, quarantine)."""
    folder = home / "audit" / tenant
    assert folder.is_dir()
    return "".join(p.read_text("utf-8") for p in sorted(folder.iterdir()) if p.is_file())


def records(home: Path, tenant: str = "lab") -> list[dict[str, Any]]:
    out = []
    for day in sorted((home / "audit" / tenant).glob("*.jsonl")):
        out.extend(json.loads(line) for line in day.read_text("utf-8").splitlines())
    return out


def leaks(home: Path) -> list[str]:
    text = audit_text(home).lower()
    return [s for s in SPELLINGS if s.lower() in text]


def _domain_answer(links: list[str]) -> dict[str, Any]:
    obj = load_fixture("domain-gtld-registry/verisign-com-google.com-2022-05.json")
    assert isinstance(obj, dict)
    obj = dict(obj)
    obj["ldhName"] = A_LABEL
    obj["links"] = [
        {"rel": "related", "href": href, "type": "application/rdap+json"} for href in links
    ]
    return obj


def _error_body(code: int) -> dict[str, Any]:
    return {
        "errorCode": code,
        "title": f"{U_LABEL} is unknown",
        "description": [f"no object named {A_LABEL} or {A_LABEL.upper()}"],
    }


@pytest.fixture(params=[True, False], ids=["hashed", "clear"])
def hashed(request: pytest.FixtureRequest, httpserver: HTTPServer, rdapctl_home: Path) -> bool:
    """Each scenario runs with and without hash_queries: without it the query must be
    found (the grep can fail), with it never."""
    extra = HASHED if request.param else ""
    loopback_profiles(rdapctl_home, httpserver.port, extra=extra)
    return bool(request.param)


def lookup(server: HTTPServer, *extra: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(
        app, ["lookup", QUERY, "--server", server.url_for("/"), "-o", "json", *extra]
    )
    return result.exit_code, json.loads(result.stdout)


def check(home: Path, hashed: bool, events: set[str]) -> None:
    recs = records(home)
    assert events <= {r["event"] for r in recs}
    if hashed:
        assert leaks(home) == []
        for rec in recs:
            if rec["event"] in ("lookup", "ssrf_blocked", "residency_violation"):
                assert rec["query_hashed"] is True
                assert len(rec["query"]) == 64
    else:
        assert A_LABEL in audit_text(home)
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.stdout


def test_lookup_ok_with_referrals_followed_and_skipped(
    httpserver: HTTPServer, rdapctl_home: Path, hashed: bool
) -> None:
    """An answer with five referral links whose URLs hold the query in every spelling:
    two are followed (one answers, one fails), the rest are skipped."""
    links = [
        httpserver.url_for(f"/registrar/{A_LABEL}"),
        httpserver.url_for("/registrar2/b%C3%BCcher.de"),
        httpserver.url_for(f"/skipped/{A_LABEL.upper()}"),
        httpserver.url_for(f"/skipped2/{U_LABEL}"),
        httpserver.url_for(f"/skipped3/{A_LABEL}"),
    ]
    httpserver.expect_request(f"/domain/{A_LABEL}").respond_with_json(_domain_answer(links))
    httpserver.expect_request(f"/registrar/{A_LABEL}").respond_with_json(_domain_answer([]))
    httpserver.expect_request("/registrar2/bücher.de").respond_with_json(
        _error_body(500), status=500
    )
    code, env = lookup(httpserver)
    assert code == 0
    assert {r["status"] for r in env["referrals"]} >= {"ok", "error", "skipped"}
    check(rdapctl_home, hashed, {"lookup"})
    if hashed:
        rec = next(r for r in records(rdapctl_home) if r["event"] == "lookup")
        followed = [r for r in env["referrals"] if r["status"] != "skipped"]
        assert len(rec["referrals"]) == len(followed) == 2
        # The rest of each URL stays readable; the query is its hash.
        assert rec["referrals"][0] == httpserver.url_for(f"/registrar/{rec['query']}")
        assert rec["url_path"] == f"/domain/{rec['query']}"


def test_not_found_and_cache_hit(httpserver: HTTPServer, rdapctl_home: Path, hashed: bool) -> None:
    """A 404 whose error object names the query, then the same answer from the cache."""
    httpserver.expect_request(f"/domain/{A_LABEL}").respond_with_json(_error_body(404), status=404)
    assert lookup(httpserver)[0] == 6
    assert lookup(httpserver)[0] == 6
    check(rdapctl_home, hashed, {"lookup"})


@pytest.mark.parametrize("status", [503, 200])
def test_upstream_error_messages(
    httpserver: HTTPServer, rdapctl_home: Path, hashed: bool, status: int
) -> None:
    """A 5xx, and a 200 carrying errorCode, whose text names the query."""
    httpserver.expect_request(f"/domain/{A_LABEL}").respond_with_json(
        _error_body(503), status=status
    )
    code, env = lookup(httpserver)
    assert code == 7
    assert A_LABEL in json.dumps(env) or "b\\u00fccher" in json.dumps(env)
    check(rdapctl_home, hashed, {"lookup"})


def test_redirects_followed_and_refused(
    httpserver: HTTPServer, rdapctl_home: Path, hashed: bool
) -> None:
    """A redirect to a path holding the query is followed; one to a blocked address with
    the query in its path is refused (ssrf_blocked)."""
    httpserver.expect_request(f"/domain/{A_LABEL}").respond_with_data(
        "", status=302, headers={"Location": f"/moved/{U_LABEL}/{A_LABEL}"}
    )
    httpserver.expect_request(f"/moved/{U_LABEL}/{A_LABEL}").respond_with_json(_domain_answer([]))
    code, env = lookup(httpserver)
    assert code == 0
    httpserver.clear()
    httpserver.expect_request(f"/domain/{A_LABEL}").respond_with_data(
        "",
        status=302,
        headers={"Location": f"http://169.254.169.254/latest/{A_LABEL}?q=b%C3%BCcher.de"},
    )
    code, env = lookup(httpserver, "--no-cache")
    assert code == 4
    assert env["error"]["code"] == "ssrf_blocked"
    check(rdapctl_home, hashed, {"lookup", "ssrf_blocked"})


def test_refused_referrals_name_the_query_in_host_and_path(
    httpserver: HTTPServer, rdapctl_home: Path, hashed: bool
) -> None:
    """A referral the network guard refuses before any request (a port the tenant does
    not allow): its ssrf_blocked record holds the path, and the refusal's reason names
    the host, both of which spell the query. A referral with credentials in its URL is
    an error entry (never requested)."""
    links = [
        f"https://rdap.{A_LABEL}:9/domain/{A_LABEL}",
        f"http://{U_LABEL}:pw@127.0.0.1:{httpserver.port}/domain/{U_LABEL}",
    ]
    httpserver.expect_request(f"/domain/{A_LABEL}").respond_with_json(_domain_answer(links))
    code, env = lookup(httpserver)
    assert code == 0
    assert [r["status"] for r in env["referrals"]] == ["denied", "error"]
    blocked = [r for r in records(rdapctl_home) if r["event"] == "ssrf_blocked"]
    assert len(blocked) == 1
    assert all(r.get("referral") is True for r in blocked)
    check(rdapctl_home, hashed, {"lookup", "ssrf_blocked"})


def test_residency_records_of_a_referral_host_named_after_the_query(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """Under development isolation a referral to a host outside the tenant's regions is
    recorded (residency_violation); that host names the query."""
    loopback_profiles(
        rdapctl_home,
        httpserver.port,
        extra=HASHED
        + '[tenants.lab.regions]\n"127.0.0.1" = "europe"\n'
        + f'"{A_LABEL}.localhost" = "north-america"\n',
    )
    profiles = rdapctl_home / "profiles.toml"
    profiles.write_text(
        profiles.read_text("utf-8").replace(
            'isolation = "standard"',
            'isolation = "development"\ndata_residency = ["europe"]',
        ),
        "utf-8",
    )
    link = f"https://{A_LABEL}.localhost:9/domain/{A_LABEL}"
    httpserver.expect_request(f"/domain/{A_LABEL}").respond_with_json(_domain_answer([link]))
    code, _ = lookup(httpserver)
    assert code == 0, runner.invoke(app, ["profile", "validate"]).stdout
    assert "residency_violation" in {r["event"] for r in records(rdapctl_home)}
    assert leaks(rdapctl_home) == []


def test_batch_records_hide_every_query(
    httpserver: HTTPServer, rdapctl_home: Path, hashed: bool, tmp_path: Path
) -> None:
    """A batch with the query twice (the repeat is recorded without a fetch) and a
    referral whose URL holds it."""
    links = [httpserver.url_for(f"/registrar/{A_LABEL}")]
    httpserver.expect_request(f"/domain/{A_LABEL}").respond_with_json(_domain_answer(links))
    httpserver.expect_request(f"/registrar/{A_LABEL}").respond_with_json(_domain_answer([]))
    profiles = rdapctl_home / "profiles.toml"
    profiles.write_text(
        profiles.read_text("utf-8")
        + f'\n[tenants.lab.servers]\nall = "{httpserver.url_for("/")}"\n',
        "utf-8",
    )
    lines = tmp_path / "queries.txt"
    lines.write_text(f"{QUERY}\n{U_LABEL}\ndomain:{A_LABEL.upper()}\n", "utf-8")
    result = runner.invoke(app, ["batch", str(lines), "--no-progress"])
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    lookups = [r for r in records(rdapctl_home) if r["event"] == "lookup"]
    assert len(lookups) == 3
    check(rdapctl_home, hashed, {"lookup"})
    if hashed:
        assert len({r["query"] for r in lookups}) == 1


# --- the scrubber itself -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "https://r.example/domain/XN--BCHER-KVA.DE",
        "BÜCHER.DE not found",
        "/x/b%C3%BCcher.de",
        "/x/b%c3%bccher.de.",
        "host rdap.xn--bcher-kva.de:9",
    ],
)
def test_scrub_text_replaces_every_spelling(text: str) -> None:
    out = scrub_text(text, A_LABEL, "H")
    assert "H" in out
    assert "cher" not in out.lower()


def test_query_forms_of_a_url_query_include_its_path() -> None:
    url = "https://rdap.example/domain/secret-name.test"
    assert "secret-name.test" in query_forms(url)
    assert scrub_text("/domain/secret-name.test", url, "H") == "/domain/H"
