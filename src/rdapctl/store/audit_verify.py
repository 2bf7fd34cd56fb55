"""The on-disk format of a tenant's audit trail, and its verification.

Owns: the line format (what ``prev`` hashes, what ``mac`` covers), the checkpoint
format, the key derivation, reading day files, and :func:`verify_trail`.
Must not: write, truncate or delete anything (``rdapctl.store.audit`` does), import typer
or rich, or put key material into any message, repr or result.

Format (schema 1), one tenant's folder ``StatePaths.tenant_audit_dir(tenant)``:

* ``YYYY-MM-DD.jsonl``: one record per line, UTF-8, ``\\n``-terminated. A record is
  ``json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
  with ``,"mac":"<64 hex>"`` spliced in before the closing brace, so ``mac`` is
  always the last member.
* ``mac`` = HMAC-SHA256(record key, B) where B is the exact bytes of the line
  without its ``\\n`` and without the final ``,"mac":"…"`` member, i.e. the
  serialised record minus ``mac``, byte for byte as written (no re-serialisation,
  so any edited byte, even whitespace, breaks it).
* ``prev`` = SHA-256 hex of the previous record's whole line *including* its
  ``\\n``, across day files in name order; :data:`GENESIS` for the first record.
  The first record written to a new day file also carries ``prev_file`` (the
  name of the file holding the previous record), so a deleted day file is named.
* ``checkpoint.json``: the head of the chain (``head`` hash, record ``count`` in the
  surviving files, last ``file`` and its ``size``, last ``ts``, last ``policy``)
  with ``mac`` = HMAC-SHA256(record key, canonical sorted compact JSON without
  ``mac``). Rewritten atomically after each append batch.
* ``audit_prune`` records carry ``anchor`` (hash of the last removed record, i.e.
  the ``prev`` of the first surviving one) and ``pruned_files``.
* ``keyring_replaced`` (``keys init --replace-lost``) starts a segment under a new key;
  its ``prev``/``old_head`` pins the hash chain of the records before it, whose MACs
  can no longer be checked (a ``lost_key_segment`` warning).
* ``audit_gap_accepted`` (``audit repair --accept-loss``) records a loss a person
  accepted: ``old_count``/``old_head`` (the checkpoint), ``new_count``/``new_head``
  (the files), ``reason``; verify reports it as an ``accepted_gap`` warning.

The record key and the query-hash key are derived from the tenant's 32-byte audit
key with HMAC-SHA256 and fixed labels, so neither use exposes the other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterator
from dataclasses import field
from pathlib import Path
from typing import Any

from rdapctl.core.errors import AuditError, ConfigError
from rdapctl.core.records import factory, mutable_record, record
from rdapctl.store.ownership import read_private

SCHEMA = 1
GENESIS = "0" * 64
CHECKPOINT_NAME = "checkpoint.json"
LOCK_NAME = ".lock"
DAY_FILE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\.jsonl$")
AUDIT_KEY_BYTES = 32

_MAC_PREFIX = b',"mac":"'
_MAC_SUFFIX_LEN = len(_MAC_PREFIX) + 64 + 2  # ,"mac":"<64 hex>"}
_HEX = frozenset(b"0123456789abcdef")

PROBLEM_KINDS: tuple[str, ...] = (
    "invalid_json",
    "torn_tail",
    "bad_mac",
    "broken_chain",
    "time_order",
    "checkpoint_mismatch",
    "missing_file",
    "trail_missing",
    "unreadable_file",
)
# Warnings that stand for lost or unverifiable records (``audit verify --strict`` fails).
LOSS_WARNINGS: tuple[str, ...] = ("lost_key_segment", "accepted_gap")
KEYRING_REPLACED = "keyring_replaced"
GAP_ACCEPTED = "audit_gap_accepted"


@record
class AuditKeys:
    """Subkeys derived from one tenant's audit key; never shown in reprs."""

    record: bytes = field(repr=False)
    query: bytes = field(repr=False)


