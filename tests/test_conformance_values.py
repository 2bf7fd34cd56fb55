"""Issue 21: the value grammars behind the checks (RFC 3339 dates, BCP 47 tags, LDH
names and IDNA 2008), through ``run_checks`` on a real answer with one value set."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rdapctl.rdap.conformance import Answer, run_checks
from rdapctl.rdap.conformance.common import is_language_tag, is_rfc3339
from tests.support import load_fixture

GTLD = "domain-gtld-registry/verisign-com-google.com-2021-06.json"


def _ids(body: Any, query_type: str = "domain", **extra: Any) -> set[tuple[str, str]]:
    return {(f.id, f.pointer) for f in run_checks(Answer(body, query_type, **extra), "rfc")}


def _domain(**members: Any) -> dict[str, Any]:
    body = copy.deepcopy(load_fixture(GTLD))
    assert isinstance(body, dict)
    body.update(members)
    return body


@pytest.mark.parametrize(
    ("date", "valid"),
    [
        ("1997-09-15T04:00:00Z", True),
        ("2024-02-29T23:59:60.5+14:00", True),
        ("2021-06-09t09:34:01z", True),
        ("2021-06-09T09:34:01-05:30", True),
        ("2023-02-29T00:00:00Z", False),
        ("2021-13-01T00:00:00Z", False),
        ("2021-06-09T24:00:00Z", False),
        ("2021-06-09T09:34:01", False),
        ("2015-08-09T18:00:24.000+0000", False),
        ("2021-06-09", False),
        ("2021-06-09 09:34:01Z", False),
        ("２０２１-06-09T09:34:01Z", False),
    ],
)
def test_event_dates(date: str, valid: bool) -> None:
    assert is_rfc3339(date) is valid
    body = _domain()
    body["events"][1]["eventDate"] = date
    assert (("rfc9083.events.date", "/events/1/eventDate") in _ids(body)) is not valid


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("en", True),
        ("en-US", True),
        ("zh-Hant-TW", True),
        ("de-CH-1996", True),
        ("sgn-BE-FR", True),
        ("i-klingon", True),
        ("x-whatever", True),
        ("en-a-bbb-x-a-ccc", True),
        ("en_US", False),
        ("e", False),
        ("", False),
        ("en-", False),
        ("123", False),
    ],
)
def test_lang_tags(tag: str, valid: bool) -> None:
    assert is_language_tag(tag) is valid
    assert (("rfc9083.lang", "/lang") in _ids(_domain(lang=tag))) is not valid


@pytest.mark.parametrize(
    ("ldh", "unicode", "expected"),
    [
        ("xn--bcher-kva.example", "bücher.example", set()),
        ("XN--BCHER-KVA.EXAMPLE.", "bücher.example", set()),
        ("xn--bcher-kva.example", "bucher.example", {("rfc9083.ldh.unicode", "/unicodeName")}),
        ("xn--zz.example", None, {("rfc9083.ldh.name", "/ldhName")}),
        ("-google.com", None, {("rfc9083.ldh.name", "/ldhName")}),
        ("a" * 64 + ".com", None, {("rfc9083.ldh.name", "/ldhName")}),
        ("152.112.149.in-addr.arpa", None, set()),
        ("google.com", "google.com", set()),
    ],
)
def test_domain_names(ldh: str, unicode: str | None, expected: set[tuple[str, str]]) -> None:
    body = _domain(ldhName=ldh)
    if unicode is not None:
        body["unicodeName"] = unicode
    found = {item for item in _ids(body) if item[0].startswith("rfc9083.ldh.")}
    assert found == expected


def test_a_cidr_query_must_lie_inside_the_network() -> None:
    body = load_fixture("ip-network/arin-ip-192.198.0.0.json")  # 192.198.0.0 - 192.198.3.255
    inside = _ids(body, "ip", query="192.198.2.0/23")
    assert ("rfc9083.ip.query", "") not in inside
    assert ("rfc9083.ip.query", "") in _ids(body, "ip", query="192.198.0.0/21")
    assert ("rfc9083.ip.query", "") in _ids(body, "ip", query="2001:db8::1")
    assert ("rfc9083.ip.query", "") not in _ids(body, "ip", query="not an address")
