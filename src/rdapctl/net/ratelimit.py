"""Per-registry-host admission control for every lookup: concurrency and request rate.

Owns :class:`HostGate` (what ``rdapctl.net.client.RetryingGetter`` calls before every
request attempt): at most ``max_concurrent`` requests in flight per host in this
process (and at most ``max_total`` over all hosts; a caller waiting for a token or
a ``Retry-After`` holds no slot, so one slowed host does not stall the others), and
``requests_per_second`` per host as a token bucket SHARED by every rdapctl process
of the tenant. The shared state is one 16-byte file per host
(``<cache dir>/ratelimit/<tenant>/<sha256(host)>``: the bucket's theoretical
arrival time and a "blocked until" set by ``Retry-After``) updated under ``flock``,
so two batch runs of one tenant together stay within the tenant's rate. At high
rates a process takes slots a few at a time (see ``SharedBucket``), so the lock is
not a round trip per request.

Must not: import httpx, decide policy (the tenant's numbers are passed in), or keep
global state. Times come from the injected clock (epoch seconds, shared by
processes); waiting goes through the injected ``wait`` so a stop request ends it.
A clock that steps back leaves times in the future in the shared state; past a
bound no run could reach, they are reset (see ``STALE_SLOTS``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import queue
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from rdapctl.core.errors import InterruptedRunError
from rdapctl.core.hostnames import to_a_labels
from rdapctl.store.locks import LockFile
from rdapctl.store.paths import ensure_private_dir

_STATE = struct.Struct(">dd")  # theoretical arrival time, blocked until (epoch seconds)
# A shared arrival time further ahead than this many slots (more than all of a tenant's
# runs can have waiting) or than STALE_S, or a "blocked until" past MAX_BLOCK_S, can
# only come from a clock that stepped back (or a damaged file): it is reset, so that
# no run waits for hours. Waits themselves are not capped: a cap would start requests
# early, in a bunch, at low rates.
STALE_SLOTS = 1024
STALE_S = 300.0
# The longest "blocked until" a Retry-After sets (the state outlives the run).
MAX_BLOCK_S = 3600.0
# Lookup threads a batch process may run once a host is slowed: a lookup waiting out a
# Retry-After holds no slot, so the threads beyond the slots ask the other hosts.
SLOWED_THREADS = 16
# How long slots taken ahead (and a "blocked until" read) stay good in one process.
LEASE_S = 0.05
LEASE_MAX = 32
_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_key(url: str) -> str:
    """What limits count by: the host, and the port when it is not the scheme's own
    ("https://h:443/" is "https://h/")."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host.isascii():  # as the answer's URL names it (httpx: A-labels)
        with contextlib.suppress(ValueError):
            host = to_a_labels(host)
    try:
        port = parts.port
    except ValueError:  # refused by the network guard once the request is made
        return parts.netloc.lower()
    if port is None or _DEFAULT_PORTS.get(parts.scheme.lower()) == port:
        return host
    return f"{host}:{port}"


class SharedRateState(Protocol):
    """Where a team backend keeps the buckets' state (``rdapctl.store.team.ratelimit``)."""

    def update(self, host: str, change: Callable[[float, float], tuple[float, float]]) -> bool:
        """Apply ``change`` to ``host``'s (tat, blocked); False when unavailable."""
        ...


# A disk rdapctl cannot write to now: the rate state stays in this process instead.
_DISK_FULL_OR_READ_ONLY = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


