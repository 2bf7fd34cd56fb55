"""The terminal view of lookup envelopes: real fixtures, redactions, hostile and broken data."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rdapctl.cli.render.envelope import render_envelope
from tests.support import RDAP_FIXTURES, all_fixture_files, load_fixture


def envelope(response: Any, **overrides: Any) -> dict[str, Any]:
    env: dict[str, Any] = {
        "schema": 1,
        "query": "example.com",
        "type": "domain",
        "tenant": "default",
        "status": "ok",
        "source": "network",
        "age_s": None,
        "server": "https://rdap.verisign.com/com/v1/",
        "url": "https://rdap.verisign.com/com/v1/domain/example.com",
        "response": response,
        "referrals": [],
        "policy": {"redacted_fields": [], "redacted_count": 0},
        "error": None,
    }
    env.update(overrides)
    return env


def render(env: Any, *, color: bool = False) -> str:
    if color:
        console = Console(
            file=io.StringIO(), width=100, color_system="standard", force_terminal=True
        )
        render_envelope(env, console)
        return console.file.getvalue()  # type: ignore[attr-defined]
    console = Console(
        file=io.StringIO(), width=100, color_system=None, force_terminal=False, record=True
    )
    render_envelope(env, console)
    return console.export_text()


def render_fixture(relpath: str) -> str:
    return render(envelope(load_fixture(relpath)))


def jcard(*props: list[Any]) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"], *props]]


def _identity(resp: Any) -> str | None:
    """A string a reader would look for first: handle, ldhName, startAddress, error code."""
    if not isinstance(resp, dict):
        return None
    for key in ("handle", "ldhName", "startAddress"):
        if isinstance(resp.get(key), str) and resp[key]:
            return resp[key]
    if "errorCode" in resp:
        return str(resp["errorCode"])
    for key, value in resp.items():
        if key.endswith("SearchResults") and isinstance(value, list) and value:
            return _identity(value[0])
    return None


@pytest.mark.parametrize(
    "path", all_fixture_files(), ids=lambda p: str(p.relative_to(RDAP_FIXTURES))
)
def test_every_fixture_renders_and_shows_its_identity(path: Path) -> None:
    """Each real response renders without error and shows its handle/name/range."""
    resp = json.loads(path.read_text(encoding="utf-8"))
    out = render(envelope(resp, query="the-query"))
    assert "the-query" in out
    ident = _identity(resp)
    if ident is not None:
        assert ident in out
    assert len(out.splitlines()) >= 2


def test_domain_shows_registrar_nameservers_and_expiration() -> None:
    """A .com registry answer shows the registrar with IANA id, nameservers and dates."""
    out = render_fixture("domain-gtld-registry/verisign-com-google.com-2022-05.json")
    assert "Domain GOOGLE.COM" in out
    assert "MarkMonitor Inc." in out
    assert "IANA ID 292" in out
    for ns in ("NS1.GOOGLE.COM", "NS2.GOOGLE.COM", "NS3.GOOGLE.COM", "NS4.GOOGLE.COM"):
        assert ns in out
    assert "expiration" in out
    assert "2028-09-14 04:00:00 UTC" in out
    assert "registration" in out
    assert "1997-09-15" in out
    assert "unsigned" in out
    assert "abusecomplaints@markmonitor.com" in out


def test_typical_domain_fits_on_one_screen() -> None:
    """A typical registry domain answer is a screenful, not a JSON dump."""
    out = render_fixture("domain-gtld-registry/verisign-com-google.com-2022-05.json")
    assert len(out.splitlines()) < 60
    assert '"objectClassName"' not in out


def test_ip_network_shows_range_cidr_and_country() -> None:
    """An IP network shows its start-end range, name and country."""
    out = render_fixture("ip-network/ripe-ip-193.0.0.0.json")
    assert "193.0.0.0 - 193.0.7.255" in out
    assert "RIPE-NCC" in out
    assert "country  NL" in out


def test_ip_network_shows_cidr0_prefixes() -> None:
    """cidr0_cidrs are shown as prefix/length."""
    out = render_fixture("ip-network/arin-ip-8.8.8.8-2021.json")
    assert "8.8.8.0/24" in out
    assert "Google LLC" in out


def test_autnum_shows_number_and_range() -> None:
    """An autnum shows AS numbers: a single one, and a range as start - end."""
    out = render_fixture("autnum/apnic-as2515.json")
    assert "AS2515" in out
    assert "JPNIC" in out
    ranged = render(
        envelope({"objectClassName": "autnum", "startAutnum": 64512, "endAutnum": 65534})
    )
    assert "AS64512 - AS65534" in ranged


def test_entity_shows_roles_and_contact_details() -> None:
    """An entity shows its contact card (name, email, phone, address) and related roles."""
    out = render_fixture("entity/ripe-entity-DJVG.json")
    assert "Entity DJVG" in out
    assert "Daan van Gorkum" in out
    assert "daan.vangorkum@vusam.com" in out
    assert "+31203080063" in out
    assert "Postbus 8160, 1180LD Amstelveen, the Netherlands" in out
    assert "registrant" in out
    assert "VUSAM" in out


def test_entity_roles_are_listed_on_the_entity_line() -> None:
    """Roles of an entity with a contact card appear next to its handle."""
    resp = {
        "objectClassName": "entity",
        "handle": "H-1",
        "roles": ["technical", "administrative"],
        "vcardArray": jcard(["email", {}, "text", "noc@example.net"]),
    }
    out = render(envelope(resp))
    assert "technical, administrative  H-1" in out
    assert "email: noc@example.net" in out


def test_nameserver_shows_addresses() -> None:
    """A nameserver shows its name and v4/v6 addresses."""
    out = render_fixture("nameserver/afnic-ns1.nic.fr.json")
    assert "Nameserver ns1.nic.fr" in out
    assert "192.134.4.1" in out
    assert "2001:67c:2218:2::4:1" in out


def test_error_object_shows_code_title_and_description() -> None:
    """An RDAP error response shows errorCode, title and description."""
    out = render_fixture("error/ripe-501-error.json")
    assert "501" in out
    assert "501 Not Implemented" in out
    assert "Nameserver not supported" in out


def test_error_code_given_as_string_is_shown() -> None:
    """A string errorCode is still shown as the code."""
    out = render(envelope({"errorCode": "404", "title": "Not Found", "description": "gone"}))
    assert "RDAP error 404: Not Found" in out
    assert "gone" in out


def test_server_redactions_show_as_redacted_not_blank() -> None:
    """RFC 9537 redactions mark blank or removed contact fields as [redacted]."""
    out = render_fixture("redacted/icann.org-registrant-excerpt-redacted.json")
    assert "name: [redacted]" in out
    assert "email: [redacted]" in out
    assert "tel: [redacted]" in out
    assert "Internet Corporation for Assigned Names and Numbers" in out
    assert "Redacted: Registry Domain ID, " in out
    assert "Registrant Name" in out


def test_rdapctl_redactions_mark_the_exact_entity() -> None:
    """rdapctl's own redactions (index paths) mark only the entity they name."""
    resp = {
        "objectClassName": "domain",
        "ldhName": "example.com",
        "entities": [
            {"roles": ["registrant"], "vcardArray": jcard(["fn", {}, "text", ""])},
            {"roles": ["technical"], "vcardArray": jcard(["fn", {}, "text", "Tech Person"])},
        ],
        "redacted": [
            {
                "name": {"description": "email of registrant 0"},
                "prePath": "$.entities[0].vcardArray[1][?(@[0]=='email')]",
                "pathLang": "jsonpath",
                "method": "removal",
                "reason": {"description": "Redacted by rdapctl policy of tenant default"},
            },
            {
                "name": {"description": "fn of registrant 0"},
                "prePath": "$.entities[0].vcardArray[1][?(@[0]=='fn')][3]",
                "pathLang": "jsonpath",
                "method": "emptyValue",
                "reason": {"description": "Redacted by rdapctl policy of tenant default"},
            },
        ],
    }
    out = render(envelope(resp, policy={"redacted_fields": ["email", "fn"], "redacted_count": 2}))
    registrant, technical = out.split("• registrant")[1].split("• technical")
    assert "name: [redacted]" in registrant
    assert "email: [redacted]" in registrant
    assert "[redacted]" not in technical
    assert "Tech Person" in technical
    assert "Redacted by rdapctl: email of registrant 0, fn of registrant 0" in out
    assert "redacted 2 field(s) (email, fn)" in out


