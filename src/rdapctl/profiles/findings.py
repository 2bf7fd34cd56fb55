"""Findings of a profiles check: what is wrong where, and their renderings as text,
JSON or GitHub annotations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Literal

from rdapctl.core.records import as_dict, record

Severity = Literal["error", "warning"]
KeyPath = tuple[str | int, ...]
OutputFormat = Literal["text", "json", "github"]


@record
class Finding:
    """One problem in a profiles file; ``line``/``column`` are 1-based, None when unknown."""

    file: str
    line: int | None
    column: int | None
    key_path: str
    message: str
    severity: Severity = "error"
    expected: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return as_dict(self)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (f.file, f.line is None, f.line or 0, f.column or 0, f.key_path),
    )


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def format_key_path(path: KeyPath) -> str:
    """``tenants.acme.servers.domains."co.uk"`` — TOML spelling, ``[i]`` for array items."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        seg = part if _BARE_KEY_RE.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        out = f"{out}.{seg}" if out else seg
    return out


def _location(f: Finding) -> str:
    loc = f.file
    if f.line is not None:
        loc += f":{f.line}"
        if f.column is not None:
            loc += f":{f.column}"
    return loc


def _body(f: Finding) -> str:
    text = f"{f.key_path}: {f.message}" if f.key_path else f.message
    if f.expected:
        text += f" (expected {f.expected})"
    return text


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def format_findings(findings: Iterable[Finding], fmt: OutputFormat = "text") -> str:
    """Render findings; text ends with a summary line, json is a list of objects."""
    items = list(findings)
    if fmt == "json":
        return json.dumps([f.to_dict() for f in items], indent=2, ensure_ascii=False)
    if fmt == "github":
        lines = []
        for f in items:
            props = [f"file={_gh_prop(f.file)}"]
            if f.line is not None:
                props.append(f"line={f.line}")
                if f.column is not None:
                    props.append(f"col={f.column}")
            lines.append(f"::{f.severity} {','.join(props)}::{_gh_data(_body(f))}")
        return "\n".join(lines)
    if fmt != "text":
        raise ValueError(f"unknown findings format {fmt!r}")
    lines = [f"{_location(f)}: {f.severity}: {_body(f)}" for f in items]
    errors = sum(f.severity == "error" for f in items)
    warnings = len(items) - errors
    if items:
        lines.append(f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}")
    else:
        lines.append("no problems found")
    return "\n".join(lines)
