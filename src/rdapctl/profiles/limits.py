"""Bounds a profiles file must keep before it is parsed: size and nesting.

A profiles file can come from anyone who can write it (a shared CI checkout, a
mis-set ``RDAPCTL_PROFILES``); parsing must stay cheap and never crash. ``tomllib``
recurses once per level of ``[ ]``/``{ }`` nesting (a RecursionError on deep files)
and its memory grows with the square of a dotted key's length, so both are checked
on the text first, with a scan that skips strings and comments: at most
:data:`MAX_NESTING` levels of brackets, and at most :data:`MAX_NESTING` parts in a
dotted key or table header, the deepest the profiles schema goes
(``tenants.NAME.tls.pins.HOST = [...]``). Files over :data:`MAX_PROFILE_BYTES` are
not read at all. Imports nothing heavy: shell completion uses it too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rdapctl.core.records import record

MAX_PROFILE_BYTES = 4 * 1024 * 1024
# The deepest the profiles schema nests (tests check it against PROFILE_SPEC).
MAX_NESTING = 5
# Tenants in one file: a built tenant costs kilobytes, and a 4 MB file fits 240,000.
MAX_TENANTS = 10_000

_TOKEN = re.compile(
    r'"""(?:[^\\]|\\.)*?"{3,5}'  # multi-line basic string (may end with 1-2 extra quotes)
    r"|'''.*?'{3,5}"  # multi-line literal string
    r'|"(?:[^"\\\n]|\\.)*"'  # basic string
    r"|'[^'\n]*'"  # literal string
    r"|#[^\n]*"  # comment
    r"|[\[\]{}.=,\n]",
    re.DOTALL,
)


@record
class NestingProblem:
    """Where the text first goes deeper than allowed, and how."""

    line: int
    column: int
    message: str
    expected: str


def nesting_problem(text: str, limit: int = MAX_NESTING) -> NestingProblem | None:
    """The first place ``text`` nests deeper than ``limit`` (brackets, or parts of a
    dotted key or header), or None. Works on any text, valid TOML or not."""
    depth = 0
    dots = 0
    for m in _TOKEN.finditer(text):
        piece = m.group()
        if piece in ("[", "{"):
            depth += 1
            dots = 0
            if depth > limit:
                return _problem(
                    text,
                    m.start(),
                    f"nesting deeper than the profiles schema allows (more than {limit} "
                    "levels of [ ] and { })",
                    f"at most {limit} levels of nested arrays and inline tables",
                )
        elif piece in ("]", "}"):
            depth = max(depth - 1, 0)
            dots = 0
        elif piece == ".":
            dots += 1
            if dots >= limit:
                return _problem(
                    text,
                    m.start(),
                    f"a dotted key or table header deeper than the profiles schema allows "
                    f"(more than {limit} parts)",
                    f"keys of at most {limit} parts, such as tenants.NAME.tls.pins.HOST",
                )
        elif piece in ("=", ",", "\n"):
            dots = 0
    return None


def _problem(text: str, offset: int, message: str, expected: str) -> NestingProblem:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return NestingProblem(line, column, message, expected)


def read_profile_bytes(path: Path) -> tuple[bytes | None, str | None]:
    """(content, None), or (None, why not): missing, a folder, unreadable, or larger
    than :data:`MAX_PROFILE_BYTES` (never more than that is read, so a device or a
    growing file cannot make rdapctl read without end)."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(MAX_PROFILE_BYTES + 1) if size <= MAX_PROFILE_BYTES else b""
    except FileNotFoundError:
        return None, "file not found"
    except IsADirectoryError:
        return None, "is a directory, not a file"
    except OSError as exc:
        return None, f"cannot read file: {exc.strerror or exc.__class__.__name__}"
    if size > MAX_PROFILE_BYTES or len(data) > MAX_PROFILE_BYTES:
        shown = max(size, len(data))
        return None, (
            f"file is larger than {MAX_PROFILE_BYTES // (1024 * 1024)} MB "
            f"({shown} bytes); profiles files are refused above that size"
        )
    return data, None


__all__ = [
    "MAX_NESTING",
    "MAX_PROFILE_BYTES",
    "MAX_TENANTS",
    "NestingProblem",
    "nesting_problem",
    "read_profile_bytes",
]
