"""Issue 20, red team, property-based: the search protocol against hostile servers and
hostile users.

- Servers are untrusted: a page may be any JSON value, and a ``next`` link any text
  (relative, looping, another scheme, host or port, control characters, user info,
  backslashes, enormous). The readers of ``rdapctl.rdap.search`` never raise, answer
  their documented types, and ``next_link`` gives only absolute http(s) URLs with a host,
  no control character and no fragment. ``next_link`` is checked against ``urljoin``,
  ``same_origin`` against a reimplementation with ``urllib.parse`` and against the
  origin httpx (the client that sends the request) reads from the same URL.
- Users type anything: ``make_search``, ``search_request`` and ``parse_search_line``
  answer a SearchRequest or a UsageError, never another exception; every accepted
  request's path is a relative path and query string that decodes back to exactly its
  parameters (``*`` kept), with nothing in a value that could end it or start another.
- ``hash_queries``: the scrub hides a search pattern (wildcards and all) and leaves the
  vocabulary fields ``kind`` and ``params`` alone.
- End to end: ``rdapctl search`` against a local server whose first page carries a
  hostile next link ends with a documented exit code, one envelope, a terminal-safe
  stderr, and a second request only to the page's own origin.

The bugs these found have regression tests in ``tests/test_search_protocol.py``.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urljoin, urlsplit

import httpx
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from rdapctl.cli import app
from rdapctl.core.errors import UsageError
from rdapctl.rdap import search as protocol
from rdapctl.rdap.search import (
    FEATURES,
    RESULTS_MEMBER,
    SEARCH_KINDS,
    SearchRequest,
    make_search,
)
from rdapctl.rdap.search_args import (
    FORWARD_OPTIONS,
    REVERSE_OPTIONS,
    parse_search_line,
    search_request,
)
from rdapctl.store.audit.scrub import scrub_record
from tests.hostile import terminal_unsafe
from tests.support import load_fixture, loopback_profiles

PAGE_URLS = (
    "http://127.0.0.1:8000/rdap/domains?name=ex*.com",
    "https://rdap.example.net/registry/entities?fn=arin*&cursor=abc",
    "https://rdap.example.net:8443/nameservers?ip=2001:db8::1",
    "http://[::1]:8080/rdap/v1/domains/reverse_search/entity?handle=X-ARIN",
)


def is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc"


# -- JSON from a hostile server -------------------------------------------------------

# Member names the readers look for, so that random JSON often has the right keys.
KNOWN_KEYS = (
    "paging_metadata",
    "links",
    "rel",
    "href",
    "totalCount",
    "pageSize",
    "notices",
    "remarks",
    "type",
    "title",
    "description",
    "rdapConformance",
    "searchResultsTruncated",
    "reverse_search_properties",
    "searchableResourceType",
    "relatedResourceType",
    "property",
    "subsetting_metadata",
    "availableFieldSets",
    "name",
    "default",
    "sorting_metadata",
    "availableSorts",
    "arin_originas0_networkSearchResults",
    "xSearchResults",
    *RESULTS_MEMBER.values(),
)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["next", "prev", "paging", "reverse_search_0", "result set truncated"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=30,
)

# Hrefs: anything, plus URL-shaped text with the pieces that fool parsers.
SCHEMES = ("http", "https", "HTTP", "hTtPs", "ftp", "file", "javascript", "data", "")
USERINFO = ("", "user@", "@", "a:b@", "evil.example@", "evil.example\\@", "127.0.0.1:8000@")
HOSTS = (
    "127.0.0.1",
    "rdap.example.net",
    "RDAP.Example.NET",
    "evil.example",
    "[::1]",
    "[::1",
    "",
    "127.0.0.1.",
    "xn--bcher-kva.de",
    "bücher.de",
    "ev\u202eil.example",  # RIGHT-TO-LEFT OVERRIDE
    "local\u200bhost",  # ZERO WIDTH SPACE
    "\x1b[31mred",
)
PORTS = ("", ":8000", ":80", ":443", ":8443", ":", ":08000", ":99999", ":-1", ":x", ":+80")
url_text = st.text(
    st.sampled_from(list("abcAB09-._~!$&'()*+,;=:@/?#%[]\\ \t\n\x00\x1b\x85\x9b\u202e\ufffd")),
    max_size=25,
)


@st.composite
def hostile_hrefs(draw: st.DrawFn) -> str:
    shape = draw(st.integers(0, 5))
    rest = draw(url_text)
    if shape == 0:
        return draw(st.text(max_size=40))
    if shape == 1:  # absolute, or scheme-relative
        scheme = draw(st.sampled_from(SCHEMES))
        head = f"{scheme}://" if scheme or draw(st.booleans()) else "//"
        return (
            head
            + draw(st.sampled_from(USERINFO))
            + draw(st.sampled_from(HOSTS))
            + draw(st.sampled_from(PORTS))
            + draw(st.sampled_from(("", "/", "/rdap/", "\\\\", "/..")))
            + rest
        )
    if shape == 2:  # relative: a query, a path, a fragment
        return draw(st.sampled_from(("?", "/", "", "#", "../", "./", "?cursor="))) + rest
    if shape == 3:  # white space around it
        return draw(st.sampled_from((" ", "\t", "\n", "\u3000"))) + "?page=2" + rest
    if shape == 4:  # an enormous cursor
        return "?cursor=" + "A" * draw(st.integers(10_000, 20_000))
    return draw(st.sampled_from(("mailto:x@example.net", "http:", "https:/", "http:\\\\evil")))


link_values = st.one_of(
    hostile_hrefs(),
    json_values,
)
links = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "rel": st.sampled_from(["next", "prev", "self", "Next", " next"]) | json_values,
            "href": link_values,
            "type": st.just("application/rdap+json"),
            "value": st.sampled_from(PAGE_URLS),
        },
    )
    | json_values,
    max_size=4,
)
notices = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "title": st.text(max_size=10),
            "type": st.sampled_from(
                [
                    "result set truncated due to authorization",
                    "Result Set Truncated due to excessive load",
                    "  result set truncated due to unexplainable reasons",
                    "object truncated due to authorization",
                ]
            )
            | json_values,
            "description": st.lists(st.text(max_size=10), max_size=2),
        },
    )
    | json_values,
    max_size=3,
)


def _real_page(relpath: str) -> dict[str, Any]:
    """A real answer, its results cut to two (the examples stay small to show)."""
    page = load_fixture(relpath)
    assert isinstance(page, dict)
    return {
        key: value[:2] if key.endswith("SearchResults") and isinstance(value, list) else value
        for key, value in page.items()
    }


REAL_PAGES = tuple(
    _real_page(relpath)
    for relpath in (
        "search/arin-entitySearchResults-fn-arin.json",
        "search/arin-originas0-networkSearchResults.json",
        "help/afnic-help.json",
    )
)


@st.composite
def pages(draw: st.DrawFn) -> Any:
    """A page close to a real one (a fixture's members, paging metadata, notices), with
    any member swapped for any JSON."""
    if draw(st.integers(0, 4)) == 0:
        return draw(json_values)
    page: dict[str, Any] = dict(draw(st.sampled_from(REAL_PAGES)))
    page["paging_metadata"] = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "totalCount": st.integers(-5, 2**64) | json_values,
                "pageSize": json_values,
                "pageNumber": json_values,
                "links": links | json_values,
            },
        )
        | json_values
    )
    page.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "notices": notices,
                    "remarks": notices,
                    "searchResultsTruncated": json_values,
                    "rdapConformance": st.lists(
                        st.sampled_from(
                            [
                                "paging",
                                "paging_0",
                                "paging_",
                                "paging_x",
                                "sorting_1",
                                "subsetting",
                                "reverse_search",
                                "reverse_search_0",
                                "rdap_level_0",
                                "paging_٣",
                            ]
                        )
                        | json_values,
                        max_size=6,
                    )
                    | json_values,
                    "reverse_search_properties": st.lists(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "searchableResourceType": json_values,
                                "relatedResourceType": json_values,
                                "property": st.sampled_from(["fn", "handle", "email"])
                                | json_values,
                            },
                        )
                        | json_values,
                        max_size=3,
                    )
                    | json_values,
                    "subsetting_metadata": st.fixed_dictionaries(
                        {},
                        optional={
                            "currentFieldSet": json_values,
                            "availableFieldSets": st.lists(
                                st.fixed_dictionaries(
                                    {},
                                    optional={
                                        "name": json_values,
                                        "default": json_values,
                                        "description": json_values,
                                    },
                                )
                                | json_values,
                                max_size=3,
                            )
                            | json_values,
                        },
                    )
                    | json_values,
                    "sorting_metadata": st.fixed_dictionaries(
                        {},
                        optional={
                            "availableSorts": st.lists(
                                st.fixed_dictionaries({}, optional={"property": json_values})
                                | json_values,
                                max_size=3,
                            )
                            | json_values
                        },
                    )
                    | json_values,
                },
            )
        )
    )
    return page


def check_next(got: str | None) -> None:
    """What next_link promises about any URL it gives."""
    if got is None:
        return
    assert isinstance(got, str)
    parts = urlsplit(got)
    assert parts.scheme.lower() in ("http", "https")
    assert parts.hostname
    assert not any(is_control(ch) for ch in got)
    assert "#" not in got


# -- 1. the readers ------------------------------------------------------------------

requests_ = st.builds(
    SearchRequest,
    kind=st.sampled_from(SEARCH_KINDS),
    param=st.sampled_from(["name", "fn", "handle", "email"]),
    pattern=st.text(min_size=1, max_size=10),
    reverse=st.booleans(),
    role=st.none() | st.just("registrant"),
    sort=st.none() | st.just("name:a"),
    count=st.booleans(),
    field_set=st.none() | st.just("brief"),
)


@given(body=pages(), page_url=st.sampled_from(PAGE_URLS), request=requests_)
def test_readers_take_any_page(body: Any, page_url: str, request: SearchRequest) -> None:
    for kind in SEARCH_KINDS:
        results = protocol.page_results(body, kind)
        assert results is None or isinstance(results, list)
        member = protocol.results_member(body, kind)
        assert isinstance(member, str)
        if results is not None:
            assert isinstance(body, dict)
            assert body[member] is results  # the member named is the one read
        else:
            assert member == RESULTS_MEMBER[kind]
    check_next(protocol.next_link(body, page_url))
    total = protocol.total_count(body)
    assert total is None or (type(total) is int and total >= 0)
    assert protocol.says_truncated(body) in (True, False)
    names = protocol.declared(body)
    assert isinstance(names, frozenset)
    assert all(isinstance(n, str) for n in names)
    missing = protocol.undeclared_features(request, body)
    assert isinstance(missing, list)
    assert set(missing) <= set(request.features)
    for feature in request.features:
        # Declared bare or as feature_N (N decimal digits) counts as declared.
        versioned = any(re.fullmatch(re.escape(feature) + r"_[0-9]+", n, re.ASCII) for n in names)
        assert (feature in missing) == (feature not in names and not versioned)
    caps = protocol.capabilities(body)
    assert set(caps) == {
        "conformance",
        "features",
        "reverse_search_properties",
        "field_sets",
        "sorts",
    }
    assert caps["conformance"] == sorted(names)
    assert set(caps["features"]) == set(FEATURES)
    assert all(type(v) is bool for v in caps["features"].values())
    for prop in caps["reverse_search_properties"]:
        assert isinstance(prop["property"], str)
        assert all(isinstance(v, str) for v in prop.values())
    for field_set in caps["field_sets"]:
        assert isinstance(field_set["name"], str)
        assert type(field_set["default"]) is bool
        assert field_set["description"] is None or isinstance(field_set["description"], str)
    assert all(isinstance(s, str) for s in caps["sorts"])


@given(body=json_values, page_url=st.sampled_from(PAGE_URLS))
def test_readers_take_any_json(body: Any, page_url: str) -> None:
    for kind in SEARCH_KINDS:
        assert protocol.page_results(body, kind) is None or isinstance(body, dict)
        assert isinstance(protocol.results_member(body, kind), str)
    check_next(protocol.next_link(body, page_url))
    assert protocol.total_count(body) is None or isinstance(body, dict)
    assert protocol.says_truncated(body) in (True, False)
    assert isinstance(protocol.capabilities(body), dict)


def _page_with(href: Any, rel: Any = "next") -> dict[str, Any]:
    return {"paging_metadata": {"links": [{"rel": rel, "href": href}]}}


@given(href=hostile_hrefs(), page_url=st.sampled_from(PAGE_URLS))
@example(href="http://:80/x", page_url=PAGE_URLS[0])
@example(href="?p=2\x85", page_url=PAGE_URLS[0])
@example(href="?p=2#again", page_url=PAGE_URLS[0])
def test_next_link_of_any_href(href: str, page_url: str) -> None:
    got = protocol.next_link(_page_with(href), page_url)
    check_next(got)
    if got is not None:  # the same as urljoin, fragment left out
        assert got == urljoin(page_url, href.strip()).partition("#")[0]


# Valid hrefs: RFC 3986 characters only, no control character, no fragment.
segment = st.text(st.sampled_from(list("abcxyzAZ019-._~!$&'()*+,;=:@%")), min_size=1, max_size=10)
query = st.text(st.sampled_from(list("abcxyzAZ019-._~!$&'()*+,;=:@/?%")), max_size=15)
hostnames = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,8}){0,3}", fullmatch=True
)


@st.composite
def valid_hrefs(draw: st.DrawFn) -> tuple[str, str | None]:
    """(href, the host it names, or None when it keeps the page's host)."""
    path = "/".join(draw(st.lists(segment, max_size=4)))
    q = draw(st.none() | query)
    tail = path + ("" if q is None else "?" + q)
    frag = draw(st.sampled_from(("", "#", "#frag", "#a?b=c")))
    shape = draw(st.integers(0, 4))
    if shape == 0:
        host = draw(hostnames)
        scheme = draw(st.sampled_from(("http", "https", "HTTPS")))
        port = draw(st.sampled_from(("", ":8000", ":443", ":80")))
        return f"{scheme}://{host}{port}/{tail}{frag}", host
    if shape == 1:
        host = draw(hostnames)
        return f"//{host}/{tail}{frag}", host
    if shape == 2:
        return f"/{tail}{frag}", None
    if shape == 3:
        return f"?{q or ''}{frag}", None
    # A first segment with ":" would read as a scheme: "./" keeps it a path (RFC 3986).
    return f"./{path}{'' if q is None else '?' + q}{frag}", None


@given(href=valid_hrefs(), page_url=st.sampled_from(PAGE_URLS))
def test_next_link_agrees_with_urljoin(href: tuple[str, str | None], page_url: str) -> None:
    text, host = href
    got = protocol.next_link(_page_with(text), page_url)
    want = urljoin(page_url, text).partition("#")[0]
    assert got == want
    parts, page = urlsplit(want), urlsplit(page_url)
    assert parts.hostname == (host or page.hostname)
    if host is None:
        assert (parts.scheme, parts.netloc) == (page.scheme, page.netloc)


@given(
    body=st.fixed_dictionaries({"paging_metadata": st.fixed_dictionaries({"links": links})}),
    page_url=st.sampled_from(PAGE_URLS),
)
def test_next_link_is_the_first_next(body: dict[str, Any], page_url: str) -> None:
    """The first link with rel exactly "next" decides, usable or not."""
    first = next(
        (
            link
            for link in body["paging_metadata"]["links"]
            if isinstance(link, dict) and link.get("rel") == "next"
        ),
        None,
    )
    got = protocol.next_link(body, page_url)
    if first is None:
        assert got is None
    else:
        assert got == protocol.next_link(_page_with(first.get("href")), page_url)


def reference_origin(url: str) -> tuple[str, str | None, int]:
    """scheme, host, port of ``url`` by urllib.parse, the port defaulted (80/443)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port
    if port is None:
        port = 443 if scheme == "https" else 80
    return scheme, parts.hostname, port


def reference_same_origin(a: str, b: str) -> bool:
    try:
        return reference_origin(a) == reference_origin(b)
    except ValueError:
        return False


@st.composite
def hostile_urls(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(max_size=30))
    scheme = draw(st.sampled_from(("http", "https", "HTTP", "Https", "ftp")))
    return (
        f"{scheme}://"
        + draw(st.sampled_from(USERINFO))
        + draw(st.sampled_from(HOSTS))
        + draw(st.sampled_from(PORTS))
        + draw(st.sampled_from(("", "/", "\\", "#", "?", ";", "/rdap/")))
        + draw(url_text)
    )


@given(a=hostile_urls(), b=st.sampled_from(PAGE_URLS) | hostile_urls())
@example(a="http://127.0.0.1/x", b="http://127.0.0.1:80/y")
@example(a="https://rdap.example.net/x", b="https://RDAP.example.net:443")
@example(a="http://evil.example\\@127.0.0.1:8000/", b=PAGE_URLS[0])
def test_same_origin_agrees_with_urllib_and_httpx(a: str, b: str) -> None:
    same = protocol.same_origin(a, b)
    assert same is reference_same_origin(a, b)
    assert protocol.same_origin(b, a) is same
    if same:
        # The client that sends the request must see the same origin in both URLs.
        defaults = {"http": 80, "https": 443}
        try:
            ua, ub = httpx.URL(a), httpx.URL(b)
            origin_a = (ua.scheme, ua.host, ua.port or defaults.get(ua.scheme))
            origin_b = (ub.scheme, ub.host, ub.port or defaults.get(ub.scheme))
        except (httpx.InvalidURL, ValueError, TypeError):
            return  # httpx refuses one of them: nothing is sent there
        assert origin_a == origin_b


@given(href=hostile_hrefs(), page_url=st.sampled_from(PAGE_URLS))
def test_a_followed_next_link_goes_where_httpx_goes(href: str, page_url: str) -> None:
    """A next link the pipeline would follow (same origin as the page) is one httpx
    sends to the page's own host and port."""
    got = protocol.next_link(_page_with(href), page_url)
    assume(got is not None and protocol.same_origin(got, page_url))
    assert got is not None
    try:
        target = httpx.URL(got)
        where = (target.scheme, target.host, target.port)
    except (httpx.InvalidURL, ValueError):
        return  # httpx refuses it: nothing is sent
    page = httpx.URL(page_url)
    assert where == (page.scheme, page.host, page.port)


# -- 2. what users type --------------------------------------------------------------

# Any text (surrogates, controls, format characters included), and pattern-shaped text.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
PATTERN_PIECES = (
    *"aZ09-.*_ @%&=?#/+:,;'\"\\\t\n\x00\x1b\x7f\x85\x9b\u00a0\u200b\u202e\ufffd",
    *("ü", "ß", "İ", "Σ", "\udcff", "．", "。", "＊", "\u0307", "١", "²", "xn--", "XN--"),
)
pattern_text = st.lists(st.sampled_from(PATTERN_PIECES), max_size=30).map("".join)
patterns = pattern_text | any_text | st.text(max_size=300) | st.ip_addresses().map(str)
# Every (kind, parameter, reverse), valid or not.
COMBOS = [
    (kind, param, reverse)
    for kind in (*SEARCH_KINDS, "domain", "Domains", "")
    for param in ("name", "nsLdhName", "nsIp", "ip", "fn", "handle", "email", "role", "x")
    for reverse in (False, True)
]
optional_word = st.none() | st.sampled_from(["name:a", "registrant", "brief"]) | pattern_text


def check_request(request: SearchRequest, *, unicode: bool = False) -> None:
    """What every accepted request promises about its path."""
    path = request.path
    head, sep, qs = path.partition("?")
    assert sep == "?"
    expected_head = f"{request.kind}/reverse_search/entity" if request.reverse else request.kind
    assert head == expected_head
    assert path.isascii()
    assert not any(is_control(ch) for ch in path)
    assert "#" not in path and " " not in path
    params = request.parameters
    assert parse_qsl(qs, keep_blank_values=True, strict_parsing=True) == list(params.items())
    pairs = qs.split("&")
    assert len(pairs) == len(params)
    for pair, (name, value) in zip(pairs, params.items(), strict=True):
        key, eq, raw = pair.partition("=")
        assert (key, eq) == (name, "=")
        assert not set(raw) & set("&=?/ #+")
        assert raw.count("*") == value.count("*")  # the wildcard is sent as it is
        assert unquote(raw) == value
    pattern = request.pattern
    assert pattern and pattern == pattern.strip()
    assert len(pattern) <= protocol.MAX_PATTERN_CHARS
    assert not any(is_control(ch) or 0xD800 <= ord(ch) <= 0xDFFF for ch in pattern)
    assert "\ufffd" not in pattern
    if (
        not request.reverse
        and request.param in ("name", "nsLdhName")
        and request.kind != ("entities")
    ):
        assert pattern == pattern.lower()
        assert not pattern.endswith(".") and ".." not in pattern
        for label in pattern.split("."):
            assert label
            if label.isascii():
                assert re.fullmatch(r"[a-z0-9*-]+", label)
            else:
                assert unicode
    if request.param in ("handle", "email"):
        assert not any(ch.isspace() for ch in pattern)


@given(
    combo=st.sampled_from(COMBOS),
    pattern=patterns,
    role=optional_word,
    sort=optional_word,
    count=st.booleans(),
    field_set=optional_word,
    unicode=st.booleans(),
)
def test_make_search_answers_a_request_or_a_usage_error(
    combo: tuple[str, str, bool],
    pattern: str,
    role: str | None,
    sort: str | None,
    count: bool,
    field_set: str | None,
    unicode: bool,
) -> None:
    kind, param, reverse = combo
    try:
        request = make_search(
            kind,
            param,
            pattern,
            reverse=reverse,
            role=role,
            sort=sort,
            count=count,
            field_set=field_set,
            unicode=unicode,
        )
    except UsageError:
        return
    assert (request.kind, request.param, request.reverse) == combo
    check_request(request, unicode=unicode)


ip_text = (
    st.ip_addresses().map(str)
    | st.ip_addresses(v=6).map(lambda a: a.exploded.upper())
    | st.builds(
        lambda a, scope: f"{a}%{scope}",
        st.ip_addresses(v=6).map(str),
        pattern_text,
    )
    | st.builds(
        lambda a, pad: f"{pad}{a}{pad}",
        st.ip_addresses().map(str),
        st.sampled_from([" ", "\t", "\u3000", "\x00", "\x85"]),
    )
    | st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,4}){0,4}(/[0-9]{1,3})?", fullmatch=True)
    | pattern_text
)


