"""Issue 16, property-based: whatever a hostile registry sends, rdapctl keeps its promises.

The real fixtures in ``tests/fixtures/rdap/`` (domain, ip, autnum, entity, nameserver,
help, error, odd, redacted) are turned into hostile variants (strategies below) and served
by a real socket on 127.0.0.1 (``tests.rawserver``):

- the JSON: a member's value swapped for another JSON type, members removed, nesting
  up to and beyond 100 and 1,000 levels, huge strings and long lists (each body stays
  under ``MAX_BODY``), Unicode oddities (lone surrogates escaped and raw, invalid UTF-8,
  ESC/OSC/CSI sequences, C1, bidi, zero-width and tag characters, rich markup), NaN,
  Infinity and numbers beyond a double, top levels that are no object, ``errorCode`` in
  a 200, a wrong ``objectClassName``, repeated members;
- the HTTP: statuses (2xx, 3xx with usable and broken ``Location`` values, 404, other
  4xx, 429 and 5xx with and without ``Retry-After``, odd ones), status-line versions,
  Content-Type, Content-Length right and wrong, chunked, gzip/deflate (and broken or
  unknown codings), interim answers, connections closed or kept open;
- ``links`` with ``rel: related`` referrals: back to the same server, many of them,
  broken ones, answered by hostile registrars in turn.

Each example runs ``rdapctl lookup`` with ``-o json`` (then again, from the cache),
``-o rdap`` and ``-o text``, each in a fresh RDAPCTL_HOME (examples and modes share no
cache, rate-limit or audit state), for a tenant that redacts PII or anonymises (data
residency), patient or not; or a small ``rdapctl batch``, twice (network, then cache).
It checks the README's promises: a documented exit code that is not 1 (a bug), the same
in every mode; stdout one strict RFC 8259 JSON document in the JSON modes (one per input
line in batch JSONL), valid UTF-8, a schema-valid envelope; no traceback; stderr (and the
text view) terminal-safe; exactly one ``lookup`` audit record per lookup, whose
``requests`` add up to the requests the server saw.

The bugs the properties found have minimal regression tests at the end of the file.
"""

from __future__ import annotations

import gzip
import itertools
import json
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import rdapctl
from tests.hostile import (
    invoke_bytes,
    lab_profiles,
    lookup_records,
    strict_json,
    terminal_unsafe,
)
from tests.rawserver import Answer, RawServer, Request, chunked, raw_answer
from tests.support import RDAP_FIXTURES, all_fixture_files

TRACEBACK = "Traceback (most recent call last)"
MAX_BODY = 200_000  # bytes of one hostile body: keeps each example fast
MODES = ("json", "rdap", "text")
# What a lookup against a hostile server may end in (README "Exit codes"): ok, denied
# (the guard refusing a redirect or referral target), rate limited, not found, upstream
# failure. Never 1 (a bug), and nothing about usage, configuration, keys or the audit.
LOOKUP_EXITS = frozenset({0, 4, 5, 6, 7})
# batch: 0 when every line was answered (ok or not_found), else the most serious failure.
BATCH_EXITS = frozenset({0, 4, 5, 7})
BATCH_SEVERITY = (130, 10, 9, 3, 1, 4, 7, 5, 8, 2)
STATUS_EXITS = {"ok": 0, "not_found": 6}
# The envelope's shipped JSON Schema (`rdapctl schema envelope`): lookup and batch lines.
ENVELOPE_SCHEMA = Draft202012Validator(
    json.loads(
        (Path(rdapctl.__file__).parent / "data" / "schemas" / "envelope.schema.json").read_text()
    )
)


# -- the fixtures, and a query each of them answers -----------------------------------


@dataclass(frozen=True)
class Fixture:
    path: str  # relative to tests/fixtures/rdap
    qtype: str  # the --type of a query it answers

    @property
    def body(self) -> bytes:
        return _fixture_bytes(self.path)

    def doc(self) -> Any:
        return json.loads(self.body)


_QUERIES = {
    "domain": "example.com",
    "ip": "8.8.8.8",
    "autnum": "AS15169",
    "entity": "GOVI-ARIN",
    "nameserver": "ns1.example.com",
    "help": "help",
}
_FOLDER_TYPES = {
    "autnum": "autnum",
    "domain-cctld": "domain",
    "domain-gtld-registry": "domain",
    "domain-registrar": "domain",
    "domain-reverse": "domain",
    "entity": "entity",
    "error": "domain",  # error objects: served for a domain query
    "help": "help",
    "ip-network": "ip",
    "nameserver": "nameserver",
    "redacted": "domain",
}
_ODD_TYPES = {
    "apnic-ip-history-101.203.88.0.json": "ip",
    "jprs-nic.jprs-minimal.json": "domain",
    "registrar-domain-nonconformant-jcard.json": "domain",
    "ripe-entity-BRI2-empty-object.json": "entity",
}
_BODIES: dict[str, bytes] = {}


def _fixture_bytes(relpath: str) -> bytes:
    if relpath not in _BODIES:
        _BODIES[relpath] = (RDAP_FIXTURES / relpath).read_bytes()
    return _BODIES[relpath]


def _fixtures() -> list[Fixture]:
    found = []
    for path in all_fixture_files():
        folder = path.parent.name
        if folder == "search" or path.stat().st_size > MAX_BODY:
            continue  # search results are not lookups, and are 0.3-1.5 MB
        qtype = _ODD_TYPES[path.name] if folder == "odd" else _FOLDER_TYPES[folder]
        found.append(Fixture(path.relative_to(RDAP_FIXTURES).as_posix(), qtype))
    return found


FIXTURES = _fixtures()
DOMAIN_FIXTURES = [f for f in FIXTURES if f.path.startswith("domain-")]
ERROR_FIXTURES = [f for f in FIXTURES if f.path.startswith("error/")]
BATCH_FIXTURES = [f for f in FIXTURES if f.qtype != "help"]  # batch has no help: prefix


def test_every_fixture_kind_is_served() -> None:
    folders = {f.path.split("/")[0] for f in FIXTURES}
    assert folders >= {"autnum", "entity", "error", "help", "ip-network", "nameserver", "odd"}
    assert {f.qtype for f in FIXTURES} == set(_QUERIES)


# -- hostile text -----------------------------------------------------------------------

