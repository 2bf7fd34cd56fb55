"""PII redaction of RDAP responses (RFC 9537 entries), server redactions and the PII scan."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from rdapctl.policy.contact_text import find_pii
from rdapctl.policy.redaction import redact_pii
from rdapctl.policy.redaction_entries import server_redactions
from rdapctl.policy.tenant import BASE_REDACT_FIELDS, COMPLIANCE_REDACT_FIELDS
from tests.support import RDAP_FIXTURES, all_fixture_files, load_fixture

REDACTED_FIXTURE = "redacted/icann.org-registrant-excerpt-redacted.json"


def _rel(path: Path) -> str:
    return str(path.relative_to(RDAP_FIXTURES))


def _jcard_properties(obj: Any) -> list[list[Any]]:
    """Every jCard property (a list whose first item is a string) inside any vcardArray,
    found independently of the code under test and tolerant of malformed nesting."""
    found: list[list[Any]] = []
    stack: list[tuple[Any, bool]] = [(obj, False)]
    while stack:
        node, in_vcard = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, in_vcard or k == "vcardArray") for k, v in node.items())
        elif isinstance(node, list):
            if in_vcard and node and isinstance(node[0], str) and node[0] != "vcard":
                found.append(node)
            stack.extend((v, in_vcard) for v in node)
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _contact_values(obj: Any) -> set[str]:
    """The e-mail addresses and phone numbers written in the fixture's jCards."""
    values: set[str] = set()
    for prop in _jcard_properties(obj):
        if prop[0].lower() in ("email", "tel"):
            for text in _strings(prop[3:]):
                text = text.strip()
                if len(text) >= 5:
                    values.add(text)
                    if text.startswith("tel:"):
                        values.add(text[4:])
    return values


def _fixtures_with_contacts() -> list[Path]:
    return [p for p in all_fixture_files() if _contact_values(load_fixture(_rel(p)))]


CONTACT_FIXTURES = _fixtures_with_contacts()


def test_the_fixture_set_has_many_contact_bearing_responses() -> None:
    """Guard: the per-fixture test below really runs over the contact-bearing fixtures."""
    assert len(CONTACT_FIXTURES) >= 60


@pytest.mark.parametrize("path", CONTACT_FIXTURES, ids=_rel)
def test_no_email_or_phone_survives_redaction(path: Path) -> None:
    """Every email/phone in the fixture's jCards is gone from the redacted JSON."""
    original = load_fixture(_rel(path))
    pristine = copy.deepcopy(original)
    result = redact_pii(original, BASE_REDACT_FIELDS, tenant="acme")
    text = json.dumps(result.obj, ensure_ascii=False)
    leaked = [v for v in _contact_values(pristine) if v in text]
    assert leaked == []
    assert find_pii(text) == []
    assert original == pristine, "input was mutated"
    assert result.count > 0
    assert {"email", "tel"} & set(result.redacted_fields)


def test_find_pii_sees_the_contacts_before_redaction() -> None:
    """The scan is not vacuous: on an unredacted response it finds the e-mail and phone."""
    text = (RDAP_FIXTURES / "entity/arin-entity-ARIN-HOSTMASTER.json").read_text()
    found = find_pii(text)
    assert "hostmaster@arin.net" in found
    assert "+1-703-227-0660" in found


def test_redacted_entries_and_conformance_are_added() -> None:
    """Each removal is an RFC 9537 entry at top level and 'redacted' joins rdapConformance."""
    obj = load_fixture("domain-gtld-registry/verisign-com-google.com-2021-06.json")
    result = redact_pii(obj, BASE_REDACT_FIELDS, tenant="acme")
    out = result.obj
    assert out["rdapConformance"].count("redacted") == 1
    assert out["rdapConformance"][: len(obj["rdapConformance"])] == obj["rdapConformance"]
    by_desc = {e["name"]["description"]: e for e in out["redacted"]}
    email = next(e for d, e in by_desc.items() if d.startswith("email of abuse"))
    assert email["prePath"] == "$.entities[0].entities[0].vcardArray[1][?(@[0]=='email')]"
    assert email["pathLang"] == "jsonpath"
    assert email["method"] == "removal"
    assert email["reason"] == {"description": "Redacted by rdapctl policy of tenant acme"}
    assert result.redacted_fields == ("email", "fn", "tel")
    assert result.count == 3


