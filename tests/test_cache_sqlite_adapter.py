"""The contract rdapctl's direct SQLite reads rely on: the table layout of the pinned
diskcache (5.6.x), and the diskcache side using its public API only (no connection
left open when a damaged store is opened, no private name imported)."""

from __future__ import annotations

import ast
import inspect
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import diskcache
import pytest

from rdapctl.policy.tenant import Tenant
from rdapctl.store.cache import codec, diskcache_store, sqlite_adapter, tenant_cache
from rdapctl.store.cache.entries import CacheRequest
from rdapctl.store.cache.tenant_cache import TenantCache
from rdapctl.store.keys.keyring import Keyring
from rdapctl.store.paths import StatePaths

# The Cache table as diskcache 5.6 creates it: (column, declared type, primary key).
CACHE_COLUMNS = [
    ("rowid", "INTEGER", 1),
    ("key", "BLOB", 0),
    ("raw", "INTEGER", 0),
    ("store_time", "REAL", 0),
    ("expire_time", "REAL", 0),
    ("access_time", "REAL", 0),
    ("access_count", "INTEGER", 0),
    ("tag", "BLOB", 0),
    ("size", "INTEGER", 0),
    ("mode", "INTEGER", 0),
    ("filename", "TEXT", 0),
    ("value", "BLOB", 0),
]
# The Settings keys the adapter reads or updates, beside diskcache's others.
SETTINGS_KEYS = {"statistics", "hits", "misses", "count", "size", "eviction_policy", "cull_limit"}


def _open() -> tuple[TenantCache, Path]:
    paths = StatePaths.from_env(os.environ)
    tenant = Tenant(name="acme")
    keyring = Keyring.open(paths, tenant.name, {}, clock=time.time)
    cache = TenantCache.open(paths, tenant, keyring)
    return cache, paths.tenant_cache_dir(tenant.name) / "cache.db"


@pytest.fixture
def store_db() -> Iterator[Path]:
    cache, db = _open()
    cache.put(CacheRequest("domain", "example.com"), {"status": "ok"}, 3600)
    cache.close()
    yield db


def test_the_pinned_diskcache_is_5_6() -> None:
    """The layout below is diskcache 5.6's: a newer diskcache needs this contract rechecked."""
    assert diskcache.__version__.startswith("5.6.")


def test_cache_table_layout_is_the_one_the_adapter_reads(store_db: Path) -> None:
    """Columns, their types and order, and the (key, raw) unique index of the Cache table."""
    with closing(sqlite3.connect(store_db)) as con:
        columns = [(c[1], c[2], c[5]) for c in con.execute("PRAGMA table_info(Cache)")]
        indexes = {
            row[1]: (row[2], [c[2] for c in con.execute(f"PRAGMA index_info({row[1]})")])
            for row in con.execute("PRAGMA index_list(Cache)")
        }
    assert columns == CACHE_COLUMNS
    assert indexes["Cache_key_raw"] == (1, ["key", "raw"])
    assert indexes["Cache_access_time"] == (0, ["access_time"])  # least-recently-used


def test_settings_table_layout_and_keys(store_db: Path) -> None:
    """Settings is (key, value) with the statistics switch and the hit/miss counters."""
    with closing(sqlite3.connect(store_db)) as con:
        columns = [c[1] for c in con.execute("PRAGMA table_info(Settings)")]
        settings = dict(con.execute("SELECT key, value FROM Settings").fetchall())
    assert columns == ["key", "value"]
    assert set(settings) >= SETTINGS_KEYS
    assert settings["statistics"] == 1
    assert settings["eviction_policy"] == "least-recently-used"


def test_rows_are_written_in_the_mode_the_adapter_reads(store_db: Path) -> None:
    """rdapctl's values are inline raw bytes (diskcache's MODE_RAW), under raw keys."""
    from diskcache.core import MODE_RAW

    assert sqlite_adapter.MODE_RAW == MODE_RAW
    with closing(sqlite3.connect(store_db)) as con:
        rows = con.execute("SELECT raw, mode, filename, typeof(value) FROM Cache").fetchall()
    assert rows == [(1, MODE_RAW, None, "blob")]


