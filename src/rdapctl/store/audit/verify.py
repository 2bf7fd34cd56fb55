"""Verifying a tenant's audit trail: every bad place, by file and line.

Owns: :func:`scan_trail` (what ``audit verify`` reports and what ``audit repair``
may quarantine or accept) and the kinds of problems and warnings it reports. The
format it checks is described in ``rdapctl.store.audit.format``.
Must not: write, truncate or delete anything, import typer or rich, or put key
material into any message, repr or result.
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any

from rdapctl.core.errors import ConfigError
from rdapctl.core.records import mutable_record, record
from rdapctl.store.audit.checkpoint import Checkpoint, load_checkpoint
from rdapctl.store.audit.format import (
    CHECKPOINT_NAME,
    DAY_FILE_RE,
    GAP_ACCEPTED,
    GENESIS,
    KEYRING_REPLACED,
    AuditKeys,
    Line,
    list_day_files,
    read_lines,
)

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
    problems: list[Problem] = field(default_factory=list)
    # Not tampering (e.g. the checkpoint lags after a crash); `audit repair` tidies them.
    warnings: list[Problem] = field(default_factory=list)


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
    loss: list[Problem] = field(default_factory=list)


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