def test_fn_is_blanked_with_empty_value_not_removed() -> None:
    """fn is required by jCard: it stays with an empty value and method emptyValue."""
    obj = load_fixture("entity/arin-entity-ARIN-HOSTMASTER.json")
    out = redact_pii(obj, ["fn"], tenant="acme").obj
    fns = [p for p in _jcard_properties(out) if p[0] == "fn"]
    assert fns and all(p[3] == "" for p in fns)
    (entry,) = out["redacted"]
    assert entry["method"] == "emptyValue"
    assert entry["postPath"] == "$.vcardArray[1][?(@[0]=='fn')][3]"
    assert "prePath" not in entry
    assert entry["name"]["description"] == "fn of entity ARIN-HOSTMASTER"


def test_count_matches_the_properties_removed() -> None:
    """count is the number of jCard properties removed across all entities."""
    obj = load_fixture("autnum/arin-as16509.json")
    fields = ("org", "adr")
    expected = sum(1 for p in _jcard_properties(obj) if p[0].lower() in fields)
    result = redact_pii(obj, fields, tenant="acme")
    assert result.count == expected
    assert not [p for p in _jcard_properties(result.obj) if p[0].lower() in fields]
    kinds = [p for p in _jcard_properties(result.obj) if p[0] == "kind"]
    assert kinds, "properties not asked for are kept"


def test_entries_only_for_properties_actually_present() -> None:
    """A field absent from every card (no org in this response) produces no entry."""
    result = redact_pii(
        load_fixture("autnum/ripe-as16276-2021.json"), COMPLIANCE_REDACT_FIELDS, tenant="t"
    )
    assert "org" not in result.redacted_fields
    assert "tel" not in result.redacted_fields
    assert not any(e["name"]["description"].startswith("org ") for e in result.obj["redacted"])


def test_search_results_at_any_depth_are_redacted() -> None:
    """entitySearchResults and arin_originas0_networkSearchResults entities are all cleaned."""
    for rel in (
        "search/arin-entitySearchResults-fn-arin.json",
        "search/arin-originas0-networkSearchResults.json",
    ):
        result = redact_pii(load_fixture(rel), BASE_REDACT_FIELDS, tenant="acme")
        props = _jcard_properties(result.obj)
        assert props
        assert not [p for p in props if p[0].lower() in ("email", "tel", "adr")]
        assert any("SearchResults[" in e.get("prePath", "") for e in result.obj["redacted"])


def test_server_side_redacted_entries_are_preserved() -> None:
    """The response's own RFC 9537 entries stay, first, and 'redacted' is not duplicated."""
    obj = load_fixture(REDACTED_FIXTURE)
    result = redact_pii(obj, COMPLIANCE_REDACT_FIELDS, tenant="acme")
    out = result.obj
    assert out["redacted"][: len(obj["redacted"])] == obj["redacted"]
    assert len(out["redacted"]) == len(obj["redacted"]) + 2  # org and adr; fn already ""
    assert out["rdapConformance"].count("redacted") == 1
    assert result.redacted_fields == ("adr", "org")


def test_input_is_never_mutated_and_empty_fields_return_it_unchanged() -> None:
    """A new object is returned; with no fields the very same object comes back."""
    obj = load_fixture("domain-cctld/afnic-fr-afnic.fr.json")
    pristine = copy.deepcopy(obj)
    result = redact_pii(obj, COMPLIANCE_REDACT_FIELDS, tenant="acme")
    assert obj == pristine
    assert result.obj is not obj
    untouched = redact_pii(obj, (), tenant="acme")
    assert untouched.obj is obj and untouched.count == 0 and untouched.redacted_fields == ()


def test_field_names_are_case_insensitive() -> None:
    """EMAIL in the policy removes email; Email in a card is removed too."""
    obj = {
        "objectClassName": "entity",
        "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["Email", {}, "text", "a@b.org"]]],
    }
    result = redact_pii(obj, ["EMAIL"], tenant="acme")
    assert "a@b.org" not in json.dumps(result.obj)
    assert result.redacted_fields == ("email",)
    assert result.obj["redacted"][0]["prePath"] == "$.vcardArray[1][?(@[0]=='Email')]"


def test_redacted_fields_report_names_never_values() -> None:
    """The audit-facing summary holds field names only, sorted and unique."""
    result = redact_pii(
        load_fixture("autnum/arin-as16509.json"), COMPLIANCE_REDACT_FIELDS, tenant="acme"
    )
    assert list(result.redacted_fields) == sorted(set(result.redacted_fields))
    assert set(result.redacted_fields) <= set(COMPLIANCE_REDACT_FIELDS)


