"""The checks rdapctl knows, their findings, and the collector the checks report to.

Every check has a stable id (``rfc9083.events.date``): ids are never reused or
renamed, so CI jobs can filter on them. A check's severity, profiles, reference and
title live here and nowhere else; a check function only says which check failed, where
(an RFC 6901 JSON Pointer into the answer) and why.

Messages never quote personal data: they quote values only of non-personal members
(status, dates, objectClassName, eventAction, roles, rdapConformance values, methods,
the object's own handle), always through :func:`quoted`.

Must not: import anything beyond ``rdapctl.core`` and the standard library.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Literal

from rdapctl.core.records import record

Severity = Literal["error", "warning", "info"]
Profile = Literal["rfc", "icann-gtld"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
PROFILES: tuple[str, ...] = ("rfc", "icann-gtld", "all")
_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}
_RFC: tuple[Profile, ...] = ("rfc",)
_ICANN: tuple[Profile, ...] = ("icann-gtld",)
_BOTH: tuple[Profile, ...] = ("rfc", "icann-gtld")
_RP = "ICANN gTLD RDAP Response Profile"
_TIG = "ICANN gTLD RDAP Technical Implementation Guide"


@record
class Check:
    """One check: what ``rdapctl check --list`` prints."""

    id: str
    severity: Severity
    profiles: tuple[Profile, ...]
    reference: str
    title: str


@record
class Finding:
    """One way the answer breaks a check, at ``pointer`` (RFC 6901; "" for the whole
    answer)."""

    id: str
    severity: Severity
    pointer: str
    message: str
    reference: str


def _checks(*rows: tuple[str, Severity, tuple[Profile, ...], str, str]) -> dict[str, Check]:
    return {row[0]: Check(*row) for row in rows}


# fmt: off
CHECKS: dict[str, Check] = _checks(
    # RFC 7480: the HTTP exchange.
    ("rfc7480.media-type", "error", _BOTH, "RFC 7480 §4.2",
     "the answer's Content-Type is a JSON media type"),
    ("rfc7480.media-type.rdap", "warning", _RFC, "RFC 7480 §4.2",
     "the answer's Content-Type is application/rdap+json"),
    ("rfc7480.cors", "warning", _BOTH, f"RFC 7480 §5.6; {_TIG} §1.13",
     "the answer carries Access-Control-Allow-Origin"),
    ("rfc7480.https", "error", _BOTH, f"RFC 7481 §3.2; {_TIG} §1.2",
     "the answer came over https"),
    ("rfc7480.redirects", "warning", _RFC, "RFC 7480 §5.2",
     "the answer took at most 3 redirects"),
    ("rfc7480.error-object", "warning", _RFC, "RFC 7480 §5.3; RFC 9083 §6",
     "an HTTP error answer carries an RDAP error object"),
    ("rfc7480.error-code", "error", _RFC, "RFC 9083 §6",
     "the error object's errorCode is the HTTP status"),
    # RFC 9083: the JSON.
    ("rfc9083.body.object", "error", _BOTH, "RFC 9083 §1",
     "the answer is a JSON object"),
    ("rfc9083.conformance.missing", "error", _BOTH, "RFC 9083 §4.1",
     "the answer has a top-level rdapConformance"),
    ("rfc9083.conformance.level0", "error", _RFC, "RFC 9083 §4.1",
     "rdapConformance contains rdap_level_0"),
    ("rfc9083.conformance.nested", "warning", _RFC, "RFC 9083 §4.1",
     "rdapConformance appears only in the topmost object"),
    ("rfc9083.conformance.extension", "error", _RFC, "RFC 9083 §4.1; RFC 7480 §6",
     "every registered extension whose members appear is declared in rdapConformance"),
    ("rfc9083.member.type", "error", _RFC, "RFC 9083 §4, §5",
     "each RDAP member has the JSON type RFC 9083 gives it"),
    ("rfc9083.member.unknown", "info", _RFC, "RFC 9083 §2; RFC 7480 §6",
     "each top-level member is an RDAP one or carries a declared extension's prefix"),
    ("rfc9083.objectclass.missing", "error", _RFC, "RFC 9083 §4.9",
     "each object instance has an objectClassName"),
    ("rfc9083.objectclass.mismatch", "error", _RFC, "RFC 9083 §4.9",
     "each objectClassName is the one its place calls for"),
    ("rfc9083.links.self", "warning", _RFC, "RFC 9083 §4.2",
     "the answered object has a link with rel \"self\""),
    ("rfc9083.links.shape", "error", _RFC, "RFC 9083 §4.2",
     "each link is an object with an href string"),
    ("rfc9083.links.members", "warning", _RFC, "RFC 9083 §4.2",
     "each link has value and rel strings"),
    ("rfc9083.notices.shape", "error", _RFC, "RFC 9083 §4.3",
     "each notice and remark has a description array of strings, optional title, type "
     "strings and links array"),
    ("rfc9083.notices.type", "warning", _RFC, "RFC 9083 §4.3, §10.2.1",
     "each notice and remark type is in the IANA registry"),
    ("rfc9083.lang", "warning", _RFC, "RFC 9083 §4.4; RFC 5646",
     "each lang is a BCP 47 language tag"),
    ("rfc9083.events.action", "error", _RFC, "RFC 9083 §4.5, §10.2.3",
     "each event has an eventAction from the IANA registry"),
    ("rfc9083.events.date", "error", _RFC, "RFC 9083 §4.5; RFC 3339 §5.6",
     "each event has an RFC 3339 eventDate"),
    ("rfc9083.status.value", "error", _RFC, "RFC 9083 §4.6, §10.2.2",
     "each status value is in the IANA registry"),
    ("rfc9083.roles.value", "error", _RFC, "RFC 9083 §5.1, §10.2.4",
     "each entity role is in the IANA registry"),
    ("rfc9083.jcard.shape", "error", _RFC, "RFC 9083 §5.1; RFC 7095 §3",
     "each vcardArray is [\"vcard\", [properties]]"),
    ("rfc9083.jcard.version", "error", _RFC, "RFC 7095 §3.3; RFC 6350 §6.7.9",
     "each jCard's first property is version"),
    ("rfc9083.jcard.property", "error", _RFC, "RFC 7095 §3.3",
     "each jCard property is [name, parameters object, type string, value]"),
    ("rfc9083.ldh.name", "error", _RFC, "RFC 9083 §3; RFC 5890",
     "each ldhName is a name of LDH labels and valid A-labels"),
    ("rfc9083.ldh.unicode", "error", _RFC, "RFC 9083 §3; RFC 5891",
     "each unicodeName is the ldhName's U-label form under IDNA 2008"),
    ("rfc9083.ip.range", "error", _RFC, "RFC 9083 §5.4",
     "each IP network's startAddress is at most its endAddress"),
    ("rfc9083.ip.version", "error", _RFC, "RFC 9083 §5.4",
     "each IP network's addresses are of its ipVersion"),
    ("rfc9083.ip.query", "error", _RFC, "RFC 9083 §5.4; RFC 9082 §3.1.1",
     "the answered network contains the queried address"),
    ("rfc9083.autnum.range", "error", _RFC, "RFC 9083 §5.5",
     "each autnum's startAutnum is at most its endAutnum, both 32-bit numbers"),
    ("rfc9083.autnum.query", "error", _RFC, "RFC 9083 §5.5; RFC 9082 §3.1.2",
     "the answered autnum range contains the queried number"),
    ("rfc9083.search.results", "error", _RFC, "RFC 9083 §8",
     "a search answer carries a results array of objects"),
    # RFC 9537: redaction.
    ("rfc9537.redacted.shape", "error", _BOTH, "RFC 9537 §4.2",
     "redacted is an array of objects"),
    ("rfc9537.redacted.name", "error", _BOTH, "RFC 9537 §4.2",
     "each redacted entry has a name with a type or description string"),
    ("rfc9537.redacted.method", "error", _BOTH, "RFC 9537 §3, §4.2",
     "each redacted entry's method is a known one"),
    ("rfc9537.redacted.path", "error", _BOTH, "RFC 9537 §4.2; RFC 9535",
     "each redacted entry's prePath, postPath and replacementPath is valid JSONPath"),
    ("rfc9537.redacted.declared", "error", _BOTH, "RFC 9537 §4.1",
     "\"redacted\" is declared in rdapConformance"),
    # RFC 8977, 8982, 9536: search metadata.
    ("rfc8977.paging.shape", "error", _RFC, "RFC 8977 §2.1",
     "paging_metadata is an object of numbers and links"),
    ("rfc8977.sorting.shape", "error", _RFC, "RFC 8977 §2.1",
     "sorting_metadata is an object with currentSort and availableSorts"),
    ("rfc8982.subsetting.shape", "error", _RFC, "RFC 8982 §2.1",
     "subsetting_metadata is an object with currentFieldSet and availableFieldSets"),
    ("rfc9536.reverse-search.shape", "error", _RFC, "RFC 9536",
     "reverse_search_properties and _mapping entries have their strings and valid JSONPath"),
    # ICANN gTLD RDAP Response Profile and Technical Implementation Guide.
    ("icann.conformance.profile", "error", _ICANN, f"{_RP} §1.3",
     "rdapConformance contains icann_rdap_response_profile_0 or _1"),
    ("icann.conformance.tig", "error", _ICANN, f"{_TIG} §1.14",
     "rdapConformance contains icann_rdap_technical_implementation_guide_0 or _1"),
    ("icann.registrar.entity", "error", _ICANN, f"{_RP} §2.4.1",
     "the domain has an entity with the registrar role"),
    ("icann.registrar.iana-id", "error", _ICANN, f"{_RP} §2.4.2, §2.4.3",
     "the registrar entity has an IANA Registrar ID in publicIds"),
    ("icann.abuse.contact", "error", _ICANN, f"{_RP} §2.4.5",
     "the registrar entity has an entity with the abuse role"),
    ("icann.abuse.email", "error", _ICANN, f"{_RP} §2.4.5",
     "the abuse contact has an email"),
    ("icann.abuse.phone", "error", _ICANN, f"{_RP} §2.4.5",
     "the abuse contact has a telephone number"),
    ("icann.notice.status-codes", "error", _ICANN, f"{_RP} §2.6.3",
     "a \"Status Codes\" notice links to https://icann.org/epp"),
    ("icann.notice.inaccuracy-form", "error", _ICANN, f"{_RP} §2.11",
     "an \"RDDS Inaccuracy Complaint Form\" notice links to https://icann.org/wicf"),
    ("icann.notice.terms-of-service", "error", _ICANN, f"{_TIG} §3.3, §3.4",
     "a terms of service notice has a link"),
    ("icann.events.last-update", "error", _ICANN, f"{_RP} §2.3.1.3, §3.3, §4.4",
     "the object has a \"last update of RDAP database\" event"),
    ("icann.status.epp", "error", _ICANN, f"{_RP} §2.6.1; RFC 8056 §2",
     "each domain status value is one an EPP status maps to"),
)
# fmt: on


def all_checks() -> list[Check]:
    """Every check, in a stable order (by id)."""
    return sorted(CHECKS.values(), key=lambda check: check.id)


def in_profile(check: Check, profile: str) -> bool:
    """Whether ``check`` runs under ``profile`` (``all`` runs every check)."""
    return profile == "all" or profile in check.profiles


def sort_key(finding: Finding) -> tuple[int, str, str, str]:
    return (_RANK.get(finding.severity, len(_RANK)), finding.pointer, finding.id, finding.message)


class Findings:
    """Where the checks report: ``add(id, pointer, message)``."""

    def __init__(self) -> None:
        self.items: list[Finding] = []

    def add(self, check_id: str, pointer: str, message: str) -> None:
        check = CHECKS[check_id]
        self.items.append(Finding(check.id, check.severity, pointer, message, check.reference))


def pointer(base: str, *tokens: str | int) -> str:
    """``base`` extended by ``tokens`` (RFC 6901: "~" is "~0", "/" is "~1")."""
    parts = [base]
    for token in tokens:
        text = str(token)
        parts.append("/" + text.replace("~", "~0").replace("/", "~1"))
    return "".join(parts)


def quoted(value: object, limit: int = 80) -> str:
    """A non-personal value for a message: JSON text, printable, at most ``limit``
    characters."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = repr(type(value).__name__)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def type_name(value: object) -> str:
    """The JSON type of ``value``, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def sorted_findings(items: Iterable[Finding]) -> list[Finding]:
    return sorted(items, key=sort_key)