def derive_keys(audit_key: bytes) -> AuditKeys:
    """Split the tenant's audit key into the record-MAC key and the query-hash key."""
    if not isinstance(audit_key, bytes | bytearray) or len(audit_key) != AUDIT_KEY_BYTES:
        raise AuditError(
            f"the audit key must be {AUDIT_KEY_BYTES} bytes",
            hint="rotate or restore the tenant keyring",
        )
    key = bytes(audit_key)
    return AuditKeys(
        record=hmac.new(key, b"rdapctl/audit/record-mac/v1", hashlib.sha256).digest(),
        query=hmac.new(key, b"rdapctl/audit/query-hash/v1", hashlib.sha256).digest(),
    )


def mac_hex(key: bytes, data: bytes) -> str:
    return hmac.digest(key, data, "sha256").hex()


def line_hash(line: bytes) -> str:
    """``prev`` value for a record whose full line (with ``\\n``) is ``line``."""
    return hashlib.sha256(line).hexdigest()


def signed_part(body: bytes) -> tuple[bytes, bytes] | None:
    """Split a line (without ``\\n``) into (MAC'd bytes, mac hex); None if not our shape."""
    if len(body) < _MAC_SUFFIX_LEN + 2:
        return None
    suffix = body[-_MAC_SUFFIX_LEN:]
    if not suffix.startswith(_MAC_PREFIX) or not suffix.endswith(b'"}'):
        return None
    mac = suffix[len(_MAC_PREFIX) : len(_MAC_PREFIX) + 64]
    if not _HEX.issuperset(mac):
        return None
    return body[:-_MAC_SUFFIX_LEN] + b"}", mac


def list_day_files(directory: Path) -> list[str]:
    """Names of the day files, oldest first (quarantine files and others are ignored)."""
    try:
        names = [n for n in (e.name for e in _scandir(directory)) if DAY_FILE_RE.match(n)]
    except FileNotFoundError:
        return []
    return sorted(names)


def _scandir(directory: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(directory) as it:
        yield from it


@mutable_record
class Line:
    """One physical line of a day file, as read."""

    file: str
    lineno: int
    offset: int
    raw: bytes  # including the trailing newline when complete
    complete: bool
    record: dict[str, Any] | None
    hash: str
    mac_ok: bool


def parse_line(raw: bytes, key: bytes) -> tuple[dict[str, Any] | None, bool]:
    """(record or None when not a JSON object, whether its MAC verifies)."""
    body = raw[:-1] if raw.endswith(b"\n") else raw
    try:
        record = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, False
    if not isinstance(record, dict):
        return None, False
    split = signed_part(body)
    if split is None:
        return record, False
    signed, mac = split
    return record, hmac.compare_digest(mac_hex(key, signed).encode(), mac)


def read_lines(path: Path, name: str, key: bytes) -> list[Line]:
    """The lines of day file ``path``, read as a state file (no symlink followed, owned
    by us); ConfigError or OSError when it cannot be."""
    data = read_private(path)
    lines: list[Line] = []
    offset = 0
    lineno = 0
    size = len(data)
    while offset < size:
        end = data.find(b"\n", offset)
        complete = end != -1
        stop = end + 1 if complete else size
        raw = data[offset:stop]
        lineno += 1
        record, mac_ok = parse_line(raw, key) if complete else (None, False)
        lines.append(Line(name, lineno, offset, raw, complete, record, line_hash(raw), mac_ok))
        offset = stop
    return lines


# --- checkpoint -------------------------------------------------------------------


@mutable_record
class Checkpoint:
    """The head of one tenant's chain (mutable: the writer advances it under the lock)."""

    head: str = GENESIS
    count: int = 0
    file: str | None = None
    size: int = 0
    ts: str | None = None
    policy: str | None = None


def checkpoint_bytes(cp: Checkpoint, tenant: str, key: bytes) -> bytes:
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "tenant": tenant,
        "head": cp.head,
        "count": cp.count,
        "file": cp.file,
        "size": cp.size,
        "ts": cp.ts,
        "policy": cp.policy,
    }
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    data["mac"] = mac_hex(key, canonical.encode())
    return (json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n").encode()


def load_checkpoint(path: Path, tenant: str, key: bytes) -> tuple[Checkpoint | None, str | None]:
    """(checkpoint, None), (None, None) when absent, or (None, why it is unusable)."""
    try:
        raw = read_private(path)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"checkpoint unreadable: {exc.strerror}"
    try:
        data = json.loads(raw)
        mac = data.pop("mac")
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None, "checkpoint is not valid JSON"
    if not isinstance(mac, str) or not hmac.compare_digest(mac_hex(key, canonical.encode()), mac):
        return None, "checkpoint fails its MAC (edited, or written under another key)"
    if data.get("tenant") != tenant:
        return None, "checkpoint belongs to another tenant"
    try:
        cp = Checkpoint(
            head=str(data["head"]),
            count=int(data["count"]),
            file=data["file"],
            size=int(data["size"]),
            ts=data["ts"],
            policy=data["policy"],
        )
    except (KeyError, TypeError, ValueError):
        return None, "checkpoint lacks required fields"
    return cp, None


# --- verification -----------------------------------------------------------------


@record
class Problem:
    """One bad place: ``file:line`` (line 0 = the whole file), a kind and what is wrong."""

    file: str
    line: int
    kind: str
    message: str

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.location}: {self.kind}: {self.message}"