# Text a terminal would act on or show misleadingly, and rich markup / emoji codes.
TEXT_PIECES = [
    "\x1b]0;owned\x07",
    "\x1b]8;;https://evil.example/\x1b\\",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b[2J",
    "\x1b[31m",
    "\x1bP+q\x1b\\",
    "\x9b31m",
    "\x9d0;t\x9c",
    "\x85",
    "\x00",
    "\x07",
    "\x08",
    "\r",
    "\n",
    "\t",
    "\x7f",
    "\u202e",
    "\u2066",
    "\u200f",
    "\u061c",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\U000e0041",
    "\U000e007f",
    "\u2028",
    "\u2029",
    "[bold]x[/bold]",
    "[link=https://evil.example/]y[/link]",
    ":smile:",
    "[/]",
    "\\",
    '"',
    "%s{0}",
    "é中文🙂",
    "\ufffd",
    "\U0010fff0",
    "\ud800",  # a lone surrogate in the Python text: sent as raw bytes ED A0 80
]
# Bytes placed as they are inside a JSON string: escaped lone surrogates, raw
# surrogates, invalid and overlong UTF-8, escaped and raw control characters.
RAW_STRING_PIECES = [
    b"\\ud800",
    b"\\udfff",
    b"\\udbff\\udfff",
    b"\\udc00\\ud800",
    b"\\u0000",
    b"\\u001b]0;x\\u0007",
    b"\\u202e",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xff",
    b"\xfe\xff",
    b"\xc3",
    b"\xc0\xaf",
    b"\xe0\x80\xaf",
    b"\xf4\x90\x80\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\x80",
    b"\x1b[31m",  # a raw control character: not JSON
    b"\xc2\x9b31m",  # C1 CSI, encoded
]
# Values that are no JSON numbers (or only just are).
BAD_NUMBERS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e999",
    b"-1e400",
    b"1E+99999",
    b"1" + b"0" * 400 + b".0",
    b"9" * 5000,
    b"123456789e-99999",
    b"-0",
    b"1e308",
    b"5e-324",
    b"nan",
    b"inf",
    b"01",
    b"+1",
    b".5",
    b"1.",
    b"0x10",
    b"-",
]
IMPORTANT_KEYS = [
    "objectClassName",
    "handle",
    "ldhName",
    "unicodeName",
    "links",
    "entities",
    "vcardArray",
    "roles",
    "events",
    "eventAction",
    "eventDate",
    "notices",
    "remarks",
    "description",
    "title",
    "status",
    "nameservers",
    "secureDNS",
    "startAddress",
    "endAddress",
    "ipVersion",
    "cidr0_cidrs",
    "startAutnum",
    "endAutnum",
    "rdapConformance",
    "port43",
    "redacted",
    "href",
    "rel",
    "type",
    "value",
    "publicIds",
    "errorCode",
    "network",
    "lang",
]
OBJECT_CLASSES = [
    "domain",
    "ip network",
    "autnum",
    "entity",
    "nameserver",
    "DOMAIN",
    " Entity ",
    "ip  network",
    "ipnetwork",
    "history",
    "",
    None,
    5,
    True,
    ["domain"],
    {"objectClassName": "domain"},
]
ERROR_CODES = [404, 429, 500, 501, 200, 0, -1, 999, "404", None, True, 404.0, 1e3, 2**70, [404]]

# Markers for raw bytes (noncharacters and private use: never in a fixture).
_OPEN, _CLOSE = "\U0010fffe", "\U0010ffff"  # a whole value: replaced with its quotes
_IN_OPEN, _IN_CLOSE = "\U0010fffc", "\U0010fffd"  # a piece of a string: inside them


class Book:
    """Raw bytes a document carries as marker strings until it is encoded (tokens that
    are no JSON, bytes that are no UTF-8), and the room left under ``MAX_BODY``."""

    def __init__(self, room: int) -> None:
        self.raw: list[tuple[str, bytes]] = []
        self.post: list[Callable[[bytes], bytes]] = []
        self.room = room

    def token(self, raw: bytes) -> str:
        """A string that is encoded as ``raw`` in place of the whole JSON value."""
        self.raw.append((_OPEN, raw))
        return f"{_OPEN}{len(self.raw) - 1}{_CLOSE}"

    def piece(self, raw: bytes) -> str:
        """A string that is encoded as ``raw`` inside the JSON string holding it."""
        self.raw.append((_IN_OPEN, raw))
        return f"{_IN_OPEN}{len(self.raw) - 1}{_IN_CLOSE}"

    def take(self, wanted: int) -> int:
        """Up to ``wanted`` bytes of the room left."""
        got = max(0, min(wanted, self.room))
        self.room -= got
        return got

    def expand(self, value: Any) -> bytes:
        """``value`` encoded, markers replaced by their bytes."""
        data = _dumps(value)
        # Newest first: a token's bytes may carry older markers (nesting).
        for i in reversed(range(len(self.raw))):
            kind, raw = self.raw[i]
            if kind == _OPEN:
                data = data.replace(f'"{_OPEN}{i}{_CLOSE}"'.encode(), raw)
            else:
                data = data.replace(f"{_IN_OPEN}{i}{_IN_CLOSE}".encode(), raw)
        return data

    def encode(self, doc: Any) -> bytes:
        """The document's body: expanded, then framed by the top-level mutations."""
        data = self.expand(doc)
        for transform in self.post:
            data = transform(data)
        return data


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


def hostile_text(book: Book, min_size: int = 0) -> st.SearchStrategy[str]:
    piece = st.one_of(
        st.sampled_from(TEXT_PIECES),
        st.text(max_size=8),
        st.sampled_from(RAW_STRING_PIECES).map(book.piece),
    )
    return st.lists(piece, min_size=min_size, max_size=6).map("".join)


