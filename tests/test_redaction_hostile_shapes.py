"""Regression tests from a red-team pass over redaction (issue 17): a hostile server's
shapes that once let a natural person's contacts through, and a number beyond a double.

Each shape is checked where the user sees it (json, rdap and text views, stderr, the
cache read back offline, batch and the audit trail) through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rdapctl.policy.contact_text import find_pii
from rdapctl.policy.redaction import redact_pii
from tests.hostile import audit_records, invoke, lab_profiles
from tests.rawserver import RawServer, Request, response
from tests.test_redaction_exact import (
    FIELDS,
    PERSON_EMAIL,
    PERSON_NAME,
    PERSON_TEL,
    assert_hidden,
    outputs,
)

EXEMPT = ("registrar", "abuse")


def person_card() -> dict[str, Any]:
    return {
        "@type": "Card",
        "name": {"full": PERSON_NAME},
        "emails": {"e": {"address": PERSON_EMAIL}},
        "phones": {"p": {"number": PERSON_TEL}},
    }


def bare_card() -> dict[str, Any]:
    """A card known only by the member that holds it (no ``@type``)."""
    return {k: v for k, v in person_card().items() if k != "@type"}


def domain(**entity: Any) -> dict[str, Any]:
    return {
        "objectClassName": "domain",
        "ldhName": "example.com",
        "entities": [{"objectClassName": "entity", "handle": "E1", **entity}],
    }


def flat_individual_registrar() -> dict[str, Any]:
    """A registrar that says it is a person, in the flattened jCard form."""
    return domain(
        roles=["registrar"],
        vcardArray=[
            "vcard",
            ["version", {}, "text", "4.0"],
            ["kind", {}, "text", ["individual"]],
            ["fn", {}, "text", PERSON_NAME],
            ["email", {}, "text", PERSON_EMAIL],
            ["tel", {}, "text", PERSON_TEL],
        ],
    )


SHAPES: dict[str, dict[str, Any]] = {
    "a card inside a card": domain(
        roles=["registrant"],
        jscard={"@type": "Card", "kind": "individual", "relatedTo": {"x": person_card()}},
    ),
    "a card as a jCard property value": domain(
        roles=["registrant"],
        vcardArray=[
            "vcard",
            [["version", {}, "text", "4.0"], ["x-extra", {}, "unknown", person_card()]],
        ],
    ),
    "vcardArray as an object": domain(roles=["registrant"], vcardArray=person_card()),
    "a card in the answer's own redacted list": {
        **domain(roles=["registrant"]),
        "redacted": [{"name": {"description": "x"}, "extra": person_card()}],
    },
    "a jscard member with a hyphen": domain(
        roles=["abuse", "registrant"], **{"jscard_x-y": {**bare_card(), "kind": "individual"}}
    ),
    "a jscardv2 member": domain(roles=["registrant"], jscardv2=bare_card()),
    "an individual registrar, flattened jCard": flat_individual_registrar(),
    "a short fn": domain(
        roles=["registrant"],
        vcardArray=["vcard", [["version", {}, "text", "4.0"], ["fn", {}, PERSON_NAME]]],
    ),
    "a jCard nested deeper": domain(
        roles=["registrant"],
        vcardArray=[
            "vcard",
            [[[["email", {}, "text", PERSON_EMAIL]]], ["fn", {}, "text", PERSON_NAME]],
        ],
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_hostile_shape_leaks_nothing(shape: str) -> None:
    body = json.loads(json.dumps(SHAPES[shape]))
    out = redact_pii(body, FIELDS, tenant="t", exempt_roles=EXEMPT).obj
    text = json.dumps(out)
    for secret in (PERSON_EMAIL, PERSON_TEL, PERSON_NAME):
        assert secret not in text, (shape, secret)


@pytest.fixture
def lab(rdapctl_home: Path) -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {}

    def script(req: Request) -> Any:
        return state["answer"](req)

    with RawServer(script) as server:
        lab_profiles(rdapctl_home, server.port)
        yield state


@pytest.mark.parametrize("status", ["500 Internal Server Error", "404 Not Found"])
def test_an_error_body_without_errorcode_is_masked_in_the_message(
    lab: dict[str, Any], rdapctl_home: Path, tmp_path: Path, status: str
) -> None:
    """The error line and ``error.message`` are built from the body's title and
    description: masked even when the body is no RDAP error object (no errorCode)."""
    body = {"title": f"contact {PERSON_EMAIL}", "description": [f"call {PERSON_TEL}"]}
    lab["answer"] = lambda req: [response(json.dumps(body).encode(), status=status)]
    seen = outputs("example.com", rdapctl_home, tmp_path)
    assert_hidden(seen, PERSON_EMAIL, PERSON_TEL)
    assert "[email redacted]" in seen["json stderr"]


def test_a_card_inside_a_card_is_hidden_in_every_output(
    lab: dict[str, Any], rdapctl_home: Path, tmp_path: Path
) -> None:
    body = SHAPES["a card inside a card"]
    lab["answer"] = lambda req: [response(json.dumps(body).encode())]
    assert_hidden(outputs("example.com", rdapctl_home, tmp_path), PERSON_EMAIL, PERSON_TEL)


def test_an_integer_beyond_a_double_is_bad_json(lab: dict[str, Any]) -> None:
    raw = b'{"objectClassName":"domain","ldhName":"example.com","x":1' + b"0" * 400 + b"}"
    lab["answer"] = lambda req: [response(raw)]
    code, out, err = invoke("lookup", "example.com", "-o", "json", "--no-cache")
    assert code == 7, err
    assert json.loads(out)["error"]["code"] == "bad_json"


@pytest.mark.parametrize(
    "text",
    [
        "write _john.secret@example.net now",
        "jöhn@exämple.de",
        "john@[192.0.2.1]",
        "+1\u00a0555\u00a05550199",
        "+1\u2013555\u20135550199",
        "+1/555/5550199",
        "Tel+1 555 5550199",
    ],
)
def test_contacts_in_free_text_in_more_spellings_are_masked(text: str) -> None:
    body = {"objectClassName": "domain", "remarks": [{"description": [text]}]}
    out = redact_pii(body, FIELDS, tenant="t").obj
    assert find_pii(text), text
    assert out["remarks"][0]["description"][0] != text
    assert "redacted]" in out["remarks"][0]["description"][0]


@pytest.mark.parametrize(
    "text", ["version 1.2.3+4", "2026-12-06T10:00:00+01:00", "ports 80/443/8080", "x@y"]
)
def test_text_that_holds_no_contact_is_left_alone(text: str) -> None:
    assert find_pii(text) == []


def test_contacts_in_server_chosen_urls_never_reach_the_audit_trail(
    lab: dict[str, Any], rdapctl_home: Path
) -> None:
    """A redirect whose Location and a referral whose href carry a person's e-mail and
    phone (plain and percent-encoded): the audit records hold neither."""

    def answer(req: Request) -> list[bytes]:
        if req.path == "/domain/example.com":
            where = f"/domain/redir.com/{PERSON_EMAIL}/%2B15555550199"
            return [response(b"", status="302 Found", headers=[("Location", where)])]
        if req.path.startswith("/domain/redir.com"):
            host = req.headers.get("host", "")
            href = f"http://{host}/domain/nope.com?owner=jane%40private.example&tel=%2B15555550199"
            body = {
                "objectClassName": "domain",
                "ldhName": "example.com",
                "links": [{"rel": "related", "href": href, "type": "application/rdap+json"}],
            }
            return [response(json.dumps(body).encode())]
        return [response(b'{"errorCode":404}', status="404 Not Found")]

    lab["answer"] = answer
    code, _out, err = invoke("lookup", "example.com", "-o", "json", "--no-cache")
    assert code == 0, err
    trail = json.dumps(audit_records(rdapctl_home))
    assert "redir.com" in trail  # the records are there, with the contacts masked
    for secret in (PERSON_EMAIL, "jane%40private.example", "jane@private.example", "5555550199"):
        assert secret not in trail, secret
