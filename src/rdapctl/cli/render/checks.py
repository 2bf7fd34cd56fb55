"""The views of ``rdapctl check``: a table of findings by severity, GitHub workflow
annotations, and the list of checks. Finding text is rdapctl's own (it quotes only
non-personal members), still made safe for a terminal and for workflow commands."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rdapctl.cli.render.values import LABEL_STYLE, as_dict, as_list, clean, text_of

_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}
_GITHUB = {"error": "error", "warning": "warning", "info": "notice"}


def render_report(result: dict[str, Any], console: Console) -> None:
    findings = [as_dict(f) for f in as_list(result.get("findings"))]
    if findings:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style=LABEL_STYLE)
        for name in ("severity", "id", "pointer", "message", "reference"):
            table.add_column(name, overflow="fold")
        for f in findings:
            severity = text_of(f.get("severity"))
            table.add_row(
                Text(severity, style=_STYLE.get(severity, "")),
                Text(text_of(f.get("id"))),
                Text(text_of(f.get("pointer")) or "(answer)"),
                Text(text_of(f.get("message"))),
                Text(text_of(f.get("reference")), style="dim"),
            )
        console.print(table)
    console.print(Text(summary_line(result), style="dim"), soft_wrap=True)


def summary_line(result: dict[str, Any]) -> str:
    """``2 errors, 1 warning, 0 info (profile rfc): URL``"""
    counts = as_dict(result.get("summary"))
    parts = []
    for severity, one, many in (("error", "error", "errors"), ("warning", "warning", "warnings")):
        n = counts.get(severity, 0)
        parts.append(f"{n} {one if n == 1 else many}")
    parts.append(f"{counts.get('info', 0)} info")
    where = clean(text_of(result.get("url") or result.get("query")), 120)
    return f"{', '.join(parts)} (profile {text_of(result.get('profile'))}): {where}"


def github_lines(result: dict[str, Any], file: Path | None) -> list[str]:
    """One workflow command per finding (``::error file=F,title=ID::POINTER: message``)."""
    lines = []
    for f in (as_dict(item) for item in as_list(result.get("findings"))):
        level = _GITHUB.get(text_of(f.get("severity")), "notice")
        props = [f"title={_property(text_of(f.get('id')))}"]
        if file is not None:
            props.insert(0, f"file={_property(str(file))}")
        pointer = text_of(f.get("pointer")) or "(answer)"
        message = f"{pointer}: {text_of(f.get('message'))} ({text_of(f.get('reference'))})"
        lines.append(f"::{level} {','.join(props)}::{_data(message)}")
    return lines


def _data(text: str) -> str:
    # GitHub's escaping of a workflow command's message.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render_list(checks: Iterable[Any], console: Console) -> None:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style=LABEL_STYLE)
    for name in ("id", "severity", "profiles", "reference", "title"):
        table.add_column(name, overflow="fold")
    for c in checks:
        table.add_row(
            c.id,
            Text(c.severity, style=_STYLE.get(c.severity, "")),
            ", ".join(c.profiles),
            Text(c.reference, style="dim"),
            c.title,
        )
    console.print(table)
