"""PII redaction of RDAP responses by tenant policy, RFC 9537 style.

Owns ``redact_pii`` (remove contact properties from every jCard / JSContact card at
any depth, and record each removal in the top-level ``redacted`` array),
``server_redactions`` (read what the server itself redacted) and ``find_pii`` (a
regex scan for e-mail addresses and phone numbers left in text).

Pure: values in, values out. It must not do I/O, log, mutate its input, or import
httpx / typer / rich. It reports field *names* only, never the values removed, since
its result feeds the audit log.

Decisions:

* ``fn`` is required by jCard (RFC 6350 cardinality 1*), so it is blanked to ``""``
  (RFC 9537 method ``emptyValue``, with a ``postPath``) instead of removed; every
  other field is removed (method ``removal``, with a ``prePath``).
* One ``redacted`` entry per (entity, property name): its JSONPath filter covers
  every property of that name in the card. ``count`` counts each property (and
  each contact replaced in free text, below). JSContact members count per entry.
* Malformed jCards are handled best-effort: properties are found in
  ``vcardArray[1]``, in ``vcardArray`` itself (no nesting) and one level below; a
  property missing its value followed by a list that cannot be a property is taken
  to be that value, split off, and removed with it.
* Property names match case-insensitively, with any vCard group prefix
  (``item1.EMAIL`` is ``email``). Parameters that hold a name (``sort-as``, ``label``)
  go with their property, and are dropped from a blanked ``fn``.
* Redaction is for natural persons: an entity whose roles all lie in
  ``exempt_roles`` (by default registrar and abuse) and whose ``kind`` is not
  ``individual`` keeps its name, organisation, e-mail, phone and contact URIs
  (``EXEMPT_FIELDS``); its address, and the free text around it, are still redacted.
* When ``email`` / ``tel`` are redacted, e-mail addresses / phone numbers in every
  string of ``remarks`` and ``notices`` (whatever their shape) and in the ``title`` and
  ``description`` of error objects are replaced too (method ``partialValue``):
  registries paste contacts there.
* JSContact cards are found by shape: members named ``jscard``, ``jscard_*`` or
  ``jscontact_card``, and any object with ``"@type": "Card"``. fn -> ``name.full``,
  ``name.sortAs`` (and legacy ``fullName``), n -> ``name.components``,
  org/adr/email/tel -> ``organizations`` / ``addresses`` / ``emails`` / ``phones``,
  contact-uri -> contact-kind ``links`` and ``onlineServices``; ``localizations``
  patches of any of these go with them.
* A top-level list gets its cards cleaned but has nowhere to hold ``redacted``.
  ``rdapConformance`` is created as ``["redacted"]`` when missing: we vouch for our
  own extension, not for the server's conformance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rdapctl.core.records import record

JSCONTACT_MEMBER = "jscontact_card"
# What an entity exempt by its roles keeps (see the module docstring).
EXEMPT_FIELDS = frozenset({"fn", "n", "org", "email", "tel", "contact-uri"})
RDAPCTL_REASON_PREFIX = "Redacted by rdapctl policy of tenant "
EMAIL_PLACEHOLDER = "[email redacted]"
TEL_PLACEHOLDER = "[tel redacted]"

# jCard property -> JSContact members that carry the same data.
JSCONTACT_MEMBERS: dict[str, tuple[str, ...]] = {
    "org": ("organizations",),
    "adr": ("addresses",),
    "email": ("emails",),
    "tel": ("phones",),
}

# E-mail addresses, internationalised ones too: a local part of word characters and
# ".%+-" (so "_john@..." and "jöhn@..." count), then a host name whose labels are letters
# and digits of any script, or an address literal ("user@[192.0.2.1]").
_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@"
    r"(?:\[[0-9A-Fa-f:.]+\]|[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)*"
    r"\.[^\W\d_]{2,}(?![\w-]))"
)
# International numbers only: a "+" (or "tel:") then 7..15 digits in groups, separated
# by spaces (no-break ones too), dots, hyphens and dashes, or slashes. National formats
# without a country code are indistinguishable from serials and are not matched. A "+"
# right after a letter is a number only after "tel", "phone" or "fax" ("Tel+1 555 ...").
_SEP = r"[ \u00a0.\-\u2010-\u2015/]"
_PHONE_RE = re.compile(
    r"(?:(?<![\w+/=])\+|(?i:(?<=tel)|(?<=phone)|(?<=fax))\+|\btel:\+?)"
    r"\d{1,4}(?:(?:" + _SEP + r"|\s?\(\d{1,4}\)\s?)?\d{1,12}){1,7}"
    r"(?:\s?(?:#|x|ext\.?)\s?\d{1,6})?"
)
# What every match of the patterns above contains (a cheap test before the scan).
_EMAIL_MARKS = ("@",)
_PHONE_MARKS = ("+", "tel:")
_JSONPATH_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_CONTAINER_DEPTH = 100
# Member names of a JSContact card in an RDAP entity (RFC 9083 extension drafts): any
# member whose name starts so (jscard, jscard_0, jscard_x-y, jscardv2, ...) and holds an
# object, as the abuse contact and the text view read them.
_CARD_PREFIXES = ("jscard", "jscontact_card")
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
# JSONPath suffixes of member names seen (RDAP uses a few dozen): a pure memo, bounded.
_SUFFIXES: dict[str, str] = {}
_SUFFIXES_MAX = 4096
# isinstance against these constants, not "dict | list" written at the call: that
# builds a union object per call, twice the cost, on every node of every response.
_CONTAINERS = (dict, list)
_SEQUENCES = (dict, list, tuple)


@record
class RedactionResult:
    obj: Any
    redacted_fields: tuple[str, ...]
    count: int


@record
class ServerRedaction:
    """One entry of a response's own RFC 9537 ``redacted`` array."""

    name: str
    path: str | None
    path_kind: str | None  # "prePath", "postPath" or "replacementPath"
    method: str
    reason: str | None
    by_rdapctl: bool = False


