"""The terminal view of JSContact cards, the abuse contact line, and remarks and notices
of every shape.

Entities may carry a JSContact card (RFC 9553) instead of, or beside, a jCard: the view
shows what it holds the way it shows a jCard, and what the server or rdapctl redacted
reads ``[redacted]``. The envelope's abuse contact gets one line under the header.
Remarks and notices are shown whatever their shape, from their values only. Every list
stays cut, and no shape of data raises or reaches the terminal raw.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdapctl.policy.redaction import redact_pii
from tests.support import render_text

N = 100_000
PII_FIELDS = ["fn", "n", "adr", "email", "tel", "contact-uri"]


def envelope(response: Any, **overrides: Any) -> dict[str, Any]:
    env: dict[str, Any] = {
        "query": "example.com",
        "type": "domain",
        "tenant": "t",
        "status": "ok",
        "source": "network",
        "response": response,
        "referrals": [],
        "policy": {"redacted_fields": [], "redacted_count": 0},
        "error": None,
    }
    env.update(overrides)
    return env


render = render_text


def domain(**members: Any) -> dict[str, Any]:
    return {"objectClassName": "domain", "ldhName": "example.com", **members}


def flat(out: str) -> str:
    """``out`` with rich's line wrapping undone (runs of whitespace made one space)."""
    return " ".join(out.split())


def entities_part(out: str) -> str:
    """The lines from the Entities heading to the end of the entity blocks."""
    part = out.split("Entities\n", 1)[1]
    return "\n".join(line for line in part.splitlines() if line.startswith(" "))


def jcard(*props: list[Any]) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"], *props]]


JCARD = jcard(
    ["fn", {}, "text", "Jane Doe"],
    ["org", {}, "text", "Example Org"],
    ["kind", {}, "text", "individual"],
    ["email", {}, "text", "jane@example.org"],
    ["tel", {"type": ["voice"]}, "uri", "tel:+1.5555550100"],
    ["tel", {"type": ["fax"]}, "uri", "tel:+1.5555550199"],
    ["adr", {}, "text", ["", "", "1 Main St", "Springfield", "", "", "US"]],
    ["contact-uri", {}, "uri", "https://example.org/contact"],
)


def jscard() -> dict[str, Any]:
    """The JSContact card saying what JCARD says."""
    return {
        "@type": "Card",
        "version": "1.0",
        "kind": "individual",
        "name": {
            "@type": "Name",
            "full": "Jane Doe",
            "components": [
                {"kind": "given", "value": "Jane"},
                {"kind": "surname", "value": "Doe"},
            ],
        },
        "organizations": {"o1": {"@type": "Organization", "name": "Example Org"}},
        "emails": {"e1": {"@type": "EmailAddress", "address": "jane@example.org"}},
        "phones": {
            "p1": {"number": "tel:+1.5555550100", "features": {"voice": True}},
            "p2": {"number": "tel:+1.5555550199", "features": {"fax": True}},
        },
        "addresses": {
            "a1": {
                "components": [
                    {"kind": "name", "value": "1 Main St"},
                    {"kind": "separator", "value": ", "},
                    {"kind": "locality", "value": "Springfield"},
                ],
                "countryCode": "US",
            }
        },
        "links": {"l1": {"kind": "contact", "uri": "https://example.org/contact"}},
    }


def entity(**members: Any) -> dict[str, Any]:
    return {"objectClassName": "entity", "handle": "JD1", "roles": ["registrant"], **members}


# --- JSContact cards shown like jCards --------------------------------------------------


@pytest.mark.parametrize("member", ["jscard", "jscard_v1", "jscontact_card"])
def test_jscontact_only_entity_renders_like_its_jcard(member: str) -> None:
    """An entity with only a JSContact card shows the same lines as with the same
    contact in a jCard: name, organisation, kind, e-mail, phone, fax, address, contact."""
    by_jcard = render(envelope(domain(entities=[entity(vcardArray=JCARD)])))
    by_card = render(envelope(domain(entities=[entity(**{member: jscard()})])))
    assert entities_part(by_card) == entities_part(by_jcard)
    for expected in (
        "name: Jane Doe · org: Example Org · kind: individual",
        "email: jane@example.org · tel: +1.5555550100 · fax: +1.5555550199",
        "address: 1 Main St, Springfield, US",
        "contact: https://example.org/contact",
    ):
        assert expected in by_card, expected


