"""Issue 20, red team: hostile servers and hostile users against the search protocol
(``rdapctl.rdap.search``, ``rdapctl.rdap.search_args``), as plain examples.

The properties are in ``tests/test_search_properties.py``; the bugs they found have
their minimal regression tests here, end to end where a user can see them (exit codes,
the requests the local server saw, stderr, the audit trail).
"""

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
from rdapctl.rdap import search as protocol
from rdapctl.rdap.search import make_search
from rdapctl.rdap.search_args import parse_search_line
from tests.support import load_fixture, loopback_profiles

runner = CliRunner()
PAGE = "http://127.0.0.1:8000/rdap/domains?name=ex*.com"
DOMAIN_FIXTURE = "domain-gtld-registry/verisign-com-google.com-2022-05.json"


def _with_next(href: Any) -> dict[str, Any]:
    return {"paging_metadata": {"links": [{"rel": "next", "href": href}]}}


def _domain_page(next_href: str | None) -> dict[str, Any]:
    """A page of one real domain object (a registry's answer, as a search result)."""
    result = load_fixture(DOMAIN_FIXTURE)
    assert isinstance(result, dict)
    page: dict[str, Any] = {
        "rdapConformance": ["rdap_level_0", "paging"],
        "domainSearchResults": [result],
    }
    if next_href is not None:
        page["paging_metadata"] = {
            "pageSize": 1,
            "links": [{"rel": "next", "href": next_href, "type": "application/rdap+json"}],
        }
    return page


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(rdapctl_home, httpserver.port)
    return httpserver


def search_json(server: HTTPServer, *args: str) -> tuple[int, dict[str, Any], str]:
    result = runner.invoke(
        app, ["search", *args, "--server", server.url_for("/rdap/"), "-o", "json"]
    )
    return result.exit_code, json.loads(result.stdout), result.stderr


# -- next_link: what a server may put in a link ---------------------------------------


@pytest.mark.parametrize(
    "href",
    [
        "http://:80/rdap/domains?page=2",  # a port, no host
        "http://@/rdap/domains?page=2",  # empty user info, no host
        "https://user@:443/x",
        "http://:8000",
    ],
)
def test_next_link_without_a_host_is_no_next_page(href: str) -> None:
    assert protocol.next_link(_with_next(href), PAGE) is None


@pytest.mark.parametrize("control", ["\x85", "\x9b", "\x80", "\x9f", "\x00", "\x1b", "\x7f"])
def test_next_link_with_a_control_character_is_no_next_page(control: str) -> None:
    """C0, DEL and C1 (U+0080..U+009F, e.g. NEL and the one-byte CSI)."""
    href = f"?cursor=abc{control}def"
    assert protocol.next_link(_with_next(href), PAGE) is None


def test_next_link_drops_the_fragment() -> None:
    """A fragment is never sent: ``?page=2#a`` and ``?page=2#b`` are one page."""
    base = "http://127.0.0.1:8000/rdap/domains?page=2"
    assert protocol.next_link(_with_next("?page=2#again"), PAGE) == base
    assert protocol.next_link(_with_next(base + "#"), PAGE) == base
    assert protocol.next_link(_with_next("#only-a-fragment"), PAGE) == PAGE


def test_enormous_next_link_is_read_as_it_is() -> None:
    """A megabyte of cursor: resolved (paging then hits the server's own limits), no error."""
    cursor = "A" * 1_000_000
    got = protocol.next_link(_with_next(f"?cursor={cursor}"), PAGE)
    assert got == f"http://127.0.0.1:8000/rdap/domains?cursor={cursor}"


@pytest.mark.parametrize(
    ("href", "same"),
    [
        ("HTTP://127.0.0.1:8000/rdap/x", True),  # scheme case
        ("http://127.0.0.1:8000/rdap/x", True),
        ("http://evil.example\\@127.0.0.1:8000/x", True),  # user info: httpx agrees
        ("http://127.0.0.1:8000\\@evil.example/x", False),
        ("http://127.0.0.1:8000@evil.example/x", False),
        ("//evil.example:8000/x", False),
        ("https://127.0.0.1:8000/x", False),
        ("http://127.0.0.1/x", False),  # port 80
        ("http://127.0.0.1:99999/x", False),  # no such port: no origin
    ],
)
def test_same_origin_of_hostile_next_links(href: str, same: bool) -> None:
    nxt = protocol.next_link(_with_next(href), PAGE)
    assert nxt is not None
    assert protocol.same_origin(nxt, PAGE) is same


# -- the pipeline: a next link that differs only in its fragment is a loop -------------


def test_a_next_link_that_only_changes_its_fragment_is_a_loop(lab: HTTPServer) -> None:
    """The server answers every page with a next link to itself plus a new fragment
    (#1, #2, ...): the same request each time. Paging stops after the first page with
    the loop warning, and the one result is not repeated."""
    served: list[str] = []

    def handler(request: Request) -> Response:
        served.append(request.full_path)
        href = f"{request.base_url}?{request.query_string.decode()}#{len(served)}"
        body = json.dumps(_domain_page(href))
        return Response(body, 200, content_type="application/rdap+json")

    lab.expect_request("/rdap/domains").respond_with_handler(handler)
    code, envelope, err = search_json(lab, "domains", "--name", "goo*.com", "--limit", "5")
    assert code == 0, err
    assert served == ["/rdap/domains?name=goo*.com"]
    assert envelope["search"]["pages"] == 1
    assert envelope["search"]["results_count"] == 1
    assert envelope["search"]["truncated"] is True
    assert "repeats a page" in err