@mutable_record
class VerifyReport:
    ok: bool
    records: int
    files: int
    problems: list[Problem] = factory(list)
    # Not tampering (e.g. the checkpoint lags after a crash); `audit repair` tidies them.
    warnings: list[Problem] = factory(list)


@record
class TornSegment:
    """Bytes of an interrupted write that ``repair`` may move to quarantine."""

    file: str
    line: int
    offset: int
    raw: bytes
    at_end: bool


@mutable_record
class TrailScan:
    report: VerifyReport
    torn: list[TornSegment]
    names: list[str]
    rebuilt: Checkpoint
    checkpoint: Checkpoint | None
    checkpoint_error: str | None
    # The problems that are a loss at the end of the trail (the checkpoint disagrees
    # with the files, or the whole trail is gone): what ``repair --accept-loss`` accepts.
    loss: list[Problem] = factory(list)


def scan_trail(
    directory: Path, tenant: str, keys: AuditKeys, *, trail_started: bool = False
) -> TrailScan:
    """Read every day file and the checkpoint; report every bad place found.

    Records before the last ``keyring_replaced`` record whose MAC verifies were sealed
    under a lost key: their MACs cannot be checked, but their hash chain is pinned by
    that record's ``prev``, so it is checked and they are reported as a warning.
    ``trail_started``: the keyring says a trail was started, so no trail at all is a
    problem ("audit trail missing"), not an empty trail.
    """
    names = list_day_files(directory)
    entries: list[Line] = []
    unreadable: list[Problem] = []
    for name in names:
        try:
            entries.extend(read_lines(directory / name, name, keys.record))
        except (ConfigError, OSError) as exc:  # a symlink, a folder, another owner
            why = exc.message if isinstance(exc, ConfigError) else (exc.strerror or str(exc))
            unreadable.append(Problem(name, 0, "unreadable_file", why))

    boundary = -1  # index of the record that starts the segment under the current key
    prunes: list[tuple[int, dict[str, Any]]] = []
    gaps: list[int] = []
    for i, ln in enumerate(entries):
        rec = ln.record
        if rec is None:
            continue
        event = rec.get("event")
        if event == "audit_prune":
            prunes.append((i, rec))
        elif event == GAP_ACCEPTED:
            gaps.append(i)
        elif event == KEYRING_REPLACED and ln.mac_ok:
            boundary = i
    anchors: set[str] = set()
    for i, rec in prunes:
        # A prune record of the old segment is pinned by the chain (its MAC cannot be checked).
        if entries[i].mac_ok or i < boundary:
            anchor = rec.get("anchor")
            if isinstance(anchor, str):
                anchors.add(anchor)

    problems: list[Problem] = []
    warnings: list[Problem] = []
    torn: list[TornSegment] = []
    expected: str | None = None
    expected_file: str | None = None
    last_ts: str | None = None
    count = 0
    positions: dict[str, tuple[str, int, int]] = {}
    rebuilt = Checkpoint()
    lines_in: dict[str, int] = dict.fromkeys(names, 0)
    present = set(names)

    old_problems = 0
    for i, ln in enumerate(entries):
        lines_in[ln.file] = ln.lineno
        rec = ln.record
        if i == boundary:
            old_problems = len(problems)
        if rec is None:
            kind, message = _classify_unparsed(entries, i, expected)
            problems.append(Problem(ln.file, ln.lineno, kind, message))
            if kind == "torn_tail":
                at_end = i + 1 == len(entries) or entries[i + 1].file != ln.file
                torn.append(TornSegment(ln.file, ln.lineno, ln.offset, ln.raw, at_end))
            continue
        count += 1
        first_in_file = expected_file != ln.file
        problem = _check_record(
            ln, rec, expected, expected_file, first_in_file, last_ts, anchors, i < boundary
        )
        if problem is not None:
            if problem.kind == "missing_file" and problem.file in present:
                problem = Problem(ln.file, ln.lineno, "broken_chain", problem.message)
            problems.append(problem)
        expected = ln.hash
        expected_file = ln.file
        ts = rec.get("ts")
        if isinstance(ts, str) and (last_ts is None or ts > last_ts):
            last_ts = ts
        positions[ln.hash] = (ln.file, ln.lineno, count)
        rebuilt = Checkpoint(
            head=ln.hash,
            count=count,
            file=ln.file,
            size=ln.offset + len(ln.raw),
            ts=ts if isinstance(ts, str) else None,
            policy=rec.get("policy") if isinstance(rec.get("policy"), str) else None,
        )

    if boundary >= 0:
        old_count = sum(1 for e in entries[:boundary] if e.record is not None)
        warnings.append(_lost_key_warning(entries[boundary], old_count, old_problems == 0))
    for i in gaps:
        if entries[i].mac_ok or i < boundary:
            warnings.append(_gap_warning(entries[i]))
    cp, cp_error = load_checkpoint(directory / CHECKPOINT_NAME, tenant, keys.record)
    loss: list[Problem] = []
    if trail_started and count == 0 and cp is None and cp_error is None:
        # Also with day files left empty or torn: no record and no checkpoint is no trail.
        loss.append(
            Problem(
                CHECKPOINT_NAME,
                0,
                "trail_missing",
                "audit trail missing: no record and no checkpoint is left, but the"
                " keyring says a trail was started",
            )
        )
    else:
        _check_checkpoint(cp, cp_error, count, positions, lines_in, names, loss, warnings)
    problems.extend(loss)
    problems[:0] = unreadable
    report = VerifyReport(
        ok=not problems, records=count, files=len(names), problems=problems, warnings=warnings
    )
    return TrailScan(report, torn, names, rebuilt, cp, cp_error, loss)


