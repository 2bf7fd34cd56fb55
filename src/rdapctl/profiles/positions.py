"""Where keys are in a TOML text: ``tomllib`` keeps no positions, so the (already
valid) text is scanned again to map each key path, and each array item, to its line
and column. Best effort: a position not found degrades to its parent's.
"""

from __future__ import annotations

import bisect
import contextlib
import re
import tomllib
from collections.abc import Mapping

from rdapctl.profiles.findings import KeyPath


class _Locator:
    """Best-effort scanner recording where each key path (and array item) starts."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.positions: dict[KeyPath, tuple[int, int]] = {}
        self.aot_counts: dict[KeyPath, int] = {}

    def record(self, path: KeyPath, index: int) -> None:
        line = bisect.bisect_right(self.line_starts, index)
        self.positions.setdefault(path, (line, index - self.line_starts[line - 1] + 1))

    def record_key(self, base: KeyPath, parts: list[str], starts: list[int]) -> KeyPath:
        for k in range(len(parts)):
            self.record((*base, *parts[: k + 1]), starts[k])
        return (*base, *parts)

    def skip_ws(self) -> None:
        while self.i < self.n and self.s[self.i] in " \t":
            self.i += 1

    def skip_blank(self) -> None:
        while self.i < self.n:
            c = self.s[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif c == "#":
                end = self.s.find("\n", self.i)
                self.i = self.n if end < 0 else end
            else:
                return

    def expect(self, token: str) -> None:
        self.skip_ws()
        if not self.s.startswith(token, self.i):
            raise ValueError(f"expected {token!r} at {self.i}")
        self.i += len(token)

    def key(self) -> tuple[list[str], list[int]]:
        parts: list[str] = []
        starts: list[int] = []
        while True:
            self.skip_ws()
            starts.append(self.i)
            c = self.s[self.i] if self.i < self.n else ""
            if c == '"':
                end = self._basic_end(self.i)
                parts.append(tomllib.loads("k = " + self.s[self.i : end])["k"])
                self.i = end
            elif c == "'":
                end = self.s.index("'", self.i + 1)
                parts.append(self.s[self.i + 1 : end])
                self.i = end + 1
            else:
                j = self.i
                while j < self.n and (
                    self.s[j].isascii() and (self.s[j].isalnum() or self.s[j] in "_-")
                ):
                    j += 1
                if j == self.i:
                    raise ValueError(f"no key at {self.i}")
                parts.append(self.s[self.i : j])
                self.i = j
            self.skip_ws()
            if self.i < self.n and self.s[self.i] == ".":
                self.i += 1
                continue
            return parts, starts

    def _basic_end(self, start: int) -> int:
        j = start + 1
        while self.s[j] != '"':
            j += 2 if self.s[j] == "\\" else 1
        return j + 1

    def document(self) -> None:
        current: KeyPath = ()
        while True:
            self.skip_blank()
            if self.i >= self.n:
                return
            if self.s.startswith("[[", self.i):
                self.i += 2
                parts, starts = self.key()
                self.expect("]]")
                path = self.record_key((), parts, starts)
                index = self.aot_counts.get(path, 0)
                self.aot_counts[path] = index + 1
                current = (*path, index)
                self.record(current, starts[0])
            elif self.s[self.i] == "[":
                self.i += 1
                parts, starts = self.key()
                self.expect("]")
                current = self.record_key((), parts, starts)
            else:
                parts, starts = self.key()
                path = self.record_key(current, parts, starts)
                self.expect("=")
                self.skip_ws()
                self.value(path)

    def value(self, path: KeyPath) -> None:
        s, i = self.s, self.i
        if s.startswith('"""', i):
            j = i + 3
            while not s.startswith('"""', j):
                j += 2 if s[j] == "\\" else 1
            self.i = self._extra_quotes(j + 3, '"')
        elif s.startswith("'''", i):
            self.i = self._extra_quotes(s.index("'''", i + 3) + 3, "'")
        elif s[i] == '"':
            self.i = self._basic_end(i)
        elif s[i] == "'":
            self.i = s.index("'", i + 1) + 1
        elif s[i] == "[":
            self.i += 1
            index = 0
            while True:
                self.skip_blank()
                if self.s[self.i] == "]":
                    self.i += 1
                    return
                self.record((*path, index), self.i)
                self.value((*path, index))
                index += 1
                self.skip_blank()
                if self.s[self.i] == ",":
                    self.i += 1
        elif s[i] == "{":
            self.i += 1
            while True:
                self.skip_blank()
                if self.s[self.i] == "}":
                    self.i += 1
                    return
                parts, starts = self.key()
                sub = self.record_key(path, parts, starts)
                self.expect("=")
                self.skip_ws()
                self.value(sub)
                self.skip_blank()
                if self.s[self.i] == ",":
                    self.i += 1
        else:
            while self.i < self.n and self.s[self.i] not in ",]}\r\n#":
                self.i += 1

    def _extra_quotes(self, j: int, quote: str) -> int:
        # A multi-line string may end with up to two quote characters before the delimiter.
        extra = 0
        while extra < 2 and j < self.n and self.s[j] == quote:
            j += 1
            extra += 1
        return j


def locate_keys(text: str) -> dict[KeyPath, tuple[int, int]]:
    """Map each key path (and array item index) in TOML ``text`` to its (line, column)."""
    locator = _Locator(text)
    # Best effort: a position we cannot find only degrades to the parent's position.
    with contextlib.suppress(ValueError, IndexError, tomllib.TOMLDecodeError):
        locator.document()
    return locator.positions


def position_of(
    positions: Mapping[KeyPath, tuple[int, int]], path: KeyPath
) -> tuple[int | None, int | None]:
    """(line, column) of ``path``, else of its nearest located parent, else unknown."""
    for n in range(len(path), 0, -1):
        if (pos := positions.get(path[:n])) is not None:
            return pos
    return None, None


def first_line_of(text: str, key: str) -> tuple[int | None, int | None]:
    """(line, column) of the first line that starts with ``key`` or ``[key``."""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith((key, f"[{key}")):
            return number, len(line) - len(stripped) + 1
    return None, None