def json_types(book: Book) -> dict[type, st.SearchStrategy[Any]]:
    """A strategy per JSON type (arrays and objects nested two levels at most), text
    perhaps hostile."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text(book),
    )
    keys = st.sampled_from(IMPORTANT_KEYS) | hostile_text(book)
    small = st.lists(scalars, max_size=4) | st.dictionaries(keys, scalars, max_size=4)
    return {
        type(None): st.none(),
        bool: st.booleans(),
        int: st.integers(-(2**70), 2**70),
        float: st.floats(allow_nan=False, allow_infinity=False),
        str: hostile_text(book),
        list: st.lists(scalars | small, max_size=4),
        dict: st.dictionaries(keys, scalars | small, max_size=4),
    }


def json_values(book: Book, not_like: Any = ...) -> st.SearchStrategy[Any]:
    """Any JSON value; with ``not_like``, of another type than it."""
    return st.one_of(*(s for t, s in json_types(book).items() if type(not_like) is not t))


# -- JSON mutations ----------------------------------------------------------------------

Slot = tuple[Any, Any]  # (container, key or index)
Draw = Callable[[st.SearchStrategy[Any]], Any]


def _slots(doc: Any, limit: int = 3000) -> list[Slot]:
    """Every (container, key) of the tree, breadth first (top-level members first)."""
    out: list[Slot] = []
    if not isinstance(doc, dict | list):
        return out
    queue: deque[Any] = deque([doc])
    while queue and len(out) < limit:
        node = queue.popleft()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            out.append((node, key))
            if isinstance(value, dict | list):
                queue.append(value)
    return out


def _pick(draw: Draw, doc: Any, want: Callable[[Slot], bool] = lambda s: True) -> Slot | None:
    slots = [s for s in _slots(doc) if want(s)]
    if not slots:
        return None
    important = [s for s in slots if s[1] in IMPORTANT_KEYS]
    if important and draw(st.booleans()):
        slots = important
    return slots[draw(st.integers(0, len(slots) - 1))]


def swap_type(draw: Draw, doc: Any, book: Book) -> Any:
    """A member's (or an element's) value replaced by a value of another JSON type."""
    slot = _pick(draw, doc)
    if slot is None:
        return doc
    parent, key = slot
    old = parent[key]
    parent[key] = draw(json_values(book, not_like=old))
    return doc


def remove_member(draw: Draw, doc: Any, book: Book) -> Any:
    """A member removed here, or a member name removed from every object of the tree."""
    if draw(st.booleans()):
        name = draw(st.sampled_from(IMPORTANT_KEYS))
        for parent, key in _slots(doc, limit=100_000):
            if isinstance(parent, dict) and key == name and key in parent:
                del parent[key]
        return doc
    slot = _pick(draw, doc, lambda s: isinstance(s[0], dict))
    if slot is not None:
        del slot[0][slot[1]]
    return doc


NEST_DEPTHS = [1, 2, 50, 97, 98, 99, 100, 101, 102, 200, 999, 1000, 1001, 1002, 5000, 20_000]


def nest(draw: Draw, doc: Any, book: Book) -> Any:
    """A value wrapped in arrays or objects, near and past 100 and 1,000 levels."""
    depth = draw(st.sampled_from(NEST_DEPTHS))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"n":', b"}"), (b'[{"a":', b"}]")]))
    depth = min(depth, max(1, book.take(depth * (len(opener) + len(closer)))))
    depth //= 2 if opener.startswith(b"[{") else 1
    slot = _pick(draw, doc)
    if slot is None:
        inner = _dumps(doc) if isinstance(doc, dict | list) else b"{}"
        return book.token(opener * max(1, depth) + inner + closer * max(1, depth))
    parent, key = slot
    parent[key] = book.token(opener * max(1, depth) + _dumps(parent[key]) + closer * max(1, depth))
    return doc


def huge_string(draw: Draw, doc: Any, book: Book) -> Any:
    """A string (value or member name) made huge, of hostile text or plain letters."""
    unit = draw(st.sampled_from(["A", "é", "\u202e", "\x1b[31m", "[bold]", "\ufeff\u200b"]))
    wanted = draw(st.sampled_from([1_000, 8_192, 65_536, 100_000, 190_000]))
    count = book.take(wanted) // max(1, len(unit.encode("utf-8")) + 2)
    big = unit * max(1, count)
    slot = _pick(draw, doc)
    if slot is None:
        return doc
    parent, key = slot
    if isinstance(parent, dict) and draw(st.booleans()):
        parent[big] = parent.pop(key)  # a huge member name
    else:
        parent[key] = big
    return doc


def long_list(draw: Draw, doc: Any, book: Book) -> Any:
    """A list made long: copies of its own first element, or of a small value."""
    slot = _pick(draw, doc, lambda s: isinstance(s[0][s[1]], list))
    if slot is None:
        slot = _pick(draw, doc)
    if slot is None:
        return doc
    parent, key = slot
    value = parent[key]
    element = value[0] if isinstance(value, list) and value else draw(json_values(book))
    size = len(book.expand(element)) + 1
    wanted = draw(st.sampled_from([10, 100, 1_000, 10_000, 100_000]))
    count = book.take(wanted * size) // size
    # As raw bytes: later mutations cannot reach into the copies (and multiply them).
    parent[key] = book.token(b"[" + b",".join([book.expand(element)] * count) + b"]")
    return doc


def odd_text(draw: Draw, doc: Any, book: Book) -> Any:
    """Hostile text around or instead of a string, or as a member name."""
    slot = _pick(draw, doc, lambda s: isinstance(s[0][s[1]], str))
    if slot is None:
        slot = _pick(draw, doc)
    if slot is None:
        return doc
    parent, key = slot
    text = draw(hostile_text(book, min_size=1))
    old = parent[key]
    how = draw(st.sampled_from(["prefix", "suffix", "replace", "key"]))
    if how == "key" and isinstance(parent, dict):
        parent[text] = parent.pop(key)
    elif isinstance(old, str) and how != "replace":
        parent[key] = text + old if how == "prefix" else old + text
    else:
        parent[key] = text
    return doc


def bad_number(draw: Draw, doc: Any, book: Book) -> Any:
    """A value that is NaN, an infinity, beyond a double, or no JSON number at all."""
    token = book.token(draw(st.sampled_from(BAD_NUMBERS)))
    slot = _pick(draw, doc)
    if slot is None:
        return token
    slot[0][slot[1]] = token
    return doc


def top_level(draw: Draw, doc: Any, book: Book) -> Any:
    """The document replaced or framed: no object, empty, BOM, trailing data, cut."""
    kind = draw(
        st.sampled_from(
            [
                "array",
                "string",
                "number",
                "null",
                "true",
                "empty-array",
                "empty-object",
                "nothing",
                "spaces",
                "bom",
                "trailing",
                "two",
                "cut",
                "utf16",
            ]
        )
    )
    if kind == "array":
        return [doc]
    if kind in ("string", "number", "null", "true", "empty-array", "empty-object"):
        return {
            "string": "a string",
            "number": 42,
            "null": None,
            "true": True,
            "empty-array": [],
            "empty-object": {},
        }[kind]
    if kind == "cut":
        fraction = draw(st.floats(0.0, 0.999))
        book.post.append(lambda data: data[: int(len(data) * fraction)])
    else:
        book.post.append(
            {
                "nothing": lambda data: b"",
                "spaces": lambda data: b" \r\n\t ",
                "bom": lambda data: b"\xef\xbb\xbf" + data,
                "trailing": lambda data: data + b" garbage",
                "two": lambda data: data + data,
                "utf16": lambda data: data.decode("utf-8", "replace").encode("utf-16"),
            }[kind]
        )
    return doc


def error_code(draw: Draw, doc: Any, book: Book) -> Any:
    """An ``errorCode`` member (of any type) in what is served as a 200, with a title
    and description that may be hostile text."""
    if not isinstance(doc, dict):
        return doc
    doc["errorCode"] = draw(st.sampled_from(ERROR_CODES))
    if draw(st.booleans()):
        doc["title"] = draw(hostile_text(book) | json_values(book))
    if draw(st.booleans()):
        doc["description"] = draw(st.lists(hostile_text(book), max_size=3) | json_values(book))
    return doc


def object_class(draw: Draw, doc: Any, book: Book) -> Any:
    """A wrong (or odd, or missing) ``objectClassName``, at the top or deeper."""
    value = draw(st.sampled_from(OBJECT_CLASSES) | hostile_text(book))
    slot = _pick(draw, doc, lambda s: s[1] == "objectClassName")
    if slot is not None and draw(st.booleans()):
        slot[0][slot[1]] = value
    elif isinstance(doc, dict):
        doc["objectClassName"] = value
    return doc


def repeated_member(draw: Draw, doc: Any, book: Book) -> Any:
    """A member sent twice, the first or the last one wrong (JSON leaves it open)."""
    name = draw(st.sampled_from(["objectClassName", "errorCode", "links", "handle"]))
    value = draw(st.sampled_from(OBJECT_CLASSES + ERROR_CODES))
    member = json.dumps(name).encode() + b":" + _dumps(value)
    first = draw(st.booleans())

    def repeat(data: bytes) -> bytes:
        if not data.startswith(b"{"):
            return data
        if first or not data.rstrip().endswith(b"}"):
            return b"{" + member + (b"," if data[1:].lstrip()[:1] != b"}" else b"") + data[1:]
        body = data.rstrip()[:-1]
        return body + (b"," if body.rstrip() != b"{" else b"") + member + b"}"

    book.post.append(repeat)
    return doc


MUTATIONS = [
    swap_type,
    remove_member,
    nest,
    huge_string,
    long_list,
    odd_text,
    bad_number,
    top_level,
    error_code,
    object_class,
    repeated_member,
]


@st.composite
def hostile_documents(
    draw: Draw, fixtures: list[Fixture] = FIXTURES, max_mutations: int = 4
) -> tuple[Fixture, bytes]:
    """A fixture and a hostile variant of its body (1 to ``max_mutations`` mutations)."""
    fixture = draw(st.sampled_from(fixtures))
    book = Book(room=max(4_000, MAX_BODY - len(fixture.body)))
    doc = fixture.doc()
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=max_mutations)):
        doc = mutation(draw, doc, book)
    return fixture, book.encode(doc)


# -- HTTP answers --------------------------------------------------------------------------

# @PORT@: the server's port; @TAG@: a prefix that routes a batch line's requests.
GOOD_LOCATIONS = [
    "http://127.0.0.1:@PORT@/@TAG@next/1",
    "/@TAG@next/2",
    "next/3",
    "//127.0.0.1:@PORT@/@TAG@next/4",
    "http://127.0.0.1:@PORT@/@TAG@next/5?q=1#frag",
    "HTTP://127.0.0.1:@PORT@/@TAG@next/6",
    "http://2130706433:@PORT@/@TAG@next/7",
    "http://127.1:@PORT@/@TAG@next/8",
    "http://localhost:@PORT@/@TAG@next/9",
    "  http://127.0.0.1:@PORT@/@TAG@next/10  ",
]
# URLs with no host (a redirect to one was once a usage error, exit 2).
HOSTLESS_LOCATIONS = ["file:///etc/passwd", "https:///", "http://:@PORT@/", "http://@/"]
BROKEN_LOCATIONS = [
    "http://[::1",
    "http://a..b/",
    "http://" + "x" * 64 + ".example/",
    "http://" + "a." * 130 + "example/",
    "http://h:99999/",
    "http://127.0.0.1:@PORT@/" + "a" * 9_000,
    " ",
    "",
    "\t",
    "ftp://127.0.0.1/",
    "file://localhost/etc/passwd",
    "javascript:alert(1)",
    "mailto:a@b.example",
    "data:,x",
    "gopher://127.0.0.1:@PORT@/",
    "http://u:p@127.0.0.1:@PORT@/",
    "http://127.0.0.1:1/",
    "http://127.0.0.1:0/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0:@PORT@/",
    "http://[::]:@PORT@/",
    "http://[fe80::1%25eth0]:@PORT@/",
    "http://[::ffff:127.0.0.1]:@PORT@/",
    "http://ex ample/",
    "http://é.example/",
    "http://127.0.0.1:@PORT@/\x1b]0;x\x07",
    "http://127.0.0.1:@PORT@/[bold]x",
    *HOSTLESS_LOCATIONS,
]
# Longer than any tenant waits: the host is left alone (rate_limited) for up to an hour.
LONG_RETRY_AFTERS = ["3600", "Fri, 31 Dec 9999 23:59:59 GMT", "99999999999"]
RETRY_AFTERS = [
    None,
    "0",
    *LONG_RETRY_AFTERS,
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "soon",
    "-5",
    "1e3",
    "0, 0",
    "\xb2",  # "²".isdigit() is True
    "\x1b[31m0",
]
CONTENT_TYPES = [
    "application/rdap+json",
    "application/json",
    "application/json; charset=utf-8",
    'application/rdap+json;charset="UTF-8"; profile=x',
    "APPLICATION/RDAP+JSON",
    "text/html",
    "text/plain",
    "application/xml",
    None,
    "",
    "application/rdap+json\x1b]0;x\x07",
]
STATUSES = [
    200,
    200,
    200,
    201,
    203,
    204,
    206,
    299,
    300,
    301,
    302,
    303,
    304,
    305,
    307,
    308,
    400,
    401,
    403,
    404,
    405,
    410,
    418,
    422,
    429,
    451,
    500,
    501,
    502,
    503,
    504,
    599,
    101,
    199,
    600,
    999,
]
CODINGS = [
    None,
    None,
    "identity",
    "gzip",
    "x-gzip",
    "deflate",
    "deflate-raw",
    "gzip-corrupt",
    "gzip-plain",
    "gzip-gzip",
    "br",
]
FRAMINGS = [
    "length",
    "length",
    "none",
    "short",
    "long",
    "chunked",
    "chunked-odd",
    "both",
    "conflict",
    "bad",
]


VERSIONS = ["HTTP/1.1"] * 12 + ["HTTP/1.0", "HTTP/1.2", "HTTP/2", "HTTP/1.1x", "ICY"]
KEEP_ALIVE_FRAMINGS = frozenset({"length", "short", "chunked", "chunked-odd", "both"})


@dataclass
class Reply:
    """One HTTP answer, rendered to bytes per server (``@PORT@``) and line (``@TAG@``)."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    coding: str | None = None
    framing: str = "length"
    interim: bool = False
    close: bool = True  # a Connection: close header
    keep_alive: bool = False  # the server reads another request on the connection
    version: str = "HTTP/1.1"

    def render(self, port: int, tag: str = "") -> Answer:
        def fill(text: str) -> str:
            return text.replace("@PORT@", str(port)).replace("@TAG@", tag)

        body = self.body.replace(b"@PORT@", str(port).encode()).replace(b"@TAG@", tag.encode())
        headers = [(name, fill(value)) for name, value in self.headers]
        body, coding_header = _encode(body, self.coding)
        if coding_header is not None:
            headers.append(("Content-Encoding", coding_header))
        body, framing = _frame(body, self.framing)
        headers += framing
        if self.close:
            headers.append(("Connection", "close"))
        interim = b"HTTP/1.1 100 Continue\r\n\r\n" if self.interim else b""
        answer = interim + raw_answer(
            f"{self.status} Whatever", headers, body, version=self.version
        )
        return Answer([answer], keep_alive=self.keep_alive)


