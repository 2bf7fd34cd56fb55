"""Where the contact cards of an RDAP object are, and how their properties are named.

One rule for every reader of cards (the redaction, the abuse contact, the text view):
a jCard sits in ``vcardArray``; a JSContact card in any member whose name starts with
``jscard`` or ``jscontact_card`` and holds an object. Pure: values in, values out.
"""

from __future__ import annotations

from typing import Any

# Member names of a JSContact card in an RDAP entity (RFC 9083 extension drafts): any
# member whose name starts so (jscard, jscard_0, jscard_x-y, jscardv2, ...) and holds an
# object, as the abuse contact and the text view read them.
CARD_PREFIXES = ("jscard", "jscontact_card")


def card_members(entity: dict[str, Any]) -> tuple[str, ...]:
    """The members of ``entity`` that hold a JSContact card."""
    found: tuple[str, ...] = ()
    for k, value in entity.items():  # a loop, not a generator: runs for every object looked at
        if k.startswith(CARD_PREFIXES) and type(value) is dict:
            found += (k,)
    return found


def field_of(name: str) -> str:
    """The jCard field a property name stands for: lower case, vCard group dropped."""
    return name.rpartition(".")[2].lower() if "." in name else name.lower()


def jcard_kinds(vcard: Any) -> list[Any]:
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
        if prop_name(prop) is not None and field_of(prop[0]) == "kind":
            for value in prop[1:]:
                kinds.extend(value if isinstance(value, list) else [value])
    return kinds


def prop_name(item: Any) -> str | None:
    """The name of a jCard property (a list starting with a string), else None."""
    if isinstance(item, list) and item and isinstance(item[0], str):
        return item[0]
    return None
