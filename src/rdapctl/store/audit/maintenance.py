"""Maintenance of one tenant's audit trail: retention prune, repair, new segments.

Each operation takes the trail's lock and leaves a record of what it did in the chain:
``audit_prune`` (whole day files past ``retention_days`` removed), ``audit_repair``
(torn writes moved to quarantine files, a lagging checkpoint rebuilt),
``audit_gap_accepted`` (a loss a person accepted with a reason) and
``keyring_replaced`` (a new segment after a lost keyring). Tampering inside the
trail is never repaired: the operation changes nothing and says where to look.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rdapctl.core.errors import AuditError
from rdapctl.core.records import record
from rdapctl.store.audit.checkpoint import claimed_checkpoint
from rdapctl.store.audit.dayfile import fsync_dir
from rdapctl.store.audit.fields import format_ts
from rdapctl.store.audit.format import (
    CHECKPOINT_NAME,
    GAP_ACCEPTED,
    GENESIS,
    KEYRING_REPLACED,
    list_day_files,
    read_lines,
)
from rdapctl.store.audit.trail import Trail
from rdapctl.store.audit.verify import Problem, TrailScan
from rdapctl.store.paths import ensure_private_dir, write_private_file

# AuditLog's field rules: (event, caller's fields) -> (event, fields to record).
Prepare = Callable[[str, Mapping[str, Any]], tuple[str, dict[str, Any]]]


@record
class PruneResult:
    removed: list[str]
    records: int
    cutoff: date
    record_id: str | None


@record
class RepairResult:
    quarantined: list[Path]
    torn_segments: int
    bytes_quarantined: int
    checkpoint_rebuilt: bool
    record_id: str | None
    # The losses accepted with ``--accept-loss`` (``file:line: kind: message``).
    accepted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.quarantined) or self.checkpoint_rebuilt or bool(self.accepted)


ACCEPT_LOSS_HINT = (
    "if the records are known to be lost (e.g. a disk restore), accept it:"
    " `rdapctl audit repair --accept-loss --reason TEXT`"
)


def prune(trail: Trail, retention_days: int, now: float | None = None) -> PruneResult:
    """Remove whole day files older than ``retention_days`` and record it in the chain."""
    current = trail.clock() if now is None else now
    today = datetime.fromtimestamp(current, UTC).date()
    cutoff = today - timedelta(days=retention_days)
    limit = f"{cutoff.isoformat()}.jsonl"
    if not trail.dir.exists():
        return PruneResult([], 0, cutoff, None)
    try:
        with trail.lock():
            names = list_day_files(trail.dir)
            victims = [n for n in names if n < limit]
            if not victims:
                return PruneResult([], 0, cutoff, None)
            head = trail.load_head()
            anchor: str | None = None
            removed = 0
            for name in victims:
                for ln in read_lines(trail.dir / name, name, trail.keys.record):
                    if ln.record is not None:
                        removed += 1
                        anchor = ln.hash
            fields = {
                "pruned_files": victims,
                "pruned_records": removed,
                "anchor": anchor or GENESIS,
                "cutoff": cutoff.isoformat(),
            }
            # The record goes first: a crash before the unlinks loses nothing, and
            # the checkpoint is written once, after them, with the reduced count.
            rec = trail.write(head, [("audit_prune", fields)], store=False)[0]
            for name in victims:
                (trail.dir / name).unlink(missing_ok=True)
                for q in trail.dir.glob(f"{name}.quarantine-*"):
                    q.unlink(missing_ok=True)
            fsync_dir(trail.dir)
            head.count -= removed
            trail.store_checkpoint(head)
    except OSError as exc:
        raise AuditError(
            f"cannot prune the audit log of tenant {trail.tenant}: {exc.strerror}"
        ) from None
    return PruneResult(victims, removed, cutoff, rec["id"])


def repair(trail: Trail, *, accept_loss: bool = False, reason: str | None = None) -> RepairResult:
    """Quarantine torn writes and record ``audit_repair``: nothing more.

    A checkpoint that disagrees with the files (records or the newest day file
    missing, a checkpoint missing or under another key, the whole trail gone) is an
    AuditError that changes nothing, until ``accept_loss`` (with a ``reason``)
    records an ``audit_gap_accepted`` record after the surviving records. Tampering
    inside the trail (bad MACs, broken chain, missing older files) is never accepted.
    """
    if accept_loss and not (reason and reason.strip()):
        raise AuditError("accepting a loss needs a reason")
    if not trail.dir.exists() and not (accept_loss and trail.trail_started):
        if trail.trail_started:
            raise _unrepaired(trail, trail.scan().loss)
        return RepairResult([], 0, 0, False, None)
    try:
        ensure_private_dir(trail.dir)
        with trail.lock():
            return _repair_locked(trail, accept_loss, reason)
    except OSError as exc:
        raise AuditError(
            f"cannot repair the audit log of tenant {trail.tenant}: {exc.strerror}"
        ) from None


def _unrepaired(trail: Trail, loss: list[Problem]) -> AuditError:
    first = loss[0] if loss else None
    where = f": {first}" if first is not None else ""
    return AuditError(
        f"the audit trail of tenant {trail.tenant} disagrees with its checkpoint"
        f" (records lost){where}; repair changed nothing",
        hint=ACCEPT_LOSS_HINT,
        code="audit_loss",
    )


def _repair_locked(trail: Trail, accept_loss: bool, reason: str | None) -> RepairResult:
    trail.ensure_marked()
    scan = trail.scan()
    problems = scan.report.problems
    tampered = [p for p in problems if p.kind != "torn_tail" and p not in scan.loss]
    if tampered:
        first = tampered[0]
        raise AuditError(
            f"the audit trail of tenant {trail.tenant} was altered, not only cut"
            f" short ({first}); repair changed nothing",
            hint="restore the audit folder (or the keyring: `rdapctl keys import`) from"
            " a backup; `rdapctl audit verify` lists every place",
            code="audit_tampered",
        )
    if scan.loss and not accept_loss:
        raise _unrepaired(trail, scan.loss)
    quarantined, details, total = _quarantine(trail, scan)
    if quarantined:
        scan = trail.scan()
    cp = scan.checkpoint
    rebuilt = scan.rebuilt
    if rebuilt.file is not None:
        rebuilt.size = (trail.dir / rebuilt.file).stat().st_size
    if scan.loss:
        fields: dict[str, Any] = {
            "old_count": cp.count if cp else None,
            "old_head": cp.head if cp else None,
            "new_count": rebuilt.count,
            "new_head": rebuilt.head,
            "checkpoint_error": scan.checkpoint_error,
            "problems": [str(p) for p in scan.loss],
            "reason": reason,
            "quarantined": details,
        }
        rec = trail.write(rebuilt, [(GAP_ACCEPTED, fields)])[0]
        accepted = [str(p) for p in scan.loss]
        return RepairResult(quarantined, len(details), total, True, rec["id"], accepted)
    stale = cp is None or (cp.head, cp.count, cp.file) != (
        rebuilt.head,
        rebuilt.count,
        rebuilt.file,
    )
    if not quarantined and not stale:
        return RepairResult([], 0, 0, False, None)
    # Only a checkpoint behind the files (a crash before its update) gets here.
    fields = {
        "quarantined": details,
        "checkpoint_rebuilt": stale,
        "checkpoint_error": scan.checkpoint_error,
        "old_count": cp.count if cp else None,
        "new_count": rebuilt.count,
    }
    rec = trail.write(rebuilt, [("audit_repair", fields)])[0]
    return RepairResult(quarantined, len(details), total, stale, rec["id"])


def _quarantine(trail: Trail, scan: TrailScan) -> tuple[list[Path], list[dict[str, Any]], int]:
    """Move the torn segments ``scan`` found to quarantine files (under the lock)."""
    stamp = format_ts(trail.clock()).replace("-", "").replace(":", "").replace(".", "")
    quarantined: list[Path] = []
    details: list[dict[str, Any]] = []
    total = 0
    by_file: dict[str, list[Any]] = {}
    for seg in scan.torn:
        by_file.setdefault(seg.file, []).append(seg)
    for name, segs in by_file.items():
        path = trail.dir / name
        qpath = trail.dir / f"{name}.quarantine-{stamp}"
        n = 1
        while qpath.exists():  # never overwrite earlier quarantined bytes
            qpath = trail.dir / f"{name}.quarantine-{stamp}-{n}"
            n += 1
        blob = b"".join(s.raw if s.raw.endswith(b"\n") else s.raw + b"\n" for s in segs)
        write_private_file(qpath, blob)  # before touching the log: nothing is lost
        quarantined.append(qpath)
        data = path.read_bytes()
        keep = bytearray()
        pos = 0
        for s in segs:
            keep += data[pos : s.offset]
            pos = s.offset + len(s.raw)
        keep += data[pos:]
        if all(s.at_end for s in segs) and len(segs) == 1:
            os.truncate(path, segs[0].offset)
        else:
            write_private_file(path, bytes(keep))
        for s in segs:
            total += len(s.raw)
            details.append(
                {"file": name, "line": s.line, "bytes": len(s.raw), "quarantine": qpath.name}
            )
    if quarantined:
        fsync_dir(trail.dir)
    return quarantined, details, total


def start_segment(trail: Trail, fields: Mapping[str, Any], prepare: Prepare) -> dict[str, Any]:
    """After a lost keyring: write ``keyring_replaced`` after whatever is on disk.

    The records there were sealed under the lost key (their MACs cannot be checked
    any more); this record carries the hash (``old_head``, also its ``prev``) and
    count of the old chain, so verify still checks the old chain's hashes. Torn
    bytes are quarantined first; the old checkpoint's claims are kept, unverified.
    Written even when auditing is disabled: it anchors what is already there.
    """
    try:
        ensure_private_dir(trail.root)
        ensure_private_dir(trail.dir)
        with trail.lock():
            trail.ensure_marked()
            scan = trail.scan()
            _, details, _ = _quarantine(trail, scan)
            if details:
                scan = trail.scan()
            head = scan.rebuilt
            if head.file is not None:
                head.size = (trail.dir / head.file).stat().st_size
            head.policy = None  # no policy_changed before the segment's first record
            data = {
                **fields,
                "old_head": head.head,
                "old_count": head.count,
                "old_checkpoint": claimed_checkpoint(trail.dir / CHECKPOINT_NAME),
                "quarantined": details,
            }
            return trail.write(head, [(KEYRING_REPLACED, prepare(KEYRING_REPLACED, data)[1])])[0]
    except OSError as exc:
        raise AuditError(
            f"cannot start a new audit segment for tenant {trail.tenant}:"
            f" {exc.strerror or exc.__class__.__name__}"
        ) from None
