"""Per-registry-host admission control for batch runs: concurrency and request rate.

Owns :class:`HostGate` (what ``rdapctl.http.RetryingGetter`` calls before every
request attempt): at most ``max_concurrent`` requests in flight per host in this
process (and at most ``max_total`` over all hosts; a caller waiting for a token or
a ``Retry-After`` holds no slot, so one slowed host does not stall the others), and
``requests_per_second`` per host as a token bucket SHARED by every rdapctl process
of the tenant. The shared state is one 16-byte file per host
(``<cache dir>/ratelimit/<tenant>/<sha256(host)>``: the bucket's theoretical
arrival time and a "blocked until" set by ``Retry-After``) updated under ``flock``,
so two batch runs of one tenant together stay within the tenant's rate.

Must not: import httpx, decide policy (the tenant's numbers are passed in), or keep
global state. Times come from the injected clock (epoch seconds, shared by
processes); waiting goes through the injected ``wait`` so a stop request ends it.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

from rdapctl.errors import InterruptedRunError
from rdapctl.paths import FILE_MODE, ensure_private_dir

_STATE = struct.Struct(">dd")  # theoretical arrival time, blocked until (epoch seconds)
# Never wait longer than this for a token: a clock jump must not stall a run for hours.
MAX_WAIT_S = 300.0


class SharedBucket:
    """A GCRA token bucket for one host, its state in a small locked file."""

    def __init__(self, path: Path, rate: float, burst: float) -> None:
        self._path = path
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._tolerance = self._interval * max(0.0, burst - 1.0)
        self._fd: int | None = None
        self._lock = threading.Lock()

    def _open(self) -> int:
        if self._fd is None:
            ensure_private_dir(self._path.parent)
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
            self._fd = os.open(self._path, flags, FILE_MODE)
        return self._fd

    def _update(self, change: Callable[[float, float], tuple[float, float, float]]) -> float:
        import fcntl

        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                raw = os.pread(fd, _STATE.size, 0)
                tat, blocked = _STATE.unpack(raw) if len(raw) == _STATE.size else (0.0, 0.0)
                tat, blocked, wait = change(tat, blocked)
                os.pwrite(fd, _STATE.pack(tat, blocked), 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        return wait

    def reserve(self, now: float) -> float:
        """Take the next slot; returns how long to wait before using it (0: now)."""

        def change(tat: float, blocked: float) -> tuple[float, float, float]:
            start = max(tat, now, blocked)
            wait = max(0.0, start - self._tolerance - now, blocked - now)
            return start + self._interval, blocked, min(wait, MAX_WAIT_S)

        if self._interval == 0.0:
            return 0.0
        return self._update(change)

    def blocked_until(self) -> float:
        """When the last ``Retry-After`` ends (0: none), without taking a slot."""
        return self._update(lambda tat, blocked: (tat, blocked, blocked))

    def block_until(self, until: float) -> None:
        """Nobody (in any process) gets a slot for this host before ``until``."""
        self._update(lambda tat, blocked: (tat, max(blocked, until), 0.0))

    def close(self) -> None:
        if self._fd is not None:
            with suppress(OSError):
                os.close(self._fd)
            self._fd = None


class HostGate:
    """The :class:`rdapctl.http.RequestGate` of a batch run (thread-safe)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        max_concurrent: int,
        requests_per_second: float,
        clock: Callable[[], float],
        wait: Callable[[float], bool],
        max_total: int | None = None,
    ) -> None:
        """``wait(seconds)`` sleeps and returns True when the run was asked to stop;
        ``max_total``: in-flight requests over all hosts (default ``max_concurrent``)."""
        self._dir = state_dir
        self._max = max(1, max_concurrent)
        self._rate = max(0.0, requests_per_second)
        # A short burst (a tenth of a second's worth) keeps loopback benchmarks from
        # paying a lock round trip per request gap; low rates stay strictly spaced.
        self._burst = max(1.0, self._rate * 0.1)
        self._clock = clock
        self._wait = wait
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._total = threading.BoundedSemaphore(max(1, max_total or max_concurrent))
        self._buckets: dict[str, SharedBucket] = {}
        self.waited_s = 0.0

    def _host(self, url: str) -> str:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return f"{host}:{parts.port}" if parts.port else host

    def _for(self, host: str) -> tuple[threading.BoundedSemaphore, SharedBucket]:
        with self._lock:
            slot = self._slots.get(host)
            if slot is None:
                slot = self._slots[host] = threading.BoundedSemaphore(self._max)
                name = hashlib.sha256(host.encode()).hexdigest()[:32]
                self._buckets[host] = SharedBucket(self._dir / name, self._rate, self._burst)
            return slot, self._buckets[host]

    def acquire(self, url: str) -> Callable[[], None]:
        slot, bucket = self._for(self._host(url))
        # A host slowed by Retry-After is waited out holding no slot (others go on).
        blocked = bucket.blocked_until() - self._clock()
        if blocked > 0:
            self._pause(blocked, "interrupted while waiting for the rate limit")
        # Slots before the token: a token taken then held back behind a busy slot
        # would be spent late, bunching requests closer than the rate allows.
        self._take(slot)
        try:
            self._take(self._total)
        except BaseException:
            slot.release()
            raise

        def release() -> None:
            self._total.release()
            slot.release()

        try:
            delay = bucket.reserve(self._clock())
            if delay > 0:
                self._pause(delay, "interrupted while waiting for the rate limit")
        except BaseException:
            release()
            raise
        return release

    def _pause(self, seconds: float, message: str) -> None:
        self.waited_s += seconds
        if self._wait(min(seconds, MAX_WAIT_S)):
            raise InterruptedRunError(message)

    def _take(self, slot: threading.BoundedSemaphore) -> None:
        # Poll so that a stop request is seen even while every slot is busy.
        while not slot.acquire(timeout=0.2):
            if self._wait(0):
                raise InterruptedRunError("interrupted while waiting for a connection slot")

    def retry_after(self, url: str, wait_s: float) -> None:
        _, bucket = self._for(self._host(url))
        bucket.block_until(self._clock() + wait_s)

    def close(self) -> None:
        with self._lock:
            for bucket in self._buckets.values():
                bucket.close()
