"""The tamper-evident audit trail of one tenant: appending, reading, prune, repair.

Owns: writing records (hash chain + HMAC, see ``rdapctl.store.audit_verify`` for the exact
format), the per-tenant lock, the checkpoint, retention prune, torn-tail repair,
the fixed per-process record fields (:class:`AuditContext`) and the syslog copy of
critical events.
Must not: import typer or rich, read keyrings (the caller passes the 32-byte audit
key), decide fail-open (every write failure raises :class:`AuditError`; the caller
chooses), print anything, or let the key or personal data into a record: the
caller chooses event fields, and a record holding the key is refused.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rdapctl.core.errors import AuditError
from rdapctl.core.records import record
from rdapctl.policy.tenant import Tenant
from rdapctl.store.audit_verify import (
    CHECKPOINT_NAME,
    DAY_FILE_RE,
    GAP_ACCEPTED,
    GENESIS,
    KEYRING_REPLACED,
    LOCK_NAME,
    SCHEMA,
    AuditKeys,
    Checkpoint,
    Problem,
    TrailScan,
    VerifyReport,
    checkpoint_bytes,
    derive_keys,
    line_hash,
    list_day_files,
    load_checkpoint,
    read_lines,
    scan_trail,
)
from rdapctl.store.locks import LockFile, LockTimeout
from rdapctl.store.ownership import problem_with
from rdapctl.store.paths import StatePaths, ensure_private_dir, write_private_file

EVENTS: frozenset[str] = frozenset(
    {
        "lookup",
        "policy_denied",
        "ssrf_blocked",
        "residency_violation",
        "rate_limited",
        "cache_integrity_failure",
        "cache_clear",
        "cache_purge",
        "key_rotation",
        "bootstrap_update",
        "audit_prune",
        "audit_repair",
        "policy_changed",
        KEYRING_REPLACED,
        GAP_ACCEPTED,
    }
)
# "audit_write_failure" is never a record (the write failed); it exists for syslog.
CRITICAL_EVENTS: frozenset[str] = frozenset(
    {"ssrf_blocked", "residency_violation", "cache_integrity_failure", "audit_write_failure"}
)
NOT_SPECIFIED = "not_specified"
DEFAULT_CHUNK = 100
_PER_RECORD = frozenset({"schema", "ts", "id", "event", "pid", "prev", "prev_file", "mac"})

SyslogSender = Callable[[str], None]


def is_critical(event: str) -> bool:
    """Whether ``event`` must also reach syslog (when enabled) and a stderr warning."""
    return event in CRITICAL_EVENTS


def hash_query(audit_key: bytes, query: str) -> str:
    """Keyed hash (HMAC-SHA256 hex) of a query, stable per tenant key.

    The query is hashed exactly as given: pass the normalised form (e.g. the
    lower-cased A-label) so equal queries correlate in a SIEM.
    """
    return _hash_query(derive_keys(audit_key).query, query)


def _hash_query(query_key: bytes, query: str) -> str:
    return hmac.new(query_key, query.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def format_ts(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-11-27T15:49:27.123Z``."""
    secs, ms = divmod(round(epoch * 1000), 1000)
    t = time.gmtime(secs)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ms:03d}Z"
    )


def _actor() -> str:
    # The account of the effective uid, not $USER/$LOGNAME (which anyone can set).
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        # No passwd entry (some containers): the uid still attributes.
        return f"uid:{os.geteuid()}"


def _host() -> str:
    # os.uname() is what socket.gethostname() returns on POSIX, without importing socket.
    try:
        return os.uname().nodename or "unknown"
    except OSError:
        return "unknown"


def _or_not_specified(value: object) -> object:
    if value is None:
        return NOT_SPECIFIED
    if isinstance(value, tuple):
        return list(value)
    return value