def test_nonconformant_jcard_is_cleaned_best_effort() -> None:
    """Properties not nested in vcardArray[1] and a split-off adr value are still removed."""
    obj = load_fixture("odd/registrar-domain-nonconformant-jcard.json")
    result = redact_pii(obj, BASE_REDACT_FIELDS, tenant="acme")
    text = json.dumps(result.obj)
    assert "cwp7panel@gmail.com" not in text
    assert "New York" not in text
    assert "$.entities[0].vcardArray[?(@[0]=='email')]" in [
        e.get("prePath") for e in result.obj["redacted"]
    ]


def test_contacts_pasted_in_remarks_are_replaced() -> None:
    """An e-mail in a remark is replaced in place, with a partialValue entry."""
    obj = load_fixture("autnum/ripe-as49037.json")
    assert "noc@pg19.ru" in json.dumps(obj)
    out = redact_pii(obj, ["email"], tenant="acme").obj
    assert "noc@pg19.ru" not in json.dumps(out)
    assert "[email redacted]" in json.dumps(out)
    partial = [e for e in out["redacted"] if e["method"] == "partialValue"]
    assert partial and all(".remarks[" in e["postPath"] for e in partial)


def test_jscontact_card_members_are_removed() -> None:
    """A JSContact card loses name, organizations, addresses, emails, phones, contact links."""
    card = {
        "@type": "Card",
        "version": "1.0",
        "kind": "individual",
        "name": {"full": "Jane Doe", "components": [{"kind": "given", "value": "Jane"}]},
        "organizations": {"o1": {"name": "Doe Ltd"}},
        "addresses": {"a1": {"full": "1 Main St, Springfield"}},
        "emails": {"e1": {"address": "jane@doe.example"}},
        "phones": {"p1": {"number": "tel:+1-555-010-9999"}},
        "links": {
            "c1": {"kind": "contact", "uri": "mailto:jane@doe.example"},
            "w1": {"uri": "https://doe.example/"},
        },
        "onlineServices": {"x1": {"uri": "xmpp:jane@doe.example"}},
    }
    obj = {"objectClassName": "domain", "entities": [{"handle": "JD1", "jscontact_card": card}]}
    result = redact_pii(obj, COMPLIANCE_REDACT_FIELDS, tenant="acme")
    out_card = result.obj["entities"][0]["jscontact_card"]
    assert out_card == {
        "@type": "Card",
        "version": "1.0",
        "kind": "individual",
        "links": {"w1": {"uri": "https://doe.example/"}},
    }
    assert find_pii(json.dumps(result.obj)) == []
    assert set(result.redacted_fields) == set(COMPLIANCE_REDACT_FIELDS)
    paths = {e["prePath"] for e in result.obj["redacted"]}
    assert "$.entities[0].jscontact_card.emails" in paths
    assert "$.entities[0].jscontact_card.name.full" in paths


def _deep(levels: int) -> list[Any]:
    root: list[Any] = []
    cur = root
    for _ in range(levels):
        nxt: list[Any] = []
        cur.append(nxt)
        cur = nxt
    return root


@pytest.mark.parametrize(
    "odd",
    [
        {},
        [],
        None,
        "text",
        42,
        {"vcardArray": "x"},
        {"vcardArray": None},
        {"vcardArray": {"email": "a@b.org"}},
        {"vcardArray": ["vcard", "email"]},
        {"vcardArray": ["vcard", ["email"]]},
        {"vcardArray": ["vcard", ["email", "fn", "tel"]]},
        {"vcardArray": ["vcard", [["fn"], ["tel", {}], "email", [None], [], [[]]]]},
        {"vcardArray": [["email", {}, "text", "a@b.org"]]},
        {"entities": "not a list", "redacted": "not a list", "rdapConformance": "x"},
        {"entities": [None, 1, "x", {"vcardArray": [1, 2, 3]}]},
        [{"vcardArray": ["vcard", [["email", {}, "text", "a@b.org"]]]}],
        {"jscontact_card": {"name": "Jane", "links": [{"kind": "contact"}, 3]}},
        {"remarks": [{"description": "mail a@b.org"}, "x", {"description": [1, None]}]},
    ],
)
def test_odd_input_never_crashes(odd: Any) -> None:
    """Malformed documents and jCards are cleaned as far as possible, never raising."""
    result = redact_pii(odd, COMPLIANCE_REDACT_FIELDS, tenant="acme")
    json.dumps(result.obj)
    assert result.count >= 0


