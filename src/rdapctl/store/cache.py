"""The encrypted per-tenant response cache, and HTTP freshness rules for it.

Owns one diskcache store per tenant (``StatePaths.tenant_cache_dir``), the ONLY
module that imports ``diskcache`` (lazily). Cache keys are HMAC-SHA256 (tenant
``index`` key) of the canonical request plus the tenant's policy fingerprint, so
queried names never reach the disk and a policy change makes old entries
unreachable. Values are AES-256-GCM under the tenant's active ``data`` key; the
associated data binds tenant, cache key, key id and the clear envelope header, so
an entry moved to another tenant, another key or another slot fails to open.

Batch runs open the store with ``defer_bookkeeping``: a read is then one SELECT
and nothing else; the LRU access times and hit/miss counters that diskcache would
write on every read are kept in memory and written by :meth:`TenantCache.flush_reads`
in one transaction (so eviction stays least-recently-used, a chunk late). An access
time less than ``LRU_GRANULARITY_S`` old is left as it is: batch LRU order is to the
minute, which spares a warm run a scattered page write per hit. Each thread's
batch reads go through its own read-only connection and share one read transaction
(one WAL snapshot and lock) for up to ``SNAPSHOT_READS`` reads or ``SNAPSHOT_S``
seconds; :meth:`TenantCache.end_reads` releases it when the thread goes idle.
Reads of a store diskcache has already set up, and their bookkeeping, use plain
SQLite connections, so a warm run (like a single cache hit) never imports diskcache;
values are taken only as the bytes rdapctl stores, never unpickled.

Freshness is decided against the injected clock, never diskcache's own expiry
(which is also set, on wall-clock time, only so diskcache can cull dead entries).
A damaged, tampered or unreadable entry is a miss: deleted, reported through
``on_integrity_failure``, never served and never a crash. Values live in their row,
never in files: a row naming a file (or in a mode or type rdapctl never writes) is
such an entry, and no file is opened or removed because of what a row says. Only
real corruption (SQLite: malformed, not a database) moves a store aside, keeping
one damaged copy per tenant; a full or read-only disk leaves the store as it is and
the lookup goes on without caching (``on_unavailable``, reported once).

Must not: import typer/rich, print, decide policy (the lookup pipeline decides what
is cached and passes the policy-applied value), or hold global state.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdapctl.core.errors import IntegrityError, RdapctlError
from rdapctl.core.jsontext import dumps_compact
from rdapctl.core.records import record
from rdapctl.store.ownership import open_private
from rdapctl.store.paths import DIR_MODE, FILE_MODE, StatePaths, ensure_private_dir

if TYPE_CHECKING:
    from rdapctl.policy.tenant import Tenant
    from rdapctl.store.crypto import Aead
    from rdapctl.store.keys.keyring import Keyring

_MAGIC = b"RC"
# 1: the value's JSON text. 2: a small JSON "head" line, then the value's JSON text; a
# reader that needs only the head (a batch cache hit) decodes ~0.5 KB instead of ~5 KB.
_VERSION = 1
_VERSION_HEAD = 2
_FLAG_ZLIB = 0x01
_TIMES = struct.Struct(">dd")
_REJECTED_KEY = "rdapctl:rejected"  # str: can never collide with a 32-byte HMAC key
# Batch reads refresh an entry's LRU access time only when it is at least this old.
LRU_GRANULARITY_S = 60.0
# Batch reads of a thread share a read transaction for at most this many reads or
# seconds: a SELECT in its own transaction takes and drops the WAL read lock and
# checks the WAL header every time (a third of a hit's read). Entries written by
# others meanwhile are seen at the next snapshot; a miss until then is fetched.
SNAPSHOT_READS = 64
SNAPSHOT_S = 0.02
_READER_MMAP_BYTES = 2**26  # as diskcache's own connections
# The live entry for a key, as diskcache's own get finds it (wall-clock expiry).
_SELECT_FRESH = (
    "SELECT rowid, mode, filename, value, access_time FROM Cache"
    " WHERE key = ? AND raw = 1 AND (expire_time IS NULL OR expire_time > ?)"
)
_AD_PREFIX = b"rdapctl-cache/v1\x00"
# zlib only pays when it shrinks the value noticeably; tiny values are stored as is.
_COMPRESS_MIN_BYTES = 512
# zlib's default 32 KB window and memLevel 8 cost more to set up than to compress a
# few-KB envelope (about 75 us vs 13 us here) for the same size; zlib.decompress reads
# the window size from the stream header, so entries written either way open.
_ZLIB_WBITS = 13
_ZLIB_MEMLEVEL = 6
# A JSON string literal as json.dumps(..., ensure_ascii=False) writes it.
_quote_json = json.encoder.encode_basestring  # type: ignore[attr-defined]
_decode_json = json.JSONDecoder().decode


@record
class CacheRequest:
    """What identifies a cached answer (with the tenant's policy fingerprint)."""

    query_type: str
    query: str
    server: str | None = None
    follow_referrals: bool = True


@record
class InspectedEntry:
    """One stored entry as a read-only scan sees it: its value, or why it does not open.

    ``ref`` is the start of the HMAC cache key: it names the entry in a report
    without revealing the query.
    """

    position: int
    ref: str
    value: dict[str, Any] | None = field(default=None, repr=False)
    problem: str | None = None
    gone: bool = False  # sealed under a key the keyring cannot open (retired, or foreign)
    expired: bool = False
    key_id: str | None = None


@record
class CachedEntry:
    """A fresh entry. ``value`` is None only when the caller asked for the head alone
    and the entry has one (``head``); ``plain`` is always the value's JSON text."""

    value: dict[str, Any] | None
    stored_at: float
    expires_at: float
    age_s: float
    key_id: str
    # The stored JSON text of ``value`` (batch splices it instead of re-encoding).
    plain: bytes | None = field(default=None, repr=False, compare=False)
    head: dict[str, Any] | None = field(default=None, repr=False, compare=False)


# --------------------------------------------------------------------------- freshness


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lname = name.lower()
    for key, val in headers.items():
        if key.lower() == lname:
            return val
    return None


def ttl_from_headers(headers: Mapping[str, str], default_ttl_s: int, now: float) -> int | None:
    """The TTL to cache a response for: ``default_ttl_s`` shortened (never lengthened)
    by ``Cache-Control: max-age`` (less ``Age``) or, without max-age, ``Expires``.

    None means "do not cache" (``no-store``; also ``no-cache``, since this cache
    never revalidates). 0 means already stale; :meth:`TenantCache.put` skips it.
    """
    ttl = max(0, int(default_ttl_s))
    max_age: int | None = None
    cache_control = _header(headers, "cache-control")
    if cache_control:
        for part in cache_control.split(","):
            name, _, arg = part.strip().partition("=")
            name = name.strip().lower()
            if name in ("no-store", "no-cache"):
                return None
            if name == "max-age":
                with contextlib.suppress(ValueError):
                    max_age = max(0, int(arg.strip().strip('"')))
    if max_age is not None:
        age_text = _header(headers, "age")
        age = 0
        if age_text:
            with contextlib.suppress(ValueError):
                age = max(0, int(age_text.strip()))
        return min(ttl, max(0, max_age - age))
    expires = _header(headers, "expires")
    if expires is not None:
        from rdapctl.core.httpdate import parse_http_date

        when = parse_http_date(expires)
        # RFC 9111 5.3: an invalid Expires means "already expired"
        remaining = 0 if when is None else int(when - now)
        return min(ttl, max(0, remaining))
    return ttl


def default_ttl(tenant: Tenant, http_status: int) -> int:
    """The tenant's TTL for an answer before headers: negative TTL for 404, with the
    compliance cap/floor applied."""
    return tenant.effective_negative_ttl_s if http_status == 404 else tenant.effective_cache_ttl_s


# --------------------------------------------------------------------------- store


def _looks_like_sqlite(db: Path) -> bool:
    """Whether ``db`` starts with the SQLite header (cheap; no database opened)."""
    try:
        with db.open("rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


# diskcache's inline value mode (diskcache.core.MODE_RAW): the only one rdapctl writes.
_MODE_RAW = 1
# What a read returns for a row rdapctl did not write (another mode, a filename, a value
# that is not bytes): not an envelope, so get() rejects and deletes it like any damage.
_FOREIGN = b"\x00a row rdapctl did not write"
# SQLite primary result codes that mean the file itself is damaged (not a full disk).
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_DAMAGED_SUFFIX = re.compile(r"\.damaged-\d{8}T\d{6}Z(?:-\d+)?")


def _is_corruption(exc: BaseException) -> bool:
    """Whether a store error means the database file is damaged. A full or read-only
    disk, a lock or an I/O error is not: the store is kept as it is."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        return "malformed" in text or "not a database" in text
    return False


def _private_disk_class() -> type:
    """A diskcache Disk that keeps every value inline in its row and never acts on a
    filename read from a row: diskcache's get, delete, eviction, cull, expire and clear
    paths call ``fetch`` and ``remove`` with whatever a (planted) row names."""
    import diskcache

    class PrivateDisk(diskcache.Disk):  # type: ignore[misc]
        def store(self, value: Any, read: bool, key: Any = None) -> Any:
            # rdapctl stores envelopes (bytes) and one counter (int): inline, any size.
            if type(value) is bytes and not read:
                return 0, _MODE_RAW, None, sqlite3.Binary(value)
            if type(value) is int:
                return super().store(value, False)
            raise TypeError("rdapctl's cache stores bytes only")

        def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
            # Never opens a file, never unpickles: anything else is _FOREIGN.
            return _stored_bytes(mode, filename, value)

        def remove(self, file_path: str) -> None:
            """Nothing: rdapctl writes no value files, so a filename is a planted one."""

    return PrivateDisk


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    fd = open_private(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _tighten(root: Path) -> None:
    """chmod what diskcache created: folders 0700, files 0600."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = Path(dirpath, name)
            if (path.lstat().st_mode & 0o777) != DIR_MODE:
                os.chmod(path, DIR_MODE)
        for name in filenames:
            path = Path(dirpath, name)
            with contextlib.suppress(FileNotFoundError):
                if (path.lstat().st_mode & 0o777) != FILE_MODE:
                    os.chmod(path, FILE_MODE)


class TenantCache:
    """One tenant's encrypted cache. Open with :meth:`open`; close (or use ``with``)."""

    def __init__(
        self,
        store: Any,
        directory: Path,
        tenant: Tenant,
        keyring: Keyring,
        clock: Callable[[], float],
        on_integrity_failure: Callable[[str], None],
        compress: bool,
        on_unavailable: Callable[[str], None] | None = None,
    ) -> None:
        self._store_obj = store
        # Builds the diskcache store on first use: a cache hit reads with one plain
        # SQLite query and never imports diskcache (see _read_direct).
        self._store_factory: Callable[[], Any] | None = None
        self.directory = directory
        self.tenant = tenant
        self._keyring = keyring
        self._clock = clock
        self._on_failure = on_integrity_failure
        self._on_unavailable = on_unavailable or on_integrity_failure
        self._unavailable_reported = False
        self._compress = compress
        self._fingerprint = tenant.fingerprint()
        self._key_head = f'["rdapctl-cache-key/v1",{_quote_json(tenant.name)},'
        self._key_tail = f"{_quote_json(self._fingerprint)}]"
        self._tenant_bytes = tenant.name.encode()
        # One cipher object per key id: building AESGCM is a measurable share of a hit.
        self._aeads: dict[str, Aead] = {}
        self._index_mac: tuple[bytes, hmac.HMAC] | None = None
        self._store_errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)
        # defer_bookkeeping: rowids read since the last flush_reads, and hit/miss counts.
        self._deferred = False
        self._touched: dict[int, float] = {}
        self._hits = 0
        self._misses = 0
        self._snapshot = threading.local()  # this thread's reader: con, reads left, until
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._store_lock = threading.Lock()
        self._bookkeeper: sqlite3.Connection | None = None  # flush_reads' writes
        self._bookkeeper_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TenantCache(tenant={self.tenant.name!r}, directory={str(self.directory)!r})"

    @property
    def _store(self) -> Any:
        store = self._store_obj
        if store is None and self._store_factory is not None:
            # Batch lookup threads may be the first to need it: one store, not one each.
            with self._store_lock:
                if self._store_obj is None:
                    self._store_obj = self._store_factory()
                store = self._store_obj
        return store

    @classmethod
    def open(
        cls,
        paths: StatePaths,
        tenant: Tenant,
        keyring: Keyring,
        *,
        clock: Callable[[], float] = time.time,
        on_integrity_failure: Callable[[str], None] = lambda reason: None,
        compress: bool = True,
        defer_bookkeeping: bool = False,
        on_unavailable: Callable[[str], None] | None = None,
    ) -> TenantCache:
        """Open (creating it 0700/0600) the tenant's store; a store that is not a database
        is moved aside to ``<tenant>.damaged-<UTC timestamp>`` and a new one created.

        ``defer_bookkeeping``: reads write nothing until :meth:`flush_reads` (batch).
        ``on_unavailable``: told once (default: ``on_integrity_failure``) when the store
        cannot be created or written (full or read-only disk); the cache is then a miss
        and writes are dropped, the store left as it is."""
        directory = paths.tenant_cache_dir(tenant.name)
        cache = cls(
            None,
            directory,
            tenant,
            keyring,
            clock,
            on_integrity_failure,
            compress,
            on_unavailable,
        )
        cache._deferred = defer_bookkeeping
        cache._store_factory = lambda: cls._build_store(
            cache, paths, tenant, directory, clock, on_integrity_failure
        )
        try:
            ensure_private_dir(paths.cache_root)
            if not _looks_like_sqlite(directory / "cache.db"):
                # New, empty or damaged: let diskcache create it (or move it aside) now.
                cache._store_obj = cache._store_factory()
        except (sqlite3.Error, OSError) as exc:
            cache._store_failure(exc, "cannot be opened")
        return cache

    @classmethod
    def _build_store(
        cls,
        cache: TenantCache,
        paths: StatePaths,
        tenant: Tenant,
        directory: Path,
        clock: Callable[[], float],
        on_integrity_failure: Callable[[str], None],
    ) -> Any:
        import diskcache

        settings: dict[str, Any] = {
            "eviction_policy": "least-recently-used",
            "size_limit": max(1, tenant.cache.max_size_mb) * 2**20,
            "statistics": 1,
            "disk": _private_disk_class(),
        }
        try:
            store = cls._open_store(diskcache, directory, settings)
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise  # a full or read-only disk: keep the store, go on without it
            # Under a lock and after a second try, so that two processes finding the
            # same damage do not move aside the fresh store the other just created.
            with _locked(paths.cache_root / f".{tenant.name}.lock"):
                try:
                    store = cls._open_store(diskcache, directory, settings)
                except sqlite3.DatabaseError as again:
                    if not _is_corruption(again):
                        raise
                    aside = cls._move_aside(directory, clock)
                    on_integrity_failure(
                        f"the cache store of tenant {tenant.name} was damaged; it was moved"
                        f" to {aside.name} and a new one created"
                    )
                    store = cls._open_store(diskcache, directory, settings)
        cache._store_errors = (sqlite3.Error, OSError, diskcache.Timeout)
        return store

    @staticmethod
    def _open_store(diskcache: Any, directory: Path, settings: dict[str, Any]) -> Any:
        ensure_private_dir(directory)
        # SQLite gives its -wal/-shm files the database file's mode, so creating
        # cache.db 0600 first keeps every later file private too.
        db = directory / "cache.db"
        if not db.exists():
            os.close(open_private(db, os.O_WRONLY | os.O_CREAT, FILE_MODE))
        store = diskcache.Cache(str(directory), **settings)
        _tighten(directory)
        return store

    @staticmethod
    def _move_aside(directory: Path, clock: Callable[[], float]) -> Path:
        """Rename a damaged store to ``<tenant>.damaged-<UTC timestamp>`` and delete the
        tenant's older damaged copies: one is kept, the newest (call under the lock)."""
        stamp = datetime.fromtimestamp(clock(), UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = directory.with_name(f"{directory.name}.damaged-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = directory.with_name(f"{directory.name}.damaged-{stamp}-{n}")
        # Another process may have moved it first; then there is nothing left to move.
        try:
            directory.rename(aside)
        except FileNotFoundError:
            return aside
        prefix = directory.name
        for old in directory.parent.iterdir():
            name = old.name
            if (
                old != aside
                and name.startswith(prefix)
                and _DAMAGED_SUFFIX.fullmatch(name, len(prefix))
                and not old.is_symlink()
                and old.is_dir()
            ):
                shutil.rmtree(old, ignore_errors=True)
        return aside

    @classmethod
    def inspect(
        cls, paths: StatePaths, tenant: Tenant, keyring: Keyring, *, clock: Callable[[], float]
    ) -> TenantCache:
        """A read-only view of the tenant's existing store, for :meth:`iter_entries` only.

        Opens no diskcache and creates nothing (``doctor`` must not make state).
        """
        directory = paths.tenant_cache_dir(tenant.name)
        return cls(None, directory, tenant, keyring, clock, lambda reason: None, compress=False)

    def close(self) -> None:
        """Close the store and every thread's reader (call once the threads are done)."""
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for con in readers:
            with contextlib.suppress(sqlite3.Error):
                con.close()
        if self._deferred:
            self.flush_reads()
        with self._bookkeeper_lock:
            bookkeeper, self._bookkeeper = self._bookkeeper, None
        if bookkeeper is not None:
            with contextlib.suppress(sqlite3.Error):
                bookkeeper.close()
        if self._store_obj is not None:
            self._store_obj.close()

    def __enter__(self) -> TenantCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- keys and envelopes -------------------------------------------------------------

    def cache_key(self, req: CacheRequest) -> bytes:
        """HMAC of the canonical request and policy fingerprint (what is stored on disk)."""
        # The compact JSON array ["rdapctl-cache-key/v1", tenant, type, query, server,
        # follow, fingerprint], assembled from its constant ends (one per lookup).
        quote = _quote_json
        canonical = "".join(
            (
                self._key_head,
                quote(req.query_type),
                ",",
                quote(req.query),
                ",",
                quote(req.server or ""),
                ",true," if req.follow_referrals else ",false,",
                self._key_tail,
            )
        ).encode("utf-8")
        key = self._keyring.index_key()
        keyed = self._index_mac
        if keyed is None or keyed[0] is not key:  # first use, or the keyring changed it
            keyed = self._index_mac = (key, hmac.new(key, digestmod=hashlib.sha256))
        signer = keyed[1].copy()  # hmac_sha256(key, canonical) without new key pads
        signer.update(canonical)
        return signer.digest()

    def _aad(self, cache_key: bytes, header: bytes) -> bytes:
        return _AD_PREFIX + self._tenant_bytes + b"\x00" + cache_key + b"\x00" + header

    def _aead(self, key_id: str) -> Aead | None:
        # Ask the keyring every time: a key retired since it was memoised must stop working.
        material = self._keyring.data_key(key_id)
        if material is None:
            self._aeads.pop(key_id, None)
            return None
        aead = self._aeads.get(key_id)
        if aead is None:
            from rdapctl.store.crypto import Aead

            aead = self._aeads[key_id] = Aead(material)
        return aead

    def _seal(
        self,
        cache_key: bytes,
        value: Mapping[str, Any],
        now: float,
        ttl_s: int,
        head: Mapping[str, Any] | None = None,
    ) -> bytes:
        plain = _to_json(value)
        return self._seal_plain(
            cache_key, plain, now, ttl_s, None if head is None else _to_json(head)
        )

    def _seal_plain(
        self, cache_key: bytes, plain: bytes, now: float, ttl_s: int, head: bytes | None = None
    ) -> bytes:
        """``plain``: the value's JSON text; ``head``: the JSON text of its head (version
        2), which compact JSON keeps free of line breaks, so one ends where the other starts."""
        version = _VERSION
        if head is not None:
            version = _VERSION_HEAD
            plain = head + b"\n" + plain
        flags = 0
        if self._compress and len(plain) >= _COMPRESS_MIN_BYTES:
            packer = zlib.compressobj(1, zlib.DEFLATED, _ZLIB_WBITS, _ZLIB_MEMLEVEL)
            packed = packer.compress(plain) + packer.flush()
            if len(packed) < len(plain):
                plain, flags = packed, _FLAG_ZLIB
        key_id, _ = self._keyring.active_data_key()
        aead = self._aead(key_id)
        assert aead is not None
        kid = key_id.encode("ascii")
        header = _MAGIC + bytes((version, flags, len(kid))) + kid + _TIMES.pack(now, now + ttl_s)
        return header + aead.seal(plain, self._aad(cache_key, header))

    def _open_envelope(
        self, cache_key: bytes, blob: object
    ) -> tuple[dict[str, Any], float, float, str]:
        """Decode a stored value. Raises _Reject (integrity) with a reason."""
        plain, _head, stored_at, expires_at, key_id = self._open_plain(cache_key, blob)
        return _decode(plain), stored_at, expires_at, key_id

    def _open_plain(
        self, cache_key: bytes, blob: object
    ) -> tuple[bytes, bytes | None, float, float, str]:
        """Authenticate and decompress a stored value to its JSON text (not yet parsed)
        and its head's JSON text (None: a version 1 entry, which has none)."""
        from rdapctl.store.crypto import DecryptionError

        if not isinstance(blob, bytes) or len(blob) < 5 or blob[:2] != _MAGIC:
            if blob is _FOREIGN:
                raise _Reject("cache entry was not stored inline by rdapctl (a planted row)")
            raise _Reject("cache entry is not a valid envelope")
        version = blob[2]
        if version not in (_VERSION, _VERSION_HEAD):
            raise _Reject("cache entry has an unknown format version")
        flags, kid_len = blob[3], blob[4]
        end = 5 + kid_len + _TIMES.size
        if len(blob) < end:
            raise _Reject("cache entry is truncated")
        try:
            key_id = blob[5 : 5 + kid_len].decode("ascii")
        except UnicodeDecodeError:
            raise _Reject("cache entry has a malformed key id") from None
        stored_at, expires_at = _TIMES.unpack(blob[5 + kid_len : end])
        aead = self._aead(key_id)
        if aead is None:
            raise _Reject("cache entry is sealed under a key that is gone or retired", gone=True)
        header = blob[:end]
        try:
            plain = aead.open(blob[end:], self._aad(cache_key, header))
        except DecryptionError:
            raise _Reject("cache entry failed authentication (tampered or damaged)") from None
        if flags & _FLAG_ZLIB:
            try:
                plain = zlib.decompress(plain)
            except zlib.error:
                raise _Reject("cache entry does not decode") from None
        head = None
        if version == _VERSION_HEAD:
            cut = plain.find(b"\n")
            if cut < 0:
                raise _Reject("cache entry does not decode")
            head, plain = plain[:cut], plain[cut + 1 :]
        return plain, head, stored_at, expires_at, key_id

    # -- operations ---------------------------------------------------------------------

    def get(self, req: CacheRequest, *, head_only: bool = False) -> CachedEntry | None:
        """The fresh entry for ``req``, or None (miss, expired, or failed integrity).

        ``head_only``: decode just the entry's head when it has one (``value`` is then
        None; ``plain`` still holds the value's text)."""
        if not self.tenant.cache.enabled:
            return None
        cache_key = self.cache_key(req)
        try:
            if self._deferred:
                blob = self._read(cache_key)
            elif self._store_obj is None:
                blob = self._read_direct(cache_key)
            else:
                blob = self._store.get(cache_key)
        except self._store_errors as exc:
            self._store_failure(exc, "is unreadable")
            return None
        if blob is None:
            return None
        try:
            plain, head, stored_at, expires_at, key_id = self._open_plain(cache_key, blob)
            now = self._clock()
            if now >= expires_at:
                self._discard(cache_key)
                return None
            if head_only and head is not None:
                value, head_value = None, _decode(head)
            else:
                value, head_value = _decode(plain), None
        except _Reject as rej:
            self._discard(cache_key)
            self._on_failure(f"{rej.reason}; it was deleted")
            return None
        age = max(0.0, now - stored_at)
        return CachedEntry(value, stored_at, expires_at, age, key_id, plain, head_value)

    def _read_direct(self, cache_key: bytes) -> bytes | None:
        """diskcache's ``get`` (LRU access time, hit/miss counters included) done with
        one plain SQLite connection, so a lookup answered from the cache does not pay
        for importing and opening diskcache. Anything unexpected falls back to it."""
        db = self.directory / "cache.db"
        if not db.exists():
            return self._store.get(cache_key)  # a first run: create the store, count the miss
        now = time.time()  # diskcache's own expiry is on wall-clock time, see _read
        try:
            con = _connect(db, timeout=10.0, isolation_level=None)
        except sqlite3.Error:
            return self._store.get(cache_key)
        try:
            try:
                row = con.execute(_SELECT_FRESH, (sqlite3.Binary(cache_key), now)).fetchone()
            except sqlite3.DatabaseError as exc:
                if not _is_corruption(exc) and "no such table" not in str(exc):
                    raise  # a full or read-only disk, a lock: get() reports it
                # Damaged or not set up: let diskcache's open move it aside or set it up.
                con.close()
                return self._store.get(cache_key)
            if row is None:
                blob, touched, hits = None, {}, 0
            else:
                rowid, mode, filename, value, _accessed = row
                blob = _stored_bytes(mode, filename, value)  # _FOREIGN: get() deletes it
                touched, hits = ({rowid: now} if blob is not _FOREIGN else {}), 1
            try:
                _write_bookkeeping(con, touched, hits, 1 - hits)
            except sqlite3.Error as exc:
                # LRU time and counters unwritten (a full or read-only disk): still served.
                self._store_failure(exc, "refused a write")
            return blob
        finally:
            con.close()

    def _read(self, cache_key: bytes) -> bytes | None:
        """diskcache's ``get`` without its writes (access time, counters): one SELECT,
        in this thread's read snapshot."""
        now = time.time()  # diskcache's own expiry is on wall-clock time, see above
        con = self._snapshot_reader(time.monotonic())
        try:
            row = con.execute(_SELECT_FRESH, (sqlite3.Binary(cache_key), now)).fetchone()
        except sqlite3.Error:
            self.end_reads()
            raise
        if row is None:
            self._misses += 1
            return None
        rowid, mode, filename, value, accessed = row
        blob = _stored_bytes(mode, filename, value)
        self._hits += 1
        if blob is _FOREIGN:  # not something rdapctl stored: get() deletes the row
            return blob
        # LRU order to the minute: rewriting the access time of an entry used moments ago
        # (the warm run after a cold one) is a scattered page write per hit for nothing.
        if type(accessed) not in (float, int) or now - accessed >= LRU_GRANULARITY_S:
            self._touched[rowid] = now
        return blob

    def _snapshot_reader(self, now: float) -> sqlite3.Connection:
        """This thread's reader connection, inside a read transaction that is at most
        ``SNAPSHOT_READS`` reads and ``SNAPSHOT_S`` seconds old."""
        snap = self._snapshot
        con: sqlite3.Connection | None = getattr(snap, "con", None)
        if con is not None:
            if snap.left > 0 and now < snap.until:
                snap.left -= 1
                return con
            self.end_reads()
        else:
            con = getattr(snap, "reader", None)
            if con is None:
                con = snap.reader = self._open_reader()
        con.execute("BEGIN")
        snap.con, snap.left, snap.until = con, SNAPSHOT_READS - 1, now + SNAPSHOT_S
        return con

    def _open_reader(self) -> sqlite3.Connection:
        # The store's own connection of this thread must stay free for diskcache's
        # writes (a write cannot start inside this read transaction); a second one
        # just for reading keeps the two apart. Closed by close(), from another thread.
        # A store that diskcache has set up is read without it: a warm batch worker
        # then never imports or opens diskcache (about 15 ms of its start-up).
        db = self.directory / "cache.db"
        if self._store_obj is None and not _looks_like_sqlite(db):
            _ = self._store  # new, empty or damaged: diskcache creates it or moves it aside
        con = self._connect_reader(db)
        if con is None:
            _ = self._store  # a database without diskcache's tables: let it set them up
            con = self._connect_reader(db)
            if con is None:
                raise sqlite3.DatabaseError("the cache store has no Cache table")
        with self._readers_lock:
            self._readers.append(con)
        return con

    @staticmethod
    def _connect_reader(db: Path) -> sqlite3.Connection | None:
        """A read-only connection to ``db``; None when it has no Cache table yet."""
        con = _connect(db, timeout=60.0, isolation_level=None, check_same_thread=False)
        try:
            con.execute("PRAGMA query_only = 1")
            con.execute(f"PRAGMA mmap_size = {_READER_MMAP_BYTES}")
            con.execute("SELECT 1 FROM Cache LIMIT 0")
        except sqlite3.OperationalError as exc:
            con.close()
            if "no such table" in str(exc):
                return None
            raise
        except sqlite3.Error:
            con.close()
            raise
        return con

    def end_reads(self) -> None:
        """End this thread's read snapshot: call before the thread waits for work, so
        that it does not hold an old snapshot (and the WAL) while idle."""
        snap = self._snapshot
        con = getattr(snap, "con", None)
        if con is not None:
            snap.con = None
            with contextlib.suppress(sqlite3.Error):
                con.execute("COMMIT")

    def flush_reads(self) -> None:
        """Write what deferred reads owe: LRU access times and hit/miss counts."""
        touched, self._touched = self._touched, {}
        hits, misses, self._hits, self._misses = self._hits, self._misses, 0, 0
        if not touched and not hits and not misses:
            return
        try:
            with self._bookkeeper_lock:
                con = self._bookkeeper
                if con is None:
                    # Its own connection, like the readers': diskcache is not needed.
                    con = self._bookkeeper = _connect(
                        self.directory / "cache.db",
                        timeout=60.0,
                        isolation_level=None,
                        check_same_thread=False,
                    )
                _write_bookkeeping(con, touched, hits, misses)
        except self._store_errors as exc:
            self._store_failure(exc, "refused a write")

    def put_many_plain(self, items: Iterable[tuple[CacheRequest, bytes, int, bytes | None]]) -> int:
        """Store already-serialised JSON values (and heads, see :meth:`put`) in one
        transaction; returns how many.

        The batch run serialises each envelope once, for its output and for here.
        """
        if not self.tenant.cache.enabled:
            return 0
        now = self._clock()
        sealed = []
        for req, plain, ttl_s, head in items:
            if ttl_s > 0:
                cache_key = self.cache_key(req)
                blob = self._seal_plain(cache_key, plain, now, ttl_s, head)
                sealed.append((cache_key, blob, ttl_s))
        if not sealed:
            return 0
        try:
            _set_many(self._store, sealed)
        except self._store_errors as exc:
            self._store_failure(exc, "refused a write")
            return 0
        return len(sealed)

    def _discard(self, cache_key: bytes) -> None:
        """Delete an entry found unusable, and count the lookup as a miss, not a hit.
        (TypeError: a planted counter row that holds no number; purge deletes it.)"""
        with contextlib.suppress(*self._store_errors, TypeError):
            self._store.delete(cache_key)
            self._store.incr(_REJECTED_KEY)

    def _store_failure(self, exc: BaseException, what: str) -> None:
        """Report a store error: damage as an integrity failure; anything else (a full or
        read-only disk, a lock) once, as the cache being unavailable."""
        if _is_corruption(exc):
            self._on_failure(f"the cache store of tenant {self.tenant.name} {what}: {exc}")
            return
        if self._unavailable_reported:
            return
        self._unavailable_reported = True
        reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else str(exc)
        self._on_unavailable(
            f"the cache of tenant {self.tenant.name} is not used ({reason or type(exc).__name__});"
            " lookups go on without caching"
        )

    def put(
        self,
        req: CacheRequest,
        value: Mapping[str, Any],
        ttl_s: int | None,
        head: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store ``value`` for ``ttl_s`` seconds. False when not stored (cache disabled,
        ttl None or <= 0, or the store refused; the latter is reported).

        ``head``: a small summary of ``value`` stored beside it, for readers that need
        only that (``get(head_only=True)``)."""
        if not self.tenant.cache.enabled or ttl_s is None or ttl_s <= 0:
            return False
        cache_key = self.cache_key(req)
        blob = self._seal(cache_key, value, self._clock(), int(ttl_s), head)
        try:
            self._store.set(cache_key, blob, expire=int(ttl_s))
        except self._store_errors as exc:
            self._store_failure(exc, "refused a write")
            return False
        return True

    def put_many(self, items: Iterable[tuple[CacheRequest, Mapping[str, Any], int]]) -> int:
        """Store many entries in one transaction (bulk load); returns how many."""
        count = 0
        now = self._clock()
        with self._store.transact():
            for req, value, ttl_s in items:
                if ttl_s <= 0:
                    continue
                cache_key = self.cache_key(req)
                self._store.set(cache_key, self._seal(cache_key, value, now, ttl_s), expire=ttl_s)
                count += 1
        return count

    def _scan(self) -> tuple[list[tuple[bytes, object]], int]:
        """Every (cache key, stored value) and the rejected-lookups counter, read straight
        from SQLite so that neither LRU order nor hit counts change."""
        db = self.directory / "cache.db"
        conn = _connect(db, "ro")
        try:
            rows = conn.execute("SELECT key, raw, mode, filename, value FROM Cache").fetchall()
        finally:
            conn.close()
        out: list[tuple[bytes, object]] = []
        rejected = 0
        for key, raw, _mode, filename, value in rows:
            if key == _REJECTED_KEY and isinstance(value, int):
                rejected = value
                continue
            if not raw or not isinstance(key, bytes):
                continue  # not a cache key (purge deletes such rows)
            # A filename is never opened: such a row is _FOREIGN, an entry that fails.
            out.append((bytes(key), _stored_bytes(_mode, filename, value)))
        return out, rejected

    def iter_entries(self) -> Iterator[InspectedEntry]:
        """Every stored entry decrypted, without deleting, touching LRU order or counting.

        IntegrityError when the store itself cannot be read.
        """
        try:
            entries, _rejected = self._scan()
        except sqlite3.Error as exc:
            raise IntegrityError(
                f"the cache store of tenant {self.tenant.name} is unreadable ({exc})",
                hint=f"run `rdapctl cache clear -t {self.tenant.name}`",
            ) from None
        now = self._clock()
        for position, (cache_key, blob) in enumerate(entries, start=1):
            ref = cache_key.hex()[:12]
            try:
                value, _stored, expires_at, _kid = self._open_envelope(cache_key, blob)
            except _Reject as rej:
                kid = _key_id_of(blob) if rej.gone else None
                yield InspectedEntry(position, ref, None, rej.reason, gone=rej.gone, key_id=kid)
                continue
            yield InspectedEntry(position, ref, value, None, now >= expires_at, _kid)

    def stats(self) -> dict[str, Any]:
        """entries, size_bytes (on disk), hits, misses, oldest/newest (stored_at)."""
        hits, misses = self._store.stats()
        entries, rejected = self._scan()
        times = []
        for _key, blob in entries:
            if isinstance(blob, bytes) and len(blob) >= 5 and blob[:2] == _MAGIC:
                start = 5 + blob[4]
                if len(blob) >= start + _TIMES.size:
                    times.append(_TIMES.unpack(blob[start : start + _TIMES.size])[0])
        size = 0
        for dirpath, _dirs, files in os.walk(self.directory):
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    size += Path(dirpath, name).stat().st_size
        # diskcache counted lookups we rejected (expired, failed integrity) as hits.
        hits = max(0, hits - rejected)
        return {
            "entries": len(times),
            "size_bytes": size,
            "hits": hits,
            "misses": misses + rejected,
            "oldest": min(times) if times else None,
            "newest": max(times) if times else None,
        }

    def clear(self) -> int:
        """Delete every entry (and reset hit/miss counts); returns how many entries."""
        entries = len(self._scan()[0])
        self._store.clear(retry=True)
        self._store.stats(reset=True)
        return entries

    def _delete_foreign_rows(self) -> int:
        """Delete, with plain SQL (no file removed), every row rdapctl did not write:
        anything but an inline bytes value under a bytes key, or the rejected counter."""
        _ = self._store  # the store exists (created or moved aside if damaged)
        con = _connect(self.directory / "cache.db", timeout=60.0, isolation_level=None)
        try:
            return con.execute(_DELETE_FOREIGN, (_REJECTED_KEY,)).rowcount
        finally:
            con.close()

    def purge(self) -> int:
        """Delete expired entries and entries that do not open (key gone or retired,
        tampered, damaged). Tampering is reported; returns how many were deleted."""
        now = self._clock()
        removed = tampered = self._delete_foreign_rows()
        for cache_key, blob in self._scan()[0]:
            try:
                _value, _stored, expires_at, _kid = self._open_envelope(cache_key, blob)
                dead = now >= expires_at
            except _Reject as rej:
                dead = True
                tampered += 0 if rej.gone else 1
            if dead and self._store.delete(cache_key, retry=True):
                removed += 1
        if tampered:
            self._on_failure(f"purge deleted {tampered} cache entries that failed integrity checks")
        return removed


def _connect(db: Path, mode: str = "rw", **options: Any) -> sqlite3.Connection:
    """A connection to ``db`` that never creates it (``mode``: "rw" or "ro"): SQLite
    would make a missing file with the umask's permissions instead of 0600."""
    return sqlite3.connect(f"{db.absolute().as_uri()}?mode={mode}", uri=True, **options)


def _stored_bytes(mode: object, filename: object, value: object) -> bytes:
    """A row's value as rdapctl stores it: bytes in the row itself. Any other row (a
    value file, another mode or type) is ``_FOREIGN``: its filename is never opened,
    and diskcache's reading of other modes would unpickle what a tampered row holds."""
    if mode == _MODE_RAW and filename is None and type(value) is bytes:
        return value
    return _FOREIGN


# The rows _delete_foreign_rows deletes (the parameter: the rejected counter's key).
# IS, not =: a NULL mode, raw or key must not make the condition NULL (row kept).
_DELETE_FOREIGN = (
    "DELETE FROM Cache WHERE NOT (mode IS 1 AND raw IS 1 AND filename IS NULL AND ("
    "(typeof(key) = 'blob' AND typeof(value) = 'blob')"
    " OR (key IS ? AND typeof(value) = 'integer')))"
)


def _write_bookkeeping(
    con: sqlite3.Connection, touched: Mapping[int, float], hits: int, misses: int
) -> None:
    """The writes of diskcache's ``get``, for reads made without it, in one transaction:
    LRU access times (rowid -> time), and hit and miss counts if the store keeps them."""
    con.execute("BEGIN IMMEDIATE")
    try:
        if touched:
            con.executemany(
                "UPDATE Cache SET access_time = ? WHERE rowid = ?",
                [(when, rowid) for rowid, when in touched.items()],
            )
        counting = con.execute("SELECT value FROM Settings WHERE key = 'statistics'").fetchone()
        if counting == (1,) and (hits or misses):
            con.execute("UPDATE Settings SET value = value + ? WHERE key = 'hits'", (hits,))
            con.execute("UPDATE Settings SET value = value + ? WHERE key = 'misses'", (misses,))
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            con.execute("ROLLBACK")
        raise


def _set_many(store: Any, items: list[tuple[bytes, bytes, int]]) -> None:
    """``store.set(key, value, expire=ttl)`` for each item, in one transaction, with
    diskcache's eviction pass (expired entries, then the size limit) run once for the
    whole chunk, with the room it would have had over the single sets (two statements
    per entry instead of five). Uses diskcache's internals the way ``set`` does."""
    now = time.time()  # diskcache's own times are wall-clock
    disk = store._disk  # a PrivateDisk: values inline, no file written or removed
    with store._transact(True) as (sql, cleanup):
        for key, value, ttl_s in items:
            db_key, raw = disk.put(key)
            columns = (now + ttl_s, None, *disk.store(value, False, key=key))
            rows = sql(
                "SELECT rowid FROM Cache WHERE key = ? AND raw = ?", (db_key, raw)
            ).fetchall()
            if rows:
                ((rowid,),) = rows
                store._row_update(rowid, now, columns)
            else:
                store._row_insert(db_key, raw, now, columns)
        if store.cull_limit:
            store._cull(now, sql, cleanup, limit=store.cull_limit * len(items))


def _to_json(value: Mapping[str, Any]) -> bytes:
    try:
        return dumps_compact(value).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise RdapctlError(f"cannot cache a value that is not JSON: {exc}") from None


def _decode(plain: bytes) -> dict[str, Any]:
    try:
        # rdapctl stored UTF-8 (json.loads would first sniff for UTF-16 and -32).
        value = _decode_json(plain.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        raise _Reject("cache entry does not decode") from None
    if not isinstance(value, dict):
        raise _Reject("cache entry does not decode to an object")
    return value


def _key_id_of(blob: object) -> str | None:
    if not isinstance(blob, bytes) or len(blob) < 5 or len(blob) < 5 + blob[4]:
        return None
    try:
        return blob[5 : 5 + blob[4]].decode("ascii")
    except UnicodeDecodeError:
        return None


class _Reject(Exception):
    def __init__(self, reason: str, *, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone
