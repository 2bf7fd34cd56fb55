"""The RFC 9537 ``redacted`` entries of a response, indexed so entity views can mark
the fields they name (by entity path, by role, or for any entity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rdapctl.cli.render.values import as_dict, dicts_in, first, text_of

if TYPE_CHECKING:
    from collections.abc import Callable


# A card member: a jCard, or a JSContact card as ``rdapctl.rdap.cards.card_members`` finds
# it (the redaction engine writes its name dotted: it is always an ASCII identifier).
_CARD_MEMBER = r"(?:vcardArray|jscontact_card|jscard[A-Za-z0-9_]*)(?![\w-])"
_ENTITY_PATH = re.compile(r"^\$((?:\.[A-Za-z_][\w-]*\[\d+\])*)\." + _CARD_MEMBER)
# What follows a JSContact card member in a path: its member names, dotted or quoted.
_JSCARD_PATH = re.compile(r"\.(?:jscontact_card|jscard[A-Za-z0-9_]*)(?![\w-])(.*)$")
_PATH_NAME = re.compile(r"[A-Za-z@][\w@]*")
# JSContact member -> the view's field (``name`` covers fn and n alike).
_JSCARD_FIELDS = {
    "name": "name",
    "fullName": "name",
    "kind": "kind",
    "organizations": "org",
    "addresses": "address",
    "emails": "email",
    "phones": "tel",
    "onlineServices": "contact",
    "links": "contact",
}
_PATH_ROLE = re.compile(r"roles[^=]*==\s*['\"]([^'\"]+)['\"]")
_PATH_QUOTED = re.compile(r"==\s*['\"]([^'\"]+)['\"]")
_PATH_FIELDS = {
    "fn": "name",
    "n": "name",
    "org": "org",
    "adr": "address",
    "email": "email",
    "tel": "tel",
    "voice": "tel",
    "fax": "fax",
    "contact-uri": "contact",
}
_NAME_FIELDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), name)
    for pattern, name in (
        (r"\b(street|city|postal|state|province|country|address|adr)\b", "address"),
        (r"\bfax\b", "fax"),
        (r"\b(phone|tel|telephone|voice)\b", "tel"),
        (r"\be-?mail\b", "email"),
        (r"\b(org|organization|organisation)\b", "org"),
        (r"\b(name|fn)\b", "name"),
        (r"\b(id|handle)\b", "handle"),
        (r"\bcontact-uri\b", "contact"),
    )
)
_ROLE_WORDS = {
    "registrant": "registrant",
    "admin": "administrative",
    "administrative": "administrative",
    "tech": "technical",
    "technical": "technical",
    "billing": "billing",
    "abuse": "abuse",
    "registrar": "registrar",
    "reseller": "reseller",
    "sponsor": "sponsor",
    "noc": "noc",
}


def _role_of(word: str) -> str:
    return _ROLE_WORDS.get(word.lower(), word.lower())


@dataclass
class Redactions:
    """What a response says was redacted, indexed so entity views can mark fields.
    The name lists are insertion-ordered sets (dicts): thousands of entries stay linear."""

    server_names: dict[str, None] = field(default_factory=dict)
    rdapctl_names: dict[str, None] = field(default_factory=dict)
    by_path: set[tuple[str, str]] = field(default_factory=set)
    by_role: set[tuple[str, str]] = field(default_factory=set)
    any_role: set[str] = field(default_factory=set)
    top: set[str] = field(default_factory=set)

    def marker(self, path: str, roles: list[str]) -> Callable[[str, bool], bool]:
        """A test "is field f of this entity redacted?" given whether f is blank."""
        wanted = {_role_of(r) for r in roles}

        def is_redacted(name: str, present_empty: bool) -> bool:
            if (path, name) in self.by_path:
                return True
            if any((role, name) in self.by_role for role in wanted):
                return True
            # A role-less statement cannot tell which entity lost the field: only mark
            # fields that visibly are blank, never fields an entity simply lacks.
            return present_empty and name in self.any_role

        return is_redacted


def index_redactions(resp: dict[str, Any]) -> Redactions:
    """Index the RFC 9537 ``redacted`` entries (each distinct label and path once)."""
    out = Redactions()
    indexed: set[tuple[str, str]] = set()
    for entry in dicts_in(resp.get("redacted")):
        name = as_dict(entry.get("name"))
        label = first(name, "type", "description") or text_of(entry.get("name"))
        reason = entry.get("reason")
        reason_text = (
            first(as_dict(reason), "description", "type") if isinstance(reason, dict) else ""
        ) or text_of(reason)
        path = first(entry, "prePath", "postPath", "replacementPath", "path")
        if label:
            names = out.rdapctl_names if "rdapctl" in reason_text.lower() else out.server_names
            names[label] = None
        if (label, path) not in indexed:
            indexed.add((label, path))
            _index_redaction(out, label, path)
    return out


_HANDLE_PATH = re.compile(r"\.handle\b")
_WORD = re.compile(r"[A-Za-z]+")


def _index_redaction(out: Redactions, label: str, path: str) -> None:
    """Record which field of which entity (by path, by role, or any) one entry names."""
    fld = ""
    for quoted in _PATH_QUOTED.findall(path):
        fld = _PATH_FIELDS.get(quoted.lower(), fld)
    if not fld:
        card_path = _JSCARD_PATH.search(path)
        member = _PATH_NAME.search(card_path.group(1)) if card_path else None
        fld = _JSCARD_FIELDS.get(member.group(), "") if member else ""
    if not fld and _HANDLE_PATH.search(path):
        fld = "handle"
    if not fld:
        fld = next((name for pattern, name in _NAME_FIELDS if pattern.search(label)), "")
    if not fld:
        return

    exact = _ENTITY_PATH.match(path)
    if exact:
        out.by_path.add(("$" + exact.group(1), fld))
        return
    role_match = _PATH_ROLE.search(path)
    role = _role_of(role_match.group(1)) if role_match else ""
    if not role:
        for word in _WORD.findall(label):
            if word.lower() in _ROLE_WORDS:
                role = _role_of(word)
                break
    if role:
        out.by_role.add((role, fld))
    elif fld == "handle":
        out.top.add("handle")
    else:
        out.any_role.add(fld)
