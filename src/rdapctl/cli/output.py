"""Writing results: JSON to stdout for scripts, rich to a terminal for people."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rdapctl.core.errors import UsageError


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
    options: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 2}
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, **options)
    except ValueError:  # NaN or an infinity read from planted state: not JSON (RFC 8259)
        text = json.dumps(_finite(data), ensure_ascii=False, allow_nan=False, **options)
    sys.stdout.write(valid_unicode(text) + "\n")
    sys.stdout.flush()


def _finite(data: Any) -> Any:
    """``data`` with every float that JSON cannot carry (NaN, infinities) as null."""
    import math

    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


def valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (from argv bytes that are not UTF-8, say) replaced
    by U+FFFD, so that it can be written as UTF-8 (RFC 8259 JSON is valid Unicode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        import re

        return re.sub("[\ud800-\udfff]", "\ufffd", text)
    return text


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