@given(kind_param=st.sampled_from([("domains", "nsIp"), ("nameservers", "ip")]), text=ip_text)
@example(kind_param=("nameservers", "ip"), text="fe80::1%eth0")
@example(kind_param=("nameservers", "ip"), text="192.0.2.1/24")
@example(kind_param=("nameservers", "ip"), text="010.0.0.1")
def test_ip_searches_take_what_ipaddress_takes(kind_param: tuple[str, str], text: str) -> None:
    kind, param = kind_param
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        address = None
    clean = "\ufffd" not in text and not any(
        is_control(ch) or 0xD800 <= ord(ch) <= 0xDFFF for ch in text.strip()
    )
    try:
        request = make_search(kind, param, text)
    except UsageError:
        assert address is None or not clean
        return
    assert address is not None
    assert request.pattern == str(address)
    check_request(request)


@given(text=pattern_text | any_text, unicode=st.booleans())
@example(text="Bücher*.DE.", unicode=False)
@example(text="ns1.XN--BCHER-KVA.de", unicode=True)
@example(text="İ*.tr", unicode=True)
def test_domain_patterns(text: str, unicode: bool) -> None:
    for kind, param in (("domains", "name"), ("domains", "nsLdhName"), ("nameservers", "name")):
        try:
            request = make_search(kind, param, text, unicode=unicode)
        except UsageError:
            continue
        check_request(request, unicode=unicode)
        if not unicode:
            assert request.pattern.isascii()