@pytest.mark.parametrize(
    "odd",
    [
        {"vcardArray": ["vcard", [["email", {}, "text", "a@b.org"], "tel"]]},
        {"vcardArray": [["email", {}, "text", "a@b.org"]]},
        {"vcardArray": ["vcard", ["email", "{}", "text", "a@b.org"]]},
        [{"vcardArray": ["vcard", [["email", {}, "text", "a@b.org"]]]}],
        {"remarks": [{"description": "mail a@b.org"}, "x", {"description": [1, None]}]},
    ],
)
def test_identifiable_email_in_odd_input_is_removed(odd: Any) -> None:
    """Where an e-mail can be identified in a malformed document, it is still removed."""
    result = redact_pii(odd, ["email"], tenant="acme")
    assert "a@b.org" not in json.dumps(result.obj)
    assert result.redacted_fields == ("email",)


def test_very_deep_document_does_not_hit_the_recursion_limit() -> None:
    """Nesting far beyond Python's recursion limit is walked without RecursionError."""
    deep = _deep(5000)
    innermost = deep
    while innermost:
        innermost = innermost[0]
    innermost.append({"vcardArray": ["vcard", [["email", {}, "text", "a@b.org"]]]})
    result = redact_pii(deep, ["email"], tenant="acme")
    assert result.count == 1


def test_server_redactions_reads_the_rfc9537_array() -> None:
    """The icann.org excerpt yields its server-side redactions with names, paths, methods."""
    entries = server_redactions(load_fixture(REDACTED_FIXTURE))
    assert len(entries) == 11
    first = entries[0]
    assert (first.name, first.path, first.path_kind, first.method) == (
        "Registry Domain ID",
        "$.handle",
        "prePath",
        "removal",
    )
    assert entries[1].name == "Administrative Contact" and entries[1].path is None
    name = next(e for e in entries if e.name == "Registrant Name")
    assert name.method == "emptyValue" and name.path_kind == "postPath"
    assert not any(e.by_rdapctl for e in entries)


def test_server_redactions_flags_rdapctl_entries() -> None:
    """After our own redaction, our entries are told apart from the server's."""
    out = redact_pii(load_fixture(REDACTED_FIXTURE), ["org"], tenant="acme").obj
    entries = server_redactions(out)
    assert [e.by_rdapctl for e in entries].count(True) == 1


@pytest.mark.parametrize(
    "odd",
    [None, [], "x", {}, {"redacted": "x"}, {"redacted": [1, None, "s", {"name": 5}]}],
)
def test_server_redactions_is_robust(odd: Any) -> None:
    """Junk in or around the redacted array is skipped, never raised."""
    entries = server_redactions(odd)
    assert all(e.method == "removal" for e in entries)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +1.7035551212 now", ["+1.7035551212"]),
        ("tel:+1-703-555-1212", ["tel:+1-703-555-1212"]),
        ("Paris: +33 1 23 45 67 89.", ["+33 1 23 45 67 89"]),
        ("mail hostmaster@example.net;", ["hostmaster@example.net"]),
    ],
)
def test_find_pii_finds_emails_and_international_numbers(text: str, expected: list[str]) -> None:
    """E.164-like numbers (with + or tel:) and e-mail addresses are found."""
    assert find_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2021-06-24T17:00:00+02:00",
        "2025-03-20T07:00:00.000+0000",
        "AS16509 AS-AMAZON ARIN-HOSTMASTER NET-3-0-0-0-1",
        "192.0.2.1 198.51.100.0/24 2001:db8::1 2620:119:35::/48",
        "https://rdap.arin.net/registry/entity/ABUSE2-ARIN",
        "AwEAAa+4dLm0Ts/4SZ3/+1234567890abc",
    ],
)
def test_find_pii_ignores_dates_handles_addresses_and_asns(text: str) -> None:
    """Timestamps, handles, IP addresses, ASNs, URLs and base64 are not reported."""
    assert find_pii(text) == []


def test_find_pii_has_no_false_positives_on_redacted_fixtures() -> None:
    """Every fixture, redacted with the compliance fields, scans clean."""
    for path in all_fixture_files():
        out = redact_pii(load_fixture(_rel(path)), COMPLIANCE_REDACT_FIELDS, tenant="acme").obj
        assert find_pii(json.dumps(out, ensure_ascii=False)) == [], path.name


def test_in_place_redaction_edits_the_given_document() -> None:
    """in_place=True gives the same result as a copy, without copying."""
    original = load_fixture("autnum/arin-as63311.json")
    copied = redact_pii(original, ["email", "tel"], tenant="t")
    mine = json.loads(json.dumps(original))
    edited = redact_pii(mine, ["email", "tel"], tenant="t", in_place=True)
    assert edited.obj is mine
    assert edited.obj == copied.obj
    assert (edited.redacted_fields, edited.count) == (copied.redacted_fields, copied.count)