def test_jscontact_top_level_entity_and_registrar_name() -> None:
    """A JSContact-only entity answer is shown as an entity; a registrar's card names
    the registrar of a domain."""
    out = render(envelope({"handle": "JD1", "jscontact_card": jscard()}, type="entity"))
    assert "Entity JD1" in out
    assert "name: Jane Doe" in out
    registrar = {"roles": ["registrar"], "jscard": {"name": {"full": "Registrar Inc."}}}
    out = render(envelope(domain(entities=[registrar])))
    assert "registrar  Registrar Inc." in out


def test_jscontact_maps_as_lists_and_plain_values() -> None:
    """Maps sent as lists, items sent as plain strings, a name given by its components
    or as a string, a multi-line full address and the other card's values merge."""
    card = {
        "name": {"components": [{"kind": "given", "value": "Ann"}, "Lee"]},
        "organizations": [{"name": "Org A", "units": [{"name": "NOC"}]}, "Org B"],
        "emails": ["ann@example.org", {"address": "ann2@example.org"}],
        "phones": "tel:+44.2071234567",
        "addresses": [{"full": "10 High St\nLondon", "countryCode": "GB", "locality": "London"}],
        "onlineServices": {"s": {"service": "XMPP", "uri": "xmpp:ann@example.org"}},
        "links": [{"uri": "https://ann.example/"}],
    }
    second = {"name": "Ann Lee", "emails": {"e": {"address": "ann@example.org"}}}
    out = render(envelope(domain(entities=[entity(jscard=card, jscard_b=second)])))
    assert "name: Ann Lee · org: Org A NOC, Org B" in out
    assert "email: ann@example.org, ann2@example.org · tel: +44.2071234567" in out
    assert "address: 10 High St, London, GB" in out
    assert "contact: xmpp:ann@example.org · link: https://ann.example/" in out


def test_jcard_and_jscontact_beside_each_other_merge_without_repeats() -> None:
    """The same contact in both forms is shown once; what only one holds is added."""
    card = jscard()
    card["emails"]["e2"] = {"address": "other@example.org"}
    out = render(envelope(domain(entities=[entity(vcardArray=JCARD, jscard=card)])))
    assert "email: jane@example.org, other@example.org · tel: +1.5555550100" in out
    assert out.count("Jane Doe") == 1


def test_card_map_ids_are_never_shown() -> None:
    """The ids of a card's maps are the server's member names, not contact data."""
    card = {"emails": {"SECRET-ID": {"address": "a@example.org"}}, "name": {"full": "A"}}
    out = render(envelope(domain(entities=[entity(jscard=card)])))
    assert "a@example.org" in out
    assert "SECRET-ID" not in out


# --- redactions of cards ----------------------------------------------------------------


@pytest.mark.parametrize("member", ["jscard", "jscard_v1", "jscontact_card"])
def test_card_members_removed_by_rdapctl_read_redacted(member: str) -> None:
    """What rdapctl's policy removed from a card reads [redacted], member by member,
    and none of the removed values is shown; what it kept (the organisation) is."""
    card = jscard()
    card["onlineServices"] = {"s": {"uri": "xmpp:jane@example.org"}}
    other = {"handle": "T1", "roles": ["technical"], "vcardArray": jcard(["org", {}, "text", "TO"])}
    answer = domain(
        entities=[entity(**{member: card}), other],
        remarks=[{"description": "Write to jane@example.org or call +1.5555550100"}],
    )
    result = redact_pii(answer, PII_FIELDS, tenant="t")
    out = render(envelope(result.obj, policy={"redacted_fields": list(result.redacted_fields)}))
    registrant, technical = out.split("• registrant")[1].split("• technical")
    for expected in (
        "name: [redacted] · org: Example Org · kind: individual",
        "email: [redacted] · tel: [redacted]",
        "address: [redacted]",
        "contact: [redacted]",
    ):
        assert expected in registrant, expected
    for removed in (
        "Jane",
        "Doe",
        "jane@example.org",
        "5555550100",
        "5555550199",
        "1 Main St",
        "Springfield",
        "https://example.org/contact",
        "xmpp:",
    ):
        assert removed not in out, removed
    assert "org: TO" in technical
    assert "[redacted]" not in technical.split("Remarks")[0]
    assert "[email redacted]" in out and "[tel redacted]" in out
    assert "Redacted by rdapctl: " in out and "email of registrant JD1" in out