def mask_contacts(text: str) -> str:
    """``text`` with e-mail addresses and international phone numbers replaced by the
    placeholders, also where a URL spells them percent-encoded (the text is then given
    decoded). For server text rdapctl writes down itself, such as URLs in audit records."""
    if not any(m in text for m in ("@", "+", "tel:", "%")):
        return text
    plain = text
    if "%" in text:
        from urllib.parse import unquote

        plain = unquote(text)
    masked, n = _substitute(_EMAIL_RE, EMAIL_PLACEHOLDER, plain, False)
    # In a URL a number follows "/", "=" or "&" (which free text's pattern does not
    # take as a start): matched in a copy where they are spaces, replaced in place.
    spaced = masked.translate(_URL_SEPARATORS)
    spans = [m.span() for m in _PHONE_RE.finditer(spaced) if _is_phone(m.group())]
    for start, end in reversed(spans):
        masked = masked[:start] + TEL_PLACEHOLDER + masked[end:]
    return masked if n or spans else text


_URL_SEPARATORS = str.maketrans({"/": " ", "=": " ", "&": " ", "?": " ", ";": " "})


def find_pii(text: str) -> list[str]:
    """E-mail addresses and international phone numbers in ``text``, unique, in order."""
    found: dict[str, None] = {}
    spans: list[tuple[int, int, str]] = []
    for m in _EMAIL_RE.finditer(text):
        spans.append((m.start(), m.end(), m.group()))
    for m in _PHONE_RE.finditer(text):
        if _is_phone(m.group()):
            spans.append((m.start(), m.end(), m.group()))
    for _start, _end, value in sorted(spans):
        found.setdefault(value, None)
    return list(found)


def redact_pii(
    obj: Any,
    fields: Sequence[str],
    *,
    tenant: str,
    in_place: bool = False,
    exempt_roles: Sequence[str] = (),
) -> RedactionResult:
    """A copy of ``obj`` without the contact properties named in ``fields``.

    ``fields`` are jCard property names (case-insensitive). An empty ``fields``
    returns ``obj`` itself, untouched. ``in_place=True`` edits ``obj`` itself: for a
    document the caller has just parsed and owns, where the copy is wasted work.
    ``exempt_roles``: entities with only these roles, not of kind ``individual``, keep
    the ``EXEMPT_FIELDS`` (organisations and role mailboxes, not natural persons).
    """
    wanted = tuple(sorted({str(f).strip().lower() for f in fields} - {""}))
    if not wanted:
        return RedactionResult(obj, (), 0)
    out = obj if in_place else _copy_json(obj)
    roles = frozenset(str(r).strip().lower() for r in exempt_roles)
    run = _Run(frozenset(wanted), tenant, roles)
    run.walk(out)
    if isinstance(out, dict) and run.entries:
        _record(out, run.entries)
    return RedactionResult(out, tuple(sorted(run.removed)), run.count)


