"""An entity's contact fields from its jCard and JSContact cards (RFC 9553), merged.

Fields a card holds with only empty values are kept as present and empty, so the
view can tell a blanked (redacted) field from one the entity simply lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from rdapctl.cli.render.values import (
    MAX_ITEMS,
    MAX_STR,
    SCAN_FACTOR,
    as_dict,
    as_list,
    clean,
    flat,
    join,
    strs,
    text_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable


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
    return as_dict(p[1]) if len(p) > 1 else {}


def _adr_text(p: list[Any]) -> str:
    params = _params(p)
    label = params.get("label")
    if isinstance(label, str):
        text = join((clean(line) for line in label.splitlines()), ", ")
    else:
        text = join(flat(p[3:]))
    cc = text_of(params.get("cc"))
    if cc and cc not in text:
        text = join([text, cc])
    return text


@dataclass
class Card:
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


def _card(vcard: Any) -> Card:
    card = Card()
    for p in _jcard_props(vcard):
        name = p[0].lower()
        if name == "fn":
            card.add("name", join(flat(p[3:]), " "))
        elif name == "org":
            card.add("org", join(flat(p[3:]), " "))
        elif name == "kind":
            card.add("kind", join(flat(p[3:])))
        elif name == "email":
            card.add("email", join(flat(p[3:])))
        elif name == "tel":
            types = [t.lower() for t in strs(_params(p).get("type"))]
            value = join(flat(p[3:]))
            value = value[4:] if value.lower().startswith("tel:") else value
            card.add("fax" if "fax" in types else "tel", value)
        elif name == "adr":
            card.add("address", _adr_text(p))
        elif name == "contact-uri":
            card.add("contact", join(flat(p[3:])))
    return card


# --- JSContact (RFC 9553) --------------------------------------------------------------


def jscard_members(entity: dict[str, Any]) -> tuple[str, ...]:
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
    return as_list(x)


def _member(item: Any, *keys: str) -> str:
    """The text of one JSContact map item: its first non-empty ``keys`` member (a list
    there joined), or the item itself when a plain value was sent instead of an object."""
    if not isinstance(item, dict):
        return join(flat(as_list(item)), " ")
    for key in keys:
        value = item.get(key)
        s = text_of(value) if not isinstance(value, list) else join(flat(value), " ")
        if s:
            return s
    return ""


def _components(x: Any, sep: str) -> str:
    """The ``value``s of JSContact name or address components, joined (separator
    components dropped: ``sep`` separates)."""
    parts = (
        _member(c, "value")
        for c in as_list(x)
        if not (isinstance(c, dict) and c.get("kind") == "separator")
    )
    return join(parts, sep)


def _js_name(name: Any) -> str:
    if not isinstance(name, dict):
        return join(flat(as_list(name)), " ")
    return _member(name, "full") or _components(name.get("components"), " ")


def _js_address(item: Any) -> str:
    if not isinstance(item, dict):
        return _member(item)
    full = item.get("full")
    if isinstance(full, str) and full.strip():
        # Kept short before it is split: a megabyte ``full`` is not scanned whole.
        lines = full[: MAX_STR * SCAN_FACTOR].splitlines()
        text = join((clean(line) for line in lines), ", ")
    else:
        text = _components(item.get("components"), ", ")
    extras = [text_of(item.get(k)) for k in ("locality", "countryCode")]
    extras = [e for e in extras if e and e not in text]
    return join([text, *extras]) if extras else text


def _is_fax(item: Any) -> bool:
    features = item.get("features") if isinstance(item, dict) else None
    if isinstance(features, dict):
        return features.get("fax") is True
    return "fax" in (f.lower() for f in strs(features))


def _jscontact(card: Card, js: dict[str, Any]) -> None:
    """Add what one JSContact card holds to ``card``, under the jCard view's field
    names. A member that is present with nothing to show counts as present and empty
    (as a blanked jCard property does)."""
    if "name" in js:
        card.add("name", _js_name(js.get("name")))
    elif "fullName" in js:  # earlier JSContact drafts
        card.add("name", _js_name(js.get("fullName")))
    if "kind" in js:
        card.add("kind", text_of(js.get("kind")))

    def each(member: str, field_name: str, text: Callable[[Any], str]) -> None:
        if member not in js:
            return
        items = _values(js.get(member))
        if not items:
            card.add(field_name, "")
        for item in items:
            card.add(field_name, text(item))

    each("organizations", "org", lambda o: join([_member(o, "name"), *_org_units(o)], " "))
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
        kind = text_of(item.get("kind")).lower() if isinstance(item, dict) else ""
        card.add("contact" if kind == "contact" else "link", _member(item, "uri", "href"))


def _org_units(org: Any) -> list[str]:
    if not isinstance(org, dict):
        return []
    return [_member(u, "name") for u in islice(as_list(org.get("units")), MAX_ITEMS)]


def entity_card(entity: dict[str, Any]) -> Card:
    """The contact fields of an entity: its jCard and every JSContact card, merged."""
    card = _card(entity.get("vcardArray"))
    for member in jscard_members(entity):
        _jscontact(card, entity[member])
    return card