def test_server_redacted_card_members_read_redacted() -> None:
    """A server's RFC 9537 entries naming JSContact members (by role, or by index)
    mark those members of the right entity."""
    answer = domain(
        entities=[
            entity(jscontact_card={"name": {"full": ""}, "organizations": {"o": {"name": "Org"}}}),
            {"handle": "T1", "roles": ["technical"], "jscard": {"name": {"full": "Tech"}}},
        ],
        redacted=[
            {
                "name": {"type": "Registrant Email"},
                "prePath": "$.entities[?(@.roles[0]=='registrant')].jscontact_card.emails",
                "method": "removal",
            },
            {
                "name": {"description": "whatever the server calls it"},
                "prePath": "$.entities[0].jscontact_card.phones",
                "method": "removal",
            },
            {
                "name": {"type": "Registrant Name"},
                "postPath": "$.entities[0].jscontact_card.name.full",
                "method": "emptyValue",
            },
        ],
    )
    out = render(envelope(answer))
    registrant, technical = out.split("• registrant")[1].split("• technical")
    assert "name: [redacted] · org: Org" in registrant
    assert "email: [redacted] · tel: [redacted]" in registrant
    assert "[redacted]" not in technical.split("Redacted:")[0]
    assert "name: Tech" in technical


# --- the abuse contact line -----------------------------------------------------------

ABUSE = {"email": ["abuse@example.net"], "phone": ["+1.5555551234"], "source": "ABUSE5250-ARIN"}


@pytest.mark.parametrize(
    ("qtype", "answer"),
    [
        ("domain", domain()),
        ("ip", {"objectClassName": "ip network", "startAddress": "192.0.2.0"}),
        ("autnum", {"objectClassName": "autnum", "startAutnum": 64500}),
        ("url", domain()),
    ],
)
def test_abuse_line_follows_the_header(qtype: str, answer: dict[str, Any]) -> None:
    """Domain, ip and autnum answers show the abuse contact right after the header
    and policy lines, before the object."""
    env = envelope(answer, type=qtype, abuse=ABUSE, policy={"redacted_fields": ["email"]})
    lines = render(env).splitlines()
    assert lines[1].startswith("policy: ")
    assert lines[2] == "abuse contact  abuse@example.net · +1.5555551234  (ABUSE5250-ARIN)"
    assert set(lines[3]) == {"─"}


def test_abuse_line_with_only_one_kind_of_value_and_no_source() -> None:
    """Only phones, or only e-mails, and a missing source: the values alone."""
    only_phone = {"email": [], "phone": ["+1.5555551234"], "source": None}
    out = render(envelope(domain(), abuse=only_phone))
    assert "abuse contact  +1.5555551234\n" in out
    only_mail = {"email": ["abuse@example.net"], "phone": []}
    out = render(envelope(domain(), abuse=only_mail))
    assert "abuse contact  abuse@example.net\n" in out


@pytest.mark.parametrize(
    "abuse",
    [
        {"email": [], "phone": [], "source": None},
        {"email": [], "phone": [], "source": "registrar > abuse"},
        None,
        "abuse@example.net",
        {"email": [None, ""], "phone": {}, "source": 5},
    ],
    ids=repr,
)
def test_no_abuse_line_when_there_is_none(abuse: Any) -> None:
    """Empty lists, a null field or junk: no abuse line."""
    out = render(envelope(domain(), abuse=abuse))
    assert "abuse contact" not in out


def test_no_abuse_line_for_old_envelopes_or_other_answers() -> None:
    """An envelope without the field (written before it existed) shows none; nor do
    entity or nameserver answers."""
    assert "abuse contact" not in render(envelope(domain()))
    ent = {"objectClassName": "entity", "handle": "E1"}
    assert "abuse contact" not in render(envelope(ent, type="entity", abuse=ABUSE))
    ns = {"objectClassName": "nameserver", "ldhName": "ns1.example"}
    assert "abuse contact" not in render(envelope(ns, type="nameserver", abuse=ABUSE))


def test_abuse_line_is_cut_and_cleaned() -> None:
    """At most three of each kind, then how many more; server text made safe."""
    abuse = {
        "email": [f"a{i}@example.net" for i in range(N)],
        "phone": [f"+1.55555{i:05d}" for i in range(5)],
        "source": "ABUSE\x1b[31m-1\n[bold]x[/bold]",
    }
    out = flat(render(envelope(domain(), abuse=abuse)))
    assert (
        "abuse contact a0@example.net · a1@example.net · a2@example.net · … and 99,997 more"
        " · +1.5555500000 · +1.5555500001 · +1.5555500002 · … and 2 more"
        " (ABUSE[31m-1 [bold]x[/bold])"
    ) in out