class SharedBucket:
    """A GCRA token bucket for one host, its state in a small locked file.

    At high rates a process takes a few slots per lock round trip: a lease of at
    most ``LEASE_MAX`` slots and a tenth of ``LEASE_S`` worth of the rate (so slots
    dropped when a lease expires unused cost little), never more than half the
    burst. A lease and the "blocked until" read with it are good for ``LEASE_S``:
    another process's ``Retry-After`` is seen within that time, this process's own
    at once. Unused slots go back when nobody took a slot after them.
    """

    def __init__(
        self,
        path: Path,
        rate: float,
        burst: float,
        on_unshared: Callable[[str], None] | None = None,
        shared: Callable[[Callable[[float, float], tuple[float, float]]], bool] | None = None,
    ) -> None:
        """``shared``: applies a change to the state kept by a team backend, False when
        it is unavailable (then the file is used)."""
        self._path = path
        self._shared = shared
        # The state kept in this process once the file cannot be written (a full or
        # read-only disk): the rate still holds here, only not shared with others.
        self._unshared: tuple[float, float] | None = None
        self._on_unshared = on_unshared
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._tolerance = self._interval * max(0.0, burst - 1.0)
        self._lease_size = max(
            1, min(LEASE_MAX, int(rate * LEASE_S / 10), int(max(1.0, burst) / 2))
        )
        self._dir_ready = False
        self._lock = threading.Lock()
        # Slots taken but not handed out yet: the next one's time and how many are left.
        self._next = 0.0
        self._left = 0
        self._lease_end = 0.0  # the shared arrival time right after the current lease
        self._blocked = 0.0
        self._fresh_until = -1.0  # local copies above are good until then

    def _open(self) -> LockFile:
        # Opened per update, not kept: a run reaching a thousand registry hosts (through
        # referrals) would otherwise hold a thousand files and run out. An update is
        # once per lease of slots, so the open costs little.
        if not self._dir_ready:
            ensure_private_dir(self._path.parent)
            self._dir_ready = True
        return LockFile.open(self._path)

    def _update(self, change: Callable[[float, float], tuple[float, float]]) -> None:
        """Apply ``change`` to the shared (tat, blocked) under the file lock (hold
        ``self._lock``)."""
        if self._shared is not None and self._shared(change):
            return
        if self._unshared is not None:
            self._unshared = change(*self._unshared)
            return
        try:
            state = self._open()
        except OSError as exc:
            if exc.errno not in _DISK_FULL_OR_READ_ONLY:
                raise
            self._unshared = change(0.0, 0.0)
            if self._on_unshared is not None:
                self._on_unshared(exc.strerror or str(exc))
            return
        with state:  # the state file is its own lock, released when closed
            state.lock()
            raw = os.pread(state.fd, _STATE.size, 0)
            tat, blocked = _STATE.unpack(raw) if len(raw) == _STATE.size else (0.0, 0.0)
            tat, blocked = change(tat, blocked)
            os.pwrite(state.fd, _STATE.pack(tat, blocked), 0)

    def _lease(self, now: float) -> None:
        """Take the next ``lease_size`` slots (hold ``self._lock``)."""

        def change(tat: float, blocked: float) -> tuple[float, float]:
            tat, blocked = self._sane(tat, blocked, now)
            tat = self._give_back(tat)
            self._blocked = blocked
            self._next = max(tat, now, blocked)
            self._left = self._lease_size if self._interval else 0
            self._lease_end = self._next + self._interval * self._left
            return self._lease_end, blocked

        self._update(change)
        self._fresh_until = now + LEASE_S

    def _sane(self, tat: float, blocked: float, now: float) -> tuple[float, float]:
        """The shared state, with what a clock step back left in the future reset."""
        if tat > now + max(STALE_S, STALE_SLOTS * self._interval):
            tat = now
        # The slack: a block set at another caller's "now + MAX_BLOCK_S" a moment ago
        # is not stale to a reader whose own "now" was read a little earlier.
        if blocked > now + MAX_BLOCK_S + STALE_S:
            blocked = 0.0
        return tat, blocked

    def _give_back(self, tat: float) -> float:
        """The shared arrival time with this lease's unused slots returned, when nobody
        took a slot after them (else they are dropped: never spent late, in a bunch)."""
        return self._next if self._left and tat == self._lease_end else tat

    def reserve(self, now: float) -> float:
        """Take the next slot; returns how long to wait before using it (0: now)."""
        with self._lock:
            if self._interval == 0.0:
                if now >= self._fresh_until:
                    self._lease(now)
                return max(0.0, self._blocked - now)
            if self._left == 0 or now >= self._fresh_until:
                self._lease(now)
            start = max(self._next, self._blocked)
            self._next = start + self._interval
            self._left -= 1
            return max(0.0, start - self._tolerance - now, self._blocked - now)

    def blocked_until(self, now: float) -> float:
        """When the last ``Retry-After`` ends (0: none), without taking a slot."""
        with self._lock:
            if now >= self._fresh_until:

                def read(tat: float, blocked: float) -> tuple[float, float]:
                    tat, blocked = self._sane(tat, blocked, now)
                    self._blocked = blocked
                    return self._give_back(tat), blocked

                self._update(read)
                self._left = 0  # the lease expired with this read
                self._fresh_until = now + LEASE_S
            return self._blocked

    def block_until(self, until: float) -> None:
        """Nobody (in any process) gets a slot for this host before ``until``."""
        with self._lock:

            def change(tat: float, blocked: float) -> tuple[float, float]:
                self._blocked = max(blocked, until)
                return tat, self._blocked

            self._update(change)

    def close(self) -> None:
        """Nothing is kept open between updates (see ``_open``)."""


