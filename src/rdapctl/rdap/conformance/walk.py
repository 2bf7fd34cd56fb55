"""Where the RDAP object instances of an answer are, and the JSON type of each member.

An answer nests object instances (RFC 9083 section 5): entities in ``entities``,
nameservers in ``nameservers``, the IP network of a reverse domain in ``network``, an
entity's ``networks`` and ``autnums``, and the results arrays of a search. Each is
visited once, iteratively (no input can exhaust the stack), with the objectClassName
its place calls for.

Must not: import anything beyond this package and the standard library.
"""

from __future__ import annotations

from typing import Any

from rdapctl.core.records import record
from rdapctl.rdap.conformance.registry import Findings, pointer, type_name

# At most this many object instances are visited (a bounded body holds far fewer).
MAX_OBJECTS = 100_000
# objectClassName of the objects each member holds (RFC 9083 section 5).
CHILD_CLASSES: dict[str, str] = {
    "entities": "entity",
    "nameservers": "nameserver",
    "networks": "ip network",
    "autnums": "autnum",
}
# The results arrays of a search (RFC 9083 section 8; ips and autnums: RFC 9910), by
# the end of their member name (``arin_originas0_networkSearchResults`` too).
RESULT_CLASSES: tuple[tuple[str, str], ...] = (
    ("domainSearchResults", "domain"),
    ("nameserverSearchResults", "nameserver"),
    ("entitySearchResults", "entity"),
    ("networkSearchResults", "ip network"),
    ("ipSearchResults", "ip network"),
    ("autnumSearchResults", "autnum"),
)
# The JSON type of each member of an object instance (RFC 9083 sections 4 and 5).
STRING = "a string"
OBJECT = "an object"
ARRAY = "an array"
STRINGS = "an array of strings"
OBJECTS = "an array of objects"
INTEGER = "an integer"
MEMBER_TYPES: dict[str, str] = {
    "objectClassName": STRING,
    "handle": STRING,
    "ldhName": STRING,
    "unicodeName": STRING,
    "port43": STRING,
    "lang": STRING,
    "name": STRING,
    "type": STRING,
    "country": STRING,
    "parentHandle": STRING,
    "startAddress": STRING,
    "endAddress": STRING,
    "ipVersion": STRING,
    "status": STRINGS,
    "roles": STRINGS,
    "events": OBJECTS,
    "asEventActor": OBJECTS,
    "links": OBJECTS,
    "remarks": OBJECTS,
    "publicIds": OBJECTS,
    "entities": OBJECTS,
    "nameservers": OBJECTS,
    "networks": OBJECTS,
    "autnums": OBJECTS,
    "variants": OBJECTS,
    "vcardArray": ARRAY,
    "network": OBJECT,
    "secureDNS": OBJECT,
    "ipAddresses": OBJECT,
    "startAutnum": INTEGER,
    "endAutnum": INTEGER,
}
# Members only the topmost object has (RFC 9083 sections 4.1, 4.3, 6).
TOP_MEMBER_TYPES: dict[str, str] = {
    "rdapConformance": STRINGS,
    "notices": OBJECTS,
    "errorCode": INTEGER,
    "title": STRING,
    "description": STRINGS,
}


@record
class Node:
    """One object instance: where it is, what it is, what its place calls for."""

    pointer: str
    obj: dict[str, Any]
    expected: str | None
    top: bool

    @property
    def kind(self) -> str | None:
        """The object's class: its own objectClassName, else the one expected."""
        name = self.obj.get("objectClassName")
        return name if isinstance(name, str) else self.expected


def results_class(member: str) -> str | None:
    """The objectClassName of the objects in a search results member; None when
    ``member`` is no results array."""
    for suffix, name in RESULT_CLASSES:
        if member.endswith(suffix):
            return name
    return None


def nodes(body: dict[str, Any], top_expected: str | None) -> list[Node]:
    """Every object instance in ``body``, the topmost first, in document order."""
    found: list[Node] = []
    stack = [Node("", body, top_expected, True)]
    while stack and len(found) < MAX_OBJECTS:
        node = stack.pop()
        found.append(node)
        children: list[Node] = []
        for member, value in node.obj.items():
            expected = CHILD_CLASSES.get(member)
            if expected is None and node.top:
                expected = results_class(member)
            if expected is not None and isinstance(value, list):
                children.extend(
                    Node(pointer(node.pointer, member, index), item, expected, False)
                    for index, item in enumerate(value)
                    if isinstance(item, dict)
                )
            elif member == "network" and isinstance(value, dict):
                children.append(Node(pointer(node.pointer, member), value, "ip network", False))
        stack.extend(reversed(children))
    return found


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _has_type(value: Any, wanted: str) -> bool:
    if wanted == STRING:
        return isinstance(value, str)
    if wanted == OBJECT:
        return isinstance(value, dict)
    if wanted == INTEGER:
        return is_integer(value)
    return isinstance(value, list)


def check_member_types(node: Node, out: Findings) -> None:
    """rfc9083.member.type: each known member, and each item of its array, has its type."""
    types = {**MEMBER_TYPES, **TOP_MEMBER_TYPES} if node.top else MEMBER_TYPES
    for member, value in node.obj.items():
        wanted = types.get(member)
        if wanted is None or (node.top and results_class(member)):
            continue
        where = pointer(node.pointer, member)
        if not _has_type(value, wanted):
            out.add("rfc9083.member.type", where, f"{member} is {type_name(value)}, not {wanted}")
            continue
        item_type = {STRINGS: STRING, OBJECTS: OBJECT}.get(wanted)
        if item_type is None:
            continue
        for index, item in enumerate(value):
            if not _has_type(item, item_type):
                out.add(
                    "rfc9083.member.type",
                    pointer(where, index),
                    f"an item of {member} is {type_name(item)}, not {item_type}",
                )