def _encode(body: bytes, coding: str | None) -> tuple[bytes, str | None]:
    if coding is None:
        return body, None
    if coding in ("gzip", "x-gzip"):
        return gzip.compress(body, mtime=0), coding
    if coding == "deflate":
        return zlib.compress(body), "deflate"
    if coding == "deflate-raw":
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return packer.compress(body) + packer.flush(), "deflate"
    if coding == "gzip-corrupt":
        packed = gzip.compress(body, mtime=0)
        return packed[: len(packed) // 2] + b"\x00garbage", "gzip"
    if coding == "gzip-plain":
        return body, "gzip"
    if coding == "gzip-gzip":
        return gzip.compress(gzip.compress(body, mtime=0), mtime=0), "gzip, gzip"
    return body, coding  # identity, br: sent as they are


def _frame(body: bytes, framing: str) -> tuple[bytes, list[tuple[str, str]]]:
    size = len(body)
    if framing == "length":
        return body, [("Content-Length", str(size))]
    if framing == "none":
        return body, []  # ends with the connection
    if framing == "short":
        return body, [("Content-Length", str(size // 2))]
    if framing == "long":
        return body, [("Content-Length", str(size + 100))]
    if framing == "chunked":
        return chunked(body, 4096), [("Transfer-Encoding", "chunked")]
    if framing == "chunked-odd":
        coded = chunked(body, 7, extension=b";a=b", trailers=[("X-Trailer", "\x1b[31m")])
        return coded, [("Transfer-Encoding", "chunked")]
    if framing == "both":
        return chunked(body, 512), [("Content-Length", str(size)), ("Transfer-Encoding", "chunked")]
    if framing == "conflict":
        return body, [("Content-Length", str(size)), ("Content-Length", str(size + 1))]
    return body, [("Content-Length", "abc")]  # bad


@st.composite
def error_bodies(draw: Draw) -> bytes:
    """An RFC 9083 error object of a fixture, its errorCode, title and description
    perhaps hostile (text, types): what rdapctl quotes on stderr."""
    doc = draw(st.sampled_from(ERROR_FIXTURES)).doc()
    book = Book(room=50_000)
    if draw(st.booleans()):
        doc["errorCode"] = draw(st.sampled_from(ERROR_CODES))
    if draw(st.booleans()):
        doc["title"] = draw(hostile_text(book) | json_values(book))
    if draw(st.booleans()):
        doc["description"] = draw(st.lists(hostile_text(book), max_size=3) | json_values(book))
    return book.encode(doc)


@st.composite
def replies(
    draw: Draw, body: bytes, status: int | None = None, retry_afters: list[Any] = RETRY_AFTERS
) -> Reply:
    """An HTTP answer around ``body`` (or another body: an error object, HTML,
    nothing), with any status, Location, Retry-After, Content-Type, coding, framing."""
    if status is None:
        status = draw(st.sampled_from(STATUSES))
    headers: list[tuple[str, str]] = []
    if 300 <= status < 400 or draw(st.integers(0, 9)) == 0:
        location = draw(
            st.none() | st.sampled_from(GOOD_LOCATIONS) | st.sampled_from(BROKEN_LOCATIONS)
        )
        if location is not None:
            headers.append(("Location", location))
    if status == 429 or status >= 500 or draw(st.integers(0, 9)) == 0:
        retry_after = draw(st.sampled_from(retry_afters))
        if retry_after is not None:
            headers.append(("Retry-After", retry_after))
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    if status != 200:
        kind = draw(st.sampled_from(["same", "error", "empty", "html"]))
        if kind == "error":
            body = draw(error_bodies())
        elif kind == "empty":
            body = b""
        elif kind == "html":
            body = b"<html><body>\x1b]0;owned\x07 nope</body></html>"
    framing = draw(st.sampled_from(FRAMINGS))
    close = draw(st.booleans())
    # A server that keeps the connection open: only with framing that ends by itself
    # and a final status (a body that ends with the connection, or is longer than sent,
    # or an interim 1xx with nothing after it, would wait out the request's timeout).
    keep_alive = (
        not close
        and framing in KEEP_ALIVE_FRAMINGS
        and (status >= 200 or status == 101)
        and draw(st.booleans())
    )
    return Reply(
        status=status,
        body=body,
        headers=headers,
        coding=draw(st.sampled_from(CODINGS)),
        framing=framing,
        interim=draw(st.integers(0, 9)) == 0,
        close=close,
        keep_alive=keep_alive,
        version=draw(st.sampled_from(VERSIONS)),
    )


def ok_reply(body: bytes, content_type: str = "application/rdap+json") -> Reply:
    return Reply(200, body, [("Content-Type", content_type)])


# The tenant (its table in the profiles file). Patience: "low" never retries (fast);
# "medium" retries 429/5xx and broken connections (with real backoff waits of 0.25 +
# 0.5 s), so it is drawn less often. Policy: PII redaction (the default), or answers
# anonymised because the server is outside the tenant's data residency.
ANONYMISED = 'data_residency = ["europe"]\n[tenants.lab.regions]\n"127.0.0.1" = "north-america"'
TENANTS = st.builds(
    lambda patience, policy: f'business_criticality = "{patience}"\n{policy}',
    st.sampled_from(["low"] * 5 + ["medium"]),
    st.sampled_from(["", "", ANONYMISED]),
)
LOW = 'business_criticality = "low"'


@st.composite
def http_cases(draw: Draw) -> tuple[Fixture, list[Reply], str]:
    """A fixture (its body as it is, or a hostile variant), the answers to a lookup's
    requests in order (the last one repeats), and the tenant's patience."""
    fixture, body = draw(
        st.sampled_from(FIXTURES).map(lambda f: (f, f.body)) | hostile_documents(max_mutations=1)
    )
    plan = draw(st.lists(replies(body), min_size=1, max_size=3))
    return fixture, plan, draw(TENANTS)


# -- referrals --------------------------------------------------------------------------

GOOD_HREFS = [
    "http://127.0.0.1:@PORT@/@TAG@ref/{n}",
    "/@TAG@ref/{n}",
    "ref/{n}",
    "../@TAG@ref/{n}",
    "//127.0.0.1:@PORT@/@TAG@ref/{n}",
    "http://127.0.0.1:@PORT@/@TAG@ref/{n}?q=1#f",
    "  http://127.0.0.1:@PORT@/@TAG@ref/{n}\n",
    "HTTP://127.0.0.1:@PORT@/@TAG@ref/{n}",
]
BAD_HREFS = [
    *BROKEN_LOCATIONS,
    "http://a..b/\u202e",
    "\x1b]8;;http://evil.example/\x1b\\x",
    "http://127.0.0.1:@PORT@/\u202e\u200b",
    "[bold]x[/bold]",
]
REL_VALUES = ["related"] * 6 + ["RELATED", "Related ", "self", "alternate", "", None, 5]
LINK_TYPES = ["application/rdap+json"] * 4 + [
    "application/json",
    "application/rdap+json; charset=utf-8",
    "APPLICATION/JSON",
    "text/html",
    "",
    None,
    7,
]


# How many links "many" is: past the per-answer bounds, up to ~35 KB of links.
MANY_LINKS = [20, 40, 100, 500]


@st.composite
def links(draw: Draw, many: bool = True) -> list[Any]:
    """A ``links`` array: referrals back to the same server (``/ref/N``, repeats
    included), broken hrefs, other relations and media types, and odd elements."""
    one = st.fixed_dictionaries(
        {
            "rel": st.sampled_from(REL_VALUES),
            "href": st.one_of(
                st.builds(
                    lambda h, n: h.format(n=n), st.sampled_from(GOOD_HREFS), st.integers(0, 6)
                ),
                st.sampled_from(BAD_HREFS),
                st.none(),
                st.integers(),
            ),
            "type": st.sampled_from(LINK_TYPES),
        }
    ) | st.sampled_from(["x", None, [], 5, {"rel": "related"}])
    found = draw(st.lists(one, max_size=12))
    if many and draw(st.integers(0, 4)) == 0:  # many: past the per-answer bounds (2, 16)
        count = draw(st.sampled_from(MANY_LINKS))
        found += [
            {
                "rel": "related",
                "type": "application/rdap+json",
                "href": f"http://127.0.0.1:@PORT@/@TAG@ref/many-{i}",
            }
            for i in range(count)
        ]
    return found


@st.composite
def with_links(draw: Draw, fixture: Fixture, many: bool = True) -> bytes:
    doc = fixture.doc()
    doc["links"] = draw(links(many=many)) + (
        doc.get("links", []) if draw(st.booleans()) and isinstance(doc.get("links"), list) else []
    )
    return json.dumps(doc).encode()


@st.composite
def referral_cases(draw: Draw) -> tuple[Fixture, list[Reply], str]:
    """A domain answer with drawn links, then the answers of the referral requests in
    order (registrar answers with links of their own, or hostile HTTP answers)."""
    fixture = draw(st.sampled_from(DOMAIN_FIXTURES))
    plan = [ok_reply(draw(with_links(fixture)))]
    for _ in range(draw(st.integers(1, 4))):
        registrar = draw(st.sampled_from(DOMAIN_FIXTURES))
        if draw(st.booleans()):
            plan.append(ok_reply(draw(with_links(registrar, many=False))))
        else:
            plan.append(draw(replies(registrar.body)))
    return fixture, plan, draw(TENANTS)


# -- the server and the checks ------------------------------------------------------------


class Plan:
    """The answers to one lookup's requests, in order; the last one repeats."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.count = 0
        self._lock = threading.Lock()

    def next(self) -> Answer:
        with self._lock:
            index = min(self.count, len(self.answers) - 1)
            self.count += 1
        return self.answers[index]


NOT_PLANNED = Answer([raw_answer("404 Not Planned", [("Content-Length", "0")], b"")])


class Lab:
    """A RawServer answering from plans: the current single lookup's, or (batch) the one
    whose tag (``/L3/...``) or query key the request path carries."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.plan = Plan([NOT_PLANNED])
        self.routes: dict[tuple[str, str], Plan] = {}  # batch: (tag, query key) -> plan
        self._homes = itertools.count()
        self.server = RawServer(self._answer)

    @property
    def port(self) -> int:
        return self.server.port

    def _answer(self, request: Request) -> Answer:
        return self._route(request.path).next()

    def _route(self, path: str) -> Plan:
        if not self.routes:
            return self.plan
        lowered = path.lower()
        for (tag, key), plan in self.routes.items():
            # A line's redirects and referrals carry its tag; its query, its key.
            if lowered.startswith(f"/{tag.lower()}/") or key.lower() in lowered:
                return plan
        return Plan([NOT_PLANNED])

    def home(self, tenant: str = LOW) -> Path:
        """A fresh RDAPCTL_HOME (nothing cached, no rate-limit state, an empty audit)
        whose tenant ``lab`` has ``tenant`` in its table."""
        home = self.root / f"h{next(self._homes)}"
        lab_profiles(home, self.port, top=tenant)
        return home


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path)
    try:
        yield lab
    finally:
        lab.server.close()


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    doc: Any  # the JSON document on stdout (json, rdap), else None


def run_lookup(lab: Lab, fixture: Fixture, mode: str, plan: list[Reply], home: Path) -> Outcome:
    """``rdapctl lookup`` of a query ``fixture`` answers, served ``plan``; every
    promise checked."""
    lab.plan = Plan([a.render(lab.port) for a in plan])
    seen_before = len(lab.server.requests)
    records_before = len(lookup_records(home))
    code, out_bytes, err_bytes, escaped = invoke_bytes(
        "lookup",
        _QUERIES[fixture.qtype],
        "--type",
        fixture.qtype,
        "-o",
        mode,
        env={"RDAPCTL_HOME": str(home)},
    )
    seen = len(lab.server.requests) - seen_before
    records = lookup_records(home)[records_before:]
    where = f"lookup -o {mode} exit {code}; stderr: {err_bytes[:1500]!r}"
    assert escaped is None, f"{where}: {escaped!r}"
    out = out_bytes.decode("utf-8")  # stdout is UTF-8 (RFC 8259 section 8.1)
    err = err_bytes.decode("utf-8")
    assert TRACEBACK not in out and TRACEBACK not in err, where
    assert code in LOOKUP_EXITS, where
    assert not terminal_unsafe(err), f"{where}: {terminal_unsafe(err)}"
    doc = None
    if mode == "json":
        doc = strict_json(out)
        assert isinstance(doc, dict) and doc["schema"] == 1, where
        assert_schema_valid(doc, where)
        expected = STATUS_EXITS.get(doc["status"]) if doc["status"] in STATUS_EXITS else None
        if expected is None:
            expected = doc["error"]["exit_code"]
        assert code == expected, f"{where}: envelope {doc['status']} {doc['error']}"
    elif mode == "rdap":
        doc = strict_json(out)
        assert isinstance(doc, dict), where
        if code != 0:  # an RFC 9083 error object: errorCode is a number
            error_code = doc.get("errorCode")
            assert isinstance(error_code, int), f"{where}: {out[:300]}"
            assert not isinstance(error_code, bool), f"{where}: {out[:300]}"
    else:
        # The text view is for a terminal too (tab and newline are layout there).
        assert not terminal_unsafe(out, allowed="\n\t"), f"{where}: {terminal_unsafe(out)}"
    assert len(records) == 1, f"{where}: {len(records)} lookup records"
    assert records[0]["requests"] == seen, (
        f"{where}: audit says {records[0]['requests']} requests, the server saw {seen}"
    )
    return Outcome(code, out, err, doc)


def assert_schema_valid(envelope: Any, where: str) -> None:
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in ENVELOPE_SCHEMA.iter_errors(envelope)
    ]
    assert not problems, f"{where}: the envelope does not fit its schema: {problems[:5]}"


def check_all_modes(lab: Lab, fixture: Fixture, plan: list[Reply], tenant: str) -> None:
    """json (then again, from the cache when it was stored), rdap and text, each in a
    fresh home: the same answers give the same exit code in every mode."""
    codes = {}
    for mode in MODES:
        home = lab.home(tenant)
        outcome = run_lookup(lab, fixture, mode, plan, home)
        codes[mode] = outcome.code
        if mode == "json" and outcome.doc["status"] == "ok":
            again = run_lookup(lab, fixture, mode, plan, home)
            if again.doc["source"] == "cache":
                assert again.code == outcome.code
                assert again.doc["response"] == outcome.doc["response"]
                assert again.doc["referrals"] == outcome.doc["referrals"]
    assert len(set(codes.values())) == 1, codes


# -- the properties ------------------------------------------------------------------------


def budget(examples: int) -> int:
    """``examples`` under the "ci" profile (60 examples by default: the whole file takes
    about a minute); as many times more as the loaded profile allows more than 60
    (HYPOTHESIS_PROFILE=long: about 33 times)."""
    return examples * max(1, (settings.default.max_examples or 60) // 60)


@settings(max_examples=budget(150))
@given(
    case=hostile_documents(),
    content_type=st.sampled_from(CONTENT_TYPES[:4]),
    policy=st.sampled_from(["", "", ANONYMISED]),
)
def test_hostile_json_in_a_200(
    lab: Lab, case: tuple[Fixture, bytes], content_type: str, policy: str
) -> None:
    fixture, body = case
    check_all_modes(lab, fixture, [ok_reply(body, content_type)], f"{LOW}\n{policy}")


@settings(max_examples=budget(100))
@given(case=http_cases())
def test_hostile_http_answers(lab: Lab, case: tuple[Fixture, list[Reply], str]) -> None:
    fixture, plan, tenant = case
    check_all_modes(lab, fixture, plan, tenant)


@settings(max_examples=budget(80))
@given(case=referral_cases())
def test_hostile_referrals(lab: Lab, case: tuple[Fixture, list[Reply], str]) -> None:
    fixture, plan, tenant = case
    check_all_modes(lab, fixture, plan, tenant)


_BATCH_PREFIX = {
    "domain": "domain",
    "ip": "ip",
    "autnum": "autnum",
    "entity": "entity",
    "nameserver": "nameserver",
}


def _batch_query(qtype: str, i: int) -> tuple[str, str]:
    """(the query, a key its request path carries, distinct per line)."""
    return {
        "domain": (f"q{i}.example", f"q{i}.example"),
        "ip": (f"192.0.2.{i + 10}", f"/192.0.2.{i + 10}"),
        "autnum": (f"AS{64_500 + i}", f"/{64_500 + i}"),
        "entity": (f"Q{i}-TEST", f"q{i}-test"),
        "nameserver": (f"ns{i}.example.com", f"ns{i}.example.com"),
    }[qtype]


@st.composite
def batch_cases(draw: Draw) -> tuple[list[tuple[Fixture, list[Reply]]], str, bool]:
    """2 to 4 lines, each a distinct query served its own plan; and whether the first
    line comes again at the end (a repeat: answered once, one record per line)."""
    lines = []
    for _ in range(draw(st.integers(2, 4))):
        fixture, body = draw(hostile_documents(BATCH_FIXTURES, max_mutations=2))
        if draw(st.booleans()):
            plan = [ok_reply(body)]
        else:
            answer = replies(body, retry_afters=RETRY_AFTERS)
            plan = draw(st.lists(answer, min_size=1, max_size=2))
        lines.append((fixture, plan))
    return lines, draw(TENANTS), draw(st.booleans())


@settings(max_examples=budget(40))
@given(case=batch_cases())
def test_hostile_answers_in_a_batch(
    lab: Lab, case: tuple[list[tuple[Fixture, list[Reply]]], str, bool]
) -> None:
    """The batch runs twice in one home: from the network, then (what was stored)
    from the cache, spliced into the output; same promises, same answers."""
    lines, tenant, repeat = case
    home = lab.home(tenant)
    text = []
    for i, (fixture, _) in enumerate(lines):
        query, _ = _batch_query(fixture.qtype, i)
        text.append(f"{_BATCH_PREFIX[fixture.qtype]}:{query}")
    if repeat:
        text.append(text[0])
    source = home / "in.txt"
    source.write_text("\n".join(text) + "\n", encoding="utf-8")
    first = run_batch(lab, home, lines, source, len(text), home / "first.jsonl")
    again = run_batch(lab, home, lines, source, len(text), home / "again.jsonl")
    if repeat:  # the repeat says what its first line said
        for envelopes in (first, again):
            assert envelopes[-1]["status"] == envelopes[0]["status"]
            assert envelopes[-1]["response"] == envelopes[0]["response"]
    for before, after in zip(first, again, strict=True):
        if after["source"] == "cache":
            assert before["status"] == after["status"]
            assert after["status"] in STATUS_EXITS  # answers are stored, failures not
            assert after["response"] == before["response"]
            assert after["referrals"] == before["referrals"]


def run_batch(
    lab: Lab,
    home: Path,
    lines: list[tuple[Fixture, list[Reply]]],
    source: Path,
    count: int,
    output: Path,
) -> list[dict[str, Any]]:
    """``rdapctl batch source --output output`` (``count`` input lines), each line of
    ``lines`` served its own plan; every promise checked; the envelopes in line order."""
    lab.routes = {}
    for i, (fixture, plan) in enumerate(lines):
        _, key = _batch_query(fixture.qtype, i)
        lab.routes[f"L{i}", key] = Plan([a.render(lab.port, f"L{i}/") for a in plan])
    seen_before = len(lab.server.requests)
    records_before = len(lookup_records(home))
    try:
        code, out_bytes, err_bytes, escaped = invoke_bytes(
            "batch",
            str(source),
            "--output",
            str(output),
            "--no-progress",
            env={"RDAPCTL_HOME": str(home)},
        )
    finally:
        lab.routes = {}
    seen = len(lab.server.requests) - seen_before
    where = f"batch exit {code}; stderr: {err_bytes[:1500]!r}"
    assert escaped is None, f"{where}: {escaped!r}"
    err = err_bytes.decode("utf-8")
    assert TRACEBACK not in err and TRACEBACK.encode() not in out_bytes, where
    assert code in BATCH_EXITS, where
    assert not terminal_unsafe(err), f"{where}: {terminal_unsafe(err)}"
    assert out_bytes == b"", where
    # JSONL: one strict JSON document per input line, lines ending at "\n" only.
    raw_lines = output.read_bytes().split(b"\n")
    assert raw_lines[-1] == b"", where
    envelopes = [strict_json(line.decode("utf-8")) for line in raw_lines[:-1]]
    for envelope in envelopes:
        assert_schema_valid(envelope, where)
    envelopes.sort(key=lambda e: e["line"])
    assert [e["line"] for e in envelopes] == list(range(1, count + 1)), where
    failures = {e["error"]["exit_code"] for e in envelopes if e["status"] not in STATUS_EXITS}
    expected = next((c for c in BATCH_SEVERITY if c in failures), 0)
    assert code == expected, f"{where}: {[(e['line'], e['status'], e['error']) for e in envelopes]}"
    records = lookup_records(home)[records_before:]
    assert len(records) == count, f"{where}: {len(records)} lookup records"
    assert sum(r["requests"] for r in records) == seen, (
        f"{where}: audit says {[r['requests'] for r in records]} requests, the server saw {seen}"
    )
    return envelopes


# -- bugs the properties found: minimal regression tests ------------------------------------


def test_a_repeated_batch_line_records_no_request(lab: Lab) -> None:
    """A repeat is answered from its first line: its record says it sent nothing (it
    copied the first line's ``requests``)."""
    home = lab.home()
    lab.plan = Plan([ok_reply(DOMAIN_FIXTURES[0].body).render(lab.port)])
    source = home / "in.txt"
    source.write_text("example.com\nexample.com\n", encoding="utf-8")
    code, _, err, _ = invoke_bytes(
        "batch",
        str(source),
        "--output",
        str(home / "out.jsonl"),
        "--no-progress",
        env={"RDAPCTL_HOME": str(home)},
    )
    assert code == 0, err
    assert len(lab.server.requests) == 1
    records = lookup_records(home)
    assert [r["source"] for r in records] == ["network", "duplicate"]
    assert [r["requests"] for r in records] == [1, 0]


def test_many_referral_links_stay_within_the_deadline(lab: Lab) -> None:
    """README: a lookup ends within 3 x timeout_s + the longest Retry-After wait of its
    business_criticality (low: 2 s). Checking each related link's URL cost ~4 ms
    (a 65,535-port set built per check): 2,000 links (140 KB) took ~9 s."""
    import time

    home = lab.home()
    profiles = home / "profiles.toml"
    profiles.write_text(
        profiles.read_text().replace("timeout_s = 2.0", "timeout_s = 0.05"), encoding="utf-8"
    )
    doc = DOMAIN_FIXTURES[0].doc()
    doc["links"] = [
        {"rel": "related", "type": "application/rdap+json", "href": f"/ref/{i}"}
        for i in range(2_000)
    ]
    lab.plan = Plan([ok_reply(json.dumps(doc).encode()).render(lab.port), NOT_PLANNED])
    started = time.monotonic()
    code, _, err, _ = invoke_bytes(
        "lookup", "example.com", "-o", "json", env={"RDAPCTL_HOME": str(home)}
    )
    elapsed = time.monotonic() - started
    assert code == 0, err
    assert elapsed < 3 * 0.05 + 2.0 + 0.5  # the deadline, and half a second to start


@pytest.mark.parametrize(
    ("status", "body"),
    [
        ("200 OK", b'{"errorCode": "oops", "title": "x"}'),
        ("404 Not Found", b'{"errorCode": null}'),
        ("500 Boom", b'{"errorCode": [404]}'),
    ],
    ids=["string-in-200", "null-in-404", "array-in-500"],
)
def test_rdap_output_error_objects_have_a_numeric_error_code(
    lab: Lab, status: str, body: bytes
) -> None:
    """RFC 9083 section 6: errorCode is the HTTP error code, a number; a server's error
    object whose errorCode is none was printed as it was."""
    home = lab.home()
    lab.plan = Plan([Answer([raw_answer(status, _json_headers(body), body)])])
    code, out, err, _ = invoke_bytes(
        "lookup", "example.com", "-o", "rdap", env={"RDAPCTL_HOME": str(home)}
    )
    assert code in (6, 7), err
    error_code = strict_json(out.decode("utf-8"))["errorCode"]
    assert isinstance(error_code, int) and not isinstance(error_code, bool)


def _json_headers(body: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", "application/rdap+json"), ("Content-Length", str(len(body)))]


@pytest.mark.parametrize("location", HOSTLESS_LOCATIONS)
def test_a_redirect_to_a_url_without_a_host_is_no_usage_error(lab: Lab, location: str) -> None:
    """It was a usage error (exit 2, "cannot tell the host of RDAP server URL"): the
    residency check of the hop raised before the guard's URL rules."""
    home = lab.home()
    lab.plan = Plan([Reply(302, b"", [("Location", location)]).render(lab.port)])
    code, out, err, _ = invoke_bytes(
        "lookup", "example.com", "-o", "json", env={"RDAPCTL_HOME": str(home)}
    )
    envelope = strict_json(out.decode("utf-8"))
    assert (code, envelope["error"]["code"]) in ((7, "bad_redirect"), (4, "ssrf_blocked")), err


def test_a_retry_after_that_comes_while_a_lookup_waits_does_not_hang(lab: Lab) -> None:
    """Two lines of a batch: the first one's 429 (Retry-After: 3600, longer than the
    tenant waits) comes while the second waits for its rate-limit token (1 request/s).
    README: that host's lookups fail as rate limited without another request, and a
    lookup ends within 3 x timeout_s + 2 s (low patience). Run as a process of its own:
    the second lookup used to wait the whole hour out (HostGate.acquire)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    home = lab.home()
    profiles = home / "profiles.toml"
    profiles.write_text(
        profiles.read_text()
        .replace("requests_per_second = 1000.0", "requests_per_second = 1.0")
        .replace("timeout_s = 2.0", "timeout_s = 1.0"),
        encoding="utf-8",
    )
    too_many = raw_answer(
        "429 Too Many Requests", [("Retry-After", "3600"), ("Content-Length", "0")], b""
    )
    lab.plan = Plan([Answer([0.5, too_many])])  # the answer takes half a second
    (home / "in.txt").write_text("a.example\nb.example\n", encoding="utf-8")
    command = [sys.executable, "-m", "rdapctl", "batch", str(home / "in.txt")]
    command += ["--output", str(home / "out.jsonl"), "--no-progress"]
    started = time.monotonic()
    batch = subprocess.Popen(
        command,
        env={**os.environ, "RDAPCTL_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = batch.wait(timeout=3 * 1.0 + 2.0 + 3.0)  # two deadlines' worth, and start-up
    except subprocess.TimeoutExpired:
        os.killpg(batch.pid, signal.SIGKILL)  # the batch and its workers
        batch.wait()
        pytest.fail(f"the batch still ran after {time.monotonic() - started:.0f}s")
    assert code == 5
