"""Batch input and resumable output files: reading query lines, and what a previous
run already answered.

Owns the input line grammar (blank lines and ``#`` comments skipped, an optional
``type:`` prefix), counting query lines before any lookup (standard input is
spooled to a private temporary file so it can be counted and then streamed), and
reading an existing JSONL output for ``--resume`` (a torn last line from a killed
run is cut off). Everything streams: memory does not grow with the input.

Must not: look anything up, print, or import httpx/typer/rich.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rdapctl.errors import UsageError

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
}
# What str.strip() removes from ASCII text (bytes.strip() leaves \x1c-\x1f).
_ASCII_SPACE = bytes(c for c in range(128) if chr(c).isspace())
_LINE_FIELD = re.compile(rb'\{"line":([1-9][0-9]{0,11}),".*\}\n\Z', re.DOTALL)


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
    """The query a raw input line holds, or None (blank or comment). Raises
    UnicodeDecodeError. A byte-order mark may open any line (files joined with cat)."""
    text = raw.decode("utf-8").strip()
    if text.startswith("\ufeff"):
        text = text[1:].strip()
    if not text or text.startswith("#"):
        return None
    return text


def _query_of(raw: bytes, number: int) -> InputQuery | None:
    try:
        text = _query_text(raw)
    except UnicodeDecodeError:
        raise UsageError(
            f"input line {number} is not valid UTF-8", hint="convert the file to UTF-8"
        ) from None
    if text is None:
        return None
    value, kind = split_prefix(text)
    return InputQuery(number, value, kind)


def iter_queries(fh: BinaryIO) -> Iterator[InputQuery]:
    """Every query line of ``fh`` with its line number (comments and blanks skipped)."""
    for number, raw in enumerate(fh, start=1):
        query = _query_of(raw, number)
        if query is not None:
            yield query


def count_queries(fh: BinaryIO) -> int:
    """How many query lines ``fh`` holds, by the same rule as :func:`iter_queries`
    (reads to the end; rewind before reuse). A line that is not UTF-8 counts: reading
    it stops the run later, as it would have anyway."""
    count = 0
    for raw in fh:
        if raw.isascii():
            # The fast path, for all but the odd line: str.strip's ASCII whitespace.
            stripped = raw.strip(_ASCII_SPACE)
            if stripped and stripped[:1] != b"#":
                count += 1
            continue
        try:
            if _query_text(raw) is not None:
                count += 1
        except UnicodeDecodeError:
            count += 1
    return count


class BatchInput:
    """A seekable view of the input (a file, or standard input spooled to disk)."""

    def __init__(self, fh: BinaryIO, spooled: bool) -> None:
        self._fh = fh
        self._spooled = spooled

    @classmethod
    def open(cls, name: str, stdin: BinaryIO, tmp_dir: Path | None = None) -> BatchInput:
        if name == "-":
            # Counting must finish before the first lookup, and a pipe can be read once.
            spool = tempfile.TemporaryFile(prefix="rdapctl-batch-", dir=tmp_dir)  # noqa: SIM115
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
        self._fh.seek(0)
        try:
            return count_queries(self._fh)
        finally:
            self._fh.seek(0)

    def queries(self) -> Iterator[InputQuery]:
        self._fh.seek(0)
        return iter_queries(self._fh)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> BatchInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LineSet:
    """A compact set of line numbers (one bit each: a million lines cost 125 KB)."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self.count = 0

    def add(self, line: int) -> None:
        index, bit = divmod(line, 8)
        if index >= len(self._bits):
            self._bits.extend(bytes(index - len(self._bits) + 1024))
        if not self._bits[index] & (1 << bit):
            self._bits[index] |= 1 << bit
            self.count += 1

    def __contains__(self, line: int) -> bool:
        index, bit = divmod(line, 8)
        return index < len(self._bits) and bool(self._bits[index] & (1 << bit))


def answered_lines(path: Path) -> LineSet:
    """The input lines an earlier run already wrote to ``path`` (JSONL with ``line``).

    A torn last line (the run was killed mid-write) is cut off the file, so the
    next line appended starts cleanly. A damaged line elsewhere is a UsageError:
    that file was not written by an interrupted batch and is not touched.
    """
    done = LineSet()
    try:
        fh = path.open("r+b")
    except FileNotFoundError:
        return done
    except OSError as exc:
        raise UsageError(f"cannot read {path} to resume: {exc.strerror}") from None
    with fh:
        good_end = 0
        for number, raw in enumerate(fh, start=1):
            line = _answered_line(raw)
            if line is None:
                if fh.read(1):
                    raise UsageError(
                        f"{path} line {number} is not a batch result; not resuming into it",
                        hint="choose another --output file, or remove this one",
                    )
                break
            done.add(line)
            good_end += len(raw)
        if good_end != os.fstat(fh.fileno()).st_size:
            fh.truncate(good_end)
            fh.flush()
            os.fsync(fh.fileno())
    return done


def _answered_line(raw: bytes) -> int | None:
    if not raw.endswith(b"\n"):
        return None
    # Batch writes "line" first: read it without decoding a 6 KB object per line.
    match = _LINE_FIELD.match(raw)
    if match is not None:
        return int(match.group(1))
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    line = obj.get("line") if isinstance(obj, dict) else None
    return line if isinstance(line, int) and not isinstance(line, bool) and line > 0 else None
