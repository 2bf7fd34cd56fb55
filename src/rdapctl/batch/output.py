"""The ``--output`` file of ``rdapctl batch``, and what ``--resume`` finds in it.

Owns opening the file (created 0600; never the input file itself; locked, so that
two runs cannot write one file), reading an earlier run's results for ``--resume``,
and mending what an interrupted run left: a torn last line is cut off, and the
lines that failed are taken out so that they are asked again. Anything else that
is not batch output is refused with the file untouched. Everything streams.

Must not: look anything up, print, or import httpx/typer/rich.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from rdapctl.core.errors import RdapctlError, UsageError
from rdapctl.rdap.envelope import ANSWERED_STATUSES, ENVELOPE_STATUSES
from rdapctl.store.locks import try_lock

_LINE_HEAD = re.compile(rb'\{"line":([1-9][0-9]{0,11}),"schema":')
_LINE_START = b'{"line":'
# A line is read in pieces of this size (the first one is all that is kept of it):
# envelopes can be megabytes, and a file that is not batch output may hold no newline.
_HEAD = 1 << 20
# The envelope's own "status" is the first one in a line: only "line", "schema",
# "query", "type" and "tenant" come before it, and no JSON string holds `,"status":"`.
_STATUS = b',"status":"'
ANSWERED = frozenset(status.encode() for status in ANSWERED_STATUSES)
_STATUSES = frozenset(status.encode() for status in ENVELOPE_STATUSES)


class OutputWriteError(RdapctlError):
    """The output file refused a write (disk full, file too large, I/O error)."""


@dataclass(slots=True)
class LineSet:
    """A compact set of line numbers (one bit each: a million lines cost 125 KB)."""

    _bits: bytearray = field(default_factory=bytearray)
    count: int = 0

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


@dataclass(slots=True)
class ResumeScan:
    """What an earlier run left in the output file."""

    answered: LineSet = field(default_factory=LineSet)
    retried: int = 0  # lines that had failed: taken out, to be asked again
    torn: bool = False  # the last line is half-written
    good_end: int = 0  # where the whole lines end
    # Two answered lines, for checking that the file belongs to this input and tenant:
    # line number -> (query, tenant) as written.
    samples: dict[int, tuple[object, object]] = field(default_factory=dict)


def open_output(path: Path, *, resume: bool, input_identity: tuple[int, int] | None) -> BinaryIO:
    """The --output file, created 0600 (it holds policy-applied RDAP data) and locked
    for this run; emptied unless resuming. Refuses the input file itself and a file
    another run is writing, before anything in it changes."""
    for _ in range(5):
        out = _open_locked(path, resume, input_identity)
        if out is not None:
            return out
    raise UsageError(f"--output {path} keeps being replaced; not writing to it")


def _open_locked(
    path: Path, resume: bool, input_identity: tuple[int, int] | None
) -> BinaryIO | None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if resume else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except IsADirectoryError:
        raise UsageError(f"--output {path} is a folder, not a file") from None
    except OSError as exc:
        raise UsageError(f"cannot write --output {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if input_identity is not None and (st.st_dev, st.st_ino) == input_identity:
            raise UsageError(
                f"--output {path} is the input file; writing to it would destroy the input",
                hint="choose another --output file",
            )
        if resume and not stat.S_ISREG(st.st_mode):
            # A pipe or a device cannot be read back (a pipe would wait for ever).
            raise UsageError(
                f"--resume reads back what --output holds, and {path} is not a regular file",
                hint="resume into a file, or run without --resume",
            )
        try:
            locked = try_lock(fd)
        except OSError as exc:
            raise UsageError(f"cannot lock --output {path}: {exc.strerror}") from None
        if not locked:
            raise UsageError(
                f"another rdapctl batch is writing to {path}",
                hint="wait for it to finish, then run again with --resume",
            )
        if not _is_at(path, st):
            # A resuming run renamed a new file over this one before we locked it: what
            # we hold is no longer the output. Open the file now there.
            os.close(fd)
            return None
        if not resume and stat.S_ISREG(st.st_mode):
            os.ftruncate(fd, 0)  # not a device or a pipe (/dev/stdout, a FIFO)
        return os.fdopen(fd, "wb", buffering=0)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


def _is_at(path: Path, st: os.stat_result) -> bool:
    try:
        now = os.stat(path)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)


def resume_scan(path: Path, max_line: int) -> ResumeScan:
    """Read the results an earlier run wrote to ``path`` (changing nothing): the lines
    answered (``ok`` or ``not_found``), the lines that failed, and a torn last line.
    A file that is not batch output, or that names lines past ``max_line`` (the
    input's line count), is a UsageError. Memory stays bounded whatever the file
    holds: a line is read in pieces of ``_HEAD`` bytes and only its first one kept."""
    scan = ResumeScan()
    # The first result line and the last one: (input line, head, file line number).
    first: tuple[int, bytes, int] | None = None
    last: tuple[int, bytes, int] | None = None
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return scan
    except OSError as exc:
        raise UsageError(f"cannot read {path} to resume: {exc.strerror}") from None
    number = 0
    try:
        with fh:
            while head := fh.readline(_HEAD):
                number += 1
                length, tail = len(head), head[-2:]
                if not head.endswith(b"\n") and len(head) == _HEAD:
                    if not head.startswith(_LINE_START):  # /dev/zero, a huge binary
                        raise _not_batch_output(path, number)
                    length, tail = _skip_rest_of_line(fh, length, tail)
                if not tail.endswith(b"\n"):
                    if not (head.startswith(_LINE_START) or _LINE_START.startswith(head)):
                        raise _not_batch_output(path, number)
                    scan.torn = True  # the last line: nothing can follow an unended line
                    break
                result = _result_of(head, tail)
                if result is None:
                    raise _not_batch_output(path, number)
                line, status = result
                if line > max_line:
                    raise UsageError(
                        f"{path} line {number} is the result of input line {line:,}, but "
                        f"the input has {max_line:,} lines; not resuming into it",
                        hint="resume with the input that run had, or choose another --output",
                    )
                if status in ANSWERED:
                    scan.answered.add(line)
                else:
                    scan.retried += 1
                if first is None:
                    first = (line, head, number)
                elif last is None or line > last[0]:
                    last = (line, head, number)
                scan.good_end += length
    except OSError as exc:
        raise UsageError(f"cannot read {path} to resume: {exc.strerror}") from None
    for sample in (first, last):  # decoded only now: two lines, not every line
        if sample is not None:
            identity = _identity(sample[1])
            if identity is None:
                raise _not_batch_output(path, sample[2])
            scan.samples[sample[0]] = identity
    return scan


def _skip_rest_of_line(fh: BinaryIO, length: int, tail: bytes) -> tuple[int, bytes]:
    """Read past the rest of a line longer than ``_HEAD``: its whole length and its
    last two bytes."""
    while more := fh.readline(_HEAD):
        length += len(more)
        tail = (tail + more)[-2:]
        if more.endswith(b"\n"):
            break
    return length, tail


def mend_for_resume(path: Path, scan: ResumeScan) -> bool:
    """Make ``path`` ready for this run to append to: cut a torn last line off (the
    run was killed mid-write), and take out the lines that failed (the file is then
    rewritten through a temporary file and a rename), so that both are asked again and
    every input line still ends with exactly one result. True when the file was
    replaced (reopen it)."""
    try:
        if scan.torn:
            with path.open("r+b") as fh:
                fh.truncate(scan.good_end)
                fh.flush()
                os.fsync(fh.fileno())
        if not scan.retried:
            return False
        _drop_failed_lines(Path(os.path.realpath(path)))
    except OSError as exc:
        raise UsageError(
            f"cannot prepare {path} to resume: {exc.strerror or exc.__class__.__name__}; "
            "it is unchanged but for a cut half-written last line",
            hint="free space or make its folder writable, or choose another --output file",
        ) from None
    return True


def _not_batch_output(path: Path, number: int) -> UsageError:
    return UsageError(
        f"{path} line {number} is not a batch result; not resuming into it",
        hint="choose another --output file, or remove this one",
    )


def _result_of(head: bytes, tail: bytes) -> tuple[int, bytes] | None:
    """(input line, status) of a batch result line, from its first bytes (``head``: the
    whole line when it is shorter than ``_HEAD``) and its last two (``tail``); None for
    anything else."""
    # Batch writes "line" first and "status" early: read both without decoding a 6 KB
    # object per line. (A line damaged in its middle passes this check; the first and
    # last result lines are decoded, see _identity.)
    match = _LINE_HEAD.match(head)
    if match is not None and tail == b"}\n":
        status = _status(head)
        if status in _STATUSES:
            return int(match.group(1)), status
    if not head.endswith(b"\n"):  # longer than _HEAD and not as batch writes it
        return None
    try:
        obj = json.loads(head)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None
    if not isinstance(obj, dict):
        return None
    number, state = obj.get("line"), obj.get("status")
    if type(number) is not int or number <= 0:
        return None
    if not isinstance(state, str) or state not in ENVELOPE_STATUSES:
        return None
    if "schema" not in obj or "tenant" not in obj or "query" not in obj:
        return None
    return number, state.encode()


def _status(raw: bytes) -> bytes:
    at = raw.find(_STATUS)
    if at < 0:
        return b""
    start = at + len(_STATUS)
    return raw[start : raw.find(b'"', start)]


def _identity(head: bytes) -> tuple[object, object] | None:
    """(query, tenant) of a result line, for :func:`check_resume_identity`; None when
    the line does not decode. Of a line longer than ``head``, only the part before
    "status" is decoded (batch writes both fields there)."""
    text = head
    if not head.endswith(b"\n"):
        at = head.find(_STATUS)
        if at > 0:
            text = head[:at] + b"}"
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    return obj.get("query"), obj.get("tenant")


def _drop_failed_lines(path: Path) -> None:
    """Rewrite ``path`` (the real file, not a link to it) without its failed lines: a
    copy beside it, then a rename, so that a crash leaves the old file or the new one,
    never half of each. Its mode and (when allowed) owner are kept; other hard links
    to it keep the old content."""
    st = path.stat()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".resume", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out, path.open("rb") as src:
            os.fchmod(out.fileno(), st.st_mode & 0o777)
            with contextlib.suppress(PermissionError):  # only root may give it away
                os.fchown(out.fileno(), st.st_uid, st.st_gid)
            while head := src.readline(_HEAD):
                # The scan checked every line just now, under the lock: a line longer
                # than the head ends as batch writes it.
                tail = head[-2:] if head.endswith(b"\n") else b"}\n"
                result = _result_of(head, tail)
                keep = result is not None and result[1] in ANSWERED
                if keep:
                    out.write(head)
                while not head.endswith(b"\n") and (head := src.readline(_HEAD)):
                    if keep:
                        out.write(head)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # The rename is done: a folder that cannot be synced (some network and FUSE file
    # systems refuse) must not be reported as a file left unchanged.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def check_resume_identity(
    scan: ResumeScan, tenant: str, expected: Mapping[int, str | None]
) -> None:
    """Refuse to resume into results of another input or another tenant: the first and
    the last answered line must be the results of this input's lines, for this tenant.
    ``expected``: for the lines in ``scan.samples``, the query this input's line is
    answered as (None: the line holds no query)."""
    for line, (query, owner) in sorted(scan.samples.items()):
        if owner != tenant:
            raise UsageError(
                f"the results in the --output file are for tenant {owner!r}, not {tenant!r}; "
                "not resuming into it",
                hint="resume with the tenant that run had, or choose another --output file",
            )
        if query != expected.get(line):
            raise UsageError(
                f"the --output file answers {query!r} for input line {line:,}, but that line "
                f"holds {expected.get(line)!r}: it is the result of another input; "
                "not resuming into it",
                hint="resume with the input that run had, or choose another --output file",
            )
