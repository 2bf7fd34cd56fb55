"""The encrypted per-tenant response cache: :class:`TenantCache`.

One diskcache store per tenant (``StatePaths.tenant_cache_dir``); keys and sealed
values are made by ``codec``, the store opened and written by ``diskcache_store``,
and the hit path reads it with plain SQLite (``sqlite_adapter``), so a lookup
answered from the cache, like a warm batch worker, never imports diskcache.

Batch runs open the store with ``defer_bookkeeping``: a read is then one SELECT in
its thread's read snapshot, and the LRU access times and hit/miss counts diskcache
would write on every read are written by :meth:`TenantCache.flush_reads` in one
transaction (eviction stays least-recently-used, a chunk late, to the minute).

A damaged, tampered or unreadable entry is a miss: deleted, reported through
``on_integrity_failure``, never served and never a crash. A full or read-only disk
leaves the store as it is and the lookup goes on without caching (``on_unavailable``,
reported once).

Must not: import typer/rich, print, decide policy (the lookup pipeline decides what
is cached and passes the policy-applied value), or hold global state.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from rdapctl.core.errors import IntegrityError
from rdapctl.store.cache.codec import EntryCodec, RejectedEntry, decode, key_id_of, stored_at_of
from rdapctl.store.cache.entries import CachedEntry, CacheRequest, InspectedEntry
from rdapctl.store.cache.sqlite_adapter import (
    DirectReader,
    delete_foreign_rows,
    is_corruption,
    looks_like_sqlite,
    scan_rows,
)
from rdapctl.store.paths import StatePaths, ensure_private_dir

if TYPE_CHECKING:
    from rdapctl.policy.tenant import Tenant
    from rdapctl.store.keys.keyring import Keyring

_REJECTED_KEY = "rdapctl:rejected"  # str: can never collide with a 32-byte HMAC key


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
        # SQLite query and never imports diskcache (see DirectReader).
        self._store_factory: Callable[[], Any] | None = None
        self.directory = directory
        self.tenant = tenant
        self._clock = clock
        self._on_failure = on_integrity_failure
        self._on_unavailable = on_unavailable or on_integrity_failure
        self._unavailable_reported = False
        self._codec = EntryCodec(tenant, keyring, compress)
        self._db = directory / "cache.db"
        self._reader = DirectReader(self._db, self._ensure_store, self._store_is_open)
        self._store_errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)
        self._deferred = False  # defer_bookkeeping
        self._store_lock = threading.Lock()

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

    def _ensure_store(self) -> object:
        return self._store

    def _store_is_open(self) -> bool:
        return self._store_obj is not None

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
    ) -> Self:
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
        cache._store_factory = lambda: cache._build_store(paths, on_integrity_failure)
        try:
            ensure_private_dir(paths.cache_root)
            if not looks_like_sqlite(directory / "cache.db"):
                # New, empty or damaged: let diskcache create it (or move it aside) now.
                cache._store_obj = cache._store_factory()
        except (sqlite3.Error, OSError) as exc:
            cache._store_failure(exc, "cannot be opened")
        return cache

    def _build_store(self, paths: StatePaths, on_integrity_failure: Callable[[str], None]) -> Any:
        from rdapctl.store.cache.diskcache_store import open_store, timeout_error

        store = open_store(paths, self.tenant, self.directory, self._clock, on_integrity_failure)
        self._store_errors = (sqlite3.Error, OSError, timeout_error())
        return store

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
        self._reader.close_readers()
        if self._deferred:
            self.flush_reads()
        self._reader.close_bookkeeper()
        if self._store_obj is not None:
            self._store_obj.close()

    def __enter__(self) -> TenantCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cache_key(self, req: CacheRequest) -> bytes:
        """HMAC of the canonical request and policy fingerprint (what is stored on disk)."""
        return self._codec.cache_key(req)

    # -- reads ----------------------------------------------------------------------------

    def get(self, req: CacheRequest, *, head_only: bool = False) -> CachedEntry | None:
        """The fresh entry for ``req``, or None (miss, expired, or failed integrity).

        ``head_only``: decode just the entry's head when it has one (``value`` is then
        None; ``plain`` still holds the value's text)."""
        if not self.tenant.cache.enabled:
            return None
        cache_key = self._codec.cache_key(req)
        try:
            if self._deferred:
                blob = self._reader.read(cache_key)
            elif self._store_obj is None:
                blob = self._reader.read_once(cache_key, self._store_get, self._write_failed)
            else:
                blob = self._store.get(cache_key)
        except self._store_errors as exc:
            self._store_failure(exc, "is unreadable")
            blob = None
        shared = False
        if blob is None:
            blob = self._shared_get(cache_key)
            if blob is None:
                return None
            shared = True
        try:
            plain, head, stored_at, expires_at, key_id = self._codec.open_plain(cache_key, blob)
            now = self._clock()
            if now >= expires_at:
                if not shared:
                    self._discard(cache_key)
                return None
            if head_only and head is not None:
                value, head_value = None, decode(head)
            else:
                value, head_value = decode(plain), None
        except RejectedEntry as rej:
            self._shared_discard(cache_key) if shared else self._discard(cache_key)
            self._on_failure(f"{rej.reason}; it was deleted")
            return None
        if shared:
            self._keep_local(cache_key, blob, expires_at - now)
        age = max(0.0, now - stored_at)
        return CachedEntry(value, stored_at, expires_at, age, key_id, plain, head_value)

    # -- a shared layer behind the local store (rdapctl.store.team.cache) -----------

    def _shared_get(self, cache_key: bytes) -> bytes | None:
        """The sealed blob a shared layer holds for ``cache_key`` (none here)."""
        return None

    def _shared_discard(self, cache_key: bytes) -> None:
        """Delete an unusable entry of the shared layer (none here)."""

    def _shared_put(self, sealed: list[tuple[bytes, bytes, int]]) -> None:
        """Also store (cache key, blob, ttl) entries in a shared layer (none here)."""

    def _keep_local(self, cache_key: bytes, blob: bytes, ttl_s: float) -> None:
        """Keep a shared layer's entry in the local store too (read-through)."""

    def _store_get(self, cache_key: bytes) -> Any:
        return self._store.get(cache_key)

    def _write_failed(self, exc: BaseException) -> None:
        self._store_failure(exc, "refused a write")

    def end_reads(self) -> None:
        """End this thread's read snapshot: call before the thread waits for work, so
        that it does not hold an old snapshot (and the WAL) while idle."""
        self._reader.end_reads()

    def flush_reads(self) -> None:
        """Write what deferred reads owe: LRU access times and hit/miss counts."""
        try:
            self._reader.flush()
        except self._store_errors as exc:
            self._store_failure(exc, "refused a write")

    def _discard(self, cache_key: bytes) -> None:
        """Delete an entry found unusable, and count the lookup as a miss, not a hit.
        (TypeError: a planted counter row that holds no number; purge deletes it.)"""
        with contextlib.suppress(*self._store_errors, TypeError):
            self._store.delete(cache_key)
            self._store.incr(_REJECTED_KEY)

    def _store_failure(self, exc: BaseException, what: str) -> None:
        """Report a store error: damage as an integrity failure; anything else (a full or
        read-only disk, a lock) once, as the cache being unavailable."""
        if is_corruption(exc):
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

    # -- writes ---------------------------------------------------------------------------

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
        cache_key = self._codec.cache_key(req)
        blob = self._codec.seal(cache_key, value, self._clock(), int(ttl_s), head)
        self._shared_put([(cache_key, blob, int(ttl_s))])
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
        codec = self._codec
        with self._store.transact():
            for req, value, ttl_s in items:
                if ttl_s <= 0:
                    continue
                cache_key = codec.cache_key(req)
                self._store.set(cache_key, codec.seal(cache_key, value, now, ttl_s), expire=ttl_s)
                count += 1
        return count

    def put_many_plain(self, items: Iterable[tuple[CacheRequest, bytes, int, bytes | None]]) -> int:
        """Store already-serialised JSON values (and heads, see :meth:`put`) in one
        transaction; returns how many.

        The batch run serialises each envelope once, for its output and for here.
        """
        if not self.tenant.cache.enabled:
            return 0
        now = self._clock()
        codec = self._codec
        sealed = []
        for req, plain, ttl_s, head in items:
            if ttl_s > 0:
                cache_key = codec.cache_key(req)
                sealed.append(
                    (cache_key, codec.seal_plain(cache_key, plain, now, ttl_s, head), ttl_s)
                )
        if not sealed:
            return 0
        self._shared_put(sealed)
        from rdapctl.store.cache.diskcache_store import set_many

        try:
            set_many(self._store, sealed)
        except self._store_errors as exc:
            self._store_failure(exc, "refused a write")
            return 0
        return len(sealed)

    # -- maintenance ----------------------------------------------------------------------

    def _scan(self) -> tuple[list[tuple[bytes, bytes]], int]:
        return scan_rows(self._db, _REJECTED_KEY)

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
                value, _stored, expires_at, kid = self._codec.open(cache_key, blob)
            except RejectedEntry as rej:
                gone_kid = key_id_of(blob) if rej.gone else None
                yield InspectedEntry(
                    position, ref, None, rej.reason, gone=rej.gone, key_id=gone_kid
                )
                continue
            yield InspectedEntry(position, ref, value, None, expired=now >= expires_at, key_id=kid)

    def stats(self) -> dict[str, Any]:
        """entries, size_bytes (on disk), hits, misses, oldest/newest (stored_at)."""
        hits, misses = self._store.stats()
        entries, rejected = self._scan()
        times = [t for _key, blob in entries if (t := stored_at_of(blob)) is not None]
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

    def purge(self) -> int:
        """Delete expired entries and entries that do not open (key gone or retired,
        tampered, damaged). Tampering is reported; returns how many were deleted."""
        now = self._clock()
        _ = self._store  # the store exists (created or moved aside if damaged)
        removed = tampered = delete_foreign_rows(self._db, _REJECTED_KEY)
        for cache_key, blob in self._scan()[0]:
            try:
                _value, _stored, expires_at, _kid = self._codec.open(cache_key, blob)
                dead = now >= expires_at
            except RejectedEntry as rej:
                dead = True
                tampered += 0 if rej.gone else 1
            if dead and self._store.delete(cache_key, retry=True):
                removed += 1
        if tampered:
            self._on_failure(f"purge deleted {tampered} cache entries that failed integrity checks")
        return removed
