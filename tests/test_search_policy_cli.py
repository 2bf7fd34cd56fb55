"""``rdapctl search`` under a tenant's policy, end to end against a real RDAP server on
127.0.0.1: redaction of results, refusals before any request, server choice, the page
cache and ``--offline``, audit records, and ``-o jsonl`` streaming page by page.

Pages are real search results (tests/search_pages.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.cli import app
from tests.search_pages import entity_results, serve_search
from tests.support import load_fixture, loopback_profiles, stop_server

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def search_json(server: HTTPServer, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = invoke("search", *args, "--server", server.url_for("/"), "-o", "json")
    return code, json.loads(out), err


def audit_records(home: Path, tenant: str = "lab") -> list[dict[str, Any]]:
    records = []
    for day in sorted((home / "audit" / tenant).glob("*.jsonl")):
        records.extend(json.loads(line) for line in day.read_text().splitlines())
    return records


def searches(home: Path, tenant: str = "lab") -> list[dict[str, Any]]:
    return [r for r in audit_records(home, tenant) if r["event"] == "search"]


# --- redaction -------------------------------------------------------------------------


def _vcard_values(result: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    found = []
    for prop in result.get("vcardArray", [None, []])[1]:
        if prop[0] in names and isinstance(prop[3], str) and prop[3].strip():
            found.append(prop[3])
    return found


def _person_values() -> list[str]:
    """Names, e-mail addresses and phone numbers of the individuals among ARIN's 266
    real results (the first 100, which a default-limit search returns)."""
    values = []
    for result in entity_results()[:100]:
        if "individual" in _vcard_values(result, ("kind",)):
            values.extend(_vcard_values(result, ("fn", "email", "tel")))
    return values


def test_a_gdpr_tenant_sees_no_personal_data_in_results(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    loopback_profiles(rdapctl_home, httpserver.port, extra="[tenants.lab.compliance]\ngdpr = true")
    serve_search(httpserver, "entities", per_page=40)
    values = _person_values()
    assert len(values) >= 10  # guard: the first 100 real results hold persons
    code, out, _ = invoke(
        "search", "entities", "--fn", "arin*", "--server", httpserver.url_for("/"), "-o", "json"
    )
    assert code == 0
    env = json.loads(out)
    assert env["search"]["results_count"] == 100
    assert env["policy"]["redacted_count"] > 0
    assert {"fn", "email", "tel", "org"} <= set(env["policy"]["redacted_fields"])
    leaked = [v for v in values if v in out]
    assert leaked == []
    # Every page was redacted, not just the first: the persons of page 2 too.
    persons = [r for r in env["results"][40:] if "individual" in _vcard_values(r, ("kind",))]
    assert persons
    assert all(_vcard_values(r, ("fn", "email", "tel", "org")) == [] for r in persons)


def test_the_same_search_without_redaction_shows_the_persons(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """Control for the test above: the data it looks for is really in the answers."""
    loopback_profiles(rdapctl_home, httpserver.port, extra="redact_pii = false")
    serve_search(httpserver, "entities", per_page=40)
    code, out, _ = invoke(
        "search", "entities", "--fn", "arin*", "--server", httpserver.url_for("/"), "-o", "jsonl"
    )
    assert code == 0
    assert all(v in out for v in _person_values())


# --- refusals before any request -------------------------------------------------------


def _refused(server: HTTPServer, *args: str) -> tuple[dict[str, Any], str]:
    serve_search(server, "domains", per_page=10)
    serve_search(server, "domains", path="/domains/reverse_search/entity")
    code, env, err = search_json(server, *args)
    assert code == 4, err  # PolicyDeniedError (README exit code table)
    assert env["status"] == "denied"
    assert server.log == []  # nothing was sent
    return env, err


def test_reverse_search_is_refused_by_default(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    loopback_profiles(rdapctl_home, httpserver.port)
    env, _ = _refused(httpserver, "domains", "--entity-fn", "Jane Doe", "--role", "registrant")
    assert "reverse_search" in env["error"]["message"]
    assert "allowed_query_types" in env["error"]["hint"]


def test_a_tenant_without_search_may_not_search(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    loopback_profiles(
        rdapctl_home, httpserver.port, extra='allowed_query_types = ["domain", "help"]'
    )
    env, _ = _refused(httpserver, "domains", "--name", "exa*.fr")
    assert "search" in env["error"]["message"]


def test_a_limit_above_max_search_results_is_refused(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    loopback_profiles(rdapctl_home, httpserver.port, extra="max_search_results = 50")
    env, _ = _refused(httpserver, "domains", "--name", "exa*.fr", "--limit", "51")
    assert env["error"]["code"] == "search_limit"
    assert "max_search_results" in env["error"]["hint"]


def test_the_default_limit_is_capped_by_max_search_results(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    loopback_profiles(rdapctl_home, httpserver.port, extra="max_search_results = 30")
    serve_search(httpserver, "entities", per_page=25)
    code, env, _ = search_json(httpserver, "entities", "--fn", "arin*")
    assert code == 0
    assert env["search"]["results_count"] == 30
    assert env["search"]["truncated"] is True


def _residency(home: Path, port: int, isolation: str, allowed: str) -> None:
    loopback_profiles(
        home,
        port,
        extra='[tenants.lab.regions]\n"localhost" = "north-america"\n"127.0.0.1" = "north-america"',
    )
    text = (home / "profiles.toml").read_text()
    text = text.replace(
        'isolation = "standard"', f'isolation = "{isolation}"\ndata_residency = ["{allowed}"]'
    )
    (home / "profiles.toml").write_text(text)


def test_strict_residency_refuses_the_search_before_it_starts(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    _residency(rdapctl_home, httpserver.port, "strict", "europe")
    env, _ = _refused(httpserver, "domains", "--name", "exa*.fr")
    assert env["error"]["code"] == "residency_violation"
    assert "north-america" in env["error"]["message"]


def test_strict_residency_lets_an_allowed_region_search(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """Control: the same tenant with the server's region allowed searches."""
    _residency(rdapctl_home, httpserver.port, "strict", "north-america")
    serve_search(httpserver, "domains", per_page=10)
    code, env, _ = search_json(httpserver, "domains", "--name", "exa*.fr")
    assert code == 0
    assert env["search"]["results_count"] == 18