# --- remarks and notices of every shape ---------------------------------------------------


@pytest.mark.parametrize(
    ("remarks", "expected"),
    [
        (
            [{"title": "Terms", "description": ["line one", "line two"]}],
            ["Terms: line one line two"],
        ),
        ({"title": "Alone", "description": ["a lone object"]}, ["Alone: a lone object"]),
        (["a plain string", "another"], ["  a plain string", "  another"]),
        ("just one string", ["  just one string"]),
        ([{"title": "S", "description": "a string description"}], ["S: a string description"]),
        (
            [{"title": "Nested", "description": [["one", ["two"]], [["three"]], "four"]}],
            ["Nested: one two three (… and 1 more lines)"],
        ),
        ([{"description": ["no title here"]}], ["  no title here"]),
        ([{"type": "result set truncated due to authorization"}], ["result set truncated"]),
        ([{"title": ["T1", "T2"], "description": {"en": "by language"}}], ["T1 T2: by language"]),
        ({"r1": {"title": "Mapped", "description": ["m"]}, "r2": "x"}, ["Mapped: m", "  x"]),
        ([None, 7, True, {}, {"links": []}, [["deep"]]], ["  7", "  true", "  deep"]),
    ],
    ids=lambda v: repr(v)[:30],
)
@pytest.mark.parametrize("key", ["remarks", "notices"])
def test_remarks_and_notices_of_every_shape(key: str, remarks: Any, expected: list[str]) -> None:
    """Each shape shows its text: title and description lines, plain strings as
    lines, nested lists flattened."""
    out = render(envelope(domain(**{key: remarks})))
    assert key.capitalize() + "\n" in out
    for text in expected:
        assert text in out, text


@pytest.mark.parametrize("junk", [None, "", [], {}, [None, {}, []], {"r": None}, [{"links": []}]])
def test_remarks_without_text_show_no_heading(junk: Any) -> None:
    """Nothing to show: no empty Remarks heading."""
    assert "Remarks" not in render(envelope(domain(remarks=junk)))


def test_only_values_under_remarks_are_shown_as_remarks() -> None:
    """Member names under remarks (not masked by the redaction engine) and text from
    other members of the object never appear as a remark."""
    answer = domain(
        remarks={"leak@example.org": "shown value"},
        notices=[{"title": "T", "description": ["d"], "mail@example.org": "v"}],
        description=["top-level description is not a remark"],
        title="not a notice title",
    )
    out = render(envelope(answer))
    assert "shown value" in out and "T: d" in out
    for hidden in ("leak@example.org", "mail@example.org", "top-level description", "not a notice"):
        assert hidden not in out, hidden


def test_contacts_in_odd_shaped_remarks_are_masked_then_shown() -> None:
    """The redaction engine masks contacts in every string under remarks and notices;
    the view shows that masked text, whatever the shape."""
    answer = domain(
        remarks={"title": "Contact", "description": [["mail x@example.org", ["+1.5555550100"]]]},
        notices=["call +44.2071234567", {"n": {"description": "y@example.org"}}],
    )
    result = redact_pii(answer, PII_FIELDS, tenant="t")
    out = render(envelope(result.obj))
    assert "Contact: mail [email redacted] [tel redacted]" in out
    assert "call [tel redacted]" in out
    for value in ("x@example.org", "5555550100", "2071234567", "y@example.org"):
        assert value not in out


# --- huge cards and remarks stay a screenful ---------------------------------------------


def test_100000_items_in_card_maps_are_cut() -> None:
    """100,000 e-mails (a map), phones (a list), addresses and name components: the
    first three values of each, then how many more."""
    card = {
        "name": {"components": [{"value": f"n{i}"} for i in range(N)]},
        "emails": {f"e{i}": {"address": f"e{i}@x.example"} for i in range(N)},
        "phones": [{"number": f"+1.555{i:07d}"} for i in range(N)],
        "addresses": {"a": {"components": [{"value": f"c{i}"} for i in range(N)]}},
        "organizations": {f"o{i}": {"name": f"Org {i}"} for i in range(N)},
        "links": [{"kind": "contact", "uri": f"https://c{i}.example/"} for i in range(N)],
    }
    out = render(envelope(domain(entities=[entity(jscard=card)])))
    for expected in (
        "e2@x.example, … and 99,997 more",
        "+1.5550000002, … and 99,997 more",
        "Org 2, … and 99,997 more",
        "https://c2.example/, … and 99,997 more",
        "n19 … and 99,980 more",  # name components: 20, space separated
        "c19, … and 99,980 more",  # address components: 20
    ):
        assert expected in flat(out), expected
    assert "e3@x.example" not in out
    assert len(out.splitlines()) < 30


