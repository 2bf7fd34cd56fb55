"""Paging rules that decide when a search stops: two spellings of one page are one page
(no results twice), a next link carrying credentials is not followed, and the option
grammar says plainly what is wrong. Against a real server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from rdapctl.cli import app
from rdapctl.core.errors import UsageError
from rdapctl.rdap.search import page_key
from rdapctl.rdap.search_args import parse_search_line, search_request
from tests.search_pages import entity_results, real_conformance
from tests.support import loopback_profiles

runner = CliRunner()
RESULTS = entity_results()[:3]


def serve(server: HTTPServer, next_of: Any) -> list[str]:
    """Every request answered with the same three results and ``next_of(request)``."""
    seen: list[str] = []

    def handle(request: Request) -> Response:
        seen.append(request.full_path)
        href = next_of(request)
        page: dict[str, Any] = {
            "rdapConformance": real_conformance(),
            "entitySearchResults": RESULTS,
        }
        if href is not None:
            page["paging_metadata"] = {"links": [{"rel": "next", "href": href}]}
        return Response(json.dumps(page), content_type="application/rdap+json")

    server.expect_request("/entities").respond_with_handler(handle)
    return seen


def search(server: HTTPServer) -> tuple[int, dict[str, Any], str]:
    result = runner.invoke(
        app,
        ["search", "entities", "--fn", "arin*", "--server", server.url_for("/"),
         "-o", "json", "--no-cache"],
    )  # fmt: skip
    return result.exit_code, json.loads(result.stdout), result.stderr


@pytest.mark.parametrize(
    "spelling",
    [
        "HTTP://LOCALHOST:{port}/entities?fn=arin*",
        "http://{host}:{port}/entities?fn=arin%2A",
        "http://{host}:{port}/entities?fn=arin*&",
        "http://{host}:{port}/%65ntities?fn=arin*",
    ],
)
def test_another_spelling_of_the_first_page_is_a_loop(
    httpserver: HTTPServer, rdapctl_home: Path, spelling: str
) -> None:
    loopback_profiles(rdapctl_home, httpserver.port)
    href = spelling.format(host="localhost", port=httpserver.port)
    seen = serve(httpserver, lambda request: href)
    code, env, err = search(httpserver)
    assert code == 0
    assert len(seen) == 1
    assert env["search"]["results_count"] == len(RESULTS)
    assert env["search"]["truncated"] is True
    assert "repeats a page" in err


def test_a_next_link_with_credentials_is_not_followed(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    loopback_profiles(rdapctl_home, httpserver.port)
    href = f"http://user:secret@localhost:{httpserver.port}/entities?fn=arin*&cursor=2"
    seen = serve(httpserver, lambda request: None if "cursor" in request.args else href)
    code, env, err = search(httpserver)
    assert code == 0
    assert seen == ["/entities?fn=arin*"]
    assert env["search"]["truncated"] is True
    assert "carries credentials" in err
    assert "secret" not in err and "secret" not in json.dumps(env)


def test_page_key_keeps_distinct_pages_apart() -> None:
    base = "https://rdap.example/entities?fn=a*"
    assert page_key(base + "&cursor=1") != page_key(base + "&cursor=2")
    assert page_key("https://rdap.example:8443/x?a=1") != page_key("https://rdap.example/x?a=1")
    assert page_key("https://rdap.example:443/x?a=1#f") == page_key("https://RDAP.example/x?a=1")


def test_two_search_options_say_only_one_is_taken() -> None:
    with pytest.raises(UsageError) as caught:
        search_request("entities", {"--fn": "a*", "--handle": "B*"})
    assert "takes only one of" in caught.value.message
    assert "--fn and --handle given" in caught.value.message
    with pytest.raises(UsageError) as caught:
        search_request("entities", {"--fn": None})
    assert "needs one of" in caught.value.message


def test_a_batch_line_names_its_search_as_the_command_does() -> None:
    assert parse_search_line("entities --fn 'a*'").request.kind == "entities"
    with pytest.raises(UsageError):
        parse_search_line("ENTITIES --fn 'a*'")


def test_a_search_refused_before_any_page_prints_only_its_error(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    loopback_profiles(rdapctl_home, httpserver.port)
    result = runner.invoke(
        app,
        ["search", "ips", "--entity-fn", "x", "--server", httpserver.url_for("/"), "-o", "text"],
    )
    assert result.exit_code == 4
    assert result.stdout == ""
    assert "may not run reverse_search" in result.stderr
    assert httpserver.log == []


def _reverse_profile(home: Path, port: int, extra: str = "") -> None:
    loopback_profiles(
        home,
        port,
        extra='allowed_query_types = ["search", "reverse_search"]\n' + extra,
    )


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["domains", "--entity-email", "jane.doe@example.org"], "jane.doe@example.org"),
        (["domains", "--entity-fn", "Jane Doe"], "Jane Doe"),
        (["entities", "--fn", "Jane Doe*"], "Jane Doe*"),
    ],
)
def test_a_pattern_naming_a_person_is_kept_out_of_the_trail(
    httpserver: HTTPServer, rdapctl_home: Path, args: list[str], pattern: str
) -> None:
    """A search by a person's name or e-mail is personal data: under the default
    redaction the audit trail keeps its keyed hash, without hash_queries, and doctor's
    scan of the trail stays clean."""
    from tests.hostile import audit_records

    _reverse_profile(rdapctl_home, httpserver.port)
    empty = {"rdapConformance": ["rdap_level_0", "reverse_search"]}
    httpserver.expect_request("/domains/reverse_search/entity").respond_with_json(
        {**empty, "domainSearchResults": []}
    )
    httpserver.expect_request("/entities").respond_with_json({**empty, "entitySearchResults": []})
    result = runner.invoke(
        app, ["search", *args, "--server", httpserver.url_for("/"), "-o", "json"]
    )
    assert result.exit_code == 6  # nothing found
    [record] = [r for r in audit_records(rdapctl_home) if r["event"] == "search"]
    assert record["query_hashed"] is True and len(record["query"]) == 64
    assert "query_personal" not in record
    trail = "".join(p.read_text() for p in (rdapctl_home / "audit" / "lab").glob("*.jsonl"))
    assert pattern not in trail and pattern.split(maxsplit=1)[0] not in trail
    doctor = runner.invoke(app, ["doctor", "--format", "json", "-t", "lab"])
    [pii] = [c for c in json.loads(doctor.stdout)["checks"] if c["check"] == "pii"]
    assert pii["status"] == "pass", pii


def test_without_redaction_the_pattern_is_recorded_as_typed(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    from tests.hostile import audit_records

    _reverse_profile(rdapctl_home, httpserver.port, extra="redact_pii = false\n")
    httpserver.expect_request("/domains/reverse_search/entity").respond_with_json(
        {"rdapConformance": ["rdap_level_0"], "domainSearchResults": []}
    )
    base = httpserver.url_for("/")
    runner.invoke(app, ["search", "domains", "--entity-fn", "Jane", "--server", base])
    [record] = [r for r in audit_records(rdapctl_home) if r["event"] == "search"]
    assert record["query"] == "Jane" and "query_hashed" not in record
