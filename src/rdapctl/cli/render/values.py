"""Server values made safe and short for the text view: display strings, limits, styles.

Real servers send every shape imaginable: these accessors never raise, strip controls
and bidi overrides (other invisible characters become escapes, see
:func:`rdapctl.core.termtext.visible`), cut long values, and de-duplicate lists with
dicts so that every helper stays linear in the size of the answer.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from rich.text import Text

from rdapctl.core.termtext import visible

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator


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
SCAN_FACTOR = 4

# C0, DEL, C1, and the bidi embedding/override/isolate marks that can visually reorder
# a terminal line (a server string must not be able to disguise what follows it).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Line breaks of every kind (including U+2028/U+2029) become one space: a value stays
# on its line.
_WHITESPACE_CONTROL = re.compile("[\t\n\r\v\f\u2028\u2029]+")

REDACTED_STYLE = "dim italic"
LABEL_STYLE = "bold"


def clean(s: str, limit: int = MAX_STR) -> str:
    """``s`` on one line, without controls or bidi overrides, other invisible characters
    written as escapes, and at most ``limit`` characters (an ellipsis marks a cut)."""
    cut = len(s) > limit * SCAN_FACTOR
    if cut:
        s = s[: limit * SCAN_FACTOR]
    s = visible(_CONTROL.sub("", _WHITESPACE_CONTROL.sub(" ", s)).strip(), one_line=True)
    if cut or len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s


def text_of(x: Any, limit: int = MAX_STR) -> str:
    """A display string for a scalar; "" for containers and None."""
    if isinstance(x, str):
        return clean(x, limit)
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int | float):
        try:
            return str(x)
        except ValueError:  # an int of more than 4,300 digits
            return "(number too long)"
    return ""


def as_list(x: Any) -> list[Any]:
    """A list; a lone value (an object where a list belongs) becomes a one-item list."""
    if isinstance(x, list):
        return x
    if x is None:
        return []
    return [x]


def as_dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def dicts_in(x: Any) -> list[dict[str, Any]]:
    return [i for i in as_list(x) if isinstance(i, dict)]


def flat(x: Any, depth: int = 0) -> list[str]:
    """Every non-empty scalar string inside x (nested lists flattened, bounded depth)."""
    if isinstance(x, list):
        if depth > 4:
            return []
        out: list[str] = []
        for item in x:
            out.extend(flat(item, depth + 1))
        return out
    s = text_of(x)
    return [s] if s else []


def strs(x: Any) -> list[str]:
    return flat(as_list(x))


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


def first_lines(x: Any, limit: int) -> tuple[list[str], int]:
    """The first ``limit`` non-empty display strings inside ``x`` (see ``_leaves``), and
    how many non-empty scalars it holds in all (the rest are counted, not cleaned)."""
    shown: list[str] = []
    total = 0
    for leaf in _leaves(x):
        if len(shown) < limit:
            s = text_of(leaf)
            if s:
                shown.append(s)
                total += 1
        elif (leaf.strip() != "") if isinstance(leaf, str) else isinstance(leaf, int | float):
            total += 1
    return shown, total


def more_text(n: int, what: str = "") -> str:
    """The tail of every cut list: "… and 1,234 more", then ``what`` if given."""
    return f"… and {n:,} more" + (f" {what}" if what else "")


def join(items: Iterable[str], sep: str = ", ", limit: int = MAX_ITEMS) -> str:
    """The distinct non-empty items in order, at most ``limit`` of them, then how many
    more there are (de-duplicated with a dict: linear however long the list)."""
    seen = dict.fromkeys(item for item in items if item)
    if len(seen) > limit:
        return sep.join(islice(seen, limit)) + sep + more_text(len(seen) - limit)
    return sep.join(seen)


def first(d: dict[str, Any], *keys: str) -> str:
    for key in keys:
        s = text_of(d.get(key))
        if s:
            return s
    return ""


def date_text(x: Any) -> Text:
    s = text_of(x)
    if not s:
        return Text("(no date)", style=REDACTED_STYLE)
    try:
        dt = datetime.fromisoformat(s)
        if dt.tzinfo is not None:
            return Text(f"{dt.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
        return Text(f"{dt:%Y-%m-%d %H:%M:%S}")
    except (ValueError, OverflowError):
        # An unparseable date is still information: show it as the server sent it.
        return Text(s)


def age_text(x: Any) -> str:
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


def redacted() -> Text:
    return Text("[redacted]", style=REDACTED_STYLE)