def test_100000_remarks_in_any_shape_are_cut() -> None:
    """100,000 remarks as a map, or as plain strings, and one remark of 100,000 nested
    description lines: the first six, the first three lines, then how many more."""
    mapped = {f"r{i}": {"title": f"R{i}", "description": [f"d{i}"]} for i in range(N)}
    strings = [f"s{i}" for i in range(N)]
    nested = {"title": "Big", "description": [[f"l{i}"] for i in range(N)]}
    out = render(envelope(domain(remarks=mapped, notices=[nested, *strings])))
    assert "R5: d5" in out and "R6" not in out
    assert "… and 99,994 more remarks" in out
    assert "Big: l0 l1 l2 (… and 99,997 more lines)" in out
    assert "  s4\n" in out and "s5" not in out
    assert "… and 99,995 more notices" in out
    assert len(out.splitlines()) < 30


# --- no shape raises or reaches the terminal raw ---------------------------------------

_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_KEYS = [
    "@type",
    "name",
    "full",
    "components",
    "value",
    "kind",
    "organizations",
    "units",
    "emails",
    "address",
    "phones",
    "number",
    "features",
    "fax",
    "addresses",
    "countryCode",
    "locality",
    "onlineServices",
    "uri",
    "user",
    "links",
    "title",
    "description",
    "type",
    "fullName",
]
hostile_text = st.one_of(
    st.sampled_from(["\x1b]0;owned\x07", "\x1b[2J", "\u202e", "\u200b", "\x9b31m", "\n", ""]),
    st.sampled_from(["[bold]x[/]", ":smile:", "separator", "contact", "tel:+1", "x@y.example"]),
    st.text(st.characters(categories=("Cc", "Cf", "Cs", "Zl", "Zp")), max_size=3),
    st.text(max_size=6),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), hostile_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(_KEYS), hostile_text), inner, max_size=5),
    ),
    max_leaves=40,
)
cards = st.dictionaries(st.sampled_from(_KEYS), json_values, max_size=8)
paths = st.builds(
    "".join,
    st.lists(
        st.sampled_from(
            [
                "$",
                ".entities[0]",
                ".jscard",
                ".jscontact_card",
                ".name",
                ".emails",
                ".full",
                "[?(@.roles[0]=='registrant')]",
                ".phones",
                ".links",
                "['x']",
                "[",
                "==",
            ]
        ),
        max_size=6,
    ),
)


def assert_terminal_safe(out: str) -> None:
    bad = {f"U+{ord(ch):04X}" for ch in out if ch != "\n" and unicodedata.category(ch) in _HIDDEN}
    assert not bad, f"raw characters reached the terminal: {sorted(bad)}"


@settings(max_examples=150, deadline=None)
@given(
    card=cards,
    second=json_values,
    remarks=json_values,
    notices=json_values,
    path=paths,
    abuse=json_values,
    strings=st.lists(hostile_text, min_size=3, max_size=3),
)
def test_random_cards_and_remarks_never_raise_nor_print_controls(
    card: dict[str, Any],
    second: Any,
    remarks: Any,
    notices: Any,
    path: str,
    abuse: Any,
    strings: list[str],
) -> None:
    """Whatever a server puts in a card, a remark or a notice (and whatever the abuse
    field holds), the view renders without raising and writes no raw control, in
    colour too; the same after rdapctl's redaction of it."""
    ent = {"roles": [strings[0]], "handle": strings[1], "jscard": card, "jscard_2": second}
    answer = domain(
        entities=[ent, {"roles": ["registrar"], "jscontact_card": card}],
        remarks=remarks,
        notices=notices,
        redacted=[{"name": {"type": strings[2]}, "prePath": path}],
    )
    for resp in (answer, redact_pii(copy.deepcopy(answer), PII_FIELDS, tenant="t").obj):
        env = envelope(resp, abuse=abuse)
        assert_terminal_safe(render(env))
        colored = render(env, color=True)
        assert_terminal_safe(re.sub(r"\x1b\[[0-9;]*m", "", colored))
