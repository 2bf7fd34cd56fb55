"""Writing one tenant's audit trail: the lock, the chain head, sealing records.

Owns: the tenant's audit lock, where an append continues the chain (the checkpoint,
recovered after a crash), turning prepared fields into sealed lines (the fixed
fields, ``prev``, ``mac``; see ``rdapctl.store.audit.format``) and storing the
checkpoint after them. :class:`Trail` is shared by appending
(``rdapctl.store.audit.log``) and maintenance (``rdapctl.store.audit.maintenance``).
Must not: decide fail-open (every failure raises; the caller chooses), print
anything, or write a record holding the key (refused by the day-file writer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdapctl.core.errors import AuditError
from rdapctl.store.audit.checkpoint import Checkpoint, checkpoint_bytes, load_head
from rdapctl.store.audit.dayfile import DayFileWriter
from rdapctl.store.audit.fields import AuditContext, encode_record, format_ts, random_uuid
from rdapctl.store.audit.format import (
    CHECKPOINT_NAME,
    LOCK_NAME,
    SCHEMA,
    AuditKeys,
    line_hash,
    list_day_files,
)
from rdapctl.store.locks import LockFile, LockTimeout
from rdapctl.store.paths import write_private_file

if TYPE_CHECKING:
    from rdapctl.store.audit.verify import TrailScan


class Trail:
    """One tenant's audit folder and chain, written under its lock."""

    def __init__(
        self,
        root: Path,
        directory: Path,
        tenant: str,
        keys: AuditKeys,
        context: AuditContext,
        *,
        forbidden: tuple[bytes, ...],
        clock: Callable[[], float],
        lock_timeout_s: float,
        trail_started: bool,
        mark_started: Callable[[], bool] | None,
    ) -> None:
        """``trail_started``: the tenant's keyring says its trail was started (so a trail
        that is gone whole is "missing"); ``mark_started`` records that in the keyring
        before the first write and returns whether it already said so."""
        self.root = root
        self.dir = directory
        self.tenant = tenant
        self.keys = keys
        self.clock = clock
        self.trail_started = trail_started
        self._mark_started = None if trail_started else mark_started
        self._forbidden = forbidden
        self._context = context
        self._context_fields = dict(context.fields)  # a dict merges faster than a proxy
        self._record_mac = hmac.new(keys.record, digestmod=hashlib.sha256)
        self._lock_timeout_s = lock_timeout_s
        # Built once: json.dumps with options builds a new encoder on every call. No
        # cycle check (records are flat dicts built per call; see rdapctl.core.jsontext).
        self._encode = json.JSONEncoder(
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            check_circular=False,
        ).encode
        self._ts_second: tuple[int, str] = (-1, "")

    @contextmanager
    def lock(self) -> Iterator[None]:
        """The tenant's audit lock, waited for ``lock_timeout_s`` at most."""
        with LockFile.open(self.dir / LOCK_NAME) as lock:
            try:
                lock.lock(self._lock_timeout_s)
            except LockTimeout:
                raise AuditError(
                    f"timed out after {self._lock_timeout_s:g}s waiting for the "
                    f"audit lock of tenant {self.tenant}",
                    hint="another rdapctl process is writing; retry",
                ) from None
            yield

    def ensure_marked(self) -> None:
        """Before the first write: the keyring records that the trail is started (once)."""
        mark = self._mark_started
        if mark is not None:
            # A checkpoint of the empty chain first: a first write that then fails (a
            # full disk, a crash) leaves "0 records" or a checkpoint behind its records,
            # both of which the next write recovers from, never "trail missing".
            if not os.path.lexists(self.dir / CHECKPOINT_NAME) and not list_day_files(self.dir):
                self.store_checkpoint(Checkpoint())
            if mark():
                self.trail_started = True  # another process started it meanwhile
            self._mark_started = None

    def load_head(self) -> Checkpoint:
        """The chain head to append after (under the lock); AuditError when the trail
        disagrees with its checkpoint (see ``rdapctl.store.audit.checkpoint``)."""
        return load_head(self.dir, self.tenant, self.keys.record, trail_started=self.trail_started)

    def scan(self) -> TrailScan:
        """Every bad place of the trail (``rdapctl.store.audit.verify.scan_trail``)."""
        from rdapctl.store.audit.verify import scan_trail

        return scan_trail(self.dir, self.tenant, self.keys, trail_started=self.trail_started)

    def write(
        self, head: Checkpoint, chunk: list[tuple[str, dict[str, Any]]], *, store: bool = True
    ) -> list[dict[str, Any]]:
        """Seal ``chunk`` (prepared fields) after ``head``, advancing it, and store the
        checkpoint unless not ``store``; a ``policy_changed`` record goes first when
        the policy differs from the last record's. Call under :meth:`lock`."""
        writer = DayFileWriter(self.dir, self._forbidden)
        out: list[dict[str, Any]] = []
        try:
            for event, fields in chunk:
                if head.policy is not None and head.policy != self._context.policy:
                    change = {"old_policy": head.policy, "new_policy": self._context.policy}
                    self._seal(writer, head, "policy_changed", change)
                out.append(self._seal(writer, head, event, fields))
            writer.sync()
        finally:
            writer.close()
        if store:
            self.store_checkpoint(head)
        return out

    def _seal(
        self, writer: DayFileWriter, head: Checkpoint, event: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        ts = self._format_ts(self.clock())
        name = ts[:10] + ".jsonl"
        if head.file is not None and name < head.file:
            # The clock went back a day: keep file order = chain order; verify flags the ts.
            name = head.file
        rec: dict[str, Any] = {
            **fields,
            **self._context_fields,
            "schema": SCHEMA,
            "ts": ts,
            "id": random_uuid(),
            "event": event,
            "pid": os.getpid(),
            "prev": head.head,
        }
        if head.file is not None and name != head.file:
            rec["prev_file"] = head.file
        body = encode_record(self._encode, rec)
        signer = self._record_mac.copy()  # mac_hex, without deriving the key pads again
        signer.update(body)
        mac = signer.hexdigest()
        line = body[:-1] + b',"mac":"' + mac.encode() + b'"}\n'
        writer.write(name, line)
        head.head = line_hash(line)
        head.count += 1
        head.file = name
        head.size = writer.size
        head.ts = ts
        head.policy = self._context.policy
        rec["mac"] = mac
        return rec

    def _format_ts(self, epoch: float) -> str:
        """``format_ts``, reusing the date and time of the last second seen."""
        secs, ms = divmod(round(epoch * 1000), 1000)
        last, prefix = self._ts_second
        if secs != last:
            prefix = format_ts(secs)[:-4]
            self._ts_second = (secs, prefix)
        return f"{prefix}{ms:03d}Z"

    def store_checkpoint(self, head: Checkpoint) -> None:
        """Replace the checkpoint with ``head``, sealed (atomically, 0600)."""
        data = checkpoint_bytes(head, self.tenant, self.keys.record)
        write_private_file(self.dir / CHECKPOINT_NAME, data)
