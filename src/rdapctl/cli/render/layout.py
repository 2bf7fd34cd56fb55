"""Placing text on the console: label/value rows, headings, indented lines, titles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from rdapctl.cli.render.values import LABEL_STYLE, more_text

if TYPE_CHECKING:
    from rich.console import Console


def key_values(console: Console, rows: list[tuple[str, Text | str]], indent: int = 2) -> None:
    rows = [(k, v) for k, v in rows if (v.plain if isinstance(v, Text) else v)]
    if not rows:
        return
    table = Table.grid(padding=(0, 2))
    table.add_column(style=LABEL_STYLE, no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(Text(key), value if isinstance(value, Text) else Text(value))
    console.print(Padding(table, (0, 0, 0, indent), expand=False))


def heading(console: Console, title: str, indent: int = 0) -> None:
    console.print(Text(" " * indent + title, style="bold underline"))


def indented(console: Console, text: Text, indent: int = 2) -> None:
    console.print(Padding(text, (0, 0, 0, indent), expand=False))


def more_line(console: Console, n: int, what: str, indent: int = 2) -> None:
    if n > 0:
        indented(console, Text(more_text(n, what), style="dim"), indent)


def object_title(console: Console, kind: str, name: str) -> None:
    console.print(Text.assemble((kind, "bold cyan"), " ", (name, "bold")))