class Slots:
    """``n`` interchangeable slots (a bounded semaphore), as tokens in a
    ``queue.SimpleQueue``: cheaper to hand over than ``threading.Semaphore`` when a
    batch worker has more threads than slots (see benchmarks/README.md)."""

    def __init__(self, n: int) -> None:
        self._tokens: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(n):
            self._tokens.put(None)

    def acquire(self, timeout: float) -> bool:
        try:
            self._tokens.get(timeout=timeout)
        except queue.Empty:
            return False
        return True

    def release(self) -> None:
        """Give back a slot taken with :meth:`acquire` (and only such a slot)."""
        self._tokens.put(None)


def _blocked(url: str, left_s: float, max_wait_s: float) -> Exception:
    from rdapctl.core.errors import RateLimitedError

    host = urlsplit(url).hostname or url[:100]
    return RateLimitedError(
        f"{host} asked to be left alone for {left_s:.0f}s more (Retry-After); "
        f"this lookup waits at most {max_wait_s:.0f}s",
        hint="retry later (batch: --resume), or raise business_criticality",
    )


class HostGate:
    """The :class:`rdapctl.net.client.RequestGate` of every lookup that asks a server,
    a batch run's or a single command's (thread-safe)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        max_concurrent: int,
        requests_per_second: float,
        clock: Callable[[], float],
        wait: Callable[[float], bool],
        max_total: int | None = None,
        warn: Callable[[str], None] | None = None,
        shared_state: SharedRateState | None = None,
    ) -> None:
        """``wait(seconds)`` sleeps and returns True when the run was asked to stop;
        ``max_total``: in-flight requests over all hosts (default ``max_concurrent``);
        ``warn``: told once when the shared state cannot be written (full or read-only
        disk) and the rate is kept per process instead (default: a diagnostics warning);
        ``shared_state``: a team backend's state of the buckets (every machine of the
        tenant), in front of the local files."""
        self._dir = state_dir
        self._shared_state = shared_state
        self._warn = warn
        self._warned = False
        self._host_keys: dict[str, str] = {}
        self._max = max(1, max_concurrent)
        self._rate = max(0.0, requests_per_second)
        # A short burst (a tenth of a second's worth) keeps loopback benchmarks from
        # paying a lock round trip per request gap; low rates stay strictly spaced.
        self._burst = max(1.0, self._rate * 0.1)
        self._clock = clock
        self._wait = wait
        self._lock = threading.Lock()
        self._slots: dict[str, Slots] = {}
        self._total = Slots(max(1, max_total or max_concurrent))
        self._buckets: dict[str, SharedBucket] = {}
        # Set at the first Retry-After: from then on a lookup may wait holding no slot.
        self.slowed = threading.Event()

    def share_through(self, shared_state: SharedRateState) -> None:
        """Keep the buckets' state in a team backend from now on (before first use)."""
        with self._lock:
            self._shared_state = shared_state

    def _for(self, host: str) -> tuple[Slots, SharedBucket]:
        with self._lock:
            slot = self._slots.get(host)
            if slot is None:
                slot = self._slots[host] = Slots(self._max)
                path = self._state_path(host)
                shared = None
                if self._shared_state is not None:
                    shared = functools.partial(self._shared_state.update, host)
                self._buckets[host] = SharedBucket(
                    path, self._rate, self._burst, self._unshared, shared
                )
            return slot, self._buckets[host]

    def _unshared(self, reason: str) -> None:
        if self._warned:
            return
        self._warned = True
        message = (
            f"the shared rate-limit state cannot be written ({reason}); "
            "the request rate is kept within this process only"
        )
        if self._warn is not None:
            self._warn(message)
        else:
            from rdapctl.core import diagnostics

            diagnostics.warning(message)

    def _host_key(self, url: str) -> str:
        """:func:`host_key` of ``url``, kept per scheme and authority (it depends on
        nothing else): a run asks one registry host for many names."""
        scheme, sep, rest = url.partition("://")
        origin = scheme + sep + rest.partition("/")[0] if sep else url
        key = self._host_keys.get(origin)
        if key is None:
            key = host_key(url)
            if len(self._host_keys) >= 1024:
                self._host_keys.clear()
            self._host_keys[origin] = key
        return key

    def _state_path(self, host: str) -> Path:
        return self._dir / hashlib.sha256(host.encode()).hexdigest()[:32]

    def acquire(self, url: str, max_wait_s: float | None = None) -> Callable[[], None]:
        """Wait for a slot and a token of ``url``'s host; returns the release.
        ``max_wait_s``: how long the caller may wait out a Retry-After; a longer one,
        even one that comes while the caller waits for its turn, fails it at once
        (RateLimitedError) instead of holding it past its patience."""
        slot, bucket = self._for(self._host_key(url))
        waited_until = 0.0
        started = self._clock()
        while True:
            # A host slowed by Retry-After is waited out holding no slot (others go on).
            now = self._clock()
            until = bucket.blocked_until(now)
            if until > now and until > waited_until:
                self.slowed.set()  # also when another process was told to wait
                if max_wait_s is not None and until - started > max_wait_s:
                    raise _blocked(url, until - now, max_wait_s)
                self._pause(until - now, "interrupted while waiting for the rate limit")
            waited_until = max(waited_until, until)
            release = self._take_slots(slot)
            try:
                now = self._clock()
                delay = bucket.reserve(now)
                if delay > 0:
                    if not self._blocked_anew(bucket, now, waited_until):
                        self._pause(delay, "interrupted while waiting for the rate limit")
                        now = self._clock()
                    if self._blocked_anew(bucket, now, waited_until):
                        # A new Retry-After came while the slots were being taken or
                        # the token awaited: wait it out without them (the slot time
                        # reserved is dropped).
                        release()
                        continue
            except BaseException:
                release()
                raise
            return release

    @staticmethod
    def _blocked_anew(bucket: SharedBucket, now: float, waited_until: float) -> bool:
        return bucket.blocked_until(now) > max(now, waited_until)

    def _take_slots(self, slot: Slots) -> Callable[[], None]:
        """The host's slot, then one of the run's: slots before the token, since a
        token taken then held back behind a busy slot would be spent late, bunching
        requests closer than the rate allows."""
        self._take(slot)
        try:
            self._take(self._total)
        except BaseException:
            slot.release()
            raise

        def release() -> None:
            self._total.release()
            slot.release()

        return release

    def _pause(self, seconds: float, message: str) -> None:
        if self._wait(seconds):
            raise InterruptedRunError(message)

    def _take(self, slot: Slots) -> None:
        # Poll so that a stop request is seen even while every slot is busy.
        while not slot.acquire(timeout=0.2):
            if self._wait(0):
                raise InterruptedRunError("interrupted while waiting for a connection slot")

    def retry_after(self, url: str, wait_s: float) -> None:
        _, bucket = self._for(self._host_key(url))
        # Kept in the shared state for later runs too: a bogus "wait a year" must not
        # shut a registry off for good.
        bucket.block_until(self._clock() + min(wait_s, MAX_BLOCK_S))
        self.slowed.set()

    def blocked_s(self, url: str) -> float:
        host = self._host_key(url)
        with self._lock:
            bucket = self._buckets.get(host)
        if bucket is None:
            if not self._state_path(host).exists():
                # Never asked by any run (a redirect's target, checked before the
                # network guard): nothing is created for it, here or on disk.
                return 0.0
            _, bucket = self._for(host)
        now = self._clock()
        return max(0.0, bucket.blocked_until(now) - now)

    def pause(self, seconds: float) -> None:
        self._pause(seconds, "interrupted while waiting to retry")

    def close(self) -> None:
        with self._lock:
            for bucket in self._buckets.values():
                bucket.close()