def base_fields(tenant: Tenant, command: str) -> dict[str, Any]:
    """The fields every record of this process shares (compute once per process).

    ``command`` is the subcommand name (``"lookup"``, ``"batch"``), never argv: a
    command line can hold the query, which ``hash_queries`` must keep out.
    """
    from rdapctl import __version__

    c = tenant.compliance
    fields: dict[str, Any] = {
        "tenant": tenant.name,
        "actor": _actor(),
        "host": _host(),
        "rdapctl": __version__,
        "command": command,
        "policy": tenant.fingerprint(),
        "business_criticality": tenant.business_criticality,
        "purpose": _or_not_specified(tenant.purpose),
        "legal_basis": _or_not_specified(tenant.legal_basis),
        "data_categories": _or_not_specified(c.data_categories),
        "recipients": _or_not_specified(c.recipients),
        "transfers": _or_not_specified(c.transfers),
        "retention_days": tenant.audit.retention_days,
    }
    if c.ccpa:
        fields["do_not_sell"] = _or_not_specified(c.do_not_sell)
    return fields


@record
class AuditContext:
    """Per-process constant record fields for one tenant."""

    tenant: str
    policy: str
    fields: Mapping[str, Any]

    @classmethod
    def build(cls, tenant: Tenant, command: str) -> AuditContext:
        fields = base_fields(tenant, command)
        return cls(tenant.name, fields["policy"], MappingProxyType(fields))


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


def _repair_hint() -> str:
    return (
        "run `rdapctl audit verify`; `rdapctl audit repair` quarantines a torn tail, and"
        " `rdapctl audit repair --accept-loss --reason TEXT` accepts records known to be lost"
    )


class _DayWriter:
    """Appends whole lines to day files under the lock, one ``os.write`` per file per chunk.

    Lines are buffered until :meth:`sync` (or a change of day file), so a chunk costs one
    system call, not one per record; the buffer only ever holds whole lines, so what
    reaches the file is whole lines too, and a failed write is cut back to the old end.
    Lines holding any of ``forbidden`` (forms of key material) are refused together
    with the rest of the buffer: one search per form per chunk, not per record.
    """

    def __init__(self, directory: Path, forbidden: tuple[bytes, ...] = ()) -> None:
        self._dir = directory
        self._forbidden = forbidden
        self._fd: int | None = None
        self._name: str | None = None
        self._fresh_line = False
        self._created = False
        self._buf: list[bytes] = []
        self._flushed = 0  # bytes of the file on disk (ours included)
        self.size = 0  # the file's size once the buffer is written

    def write(self, name: str, line: bytes) -> None:
        if name != self._name:
            self._open(name)
        if self._fresh_line:
            # After a torn tail the next record starts on its own line, never glued on.
            line = b"\n" + line
            self._fresh_line = False
        self._buf.append(line)
        self.size += len(line)

    def _flush(self) -> None:
        if not self._buf:
            return
        fd = self._fd
        assert fd is not None
        data = b"".join(self._buf)
        self._buf = []
        # No form holds a line break, so none can match across two lines.
        for form in self._forbidden:
            if form in data:
                self._drop_if_new()
                raise AuditError("refused to write an audit record that contains key material")
        try:
            written = os.write(fd, data)
        except OSError:
            self._undo(fd)
            raise
        if written != len(data):
            self._undo(fd)
            raise OSError(errno.ENOSPC, "short write (disk full or file size limit)")
        self._flushed += written

    def _drop_if_new(self) -> None:
        # A refused chunk leaves no trace, not even the empty day file it opened.
        if self._created and self._flushed == 0 and self._name is not None:
            with suppress(OSError):
                os.unlink(self._dir / self._name)
            self._created = False

    def _undo(self, fd: int) -> None:
        # A partial line would read as a torn tail; drop our own bytes, nobody else's.
        self.size = self._flushed
        with suppress(OSError):
            os.ftruncate(fd, self._flushed)

    def _open(self, name: str) -> None:
        self.sync()
        self.close()
        path = self._dir / name
        existed = os.path.lexists(path)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(path, flags, 0o600)
        self._fd, self._name = fd, name
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"{name} is not a regular file")
        if (problem := problem_with(path, st, is_dir=False)) is not None:
            raise problem  # planted by another account: refused (exit 3)
        if st.st_mode & 0o777 != 0o600:
            os.fchmod(fd, 0o600)
        self.size = self._flushed = st.st_size
        self._fresh_line = st.st_size > 0 and os.pread(fd, 1, st.st_size - 1) != b"\n"
        self._created = self._created or not existed

    def sync(self) -> None:
        if self._fd is not None:
            self._flush()
            os.fsync(self._fd)
        if self._created:
            # A new day file must survive a crash as a directory entry too.
            dfd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
            self._created = False

    def close(self) -> None:
        # Lines not yet synced are dropped: the chunk failed and is reported as such.
        self._buf = []
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._name = None


