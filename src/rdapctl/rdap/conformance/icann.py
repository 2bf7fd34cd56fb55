"""The ICANN gTLD RDAP Response Profile and Technical Implementation Guide checks
(profile ``icann-gtld``), for answers from gTLD registries and registrars.

Notice titles and link targets are the profile's own fixed strings; nothing the server
wrote is quoted except status values.

Must not: import anything beyond this package and the standard library.
"""

from __future__ import annotations

from typing import Any

from rdapctl.rdap.conformance import iana
from rdapctl.rdap.conformance.extensions import declared
from rdapctl.rdap.conformance.jcard import has_value
from rdapctl.rdap.conformance.registry import Findings, pointer, quoted

PROFILE_VALUES = ("icann_rdap_response_profile_0", "icann_rdap_response_profile_1")
TIG_VALUES = (
    "icann_rdap_technical_implementation_guide_0",
    "icann_rdap_technical_implementation_guide_1",
)
IANA_REGISTRAR_ID = "IANA Registrar ID"
LAST_UPDATE = "last update of RDAP database"
# (check id, notice title, the link it must carry): Response Profile §2.6.3 and §2.11.
_TITLED_NOTICES = (
    ("icann.notice.status-codes", "Status Codes", "https://icann.org/epp"),
    ("icann.notice.inaccuracy-form", "RDDS Inaccuracy Complaint Form", "https://icann.org/wicf"),
)


def _objects(value: Any) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, dict)]


def _has_role(entity: dict[str, Any], role: str) -> bool:
    roles = entity.get("roles")
    return isinstance(roles, list) and role in roles


def _hrefs(notice: dict[str, Any]) -> list[str]:
    return [
        link["href"].rstrip("/").lower()
        for _, link in _objects(notice.get("links"))
        if isinstance(link.get("href"), str)
    ]


def check_icann(body: dict[str, Any], query_type: str, out: Findings) -> None:
    names = declared(body)
    if names is not None:
        if not any(value in names for value in PROFILE_VALUES):
            out.add(
                "icann.conformance.profile",
                "/rdapConformance",
                "rdapConformance does not contain icann_rdap_response_profile_0 or _1",
            )
        if not any(value in names for value in TIG_VALUES):
            out.add(
                "icann.conformance.tig",
                "/rdapConformance",
                "rdapConformance does not contain "
                "icann_rdap_technical_implementation_guide_0 or _1",
            )
    _check_terms_of_service(body, out)
    if query_type in ("domain", "nameserver", "entity"):
        _check_last_update(body, out)
    if query_type == "domain":
        _check_registrar(body, out)
        for check_id, title, href in _TITLED_NOTICES:
            _check_titled_notice(body, check_id, title, href, out)
        _check_epp_status(body, out)


def _notices_pointer(body: dict[str, Any]) -> str:
    return "/notices" if isinstance(body.get("notices"), list) else ""


def _check_titled_notice(
    body: dict[str, Any], check_id: str, title: str, href: str, out: Findings
) -> None:
    notices = [(i, n) for i, n in _objects(body.get("notices")) if n.get("title") == title]
    if not notices:
        out.add(check_id, _notices_pointer(body), f'no notice is titled "{title}"')
    elif not any(href in _hrefs(notice) for _, notice in notices):
        out.add(
            check_id,
            pointer("/notices", notices[0][0]),
            f'the "{title}" notice has no link to {href}',
        )


def _check_terms_of_service(body: dict[str, Any], out: Findings) -> None:
    for _, notice in _objects(body.get("notices")):
        title = notice.get("title")
        rels = [link.get("rel") for _, link in _objects(notice.get("links"))]
        is_terms = "terms-of-service" in rels or (
            isinstance(title, str) and "terms" in title.lower()
        )
        if is_terms and _hrefs(notice):
            return
    out.add(
        "icann.notice.terms-of-service",
        _notices_pointer(body),
        "no terms of service notice with a link",
    )


def _check_last_update(body: dict[str, Any], out: Findings) -> None:
    events = _objects(body.get("events"))
    if not any(event.get("eventAction") == LAST_UPDATE for _, event in events):
        where = "/events" if isinstance(body.get("events"), list) else ""
        out.add("icann.events.last-update", where, f'no "{LAST_UPDATE}" event')


def _check_registrar(body: dict[str, Any], out: Findings) -> None:
    registrars = [(i, e) for i, e in _objects(body.get("entities")) if _has_role(e, "registrar")]
    if not registrars:
        where = "/entities" if isinstance(body.get("entities"), list) else ""
        out.add("icann.registrar.entity", where, "no entity has the registrar role")
        return
    index, registrar = registrars[0]
    at = pointer("/entities", index)
    if not any(
        ids.get("type") == IANA_REGISTRAR_ID
        and isinstance(ids.get("identifier"), str)
        and ids["identifier"].strip()
        for _, ids in _objects(registrar.get("publicIds"))
    ):
        out.add(
            "icann.registrar.iana-id",
            at,
            f'the registrar entity has no "{IANA_REGISTRAR_ID}" in publicIds',
        )
    abuse = [(i, e) for i, e in _objects(registrar.get("entities")) if _has_role(e, "abuse")]
    if not abuse:
        out.add("icann.abuse.contact", at, "the registrar entity has no abuse contact")
        return
    contact_index, contact = abuse[0]
    contact_at = pointer(at, "entities", contact_index)
    card = contact.get("vcardArray")
    if not has_value(card, "email"):
        out.add("icann.abuse.email", contact_at, "the abuse contact has no email")
    if not has_value(card, "tel"):
        out.add("icann.abuse.phone", contact_at, "the abuse contact has no telephone number")


def _check_epp_status(body: dict[str, Any], out: Findings) -> None:
    values = body.get("status")
    if not isinstance(values, list):
        return
    for index, value in enumerate(values):
        if isinstance(value, str) and value not in iana.EPP_DOMAIN_STATUS_VALUES:
            out.add(
                "icann.status.epp",
                pointer("/status", index),
                f"status value {quoted(value)} is not one an EPP domain status maps to",
            )