# The search options of each kind, as words (search_request's ``given``).
def _options(kind: str) -> list[str]:
    return [*FORWARD_OPTIONS[kind], *REVERSE_OPTIONS]


@st.composite
def search_words(draw: st.DrawFn) -> tuple[str, dict[str, str | None], dict[str, Any]]:
    kind = draw(st.sampled_from(SEARCH_KINDS))
    chosen = draw(
        st.lists(
            st.sampled_from([*_options(kind), "--ip", "--fn", "--name"]),
            min_size=0,
            max_size=2,
            unique=True,
        )
    )
    given_ = {option: draw(patterns) for option in chosen}
    extra = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "role": optional_word.filter(lambda v: v is not None),
                "sort": optional_word.filter(lambda v: v is not None),
                "field_set": optional_word.filter(lambda v: v is not None),
                "count": st.booleans(),
                "unicode": st.booleans(),
            },
        )
    )
    return kind, given_, extra


@given(words=search_words())
def test_batch_lines_agree_with_the_command(
    words: tuple[str, dict[str, str | None], dict[str, Any]],
) -> None:
    kind, given_, extra = words
    argv = [kind]
    for option, value in given_.items():
        argv += [option, str(value)]
    for name, option in (("role", "--role"), ("sort", "--sort"), ("field_set", "--field-set")):
        if name in extra:
            argv += [option, extra[name]]
    for name, flag in (("count", "--total"), ("unicode", "--unicode")):
        if extra.get(name):
            argv.append(flag)
    try:
        want: SearchRequest | None = search_request(
            kind,
            {option: given_.get(option) for option in _options(kind)}
            if set(given_) <= set(_options(kind))
            else given_,
            role=extra.get("role"),
            sort=extra.get("sort"),
            count=bool(extra.get("count")),
            field_set=extra.get("field_set"),
            unicode=bool(extra.get("unicode")),
        )
    except UsageError:
        want = None
    # A value that starts with "--" is still the option's value in both.
    try:
        line = parse_search_line(shlex.join(argv))
    except UsageError:
        assert want is None
        return
    assert line.request == want
    check_request(line.request, unicode=bool(extra.get("unicode")))


