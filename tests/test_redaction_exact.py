"""Issue 17: redaction that neither leaks nor over-redacts.

Every body rdapctl shows, stores or logs goes through the tenant's redaction (error
bodies and the messages built from them included), cards are found in every shape
the RDAP drafts use, and organisations and role mailboxes (registrars, abuse desks)
keep the contacts analysts need unless the tenant says otherwise.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rdapctl.policy.redaction import redact_pii
from tests.hostile import audit_records, invoke, lab_profiles, lookup_json
from tests.rawserver import RawServer, Request, fixture_bytes, response

FIELDS = ("fn", "n", "adr", "email", "tel", "contact-uri")
GOOGLE = "domain-gtld-registry/verisign-com-google.com-2022-05.json"
ARIN_NET = "ip-network/arin-ip-8.8.8.8-2021.json"

PERSON_EMAIL = "jane.doe@private.example"
PERSON_TEL = "+1.5555550100"
PERSON_NAME = "Jane Q. Private"
PERSON_STREET = "1 Secret Lane"


def person_jcard() -> list[Any]:
    return [
        "vcard",
        [
            ["version", {}, "text", "4.0"],
            ["fn", {}, "text", PERSON_NAME],
            ["email", {}, "text", PERSON_EMAIL],
            ["tel", {"type": ["voice"]}, "uri", f"tel:{PERSON_TEL}"],
            ["adr", {}, "text", ["", "", PERSON_STREET, "Town", "", "12345", "XX"]],
        ],
    ]


@pytest.fixture
def lab(rdapctl_home: Path) -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"answer": lambda req: [response(fixture_bytes(GOOGLE))]}

    def script(req: Request) -> Any:
        return state["answer"](req)

    with RawServer(script) as server:
        lab_profiles(rdapctl_home, server.port)
        state["server"] = server
        yield state


def outputs(query: str, home: Path, tmp_path: Path) -> dict[str, str]:
    """Everything a user can see of one lookup: json, rdap and text views, stderr, a
    batch line, the cached answer read back offline, and the audit trail."""
    seen: dict[str, str] = {}
    for mode in ("json", "rdap", "text"):
        _, out, err = invoke("lookup", query, "-o", mode, "--no-cache")
        seen[mode] = out
        seen[f"{mode} stderr"] = err
    invoke("lookup", query, "-o", "json")  # fills the cache
    _, out, err = invoke("lookup", query, "-o", "json", "--offline")
    seen["cache"] = out + err
    source = tmp_path / "in.txt"
    source.write_text(query + "\n")
    result = tmp_path / "out.jsonl"
    result.unlink(missing_ok=True)
    invoke("batch", str(source), "--output", str(result), "--no-progress", "--no-cache")
    seen["batch"] = result.read_text()
    seen["audit"] = json.dumps(audit_records(home))
    return seen


def assert_hidden(seen: dict[str, str], *secrets: str) -> None:
    for where, text in seen.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} in {where}"


# -- leaks -------------------------------------------------------------------------------


def test_an_error_body_is_redacted_in_every_output(
    lab: dict[str, Any], rdapctl_home: Path, tmp_path: Path
) -> None:
    """A 404 whose error object holds an entity with a jCard and contacts in its
    description and notices: nothing of it is printed, cached or logged."""
    body = {
        "errorCode": 404,
        "title": f"Not found; write to {PERSON_EMAIL}",
        "description": [f"or call {PERSON_TEL}", {"nested": [f"mail {PERSON_EMAIL}"]}],
        "notices": [{"title": "Contact", "description": [f"{PERSON_EMAIL}"]}],
        "entities": [
            {"objectClassName": "entity", "roles": ["registrant"], "vcardArray": person_jcard()}
        ],
    }
    lab["answer"] = lambda req: [response(json.dumps(body).encode(), status="404 Not Found")]
    seen = outputs("example.com", rdapctl_home, tmp_path)
    assert_hidden(seen, PERSON_EMAIL, PERSON_TEL, PERSON_NAME, PERSON_STREET)
    env = json.loads(seen["json"])
    assert env["status"] == "not_found"
    assert env["response"]["errorCode"] == 404
    assert "[email redacted]" in env["response"]["title"]
    assert "[email redacted]" in seen["json stderr"]


@pytest.mark.parametrize("member", ["jscard", "jscard_0", "jscontact_card"])
def test_jscontact_cards_under_every_member_name_are_redacted(
    lab: dict[str, Any], rdapctl_home: Path, tmp_path: Path, member: str
) -> None:
    card = {
        "@type": "Card",
        "version": "1.0",
        "kind": "individual",
        "name": {"full": PERSON_NAME, "sortAs": {"surname": "Private"}},
        "emails": {"e1": {"address": PERSON_EMAIL}},
        "phones": {"p1": {"number": PERSON_TEL}},
        "addresses": {"a1": {"full": PERSON_STREET, "countryCode": "XX"}},
        "localizations": {"de": {"name/full": PERSON_NAME, "addresses/a1/full": PERSON_STREET}},
    }
    obj = json.loads(fixture_bytes(GOOGLE))
    obj["entities"].append(
        {"objectClassName": "entity", "handle": "P1", "roles": ["registrant"], member: card}
    )
    lab["answer"] = lambda req: [response(json.dumps(obj).encode())]
    seen = outputs("google.com", rdapctl_home, tmp_path)
    assert_hidden(seen, PERSON_EMAIL, PERSON_TEL, PERSON_NAME, PERSON_STREET, "Private")
    env = json.loads(seen["json"])
    names = " ".join(e["name"]["description"] for e in env["response"]["redacted"])
    assert "email of registrant P1" in names


def test_grouped_jcard_properties_and_sort_as_are_redacted(
    lab: dict[str, Any], rdapctl_home: Path, tmp_path: Path
) -> None:
    vcard = [
        "vcard",
        [
            ["version", {}, "text", "4.0"],
            ["fn", {"sort-as": "Private, Jane"}, "text", PERSON_NAME],
            ["item1.email", {}, "text", PERSON_EMAIL],
            ["item2.TEL", {}, "text", PERSON_TEL],
            ["item3.adr", {"label": PERSON_STREET}, "text", ["", "", "", "", "", "", ""]],
        ],
    ]
    obj = json.loads(fixture_bytes(GOOGLE))
    obj["entities"].append(
        {"objectClassName": "entity", "roles": ["technical"], "vcardArray": vcard}
    )
    lab["answer"] = lambda req: [response(json.dumps(obj).encode())]
    seen = outputs("google.com", rdapctl_home, tmp_path)
    assert_hidden(seen, PERSON_EMAIL, PERSON_TEL, PERSON_NAME, PERSON_STREET, "Private, Jane")


@pytest.mark.parametrize(
    "remarks",
    [
        {"title": "one object", "description": [f"mail {PERSON_EMAIL}"]},
        [f"a plain string with {PERSON_EMAIL}"],
        [{"description": [[f"nested {PERSON_TEL}"], "x"]}],
        [{"description": f"a string {PERSON_EMAIL}"}],
        f"just a string {PERSON_EMAIL}",
    ],
    ids=["object", "strings", "nested", "string-description", "string"],
)
def test_remarks_in_odd_shapes_are_scanned(
    lab: dict[str, Any], rdapctl_home: Path, tmp_path: Path, remarks: Any
) -> None:
    obj = json.loads(fixture_bytes(GOOGLE))
    obj["remarks"] = remarks
    obj["entities"][0]["remarks"] = remarks
    lab["answer"] = lambda req: [response(json.dumps(obj).encode())]
    seen = outputs("google.com", rdapctl_home, tmp_path)
    assert_hidden(seen, PERSON_EMAIL, PERSON_TEL)


# -- over-redaction ---------------------------------------------------------------------------


def test_the_registrar_and_its_abuse_contact_stay_visible(lab: dict[str, Any]) -> None:
    code, env, _ = lookup_json("google.com")
    assert code == 0
    registrar = env["response"]["entities"][0]
    assert ["fn", [], "text", "MarkMonitor Inc."] in registrar["vcardArray"][1]
    assert env["abuse"] == {
        "email": ["abusecomplaints@markmonitor.com"],
        "phone": ["+1.2086851750"],
        "source": "registrar > abuse",
    }
    names = [e["name"]["description"] for e in env["response"].get("redacted", [])]
    assert not any("registrar" in n or "abuse" in n for n in names)
    _, out, _ = invoke("lookup", "google.com", "-o", "text")
    assert "MarkMonitor Inc." in out
    assert "abusecomplaints@markmonitor.com" in out


def test_an_rir_abuse_mailbox_stays_visible(lab: dict[str, Any]) -> None:
    lab["answer"] = lambda req: [response(fixture_bytes(ARIN_NET))]
    code, env, _ = lookup_json("8.8.8.8")
    assert code == 0
    assert env["abuse"]["email"] == ["network-abuse@google.com"]


def test_an_empty_exempt_list_redacts_registrars_and_abuse_desks(
    lab: dict[str, Any], rdapctl_home: Path
) -> None:
    path = rdapctl_home / "profiles.toml"
    path.write_text(
        path.read_text().replace("timeout_s = 2.0", "timeout_s = 2.0\nredaction_exempt_roles = []")
    )
    code, env, _ = lookup_json("google.com")
    assert code == 0
    text = json.dumps(env)
    assert "abusecomplaints@markmonitor.com" not in text
    assert "MarkMonitor Inc." not in text
    assert env["abuse"] == {"email": [], "phone": [], "source": None}


def test_an_individual_is_redacted_whatever_its_role(lab: dict[str, Any]) -> None:
    obj = json.loads(fixture_bytes(GOOGLE))
    obj["entities"].append(
        {"objectClassName": "entity", "roles": ["abuse"], "vcardArray": person_jcard()}
    )
    obj["entities"][-1]["vcardArray"][1].append(["kind", {}, "text", "individual"])
    lab["answer"] = lambda req: [response(json.dumps(obj).encode())]
    code, env, _ = lookup_json("google.com")
    assert code == 0
    assert PERSON_EMAIL not in json.dumps(env)


def test_policy_explain_and_profile_show_name_the_exempt_roles(lab: dict[str, Any]) -> None:
    code, out, _ = invoke("policy", "explain", "google.com", "-o", "json")
    assert code == 0
    assert json.loads(out)["redaction"]["exempt_roles"] == ["registrar", "abuse"]
    code, out, _ = invoke("profile", "show", "-o", "json")
    assert code == 0
    assert json.loads(out)["security"]["redaction_exempt_roles"] == ["registrar", "abuse"]


def test_an_unknown_exempt_role_is_a_finding(rdapctl_home: Path) -> None:
    lab_profiles(rdapctl_home, 8443, extra='redaction_exempt_roles = ["registrant", "boss"]')
    code, out, _ = invoke("profile", "validate", str(rdapctl_home / "profiles.toml"))
    assert code == 3
    assert "redaction_exempt_roles" in out


# -- a property: secrets in every in-scope position ------------------------------------------------

SECRET = st.from_regex(r"[a-z]{6}", fullmatch=True)
_UNIQUE = itertools.count()


@st.composite
def secret_entities(draw: st.DrawFn) -> tuple[dict[str, Any], set[str], set[str]]:
    """An entity with secrets in every personal position of a jCard and a card;
    (entity, values that must go, organisation data that must stay)."""
    gone: set[str] = set()
    kept: set[str] = set()
    exempt = draw(st.booleans())
    roles = (
        draw(st.sampled_from([["registrar"], ["abuse"], ["registrar", "abuse"]]))
        if exempt
        else (draw(st.sampled_from([["registrant"], ["technical"], ["abuse", "registrant"], []])))
    )

    def secret() -> str:  # unique, so that no secret stands for another
        return f"S3cr3t{next(_UNIQUE)}x{draw(SECRET)}"

    def s() -> str:
        value = secret()
        (kept if exempt else gone).add(value)
        return value

    def always_gone() -> str:
        value = secret()
        gone.add(value)
        return value

    group = draw(st.sampled_from(["", "item1.", "G."]))
    case = draw(st.sampled_from([str.lower, str.upper, str.title]))
    email, tel, name = s(), s(), s()
    props: list[Any] = [
        ["version", {}, "text", "4.0"],
        [group + case("fn"), {"sort-as": s()}, "text", name],
        [group + case("email"), {}, "text", f"{email}@example.net"],
        [group + case("tel"), {"type": ["voice", "work"]}, "uri", f"tel:{tel}"],
        [
            group + case("adr"),
            {"label": always_gone()},
            "text",
            ["", "", always_gone(), "", "", "", ""],
        ],
        [group + case("contact-uri"), {}, "uri", f"mailto:{s()}@example.net"],
    ]
    card = {
        "@type": "Card",
        "kind": "org",
        "name": {"full": s(), "sortAs": {"surname": s()}, "components": [{"value": s()}]},
        "emails": {"e": {"address": s() + "@example.net"}},
        "phones": {"p": {"number": s()}},
        "addresses": {"a": {"full": always_gone()}},
        "onlineServices": {"o": {"uri": s()}},
        "localizations": {"fr": {"name/full": s(), "addresses/a/full": always_gone()}},
    }
    member = draw(st.sampled_from(["jscard", "jscard_0", "jscontact_card", "jscard_x"]))
    entity = {
        "objectClassName": "entity",
        "roles": roles,
        "vcardArray": ["vcard", props],
        member: card,
    }
    return entity, gone, kept


@given(st.lists(secret_entities(), min_size=1, max_size=3), st.integers(0, 2))
def test_no_secret_survives_and_exempt_organisations_keep_theirs(
    entities: list[tuple[dict[str, Any], set[str], set[str]]], depth: int
) -> None:
    top: dict[str, Any] = {"objectClassName": "domain", "ldhName": "x.example", "entities": []}
    holder = top
    for _ in range(depth):  # the entities nested under a registrar, as registries do
        parent = {"objectClassName": "entity", "roles": ["registrar"], "entities": []}
        holder["entities"].append(parent)
        holder = parent
    holder["entities"].extend(entity for entity, _, _ in entities)
    out = json.dumps(redact_pii(top, FIELDS, tenant="t", exempt_roles=("registrar", "abuse")).obj)
    for _, gone, kept in entities:
        for secret in gone:
            assert secret not in out
        for value in kept:
            assert value in out
    total = json.dumps(redact_pii(top, FIELDS, tenant="t", exempt_roles=()).obj)
    for _, gone, kept in entities:
        for secret in gone | kept:
            assert secret not in total