def server_redactions(obj: Any) -> list[ServerRedaction]:
    """The RFC 9537 ``redacted`` entries of a response; malformed entries are skipped."""
    if not isinstance(obj, dict):
        return []
    entries = obj.get("redacted")
    if not isinstance(entries, list):
        return []
    out: list[ServerRedaction] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name_obj = entry.get("name")
        name = ""
        if isinstance(name_obj, dict):
            for key in ("type", "description"):
                if isinstance(name_obj.get(key), str) and name_obj[key]:
                    name = name_obj[key]
                    break
        elif isinstance(name_obj, str):
            name = name_obj
        path: str | None = None
        path_kind: str | None = None
        for key in ("prePath", "postPath", "replacementPath", "path"):
            if isinstance(entry.get(key), str) and entry[key]:
                path, path_kind = entry[key], key
                break
        method = entry.get("method")
        reason_obj = entry.get("reason")
        reason: str | None = None
        if isinstance(reason_obj, dict):
            for key in ("description", "type"):
                if isinstance(reason_obj.get(key), str):
                    reason = reason_obj[key]
                    break
        elif isinstance(reason_obj, str):
            reason = reason_obj
        out.append(
            ServerRedaction(
                name=name or "(unnamed)",
                path=path,
                path_kind=path_kind,
                # RFC 9537 section 4.2: "removal" is the default method.
                method=method if isinstance(method, str) and method else "removal",
                reason=reason,
                by_rdapctl=bool(reason and reason.startswith(RDAPCTL_REASON_PREFIX)),
            )
        )
    return out


