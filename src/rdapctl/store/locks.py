"""Exclusive locks between rdapctl processes: the one lock helper.

Every cross-process lock is ``flock(2)`` on an open file: a private lock file (the
keyring, the audit trail, the shared rate-limit state, the cache store) or a file
the user names (the batch ``--output``). A lock file is a state file: opened through
:func:`rdapctl.store.ownership.open_private` (no symlink followed, ours, not writable
by others, ``O_CLOEXEC`` so a child process never inherits it) and created 0600.
The lock belongs to the open file description, so it is released when the file is
closed, also when the process dies: a crash never leaves a lock behind.

A wait is either unbounded (the kernel blocks) or bounded: then the lock is tried
without blocking and retried after short pauses until a deadline read from an
injected clock, so tests can run it without sleeping.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from rdapctl.store.ownership import open_private
from rdapctl.store.paths import FILE_MODE

# Pauses between tries of a bounded wait: short at first (most holders are quick),
# never more than 20 ms (a waiter notices a release soon).
POLL_S: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02)

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class LockTimeout(Exception):
    """A bounded wait for a lock ended without the lock (someone else holds it)."""

    def __init__(self, path: Path, timeout_s: float) -> None:
        super().__init__(f"timed out after {timeout_s:g}s waiting for the lock {path}")
        self.path = path
        self.timeout_s = timeout_s


def try_lock(fd: int) -> bool:
    """Take the exclusive lock on open file ``fd`` without waiting: True when taken,
    False when another open file holds it. Other failures raise OSError."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def wait_lock(
    fd: int,
    timeout_s: float | None = None,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> bool:
    """Take the exclusive lock on open file ``fd``, waiting for it.

    ``timeout_s`` None: wait as long as it takes (True). Otherwise try, and retry
    after the pauses of :data:`POLL_S` until ``clock`` passes the deadline: False
    when the lock was still held then.
    """
    if timeout_s is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    deadline = clock() + timeout_s
    attempt = 0
    while not try_lock(fd):
        if clock() >= deadline:
            return False
        sleep(POLL_S[min(attempt, len(POLL_S) - 1)])
        attempt += 1
    return True


class LockFile:
    """An open private lock file (see the module docstring); the lock, once taken,
    is held until :meth:`close` (or the end of a ``with`` block)."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    @classmethod
    def open(cls, path: Path) -> LockFile:
        """Open (creating it 0600) lock file ``path`` in an existing state folder.
        ConfigError when it is not trusted state; OSError when it cannot be opened."""
        return cls(open_private(path, os.O_RDWR | os.O_CREAT, FILE_MODE), path)

    def try_lock(self) -> bool:
        """Take the lock if it is free (True); False when another holder has it."""
        return try_lock(self.fd)

    def lock(
        self,
        timeout_s: float | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        """Take the lock, waiting for ever or (with ``timeout_s``) until LockTimeout."""
        if not wait_lock(self.fd, timeout_s, clock=clock, sleep=sleep):
            raise LockTimeout(self.path, timeout_s or 0.0)

    def close(self) -> None:
        """Release the lock (if held) by closing the file; safe to call twice."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def __enter__(self) -> LockFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LockFile({str(self.path)!r}, open={self.fd >= 0})"


@contextmanager
def held(
    path: Path,
    timeout_s: float | None = None,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> Iterator[LockFile]:
    """Hold the exclusive lock on lock file ``path`` for the ``with`` block.

    Waits for ever, or raises :class:`LockTimeout` after ``timeout_s``; the folder
    must exist (``rdapctl.store.paths.ensure_private_dir``).
    """
    with LockFile.open(path) as lock:
        lock.lock(timeout_s, clock=clock, sleep=sleep)
        yield lock