def _lost_key_warning(ln: Line, old_count: int, intact: bool) -> Problem:
    """The warning for the records sealed under a lost key, before ``ln``."""
    state = "hash chain intact" if intact else "hash chain BROKEN (see the problems)"
    message = f"sealed under a lost key: {old_count} records, {state}"
    rec = ln.record or {}
    claimed = rec.get("old_checkpoint")
    if isinstance(claimed, dict) and claimed.get("head") != rec.get("old_head"):
        n = claimed.get("count")
        named = f"{n} records" if isinstance(n, int) and not isinstance(n, bool) else "others"
        message += f"; its old checkpoint (unverifiable) named {named}: the newest may be lost"
    return Problem(ln.file, ln.lineno, "lost_key_segment", message)


def _gap_warning(ln: Line) -> Problem:
    """The warning for an ``audit_gap_accepted`` record: who accepted what, and why."""
    rec = ln.record or {}
    old, new = rec.get("old_count"), rec.get("new_count")
    reason = str(rec.get("reason") or "")[:200]
    message = (
        f"accepted loss: the checkpoint counted {'?' if old is None else old} records,"
        f" {new} remained (by {rec.get('actor')} at {rec.get('ts')}; reason: {reason})"
    )
    return Problem(ln.file, ln.lineno, "accepted_gap", message)


def _classify_unparsed(entries: list[Line], i: int, expected: str | None) -> tuple[str, str]:
    ln = entries[i]
    if not ln.complete:
        return "torn_tail", f"incomplete last line ({len(ln.raw)} bytes, no newline)"
    # A crash leaves a prefix of a record; a later append starts on a fresh line and
    # chains to the record before the fragment. Anything else is foreign bytes.
    nxt = next((e for e in entries[i + 1 :] if e.record is not None), None)
    skipped_over = nxt is not None and nxt.record is not None and nxt.record.get("prev") == expected
    if ln.raw.startswith(b"{") and (skipped_over or nxt is None):
        return "torn_tail", f"torn record from an interrupted write ({len(ln.raw)} bytes)"
    return "invalid_json", "line is not a JSON object"