# Record fields that can hold server-chosen text (URLs, reasons, messages): their
# contacts are masked for tenants that redact them (see AuditLog._prepare).
_SERVER_TEXT = ("url_path", "url", "referrals", "reason", "message", "location")


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
    ) -> None:
        """``trail_started``: the tenant's keyring says its trail was started (so a trail
        that is gone whole is "missing"); ``mark_started`` records that in the keyring
        before the first write and returns whether it already said so."""
        self._tenant = tenant
        self._trail_started = trail_started
        self._mark_started = None if trail_started else mark_started
        self._root: Path = paths.audit_root
        self._dir: Path = paths.tenant_audit_dir(tenant.name)
        self._keys: AuditKeys = derive_keys(audit_key)
        self._forbidden = _key_forms(bytes(audit_key), self._keys)
        self._context = context if context is not None else AuditContext.build(tenant, command)
        self._context_fields = dict(self._context.fields)  # a dict merges faster than a proxy
        self._record_mac = hmac.new(self._keys.record, digestmod=hashlib.sha256)
        self._reserved = _PER_RECORD | self._context.fields.keys()
        security = tenant.security
        self._masks_contacts = security.redact_pii and bool(
            {"email", "tel"} & {str(f).strip().lower() for f in security.redact_fields}
        )
        self._clock = clock
        self._lock_timeout_s = lock_timeout_s
        self._syslog_send = syslog_send
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

    def _prepare(self, event: str, fields: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        if event not in EVENTS:
            raise AuditError(f"unknown audit event {event!r}")
        clash = self._reserved & fields.keys()
        if clash:
            raise AuditError(f"audit field(s) {', '.join(sorted(clash))} are reserved")
        out = dict(fields)
        if self._masks_contacts:
            # Server-chosen URLs and messages can carry a person's contacts ("never
            # logged: personal data from responses"); the query is the user's own.
            from rdapctl.policy.redaction import mask_contacts

            for key in _SERVER_TEXT:
                value = out.get(key)
                if isinstance(value, str):
                    out[key] = mask_contacts(value)
                elif isinstance(value, list):
                    out[key] = [mask_contacts(v) if isinstance(v, str) else v for v in value]
        query = out.get("query")
        if self._tenant.audit.hash_queries and isinstance(query, str):
            # Every field, not just "query": URL paths, referral URLs, reasons and
            # messages can all spell the query out (rdapctl.store.audit_scrub).
            from rdapctl.store.audit_scrub import scrub_record

            token = _hash_query(self._keys.query, query)
            out = scrub_record(out, query, token)
            out["query"] = token
            out["query_hashed"] = True
        return event, out

    def _write_chunk(self, chunk: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        try:
            if not self._dir.is_dir():
                # ensure_private_dir makes missing parents with the umask; these two
                # hold audit data, so both are 0700.
                ensure_private_dir(self._root)
            ensure_private_dir(self._dir)
            with self._lock():
                self._ensure_marked()
                head = self._load_head()
                return self._write_locked(head, chunk)
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

    def _write_locked(
        self, head: Checkpoint, chunk: list[tuple[str, dict[str, Any]]], *, store: bool = True
    ) -> list[dict[str, Any]]:
        writer = _DayWriter(self._dir, self._forbidden)
        out: list[dict[str, Any]] = []
        try:
            for event, fields in chunk:
                if head.policy is not None and head.policy != self._context.policy:
                    change = {"old_policy": head.policy, "new_policy": self._context.policy}
                    self._write_record(writer, head, "policy_changed", change)
                out.append(self._write_record(writer, head, event, fields))
            writer.sync()
        finally:
            writer.close()
        if store:
            self._store_checkpoint(head)
        for rec in out:
            if is_critical(rec["event"]):
                self._syslog(rec["event"], rec["id"], None)
        return out

    def _write_record(
        self, writer: _DayWriter, head: Checkpoint, event: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        ts = self._format_ts(self._clock())
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
        body = _dumps(self._encode, rec)
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

    def _store_checkpoint(self, head: Checkpoint) -> None:
        data = checkpoint_bytes(head, self._tenant.name, self._keys.record)
        write_private_file(self._dir / CHECKPOINT_NAME, data)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """The tenant's audit lock, waited for ``lock_timeout_s`` at most."""
        with LockFile.open(self._dir / LOCK_NAME) as lock:
            try:
                lock.lock(self._lock_timeout_s)
            except LockTimeout:
                raise AuditError(
                    f"timed out after {self._lock_timeout_s:g}s waiting for the "
                    f"audit lock of tenant {self._tenant.name}",
                    hint="another rdapctl process is writing; retry",
                ) from None
            yield

    def _ensure_marked(self) -> None:
        """Before the first write: the keyring records that the trail is started (once)."""
        mark = self._mark_started
        if mark is not None:
            # A checkpoint of the empty chain first: a first write that then fails (a
            # full disk, a crash) leaves "0 records" or a checkpoint behind its records,
            # both of which the next write recovers from, never "trail missing".
            if not os.path.lexists(self._dir / CHECKPOINT_NAME) and not list_day_files(self._dir):
                self._store_checkpoint(Checkpoint())
            if mark():
                self._trail_started = True  # another process started it meanwhile
            self._mark_started = None

    def _load_head(self) -> Checkpoint:
        """The chain head, from the checkpoint; recovered from the files after a crash."""
        cp, error = load_checkpoint(
            self._dir / CHECKPOINT_NAME, self._tenant.name, self._keys.record
        )
        if error is not None:
            raise AuditError(
                f"audit checkpoint of tenant {self._tenant.name}: {error}", hint=_repair_hint()
            )
        names = list_day_files(self._dir)
        if cp is None:
            if names:
                raise AuditError(
                    f"audit checkpoint of tenant {self._tenant.name} is missing",
                    hint=_repair_hint(),
                )
            if self._trail_started:
                # Starting again from nothing would launder a trail deleted whole.
                # (Day files left with records but no checkpoint were refused above.)
                raise AuditError(
                    f"audit trail missing: every day file and the checkpoint of tenant"
                    f" {self._tenant.name} are gone, but its keyring says a trail was started",
                    hint=_repair_hint(),
                    code="audit_trail_missing",
                )
            return Checkpoint()
        if cp.file is None:
            return cp if not names else self._recover(cp, names, 0)
        try:
            size = os.stat(self._dir / cp.file).st_size
        except FileNotFoundError:
            size = -1
        if size < cp.size:
            raise AuditError(
                f"audit log of tenant {self._tenant.name} is shorter than its checkpoint "
                "(records removed)",
                hint=_repair_hint(),
            )
        if size == cp.size and names and names[-1] == cp.file:
            return cp
        return self._recover(cp, names, cp.size)

    def _recover(self, cp: Checkpoint, names: list[str], offset: int) -> Checkpoint:
        # Records that reached the files but not the checkpoint (crash in between).
        head = Checkpoint(cp.head, cp.count, cp.file, cp.size, cp.ts, cp.policy)
        todo = [n for n in names if cp.file is None or n >= cp.file]
        for name in todo:
            data = (self._dir / name).read_bytes()
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

    def _syslog(self, event: str, record_id: str | None, code: str | None) -> None:
        if not self._tenant.audit.syslog:
            return
        # Names and ids only: syslog is readable by more people than the audit folder.
        message = f"rdapctl audit critical event={event} tenant={self._tenant.name}"
        if record_id:
            message += f" id={record_id}"
        if code:
            message += f" code={code}"
        send = self._syslog_send or _send_syslog
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
        """Check the whole trail; see ``rdapctl.store.audit_verify.verify_trail``."""
        return self._scan().report

    def _scan(self) -> TrailScan:
        return scan_trail(
            self._dir, self._tenant.name, self._keys, trail_started=self._trail_started
        )

    # --- maintenance -------------------------------------------------------------

    def prune(self, now: float | None = None) -> PruneResult:
        """Remove whole day files older than ``retention_days`` and record it in the chain."""
        current = self._clock() if now is None else now
        today = datetime.fromtimestamp(current, UTC).date()
        cutoff = today - timedelta(days=self._tenant.audit.retention_days)
        limit = f"{cutoff.isoformat()}.jsonl"
        if not self._dir.exists():
            return PruneResult([], 0, cutoff, None)
        try:
            with self._lock():
                names = list_day_files(self._dir)
                victims = [n for n in names if n < limit]
                if not victims:
                    return PruneResult([], 0, cutoff, None)
                head = self._load_head()
                anchor: str | None = None
                removed = 0
                for name in victims:
                    for ln in read_lines(self._dir / name, name, self._keys.record):
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
                rec = self._write_locked(head, [("audit_prune", fields)], store=False)[0]
                for name in victims:
                    (self._dir / name).unlink(missing_ok=True)
                    for q in self._dir.glob(f"{name}.quarantine-*"):
                        q.unlink(missing_ok=True)
                _fsync_dir(self._dir)
                head.count -= removed
                self._store_checkpoint(head)
        except OSError as exc:
            raise AuditError(
                f"cannot prune the audit log of tenant {self._tenant.name}: {exc.strerror}"
            ) from None
        return PruneResult(victims, removed, cutoff, rec["id"])

    def repair(self, *, accept_loss: bool = False, reason: str | None = None) -> RepairResult:
        """Quarantine torn writes and record ``audit_repair``: nothing more.

        A checkpoint that disagrees with the files (records or the newest day file
        missing, a checkpoint missing or under another key, the whole trail gone) is an
        AuditError that changes nothing, until ``accept_loss`` (with a ``reason``)
        records an ``audit_gap_accepted`` record after the surviving records. Tampering
        inside the trail (bad MACs, broken chain, missing older files) is never accepted.
        """
        if accept_loss and not (reason and reason.strip()):
            raise AuditError("accepting a loss needs a reason")
        if not self._dir.exists() and not (accept_loss and self._trail_started):
            if self._trail_started:
                raise self._unrepaired(self._scan().loss)
            return RepairResult([], 0, 0, False, None)
        try:
            ensure_private_dir(self._dir)
            with self._lock():
                return self._repair_locked(accept_loss, reason)
        except OSError as exc:
            raise AuditError(
                f"cannot repair the audit log of tenant {self._tenant.name}: {exc.strerror}"
            ) from None

    def _unrepaired(self, loss: list[Problem]) -> AuditError:
        first = loss[0] if loss else None
        where = f": {first}" if first is not None else ""
        return AuditError(
            f"the audit trail of tenant {self._tenant.name} disagrees with its checkpoint"
            f" (records lost){where}; repair changed nothing",
            hint=ACCEPT_LOSS_HINT,
            code="audit_loss",
        )

    def _repair_locked(self, accept_loss: bool, reason: str | None) -> RepairResult:
        self._ensure_marked()
        scan = self._scan()
        problems = scan.report.problems
        tampered = [p for p in problems if p.kind != "torn_tail" and p not in scan.loss]
        if tampered:
            first = tampered[0]
            raise AuditError(
                f"the audit trail of tenant {self._tenant.name} was altered, not only cut"
                f" short ({first}); repair changed nothing",
                hint="restore the audit folder (or the keyring: `rdapctl keys import`) from"
                " a backup; `rdapctl audit verify` lists every place",
                code="audit_tampered",
            )
        if scan.loss and not accept_loss:
            raise self._unrepaired(scan.loss)
        quarantined, details, total = self._quarantine(scan)
        if quarantined:
            scan = self._scan()
        cp = scan.checkpoint
        rebuilt = scan.rebuilt
        if rebuilt.file is not None:
            rebuilt.size = (self._dir / rebuilt.file).stat().st_size
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
            rec = self._write_locked(rebuilt, [(GAP_ACCEPTED, fields)])[0]
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
        rec = self._write_locked(rebuilt, [("audit_repair", fields)])[0]
        return RepairResult(quarantined, len(details), total, stale, rec["id"])

    def _quarantine(self, scan: TrailScan) -> tuple[list[Path], list[dict[str, Any]], int]:
        """Move the torn segments ``scan`` found to quarantine files (under the lock)."""
        stamp = format_ts(self._clock()).replace("-", "").replace(":", "").replace(".", "")
        quarantined: list[Path] = []
        details: list[dict[str, Any]] = []
        total = 0
        by_file: dict[str, list[Any]] = {}
        for seg in scan.torn:
            by_file.setdefault(seg.file, []).append(seg)
        for name, segs in by_file.items():
            path = self._dir / name
            qpath = self._dir / f"{name}.quarantine-{stamp}"
            n = 1
            while qpath.exists():  # never overwrite earlier quarantined bytes
                qpath = self._dir / f"{name}.quarantine-{stamp}-{n}"
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
            _fsync_dir(self._dir)
        return quarantined, details, total

    def start_segment(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """After a lost keyring: write ``keyring_replaced`` after whatever is on disk.

        The records there were sealed under the lost key (their MACs cannot be checked
        any more); this record carries the hash (``old_head``, also its ``prev``) and
        count of the old chain, so verify still checks the old chain's hashes. Torn
        bytes are quarantined first; the old checkpoint's claims are kept, unverified.
        Written even when auditing is disabled: it anchors what is already there.
        """
        try:
            ensure_private_dir(self._root)
            ensure_private_dir(self._dir)
            with self._lock():
                self._ensure_marked()
                scan = self._scan()
                _, details, _ = self._quarantine(scan)
                if details:
                    scan = self._scan()
                head = scan.rebuilt
                if head.file is not None:
                    head.size = (self._dir / head.file).stat().st_size
                head.policy = None  # no policy_changed before the segment's first record
                data = {
                    **fields,
                    "old_head": head.head,
                    "old_count": head.count,
                    "old_checkpoint": _claimed_checkpoint(self._dir / CHECKPOINT_NAME),
                    "quarantined": details,
                }
                return self._write_locked(
                    head, [(KEYRING_REPLACED, self._prepare(KEYRING_REPLACED, data)[1])]
                )[0]
        except OSError as exc:
            raise AuditError(
                f"cannot start a new audit segment for tenant {self._tenant.name}:"
                f" {exc.strerror or exc.__class__.__name__}"
            ) from None


def _claimed_checkpoint(path: Path) -> dict[str, Any] | None:
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


def _dumps(encode: Callable[[Any], str], rec: Mapping[str, Any]) -> bytes:
    try:
        text = encode(rec)
    except (TypeError, ValueError, RecursionError) as exc:
        raise AuditError(f"audit record is not serialisable: {exc.__class__.__name__}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be UTF-8; escaped JSON keeps the record intact.
        return json.dumps(rec, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def random_uuid() -> str:
    """``str(uuid.uuid4())`` without building a UUID object (one per audit record)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _key_forms(key: bytes, keys: AuditKeys) -> tuple[bytes, ...]:
    forms: list[bytes] = []
    for k in (key, keys.record, keys.query):
        forms += [
            k.hex().encode(),
            k.hex().upper().encode(),
            base64.b64encode(k).rstrip(b"="),
            base64.urlsafe_b64encode(k).rstrip(b"="),
        ]
    return tuple(forms)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _send_syslog(message: str) -> None:
    import syslog

    syslog.syslog(syslog.LOG_AUTH | syslog.LOG_WARNING, message)


__all__ = [
    "CRITICAL_EVENTS",
    "DAY_FILE_RE",
    "EVENTS",
    "AuditBatch",
    "AuditContext",
    "AuditLog",
    "PruneResult",
    "RepairResult",
    "VerifyReport",
    "base_fields",
    "format_ts",
    "hash_query",
    "is_critical",
]