def test_redacted_marker_is_dim_italic() -> None:
    """The [redacted] marker is styled dim italic so it is not mistaken for data."""
    out = render_fixture("redacted/icann.org-registrant-excerpt-redacted.json")
    assert "\x1b[2;3m[redacted]" in render(
        envelope(load_fixture("redacted/icann.org-registrant-excerpt-redacted.json")), color=True
    )
    assert "[redacted]" in out


def test_markup_in_server_strings_is_printed_literally() -> None:
    """A server string with rich markup is shown as-is and styles nothing."""
    evil = "[bold red]x[/]"
    resp = {
        "objectClassName": "domain",
        "ldhName": evil,
        "status": [evil],
        "entities": [{"roles": [evil], "vcardArray": jcard(["fn", {}, "text", evil])}],
        "notices": [{"title": evil, "description": [evil]}],
        "links": [{"rel": evil, "href": "https://x.example/" + evil}],
        "events": [{"eventAction": evil, "eventDate": evil}],
    }
    out = render(envelope(resp, query=evil, tenant=evil))
    assert out.count(evil) >= 8
    colored = render(envelope(resp, query=evil), color=True)
    assert "\x1b[1;31mx" not in colored
    assert evil in colored


def test_emoji_codes_in_server_strings_are_not_substituted() -> None:
    """:smile: style codes from a server stay text."""
    out = render(envelope({"objectClassName": "domain", "ldhName": "a:smile:b.example"}))
    assert "a:smile:b.example" in out