def _check_record(
    ln: Line,
    rec: dict[str, Any],
    expected: str | None,
    expected_file: str | None,
    first_in_file: bool,
    last_ts: str | None,
    anchors: set[str],
    lost_key: bool = False,
) -> Problem | None:
    if not ln.mac_ok and not lost_key:
        return Problem(
            ln.file, ln.lineno, "bad_mac", "record MAC does not verify (edited or forged)"
        )
    prev = rec.get("prev")
    prev_file = rec.get("prev_file")
    if expected is None:
        if prev == GENESIS or prev in anchors:
            pass
        elif isinstance(prev_file, str) and DAY_FILE_RE.match(prev_file):
            return Problem(
                prev_file,
                0,
                "missing_file",
                f"day file missing: {ln.file}:{ln.lineno} chains to it and no prune removed it",
            )
        else:
            return Problem(
                ln.file,
                ln.lineno,
                "broken_chain",
                "first record does not start the chain: earlier records were removed",
            )
    elif prev != expected:
        if (
            first_in_file
            and isinstance(prev_file, str)
            and prev_file != expected_file
            and DAY_FILE_RE.match(prev_file)
        ):
            return Problem(
                prev_file,
                0,
                "missing_file",
                f"day file missing: {ln.file}:{ln.lineno} chains to it",
            )
        return Problem(
            ln.file,
            ln.lineno,
            "broken_chain",
            "prev does not match the record before it (line deleted, inserted or moved)",
        )
    ts = rec.get("ts")
    if not isinstance(ts, str):
        return Problem(ln.file, ln.lineno, "time_order", "record has no timestamp")
    if last_ts is not None and ts < last_ts:
        return Problem(ln.file, ln.lineno, "time_order", f"{ts} is earlier than {last_ts}")
    if ts[:10] != ln.file[:10]:
        return Problem(ln.file, ln.lineno, "time_order", f"record dated {ts[:10]} in this file")
    return None


def _check_checkpoint(
    cp: Checkpoint | None,
    cp_error: str | None,
    count: int,
    positions: dict[str, tuple[str, int, int]],
    lines_in: dict[str, int],
    names: list[str],
    problems: list[Problem],
    warnings: list[Problem],
) -> None:
    if cp_error is not None:
        problems.append(Problem(CHECKPOINT_NAME, 0, "checkpoint_mismatch", cp_error))
        return
    if cp is None:
        if count:
            problems.append(
                Problem(CHECKPOINT_NAME, 0, "checkpoint_mismatch", "checkpoint is missing")
            )
        return
    if cp.count == 0 and cp.head == GENESIS:
        if count:
            warnings.append(
                Problem(CHECKPOINT_NAME, 0, "checkpoint_behind", "checkpoint predates every record")
            )
        return
    pos = positions.get(cp.head)
    if pos is None:
        if cp.file is not None and cp.file not in lines_in:
            problems.append(
                Problem(cp.file, 0, "missing_file", "newest day file (the checkpoint head) missing")
            )
            return
        where = cp.file if cp.file is not None else (names[-1] if names else CHECKPOINT_NAME)
        problems.append(
            Problem(
                where,
                lines_in.get(where, 0) + 1,
                "checkpoint_mismatch",
                f"records missing at the end: the checkpoint head (record {cp.count}) is gone",
            )
        )
        return
    file, lineno, index = pos
    if index != cp.count:
        problems.append(
            Problem(
                file,
                lineno,
                "checkpoint_mismatch",
                f"checkpoint counts {cp.count} records up to here, the files hold {index}",
            )
        )
    elif index < count:
        warnings.append(
            Problem(
                file,
                lineno + 1,
                "checkpoint_behind",
                f"{count - index} record(s) after the checkpoint (interrupted before its update)",
            )
        )


def verify_trail(
    directory: Path, tenant: str, keys: AuditKeys, *, trail_started: bool = False
) -> VerifyReport:
    """Check JSON validity, MACs, chain continuity, time order and the checkpoint."""
    return scan_trail(directory, tenant, keys, trail_started=trail_started).report
