"""Sections shared by every object view: events, remarks and notices, links, the
redaction line and entity blocks (bounded at every depth by one budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from rich.text import Text

from rdapctl.cli.render.cards import entity_card
from rdapctl.cli.render.layout import heading, indented, key_values, more_line
from rdapctl.cli.render.redactions import Redactions
from rdapctl.cli.render.values import (
    LABEL_STYLE,
    MAX_CARD_VALUES,
    MAX_ENTITIES,
    MAX_ENTITY_DEPTH,
    MAX_ENTITY_TOTAL,
    MAX_EVENTS,
    MAX_LINKS,
    MAX_NOTICE_CHARS,
    MAX_NOTICE_LINES,
    MAX_NOTICES,
    MAX_REDACTION_NAMES,
    MAX_ROLES,
    MAX_STATUSES,
    REDACTED_STYLE,
    as_dict,
    as_list,
    clean,
    date_text,
    dicts_in,
    first,
    first_lines,
    join,
    more_text,
    redacted,
    strs,
    text_of,
)

if TYPE_CHECKING:
    from rich.console import Console


def status_text(obj: dict[str, Any]) -> str:
    return join(strs(obj.get("status")), limit=MAX_STATUSES)


def events_section(console: Console, obj: dict[str, Any]) -> None:
    events = as_list(obj.get("events"))
    if not events:
        return
    rows: list[tuple[str, Text | str]] = []
    for item in events[:MAX_EVENTS]:
        ev = as_dict(item)
        action = text_of(ev.get("eventAction")) or "(event)"
        when = date_text(ev.get("eventDate"))
        actor = text_of(ev.get("eventActor"))
        if actor:
            when.append(f"  by {actor}", style="dim")
        rows.append((action, when))
    heading(console, "Events")
    key_values(console, rows)
    more_line(console, len(events) - MAX_EVENTS, "events")


# Members that make an object one notice or remark (RFC 9083 section 4.3), not a map
# of them.
_NOTICE_MEMBERS = ("title", "description", "type", "links", "lang")


def _notice_items(value: Any) -> list[Any]:
    """The notices or remarks of one ``remarks``/``notices`` member, whatever its shape:
    a list of them, one object or string where a list belongs, or a map of them."""
    if isinstance(value, dict) and not any(k in value for k in _NOTICE_MEMBERS):
        return list(value.values())
    return as_list(value)


def _notice_text(item: Any) -> Text:
    """One notice or remark on one line: its title (its type when it has none) and the
    first lines of its description. A string, number or list is description alone.
    Only values are shown, never member names."""
    if isinstance(item, dict):
        heads, _ = first_lines(item.get("title"), MAX_NOTICE_LINES)
        if not heads:
            heads, _ = first_lines(item.get("type"), 1)
        head = clean(" ".join(heads))
        lines, total = first_lines(item.get("description"), MAX_NOTICE_LINES)
    else:
        head = ""
        lines, total = first_lines(item, MAX_NOTICE_LINES)
    text = Text()
    if head:
        text.append(head, style=LABEL_STYLE)
    if lines:
        body = " ".join(lines)
        if len(body) > MAX_NOTICE_CHARS:
            body = body[:MAX_NOTICE_CHARS].rstrip() + " …"
        text.append((": " if head else "") + body)
        if total > len(lines):
            more = more_text(total - len(lines), "lines")
            text.append(f" ({more})", style="dim")
    return text


def notices_section(console: Console, obj: dict[str, Any], key: str, title: str) -> None:
    """The notices or remarks under ``obj[key]``; only text from there is shown."""
    items = _notice_items(obj.get(key))
    texts = [t for t in (_notice_text(item) for item in items[:MAX_NOTICES]) if t.plain]
    if not texts and len(items) <= MAX_NOTICES:
        return
    heading(console, title)
    for text in texts:
        indented(console, text)
    more_line(console, len(items) - MAX_NOTICES, title.lower())


def links_section(console: Console, obj: dict[str, Any]) -> None:
    seen: dict[str, str] = {}  # href -> rel of its first link
    for link in dicts_in(obj.get("links")):
        href = first(link, "href", "value")
        if href and href not in seen:
            seen[href] = text_of(link.get("rel")) or "link"
    if not seen:
        return
    heading(console, "Links")
    for href, rel in islice(seen.items(), MAX_LINKS):
        indented(console, Text.assemble((rel, LABEL_STYLE), " → ", href))
    more_line(console, len(seen) - MAX_LINKS, "links")


def redaction_line(console: Console, red: Redactions) -> None:
    for label, names in (
        ("Redacted: ", red.server_names),
        ("Redacted by rdapctl: ", red.rdapctl_names),
    ):
        if names:
            text = Text.assemble((label, LABEL_STYLE))
            text.append(join(names, limit=MAX_REDACTION_NAMES), style=REDACTED_STYLE)
            console.print(text)


def public_id(entity: dict[str, Any], kind: str = "iana") -> str:
    for pid in dicts_in(entity.get("publicIds")):
        if kind in text_of(pid.get("type")).lower():
            return text_of(pid.get("identifier"))
    return ""


def entity_name(entity: dict[str, Any]) -> str:
    card = entity_card(entity)
    return (card.get("name") or card.get("org") or [text_of(entity.get("handle"))])[0]


@dataclass
class EntityBudget:
    """How many more entity blocks the view may print, at every depth together: a server
    can send 100,000 entities each nesting more, and the view stays a screenful."""

    left: int = MAX_ENTITY_TOTAL


def _entity_list(
    console: Console,
    entities: list[Any],
    path: str,
    depth: int,
    red: Redactions,
    budget: EntityBudget,
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
            entity_block(console, entity, f"{path}[{i}]", depth, red, budget)
        else:
            indented(console, Text(text_of(entity) or "(malformed entity)", style="dim"), indent)
    more_line(console, len(entities) - shown, "entities", indent)


def entity_block(
    console: Console,
    entity: dict[str, Any],
    path: str,
    depth: int,
    red: Redactions,
    budget: EntityBudget,
) -> None:
    indent = 2 + 4 * depth
    roles = strs(entity.get("roles"))
    is_redacted = red.marker(path, roles)
    card = entity_card(entity)

    head = Text("• ")
    head.append(join(roles, limit=MAX_ROLES) or "entity", style=LABEL_STYLE)
    handle = text_of(entity.get("handle"))
    if handle:
        head.append(f"  {handle}", style="dim")
    elif is_redacted("handle", "handle" in entity):
        head.append("  handle: ").append_text(redacted())
    iana = public_id(entity)
    if iana:
        head.append(f"  IANA ID {iana}")
    indented(console, head, indent)

    def part(label: str, name: str) -> Text | None:
        values = card.get(name)
        if values:
            text = Text.assemble(f"{label}: ", join(values, limit=MAX_CARD_VALUES))
            if name == "address" and is_redacted(name, False):
                text.append(" ").append_text(redacted())
            return text
        if is_redacted(name, card.present_but_empty(name)):
            return Text(f"{label}: ").append_text(redacted())
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
            indented(console, Text(" · ").join(parts), indent + 2)

    # Every item keeps its index: rdapctl's redaction paths name entities by position.
    nested = as_list(entity.get("entities"))
    if depth + 1 >= MAX_ENTITY_DEPTH:
        more_line(console, len(nested), "nested entities", indent + 2)
        return
    _entity_list(console, nested, f"{path}.entities", depth + 1, red, budget)


def entities_section(console: Console, obj: dict[str, Any], red: Redactions) -> None:
    entities = as_list(obj.get("entities"))
    if not entities:
        return
    heading(console, "Entities")
    _entity_list(console, entities, "$.entities", 0, red, EntityBudget())


def handle_text(obj: dict[str, Any], red: Redactions) -> Text:
    handle = text_of(obj.get("handle"))
    if handle:
        return Text(handle)
    return redacted() if "handle" in red.top else Text()
