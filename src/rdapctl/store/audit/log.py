"""The tamper-evident audit trail of one tenant, as its users see it.

:class:`AuditLog` appends records (one lock, one fsync and one checkpoint per chunk),
reads them back, verifies the trail and runs its maintenance, and sends critical
events to syslog. How a record is built is in ``rdapctl.store.audit.fields``, how it
is sealed and written in ``rdapctl.store.audit.trail``, the format in
``rdapctl.store.audit.format``.
Must not: import typer or rich, read keyrings (the caller passes the 32-byte audit
key), decide fail-open (every write failure raises :class:`AuditError`; the caller
chooses), or print anything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdapctl.core.errors import AuditError
from rdapctl.policy.tenant import Tenant
from rdapctl.store.audit.fields import AuditContext, FieldRules, is_critical, key_forms
from rdapctl.store.audit.format import derive_keys, list_day_files
from rdapctl.store.audit.trail import Trail
from rdapctl.store.paths import StatePaths, ensure_private_dir

if TYPE_CHECKING:
    from rdapctl.store.audit.maintenance import PruneResult, RepairResult
    from rdapctl.store.audit.verify import VerifyReport

DEFAULT_CHUNK = 100

SyslogSender = Callable[[str], None]


class AuditLog:
    """One tenant's audit trail. Build one per process (see :class:`AuditContext`)."""

    def __init__(
        self,
        paths: StatePaths,
        tenant: Tenant,
        audit_key: bytes,
        *,
        command: str = "",
        clock: Callable[[], float] = time.time,
        context: AuditContext | None = None,
        lock_timeout_s: float = 10.0,
        syslog_send: SyslogSender | None = None,
        trail_started: bool = False,
        mark_started: Callable[[], bool] | None = None,
        on_written: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        """``trail_started``: the tenant's keyring says its trail was started (so a trail
        that is gone whole is "missing"); ``mark_started`` records that in the keyring
        before the first write and returns whether it already said so."""
        self._tenant = tenant
        self._root: Path = paths.audit_root
        self._dir: Path = paths.tenant_audit_dir(tenant.name)
        self._keys = keys = derive_keys(audit_key)
        context = context if context is not None else AuditContext.build(tenant, command)
        self._prepare = FieldRules(tenant, context, keys).prepare
        self._trail = Trail(
            self._root,
            self._dir,
            tenant.name,
            keys,
            context,
            forbidden=key_forms(bytes(audit_key), keys),
            clock=clock,
            lock_timeout_s=lock_timeout_s,
            trail_started=trail_started,
            mark_started=mark_started,
        )
        self._syslog_send = syslog_send
        # Told of each chunk's sealed records, under the trail lock (chain order): the
        # team backend's audit stream.
        self._on_written = on_written

    def __repr__(self) -> str:
        return f"AuditLog(tenant={self._tenant.name!r}, dir={str(self._dir)!r})"

    @property
    def enabled(self) -> bool:
        return self._tenant.audit.enabled

    def path(self) -> Path:
        """The tenant's audit folder (``audit path``)."""
        return self._dir

    def day_file(self, day: date) -> Path:
        return self._dir / f"{day.isoformat()}.jsonl"

    # --- appending ------------------------------------------------------------

    def append(self, event: str, fields: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Write one record and fsync it; None when auditing is disabled."""
        written = self.append_many([(event, fields or {})])
        return written[0] if written else None

    def append_many(
        self,
        items: Iterable[tuple[str, Mapping[str, Any]]],
        *,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> list[dict[str, Any]]:
        """Write records in chunks: one lock, one fsync and one checkpoint per chunk."""
        if not self.enabled:
            return []
        out: list[dict[str, Any]] = []
        chunk: list[tuple[str, dict[str, Any]]] = []
        for event, fields in items:
            chunk.append(self._prepare(event, fields))
            if len(chunk) >= chunk_size:
                out.extend(self._write_chunk(chunk))
                chunk = []
        if chunk:
            out.extend(self._write_chunk(chunk))
        return out

    @contextmanager
    def batch(self, chunk_size: int = DEFAULT_CHUNK) -> Iterator[AuditBatch]:
        """Buffer records and write them ``chunk_size`` at a time; flushes on exit."""
        b = AuditBatch(self, chunk_size)
        try:
            yield b
        finally:
            b.flush()

    def notify_write_failure(self, error: AuditError) -> None:
        """Send an audit write failure to syslog (when enabled): it is critical."""
        self._syslog("audit_write_failure", None, error.code)

    def _write_chunk(self, chunk: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        try:
            if not self._dir.is_dir():
                # ensure_private_dir makes missing parents with the umask; these two
                # hold audit data, so both are 0700.
                ensure_private_dir(self._root)
            ensure_private_dir(self._dir)
            with self._trail.lock():
                self._trail.ensure_marked()
                head = self._trail.load_head()
                out = self._trail.write(head, chunk)
                if self._on_written is not None:
                    self._on_written(out)
                for rec in out:
                    if is_critical(rec["event"]):
                        self._syslog(rec["event"], rec["id"], None)
                return out
        except AuditError as exc:
            self.notify_write_failure(exc)
            raise
        except OSError as exc:
            err = AuditError(
                f"cannot write the audit log of tenant {self._tenant.name}: "
                f"{exc.strerror or exc.__class__.__name__}",
                hint="free disk space or fix the audit folder, then retry",
            )
            self.notify_write_failure(err)
            raise err from None

    def _syslog(self, event: str, record_id: str | None, code: str | None) -> None:
        if not self._tenant.audit.syslog:
            return
        # Names and ids only: syslog is readable by more people than the audit folder.
        message = f"rdapctl audit critical event={event} tenant={self._tenant.name}"
        if record_id:
            message += f" id={record_id}"
        if code:
            message += f" code={code}"
        send = self._syslog_send or send_syslog
        with suppress(OSError):
            send(message)

    # --- reading ----------------------------------------------------------------

    def iter_records(
        self,
        since: date | None = None,
        until: date | None = None,
        event: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Complete records, oldest first, for days ``since``..``until`` (inclusive)."""
        lo = since.isoformat() if since else None
        hi = until.isoformat() if until else None
        for name in list_day_files(self._dir):
            day = name[:10]
            if (lo and day < lo) or (hi and day > hi):
                continue
            try:
                fh = (self._dir / name).open("rb")
            except FileNotFoundError:
                continue  # pruned while we read
            with fh:
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        continue
                    try:
                        rec = json.loads(raw)
                    except (ValueError, UnicodeDecodeError):
                        continue
                    if isinstance(rec, dict) and (event is None or rec.get("event") == event):
                        yield rec

    def verify(self) -> VerifyReport:
        """Check the whole trail; see ``rdapctl.store.audit.verify.scan_trail``."""
        return self._trail.scan().report

    # --- maintenance (rdapctl.store.audit.maintenance) ----------------------------

    def prune(self, now: float | None = None) -> PruneResult:
        """Remove whole day files older than ``retention_days`` and record it in the chain."""
        from rdapctl.store.audit import maintenance

        return maintenance.prune(self._trail, self._tenant.audit.retention_days, now)

    def repair(self, *, accept_loss: bool = False, reason: str | None = None) -> RepairResult:
        """Quarantine torn writes and record ``audit_repair``: nothing more.

        A checkpoint that disagrees with the files (records or the newest day file
        missing, a checkpoint missing or under another key, the whole trail gone) is an
        AuditError that changes nothing, until ``accept_loss`` (with a ``reason``)
        records an ``audit_gap_accepted`` record after the surviving records. Tampering
        inside the trail (bad MACs, broken chain, missing older files) is never accepted.
        """
        from rdapctl.store.audit import maintenance

        return maintenance.repair(self._trail, accept_loss=accept_loss, reason=reason)

    def start_segment(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """After a lost keyring: write ``keyring_replaced`` after whatever is on disk
        (see :func:`rdapctl.store.audit.maintenance.start_segment`)."""
        from rdapctl.store.audit import maintenance

        return maintenance.start_segment(self._trail, fields, self._prepare)


class AuditBatch:
    """Buffered appends for the batch command; written a chunk at a time."""

    def __init__(self, log: AuditLog, chunk_size: int) -> None:
        self._log = log
        self._chunk_size = chunk_size
        self._pending: list[tuple[str, Mapping[str, Any]]] = []
        self.written = 0

    def append(self, event: str, fields: Mapping[str, Any] | None = None) -> None:
        self._pending.append((event, fields or {}))
        if len(self._pending) >= self._chunk_size:
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            self.written += len(self._log.append_many(pending, chunk_size=self._chunk_size))


def send_syslog(message: str) -> None:
    """Send ``message`` to syslog (auth facility, warning level): names and ids only."""
    import syslog

    syslog.syslog(syslog.LOG_AUTH | syslog.LOG_WARNING, message)