def test_control_characters_are_stripped() -> None:
    """Escape sequences, bell, C1 and bidi overrides from a server never reach the terminal."""
    nasty = "evil\x1b[31mred\x07\x9b2J\u202etxt\x00end"
    resp = {
        "objectClassName": "entity",
        "handle": nasty,
        "vcardArray": jcard(["fn", {}, "text", nasty], ["email", {}, "text", nasty]),
        "remarks": [{"title": nasty, "description": [nasty]}],
    }
    out = render(envelope(resp, query=nasty))
    for bad in ("\x1b", "\x07", "\x9b", "\u202e", "\x00"):
        assert bad not in out
    assert "evil[31mred2Jtxtend" in out


def test_multiline_server_strings_stay_on_their_line() -> None:
    """Newlines inside a value cannot forge extra output lines."""
    resp = {"objectClassName": "domain", "ldhName": "a.example", "status": ["x\nFAKE LINE"]}
    out = render(envelope(resp))
    assert "x FAKE LINE" in out
    assert not any(line.startswith("FAKE LINE") for line in out.splitlines())


BROKEN: list[Any] = [
    {},
    [],
    [{"objectClassName": "domain", "ldhName": "in-a-list.example"}, 3, "x"],
    "just a string",
    42,
    None,
    {"notices": {"title": "object not list", "description": "one string"}},
    {"notices": ["a string notice", 7, None, [["nested"]]]},
    {"errorCode": "not-a-number", "title": 5, "description": {"x": 1}},
    {"objectClassName": "entity", "vcardArray": "not a list"},
    {"objectClassName": "entity", "vcardArray": ["vcard", "version", "fn"]},
    {"objectClassName": "entity", "vcardArray": ["vcard", [["fn"], ["email", "{}"], []]]},
    {"objectClassName": "entity", "vcardArray": ["vcard", [["fn", {}, "text", ["a", ["b"]]]]]},
    {"objectClassName": "entity", "vcardArray": ["vcard", [[1, 2, 3], ["adr", {"label": 5}]]]},
    {"objectClassName": "entity", "vcardArray": [["vcard"], {"fn": "x"}]},
    {"objectClassName": 7, "handle": ["list"], "ldhName": {"a": 1}},
    {"objectClassName": "domain", "events": [{"eventAction": "registration"}, "x", None]},
    {"objectClassName": "domain", "events": [{"eventDate": "yesterday-ish"}, {"eventDate": 3}]},
    {"objectClassName": "domain", "events": {"eventAction": "expiration", "eventDate": 1}},
    {"objectClassName": "domain", "nameservers": "ns1.example", "secureDNS": [True]},
    {"objectClassName": "domain", "nameservers": [None, 5, {"ipAddresses": "1.2.3.4"}]},
    {"objectClassName": "domain", "secureDNS": {"delegationSigned": [1], "dsData": "x"}},
    {"objectClassName": "domain", "entities": {"roles": "registrar", "publicIds": "x"}},
    {"objectClassName": "domain", "entities": [None, "x", {"entities": "nested"}]},
    {"objectClassName": "ip network", "startAddress": 1, "cidr0_cidrs": [{"length": 8}, "x"]},
    {"objectClassName": "autnum", "startAutnum": "AS1", "endAutnum": None},
    {"objectClassName": "nameserver", "ipAddresses": {"v4": "1.2.3.4", "v6": [None, ["::1"]]}},
    {"domainSearchResults": [None, 1, "x", {"ldhName": ["a"]}, {"objectClassName": "weird"}]},
    {"records": [None, {"applicableFrom": "bad", "content": "x"}]},
    {"redacted": [None, "x", {"name": "string"}, {"name": {"type": 5}, "prePath": 7}]},
    {"redacted": {"name": {"type": "Registrant Email"}, "prePath": "$..["}},
    {"links": [{"href": None}, "x", {"rel": ["a"], "href": {"b": 1}}], "status": [None, {}]},
    {"unknownMember": 1, "another": [1, 2], 5: "numeric key"},
    {"objectClassName": "domain", "ldhName": "x" * 10_000},
]


