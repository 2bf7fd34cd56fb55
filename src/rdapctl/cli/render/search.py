"""The text view of a search envelope: one table row per result (handle, name,
status, key events, registrar or country) and a footer "N results, M pages,
truncated". Every value is server text made safe for a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rdapctl.cli.render.sections import entity_name, status_text
from rdapctl.cli.render.values import (
    LABEL_STYLE,
    as_dict,
    as_list,
    clean,
    first,
    text_of,
)

# Rows a terminal shows; -o json or jsonl has every result.
MAX_ROWS = 200
# (column, the least width it keeps): without a minimum, rich drops a column whose
# cells are short (the name) when long cells elsewhere overflow a narrow terminal.
_COLUMNS = (
    ("handle", 10),
    ("name", 16),
    ("status", 8),
    ("events", 10),
    ("registrar / country", 14),
)
_EVENT_LABELS = {"registration": "reg", "expiration": "exp", "last changed": "chg"}


def render_search(envelope: dict[str, Any], console: Console) -> None:
    results = as_list(envelope.get("results"))
    search = as_dict(envelope.get("search"))
    if results:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style=LABEL_STYLE)
        for name, least in _COLUMNS:
            table.add_column(name, no_wrap=True, overflow="ellipsis", min_width=least, max_width=40)
        for item in results[:MAX_ROWS]:
            table.add_row(*(Text(cell) for cell in result_row(item)))
        console.print(table)
    shown = f" ({MAX_ROWS} shown; -o json has all)" if len(results) > MAX_ROWS else ""
    parts = [
        f"{len(results):,} result{'s' if len(results) != 1 else ''}{shown}",
        f"{search.get('pages', 0)} page{'s' if search.get('pages') != 1 else ''}",
    ]
    total = search.get("total")
    if isinstance(total, int) and not isinstance(total, bool):
        parts.append(f"{total:,} in all (server count)")
    if search.get("truncated"):
        parts.append("truncated")
    console.print(Text(", ".join(parts), style="dim"))


def result_row(item: Any) -> tuple[str, str, str, str, str]:
    """(handle, name, status, key events, registrar or country) of one result."""
    d = as_dict(item)
    if not d:
        return (text_of(item, 40) or "(malformed)", "", "", "", "")
    handle = text_of(d.get("handle"), 40)
    cls = text_of(d.get("objectClassName")).lower()
    if cls == "entity" or (not cls and "vcardArray" in d):
        name = entity_name(d)
    elif cls in ("ip network", "autnum"):
        name = text_of(d.get("name"))
    else:
        name = first(d, "ldhName", "unicodeName") or text_of(d.get("name"))
    return (handle, clean(name, 60), status_text(d), _events(d), _registrar_or_country(d))


def _events(d: dict[str, Any]) -> str:
    found = []
    for event in as_list(d.get("events")):
        e = as_dict(event)
        label = _EVENT_LABELS.get(text_of(e.get("eventAction")).lower())
        date = text_of(e.get("eventDate"))[:10]
        if label and date:
            found.append(f"{label} {date}")
    return clean(" ".join(found[:3]), 60)


def _registrar_or_country(d: dict[str, Any]) -> str:
    for entity in as_list(d.get("entities")):
        e = as_dict(entity)
        roles = [text_of(r).lower() for r in as_list(e.get("roles"))]
        if "registrar" in roles:
            return clean(entity_name(e), 40)
    return text_of(d.get("country"), 40)


def render_capabilities(report: dict[str, Any], console: Console) -> None:
    """The text view of ``search capabilities``: each feature declared or not, then
    reverse search properties, field sets and sorts when the server lists them."""
    console.print(Text(f"Search capabilities of {clean(text_of(report.get('server')), 100)}"))
    features = as_dict(report.get("features"))
    for feature, on in features.items():
        console.print(Text(f"  {feature:<15} {'declared' if on else 'not declared'}"))
    properties = as_list(report.get("reverse_search_properties"))
    if properties:
        console.print(Text("Reverse search properties:", style=LABEL_STYLE))
        for item in properties:
            d = as_dict(item)
            line = " ".join(
                text_of(d.get(k), 40)
                for k in ("searchableResourceType", "relatedResourceType", "property")
            )
            console.print(Text(f"  {line}"))
    for title, key in (("Field sets", "field_sets"), ("Sorts", "sorts")):
        items = as_list(report.get(key))
        if items:
            names = [
                text_of(as_dict(i).get("name") if isinstance(i, dict) else i, 40) for i in items
            ]
            console.print(Text(f"{title}: {', '.join(names)}"))
