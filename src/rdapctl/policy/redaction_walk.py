"""The redaction walk: one pass over an RDAP document that removes the contact
properties of every jCard and JSContact card it finds, masks contacts in free text,
and collects the RFC 9537 entries saying so. The decisions it implements are listed
in :mod:`rdapctl.policy.redaction`, its entry point.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rdapctl.policy.contact_text import (
    EMAIL_MARKS,
    EMAIL_PLACEHOLDER,
    EMAIL_RE,
    PHONE_MARKS,
    PHONE_RE,
    TEL_PLACEHOLDER,
    substitute,
)
from rdapctl.policy.redaction_entries import (
    RDAPCTL_REASON_PREFIX,
    Link,
    child_path,
    link_of,
    path_of,
    quote,
)
from rdapctl.rdap.cards import card_members, field_of, jcard_kinds, prop_name

JSCONTACT_MEMBER = "jscontact_card"
# What an entity exempt by its roles keeps (see rdapctl.policy.redaction).
EXEMPT_FIELDS = frozenset({"fn", "n", "org", "email", "tel", "contact-uri"})

# jCard property -> JSContact members that carry the same data.
JSCONTACT_MEMBERS: dict[str, tuple[str, ...]] = {
    "org": ("organizations",),
    "adr": ("addresses",),
    "email": ("emails",),
    "tel": ("phones",),
}

_MAX_CONTAINER_DEPTH = 100
# Members whose presence makes an object worth a closer look.
_INTERESTING = frozenset(
    {"vcardArray", JSCONTACT_MEMBER, "jscard", "remarks", "notices", "errorCode"}
)
# Free-text members of an error object (RFC 9083 section 6).
_ERROR_TEXT = ("title", "description")
# Parameters of a jCard property that hold a name or an address of their own.
_PERSONAL_PARAMS = frozenset({"sort-as", "label"})
# JSContact member (first segment of a localization's path) -> jCard field.
_CARD_FIELDS: dict[str, str] = {
    "fullName": "fn",
    "organizations": "org",
    "addresses": "adr",
    "emails": "email",
    "phones": "tel",
    "onlineServices": "contact-uri",
}
# isinstance against these constants, not "dict | list" written at the call: that
# builds a union object per call, twice the cost, on every node of every response.
CONTAINERS = (dict, list)


class RedactionWalk:
    """The state of one redaction pass: what was removed and the entries to record."""

    def __init__(self, fields: frozenset[str], tenant: str, exempt_roles: frozenset[str]) -> None:
        self.fields = fields
        self.exempt_fields = fields - EXEMPT_FIELDS
        self.exempt_roles = exempt_roles
        self.reason = {"description": f"{RDAPCTL_REASON_PREFIX}{tenant}"}
        self.entries: list[dict[str, Any]] = []
        self.removed: set[str] = set()
        self.count = 0
        # Cards redacted with their entity (walked into, not redacted again), and
        # objects found inside jCard property values (walked after the rest).
        self.handled: set[int] = set()
        self.inside_cards: list[tuple[Any, Link, int | None]] = []
        self.patterns: list[tuple[str, re.Pattern[str], str, tuple[str, ...]]] = []
        if "email" in fields:
            self.patterns.append(("email", EMAIL_RE, EMAIL_PLACEHOLDER, EMAIL_MARKS))
        if "tel" in fields:
            self.patterns.append(("tel", PHONE_RE, TEL_PLACEHOLDER, PHONE_MARKS))
        # What every match of any pattern contains: one C-level test per string.
        # (Substring tests, not one regex: ``in`` scans at memchr speed, a regex
        # alternation tries every position of the text.)
        self.marks = tuple(dict.fromkeys(m for _, _, _, ms in self.patterns for m in ms))

    def walk(self, root: Any) -> None:
        # Iterative: a deeply nested response must not hit the recursion limit. A
        # node's JSONPath is built only for the few objects that are looked at
        # closely; the stack carries (parent link, key or index) chains instead.
        stack: list[tuple[Any, Link, int | None]] = [(root, None, None)]
        seen: set[int] = set()
        while stack or self.inside_cards:
            if not stack:  # objects found inside jCard property values: walked too
                stack.append(self.inside_cards.pop())
            node, link, index = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            children: list[tuple[Any, Link, int | None]] = []
            if isinstance(node, dict):
                if node.get("@type") == "Card" and id(node) not in self.handled:
                    # A card on its own (anywhere, nested cards too): no roles exempt it.
                    self._jscontact(node, path_of(link), "of a card", self.fields)
                visited = link is None or not _INTERESTING.isdisjoint(node)
                if visited:
                    self._visit_object(node, link, index)
                for key, value in node.items():
                    if isinstance(value, CONTAINERS) and (
                        key != "vcardArray" or type(value) is not list
                    ):
                        if not visited and type(value) is dict and key.startswith("jscard"):
                            # A card under a member the quick test above does not
                            # know (jscard_0, ...): its entity is looked at after all.
                            visited = True
                            self._visit_object(node, link, index)
                        # Cards are walked into after they were redacted: a card may
                        # hold other cards (relatedTo), which are redacted in full.
                        children.append((value, (link, key), None))
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    if isinstance(value, CONTAINERS):
                        children.append((value, (link, i), i))
            if children:
                children.reverse()  # popped in document order
                stack += children

    def _visit_object(self, node: dict[str, Any], link: Link, index: int | None) -> tuple[str, ...]:
        """Redact what ``node`` holds itself; returns the members that were its cards
        (handled here, not walked into)."""
        cards = card_members(node)
        if "vcardArray" in node or cards:
            path = path_of(link)
            label = _describe(node, path, index)
            fields = self.exempt_fields if self._exempt(node, cards) else self.fields
            if "vcardArray" in node:
                self._jcard(node, path, label, fields)
            for member in cards:
                self.handled.add(id(node[member]))
                self._jscontact(node[member], child_path(path, member), label, fields)
        if self.patterns:
            for key in ("remarks", "notices"):
                if key in node:
                    self._free_text(node, key, link)
            if "errorCode" in node or link is None:  # the answer itself, error or not
                for key in _ERROR_TEXT:
                    if key in node:
                        self._free_text(node, key, link)
        return cards

    def _exempt(self, entity: dict[str, Any], cards: tuple[str, ...]) -> bool:
        return is_exempt(entity, cards, self.exempt_roles)

    def _add(self, field: str, label: str, path_key: str, path: str, method: str) -> None:
        self.removed.add(field)
        self.entries.append(
            {
                "name": {"description": f"{field} {label}"},
                path_key: path,
                "pathLang": "jsonpath",
                "method": method,
                "reason": dict(self.reason),
            }
        )

    def _jcard(self, entity: dict[str, Any], path: str, label: str, fields: frozenset[str]) -> None:
        vcard = entity["vcardArray"]
        if not isinstance(vcard, list):
            return
        pending: list[tuple[list[Any], str, int]] = [(vcard, child_path(path, "vcardArray"), 0)]
        while pending:
            container, cpath, depth = pending.pop()
            self._jcard_container(container, cpath, label, fields)
            if depth < _MAX_CONTAINER_DEPTH:
                for i, item in enumerate(container):
                    if isinstance(item, list) and item and isinstance(item[0], list):
                        pending.append((item, f"{cpath}[{i}]", depth + 1))

    def _values_inside(self, prop: list[Any], ppath: str) -> None:
        """Objects and lists among a kept property's parameters and values: walked like
        the rest of the answer (a card may hide in a value)."""
        for j in range(1, len(prop)):
            value = prop[j]
            if (type(value) is dict and value and j != 2) or type(value) is list:
                self.inside_cards.append((value, link_of(f"{ppath}[{j}]"), None))

    def _jcard_container(
        self, container: list[Any], cpath: str, label: str, fields: frozenset[str]
    ) -> None:
        kept: list[Any] = []
        hits: dict[str, str] = {}  # property name as written -> method used
        i = 0
        while i < len(container):
            item = container[i]
            i += 1
            name = prop_name(item)
            if name is None:
                if type(item) is dict:  # an object where a property should be
                    self.inside_cards.append((item, link_of(f"{cpath}[{len(kept)}]"), None))
                kept.append(item)
                continue
            # field_of, inlined: this runs for every property of every jCard.
            field = name.rpartition(".")[2].lower() if "." in name else name.lower()
            if field not in fields:
                self._values_inside(item, f"{cpath}[{len(kept)}]")
                kept.append(item)
                continue
            if field == "fn":
                if len(item) >= 4:
                    blank = [*item[:3], ""]
                else:  # a short property: where the name is cannot be told, keep none
                    params = item[1] if len(item) > 1 and isinstance(item[1], dict) else {}
                    blank = [item[0], params, "text", ""]
                if len(blank) >= 2 and isinstance(blank[1], dict):
                    blank[1] = {
                        k: v for k, v in blank[1].items() if str(k).lower() not in _PERSONAL_PARAMS
                    }
                if blank != item:
                    kept.append(blank)
                    hits.setdefault(name, "emptyValue")
                    self.count += 1
                else:
                    kept.append(item)
                continue
            self.count += 1
            hits[name] = "removal"
            if len(item) < 4 and i < len(container) and _is_orphan_value(container[i]):
                i += 1
        if not hits:
            return
        container[:] = kept
        for name, method in hits.items():
            field = field_of(name)
            selector = f"{cpath}[?(@[0]=={quote(name)})]"
            if method == "emptyValue":
                self._add(field, label, "postPath", f"{selector}[3]", method)
            else:
                self._add(field, label, "prePath", selector, method)

    def _jscontact(
        self, card: dict[str, Any], cpath: str, label: str, fields: frozenset[str]
    ) -> None:
        name = card.get("name")
        if "fn" in fields:
            if isinstance(name, dict):
                for member in ("full", "sortAs"):
                    if member in name:
                        del name[member]
                        self._jscontact_hit("fn", label, f"{cpath}.name.{member}")
            elif isinstance(name, str):
                del card["name"]
                self._jscontact_hit("fn", label, f"{cpath}.name")
            if "fullName" in card:  # member name of earlier JSContact drafts
                del card["fullName"]
                self._jscontact_hit("fn", label, f"{cpath}.fullName")
        if "n" in fields and isinstance(name, dict):
            for member in ("components", "sortAs"):
                if member in name:
                    del name[member]
                    self._jscontact_hit("n", label, f"{cpath}.name.{member}")
        name = card.get("name")
        if isinstance(name, dict) and not any(k not in ("@type",) for k in name):
            # Only the type marker is left: the name object now says nothing.
            del card["name"]
        for field, members in JSCONTACT_MEMBERS.items():
            if field not in fields:
                continue
            for member in members:
                if member in card:
                    value = card.pop(member)
                    self._jscontact_hit(field, label, child_path(cpath, member), _size(value))
        if "contact-uri" in fields:
            self._contact_links(card, cpath, label)
        if "localizations" in card:
            self._localizations(card, cpath, label, fields)
        if self.patterns and "notes" in card:  # free text, as remarks are
            self._free_text(card, "notes", link_of(cpath))

    def _contact_links(self, card: dict[str, Any], cpath: str, label: str) -> None:
        links = card.get("links")
        if isinstance(links, dict):
            for key in [k for k, v in links.items() if _is_contact_link(v)]:
                del links[key]
                self._jscontact_hit(
                    "contact-uri", label, child_path(child_path(cpath, "links"), key)
                )
            if not links:
                del card["links"]
        elif isinstance(links, list):
            gone = [i for i, v in enumerate(links) if _is_contact_link(v)]
            for i in reversed(gone):
                del links[i]
            for i in gone:
                self._jscontact_hit("contact-uri", label, f"{cpath}.links[{i}]")
        if "onlineServices" in card:
            value = card.pop("onlineServices")
            self._jscontact_hit(
                "contact-uri", label, child_path(cpath, "onlineServices"), _size(value)
            )

    def _localizations(
        self, card: dict[str, Any], cpath: str, label: str, fields: frozenset[str]
    ) -> None:
        """Patches of ``localizations`` that set a redacted member go with it; a value
        that is not a patch object cannot be read, and goes whole."""
        lpath = child_path(cpath, "localizations")
        localizations = card["localizations"]
        if not isinstance(localizations, dict):
            del card["localizations"]
            self._jscontact_hit(_first(fields), label, lpath)
            return
        for lang in list(localizations):
            patch = localizations[lang]
            ppath = child_path(lpath, str(lang))
            if not isinstance(patch, dict):
                del localizations[lang]
                self._jscontact_hit(_first(fields), label, ppath)
                continue
            for pointer in list(patch):
                field = _localized_field(str(pointer))
                if field is not None and field in fields:
                    del patch[pointer]
                    self._jscontact_hit(field, label, f"{ppath}[{quote(str(pointer))}]")
            if not patch:
                del localizations[lang]
        if not localizations:
            del card["localizations"]

    def _jscontact_hit(self, field: str, label: str, path: str, n: int = 1) -> None:
        self.count += n
        self._add(field, label, "prePath", path, "removal")

    def _free_text(self, holder: dict[str, Any], key: str, link: Link) -> None:
        """Mask contacts in every string of ``holder[key]``, whatever its shape (the
        JSONPath of a string is built only when something in it is masked)."""
        marks = self.marks
        if not marks:
            return
        stack: list[tuple[Any, Link]] = [(holder, link)]
        first = True
        while stack:
            container, where = stack.pop()
            if first:
                items: Any = ((key, holder[key]),)
                first = False
            else:
                items = container.items() if isinstance(container, dict) else enumerate(container)
            for at, value in items:
                if isinstance(value, str):
                    for mark in marks:
                        if mark in value:
                            container[at] = self._masked(value, (where, at))
                            break
                elif isinstance(value, CONTAINERS):
                    stack.append((value, (where, at)))

    def _masked(self, text: str, link: Link) -> str:
        new = text
        for field, pattern, placeholder, marks in self.patterns:
            # Most text holds no contact at all: skip the regex scan unless a
            # character every match must contain is there.
            if not any(mark in new for mark in marks):
                continue
            replaced, n = substitute(pattern, placeholder, new, field == "tel")
            if n:
                new = replaced
                self.count += n
                self._add(field, "in free text", "postPath", path_of(link), "partialValue")
        return new


def is_exempt(entity: dict[str, Any], cards: Sequence[str], exempt_roles: frozenset[str]) -> bool:
    """Whether ``entity`` (with its JSContact cards under the members ``cards``) is an
    organisation or role mailbox in exempt roles only: every role it has is in
    ``exempt_roles`` and no card says it is of kind ``individual``."""
    if not exempt_roles:
        return False
    roles = entity.get("roles")
    if not isinstance(roles, list) or not roles:
        return False
    if not all(isinstance(r, str) and r.strip().lower() in exempt_roles for r in roles):
        return False
    kinds: list[Any] = jcard_kinds(entity.get("vcardArray"))
    kinds += [entity[m].get("kind") for m in cards if isinstance(entity.get(m), dict)]
    return not any(isinstance(k, str) and k.strip().lower() == "individual" for k in kinds)


def _localized_field(pointer: str) -> str | None:
    """The field a localization patch's path sets ("name/components" -> n)."""
    parts = pointer.lstrip("/").split("/")
    if parts[0] == "name":
        return "n" if len(parts) > 1 and parts[1] == "components" else "fn"
    return _CARD_FIELDS.get(parts[0])


def _first(fields: frozenset[str]) -> str:
    """The field a removal of unknown content is recorded under."""
    for field in ("fn", "adr", "email", "tel", "n", "org", "contact-uri"):
        if field in fields:
            return field
    return min(fields)


def _is_orphan_value(item: Any) -> bool:
    return isinstance(item, list) and bool(item) and not isinstance(item[0], str)


def _is_contact_link(link: Any) -> bool:
    return isinstance(link, dict) and link.get("kind") == "contact"


def _size(value: Any) -> int:
    return max(1, len(value)) if isinstance(value, dict | list) else 1


def _describe(node: dict[str, Any], path: str, index: int | None) -> str:
    """The "of <role or 'entity'> <handle or index>" part of a redaction's name."""
    roles = node.get("roles")
    role = "entity"
    if isinstance(roles, list) and roles and isinstance(roles[0], str) and roles[0]:
        role = roles[0]
    handle = node.get("handle")
    if isinstance(handle, str) and handle:
        return f"of {role} {handle}"
    return f"of {role} {index if index is not None else path}"