@pytest.mark.parametrize("resp", BROKEN, ids=lambda r: repr(r)[:40])
def test_broken_responses_never_raise(resp: Any) -> None:
    """Malformed server data renders what it can and never raises."""
    out = render(envelope(resp))
    assert "example.com" in out


@pytest.mark.parametrize(
    "env",
    [
        None,
        [],
        {},
        "x",
        {"query": 5, "status": ["ok"], "age_s": "old", "source": "cache", "policy": "x"},
        {"query": "q", "referrals": {"url": 5}, "error": "plain string error"},
        {"query": "q", "referrals": [None, "x", {"response": []}], "error": {"code": []}},
        {"query": "q", "source": "cache", "age_s": float("nan"), "policy": {"residency": 1}},
    ],
    ids=repr,
)
def test_broken_envelopes_never_raise(env: Any) -> None:
    """Odd envelope shapes render without an exception."""
    render(env)


def test_unparseable_and_missing_dates_are_shown_not_dropped() -> None:
    """A date that does not parse is shown raw; a missing date says so."""
    resp = {
        "objectClassName": "domain",
        "ldhName": "a.example",
        "events": [
            {"eventAction": "expiration", "eventDate": "31/12/2030"},
            {"eventAction": "registration"},
        ],
    }
    out = render(envelope(resp))
    assert "31/12/2030" in out
    assert "(no date)" in out


def test_search_results_are_capped_with_a_more_line() -> None:
    """A 300-result search shows 50 rows and says how many more there are."""
    results = [{"objectClassName": "domain", "ldhName": f"d{i:03d}.example"} for i in range(300)]
    out = render(envelope({"domainSearchResults": results}))
    assert "d000.example" in out
    assert "d049.example" in out
    assert "d050.example" not in out
    assert "… and 250 more results" in out
    assert len(out.splitlines()) < 70


def test_real_entity_search_is_a_compact_table() -> None:
    """The ARIN entity search fixture renders as a capped table of handles and names."""
    out = render_fixture("search/arin-entitySearchResults-fn-arin.json")
    assert "entitySearchResults (266)" in out
    assert "ARINL" in out
    assert "… and 216 more results" in out


def test_links_are_deduplicated_and_capped() -> None:
    """Links show rel → href once each, at most eight."""
    links = [{"rel": "self", "href": "https://a.example/"}] * 3 + [
        {"rel": "related", "href": f"https://r{i}.example/"} for i in range(12)
    ]
    out = render(envelope({"objectClassName": "domain", "ldhName": "a.example", "links": links}))
    assert out.count("self → https://a.example/") == 1
    assert "https://r6.example/" in out
    assert "https://r7.example/" not in out
    assert "… and 5 more links" in out


