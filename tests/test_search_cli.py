"""``rdapctl search`` end to end against a real RDAP server on 127.0.0.1: paging (RFC
8977, cursor and page-number next links) up to the limit, the exact requests of every
search (RFC 9082) and reverse search (RFC 9536), sort, count and field sets, hostile
next links, truncation, the output formats, failures and ``search capabilities``.

Pages are real search results (tests/search_pages.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request

from rdapctl.cli import app
from tests.search_pages import (
    SearchPages,
    entity_results,
    real_conformance,
    real_notices,
    serve_search,
)
from tests.support import load_fixture, loopback_profiles, stop_server

runner = CliRunner()
REVERSE_ALLOWED = 'allowed_query_types = ["search", "reverse_search"]'
# Every feature a search can use, declared as real servers do (RFC 8977, 8982, 9536).
ALL_FEATURES = ["paging", "sorting", "subsetting", "reverse_search"]


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(rdapctl_home, httpserver.port)
    return httpserver


@pytest.fixture
def reverse_lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(rdapctl_home, httpserver.port, extra=REVERSE_ALLOWED)
    return httpserver


def lab_profiles_path(server: HTTPServer) -> Path:
    path = Path(os.environ["RDAPCTL_HOME"]) / "profiles.toml"
    assert f"allowed_ports = [{server.port}]" in path.read_text()
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def search_json(server: HTTPServer, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = invoke("search", *args, "--server", server.url_for("/"), "-o", "json")
    return code, json.loads(out), err


def handles(results: list[dict[str, Any]]) -> list[str]:
    return [r["handle"] for r in results]


# --- paging up to the limit ----------------------------------------------------------


@pytest.mark.parametrize("style", ["cursor", "page"])
def test_paging_stops_at_the_default_limit_of_100(lab: HTTPServer, style: str) -> None:
    """266 real results in pages of 40: three pages fetched, cut at 100, truncated."""
    pages = serve_search(lab, "entities", per_page=40, style=style)
    code, env, _ = search_json(lab, "entities", "--fn", "arin*")
    assert code == 0
    assert env["status"] == "ok" and env["type"] == "search"
    assert env["search"]["results_count"] == 100
    assert env["search"]["pages"] == 3
    assert env["search"]["truncated"] is True
    assert handles(env["results"]) == handles(entity_results()[:100])
    assert len(pages.requests) == 3
    if style == "cursor":
        assert [q for _, q in pages.requests] == [
            "fn=arin*",
            "fn=arin*&cursor=40",
            "fn=arin*&cursor=80",
        ]
    else:
        assert [q for _, q in pages.requests] == ["fn=arin*", "fn=arin*&page=2", "fn=arin*&page=3"]


@pytest.mark.parametrize("style", ["cursor", "page"])
def test_limit_cuts_inside_a_page(lab: HTTPServer, style: str) -> None:
    """--limit 25 with pages of 10: three pages, the third cut after 5 results."""
    pages = serve_search(lab, "entities", per_page=10, style=style)
    code, env, _ = search_json(lab, "entities", "--fn", "arin*", "--limit", "25")
    assert code == 0
    assert env["search"]["results_count"] == 25 == len(env["results"])
    assert env["search"]["pages"] == 3 == len(pages.requests)
    assert env["search"]["truncated"] is True
    assert handles(env["results"]) == handles(entity_results()[:25])


@pytest.mark.parametrize("style", ["cursor", "page"])
def test_paging_ends_at_the_last_page_untruncated(lab: HTTPServer, style: str) -> None:
    """All 266 results under a limit of 300: every page, no next on the last, not
    truncated (the pages carry ARIN's notices without its truncation notice)."""
    pages = serve_search(lab, "entities", per_page=100, style=style)
    code, env, err = search_json(lab, "entities", "--fn", "arin*", "--limit", "300")
    assert code == 0, err
    assert env["search"]["results_count"] == 266
    assert env["search"]["pages"] == 3 == len(pages.requests)
    assert env["search"]["truncated"] is False
    assert handles(env["results"]) == handles(entity_results())


def test_exact_limit_on_the_last_page_is_not_truncated(lab: HTTPServer) -> None:
    """A limit that the last page meets exactly leaves nothing out."""
    serve_search(lab, "nameservers", per_page=1)
    code, env, _ = search_json(lab, "nameservers", "--name", "ns*", "--limit", "2")
    assert code == 0
    assert env["search"] == {
        "kind": "nameservers",
        "reverse": False,
        "params": {"name": "ns*"},
        "pages": 2,
        "results_count": 2,
        "truncated": False,
        "total": 2,
    }


def test_a_truncation_notice_marks_the_search_truncated(lab: HTTPServer) -> None:
    """ARIN's "result set truncated due to authorization" notice: truncated, though every
    result came and no limit cut."""
    serve_search(lab, "entities", per_page=300, notices=real_notices(with_truncation=True))
    code, env, _ = search_json(lab, "entities", "--fn", "arin*", "--limit", "300")
    assert code == 0
    assert env["search"]["results_count"] == 266
    assert env["search"]["pages"] == 1
    assert env["search"]["truncated"] is True


# --- the requests sent -----------------------------------------------------------------


FORWARD = [
    (["domains", "--name", "exa*.fr"], "/rdap/domains", "name=exa*.fr"),
    (["domains", "--name", "EXAMPLE.FR."], "/rdap/domains", "name=example.fr"),
    (["domains", "--name", "café*.fr", "--unicode"], "/rdap/domains", "name=caf%C3%A9*.fr"),
    (["domains", "--name", "exa*.bücher.de"], "/rdap/domains", "name=exa*.xn--bcher-kva.de"),
    (
        ["domains", "--name", "exa*.bücher.de", "--unicode"],
        "/rdap/domains",
        "name=exa*.b%C3%BCcher.de",
    ),
    (["domains", "--ns-name", "ns1.nic.fr"], "/rdap/domains", "nsLdhName=ns1.nic.fr"),
    (["domains", "--ns-name", "ns*.bücher.de"], "/rdap/domains", "nsLdhName=ns*.xn--bcher-kva.de"),
    (["domains", "--ns-ip", "192.0.2.53"], "/rdap/domains", "nsIp=192.0.2.53"),
    (["domains", "--ns-ip", "2001:DB8::53"], "/rdap/domains", "nsIp=2001:db8::53"),
    (["nameservers", "--name", "ns*.nic.fr"], "/rdap/nameservers", "name=ns*.nic.fr"),
    (["nameservers", "--ip", "192.134.4.1"], "/rdap/nameservers", "ip=192.134.4.1"),
    (["entities", "--fn", "ARIN  Hostmaster*"], "/rdap/entities", "fn=ARIN%20Hostmaster*"),
    (["entities", "--handle", "ARIN-*"], "/rdap/entities", "handle=ARIN-*"),
]


@pytest.mark.parametrize(("args", "path", "query"), FORWARD)
def test_forward_search_requests(lab: HTTPServer, args: list[str], path: str, query: str) -> None:
    """RFC 9082 paths and query strings exactly as the server saw them: A-labels by
    default, U-labels with --unicode, '*' kept as typed."""
    pages = serve_search(lab, args[0], path=path, per_page=100)
    code, out, err = invoke("search", *args, "--server", lab.url_for("/rdap/"), "-o", "json")
    assert code == 0, err
    assert pages.requests == [(path, query)]
    assert json.loads(out)["search"]["kind"] == args[0]


REVERSE = [
    ("domains", ["--entity-handle", "XYZ123-FRNIC"], "handle=XYZ123-FRNIC"),
    (
        "domains",
        ["--entity-fn", "Jane Doe*", "--role", "registrant"],
        "fn=Jane%20Doe*&role=registrant",
    ),
    ("nameservers", ["--entity-handle", "NIC-*"], "handle=NIC-*"),
    (
        "entities",
        ["--entity-email", "noc@example.net", "--role", "Technical"],
        "email=noc%40example.net&role=technical",
    ),
    (
        "ips",
        ["--entity-handle", "ARIN-HOSTMASTER", "--role", "abuse"],
        "handle=ARIN-HOSTMASTER&role=abuse",
    ),
    ("autnums", ["--entity-fn", "Google LLC"], "fn=Google%20LLC"),
    ("autnums", ["--entity-email", "*@arin.net"], "email=*%40arin.net"),
]


@pytest.mark.parametrize(("kind", "args", "query"), REVERSE)
def test_reverse_search_requests(
    reverse_lab: HTTPServer, kind: str, args: list[str], query: str
) -> None:
    """RFC 9536: {type}/reverse_search/entity with the property and the role."""
    path = f"/{kind}/reverse_search/entity"
    pages = serve_search(reverse_lab, kind, path=path, per_page=100, conformance=ALL_FEATURES)
    code, env, err = search_json(reverse_lab, kind, *args)
    assert code == 0, err
    assert pages.requests == [(path, query)]
    assert env["search"]["reverse"] is True
    assert env["results"]
    assert "does not declare" not in err


def test_sort_count_and_field_set_are_sent_and_total_shown(lab: HTTPServer) -> None:
    """--sort name:a, --total and --field-set brief, on the first page and every next."""
    pages = serve_search(lab, "entities", per_page=5, conformance=real_conformance() + ALL_FEATURES)
    code, env, err = search_json(
        lab,
        "entities",
        "--fn",
        "arin*",
        "--sort",
        "name:a",
        "--total",
        "--field-set",
        "brief",
        "--limit",
        "10",
    )
    assert code == 0
    first = "fn=arin*&sort=name:a&count=true&fieldSet=brief"
    assert [q for _, q in pages.requests] == [first, first + "&cursor=5"]
    assert env["search"]["total"] == 266
    assert env["search"]["params"] == {
        "fn": "arin*",
        "sort": "name:a",
        "count": "true",
        "fieldSet": "brief",
    }
    assert "does not declare" not in err


@pytest.mark.parametrize(
    ("option", "feature"),
    [
        (["--sort", "name:d"], "sorting"),
        (["--total"], "paging"),
        (["--field-set", "brief"], "subsetting"),
    ],
)
def test_undeclared_feature_warns_once(lab: HTTPServer, option: list[str], feature: str) -> None:
    """ARIN's real rdapConformance declares none of them: the search runs, with one
    warning naming the feature; declared with a version suffix, no warning."""
    serve_search(lab, "entities", per_page=5)
    code, _, err = search_json(lab, "entities", "--fn", "arin*", "--limit", "10", *option)
    assert code == 0
    assert err.count(f"does not declare '{feature}'") == 1


def test_versioned_feature_identifier_counts_as_declared(lab: HTTPServer) -> None:
    serve_search(lab, "entities", per_page=50, conformance=["rdap_level_0", "sorting_0"])
    code, _, err = search_json(lab, "entities", "--fn", "arin*", "--sort", "name")
    assert code == 0
    assert "does not declare" not in err


def test_reverse_search_warns_when_reverse_search_is_undeclared(reverse_lab: HTTPServer) -> None:
    serve_search(reverse_lab, "domains", path="/domains/reverse_search/entity")
    code, _, err = search_json(reverse_lab, "domains", "--entity-handle", "X-1")
    assert code == 0
    assert "does not declare 'reverse_search'" in err


# --- hostile next links ----------------------------------------------------------------


def test_a_looping_next_link_stops_paging(lab: HTTPServer) -> None:
    """Page 2 points back to page 1: a warning, two pages, truncated, no third request."""
    first_url: list[str] = []

    def looping(number: int, request: Request) -> str:
        if number == 1:
            first_url.append(request.url)
            return lab.url_for("/entities") + "?fn=arin*&cursor=10"
        return first_url[0]

    pages = serve_search(lab, "entities", per_page=10, next_href=looping)
    code, env, err = search_json(lab, "entities", "--fn", "arin*")
    assert code == 0
    assert "repeats a page" in err
    assert len(pages.requests) == 2
    assert env["search"]["pages"] == 2
    assert env["search"]["results_count"] == 20
    assert env["search"]["truncated"] is True


@pytest.fixture
def other_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        stop_server(server)


def test_a_next_link_to_another_origin_is_never_followed(
    lab: HTTPServer, other_server: HTTPServer
) -> None:
    """The next link leaves for another port: a warning naming it, never requested
    (though the tenant may reach that port: the origin check alone stops it)."""
    profiles = lab_profiles_path(lab)
    profiles.write_text(
        profiles.read_text().replace(
            f"allowed_ports = [{lab.port}]", f"allowed_ports = [{lab.port}, {other_server.port}]"
        )
    )
    other_server.expect_request("/entities").respond_with_json(
        load_fixture("search/arin-entitySearchResults-fn-arin.json")
    )
    pages = serve_search(
        lab,
        "entities",
        per_page=10,
        next_href=lambda n, r: other_server.url_for("/entities") + "?fn=arin*&cursor=10",
    )
    code, env, err = search_json(lab, "entities", "--fn", "arin*")
    assert code == 0
    assert "leaves" in err and "paging stopped" in err
    assert other_server.log == []
    assert len(pages.requests) == 1
    assert env["search"]["pages"] == 1
    assert env["search"]["results_count"] == 10
    assert env["search"]["truncated"] is True


# --- output formats --------------------------------------------------------------------


def test_rdap_output_is_one_search_response_with_every_result(lab: HTTPServer) -> None:
    pages = serve_search(lab, "entities", per_page=30)
    code, out, _ = invoke(
        "search",
        "entities",
        "--fn",
        "arin*",
        "--limit",
        "70",
        "--server",
        lab.url_for("/"),
        "-o",
        "rdap",
    )
    assert code == 0
    body = json.loads(out)
    assert len(pages.requests) == 3
    # The first page's members, as the policy left them (RFC 9537 "redacted" added).
    assert body["rdapConformance"] == [*real_conformance(), "redacted"]
    assert body["notices"] == real_notices()
    assert body["paging_metadata"]["pageNumber"] == 1  # the first page's members
    assert handles(body["entitySearchResults"]) == handles(entity_results()[:70])
    # RFC 9537: the redactions of every result (each real one has its fn emptied), at
    # its index in the combined array, none pointing past it.
    fn_paths = {item["postPath"] for item in body["redacted"] if item["method"] == "emptyValue"}
    assert fn_paths == {
        f"$.entitySearchResults[{i}].vcardArray[1][?(@[0]=='fn')][3]" for i in range(70)
    }
    for item in body["redacted"]:
        name = item["name"]["description"].rsplit(" ", 1)[-1]
        index = int((item.get("postPath") or item["prePath"]).split("[", 1)[1].split("]")[0])
        assert body["entitySearchResults"][index]["handle"] == name


def test_text_output_is_a_table_and_a_footer(lab: HTTPServer) -> None:
    serve_search(lab, "domains", per_page=5, total=False)
    code, out, _ = invoke(
        "search",
        "domains",
        "--name",
        "*",
        "--limit",
        "12",
        "--server",
        lab.url_for("/"),
        "-o",
        "text",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["handle", "name", "status", "events"]
    assert lines[0].split()[4].startswith("registr")
    assert len(lines) == 1 + 12 + 1
    assert lines[-1] == "12 results, 3 pages, truncated"
    # Every row shows the domain's name on a 100-column terminal (the first results are
    # afnic.fr, airport.fr, example.cz, nic.cz, you.tube).
    rows = lines[1:-1]
    for row, name in zip(rows, ["afnic.fr", "airport.fr", "example.cz", "nic.cz"], strict=False):
        assert name in row.split(), row


def test_text_footer_of_an_untruncated_search_with_a_total(lab: HTTPServer) -> None:
    serve_search(lab, "nameservers", per_page=1)
    code, out, _ = invoke(
        "search", "nameservers", "--name", "ns*", "--server", lab.url_for("/"), "-o", "text"
    )
    assert code == 0
    assert out.splitlines()[-1] == "2 results, 2 pages, 2 in all (server count)"


def test_jsonl_prints_one_result_object_per_line(lab: HTTPServer) -> None:
    serve_search(lab, "entities", per_page=7)
    code, out, _ = invoke(
        "search",
        "entities",
        "--fn",
        "arin*",
        "--limit",
        "20",
        "--server",
        lab.url_for("/"),
        "-o",
        "jsonl",
    )
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 20
    objects = [json.loads(line) for line in lines]
    assert all(isinstance(o, dict) and o["objectClassName"] == "entity" for o in objects)
    assert handles(objects) == handles(entity_results()[:20])


# --- nothing found, failures -----------------------------------------------------------


def test_an_empty_results_array_is_not_found(lab: HTTPServer) -> None:
    SearchPages(lab, "/domains", "domainSearchResults", [])
    code, env, _ = search_json(lab, "domains", "--name", "nothing*.fr")
    assert code == 6  # NotFoundError (README exit code table)
    assert env["status"] == "not_found"
    assert env["results"] == []
    assert env["search"]["pages"] == 1


def test_a_404_answer_is_not_found(lab: HTTPServer) -> None:
    lab.expect_request("/domains").respond_with_json(
        load_fixture("error/rdaporg-404-domain-test.fr.json"), status=404
    )
    code, env, _ = search_json(lab, "domains", "--name", "nothing*.fr")
    assert code == 6
    assert env["status"] == "not_found"
    assert env["results"] == []


def test_a_server_error_on_page_2_keeps_page_1(lab: HTTPServer) -> None:
    pages = serve_search(lab, "entities", per_page=10, fail_page=2)
    code, env, _ = search_json(lab, "entities", "--fn", "arin*")
    assert code == 7  # UpstreamError
    assert env["status"] == "error"
    assert env["error"]["code"] == "http_error"
    assert handles(env["results"]) == handles(entity_results()[:10])
    assert env["search"]["results_count"] == 10
    assert env["search"]["truncated"] is True
    # Page 2 retried like any lookup's 5xx answer, never page 3.
    assert pages.served[0] == 1 and set(pages.served[1:]) == {2}


def test_a_page_without_a_results_array_is_an_error(lab: HTTPServer) -> None:
    """A lookup object where a search answer belongs: exit 7, nothing passed off as results."""
    lab.expect_request("/entities").respond_with_json(
        load_fixture("entity/arin-entity-ARIN-HOSTMASTER.json")
    )
    code, env, _ = search_json(lab, "entities", "--fn", "arin*")
    assert code == 7
    assert env["error"]["code"] == "unexpected_object"
    assert env["results"] == []


# --- search capabilities ---------------------------------------------------------------


def _capable_help() -> dict[str, Any]:
    body = load_fixture("help/afnic-help.json")
    assert isinstance(body, dict)
    body["rdapConformance"] = [
        *body.get("rdapConformance", []),
        "paging",
        "sorting",
        "subsetting",
        "reverse_search",
    ]
    body["reverse_search_properties"] = [
        {
            "searchableResourceType": "domains",
            "relatedResourceType": "entity",
            "property": "fn",
            "mapping": "$.entities[*].vcardArray[1][?(@[0]=='fn')][3]",
        },
        {
            "searchableResourceType": "domains",
            "relatedResourceType": "entity",
            "property": "handle",
            "mapping": "$.entities[*].handle",
        },
    ]
    body["subsetting_metadata"] = {
        "currentFieldSet": "full",
        "availableFieldSets": [
            {"name": "brief", "description": "Handles and names only"},
            {"name": "full", "default": True},
        ],
    }
    return body


def test_capabilities_of_a_server_declaring_everything(lab: HTTPServer) -> None:
    lab.expect_request("/help").respond_with_json(_capable_help())
    code, out, err = invoke("search", "capabilities", "--server", lab.url_for("/"), "-o", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["features"] == dict.fromkeys(ALL_FEATURES, True)
    assert report["reverse_search_properties"] == [
        {"searchableResourceType": "domains", "relatedResourceType": "entity", "property": "fn"},
        {
            "searchableResourceType": "domains",
            "relatedResourceType": "entity",
            "property": "handle",
        },
    ]
    assert report["field_sets"] == [
        {"name": "brief", "default": False, "description": "Handles and names only"},
        {"name": "full", "default": True, "description": None},
    ]
    assert report["url"] == lab.url_for("/help")

    code, out, _ = invoke("search", "capabilities", "--server", lab.url_for("/"), "-o", "text")
    assert code == 0
    for feature in ALL_FEATURES:
        assert any(line.split() == [feature, "declared"] for line in out.splitlines())
    assert "domains entity fn" in out
    assert "Field sets: brief, full" in out


def test_capabilities_of_a_plain_help_answer(lab: HTTPServer) -> None:
    lab.expect_request("/help").respond_with_json(load_fixture("help/afnic-help.json"))
    code, out, _ = invoke("search", "capabilities", "--server", lab.url_for("/"), "-o", "json")
    assert code == 0
    report = json.loads(out)
    assert report["features"] == dict.fromkeys(ALL_FEATURES, False)
    assert report["reverse_search_properties"] == [] and report["field_sets"] == []
    code, out, _ = invoke("search", "capabilities", "--server", lab.url_for("/"), "-o", "text")
    assert code == 0
    for feature in ALL_FEATURES:
        assert any(line.split() == [feature, "not", "declared"] for line in out.splitlines())


def test_a_vendor_named_results_member_is_read_and_kept(reverse_lab: HTTPServer) -> None:
    """ARIN's real answer names its array arin_originas0_networkSearchResults: its 256
    networks are the results, its truncation notice marks the search truncated, and
    -o rdap keeps the member's name."""
    answer = load_fixture("search/arin-originas0-networkSearchResults.json")
    assert isinstance(answer, dict)
    reverse_lab.expect_request("/ips/reverse_search/entity").respond_with_json(answer)
    code, env, _ = search_json(reverse_lab, "ips", "--entity-handle", "GOGL", "--limit", "300")
    assert code == 0
    assert env["search"]["results_count"] == 256
    assert env["search"]["truncated"] is True
    assert env["results"][0]["handle"] == "NET-208-65-211-4-1"
    code, out, _ = invoke(
        "search", "ips", "--entity-handle", "GOGL", "--limit", "300",
        "--server", reverse_lab.url_for("/"), "-o", "rdap",
    )  # fmt: skip
    body = json.loads(out)
    assert len(body["arin_originas0_networkSearchResults"]) == 256
    assert "ipSearchResults" not in body
