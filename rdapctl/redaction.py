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
* When ``email`` / ``tel`` are redacted, e-mail addresses / phone numbers in the
  free text of ``remarks`` and ``notices`` are replaced too (method
  ``partialValue``): registries paste contacts there.
* JSContact (``jscontact_card``): fn -> ``name.full`` (and legacy ``fullName``),
  n -> ``name.components``, org/adr/email/tel -> ``organizations`` / ``addresses`` /
  ``emails`` / ``phones``, contact-uri -> contact-kind ``links`` and ``onlineServices``.
* A top-level list gets its cards cleaned but has nowhere to hold ``redacted``.
  ``rdapConformance`` is created as ``["redacted"]`` when missing: we vouch for our
  own extension, not for the server's conformance.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from rdapctl.records import record

JSCONTACT_MEMBER = "jscontact_card"
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

_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-])"
)
# International numbers only: a "+" (or "tel:") then 7..15 digits in groups. National
# formats without a country code are indistinguishable from serials and are not matched.
_PHONE_RE = re.compile(
    r"(?:(?<![\w+/=])\+|\btel:\+?)\d{1,4}(?:(?:[ .\-]|\s?\(\d{1,4}\)\s?)?\d{1,12}){1,7}"
    r"(?:\s?(?:#|x|ext\.?)\s?\d{1,6})?"
)
# What every match of the patterns above contains (a cheap test before the scan).
_EMAIL_MARKS = ("@",)
_PHONE_MARKS = ("+", "tel:")
_JSONPATH_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_CONTAINER_DEPTH = 2
# Members whose presence makes an object worth a closer look.
_INTERESTING = frozenset({"vcardArray", JSCONTACT_MEMBER, "remarks", "notices"})
# Members handled by that closer look, not walked into.
_NOT_WALKED = frozenset({"vcardArray", JSCONTACT_MEMBER})
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
    obj: Any, fields: Sequence[str], *, tenant: str, in_place: bool = False
) -> RedactionResult:
    """A copy of ``obj`` without the contact properties named in ``fields``.

    ``fields`` are jCard property names (case-insensitive). An empty ``fields``
    returns ``obj`` itself, untouched. ``in_place=True`` edits ``obj`` itself: for a
    document the caller has just parsed and owns, where the copy is wasted work.
    """
    wanted = tuple(sorted({str(f).strip().lower() for f in fields} - {""}))
    if not wanted:
        return RedactionResult(obj, (), 0)
    out = obj if in_place else _copy_json(obj)
    run = _Run(frozenset(wanted), tenant)
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

    def __init__(self, fields: frozenset[str], tenant: str) -> None:
        self.fields = fields
        self.reason = {"description": f"{RDAPCTL_REASON_PREFIX}{tenant}"}
        self.entries: list[dict[str, Any]] = []
        self.removed: set[str] = set()
        self.count = 0

    def walk(self, root: Any) -> None:
        # Iterative: a deeply nested response must not hit the recursion limit. A
        # node's JSONPath is built only for the few objects that are looked at
        # closely; the stack carries (parent link, key or index) chains instead.
        stack: list[tuple[Any, _Link, int | None]] = [(root, None, None)]
        seen: set[int] = set()
        while stack:
            node, link, index = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            children: list[tuple[Any, _Link, int | None]] = []
            if isinstance(node, dict):
                if not _INTERESTING.isdisjoint(node):
                    self._visit_object(node, _path(link), index)
                for key, value in node.items():
                    if isinstance(value, _CONTAINERS) and key not in _NOT_WALKED:
                        if key == "redacted" and link is None:
                            continue
                        children.append((value, (link, key), None))
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    if isinstance(value, _CONTAINERS):
                        children.append((value, (link, i), i))
            if children:
                children.reverse()  # popped in document order
                stack += children

    def _visit_object(self, node: dict[str, Any], path: str, index: int | None) -> None:
        label = _describe(node, path, index)
        if "vcardArray" in node:
            self._jcard(node, path, label)
        if isinstance(node.get(JSCONTACT_MEMBER), dict):
            self._jscontact(node[JSCONTACT_MEMBER], _child(path, JSCONTACT_MEMBER), label)
        for key in ("remarks", "notices"):
            if isinstance(node.get(key), list):
                self._free_text(node[key], _child(path, key))

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

    def _jcard(self, entity: dict[str, Any], path: str, label: str) -> None:
        vcard = entity["vcardArray"]
        if not isinstance(vcard, list):
            return
        pending: list[tuple[list[Any], str, int]] = [(vcard, _child(path, "vcardArray"), 0)]
        while pending:
            container, cpath, depth = pending.pop()
            self._jcard_container(container, cpath, label)
            if depth < _MAX_CONTAINER_DEPTH:
                for i, item in enumerate(container):
                    if isinstance(item, list) and item and isinstance(item[0], list):
                        pending.append((item, f"{cpath}[{i}]", depth + 1))

    def _jcard_container(self, container: list[Any], cpath: str, label: str) -> None:
        kept: list[Any] = []
        hits: dict[str, str] = {}  # property name as written -> method used
        i = 0
        while i < len(container):
            item = container[i]
            i += 1
            name = _prop_name(item)
            field = name.lower() if name is not None else None
            if name is None or field not in self.fields:
                kept.append(item)
                continue
            if field == "fn":
                if len(item) >= 4 and not (len(item) == 4 and item[3] == ""):
                    kept.append([*item[:3], ""])
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
            field = name.lower()
            selector = f"{cpath}[?(@[0]=={_quote(name)})]"
            if method == "emptyValue":
                self._add(field, label, "postPath", f"{selector}[3]", method)
            else:
                self._add(field, label, "prePath", selector, method)

    def _jscontact(self, card: dict[str, Any], cpath: str, label: str) -> None:
        if "fn" in self.fields:
            name = card.get("name")
            if isinstance(name, dict) and "full" in name:
                del name["full"]
                self._jscontact_hit("fn", label, f"{cpath}.name.full")
            elif isinstance(name, str):
                del card["name"]
                self._jscontact_hit("fn", label, f"{cpath}.name")
            if "fullName" in card:  # member name of earlier JSContact drafts
                del card["fullName"]
                self._jscontact_hit("fn", label, f"{cpath}.fullName")
        if "n" in self.fields:
            name = card.get("name")
            if isinstance(name, dict) and "components" in name:
                del name["components"]
                self._jscontact_hit("n", label, f"{cpath}.name.components")
        name = card.get("name")
        if isinstance(name, dict) and not any(k not in ("@type",) for k in name):
            # Only the type marker is left: the name object now says nothing.
            del card["name"]
        for field, members in JSCONTACT_MEMBERS.items():
            if field not in self.fields:
                continue
            for member in members:
                if member in card:
                    value = card.pop(member)
                    self._jscontact_hit(field, label, _child(cpath, member), _size(value))
        if "contact-uri" in self.fields:
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
                self._jscontact_hit(
                    "contact-uri", label, _child(cpath, "onlineServices"), _size(value)
                )

    def _jscontact_hit(self, field: str, label: str, path: str, n: int = 1) -> None:
        self.count += n
        self._add(field, label, "prePath", path, "removal")

    def _free_text(self, items: list[Any], path: str) -> None:
        patterns: list[tuple[str, re.Pattern[str], str, tuple[str, ...]]] = []
        if "email" in self.fields:
            patterns.append(("email", _EMAIL_RE, EMAIL_PLACEHOLDER, _EMAIL_MARKS))
        if "tel" in self.fields:
            patterns.append(("tel", _PHONE_RE, TEL_PLACEHOLDER, _PHONE_MARKS))
        if not patterns:
            return
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            ipath = f"{path}[{i}]"
            for key, spath, text in _texts(item, ipath):
                new = text
                for field, pattern, placeholder, marks in patterns:
                    # Most text holds no contact at all: skip the regex scan unless a
                    # character every match must contain is there.
                    if not any(mark in new for mark in marks):
                        continue
                    replaced, n = _substitute(pattern, placeholder, new, field == "tel")
                    if n:
                        new = replaced
                        self.count += n
                        self._add(field, "in free text", "postPath", spath, "partialValue")
                if new != text:
                    _set_text(item, key, new)


def _texts(item: dict[str, Any], ipath: str) -> Iterator[tuple[tuple[str, int | None], str, str]]:
    title = item.get("title")
    if isinstance(title, str):
        yield ("title", None), f"{ipath}.title", title
    description = item.get("description")
    if isinstance(description, list):
        for j, line in enumerate(description):
            if isinstance(line, str):
                yield ("description", j), f"{ipath}.description[{j}]", line
    elif isinstance(description, str):
        yield ("description", None), f"{ipath}.description", description


def _set_text(item: dict[str, Any], key: tuple[str, int | None], value: str) -> None:
    member, index = key
    if index is None:
        item[member] = value
    else:
        item[member][index] = value


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


def _path(link: _Link) -> str:
    """The JSONPath of the node at ``link``."""
    keys: list[str | int] = []
    while link is not None:
        link, key = link
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
