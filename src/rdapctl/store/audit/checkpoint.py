"""The checkpoint of a tenant's audit trail: the head of the chain, sealed.

Owns: the checkpoint format (see ``rdapctl.store.audit.format`` for the whole
trail's), reading and writing its bytes, and finding the chain head an append
continues from, recovering records a crash left past the checkpoint.
Must not: write files (``rdapctl.store.audit.trail`` does, under the lock).
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path
from typing import Any

from rdapctl.core.errors import AuditError
from rdapctl.core.records import mutable_record
from rdapctl.store.audit.format import (
    CHECKPOINT_NAME,
    GENESIS,
    SCHEMA,
    line_hash,
    list_day_files,
    mac_hex,
)
from rdapctl.store.ownership import read_private

REPAIR_HINT = (
    "run `rdapctl audit verify`; `rdapctl audit repair` quarantines a torn tail, and"
    " `rdapctl audit repair --accept-loss --reason TEXT` accepts records known to be lost"
)


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


def claimed_checkpoint(path: Path) -> dict[str, Any] | None:
    """What a checkpoint sealed under a lost key claims (count and head), unverified."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    count, head = data.get("count"), data.get("head")
    return {
        "count": count if isinstance(count, int) and not isinstance(count, bool) else None,
        "head": head if isinstance(head, str) and len(head) == 64 else None,
    }


def load_head(directory: Path, tenant: str, key: bytes, *, trail_started: bool) -> Checkpoint:
    """The chain head, from the checkpoint; recovered from the files after a crash.

    AuditError when the checkpoint is damaged, missing beside day files, ahead of the
    files (records removed), or gone with the whole trail while ``trail_started``.
    """
    cp, error = load_checkpoint(directory / CHECKPOINT_NAME, tenant, key)
    if error is not None:
        raise AuditError(f"audit checkpoint of tenant {tenant}: {error}", hint=REPAIR_HINT)
    names = list_day_files(directory)
    if cp is None:
        if names:
            raise AuditError(
                f"audit checkpoint of tenant {tenant} is missing",
                hint=REPAIR_HINT,
            )
        if trail_started:
            # Starting again from nothing would launder a trail deleted whole.
            # (Day files left with records but no checkpoint were refused above.)
            raise AuditError(
                f"audit trail missing: every day file and the checkpoint of tenant"
                f" {tenant} are gone, but its keyring says a trail was started",
                hint=REPAIR_HINT,
                code="audit_trail_missing",
            )
        return Checkpoint()
    if cp.file is None:
        return cp if not names else _recover(directory, cp, names, 0)
    try:
        size = os.stat(directory / cp.file).st_size
    except FileNotFoundError:
        size = -1
    if size < cp.size:
        raise AuditError(
            f"audit log of tenant {tenant} is shorter than its checkpoint (records removed)",
            hint=REPAIR_HINT,
        )
    if size == cp.size and names and names[-1] == cp.file:
        return cp
    return _recover(directory, cp, names, cp.size)


def _recover(directory: Path, cp: Checkpoint, names: list[str], offset: int) -> Checkpoint:
    # Records that reached the files but not the checkpoint (crash in between).
    head = Checkpoint(cp.head, cp.count, cp.file, cp.size, cp.ts, cp.policy)
    todo = [n for n in names if cp.file is None or n >= cp.file]
    for name in todo:
        data = (directory / name).read_bytes()
        start = offset if name == cp.file else 0
        pos = start
        while True:
            end = data.find(b"\n", pos)
            if end == -1:
                break
            raw = data[pos : end + 1]
            try:
                rec = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                rec = None
            if isinstance(rec, dict):
                head.head = line_hash(raw)
                head.count += 1
                head.file = name
                head.size = end + 1
                head.ts = rec.get("ts")
                head.policy = rec.get("policy")
            pos = end + 1
    return head
