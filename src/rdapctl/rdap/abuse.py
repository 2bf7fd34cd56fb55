"""The abuse contact of an answer: where to report what the analyst found.

Pure: reads a policy-applied RDAP object (so what the policy removed is not found
here either) and returns the e-mail addresses and phone numbers of the nearest
entity with the ``abuse`` role. For a domain, the registrar's abuse contact comes
first (ICANN requires registrars to publish it, usually nested in the registrar
entity), then an abuse entity at the top, then the registrar's own answers (the
referrals). Registrars publish it in many shapes: the address in ``email`` or as a
``mailto:`` in ``contact-uri``, ``tel`` as text or a ``tel:`` URI, jCard or JSContact.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rdapctl.rdap.cards import card_members

MAX_VALUES = 10


def abuse_contact(
    response: Any, query_type: str | None, referrals: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """``{"email": [...], "phone": [...], "source": str | None}`` (empty lists and a
    null source when there is no abuse contact, or the policy left none visible)."""
    candidates: list[tuple[dict[str, Any], str]] = []
    if query_type in ("domain", "url"):
        for registrar, path in _entities(response, "registrar", max_depth=1):
            candidates += _entities(registrar, "abuse", max_depth=1, prefix=path)
    candidates += _entities(response, "abuse")
    for referral in referrals or ():
        candidates += _entities(referral.get("response"), "abuse", prefix="referral")
    for entity, path in candidates:
        email, phone = _contacts(entity)
        if email or phone:
            handle = entity.get("handle")
            source = handle if isinstance(handle, str) and handle.strip() else path
            return {"email": email, "phone": phone, "source": source[:200]}
    return {"email": [], "phone": [], "source": None}


def _entities(
    obj: Any, role: str, *, max_depth: int = 64, prefix: str = ""
) -> list[tuple[dict[str, Any], str]]:
    """Entities under ``obj`` with ``role``, nearest first, with their role path."""
    found: list[tuple[dict[str, Any], str]] = []
    level: list[tuple[Any, str]] = [(obj, prefix)]
    for _ in range(max_depth):
        below: list[tuple[Any, str]] = []
        for parent, path in level:
            entities = parent.get("entities") if isinstance(parent, dict) else None
            if not isinstance(entities, list):
                continue
            for entity in entities:
                if not isinstance(entity, dict):
                    continue
                roles = [r.lower() for r in _strings(entity.get("roles"))]
                here = f"{path} > {'/'.join(roles) or 'entity'}".lstrip(" >")
                if role in roles:
                    found.append((entity, here))
                below.append((entity, here))
        if not below:
            break
        level = below
    return found


def _contacts(entity: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(e-mail addresses, phone numbers) of one entity's jCard and JSContact cards."""
    email: dict[str, None] = {}
    phone: dict[str, None] = {}
    for name, value in _jcard_values(entity.get("vcardArray")):
        if name == "email":
            email.setdefault(value.removeprefix("mailto:"), None)
        elif name == "contact-uri" and value.lower().startswith("mailto:"):
            email.setdefault(value[len("mailto:") :].split("?", 1)[0], None)
        elif name == "tel":
            phone.setdefault(value.removeprefix("tel:"), None)
    for member in card_members(entity):  # the redaction engine's rule for cards
        card = entity[member]
        for item in _values(card.get("emails")):
            address = item.get("address") if isinstance(item, dict) else None
            if isinstance(address, str) and address.strip():
                email.setdefault(address.strip(), None)
        for item in _values(card.get("phones")):
            number = item.get("number") if isinstance(item, dict) else None
            if isinstance(number, str) and number.strip():
                phone.setdefault(number.strip().removeprefix("tel:"), None)
    return list(email)[:MAX_VALUES], list(phone)[:MAX_VALUES]


def _jcard_values(vcard: Any) -> Iterator[tuple[str, str]]:
    """(property name without its group, lower case; text value) of a jCard."""
    if not (isinstance(vcard, list) and len(vcard) > 1 and isinstance(vcard[1], list)):
        return
    for prop in vcard[1]:
        if isinstance(prop, list) and len(prop) >= 4 and isinstance(prop[0], str):
            name = prop[0].rpartition(".")[2].lower()
            for value in prop[3:]:
                if isinstance(value, str) and value.strip():
                    yield name, value.strip()


def _values(members: Any) -> list[Any]:
    """The items of a JSContact map (id -> object), or of a list written instead."""
    if isinstance(members, dict):
        return list(members.values())
    return members if isinstance(members, list) else []


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
