"""The tenant cache with a shared layer behind it: :class:`LayeredCache`.

The local encrypted store (``rdapctl.store.cache``) stays in front as a read-through
layer: a read goes to it first, then to the team backend, whose entry is the very
blob the local store would hold (AES-256-GCM, under the HMAC-keyed name), kept as
``PREFIX:cache:TENANT:<hmac hex>`` with the entry's TTL. A shared hit is copied into
the local store (batch runs: a chunk at a time, in :meth:`flush_reads`). Every write
goes to both. The entries of a tenant are named and sealed with its own keys: another
tenant's keys never open them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from rdapctl.store.cache.tenant_cache import TenantCache
from rdapctl.store.team.backend import shown_url

if TYPE_CHECKING:
    from rdapctl.store.cache.entries import CacheRequest
    from rdapctl.store.team.backend import TeamBackend

SCAN_COUNT = 1000
# Entries read ahead and not used yet that a cache keeps (see prefetch).
PREFETCH_MAX = 4096


class LayeredCache(TenantCache):
    """A :class:`TenantCache` with the team backend's shared cache behind it."""

    _team: TeamBackend | None = None

    def attach(self, team: TeamBackend) -> LayeredCache:
        """Put the team backend's cache behind this one (call once, after ``open``)."""
        self._team = team
        self._pending: list[tuple[bytes, bytes, int]] = []
        self._pending_lock = threading.Lock()
        self._shared_hits = 0
        self._shared_misses = 0
        self._prefetched: dict[bytes, bytes] = {}
        self._prefetched_once = False
        self._local_misses = 0
        return self

    def prefetch(self, requests: list[CacheRequest]) -> int:
        """Read the shared entries of ``requests`` in one round trip, for the lookups
        about to run (a batch worker's next jobs); kept until read, at most
        ``PREFETCH_MAX``. Only while lookups miss the local layer (a machine whose local
        layer answers asks Redis for nothing). Returns how many were found."""
        team = self._team
        if team is None or not requests:
            return 0
        with self._pending_lock:
            wanted = self._local_misses > 0 or not self._prefetched_once
            self._local_misses = 0
            self._prefetched_once = True
        if not wanted:
            return 0
        keys = [self._codec.cache_key(req) for req in requests]
        names = [team.cache_key(k) for k in keys]
        values: Any = team.call(lambda c: c.mget(names), None)
        if not values:
            return 0
        found = {k: v for k, v in zip(keys, values, strict=False) if isinstance(v, bytes)}
        with self._pending_lock:
            if len(self._prefetched) + len(found) > PREFETCH_MAX:
                self._prefetched.clear()
            self._prefetched.update(found)
        return len(found)

    def _shared_get(self, cache_key: bytes) -> bytes | None:
        team = self._team
        if team is None:
            return None
        with self._pending_lock:
            self._local_misses += 1
            blob = self._prefetched.pop(cache_key, None)
        if blob is not None:
            self._shared_hits += 1
            return blob
        blob = team.get(team.cache_key(cache_key))
        if blob is not None:
            self._shared_hits += 1
            return blob
        self._shared_misses += 1
        if not self._deferred:
            self._count_shared()
        return None

    def _shared_discard(self, cache_key: bytes) -> None:
        team = self._team
        if team is not None:
            name = team.cache_key(cache_key)
            team.call(lambda c: c.delete(name), 0)

    def _shared_put(self, sealed: list[tuple[bytes, bytes, int]]) -> None:
        team = self._team
        if team is None or not sealed:
            return

        def write(client: Any) -> None:
            pipe = client.pipeline(transaction=False)
            for cache_key, blob, ttl_s in sealed:
                pipe.set(team.cache_key(cache_key), blob, ex=max(1, int(ttl_s)))
            pipe.execute()

        team.call(write, None)

    def _keep_local(self, cache_key: bytes, blob: bytes, ttl_s: float) -> None:
        ttl = int(ttl_s)
        if ttl <= 0:
            return
        if self._deferred:
            with self._pending_lock:
                self._pending.append((cache_key, blob, ttl))
            return
        self._count_shared()
        try:
            self._store.set(cache_key, blob, expire=ttl)
        except self._store_errors as exc:
            self._store_failure(exc, "refused a write")

    def _count_shared(self) -> None:
        team = self._team
        hits, misses = self._shared_hits, self._shared_misses
        if team is None or not (hits or misses):
            return
        self._shared_hits = self._shared_misses = 0

        def count(client: Any) -> None:
            pipe = client.pipeline(transaction=False)
            pipe.hincrby(team.stats_key, "hits", hits)
            pipe.hincrby(team.stats_key, "misses", misses)
            pipe.execute()

        team.call(count, None)

    def flush_reads(self) -> None:
        super().flush_reads()
        if self._team is None:
            return
        with self._pending_lock:
            pending, self._pending = self._pending, []
        self._count_shared()
        if not pending:
            return
        from rdapctl.store.cache.diskcache_store import set_many

        try:
            set_many(self._store, pending)
        except self._store_errors as exc:
            self._store_failure(exc, "refused a write")

    def close(self) -> None:
        if self._team is not None and not self._deferred:
            self.flush_reads()
        super().close()

    # -- maintenance ----------------------------------------------------------------------

    def _shared_names(self, client: Any) -> list[bytes]:
        team = self._team
        assert team is not None
        return list(client.scan_iter(match=team.cache_prefix + "*", count=SCAN_COUNT))

    def stats(self) -> dict[str, Any]:
        """The local layer's stats, and the shared layer's under ``team``."""
        out = super().stats()
        team = self._team
        if team is None:
            return out
        self._count_shared()

        def read(client: Any) -> dict[str, Any]:
            names = self._shared_names(client)
            counts = client.hgetall(team.stats_key)
            size = 0
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.strlen(name)
            for length in pipe.execute() if names else []:
                size += int(length)
            return {
                "reachable": True,
                "entries": len(names),
                "size_bytes": size,
                "hits": redis_counter(counts.get(b"hits")),
                "misses": redis_counter(counts.get(b"misses")),
            }

        unreachable = {"reachable": False, "entries": None, "size_bytes": None}
        out["team"] = {
            "backend": shown_url(team.settings),
            **team.call(read, {**unreachable, "hits": None, "misses": None}),
        }
        return out

    def clear(self) -> int:
        """Clear both layers; returns how many entries the local one held."""
        removed = super().clear()
        team = self._team
        if team is not None:

            def drop(client: Any) -> None:
                names = self._shared_names(client)
                for start in range(0, len(names), SCAN_COUNT):
                    client.delete(*names[start : start + SCAN_COUNT])
                client.delete(team.stats_key)

            team.call(drop, None)
        return removed


def redis_counter(value: Any) -> int | None:
    """A hit or miss counter as Redis holds it: a non-negative integer of at most 19
    digits; anything else (planted or damaged) is None, never an exception."""
    if isinstance(value, bytes) and value.isdigit() and len(value) <= 19:
        return int(value)
    return 0 if value is None else None
