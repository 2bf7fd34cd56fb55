"""Where a batch run's lookup threads leave audit records and cache writes until a
chunk is written: records are appended a chunk at a time (one fsync per chunk) and
cache entries in one transaction, instead of one each per lookup."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from rdapctl.core.jsontext import dumps_compact
from rdapctl.rdap.envelope import envelope_head_text

if TYPE_CHECKING:
    from rdapctl.store.cache.entries import CacheRequest


class AuditCollector:
    """The audit sink of every worker session: records queue up for the thread that
    writes the chunks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        with self._lock:
            self._items.append((event, fields))

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            items, self._items = self._items, []
        return items


class CacheWrites:
    """Cache writes of a worker's lookup threads, paired with the bytes the thread
    serialised for output, so each envelope is serialised once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[list[Any]] = []
        self._local = threading.local()

    def add(self, key: CacheRequest, envelope: dict[str, Any], ttl_s: int) -> None:
        item = [key, envelope, ttl_s, None, None]
        self._local.last = item
        with self._lock:
            self._items.append(item)

    def attach(self, envelope: dict[str, Any], body: bytes) -> None:
        item = getattr(self._local, "last", None)
        self._local.last = None
        if item is not None and item[1] is envelope:
            # Text and head now, and the envelope let go: thousands of objects fewer for
            # the garbage collector to walk until the chunk is written.
            item[1:] = [None, item[2], body, envelope_head_text(envelope, body)]

    def take(self) -> list[tuple[CacheRequest, bytes, int, bytes]]:
        """(request, the envelope's JSON text, ttl, its head's JSON text) per write."""
        with self._lock:
            items, self._items = self._items, []
        out = []
        for key, envelope, ttl, text, head in items:
            if text is None:
                text = dumps_compact(envelope).encode("utf-8")
                head = envelope_head_text(envelope, text)
            out.append((key, text, ttl, head))
        return out