def test_standard_residency_anonymises_every_result(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """standard isolation sends, but each result of every page is anonymised."""
    _residency(rdapctl_home, httpserver.port, "standard", "europe")
    serve_search(httpserver, "entities", per_page=20)
    code, env, _ = search_json(httpserver, "entities", "--fn", "arin*", "--limit", "50")
    assert code == 0
    assert env["policy"]["residency"]["action"] == "anonymise"
    assert len(env["results"]) == 50
    assert env["search"]["results_count"] == 50 and env["search"]["pages"] == 3
    for result, real in zip(env["results"], entity_results(), strict=False):
        assert set(result) == {"objectClassName", "handle", "sha256", "rdapctl_residency"}
        assert result["handle"] == real["handle"]
        assert result["rdapctl_residency"]["anonymised"] is True


# --- server choice ---------------------------------------------------------------------


def test_no_server_known_is_exit_8_with_a_hint(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    loopback_profiles(rdapctl_home, httpserver.port)
    code, out, err = invoke("search", "nameservers", "--name", "ns1.example.net", "-o", "json")
    assert code == 8
    env = json.loads(out)
    assert env["status"] == "error" and env["error"]["exit_code"] == 8
    assert "--server" in env["error"]["hint"] and "servers.search" in env["error"]["hint"]
    code, _, err = invoke("search", "nameservers", "--name", "ns1.example.net", "-o", "text")
    assert code == 8
    assert "--server" in err and "servers.search" in err
    assert httpserver.log == []


def test_servers_search_is_used_without_server(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    base = httpserver.url_for("/rdap/")
    loopback_profiles(
        rdapctl_home, httpserver.port, extra=f'[tenants.lab.servers]\nsearch = "{base}"'
    )
    pages = serve_search(httpserver, "nameservers", path="/rdap/nameservers")
    code, out, _ = invoke("search", "nameservers", "--ip", "192.134.4.1", "-o", "json")
    assert code == 0
    assert pages.requests == [("/rdap/nameservers", "ip=192.134.4.1")]
    assert json.loads(out)["server"] == base


def test_a_literal_tld_chooses_the_tenant_server_of_that_tld(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """domains --name 'exa*.fr': the .fr server (a tenant override of the bootstrap)."""
    base = httpserver.url_for("/fr/")
    loopback_profiles(
        rdapctl_home, httpserver.port, extra=f'[tenants.lab.servers.domains]\nfr = "{base}"'
    )
    pages = serve_search(httpserver, "domains", path="/fr/domains", per_page=100)
    code, _, _ = invoke("search", "domains", "--name", "exa*.fr", "-o", "json")
    assert code == 0
    assert pages.requests == [("/fr/domains", "name=exa*.fr")]
    # A wildcard TLD names no registry.
    code, _, _ = invoke("search", "domains", "--name", "exa*.f*", "-o", "json")
    assert code == 8


def test_an_object_tag_chooses_the_tenant_server_of_that_registry(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """entities --handle 'ARIN-*'... has no literal tag; '*-ARIN' has: that registry."""
    base = httpserver.url_for("/arin/")
    loopback_profiles(
        rdapctl_home, httpserver.port, extra=f'[tenants.lab.servers.entity]\nARIN = "{base}"'
    )
    pages = serve_search(httpserver, "entities", path="/arin/entities", per_page=300)
    code, out, _ = invoke("search", "entities", "--handle", "ADMIN*-ARIN", "-o", "json")
    assert code == 0
    assert pages.requests == [("/arin/entities", "handle=ADMIN*-ARIN")]
    assert json.loads(out)["search"]["results_count"] == 100
    code, _, err = invoke("search", "entities", "--handle", "ADMIN*", "-o", "text")
    assert code == 8 and "servers.search" in err


def test_capabilities_use_servers_search_or_say_there_is_none(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    loopback_profiles(rdapctl_home, httpserver.port)
    code, _, err = invoke("search", "capabilities", "-o", "json")
    assert code == 8
    assert "--server" in err and "servers.search" in err
    base = httpserver.url_for("/rdap/")
    loopback_profiles(
        rdapctl_home, httpserver.port, extra=f'[tenants.lab.servers]\nsearch = "{base}"'
    )
    httpserver.expect_request("/rdap/help").respond_with_json({"rdapConformance": ["paging"]})
    code, out, _ = invoke("search", "capabilities", "-o", "json")
    assert code == 0
    report = json.loads(out)
    assert report["url"] == base + "help"
    assert report["features"]["paging"] is True and report["features"]["sorting"] is False


def test_capabilities_of_a_server_without_help_is_not_found(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    loopback_profiles(rdapctl_home, httpserver.port)
    httpserver.expect_request("/help").respond_with_json(
        load_fixture("error/ripe-404-error.json"), status=404
    )
    code, _, err = invoke("search", "capabilities", "--server", httpserver.url_for("/"))
    assert code == 6
    assert err.startswith("rdapctl: error: ")


# --- cache and --offline ---------------------------------------------------------------


@pytest.fixture
def own_server(rdapctl_home: Path) -> Iterator[HTTPServer]:
    """A server of this test's own, that the test may stop."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    loopback_profiles(rdapctl_home, server.port)
    try:
        yield server
    finally:
        if server.is_running():
            stop_server(server)


def test_a_second_identical_search_comes_from_the_cache(lab_pages: Any) -> None:
    server, pages = lab_pages
    code, first, _ = search_json(server, "entities", "--fn", "arin*", "--limit", "50")
    assert code == 0 and first["source"] == "network"
    assert len(pages.requests) == 3
    code, again, _ = search_json(server, "entities", "--fn", "arin*", "--limit", "50")
    assert code == 0
    assert again["source"] == "cache"
    assert len(pages.requests) == 3  # nothing sent
    assert again["results"] == first["results"]
    assert again["search"] == first["search"]
    records = searches(Path(os.environ["RDAPCTL_HOME"]))
    assert [(r["source"], r["requests"], r["pages"]) for r in records] == [
        ("network", 3, 3),
        ("cache", 0, 3),
    ]


@pytest.fixture
def lab_pages(httpserver: HTTPServer, rdapctl_home: Path) -> tuple[HTTPServer, Any]:
    loopback_profiles(rdapctl_home, httpserver.port)
    return httpserver, serve_search(httpserver, "entities", per_page=20)


def test_cached_pages_are_not_readable_on_disk(lab_pages: Any, rdapctl_home: Path) -> None:
    """Pages are cached encrypted: neither the pattern, the URL nor a result in clear."""
    server, _ = lab_pages
    code, _, _ = search_json(server, "entities", "--fn", "Qwzvx*", "--limit", "50")
    assert code == 0
    files = [p for p in (rdapctl_home / "cache").rglob("*") if p.is_file()]
    assert files
    needles = [b"Qwzvx", b"entities?fn", b"ADMIN6110-ARIN", b"entitySearchResults"]
    for path in files:
        data = path.read_bytes()
        assert [n for n in needles if n in data] == [], path
    assert search_json(server, "entities", "--fn", "Qwzvx*", "--limit", "50")[1]["source"] == (
        "cache"
    )


def test_offline_answers_from_cached_pages_with_no_server(own_server: HTTPServer) -> None:
    serve_search(own_server, "entities", per_page=20)
    url = own_server.url_for("/")
    args = ["search", "entities", "--fn", "arin*", "--limit", "50", "--server", url, "-o", "json"]
    code, out, _ = invoke(*args)
    assert code == 0
    stop_server(own_server)  # nothing listens any more
    code, offline_out, err = invoke(*args, "--offline")
    assert code == 0, err
    env = json.loads(offline_out)
    assert env["source"] == "cache"
    assert env["results"] == json.loads(out)["results"]
    assert env["search"]["pages"] == 3


def test_offline_with_nothing_cached_is_exit_7(lab_pages: Any) -> None:
    server, pages = lab_pages
    code, env, _ = search_json(server, "entities", "--fn", "arin*", "--offline")
    assert code == 7  # UpstreamError offline_miss
    assert env["error"]["code"] == "offline_miss"
    assert pages.requests == []


def test_offline_stops_where_the_cached_pages_end(lab_pages: Any) -> None:
    """Two pages cached by a --limit 40 search; --limit 60 offline has no third page."""
    server, _ = lab_pages
    assert search_json(server, "entities", "--fn", "arin*", "--limit", "40")[0] == 0
    code, env, err = search_json(server, "entities", "--fn", "arin*", "--limit", "60", "--offline")
    assert code == 0
    assert env["search"]["results_count"] == 40
    assert env["search"]["truncated"] is True
    assert "never cached" in err


def test_no_cache_fetches_and_stores_nothing(lab_pages: Any) -> None:
    server, pages = lab_pages
    for _ in range(2):
        code, env, _ = search_json(
            server, "entities", "--fn", "arin*", "--limit", "20", "--no-cache"
        )
        assert code == 0 and env["source"] == "network"
    assert len(pages.requests) == 2
    code, _, _ = search_json(server, "entities", "--fn", "arin*", "--limit", "20", "--offline")
    assert code == 7


def test_refresh_fetches_again_and_updates_the_cache(lab_pages: Any) -> None:
    server, pages = lab_pages
    assert search_json(server, "entities", "--fn", "arin*", "--limit", "20")[0] == 0
    code, env, _ = search_json(server, "entities", "--fn", "arin*", "--limit", "20", "--refresh")
    assert code == 0 and env["source"] == "network"
    assert len(pages.requests) == 2
    code, env, _ = search_json(server, "entities", "--fn", "arin*", "--limit", "20")
    assert code == 0 and env["source"] == "cache"
    assert len(pages.requests) == 2


# --- audit -----------------------------------------------------------------------------


def test_one_search_record_per_search(lab_pages: Any, rdapctl_home: Path) -> None:
    server, _ = lab_pages
    assert search_json(server, "entities", "--fn", "arin*", "--limit", "50")[0] == 0
    records = searches(rdapctl_home)
    assert len(records) == 1
    record = records[0]
    assert record["kind"] == "entities"
    assert record["query_type"] == "search"
    assert record["params"] == ["fn"]
    assert record["pages"] == 3
    assert record["results"] == 50
    assert record["truncated"] is True
    assert record["status"] == "ok" and record["source"] == "network"
    # No lookup records for the pages.
    assert [r for r in audit_records(rdapctl_home) if r["event"] == "lookup"] == []
    assert search_json(server, "entities", "--fn", "arin*", "--limit", "50", "--total")[0] == 0
    records = searches(rdapctl_home)
    assert len(records) == 2
    assert records[1]["params"] == ["fn", "count"]
    # The audit command shows the same records, and the chain verifies.
    shown = runner.invoke(app, ["audit", "show", "--event", "search", "-o", "json"])
    assert shown.exit_code == 0
    assert [json.loads(line)["results"] for line in shown.stdout.splitlines()] == [50, 50]
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0


def test_a_refused_search_is_recorded_once(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    loopback_profiles(rdapctl_home, httpserver.port)
    code, _, _ = search_json(httpserver, "autnums", "--entity-handle", "GOGL")
    assert code == 4
    records = searches(rdapctl_home)
    assert len(records) == 1
    assert records[0]["status"] == "denied" and records[0]["query_type"] == "reverse_search"
    assert records[0]["pages"] == 0


def test_hash_queries_keeps_the_pattern_out_of_the_audit_files(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    loopback_profiles(
        rdapctl_home, httpserver.port, extra="[tenants.lab.audit]\nhash_queries = true"
    )
    serve_search(httpserver, "entities", per_page=20)
    code, _, _ = search_json(httpserver, "entities", "--fn", "Qwzvx Hostmaster*", "--limit", "30")
    assert code == 0
    assert len(searches(rdapctl_home)) == 1
    text = "".join(p.read_text() for p in (rdapctl_home / "audit" / "lab").glob("*.jsonl"))
    for piece in ("Qwzvx", "qwzvx", "Hostmaster", "Qwzvx%20Hostmaster"):
        assert piece not in text


# --- -o jsonl streams ------------------------------------------------------------------


def test_jsonl_prints_the_first_results_before_the_last_page_is_fetched(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """The last page waits on the server until the test has read the first line."""
    loopback_profiles(rdapctl_home, httpserver.port)
    pages = serve_search(httpserver, "entities", per_page=150, block_page=2)
    command = [
        sys.executable, "-m", "rdapctl", "search", "entities", "--fn", "arin*",
        "--limit", "200", "--server", httpserver.url_for("/"), "-o", "jsonl",
    ]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            first = proc.stdout.readline()
            # Page 2 has not been answered: it waits for the event.
            assert pages.served == [1]
            pages.release.set()
            # Through the same buffered file as the first line (communicate() would skip
            # what readline() buffered).
            rest = proc.stdout.read()
            err = proc.stderr.read()
            proc.wait(timeout=60)
        finally:
            pages.release.set()
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    lines = [first, *rest.splitlines(keepends=True)]
    assert pages.served == [1, 2]
    assert len(lines) == 200
    objects = [json.loads(line) for line in lines]
    assert all(isinstance(o, dict) for o in objects)
    assert [o["handle"] for o in objects] == [r["handle"] for r in entity_results()[:200]]