def test_direct_reads_and_bookkeeping_match_diskcache_get(store_db: Path) -> None:
    """A hit read without diskcache counts like diskcache's get and refreshes LRU time."""
    cache, _db = _open()
    with closing(sqlite3.connect(store_db)) as con:
        before = con.execute("SELECT access_time FROM Cache").fetchone()[0]
    assert cache.get(CacheRequest("domain", "example.com")) is not None  # direct read
    assert cache.get(CacheRequest("domain", "missing.example")) is None
    stats = cache.stats()
    assert (stats["hits"], stats["misses"]) == (1, 1)
    with closing(sqlite3.connect(store_db)) as con:
        after = con.execute("SELECT access_time FROM Cache").fetchone()[0]
    assert after >= before
    cache.close()


def test_opening_a_damaged_store_closes_every_connection_it_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Garbage over cache.db: the store is moved aside, and once the cache is closed no
    connection opened meanwhile is left to the garbage collector (a ResourceWarning
    from Python 3.13 on)."""
    cache, db = _open()
    cache.close()
    for path in db.parent.glob("cache.db*"):
        path.unlink()
    db.write_bytes(b"not a database " * 200)
    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def recording_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        con = real_connect(*args, **kwargs)
        opened.append(con)
        return con

    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    failures: list[str] = []
    paths = StatePaths.from_env(os.environ)
    tenant = Tenant(name="acme")
    keyring = Keyring.open(paths, tenant.name, {}, clock=time.time)
    cache = TenantCache.open(paths, tenant, keyring, on_integrity_failure=failures.append)
    assert cache.put(CacheRequest("domain", "example.com"), {"a": 1}, 3600)
    cache.close()
    assert failures and "moved" in failures[0]
    assert len(opened) >= 2  # the failed open's connection, and the new store's
    for con in opened:
        with pytest.raises(sqlite3.ProgrammingError):
            con.total_changes  # noqa: B018 - raises once the connection is closed


def test_set_many_writes_every_item_and_culls_expired_rows_once(store_db: Path) -> None:
    """The batch writer: one transaction through Cache.set, the store's cull limit left
    as it was, expired rows culled."""
    store = diskcache.Cache(str(store_db.parent), disk=diskcache_store.private_disk_class())
    try:
        store.set(b"old", b"stale", expire=-1)
        limit = store.cull_limit
        diskcache_store.set_many(store, [(bytes([i]) * 32, b"v%d" % i, 3600) for i in range(20)])
        assert store.cull_limit == limit
        assert b"old" not in store
        assert all(store.get(bytes([i]) * 32) == b"v%d" % i for i in range(20))
    finally:
        store.close()
    with closing(sqlite3.connect(store_db)) as con:
        assert con.execute("SELECT value FROM Settings WHERE key = 'cull_limit'").fetchone() == (
            limit,
        )


@pytest.mark.parametrize("module", [codec, diskcache_store, sqlite_adapter, tenant_cache])
def test_no_private_name_of_a_dependency_is_used(module: Any) -> None:
    """No ``_``-prefixed attribute of diskcache, sqlite3 or a diskcache store is reached
    (``self``, ``cls`` and ``cache`` are rdapctl's own objects)."""
    tree = ast.parse(inspect.getsource(module))
    private = sorted(
        f"{ast.unparse(node.value)}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and ast.unparse(node.value) not in ("self", "cls", "cache")  # rdapctl's own
    )
    assert private == []
    imported = [
        node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("diskcache")
    ]
    assert all(not part.startswith("_") for name in imported for part in name.split("."))


def test_importing_the_cache_does_not_load_diskcache_or_cryptography() -> None:
    """A lookup answered from the cache pays for neither library's import up front."""
    code = (
        "import sys, rdapctl.store.cache.tenant_cache\n"
        "bad = [m for m in ('cryptography', 'diskcache') if m in sys.modules]\n"
        "print(json.dumps(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json\n" + code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == []


def test_batch_reads_never_open_the_file_behind_an_open_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once this process has the store open, a reader never opens and closes cache.db by
    other means: closing any descriptor of the file drops the process's SQLite locks
    (two processes then lost each other's writes)."""
    paths = StatePaths.from_env(os.environ)
    tenant = Tenant(name="acme")
    keyring = Keyring.open(paths, tenant.name, {}, clock=time.time)
    cache = TenantCache.open(paths, tenant, keyring, defer_bookkeeping=True)  # a new store
    peeks: list[Path] = []
    monkeypatch.setattr(sqlite_adapter, "looks_like_sqlite", peeks.append)
    try:
        assert cache.get(CacheRequest("domain", "example.com")) is None
        assert cache.put_many_plain([(CacheRequest("domain", "a.example"), b"{}", 60, None)])
    finally:
        cache.close()
    assert peeks == []