class _Run:
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
        self.inside_cards: list[tuple[Any, _Link, int | None]] = []
        self.patterns: list[tuple[str, re.Pattern[str], str, tuple[str, ...]]] = []
        if "email" in fields:
            self.patterns.append(("email", _EMAIL_RE, EMAIL_PLACEHOLDER, _EMAIL_MARKS))
        if "tel" in fields:
            self.patterns.append(("tel", _PHONE_RE, TEL_PLACEHOLDER, _PHONE_MARKS))
        # What every match of any pattern contains: one C-level test per string.
        # (Substring tests, not one regex: ``in`` scans at memchr speed, a regex
        # alternation tries every position of the text.)
        self.marks = tuple(dict.fromkeys(m for _, _, _, ms in self.patterns for m in ms))

    def walk(self, root: Any) -> None:
        # Iterative: a deeply nested response must not hit the recursion limit. A
        # node's JSONPath is built only for the few objects that are looked at
        # closely; the stack carries (parent link, key or index) chains instead.
        stack: list[tuple[Any, _Link, int | None]] = [(root, None, None)]
        seen: set[int] = set()
        while stack or self.inside_cards:
            if not stack:  # objects found inside jCard property values: walked too
                stack.append(self.inside_cards.pop())
            node, link, index = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            children: list[tuple[Any, _Link, int | None]] = []
            if isinstance(node, dict):
                if node.get("@type") == "Card" and id(node) not in self.handled:
                    # A card on its own (anywhere, nested cards too): no roles exempt it.
                    self._jscontact(node, _path(link), "of a card", self.fields)
                visited = link is None or not _INTERESTING.isdisjoint(node)
                if visited:
                    self._visit_object(node, link, index)
                for key, value in node.items():
                    if isinstance(value, _CONTAINERS) and (
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
                    if isinstance(value, _CONTAINERS):
                        children.append((value, (link, i), i))
            if children:
                children.reverse()  # popped in document order
                stack += children

    def _visit_object(
        self, node: dict[str, Any], link: _Link, index: int | None
    ) -> tuple[str, ...]:
        """Redact what ``node`` holds itself; returns the members that were its cards
        (handled here, not walked into)."""
        cards = card_members(node)
        if "vcardArray" in node or cards:
            path = _path(link)
            label = _describe(node, path, index)
            fields = self.exempt_fields if self._exempt(node, cards) else self.fields
            if "vcardArray" in node:
                self._jcard(node, path, label, fields)
            for member in cards:
                self.handled.add(id(node[member]))
                self._jscontact(node[member], _child(path, member), label, fields)
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
        pending: list[tuple[list[Any], str, int]] = [(vcard, _child(path, "vcardArray"), 0)]
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
                self.inside_cards.append((value, _link_of(f"{ppath}[{j}]"), None))

    def _jcard_container(
        self, container: list[Any], cpath: str, label: str, fields: frozenset[str]
    ) -> None:
        kept: list[Any] = []
        hits: dict[str, str] = {}  # property name as written -> method used
        i = 0
        while i < len(container):
            item = container[i]
            i += 1
            name = _prop_name(item)
            if name is None:
                if type(item) is dict:  # an object where a property should be
                    self.inside_cards.append((item, _link_of(f"{cpath}[{len(kept)}]"), None))
                kept.append(item)
                continue
            # _field_of, inlined: this runs for every property of every jCard.
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
            field = _field_of(name)
            selector = f"{cpath}[?(@[0]=={_quote(name)})]"
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
                    self._jscontact_hit(field, label, _child(cpath, member), _size(value))
        if "contact-uri" in fields:
            self._contact_links(card, cpath, label)
        if "localizations" in card:
            self._localizations(card, cpath, label, fields)
        if self.patterns and "notes" in card:  # free text, as remarks are
            self._free_text(card, "notes", _link_of(cpath))

    def _contact_links(self, card: dict[str, Any], cpath: str, label: str) -> None:
        links = card.get("links")
        if isinstance(links, dict):
            for key in [k for k, v in links.items() if _is_contact_link(v)]:
                del links[key]
                self._jscontact_hit("contact-uri", label, _child(_child(cpath, "links"), key))
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
            self._jscontact_hit("contact-uri", label, _child(cpath, "onlineServices"), _size(value))

    def _localizations(
        self, card: dict[str, Any], cpath: str, label: str, fields: frozenset[str]
    ) -> None:
        """Patches of ``localizations`` that set a redacted member go with it; a value
        that is not a patch object cannot be read, and goes whole."""
        lpath = _child(cpath, "localizations")
        localizations = card["localizations"]
        if not isinstance(localizations, dict):
            del card["localizations"]
            self._jscontact_hit(_first(fields), label, lpath)
            return
        for lang in list(localizations):
            patch = localizations[lang]
            ppath = _child(lpath, str(lang))
            if not isinstance(patch, dict):
                del localizations[lang]
                self._jscontact_hit(_first(fields), label, ppath)
                continue
            for pointer in list(patch):
                field = _localized_field(str(pointer))
                if field is not None and field in fields:
                    del patch[pointer]
                    self._jscontact_hit(field, label, f"{ppath}[{_quote(str(pointer))}]")
            if not patch:
                del localizations[lang]
        if not localizations:
            del card["localizations"]

    def _jscontact_hit(self, field: str, label: str, path: str, n: int = 1) -> None:
        self.count += n
        self._add(field, label, "prePath", path, "removal")

    def _free_text(self, holder: dict[str, Any], key: str, link: _Link) -> None:
        """Mask contacts in every string of ``holder[key]``, whatever its shape (the
        JSONPath of a string is built only when something in it is masked)."""
        marks = self.marks
        if not marks:
            return
        stack: list[tuple[Any, _Link]] = [(holder, link)]
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
                elif isinstance(value, _CONTAINERS):
                    stack.append((value, (where, at)))

    def _masked(self, text: str, link: _Link) -> str:
        new = text
        for field, pattern, placeholder, marks in self.patterns:
            # Most text holds no contact at all: skip the regex scan unless a
            # character every match must contain is there.
            if not any(mark in new for mark in marks):
                continue
            replaced, n = _substitute(pattern, placeholder, new, field == "tel")
            if n:
                new = replaced
                self.count += n
                self._add(field, "in free text", "postPath", _path(link), "partialValue")
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
    kinds: list[Any] = _jcard_kinds(entity.get("vcardArray"))
    kinds += [entity[m].get("kind") for m in cards if isinstance(entity.get(m), dict)]
    return not any(isinstance(k, str) and k.strip().lower() == "individual" for k in kinds)


def card_members(entity: dict[str, Any]) -> tuple[str, ...]:
    """The members of ``entity`` that hold a JSContact card."""
    found: tuple[str, ...] = ()
    for k, value in entity.items():  # a loop, not a generator: runs for every object looked at
        if k.startswith(_CARD_PREFIXES) and type(value) is dict:
            found += (k,)
    return found


def without_exempt_contacts(envelope: Any, exempt_roles: Sequence[str]) -> Any:
    """A copy of ``envelope`` without what redaction leaves on purpose: the cards of
    exempt entities and the ``abuse`` summary (for scans that look for contacts the
    policy should have removed, such as ``rdapctl doctor``)."""
    roles = frozenset(str(r).strip().lower() for r in exempt_roles)
    out = _copy_json(envelope)
    if isinstance(out, dict):
        out.pop("abuse", None)
    stack = [out]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            cards = card_members(node)
            if is_exempt(node, cards, roles):
                node.pop("vcardArray", None)
                for member in cards:
                    del node[member]
            stack.extend(v for v in node.values() if isinstance(v, _CONTAINERS))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, _CONTAINERS))
    return out