@given(
    text=any_text
    | pattern_text
    | st.builds(lambda k, r: f"{k} {r}", st.sampled_from(SEARCH_KINDS), pattern_text)
)
@example(text="domains --name")
@example(text="domains --name 'unterminated")
@example(text="domains --limit 99999999999999999999999999 --name x.com")
@example(text="DOMAINS --name=x.com --total --unicode")
@example(text="domains --total=yes --name x.com")
def test_any_batch_line_is_a_search_or_a_usage_error(text: str) -> None:
    try:
        line = parse_search_line(text)
    except UsageError:
        return
    check_request(line.request, unicode="--unicode" in text)
    assert line.limit is None or type(line.limit) is int


# -- 3. hash_queries: the scrub of a search record -----------------------------------

TOKEN = "[QUERY-HASH]"
wildcard_patterns = st.builds(
    lambda a, b: f"{a}*{b}",
    st.text(st.sampled_from(list("abxyz09-.üé ")), max_size=10),
    st.text(st.sampled_from(list("abxyz09-.üé ")), max_size=10),
)


@given(
    combo=st.sampled_from([c for c in COMBOS if c[0] in SEARCH_KINDS]),
    pattern=wildcard_patterns | patterns,
    unicode=st.booleans(),
)
@example(combo=("domains", "nsLdhName", False), pattern="ns*.example.net", unicode=False)
@example(combo=("entities", "fn", False), pattern="Jö Sm*", unicode=False)
@example(combo=("entities", "handle", False), pattern="domains", unicode=False)
@example(combo=("entities", "handle", False), pattern="name", unicode=False)
@example(combo=("entities", "fn", True), pattern="handle*", unicode=False)
def test_scrub_hides_a_search_pattern_and_keeps_the_vocabulary(
    combo: tuple[str, str, bool], pattern: str, unicode: bool
) -> None:
    kind, param, reverse = combo
    try:
        request = make_search(kind, param, pattern, reverse=reverse, unicode=unicode)
    except UsageError:
        return
    sent = request.pattern
    fields = {
        "query": sent,
        "query_type": request.query_type,
        "kind": request.kind,
        "params": list(request.parameters),
        "server_host": "rdap.example.net",
        # The path as sent (wildcards unencoded), and as some servers echo it (%2A).
        "url_path": "/rdap/" + request.path,
        "reason": f"server said: no match for {quote(sent, safe='')} or {sent.upper()}",
    }
    out = scrub_record(fields, sent, TOKEN)
    assert out["kind"] == request.kind
    assert out["params"] == list(request.parameters)
    assert out["query_type"] == request.query_type
    for key in ("url_path", "reason"):
        rest = out[key].replace(TOKEN, "\x00")
        for form in {sent, quote(sent, safe=""), quote(sent, safe="*:,")}:
            assert form.lower() not in rest.lower(), (key, form, out[key])
        assert sent.lower() not in unquote(rest).lower()


