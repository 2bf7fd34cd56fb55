"""Opening a tenant's diskcache store and writing to it, through diskcache's public
API only (``Cache``, ``Cache.transact``, ``Cache.set``, a ``Disk`` subclass that
overrides the documented ``store``, ``fetch`` and ``remove`` hooks).

The store is created private (folder 0700, files 0600). Values live in their row,
never in files, and no file a row names is opened or removed. Only real corruption
(SQLite: malformed, not a database) moves a store aside, keeping one damaged copy per
tenant; a full or read-only disk leaves it as it is. diskcache is imported lazily:
a cache hit reads without it (see ``sqlite_adapter``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdapctl.store.cache.sqlite_adapter import MODE_RAW, is_corruption, stored_bytes
from rdapctl.store.locks import held
from rdapctl.store.ownership import open_private
from rdapctl.store.paths import DIR_MODE, FILE_MODE, StatePaths, ensure_private_dir

if TYPE_CHECKING:
    from rdapctl.policy.tenant import Tenant

_DAMAGED_SUFFIX = re.compile(r"\.damaged-\d{8}T\d{6}Z(?:-\d+)?")


def _diskcache() -> Any:
    """The diskcache package, imported on first use (it ships no type information)."""
    import diskcache  # type: ignore[import-untyped]

    return diskcache


def private_disk_class() -> type:
    """A diskcache Disk that keeps every value inline in its row and never acts on a
    filename read from a row: diskcache's get, delete, eviction, cull, expire and clear
    paths call ``fetch`` and ``remove`` with whatever a (planted) row names."""
    disk: Any = _diskcache().Disk

    class PrivateDisk(disk):  # type: ignore[misc]
        def store(self, value: Any, read: bool, key: Any = None) -> Any:
            # rdapctl stores envelopes (bytes) and one counter (int): inline, any size.
            if type(value) is bytes and not read:
                return 0, MODE_RAW, None, sqlite3.Binary(value)
            if type(value) is int:
                return super().store(value, False)
            raise TypeError("rdapctl's cache stores bytes only")

        def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
            # Never opens a file, never unpickles: anything else is FOREIGN.
            return stored_bytes(mode, filename, value)

        def remove(self, file_path: str) -> None:
            """Nothing: rdapctl writes no value files, so a filename is a planted one."""

    return PrivateDisk


def _closing_cache_class() -> type:
    """diskcache's Cache, closing the connection it opened when opening fails (a
    damaged store): otherwise that connection is left for the garbage collector."""
    cache: Any = _diskcache().Cache

    class ClosingCache(cache):  # type: ignore[misc]
        def __init__(self, directory: str, **settings: Any) -> None:
            try:
                super().__init__(directory, **settings)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.close()
                raise

    return ClosingCache


def timeout_error() -> type[BaseException]:
    """diskcache's Timeout (a store error like sqlite3's), once diskcache is imported."""
    timeout: type[BaseException] = _diskcache().Timeout
    return timeout


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


def open_store(
    paths: StatePaths,
    tenant: Tenant,
    directory: Path,
    clock: Callable[[], float],
    on_integrity_failure: Callable[[str], None],
) -> Any:
    """The tenant's diskcache store, created if missing; a damaged one is moved aside
    to ``<tenant>.damaged-<UTC timestamp>`` (reported) and a new one created."""
    settings: dict[str, Any] = {
        "eviction_policy": "least-recently-used",
        "size_limit": max(1, tenant.cache.max_size_mb) * 2**20,
        "statistics": 1,
        "disk": private_disk_class(),
    }
    try:
        return _open(directory, settings)
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise  # a full or read-only disk: keep the store, go on without it
    # Under a lock and after a second try, so that two processes finding the same
    # damage do not move aside the fresh store the other just created.
    with held(paths.cache_root / f".{tenant.name}.lock"):
        try:
            return _open(directory, settings)
        except sqlite3.DatabaseError as again:
            if not is_corruption(again):
                raise
        aside = _move_aside(directory, clock)
        on_integrity_failure(
            f"the cache store of tenant {tenant.name} was damaged; it was moved"
            f" to {aside.name} and a new one created"
        )
        return _open(directory, settings)


def _open(directory: Path, settings: dict[str, Any]) -> Any:
    ensure_private_dir(directory)
    # SQLite gives its -wal/-shm files the database file's mode, so creating
    # cache.db 0600 first keeps every later file private too.
    db = directory / "cache.db"
    if not db.exists():
        os.close(open_private(db, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    store = _closing_cache_class()(str(directory), **settings)
    _tighten(directory)
    return store


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


def set_many(store: Any, items: list[tuple[bytes, bytes, int]]) -> None:
    """``store.set(key, value, expire=ttl)`` for each item, in one transaction, with
    diskcache's eviction pass (expired entries, then the size limit) run once for the
    whole chunk instead of after every set: ``cull_limit`` is 0 for this store object
    (not in the database, ``update=False``) while the chunk is written. A single item
    is one plain ``set``, which culls by itself."""
    if len(items) == 1:
        ((key, value, ttl_s),) = items
        store.set(key, value, expire=ttl_s, retry=True)
        return
    with store.transact(retry=True):
        limit = store.cull_limit
        store.reset("cull_limit", 0, update=False)
        try:
            for key, value, ttl_s in items:
                store.set(key, value, expire=ttl_s)
        finally:
            store.reset("cull_limit", limit, update=False)
        if limit:
            store.cull(retry=True)
