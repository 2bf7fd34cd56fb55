"""Query detection and normalisation (RFC 9082)."""

from __future__ import annotations

import pytest

from rdapctl.core.errors import ExitCode, UsageError
from rdapctl.rdap.query import parse_query


@pytest.mark.parametrize(
    ("raw", "qtype", "value", "path"),
    [
        ("example.com", "domain", "example.com", "domain/example.com"),
        ("EXAMPLE.COM.", "domain", "example.com", "domain/example.com"),
        ("bücher.de", "domain", "xn--bcher-kva.de", "domain/xn--bcher-kva.de"),
        ("Bücher.DE", "domain", "xn--bcher-kva.de", "domain/xn--bcher-kva.de"),
        ("例え.jp", "domain", "xn--r8jz45g.jp", "domain/xn--r8jz45g.jp"),
        ("192.0.2.1", "ip", "192.0.2.1", "ip/192.0.2.1"),
        ("192.0.2.77/24", "ip", "192.0.2.0/24", "ip/192.0.2.0/24"),
        ("2001:db8::1", "ip", "2001:db8::1", "ip/2001:db8::1"),
        ("2001:DB8::/32", "ip", "2001:db8::/32", "ip/2001:db8::/32"),
        ("[2001:db8::1]", "ip", "2001:db8::1", "ip/2001:db8::1"),
        ("AS15169", "autnum", "15169", "autnum/15169"),
        ("as15169", "autnum", "15169", "autnum/15169"),
        ("15169", "autnum", "15169", "autnum/15169"),
        ("ABC123-ARIN", "entity", "ABC123-ARIN", "entity/ABC123-ARIN"),
        ("ORG-XY1-RIPE", "entity", "ORG-XY1-RIPE", "entity/ORG-XY1-RIPE"),
        ("2.0.192.in-addr.arpa", "domain", "2.0.192.in-addr.arpa", "domain/2.0.192.in-addr.arpa"),
        ("8.b.d.0.1.0.0.2.ip6.arpa", "domain", "8.b.d.0.1.0.0.2.ip6.arpa", None),
        ("https://rdap.example/domain/x.com", "url", "https://rdap.example/domain/x.com", ""),
        ("help", "help", "help", "help"),
    ],
)
def test_detects_query_type_and_normalises(
    raw: str, qtype: str, value: str, path: str | None
) -> None:
    """Each accepted form is recognised and normalised to what goes on the wire."""
    query = parse_query(raw)
    assert query.type == qtype
    assert query.value == value
    if path is not None:
        assert query.path == path


def test_reverse_names_map_to_their_network() -> None:
    """Reverse-DNS names are bootstrapped through the IP registries."""
    assert str(parse_query("2.0.192.in-addr.arpa").network) == "192.0.2.0/24"
    assert str(parse_query("8.b.d.0.1.0.0.2.ip6.arpa").network) == "2001:db8::/32"


def test_entity_carries_its_object_tag() -> None:
    """RFC 8521: the tag after the last hyphen picks the registry."""
    assert parse_query("ORG-XY1-RIPE").object_tag == "RIPE"


@pytest.mark.parametrize(
    ("raw", "forced", "qtype", "path"),
    [
        ("ns1.example.com", "nameserver", "nameserver", "nameserver/ns1.example.com"),
        ("example.com", "domain", "domain", "domain/example.com"),
        ("GOGL", "entity", "entity", "entity/GOGL"),
        ("AS1", "autnum", "autnum", "autnum/1"),
        ("anything", "help", "help", "help"),
    ],
)
def test_forced_type(raw: str, forced: str, qtype: str, path: str) -> None:
    """--type overrides detection (nameservers need it)."""
    query = parse_query(raw, forced)
    assert (query.type, query.path) == (qtype, path)


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "not a query", "exa mple.com", "-bad-.com", "AS99999999999", "ftp://x.example/"],
)
def test_unparseable_query_is_a_usage_error_listing_accepted_forms(raw: str) -> None:
    """A query that fits no type exits 2 and says what would be accepted."""
    with pytest.raises(UsageError) as info:
        parse_query(raw)
    assert info.value.exit_code == ExitCode.USAGE
    if raw.strip():
        assert "accepted forms" in (info.value.hint or "") or "AS number" in info.value.message


def test_forced_type_must_fit() -> None:
    """Forcing a type on a value of another kind is a usage error, not a wrong request."""
    with pytest.raises(UsageError):
        parse_query("example.com", "ip")
    with pytest.raises(UsageError):
        parse_query("example.com", "bogus")


def test_plain_names_parse_as_every_form_tried_in_order_would() -> None:
    """The shortcut for plain ASCII names gives exactly the query (or the refusal) that
    trying every form in order gives, for look-alikes of every other form too."""
    from rdapctl.rdap.query import detect_query

    label63 = "a" * 63
    samples = [
        "example.com",
        "Example.COM",
        "bench0.com",
        "a-b.c0m",
        "xn--p1ai",
        "b\u00fccher.de",
        "www.xn--bcher-kva.de",
        "1.2.3.4",
        "1.2.3.com",
        "as15169",
        "AS1.com",
        "help",
        "2.0.192.in-addr.arpa",
        "example.arpa",
        "foo-RIPE",
        "-a.com",
        "a-.com",
        "a..com",
        "a.com.",
        "\u212a.com",
        "a.\u017fom",
        f"{label63}.com",
        f"{label63}a.com",
        ".".join(["abcdefghi"] * 25) + ".com",
        ".".join(["abcdefghi"] * 26) + ".com",
        "http://rdap.example/domain/a.com",
        "2001:db8::1",
        "a_b.com",
        "a.b-",
        "a.1com",
    ]
    for text in samples:
        try:
            fast = parse_query(text)
        except UsageError:
            fast = None
        assert fast == detect_query(text.strip()), text


def test_audit_host_and_path_of_a_query_url_are_what_urlsplit_says() -> None:
    """The lookup record's server_host and url_path, taken from the server's base URL
    split once, equal splitting each query URL, for odd base URLs too."""
    from urllib.parse import urlsplit

    from rdapctl.app.lookup_trace import url_host_and_path
    from rdapctl.rdap.bootstrap import ServerChoice, query_url

    bases = [
        "http://127.0.0.1:18480/",
        "https://RDAP.Example.com/rdap/",
        "https://rdap.example",
        "https://rdap.example/?x=1",
        "https://user@rdap.example:8443/a/b/",
        "https://[2001:db8::1]/",
        "https://rdap.example/#frag/",
    ]
    queries = [
        parse_query("example.com"),
        parse_query("192.0.2.0/24"),
        parse_query("AS15169"),
        parse_query("ABC-RIPE"),
        parse_query("help"),
        parse_query("https://other.example/domain/a.com"),
        parse_query("2.0.192.in-addr.arpa"),
    ]
    for base in bases:
        choice = ServerChoice((base,), "test")
        for query in queries:
            url = query_url(choice, query)
            parts = urlsplit(url)
            assert url_host_and_path(url, choice, query) == (parts.hostname, parts.path), url