def test_nested_entities_stop_at_depth_three() -> None:
    """Deeply nested entities are indented and cut off after three levels."""

    def nest(depth: int) -> dict[str, Any]:
        ent: dict[str, Any] = {"handle": f"LEVEL{depth}", "roles": ["technical"]}
        if depth < 6:
            ent["entities"] = [nest(depth + 1)]
        return ent

    out = render(envelope({"objectClassName": "domain", "ldhName": "a.ex", "entities": [nest(0)]}))
    assert "LEVEL0" in out and "LEVEL1" in out and "LEVEL2" in out
    assert "LEVEL3" not in out
    assert "… and 1 more nested entities" in out


def test_notices_are_condensed() -> None:
    """A long notice is cut to its title and the start of its text."""
    notice = {"title": "Terms", "description": [f"line {i} " + "x" * 80 for i in range(40)]}
    out = render(envelope({"objectClassName": "help", "notices": [notice]}))
    assert "Terms: line 0" in out
    assert "line 5" not in out
    assert len(out.splitlines()) < 12


def test_header_shows_query_tenant_server_and_cache_age() -> None:
    """The header line names the query, type, tenant, server and cache age."""
    env = envelope({}, tenant="acme", source="cache", age_s=7300, status="ok")
    first = render(env).splitlines()[0]
    for part in ("example.com", "(domain)", "ok", "tenant acme", "rdap.verisign.com", "cache, 2h"):
        assert part in first


def test_header_shows_policy_summary() -> None:
    """The policy line summarises redactions and residency."""
    env = envelope(
        {},
        policy={
            "redacted_fields": ["email", "tel"],
            "redacted_count": 3,
            "residency": {"region": "europe", "action": "allow"},
        },
    )
    out = render(env)
    assert "redacted 3 field(s) (email, tel)" in out
    assert "residency europe: allow" in out


def test_referrals_render_as_their_own_sections() -> None:
    """Each registrar referral gets a section with its object view or its error."""
    registry = load_fixture("domain-gtld-registry/verisign-com-google.com-2022-05.json")
    registrar = load_fixture("domain-registrar/markmonitor-google.com.json")
    env = envelope(
        registry,
        referrals=[
            {
                "url": "https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM",
                "status": "ok",
                "response": registrar,
                "error": None,
            },
            {
                "url": "https://rdap.other.example/domain/GOOGLE.COM",
                "status": "error",
                "response": None,
                "error": {"code": "upstream_error", "message": "timed out", "hint": None},
            },
        ],
    )
    out = render(env)
    assert "Referral 1 https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM (ok)" in out
    assert "Referral 2 https://rdap.other.example/domain/GOOGLE.COM (error)" in out
    assert "error [upstream_error]: timed out" in out
    referral_part = out.split("Referral 1")[1]
    assert "Domain google.com" in referral_part


def test_envelope_error_shows_code_message_and_hint() -> None:
    """A failed lookup shows the error code, message and hint."""
    env = envelope(
        None,
        status="denied",
        error={
            "code": "policy_denied",
            "message": "query type ip is not allowed for tenant acme",
            "hint": "add 'ip' to security.allowed_query_types",
        },
    )
    out = render(env)
    assert "denied" in out.splitlines()[0]
    assert "error [policy_denied]: query type ip is not allowed for tenant acme" in out
    assert "hint: add 'ip' to security.allowed_query_types" in out


def test_not_found_envelope_shows_the_server_error_object() -> None:
    """A 404 envelope shows the server's error object next to rdapctl's error."""
    env = envelope(
        load_fixture("error/rdaporg-404-domain-test.fr.json"),
        status="not_found",
        error={"code": "not_found", "message": "test.fr was not found", "hint": None},
    )
    out = render(env)
    assert "RDAP error 404: domain test.fr not found in IANA boostrap file" in out
    assert "error [not_found]: test.fr was not found" in out


def test_unknown_object_shows_its_members() -> None:
    """An object without a known class lists its top-level members compactly."""
    out = render(envelope({"objectClassName": "widget", "handle": "W1", "colour": "blue"}))
    assert "class 'widget'" in out
    assert "W1" in out
    assert "objectClassName, handle, colour" in out


def test_class_is_guessed_when_object_class_name_is_missing() -> None:
    """A response without objectClassName is shown by what its members say it is."""
    out = render(envelope({"startAddress": "10.0.0.0", "endAddress": "10.255.255.255"}))
    assert "IP network 10.0.0.0 - 10.255.255.255" in out