@pytest.mark.parametrize("kind", SEARCH_KINDS)
def test_scrub_leaves_kind_and_params_even_when_the_pattern_spells_them(kind: str) -> None:
    """A pattern that reads like rdapctl's own words does not turn them into hashes."""
    fields = {"kind": kind, "params": ["handle", "role"], "url_path": f"/{kind}?handle={kind}"}
    out = scrub_record(fields, kind, TOKEN)
    assert out["kind"] == kind
    out = scrub_record(fields, "handle", TOKEN)
    assert out["params"] == ["handle", "role"]
    assert "handle" not in out["url_path"]


# -- 4. end to end: a hostile next link against the real pipeline ----------------------

SEARCH_RESULT = {"objectClassName": "domain", "handle": "D1", "ldhName": "example.com"}


@st.composite
def pipeline_hrefs(draw: st.DrawFn, port: int) -> str:
    """Next links for a server on localhost:port: hostile ones, and ones to itself."""
    own = draw(
        st.sampled_from(
            [
                f"http://localhost:{port}",
                f"HTTP://LOCALHOST:{port}",
                f"http://127.0.0.1:{port}",
                f"//localhost:{port}",
                f"http://user:pw@localhost:{port}",
                f"http://evil.example\\@localhost:{port}",
                f"http://localhost:{port}\\@evil.example",
                "",
            ]
        )
    )
    tail = draw(st.sampled_from(["/rdap/domains", "/rdap/", "/", "", "rdap/x", "/rdap/domains/"]))
    rest = draw(url_text | st.sampled_from(["?name=ex*.com", "?cursor=2", "?page=2#p"]))
    return draw(st.sampled_from([own + tail + rest, own + rest]) | hostile_hrefs())