# -- what a user types ---------------------------------------------------------------


def test_undecodable_argument_bytes_are_a_usage_error(lab: HTTPServer) -> None:
    """A shell argument that is not UTF-8 reaches Python as lone surrogates
    (surrogateescape): a usage error (exit 2) before any request, not an internal error
    while the URL is built."""
    code, envelope, err = search_json(lab, "entities", "--fn", "M\udcfcller*")
    assert code == 2, err
    assert envelope["error"]["code"] == "usage_error"
    assert "not UTF-8" in envelope["error"]["message"]
    assert lab.log == []


@pytest.mark.parametrize(
    ("kind", "param", "pattern", "unicode"),
    [
        ("entities", "fn", "a\udcff", False),
        ("entities", "handle", "\ud800X-ARIN", False),
        ("domains", "name", "b\udcfc*.de", True),
        ("nameservers", "ip", "fe80::1%\udcff", False),
    ],
)
def test_patterns_with_lone_surrogates_are_refused(
    kind: str, param: str, pattern: str, unicode: bool
) -> None:
    with pytest.raises(UsageError, match="not UTF-8"):
        make_search(kind, param, pattern, unicode=unicode)


def test_batch_line_with_a_surrogate_is_refused() -> None:
    with pytest.raises(UsageError):
        parse_search_line("entities --fn 'M\udcfcller'")


@pytest.mark.parametrize("pattern", ["x\x9b31my", "x\x85y", "\x80abc", "abc\x9f"])
@pytest.mark.parametrize(("kind", "param"), [("entities", "fn"), ("entities", "handle")])
def test_patterns_with_c1_controls_are_refused(kind: str, param: str, pattern: str) -> None:
    with pytest.raises(UsageError, match="control characters"):
        make_search(kind, param, pattern)


@pytest.mark.parametrize(
    ("pattern", "sent"),
    [
        ("ns*.Example.NET", "ns*.example.net"),
        ("*.xn--bcher-kva.de.", "*.xn--bcher-kva.de"),
        ("Bücher.de", "xn--bcher-kva.de"),
        ("ex*mple.c*", "ex*mple.c*"),
    ],
)
def test_domain_patterns_keep_the_wildcard_and_go_as_a_labels(pattern: str, sent: str) -> None:
    request = make_search("domains", "name", pattern)
    assert request.pattern == sent
    assert request.path == f"domains?name={sent}"


@pytest.mark.parametrize(
    "pattern",
    [
        "a/b.com",
        "a?b.com",
        "a#b.com",
        "a&b=c.com",
        "a%2Fb.com",
        "a_b*.com",
        "ü&*.de",
        "x=*.de",
        ".x.com",
    ],
)
def test_unicode_domain_patterns_are_still_domain_names(pattern: str) -> None:
    """--unicode sends U-labels: it does not let URL syntax into a domain pattern."""
    with pytest.raises(UsageError):
        make_search("domains", "name", pattern, unicode=True)


def test_unicode_domain_pattern_keeps_u_labels_and_wildcards() -> None:
    request = make_search("domains", "name", "BÜcher*.xn--bcher-kva.DE", unicode=True)
    assert request.pattern == "bücher*.bücher.de"
    assert request.path == "domains?name=b%C3%BCcher*.b%C3%BCcher.de"


@pytest.mark.parametrize("pattern", ["ü．", "bücher．de", "ü。x.de", "ü｡*.de"])
@pytest.mark.parametrize("unicode", [False, True])
def test_full_stops_that_idna_maps_to_dots_are_refused(pattern: str, unicode: bool) -> None:
    """A label holding a full stop UTS 46 maps to "." (fullwidth, ideographic) is not
    one label: refused with or without --unicode, never sent as "ü." or "bücher.de"."""
    with pytest.raises(UsageError):
        make_search("domains", "name", pattern, unicode=unicode)


@pytest.mark.parametrize(
    ("conformance", "declared"),
    [
        (["paging", "sorting"], True),
        (["paging_0", "sorting_12"], True),
        (["paging_٣", "sorting_٣"], False),  # ARABIC-INDIC DIGIT THREE
        (["paging_²", "sorting_²"], False),  # SUPERSCRIPT TWO
        (["paging_", "sorting_x"], False),
        (["paging_0\n", "sorting_1 "], False),
    ],
)
def test_a_feature_version_suffix_is_ascii_digits(conformance: list[str], declared: bool) -> None:
    request = make_search("domains", "name", "ex*.com", count=True, sort="name:a")
    body = {"rdapConformance": conformance}
    assert protocol.undeclared_features(request, body) == (
        [] if declared else ["paging", "sorting"]
    )
    features = protocol.capabilities(body)["features"]
    assert (features["paging"], features["sorting"]) == (declared, declared)


