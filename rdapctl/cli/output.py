"""Writing results: JSON to stdout for scripts, rich to a terminal for people."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rdapctl.errors import UsageError


def choose_format(requested: str | None, allowed: tuple[str, ...] = ("text", "json")) -> str:
    """Text on a terminal, JSON when piped, unless asked otherwise."""
    if requested is None:
        return "text" if sys.stdout.isatty() else "json"
    fmt = requested.lower()
    if fmt not in allowed:
        raise UsageError(
            f"unknown output format {requested!r}", hint=f"one of: {', '.join(allowed)}"
        )
    return fmt


def print_json(data: Any, *, compact: bool | None = None) -> None:
    """One JSON document on stdout: indented for a person at a terminal, one compact
    line for a pipe (which the C encoder writes several times faster)."""
    if compact is None:
        compact = not sys.stdout.isatty()
    if compact:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(data, ensure_ascii=False, indent=2)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def colour_disabled(no_color: bool) -> bool:
    return no_color or "NO_COLOR" in os.environ


def console(*, no_color: bool = False, stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(
        stderr=stderr,
        no_color=colour_disabled(no_color),
        highlight=False,
        soft_wrap=False,
    )
