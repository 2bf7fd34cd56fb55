"""jCard checks (RFC 7095, as RFC 9083 section 5.1 uses it in ``vcardArray``).

Only the shape is checked, never a value: a jCard is personal data. A property's name
is quoted (``fn``, ``tel``), never its parameters or value.

Must not: import anything beyond this package and the standard library.
"""

from __future__ import annotations

from typing import Any

from rdapctl.rdap.conformance.registry import Findings, pointer, quoted, type_name
from rdapctl.rdap.conformance.walk import Node


def property_names(card: Any) -> list[str]:
    """The property names of a well-formed jCard (lower case); [] for anything else."""
    if not (isinstance(card, list) and len(card) == 2 and isinstance(card[1], list)):
        return []
    return [
        item[0].lower()
        for item in card[1]
        if isinstance(item, list) and item and isinstance(item[0], str)
    ]


def has_value(card: Any, name: str) -> bool:
    """Whether the jCard has a property ``name`` with a non-empty value."""
    if not (isinstance(card, list) and len(card) == 2 and isinstance(card[1], list)):
        return False
    for item in card[1]:
        if (
            isinstance(item, list)
            and len(item) >= 4
            and isinstance(item[0], str)
            and item[0].lower() == name
            and any(value not in ("", None, []) for value in item[3:])
        ):
            return True
    return False


def _property_problem(item: Any) -> str | None:
    if not isinstance(item, list):
        return f"the property is {type_name(item)}, not an array"
    if len(item) < 4:
        return f"the property has {len(item)} items, not at least 4 (name, parameters, type, value)"
    name, params, kind = item[0], item[1], item[2]
    if not isinstance(name, str) or not name:
        return "the property name is not a non-empty string"
    if not isinstance(params, dict):
        return (
            f"the parameters of {quoted(name.lower(), 40)} are {type_name(params)}, not an object"
        )
    if not isinstance(kind, str):
        return f"the value type of {quoted(name.lower(), 40)} is {type_name(kind)}, not a string"
    return None


def check_jcard(node: Node, out: Findings) -> None:
    """rfc9083.jcard.shape, .version and .property for an entity's vcardArray."""
    card = node.obj.get("vcardArray")
    if not isinstance(card, list):
        return  # absent, or rfc9083.member.type
    where = pointer(node.pointer, "vcardArray")
    if len(card) != 2 or card[0] != "vcard" or not isinstance(card[1], list):
        out.add(
            "rfc9083.jcard.shape",
            where,
            'vcardArray is not ["vcard", [properties]]',
        )
        return
    properties = card[1]
    first = properties[0] if properties else None
    if not (isinstance(first, list) and first and first[0] == "version"):
        out.add(
            "rfc9083.jcard.version",
            pointer(where, 1, 0) if properties else pointer(where, 1),
            "the jCard's first property is not version",
        )
    for index, item in enumerate(properties):
        problem = _property_problem(item)
        if problem is not None:
            out.add("rfc9083.jcard.property", pointer(where, 1, index), problem)