@pytest.mark.parametrize(
    ("body", "member", "results"),
    [
        ({"domainSearchResults": [1]}, "domainSearchResults", [1]),
        ({"arin_x_domainSearchResults": [1]}, "arin_x_domainSearchResults", [1]),
        ({"aSearchResults": [1], "bSearchResults": [2]}, "domainSearchResults", None),
        ({"aSearchResults": [1], "bSearchResults": {}}, "aSearchResults", [1]),
        ({"domainSearchResults": {}, "aSearchResults": [1]}, "aSearchResults", [1]),
    ],
)
def test_results_member_names_what_page_results_read(
    body: dict[str, Any], member: str, results: list[int] | None
) -> None:
    """Two ``...SearchResults`` arrays and no RFC one: neither is read, and the member
    named is the RFC one (not the first of the two)."""
    assert protocol.page_results(body, "domains") == results
    assert protocol.results_member(body, "domains") == member


# -- hash_queries: the search record -------------------------------------------------


@pytest.mark.parametrize("hashed", [True, False], ids=["hashed", "clear"])
@pytest.mark.parametrize(
    ("args", "path", "pattern", "params"),
    [
        (["domains", "--ns-name", "NS*.Example.NET"], "domains", "ns*.example.net", ["nsLdhName"]),
        (["entities", "--handle", "entities"], "entities", "entities", ["handle"]),
        (
            ["domains", "--entity-fn", "nsLdhName*"],
            "domains/reverse_search/entity",
            "nsLdhName*",
            ["fn"],
        ),
    ],
)
def test_search_audit_record_hides_the_pattern_and_keeps_kind_and_params(
    httpserver: HTTPServer,
    rdapctl_home: Path,
    hashed: bool,
    args: list[str],
    path: str,
    pattern: str,
    params: list[str],
) -> None:
    """One ``search`` record: under hash_queries the pattern (wildcard and all) is in
    no spelling anywhere in the audit folder, while ``kind`` and ``params`` stay
    rdapctl's words even when the pattern spells one of them."""
    extra = 'allowed_query_types = ["search", "reverse_search"]\n'  # the security table
    if hashed:
        extra += "[tenants.lab.audit]\nhash_queries = true\n"
    loopback_profiles(rdapctl_home, httpserver.port, extra=extra)
    page = _domain_page(None)
    kind = args[0]
    if kind == "entities":
        page = {"rdapConformance": ["rdap_level_0"], "entitySearchResults": [{"handle": "X"}]}
    httpserver.expect_request(f"/rdap/{path}").respond_with_json(
        page, content_type="application/rdap+json"
    )
    code, _, err = search_json(httpserver, *args)
    assert code == 0, err
    folder = rdapctl_home / "audit" / "lab"
    recs = [
        json.loads(line)
        for day in sorted(folder.glob("*.jsonl"))
        for line in day.read_text("utf-8").splitlines()
    ]
    (rec,) = [r for r in recs if r.get("event") == "search"]
    assert (rec["kind"], rec["params"]) == (kind, params)
    # Everything recorded but rdapctl's own words (the pattern may spell one of them).
    text = json.dumps([{k: v for k, v in r.items() if k not in ("kind", "params")} for r in recs])
    spellings = {pattern, pattern.replace("*", "%2A"), pattern.replace("*", "%2a")}
    found = [s for s in spellings if s.lower() in text.lower()]
    # A pattern naming a person (fn, email) is hashed whenever the tenant redacts
    # personal data, as the default tenant does, hash_queries or not.
    if hashed or params == ["fn"]:
        assert rec["query_hashed"] is True and rec["query"] != pattern
        assert found == []
    else:  # the grep can fail
        assert rec["query"] == pattern
        assert pattern in found


@pytest.mark.parametrize("unicode", [False, True])
@pytest.mark.parametrize(
    ("pattern", "tld", "server"),
    [
        ("*.みんな", "xn--q9jyb4c", "https://pubapi.registry.google/rdap/"),
        ("ex*.xn--q9jyb4c", "xn--q9jyb4c", "https://pubapi.registry.google/rdap/"),
        ("bücher*.COM", "com", "https://rdap.verisign.com/com/v1/"),
    ],
)
def test_the_tld_of_an_idn_pattern_finds_its_bootstrap_server(
    tmp_path: Path, pattern: str, tld: str, server: str, unicode: bool
) -> None:
    """With --unicode the pattern is sent in U-labels, but its TLD is looked up in the
    IANA registry (A-labels): the server is found either way."""
    from rdapctl.policy.server_choice import choose_search_server
    from rdapctl.policy.tenant import Tenant
    from rdapctl.store.bootstrap_files import open_bootstrap

    if not unicode:
        pattern = pattern.replace("bücher*", "b*")  # without --unicode: ASCII wildcards
    request = make_search("domains", "name", pattern, unicode=unicode)
    assert request.tld == tld
    boot = open_bootstrap(tmp_path / "no-updates")
    assert choose_search_server(request, Tenant(), boot).base_url == server
