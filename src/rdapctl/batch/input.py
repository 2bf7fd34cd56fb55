"""Batch input: reading query lines.

Owns the input line grammar (blank lines and ``#`` comments skipped, an optional
``type:`` prefix, ``search:`` lines), and counting query lines before any lookup (standard input is
spooled to a private temporary file so it can be counted and then streamed).
Everything streams: memory does not grow with the input. The output file and
``--resume``: ``rdapctl.batch.output``.

Must not: look anything up, print, or import httpx/typer/rich.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rdapctl.core import diagnostics
from rdapctl.core.errors import UsageError
from rdapctl.rdap.query import MAX_QUERY_CHARS

# The forced type of a "search:" line: a search, not a lookup (rdapctl.batch.search_lines).
SEARCH = "search"
# Prefix -> query type. "url:" is kept for symmetry; "https://..." needs no prefix.
PREFIXES: dict[str, str] = {
    "domain": "domain",
    "ip": "ip",
    "autnum": "autnum",
    "asn": "autnum",
    "entity": "entity",
    "nameserver": "nameserver",
    "ns": "nameserver",
    "url": "url",
    "search": SEARCH,  # "search:domains --ns-name ns1.example.net"
}
# What str.strip() removes from ASCII text (bytes.strip() leaves \x1c-\x1f).
_ASCII_SPACE = bytes(c for c in range(128) if chr(c).isspace())
_BOM = "\ufeff".encode()
# Past this many bytes a line cannot hold a query of MAX_QUERY_CHARS characters or fewer.
_LONG_LINE_BYTES = 4 * (MAX_QUERY_CHARS + 1)


@dataclass(frozen=True, slots=True)
class InputQuery:
    line: int  # 1-based line number in the input
    text: str  # the query without its prefix
    forced_type: str | None


def split_prefix(text: str) -> tuple[str, str | None]:
    """``"ns:ns1.nic.fr"`` -> ``("ns1.nic.fr", "nameserver")``; no known prefix -> as is.

    Only a known word before the first colon counts, so IPv6 addresses
    (``2001:db8::1``) and URLs (``https://...``) pass through unchanged.
    """
    head, sep, rest = text.partition(":")
    if not sep:
        return text, None
    kind = PREFIXES.get(head.strip().lower())
    if kind is None:
        return text, None
    if kind == "url" and rest.startswith("//"):
        return text, None  # "url://x" is not a prefix; let the parser judge it
    return rest.strip(), kind


def _query_text(raw: bytes) -> str | None:
    """The query a raw input line holds, or None (blank or comment). A byte-order mark
    may open any line (files joined with cat). Bytes that are not UTF-8 become U+FFFD,
    which no query may hold: the line gets its own usage error, not the whole run."""
    if len(raw) > _LONG_LINE_BYTES:
        return _long_query_text(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
    text = text.strip()
    if text.startswith("\ufeff"):
        text = text[1:].strip()
    if not text or text.startswith("#"):
        return None
    return text


def _long_query_text(raw: bytes) -> str | None:
    """A line longer than any query: its first ``MAX_QUERY_CHARS + 1`` characters, so
    that the lookup refuses it as too long without holding (or echoing) all of it."""
    stripped = raw.strip(_ASCII_SPACE)
    if stripped.startswith(_BOM):
        stripped = stripped[len(_BOM) :].strip(_ASCII_SPACE)
    if not stripped or stripped.startswith(b"#"):
        return None
    return stripped[:_LONG_LINE_BYTES].decode("utf-8", "replace")[: MAX_QUERY_CHARS + 1]


def _query_of(raw: bytes, number: int) -> InputQuery | None:
    text = _query_text(raw)
    if text is None:
        return None
    if len(text) > MAX_QUERY_CHARS:
        return InputQuery(number, text, None)  # no prefix: cut text must not look shorter
    value, kind = split_prefix(text)
    return InputQuery(number, value, kind)


def iter_queries(fh: BinaryIO) -> Iterator[InputQuery]:
    """Every query line of ``fh`` with its line number (comments and blanks skipped)."""
    for number, raw in enumerate(fh, start=1):
        query = _query_of(raw, number)
        if query is not None:
            yield query


def count_queries(fh: BinaryIO) -> tuple[int, int]:
    """How many query lines ``fh`` holds, by the same rule as :func:`iter_queries`,
    and how many lines in all (reads to the end; rewind before reuse)."""
    count = 0
    lines = 0
    for lines, raw in enumerate(fh, start=1):  # noqa: B007 (the count is the last number)
        if raw.isascii():
            # The fast path, for all but the odd line: str.strip's ASCII whitespace.
            stripped = raw.strip(_ASCII_SPACE)
            if stripped and stripped[:1] != b"#":
                count += 1
        elif _query_text(raw) is not None:
            count += 1
    return count, lines


class BatchInput:
    """A seekable view of the input (a file, or standard input spooled to disk)."""

    def __init__(self, fh: BinaryIO, spooled: bool) -> None:
        self._fh = fh
        self._spooled = spooled
        self.lines = 0  # all lines, comments and blanks included (set by count)

    @classmethod
    def open(cls, name: str, stdin: BinaryIO, tmp_dir: Path | None = None) -> BatchInput:
        if name == "-":
            # Counting must finish before the first lookup, and a pipe can be read once.
            spool = tempfile.TemporaryFile(prefix="rdapctl-batch-", dir=tmp_dir)  # noqa: SIM115
            diagnostics.detail("reading the queries from standard input")
            shutil.copyfileobj(stdin, spool, 1 << 20)
            spool.seek(0)
            return cls(spool, spooled=True)
        path = Path(name).expanduser()
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise UsageError(f"input file {name} does not exist") from None
        except IsADirectoryError:
            raise UsageError(f"input {name} is a folder, not a file") from None
        except OSError as exc:
            raise UsageError(f"cannot read input file {name}: {exc.strerror}") from None
        return cls(fh, spooled=False)

    def count(self) -> int:
        """The query lines (and, in ``lines``, all lines) of the input."""
        self._fh.seek(0)
        try:
            total, self.lines = count_queries(self._fh)
            return total
        finally:
            self._fh.seek(0)

    def identity(self) -> tuple[int, int] | None:
        """(device, inode) of an input file; None for spooled standard input."""
        if self._spooled:
            return None
        st = os.fstat(self._fh.fileno())
        return st.st_dev, st.st_ino

    def queries_at(self, numbers: set[int]) -> dict[int, InputQuery | None]:
        """The queries on lines ``numbers`` (None: a blank or comment line, or past the
        end); reads up to the last of them, then rewinds."""
        found: dict[int, InputQuery | None] = dict.fromkeys(numbers)
        last = max(numbers, default=0)
        self._fh.seek(0)
        try:
            for number, raw in enumerate(self._fh, start=1):
                if number > last:
                    break
                if number in found:
                    found[number] = _query_of(raw, number)
        finally:
            self._fh.seek(0)
        return found

    def queries(self) -> Iterator[InputQuery]:
        self._fh.seek(0)
        return iter_queries(self._fh)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> BatchInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