@settings(max_examples=max(1, settings.default.max_examples // 3))  # a CLI run each
@given(data=st.data())
def test_a_hostile_next_link_through_the_pipeline(
    data: st.DataObject, httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """Page 1 carries a hostile next link; any later page has none. Whatever the link,
    the search ends with a documented exit code (never 1), one JSON envelope, a
    terminal-safe stderr, and at most one more request, sent only when the link was on
    the page's own origin and the server saw the path the link names."""
    href = data.draw(pipeline_hrefs(httpserver.port))
    httpserver.clear()
    loopback_profiles(rdapctl_home, httpserver.port)
    seen: list[str] = []

    def handler(request: Request) -> Response:
        seen.append(request.full_path)
        page: dict[str, Any] = {"rdapConformance": ["rdap_level_0"]}
        page["domainSearchResults"] = [dict(SEARCH_RESULT, handle=f"D{len(seen)}")]
        if len(seen) == 1:
            page["paging_metadata"] = {"links": [{"rel": "next", "href": href}]}
        return Response(json.dumps(page), 200, content_type="application/rdap+json")

    httpserver.expect_request(re.compile(".*")).respond_with_handler(handler)
    base = httpserver.url_for("/rdap/")
    result = CliRunner().invoke(
        app,
        ["search", "domains", "--name", "ex*.com", "--server", base, "--no-cache", "-o", "json"],
    )
    assert result.exit_code in (0, 4, 7), (result.exit_code, result.stderr)
    envelope = json.loads(result.stdout)
    assert envelope["type"] == "search"
    assert terminal_unsafe(result.stderr) == [], result.stderr
    assert "Traceback" not in result.stderr
    first = base + "domains?name=ex*.com"
    assert seen[0] == "/rdap/domains?name=ex*.com"
    assert len(seen) <= 2
    nxt = protocol.next_link(_page_with(href), first)
    search = envelope["search"]
    if nxt is None:  # no usable next link: one page, complete
        assert (len(seen), result.exit_code, search["truncated"]) == (1, 0, False)
    elif protocol.page_key(nxt) == protocol.page_key(first):
        assert len(seen) == 1 and "repeats a page" in result.stderr
        assert search["truncated"] is True
    elif protocol.has_userinfo(nxt):
        assert len(seen) == 1 and "carries credentials" in result.stderr
        assert search["truncated"] is True
    elif not protocol.same_origin(nxt, first):
        assert len(seen) == 1 and "leaves" in result.stderr
        assert search["truncated"] is True
    elif len(seen) == 2:  # followed: the server saw the path the link names
        assert unquote(seen[1].partition("?")[0]) == unquote(urlsplit(nxt).path or "/")
        assert search["pages"] == 2
    else:  # on the origin but not sent (refused before sending): reported, not silent
        assert search is None or search["truncated"] is True
        assert result.stderr


@settings(max_examples=max(1, settings.default.max_examples // 3))  # a CLI run each
@given(
    option=st.sampled_from(
        [
            ("entities", "--fn", "fn"),
            ("entities", "--handle", "handle"),
            ("domains", "--name", "name"),
            ("nameservers", "--ip", "ip"),
            ("domains", "--ns-name", "nsLdhName"),
        ]
    ),
    pattern=pattern_text | st.ip_addresses().map(str),
)
def test_what_a_user_types_is_what_the_server_sees(
    httpserver: HTTPServer, rdapctl_home: Path, option: tuple[str, str, str], pattern: str
) -> None:
    """``rdapctl search KIND --OPTION PATTERN`` with any pattern: a usage error (exit 2)
    before any request, or exactly one request whose decoded parameter is the
    normalised pattern (the server finds nothing: exit 6). stderr is terminal-safe."""
    kind, flag, param = option
    httpserver.clear()
    loopback_profiles(rdapctl_home, httpserver.port)
    seen: list[dict[str, list[str]]] = []

    def handler(request: Request) -> Response:
        seen.append(request.args.to_dict(flat=False))
        return Response('{"errorCode": 404}', 404, content_type="application/rdap+json")

    httpserver.expect_request(f"/rdap/{kind}").respond_with_handler(handler)
    result = CliRunner().invoke(
        app,
        ["search", kind, flag, pattern, "--server", httpserver.url_for("/rdap/"), "--no-cache"],
    )
    assert terminal_unsafe(result.stderr) == [], result.stderr
    try:
        want = make_search(kind, param, pattern)
    except UsageError:
        assert (result.exit_code, seen) == (2, [])
        return
    assert result.exit_code == 6, result.stderr
    assert seen == [{param: [want.pattern]}]
