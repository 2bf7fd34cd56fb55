"""The terminal (rich) view of a lookup envelope: a readable screenful, not a JSON dump.

Owns: turning the JSON envelope of ``rdapctl lookup`` (header, abuse contact, the RDAP
object, each registrar referral, errors, RFC 9537 redactions) into rich renderables on
a console the caller passes in. An entity's jCard and JSContact cards (RFC 9553) are
shown alike, merged into one set of contact fields; fields the server or rdapctl
redacted read ``[redacted]``. Remarks and notices are shown in whatever shape they
come (objects, a lone object, strings, nested lists, a map of notices): only values
found under those members, never member names (the redaction engine masks contacts in
the values there, not in the names).

Must not: fetch, cache, redact or decide policy (it only shows what the envelope says);
import httpx, cryptography or diskcache; keep any state between calls; raise on any
shape of server data. Every server-provided string is stripped of control characters
(other invisible characters are written as escapes by ``rdapctl.core.termtext.visible``) and
only ever reaches rich inside ``Text`` objects (never parsed as markup or emoji), so a
server cannot style, hide or move the terminal's output.

The view is linear in the size of the answer: lists are de-duplicated with dicts, and
every list shows its first items and then "… and N more" (entities count against one
budget at every depth), so 100,000 statuses or entities print a screenful, not a scroll.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from rdapctl.core.termtext import visible

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from rich.console import Console

# Limits that keep a lookup to roughly one screen; each cut list ends "… and N more".
MAX_STR = 300  # characters of one value
MAX_SEARCH_ROWS = 50  # search results, history records
MAX_LINKS = 8
MAX_NOTICES = 6  # notices, and remarks, each
MAX_NOTICE_LINES = 3  # description lines of one notice or remark (or error object)
MAX_NOTICE_CHARS = 220
MAX_EVENTS = 10
MAX_ENTITIES = 8  # entities shown at one level (under one parent)
MAX_ENTITY_TOTAL = 30  # entities shown in all, at every depth together
MAX_ENTITY_DEPTH = 3
MAX_NAMESERVERS = 13
MAX_REDACTION_NAMES = 10
MAX_KEYS = 20  # member names of an unknown object
MAX_STATUSES = 20
MAX_CIDRS = 8
MAX_ADDRESSES = 8  # IP addresses of a nameserver (4 inside a domain's nameserver line)
MAX_CARD_VALUES = 3  # values of one card field (emails, phones, …) of one entity
MAX_ABUSE_VALUES = 3  # abuse e-mail addresses, and phone numbers, each
MAX_ROLES = 8  # roles of one entity
MAX_ITEMS = 20  # any other list (parts of a name, address lines, policy fields, …)
MAX_RESPONSE_ITEMS = 3  # objects of a response that is a list
# Lists and objects nested deeper than this in remarks and notices are not looked into.
_MAX_TEXT_DEPTH = 6
# A value longer than this many times MAX_STR is cut before it is cleaned: the view
# never scans (or makes visible) a megabyte string only to show 300 characters of it.
_SCAN_FACTOR = 4

# C0, DEL, C1, and the bidi embedding/override/isolate marks that can visually reorder
# a terminal line (a server string must not be able to disguise what follows it).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Line breaks of every kind (including U+2028/U+2029) become one space: a value stays
# on its line.
_WHITESPACE_CONTROL = re.compile("[\t\n\r\v\f\u2028\u2029]+")

_REDACTED_STYLE = "dim italic"
_LABEL_STYLE = "bold"


# --- defensive accessors: real servers send every shape imaginable -------------------


def _clean(s: str, limit: int = MAX_STR) -> str:
    """``s`` on one line, without controls or bidi overrides, other invisible characters
    written as escapes, and at most ``limit`` characters (an ellipsis marks a cut)."""
    cut = len(s) > limit * _SCAN_FACTOR
    if cut:
        s = s[: limit * _SCAN_FACTOR]
    s = visible(_CONTROL.sub("", _WHITESPACE_CONTROL.sub(" ", s)).strip(), one_line=True)
    if cut or len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s


def _str(x: Any, limit: int = MAX_STR) -> str:
    """A display string for a scalar; "" for containers and None."""
    if isinstance(x, str):
        return _clean(x, limit)
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int | float):
        try:
            return str(x)
        except ValueError:  # an int of more than 4,300 digits
            return "(number too long)"
    return ""


def _list(x: Any) -> list[Any]:
    """A list; a lone value (an object where a list belongs) becomes a one-item list."""
    if isinstance(x, list):
        return x
    if x is None:
        return []
    return [x]


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _dicts(x: Any) -> list[dict[str, Any]]:
    return [i for i in _list(x) if isinstance(i, dict)]


def _flat(x: Any, depth: int = 0) -> list[str]:
    """Every non-empty scalar string inside x (nested lists flattened, bounded depth)."""
    if isinstance(x, list):
        if depth > 4:
            return []
        out: list[str] = []
        for item in x:
            out.extend(_flat(item, depth + 1))
        return out
    s = _str(x)
    return [s] if s else []


def _strs(x: Any) -> list[str]:
    return _flat(_list(x))


def _leaves(x: Any, depth: int = 0) -> Iterator[Any]:
    """The scalars inside ``x``: items of lists and values of objects (never member
    names), nested lists and objects flattened to a bounded depth."""
    if isinstance(x, list):
        if depth < _MAX_TEXT_DEPTH:
            for item in x:
                yield from _leaves(item, depth + 1)
    elif isinstance(x, dict):
        if depth < _MAX_TEXT_DEPTH:
            for item in x.values():
                yield from _leaves(item, depth + 1)
    elif x is not None:
        yield x


def _lines(x: Any, limit: int) -> tuple[list[str], int]:
    """The first ``limit`` non-empty display strings inside ``x`` (see ``_leaves``), and
    how many non-empty scalars it holds in all (the rest are counted, not cleaned)."""
    shown: list[str] = []
    total = 0
    for leaf in _leaves(x):
        if len(shown) < limit:
            s = _str(leaf)
            if s:
                shown.append(s)
                total += 1
        elif (leaf.strip() != "") if isinstance(leaf, str) else isinstance(leaf, int | float):
            total += 1
    return shown, total


def _more_text(n: int, what: str = "") -> str:
    """The tail of every cut list: "… and 1,234 more", then ``what`` if given."""
    return f"… and {n:,} more" + (f" {what}" if what else "")


def _join(items: Iterable[str], sep: str = ", ", limit: int = MAX_ITEMS) -> str:
    """The distinct non-empty items in order, at most ``limit`` of them, then how many
    more there are (de-duplicated with a dict: linear however long the list)."""
    seen = dict.fromkeys(item for item in items if item)
    if len(seen) > limit:
        return sep.join(islice(seen, limit)) + sep + _more_text(len(seen) - limit)
    return sep.join(seen)


def _first(d: dict[str, Any], *keys: str) -> str:
    for key in keys:
        s = _str(d.get(key))
        if s:
            return s
    return ""


def _date(x: Any) -> Text:
    s = _str(x)
    if not s:
        return Text("(no date)", style=_REDACTED_STYLE)
    try:
        dt = datetime.fromisoformat(s)
        if dt.tzinfo is not None:
            return Text(f"{dt.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
        return Text(f"{dt:%Y-%m-%d %H:%M:%S}")
    except (ValueError, OverflowError):
        # An unparseable date is still information: show it as the server sent it.
        return Text(s)


def _age(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return ""
    try:
        seconds = int(x)
    except (ValueError, OverflowError):  # NaN and infinity
        return ""
    if seconds < 0:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} old"
    return f"{seconds}s old"


def _redacted() -> Text:
    return Text("[redacted]", style=_REDACTED_STYLE)


# --- jCard ---------------------------------------------------------------------------


def _jcard_props(vcard: Any) -> list[list[Any]]:
    """The property arrays of a jCard, tolerating the flattened form some servers send."""
    if not isinstance(vcard, list):
        return []
    items = vcard
    if items and isinstance(items[0], str) and items[0].lower() == "vcard":
        items = items[1:]
    props: list[list[Any]] = []
    for item in items:
        if not isinstance(item, list) or not item:
            continue
        if all(isinstance(p, list) for p in item):
            props.extend(p for p in item if p and isinstance(p[0], str))
        elif isinstance(item[0], str):
            props.append(item)
    return props


def _params(p: list[Any]) -> dict[str, Any]:
    return _dict(p[1]) if len(p) > 1 else {}


def _adr_text(p: list[Any]) -> str:
    params = _params(p)
    label = params.get("label")
    if isinstance(label, str):
        text = _join((_clean(line) for line in label.splitlines()), ", ")
    else:
        text = _join(_flat(p[3:]))
    cc = _str(params.get("cc"))
    if cc and cc not in text:
        text = _join([text, cc])
    return text


@dataclass
class _Card:
    """Contact fields of one entity, each an insertion-ordered set of its values; a field
    present with only empty values maps to an empty one."""

    fields: dict[str, dict[str, None]] = field(default_factory=dict)

    def add(self, name: str, value: str) -> None:
        values = self.fields.setdefault(name, {})
        if value:
            values[value] = None

    def get(self, name: str) -> list[str]:
        return list(self.fields.get(name, ()))

    def present_but_empty(self, name: str) -> bool:
        return name in self.fields and not self.fields[name]


def _card(vcard: Any) -> _Card:
    card = _Card()
    for p in _jcard_props(vcard):
        name = p[0].lower()
        if name == "fn":
            card.add("name", _join(_flat(p[3:]), " "))
        elif name == "org":
            card.add("org", _join(_flat(p[3:]), " "))
        elif name == "kind":
            card.add("kind", _join(_flat(p[3:])))
        elif name == "email":
            card.add("email", _join(_flat(p[3:])))
        elif name == "tel":
            types = [t.lower() for t in _strs(_params(p).get("type"))]
            value = _join(_flat(p[3:]))
            value = value[4:] if value.lower().startswith("tel:") else value
            card.add("fax" if "fax" in types else "tel", value)
        elif name == "adr":
            card.add("address", _adr_text(p))
        elif name == "contact-uri":
            card.add("contact", _join(_flat(p[3:])))
    return card


# --- JSContact (RFC 9553) --------------------------------------------------------------


def _card_members(entity: dict[str, Any]) -> tuple[str, ...]:
    """The members of ``entity`` holding a JSContact card (``jscard``, ``jscard_*``,
    ``jscontact_card``), as the redaction engine finds them."""
    from rdapctl.rdap.cards import card_members

    try:
        return card_members(entity)
    except (AttributeError, TypeError):  # a member name that is not a string
        return card_members({k: v for k, v in entity.items() if isinstance(k, str)})


def _values(x: Any) -> list[Any]:
    """The items of a JSContact map (id -> object), of a list sent instead, or a lone
    value sent instead of either."""
    if isinstance(x, dict):
        return list(x.values())
    return _list(x)


def _member(item: Any, *keys: str) -> str:
    """The text of one JSContact map item: its first non-empty ``keys`` member (a list
    there joined), or the item itself when a plain value was sent instead of an object."""
    if not isinstance(item, dict):
        return _join(_flat(_list(item)), " ")
    for key in keys:
        value = item.get(key)
        s = _str(value) if not isinstance(value, list) else _join(_flat(value), " ")
        if s:
            return s
    return ""


def _components(x: Any, sep: str) -> str:
    """The ``value``s of JSContact name or address components, joined (separator
    components dropped: ``sep`` separates)."""
    parts = (
        _member(c, "value")
        for c in _list(x)
        if not (isinstance(c, dict) and c.get("kind") == "separator")
    )
    return _join(parts, sep)


def _js_name(name: Any) -> str:
    if not isinstance(name, dict):
        return _join(_flat(_list(name)), " ")
    return _member(name, "full") or _components(name.get("components"), " ")


def _js_address(item: Any) -> str:
    if not isinstance(item, dict):
        return _member(item)
    full = item.get("full")
    if isinstance(full, str) and full.strip():
        # Kept short before it is split: a megabyte ``full`` is not scanned whole.
        lines = full[: MAX_STR * _SCAN_FACTOR].splitlines()
        text = _join((_clean(line) for line in lines), ", ")
    else:
        text = _components(item.get("components"), ", ")
    extras = [_str(item.get(k)) for k in ("locality", "countryCode")]
    extras = [e for e in extras if e and e not in text]
    return _join([text, *extras]) if extras else text


def _is_fax(item: Any) -> bool:
    features = item.get("features") if isinstance(item, dict) else None
    if isinstance(features, dict):
        return features.get("fax") is True
    return "fax" in (f.lower() for f in _strs(features))


def _jscontact(card: _Card, js: dict[str, Any]) -> None:
    """Add what one JSContact card holds to ``card``, under the jCard view's field
    names. A member that is present with nothing to show counts as present and empty
    (as a blanked jCard property does)."""
    if "name" in js:
        card.add("name", _js_name(js.get("name")))
    elif "fullName" in js:  # earlier JSContact drafts
        card.add("name", _js_name(js.get("fullName")))
    if "kind" in js:
        card.add("kind", _str(js.get("kind")))

    def each(member: str, field_name: str, text: Callable[[Any], str]) -> None:
        if member not in js:
            return
        items = _values(js.get(member))
        if not items:
            card.add(field_name, "")
        for item in items:
            card.add(field_name, text(item))

    each("organizations", "org", lambda o: _join([_member(o, "name"), *_org_units(o)], " "))
    each("emails", "email", lambda e: _member(e, "address", "uri"))
    if "phones" in js:
        phones = _values(js.get("phones"))
        if not phones:
            card.add("tel", "")
        for item in phones:
            number = _member(item, "number", "uri")
            number = number[4:] if number.lower().startswith("tel:") else number
            card.add("fax" if _is_fax(item) else "tel", number)
    each("addresses", "address", _js_address)
    each("onlineServices", "contact", lambda o: _member(o, "uri", "user", "service"))
    for item in _values(js.get("links")):
        kind = _str(item.get("kind")).lower() if isinstance(item, dict) else ""
        card.add("contact" if kind == "contact" else "link", _member(item, "uri", "href"))


def _org_units(org: Any) -> list[str]:
    if not isinstance(org, dict):
        return []
    return [_member(u, "name") for u in islice(_list(org.get("units")), MAX_ITEMS)]


def _entity_card(entity: dict[str, Any]) -> _Card:
    """The contact fields of an entity: its jCard and every JSContact card, merged."""
    card = _card(entity.get("vcardArray"))
    for member in _card_members(entity):
        _jscontact(card, entity[member])
    return card


# --- RFC 9537 redactions -------------------------------------------------------------

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
class _Redactions:
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


def _redactions(resp: dict[str, Any]) -> _Redactions:
    """Index the RFC 9537 ``redacted`` entries (each distinct label and path once)."""
    out = _Redactions()
    indexed: set[tuple[str, str]] = set()
    for entry in _dicts(resp.get("redacted")):
        name = _dict(entry.get("name"))
        label = _first(name, "type", "description") or _str(entry.get("name"))
        reason = entry.get("reason")
        reason_text = (
            _first(_dict(reason), "description", "type") if isinstance(reason, dict) else ""
        ) or _str(reason)
        path = _first(entry, "prePath", "postPath", "replacementPath", "path")
        if label:
            names = out.rdapctl_names if "rdapctl" in reason_text.lower() else out.server_names
            names[label] = None
        if (label, path) not in indexed:
            indexed.add((label, path))
            _index_redaction(out, label, path)
    return out


_HANDLE_PATH = re.compile(r"\.handle\b")
_WORD = re.compile(r"[A-Za-z]+")


def _index_redaction(out: _Redactions, label: str, path: str) -> None:
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


# --- small layout helpers ------------------------------------------------------------


def _kv(console: Console, rows: list[tuple[str, Text | str]], indent: int = 2) -> None:
    rows = [(k, v) for k, v in rows if (v.plain if isinstance(v, Text) else v)]
    if not rows:
        return
    table = Table.grid(padding=(0, 2))
    table.add_column(style=_LABEL_STYLE, no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(Text(key), value if isinstance(value, Text) else Text(value))
    console.print(Padding(table, (0, 0, 0, indent), expand=False))


def _heading(console: Console, title: str, indent: int = 0) -> None:
    console.print(Text(" " * indent + title, style="bold underline"))


def _line(console: Console, text: Text, indent: int = 2) -> None:
    console.print(Padding(text, (0, 0, 0, indent), expand=False))


def _more(console: Console, n: int, what: str, indent: int = 2) -> None:
    if n > 0:
        _line(console, Text(_more_text(n, what), style="dim"), indent)


# --- sections shared by every object class -------------------------------------------


def _status_text(obj: dict[str, Any]) -> str:
    return _join(_strs(obj.get("status")), limit=MAX_STATUSES)


def _events(console: Console, obj: dict[str, Any]) -> None:
    events = _list(obj.get("events"))
    if not events:
        return
    rows: list[tuple[str, Text | str]] = []
    for item in events[:MAX_EVENTS]:
        ev = _dict(item)
        action = _str(ev.get("eventAction")) or "(event)"
        when = _date(ev.get("eventDate"))
        actor = _str(ev.get("eventActor"))
        if actor:
            when.append(f"  by {actor}", style="dim")
        rows.append((action, when))
    _heading(console, "Events")
    _kv(console, rows)
    _more(console, len(events) - MAX_EVENTS, "events")


# Members that make an object one notice or remark (RFC 9083 section 4.3), not a map
# of them.
_NOTICE_MEMBERS = ("title", "description", "type", "links", "lang")


def _notice_items(value: Any) -> list[Any]:
    """The notices or remarks of one ``remarks``/``notices`` member, whatever its shape:
    a list of them, one object or string where a list belongs, or a map of them."""
    if isinstance(value, dict) and not any(k in value for k in _NOTICE_MEMBERS):
        return list(value.values())
    return _list(value)


def _notice_text(item: Any) -> Text:
    """One notice or remark on one line: its title (its type when it has none) and the
    first lines of its description. A string, number or list is description alone.
    Only values are shown, never member names."""
    if isinstance(item, dict):
        heads, _ = _lines(item.get("title"), MAX_NOTICE_LINES)
        if not heads:
            heads, _ = _lines(item.get("type"), 1)
        head = _clean(" ".join(heads))
        lines, total = _lines(item.get("description"), MAX_NOTICE_LINES)
    else:
        head = ""
        lines, total = _lines(item, MAX_NOTICE_LINES)
    text = Text()
    if head:
        text.append(head, style=_LABEL_STYLE)
    if lines:
        body = " ".join(lines)
        if len(body) > MAX_NOTICE_CHARS:
            body = body[:MAX_NOTICE_CHARS].rstrip() + " …"
        text.append((": " if head else "") + body)
        if total > len(lines):
            more = _more_text(total - len(lines), "lines")
            text.append(f" ({more})", style="dim")
    return text


def _notices(console: Console, obj: dict[str, Any], key: str, title: str) -> None:
    """The notices or remarks under ``obj[key]``; only text from there is shown."""
    items = _notice_items(obj.get(key))
    texts = [t for t in (_notice_text(item) for item in items[:MAX_NOTICES]) if t.plain]
    if not texts and len(items) <= MAX_NOTICES:
        return
    _heading(console, title)
    for text in texts:
        _line(console, text)
    _more(console, len(items) - MAX_NOTICES, title.lower())


def _links(console: Console, obj: dict[str, Any]) -> None:
    seen: dict[str, str] = {}  # href -> rel of its first link
    for link in _dicts(obj.get("links")):
        href = _first(link, "href", "value")
        if href and href not in seen:
            seen[href] = _str(link.get("rel")) or "link"
    if not seen:
        return
    _heading(console, "Links")
    for href, rel in islice(seen.items(), MAX_LINKS):
        _line(console, Text.assemble((rel, _LABEL_STYLE), " → ", href))
    _more(console, len(seen) - MAX_LINKS, "links")


def _redaction_line(console: Console, red: _Redactions) -> None:
    for label, names in (
        ("Redacted: ", red.server_names),
        ("Redacted by rdapctl: ", red.rdapctl_names),
    ):
        if names:
            text = Text.assemble((label, _LABEL_STYLE))
            text.append(_join(names, limit=MAX_REDACTION_NAMES), style=_REDACTED_STYLE)
            console.print(text)


def _public_id(entity: dict[str, Any], kind: str = "iana") -> str:
    for pid in _dicts(entity.get("publicIds")):
        if kind in _str(pid.get("type")).lower():
            return _str(pid.get("identifier"))
    return ""


def _entity_name(entity: dict[str, Any]) -> str:
    card = _entity_card(entity)
    return (card.get("name") or card.get("org") or [_str(entity.get("handle"))])[0]


@dataclass
class _EntityBudget:
    """How many more entity blocks the view may print, at every depth together: a server
    can send 100,000 entities each nesting more, and the view stays a screenful."""

    left: int = MAX_ENTITY_TOTAL


def _entity_list(
    console: Console,
    entities: list[Any],
    path: str,
    depth: int,
    red: _Redactions,
    budget: _EntityBudget,
) -> None:
    """The first entities of one level (at most MAX_ENTITIES, and what the budget
    allows), then how many more this level holds."""
    indent = 2 + 4 * depth
    shown = 0
    for i, entity in enumerate(entities):
        if shown >= MAX_ENTITIES or budget.left <= 0:
            break
        shown += 1
        budget.left -= 1
        if isinstance(entity, dict):
            _entity(console, entity, f"{path}[{i}]", depth, red, budget)
        else:
            _line(console, Text(_str(entity) or "(malformed entity)", style="dim"), indent)
    _more(console, len(entities) - shown, "entities", indent)


def _entity(
    console: Console,
    entity: dict[str, Any],
    path: str,
    depth: int,
    red: _Redactions,
    budget: _EntityBudget,
) -> None:
    indent = 2 + 4 * depth
    roles = _strs(entity.get("roles"))
    is_redacted = red.marker(path, roles)
    card = _entity_card(entity)

    head = Text("• ")
    head.append(_join(roles, limit=MAX_ROLES) or "entity", style=_LABEL_STYLE)
    handle = _str(entity.get("handle"))
    if handle:
        head.append(f"  {handle}", style="dim")
    elif is_redacted("handle", "handle" in entity):
        head.append("  handle: ").append_text(_redacted())
    iana = _public_id(entity)
    if iana:
        head.append(f"  IANA ID {iana}")
    _line(console, head, indent)

    def part(label: str, name: str) -> Text | None:
        values = card.get(name)
        if values:
            text = Text.assemble(f"{label}: ", _join(values, limit=MAX_CARD_VALUES))
            if name == "address" and is_redacted(name, False):
                text.append(" ").append_text(_redacted())
            return text
        if is_redacted(name, card.present_but_empty(name)):
            return Text(f"{label}: ").append_text(_redacted())
        return None

    groups = (
        (("name", "name"), ("org", "org"), ("kind", "kind")),
        (("email", "email"), ("tel", "tel"), ("fax", "fax")),
        (("address", "address"),),
        (("contact", "contact"), ("link", "link")),
    )
    for group in groups:
        parts = [p for p in (part(label, name) for label, name in group) if p is not None]
        if parts:
            _line(console, Text(" · ").join(parts), indent + 2)

    # Every item keeps its index: rdapctl's redaction paths name entities by position.
    nested = _list(entity.get("entities"))
    if depth + 1 >= MAX_ENTITY_DEPTH:
        _more(console, len(nested), "nested entities", indent + 2)
        return
    _entity_list(console, nested, f"{path}.entities", depth + 1, red, budget)


def _entities(console: Console, obj: dict[str, Any], red: _Redactions) -> None:
    entities = _list(obj.get("entities"))
    if not entities:
        return
    _heading(console, "Entities")
    _entity_list(console, entities, "$.entities", 0, red, _EntityBudget())


def _handle(obj: dict[str, Any], red: _Redactions) -> Text:
    handle = _str(obj.get("handle"))
    if handle:
        return Text(handle)
    return _redacted() if "handle" in red.top else Text()


# --- object views --------------------------------------------------------------------


def _title(console: Console, kind: str, name: str) -> None:
    console.print(Text.assemble((kind, "bold cyan"), " ", (name, "bold")))


def _registrar(obj: dict[str, Any]) -> Text:
    for entity in _dicts(obj.get("entities")):
        if "registrar" in (r.lower() for r in _strs(entity.get("roles"))):
            text = Text(_entity_name(entity) or "(unnamed)")
            iana = _public_id(entity)
            if iana:
                text.append(f"  (IANA ID {iana})", style="dim")
            return text
    return Text()


def _nameserver_label(ns: Any) -> str:
    if not isinstance(ns, dict):
        return _str(ns)
    name = _first(ns, "ldhName", "unicodeName", "handle") or "(unnamed)"
    ips = _dict(ns.get("ipAddresses"))
    addrs = _strs(ips.get("v4")) + _strs(ips.get("v6"))
    return f"{name} ({_join(addrs, limit=4)})" if addrs else name


def _dnssec(obj: dict[str, Any]) -> str:
    sec = obj.get("secureDNS", obj.get("secureDns"))
    if sec is None:
        return ""
    if not isinstance(sec, dict):
        return _str(sec)
    signed = sec.get("delegationSigned")
    text = ("signed" if signed else "unsigned") if isinstance(signed, bool) else _str(signed)
    extras = [f"{len(_list(sec.get(k)))} {k}" for k in ("dsData", "keyData") if sec.get(k)]
    return _join([text, *extras])


def _domain(console: Console, obj: dict[str, Any], red: _Redactions) -> None:
    ldh = _str(obj.get("ldhName"))
    uni = _str(obj.get("unicodeName"))
    _title(console, "Domain", ldh or uni or "(no name)")
    nameservers = _list(obj.get("nameservers", obj.get("nameServers")))
    ns_lines = [_nameserver_label(ns) for ns in nameservers[:MAX_NAMESERVERS]]
    if len(nameservers) > MAX_NAMESERVERS:
        ns_lines.append(_more_text(len(nameservers) - MAX_NAMESERVERS))
    _kv(
        console,
        [
            ("unicode", uni if uni and uni.lower() != ldh.lower() else ""),
            ("handle", _handle(obj, red)),
            ("status", _status_text(obj)),
            ("registrar", _registrar(obj)),
            ("nameservers", Text("\n").join(Text(s) for s in ns_lines if s)),
            ("DNSSEC", _dnssec(obj)),
        ],
    )
    _events(console, obj)
    _entities(console, obj, red)


def _cidrs(obj: dict[str, Any]) -> str:
    out = []
    for c in _dicts(obj.get("cidr0_cidrs")):
        prefix = _first(c, "v4prefix", "v6prefix")
        length = _str(c.get("length"))
        if prefix:
            out.append(f"{prefix}/{length}" if length else prefix)
    return _join(out, limit=MAX_CIDRS)


def _ip(console: Console, obj: dict[str, Any], red: _Redactions) -> None:
    start, end = _str(obj.get("startAddress")), _str(obj.get("endAddress"))
    rng = f"{start} - {end}" if start and end else start or end
    _title(console, "IP network", rng or _str(obj.get("handle")) or "(no range)")
    _kv(
        console,
        [
            ("range", rng),
            ("cidr", _cidrs(obj)),
            ("name", _str(obj.get("name"))),
            ("type", _str(obj.get("type"))),
            ("country", _str(obj.get("country"))),
            ("handle", _handle(obj, red)),
            ("parent", _str(obj.get("parentHandle"))),
            ("version", _str(obj.get("ipVersion"))),
            ("status", _status_text(obj)),
        ],
    )
    _events(console, obj)
    _entities(console, obj, red)


def _autnum(console: Console, obj: dict[str, Any], red: _Redactions) -> None:
    start, end = _str(obj.get("startAutnum")), _str(obj.get("endAutnum"))
    if start and end and start != end:
        rng = f"AS{start} - AS{end}"
    else:
        rng = f"AS{start or end}" if start or end else ""
    _title(console, "Autnum", rng or _str(obj.get("handle")) or "(no number)")
    _kv(
        console,
        [
            ("range", rng),
            ("name", _str(obj.get("name"))),
            ("type", _str(obj.get("type"))),
            ("country", _str(obj.get("country"))),
            ("handle", _handle(obj, red)),
            ("status", _status_text(obj)),
        ],
    )
    _events(console, obj)
    _entities(console, obj, red)


def _entity_view(console: Console, obj: dict[str, Any], red: _Redactions) -> None:
    _title(console, "Entity", _str(obj.get("handle")) or _entity_name(obj) or "(no handle)")
    _entity(console, obj, "$", 0, red, _EntityBudget())
    counts = [f"{len(_list(obj.get(k)))} {k}" for k in ("networks", "autnums") if obj.get(k)]
    _kv(console, [("status", _status_text(obj)), ("related", _join(counts))])
    _events(console, obj)


def _nameserver(console: Console, obj: dict[str, Any], red: _Redactions) -> None:
    ldh = _str(obj.get("ldhName"))
    uni = _str(obj.get("unicodeName"))
    _title(console, "Nameserver", ldh or uni or "(no name)")
    ips = _dict(obj.get("ipAddresses"))
    _kv(
        console,
        [
            ("unicode", uni if uni and uni.lower() != ldh.lower() else ""),
            ("handle", _handle(obj, red)),
            ("status", _status_text(obj)),
            ("IPv4", _join(_strs(ips.get("v4")), limit=MAX_ADDRESSES)),
            ("IPv6", _join(_strs(ips.get("v6")), limit=MAX_ADDRESSES)),
        ],
    )
    _events(console, obj)
    _entities(console, obj, red)


def _error_object(console: Console, obj: dict[str, Any]) -> None:
    code = _str(obj.get("errorCode"))
    title = _str(obj.get("title"))
    text = Text.assemble(("RDAP error", "bold red"))
    if code:
        text.append(f" {code}", style="bold red")
    if title:
        text.append(f": {title}")
    console.print(text)
    lines = _strs(obj.get("description"))
    for line in lines[:MAX_NOTICE_LINES]:
        _line(console, Text(line))
    _more(console, len(lines) - MAX_NOTICE_LINES, "lines")


def _search_row(kind: str, item: Any) -> tuple[str, str, str]:
    d = _dict(item)
    if not d:
        return (_str(item) or "(malformed)", "", "")
    handle = _str(d.get("handle"))
    cls = _str(d.get("objectClassName")).lower() or kind
    if "domain" in cls:
        return (_first(d, "ldhName", "unicodeName") or handle, handle, _status_text(d))
    if "nameserver" in cls:
        return (_first(d, "ldhName", "unicodeName") or handle, handle, _nameserver_label(d))
    if "entity" in cls:
        return (handle, _join(_strs(d.get("roles")), limit=MAX_ROLES), _entity_name(d))
    if "autnum" in cls:
        return (handle, f"AS{_str(d.get('startAutnum'))}-AS{_str(d.get('endAutnum'))}", "")
    if "ip" in cls or "network" in cls:
        start, end = _str(d.get("startAddress")), _str(d.get("endAddress"))
        name = _join([_str(d.get("name")), _str(d.get("country"))], " ")
        return (handle, f"{start} - {end}" if start or end else "", name)
    return (handle or _str(d.get("ldhName")), _str(d.get("objectClassName")), _str(d.get("name")))


def _search(console: Console, obj: dict[str, Any], keys: list[str]) -> None:
    for key in keys:
        results = _list(obj.get(key))
        kind = key.lower()
        # The member name is server text too.
        _title(console, "Search results", f"{_clean(key, 60)} ({len(results):,})")
        table = Table(show_edge=False, pad_edge=False, box=None, header_style=_LABEL_STYLE)
        # Identity columns keep their width; long ranges and names give way first.
        table.add_column("#", no_wrap=True, justify="right", min_width=3)
        rows = [_search_row(kind, item) for item in results[:MAX_SEARCH_ROWS]]
        ident_width = min(32, max((len(r[0]) for r in rows), default=6))
        table.add_column("object", no_wrap=True, overflow="ellipsis", min_width=ident_width)
        table.add_column("detail", no_wrap=True, overflow="ellipsis", max_width=40)
        table.add_column("name", no_wrap=True, overflow="ellipsis")
        for i, row in enumerate(rows, 1):
            table.add_row(Text(str(i)), *(Text(c) for c in row))
        console.print(Padding(table, (0, 0, 0, 2), expand=False))
        _more(console, len(results) - MAX_SEARCH_ROWS, "results")


def _history(console: Console, obj: dict[str, Any]) -> None:
    records = _list(obj.get("records"))
    _title(console, "History", f"{len(records):,} records")
    table = Table(show_edge=False, pad_edge=False, box=None, header_style=_LABEL_STYLE)
    for col in ("from", "until", "object"):
        table.add_column(col, no_wrap=True, overflow="ellipsis")
    for item in records[:MAX_SEARCH_ROWS]:
        rec = _dict(item)
        content = _dict(rec.get("content"))
        what = _join([_str(content.get("objectClassName")), _str(content.get("handle"))], " ")
        until = _date(rec.get("applicableUntil")) if rec.get("applicableUntil") else Text("now")
        table.add_row(_date(rec.get("applicableFrom")), until, Text(what))
    console.print(Padding(table, (0, 0, 0, 2), expand=False))
    _more(console, len(records) - MAX_SEARCH_ROWS, "records")


def _generic(console: Console, obj: dict[str, Any], red: _Redactions) -> None:
    cls = _str(obj.get("objectClassName"))
    _title(console, "Object", f"class {cls!r}" if cls else "(no objectClassName)")
    keys = [_clean(str(k), 40) for k in obj]
    _kv(
        console,
        [
            ("handle", _handle(obj, red)),
            ("name", _first(obj, "ldhName", "unicodeName", "name")),
            ("status", _status_text(obj)),
            ("members", _join(keys, limit=MAX_KEYS)),
        ],
    )
    _events(console, obj)
    _entities(console, obj, red)


_CLASSES = {
    "domain": "domain",
    "ip network": "ip",
    "ip_network": "ip",
    "ipnetwork": "ip",
    "network": "ip",
    "autnum": "autnum",
    "entity": "entity",
    "nameserver": "nameserver",
    "help": "help",
}


def _classify(obj: dict[str, Any]) -> str:
    cls = _CLASSES.get(_str(obj.get("objectClassName")).lower())
    if cls:
        return cls
    if _search_keys(obj):
        return "search"
    if "startAddress" in obj or "endAddress" in obj or "cidr0_cidrs" in obj:
        return "ip"
    if "startAutnum" in obj or "endAutnum" in obj:
        return "autnum"
    if any(k in obj for k in ("nameservers", "nameServers", "secureDNS")):
        return "domain"
    if "ipAddresses" in obj:
        return "nameserver"
    if "vcardArray" in obj or "roles" in obj or _card_members(obj):
        return "entity"
    if isinstance(obj.get("records"), list):
        return "history"
    if "ldhName" in obj and "objectClassName" not in obj:
        return "domain"
    if "errorCode" in obj:
        return "error"
    if "objectClassName" not in obj and set(obj) <= {
        "notices",
        "rdapConformance",
        "lang",
        "links",
        "port43",
    }:
        return "help"
    return "generic"


def _search_keys(obj: dict[str, Any]) -> list[str]:
    return [
        k
        for k, v in obj.items()
        if isinstance(k, str) and k.endswith("SearchResults") and isinstance(v, list)
    ]


def _response(console: Console, resp: Any) -> None:
    if isinstance(resp, list):
        console.print(Text(f"Response is a list of {len(resp):,} items, not an RDAP object."))
        for item in resp[:MAX_RESPONSE_ITEMS]:
            if isinstance(item, dict):
                _response(console, item)
        _more(console, len(resp) - MAX_RESPONSE_ITEMS, "items", 0)
        return
    if not isinstance(resp, dict):
        shown = _str(resp)
        console.print(Text("Response is not an RDAP object" + (f": {shown}" if shown else ".")))
        return
    if not resp:
        console.print(Text("Empty response object (no RDAP data).", style="dim"))
        return

    red = _redactions(resp)
    kind = _classify(resp)
    views: dict[str, Callable[[Console, dict[str, Any], _Redactions], None]] = {
        "domain": _domain,
        "ip": _ip,
        "autnum": _autnum,
        "entity": _entity_view,
        "nameserver": _nameserver,
        "generic": _generic,
    }
    if kind in views:
        views[kind](console, resp, red)
    elif kind == "search":
        _search(console, resp, _search_keys(resp))
    elif kind == "history":
        _history(console, resp)
    elif kind == "help":
        _title(console, "Help", "")
    if "errorCode" in resp:
        _error_object(console, resp)
    _notices(console, resp, "remarks", "Remarks")
    _notices(console, resp, "notices", "Notices")
    _redaction_line(console, red)
    _links(console, resp)


# --- the envelope --------------------------------------------------------------------

_STATUS_STYLE = {"ok": "green", "not_found": "yellow", "denied": "red", "error": "red"}


def _header(console: Console, env: dict[str, Any]) -> None:
    query = _str(env.get("query")) or "(no query)"
    status = _str(env.get("status")) or "unknown"
    text = Text.assemble((query, "bold"))
    qtype = _str(env.get("type"))
    if qtype:
        text.append(f" ({qtype})")
    text.append("  ")
    text.append(status, style=_STATUS_STYLE.get(status, "bold"))
    for label, value in (("tenant", _str(env.get("tenant"))), ("server", _str(env.get("server")))):
        if value:
            text.append(f" · {label} {value}", style="dim")
    source = _str(env.get("source"))
    if source:
        age = _age(env.get("age_s")) if source == "cache" else ""
        text.append(f" · {source}{f', {age}' if age else ''}", style="dim")
    console.print(text)

    policy = _dict(env.get("policy"))
    parts = []
    fields = _strs(policy.get("redacted_fields"))
    count = policy.get("redacted_count")
    if fields or (isinstance(count, int) and not isinstance(count, bool) and count > 0):
        n = count if isinstance(count, int) and not isinstance(count, bool) else len(fields)
        parts.append(f"redacted {n:,} field(s)" + (f" ({_join(fields)})" if fields else ""))
    residency = _dict(policy.get("residency"))
    if residency:
        region, action = _str(residency.get("region")), _str(residency.get("action"))
        parts.append(f"residency {region or '?'}: {action or '?'}")
    if parts:
        console.print(Text("policy: " + " · ".join(parts), style="dim"))


# Answers for which the envelope's abuse contact is shown.
_ABUSE_KINDS = frozenset({"domain", "ip", "autnum"})


def _abuse(console: Console, env: dict[str, Any]) -> None:
    """The abuse contact rdapctl found in the (policy-applied) answer, on one line:
    e-mail addresses, then phone numbers, then where they came from. Nothing when it
    found none, or the envelope predates the field."""
    abuse = env.get("abuse")
    if not isinstance(abuse, dict):
        return
    resp = env.get("response")
    kind = _classify(resp) if isinstance(resp, dict) and resp else ""
    if kind not in _ABUSE_KINDS and _str(env.get("type")).lower() not in _ABUSE_KINDS:
        return
    values = [_join(_strs(abuse.get(key)), " · ", MAX_ABUSE_VALUES) for key in ("email", "phone")]
    shown = " · ".join(v for v in values if v)
    if not shown:
        return
    text = Text.assemble(("abuse contact", _LABEL_STYLE), "  ", shown)
    source = _str(abuse.get("source"), 100)
    if source:
        text.append(f"  ({source})", style="dim")
    console.print(text)


def _error(console: Console, err: Any, indent: int = 0) -> None:
    if err is None:
        return
    d = _dict(err)
    code = _str(d.get("code")) if d else ""
    message = _str(d.get("message")) if d else _str(err)
    text = Text("error", style="bold red")
    if code:
        text.append(f" [{code}]", style="red")
    text.append(f": {message or '(no message)'}")
    _line(console, text, indent)
    hint = _str(d.get("hint"))
    if hint:
        _line(console, Text.assemble(("hint: ", "bold"), hint), indent + 2)


def render_envelope(envelope: dict[str, Any], console: Console) -> None:
    """Print the readable view of one lookup envelope on ``console``; never raises on data."""
    env = _dict(envelope)
    if not env:
        console.print(Text("(empty lookup result)", style="dim"))
        return
    _header(console, env)
    _abuse(console, env)
    resp = env.get("response")
    if resp is not None:
        console.rule(style="dim")
        _response(console, resp)

    for i, item in enumerate(_list(env.get("referrals")), 1):
        ref = _dict(item)
        title = Text.assemble((f"Referral {i}", "bold"), " ", _str(ref.get("url")))
        status = _str(ref.get("status"))
        if status:
            title.append(f" ({status})", style=_STATUS_STYLE.get(status, ""))
        console.rule(title, style="dim", align="left")
        if ref.get("response") is not None:
            _response(console, ref.get("response"))
        _error(console, ref.get("error"))

    if env.get("error") is not None:
        console.rule(style="dim")
        _error(console, env.get("error"))
