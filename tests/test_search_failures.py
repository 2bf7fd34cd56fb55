"""``rdapctl search`` when things go wrong or run long, end to end against a real RDAP
server on 127.0.0.1: failures in each output format, the page cap, empty pages that
offer more, the network guard, bad arguments, and the audit record of a failure.

Pages are real search results (tests/search_pages.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request

from rdapctl.app.search import MAX_SEARCH_PAGES
from rdapctl.cli import app
from tests.search_pages import entity_results, serve_search
from tests.support import load_fixture, loopback_profiles

runner = CliRunner()


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(rdapctl_home, httpserver.port)
    return httpserver


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def search(server: HTTPServer, *args: str, fmt: str = "json") -> tuple[int, str, str]:
    return invoke("search", *args, "--server", server.url_for("/"), "-o", fmt)


def search_records(home: Path) -> list[dict[str, Any]]:
    records = []
    for day in sorted((home / "audit" / "lab").glob("*.jsonl")):
        records.extend(json.loads(line) for line in day.read_text().splitlines())
    return [r for r in records if r["event"] == "search"]


def test_jsonl_keeps_the_lines_printed_before_page_2_failed(lab: HTTPServer) -> None:
    serve_search(lab, "entities", per_page=4, fail_page=2)
    code, out, err = search(lab, "entities", "--fn", "arin*", fmt="jsonl")
    assert code == 7
    lines = out.splitlines()
    assert [json.loads(line)["handle"] for line in lines] == [
        r["handle"] for r in entity_results()[:4]
    ]
    assert err.startswith("rdapctl: error: ") and "500" in err


def test_text_view_of_a_failure_on_page_2(lab: HTTPServer) -> None:
    serve_search(lab, "entities", per_page=3, fail_page=2, total=False)
    code, out, err = search(lab, "entities", "--fn", "arin*", fmt="text")
    assert code == 7
    assert out.splitlines()[-1] == "3 results, 1 page, truncated"
    assert "HTTP 500" in err


def test_the_audit_record_of_a_failure_on_page_2(lab: HTTPServer, rdapctl_home: Path) -> None:
    serve_search(lab, "entities", per_page=6, fail_page=2)
    assert search(lab, "entities", "--fn", "arin*")[0] == 7
    records = search_records(rdapctl_home)
    assert len(records) == 1
    record = records[0]
    assert record["status"] == "error" and record["exit_code"] == 7
    assert record["error_code"] == "http_error"
    assert record["results"] == 6 and record["truncated"] is True


def test_nothing_found_in_text_and_jsonl(lab: HTTPServer) -> None:
    lab.expect_request("/nameservers").respond_with_json(
        load_fixture("error/rdaporg-404-domain-test.fr.json"), status=404
    )
    code, out, err = search(lab, "nameservers", "--name", "nothing*.example", fmt="jsonl")
    assert code == 6
    assert out == ""
    assert "no nameservers matching name=nothing*.example" in err
    code, out, err = search(lab, "nameservers", "--name", "nothing*.example", fmt="text")
    assert code == 6
    assert "0 results" in out


def test_rdap_output_of_a_404_is_an_rdap_error_object(lab: HTTPServer) -> None:
    lab.expect_request("/nameservers").respond_with_json(
        load_fixture("error/rdaporg-404-domain-test.fr.json"), status=404
    )
    code, out, _ = search(lab, "nameservers", "--name", "nothing*.example", fmt="rdap")
    assert code == 6
    body = json.loads(out)
    assert body["errorCode"] == 404
    assert "nameserverSearchResults" not in body


def test_paging_stops_at_the_page_cap(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    """A server handing out one result per page: MAX_SEARCH_PAGES pages, then a warning.
    (The tenant's request rate is raised so that the 100 pages take no 20 s.)"""
    lab = httpserver
    loopback_profiles(rdapctl_home, lab.port, extra="requests_per_second = 1000")
    pages = serve_search(lab, "entities", per_page=1)
    code, out, err = search(lab, "entities", "--fn", "arin*", "--limit", "150")
    assert code == 0
    env = json.loads(out)
    assert len(pages.requests) == MAX_SEARCH_PAGES == env["search"]["pages"]
    assert env["search"]["results_count"] == MAX_SEARCH_PAGES
    assert env["search"]["truncated"] is True
    assert "page cap" in err


def test_an_empty_page_offering_more_stops_paging(lab: HTTPServer) -> None:
    """18 domains in pages of 10, and a next link on every page: page 3 is empty."""

    def always(number: int, request: Request) -> str:
        return lab.url_for("/domains") + f"?name=*&page={number + 1}"

    pages = serve_search(lab, "domains", per_page=10, style="page", next_href=always)
    code, out, err = search(lab, "domains", "--name", "*")
    assert code == 0
    env = json.loads(out)
    assert len(pages.requests) == 3
    assert env["search"]["results_count"] == 18
    assert env["search"]["truncated"] is True
    assert "empty page" in err


def test_a_server_the_network_guard_forbids_is_never_asked(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    """--server on a port the tenant does not allow: exit 4, nothing sent."""
    serve_search(lab, "entities")
    profiles = rdapctl_home / "profiles.toml"
    profiles.write_text(
        profiles.read_text().replace(f"allowed_ports = [{lab.port}]", "allowed_ports = [443]")
    )
    code, out, _ = search(lab, "entities", "--fn", "arin*")
    assert code == 4
    env = json.loads(out)
    assert env["error"]["code"] == "ssrf_blocked"
    assert lab.log == []
    assert len(search_records(rdapctl_home)) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["entities", "--fn", "arin*", "--handle", "ARIN-*"],
        ["entities"],
        ["domains", "--name", "a..b"],
        ["domains", "--ns-ip", "not-an-ip"],
        ["domains", "--name", "exa*.fr", "--role", "registrant"],
        ["domains", "--name", "exa*.fr", "--sort", "name:x"],
        ["domains", "--name", "exa*.fr", "--field-set", "a b"],
        ["domains", "--name", "exa*.fr", "--limit", "0"],
        ["domains", "--name", "bü*.de"],
    ],
)
def test_bad_arguments_are_exit_2_and_send_nothing(lab: HTTPServer, args: list[str]) -> None:
    serve_search(lab, "domains")
    serve_search(lab, "entities")
    code, out, err = search(lab, *args)
    assert code == 2, err
    assert json.loads(out)["error"]["code"] == "usage_error"
    assert err.startswith("rdapctl: error: ")
    assert lab.log == []