def _field_of(name: str) -> str:
    """The jCard field a property name stands for: lower case, vCard group dropped."""
    return name.rpartition(".")[2].lower() if "." in name else name.lower()


def _jcard_kinds(vcard: Any) -> list[Any]:
    """Every value a jCard gives its ``kind`` property, in the shapes the redaction and
    the text view accept: ``["vcard", [props]]`` or the properties flattened after
    ``"vcard"``, a value or a list of values (a person may not hide behind a shape)."""
    if not isinstance(vcard, list):
        return []
    props = vcard[1] if len(vcard) > 1 and isinstance(vcard[1], list) else []
    if not props or not all(isinstance(p, list) for p in props):
        props = vcard[1:]
    kinds: list[Any] = []
    for prop in props:
        if _prop_name(prop) is not None and _field_of(prop[0]) == "kind":
            for value in prop[1:]:
                kinds.extend(value if isinstance(value, list) else [value])
    return kinds


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


def _substitute(
    pattern: re.Pattern[str], placeholder: str, text: str, phone: bool
) -> tuple[str, int]:
    n = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal n
        if phone and not _is_phone(m.group()):
            return m.group()
        n += 1
        return placeholder

    return pattern.sub(repl, text), n


def _is_phone(candidate: str) -> bool:
    number = re.split(r"#|x|ext", candidate, maxsplit=1)[0]
    digits = sum(ch.isdigit() for ch in number)
    return 7 <= digits <= 15


def _prop_name(item: Any) -> str | None:
    if isinstance(item, list) and item and isinstance(item[0], str):
        return item[0]
    return None


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


# A node's place: None for the root, else (the parent's link, member name or index).
_Link = tuple[Any, str | int] | None


def _link_of(path: str) -> _Link:
    """A link standing for an already built JSONPath (its first element)."""
    return (None, _Built(path))


class _Built(str):
    """A JSONPath prefix already built, carried in a link chain as it is."""


def _path(link: _Link) -> str:
    """The JSONPath of the node at ``link``."""
    keys: list[str | int] = []
    while link is not None:
        link, key = link
        if isinstance(key, _Built):
            path = str(key)
            for k in reversed(keys):
                path = f"{path}[{k}]" if isinstance(k, int) else _child(path, k)
            return path
        keys.append(key)
    path = "$"
    for key in reversed(keys):
        path = f"{path}[{key}]" if isinstance(key, int) else _child(path, key)
    return path


def _child(path: str, key: str) -> str:
    suffix = _SUFFIXES.get(key)
    if suffix is None:
        suffix = f".{key}" if _JSONPATH_NAME.match(key) else f"[{_quote(key)}]"
        if len(_SUFFIXES) < _SUFFIXES_MAX:
            _SUFFIXES[key] = suffix
    return path + suffix


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _record(out: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    existing = out.get("redacted")
    if isinstance(existing, list):
        out["redacted"] = [*existing, *entries]
    elif existing is None:
        out["redacted"] = entries
    else:
        # Keep whatever odd value the server sent rather than dropping server data.
        out["redacted"] = [existing, *entries]
    conformance = out.get("rdapConformance")
    if conformance is None:
        out["rdapConformance"] = ["redacted"]
    elif isinstance(conformance, list) and "redacted" not in conformance:
        out["rdapConformance"] = [*conformance, "redacted"]


def _copy_json(obj: Any) -> Any:
    """Deep copy of dicts and lists (tuples become lists), iterative and cycle-safe."""

    def fresh(value: Any) -> Any:
        return {} if isinstance(value, dict) else []

    if not isinstance(obj, _SEQUENCES):
        return obj
    memo: dict[int, Any] = {}
    root = fresh(obj)
    memo[id(obj)] = root
    stack: list[tuple[Any, Any]] = [(obj, root)]
    while stack:
        src, dst = stack.pop()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for key, value in items:
            if isinstance(value, _SEQUENCES):
                if id(value) in memo:
                    copy = memo[id(value)]
                else:
                    copy = memo[id(value)] = fresh(value)
                    stack.append((value, copy))
            else:
                copy = value
            if isinstance(dst, dict):
                dst[key] = copy
            else:
                dst.append(copy)
    return root
