"""Rows rdapctl never writes, planted with plain sqlite3 into a real tenant store.

A row naming a file (diskcache's value-file modes 2/3/4, or a filename beside an inline
value), or holding a value of the wrong type, is a miss whose row is deleted: no path
of rdapctl (get in each read mode, put, eviction, cull, expire, clear, purge, the
``cache`` commands, doctor, a lookup) opens or removes the file it names.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rdapctl.policy.tenant import Tenant
from rdapctl.store.cache.entries import CacheRequest
from rdapctl.store.cache.tenant_cache import TenantCache
from rdapctl.store.keys.keyring import Keyring
from rdapctl.store.paths import StatePaths
from tests.support import load_fixture, loopback_profiles

T0 = 1_700_000_000.0
FUTURE = 4_000_000_000.0  # wall-clock expiry that diskcache treats as live


class Victim:
    """A file a planted row names; it must come through unread and unchanged."""

    def __init__(self, path: Path, data: bytes | None = None) -> None:
        self.path = path
        self.watch_reads = data is not None  # the keyring itself is read by rdapctl
        if data is not None:
            path.write_bytes(data)
        self.data = path.read_bytes()
        if self.watch_reads:
            # An access time older than the modification time: a read moves it (relatime).
            os.utime(path, ns=(1_000_000_000, 2_000_000_000))
        st = path.stat()
        self.stat = (st.st_ino, st.st_mtime_ns, st.st_atime_ns)

    def unchanged(self) -> bool:
        st = self.path.stat()  # before reading it here, which moves the access time
        now = (st.st_ino, st.st_mtime_ns, st.st_atime_ns)
        if not self.watch_reads:
            now = (*now[:2], self.stat[2])
        same = now == self.stat and self.path.read_bytes() == self.data
        if self.watch_reads:  # this check's own read moved the access time: set it back
            os.utime(self.path, ns=(1_000_000_000, 2_000_000_000))
        return same


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(rdapctl_home: Path) -> Iterator[tuple[StatePaths, Tenant, Keyring, Clock]]:
    paths = StatePaths.from_env(os.environ)
    tenant = Tenant(name="acme")
    clock = Clock()
    keyring = Keyring.open(paths, tenant.name, {}, clock=clock)
    yield paths, tenant, keyring, clock


def _open(
    parts: tuple[StatePaths, Tenant, Keyring, Clock], failures: list[str], **kw: Any
) -> TenantCache:
    paths, tenant, keyring, clock = parts
    return TenantCache.open(
        paths, tenant, keyring, clock=clock, on_integrity_failure=failures.append, **kw
    )


def req(query: str = "example.com") -> CacheRequest:
    return CacheRequest("domain", query, None)


def plant(
    db: Path,
    key: bytes | str,
    *,
    mode: int,
    filename: str | None,
    value: object = None,
    expire: float = FUTURE,
    size: int = 0,
) -> None:
    """Insert or replace the row of ``key`` as another program could write it."""
    con = sqlite3.connect(db)
    try:
        con.execute("DELETE FROM Cache WHERE key = ? AND raw = 1", (key,))
        con.execute(
            "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count,"
            " tag, size, mode, filename, value) VALUES (?, 1, 0, ?, 0, 0, NULL, ?, ?, ?, ?)",
            (key, expire, size, mode, filename, value),
        )
        con.commit()
    finally:
        con.close()


def rows_naming_files(db: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT mode, filename FROM Cache WHERE filename IS NOT NULL OR mode != 1"
        ).fetchall()
    finally:
        con.close()


def victims(tmp_path: Path, paths: StatePaths) -> dict[str, tuple[str, Victim]]:
    """name -> (filename as planted, victim): absolute, escaping, and the keyring."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    absolute = Victim(outside / "victim", b"precious")
    keyring = Victim(paths.keyring_file("acme"))
    # Relative to the store folder, as diskcache joins it: cache/acme/../../keys/acme.json
    escaping = os.path.relpath(paths.keyring_file("acme"), paths.tenant_cache_dir("acme"))
    assert escaping.startswith("..")
    planted = Victim(outside / "planted.val", b"a file planted as a value")
    return {
        "absolute": (str(absolute.path), absolute),
        "keyring": (escaping, keyring),
        "existing": (str(planted.path), planted),
    }


# (mode, value) of each planted form: diskcache's file modes and an inline row with a filename.
FORMS = {
    "binary-file": (2, None),
    "text-file": (3, None),
    "pickle-file": (4, None),
    "raw-with-filename": (1, b"RC\x01\x00\x00"),
}


@pytest.mark.parametrize("reader", ["direct", "diskcache", "batch"])
@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("target", ["absolute", "keyring", "existing"])
def test_a_row_naming_a_file_is_a_deleted_miss_and_the_file_is_untouched(
    store: tuple[StatePaths, Tenant, Keyring, Clock],
    tmp_path: Path,
    reader: str,
    form: str,
    target: str,
) -> None:
    paths = store[0]
    failures: list[str] = []
    cache = _open(store, failures)
    assert cache.put(req("other.example"), {"kept": True}, 3600)
    key = cache.cache_key(req())
    cache.close()
    db = paths.tenant_cache_dir("acme") / "cache.db"
    filename, victim = victims(tmp_path, paths)[target]
    mode, value = FORMS[form]
    plant(db, key, mode=mode, filename=filename, value=value)

    cache = _open(store, failures, defer_bookkeeping=reader == "batch")
    if reader == "diskcache":
        _ = cache._store  # the read goes through diskcache's own get
    assert cache.get(req()) is None
    assert cache.get(req("other.example")) is not None  # the store itself is fine
    cache.close()

    assert victim.unchanged()
    assert rows_naming_files(db) == []  # the planted row is gone
    assert len(failures) == 1 and "planted" in failures[0]
    assert not list(paths.cache_root.glob("*.damaged-*"))


@pytest.mark.parametrize(
    ("mode", "value"),
    [(1, "text, not bytes"), (1, 12345), (1, None), (1, 1.5), (7, b"RC\x01"), (None, b"RC")],
    ids=["text", "integer", "null", "real", "unknown-mode", "null-mode"],
)
def test_a_row_of_the_wrong_type_or_mode_is_a_deleted_miss(
    store: tuple[StatePaths, Tenant, Keyring, Clock], mode: int, value: object
) -> None:
    failures: list[str] = []
    cache = _open(store, failures)
    key = cache.cache_key(req())
    cache.put(req(), {"a": 1}, 3600)
    cache.close()
    db = store[0].tenant_cache_dir("acme") / "cache.db"
    plant(db, key, mode=mode, filename=None, value=value)
    with _open(store, failures) as cache:
        assert cache.get(req()) is None
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM Cache WHERE key = ?", (key,)).fetchone() == (0,)
    con.close()
    assert len(failures) == 1
    # purge deletes such rows wherever they are (under keys no lookup asks for too).
    plant(db, b"not a cache key", mode=mode, filename=None, value=value)
    plant(db, "a text key", mode=1, filename=None, value=b"RC")
    with _open(store, failures) as cache:
        assert cache.purge() == 2
        assert cache.get(req("fresh.example")) is None
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM Cache WHERE key != 'rdapctl:rejected'").fetchone() == (
        0,
    )
    con.close()


def test_large_values_are_written_inline_by_every_writer(
    store: tuple[StatePaths, Tenant, Keyring, Clock],
) -> None:
    """put, put_many and the batch writer keep values far above diskcache's file
    threshold in their row: rdapctl never writes a row that names a file."""
    big = {"blob": os.urandom(50_000).hex()}
    plain = json.dumps(big, separators=(",", ":")).encode()
    with _open(store, []) as cache:
        assert cache.put(req("a.example"), big, 3600)
        assert cache.put_many([(req("b.example"), big, 3600)]) == 1
        assert cache.put_many_plain([(req("c.example"), plain, 3600, None)]) == 1
        for name in ("a", "b", "c"):
            assert cache.get(req(f"{name}.example")).value == big  # type: ignore[union-attr]
    folder = store[0].tenant_cache_dir("acme")
    assert rows_naming_files(folder / "cache.db") == []
    assert [p.name for p in folder.iterdir() if p.is_dir()] == []


def test_eviction_cull_expire_clear_and_purge_never_remove_a_named_file(
    store: tuple[StatePaths, Tenant, Keyring, Clock], tmp_path: Path
) -> None:
    """Planted rows that diskcache's own maintenance deletes (expired ones culled on a
    write, oversized ones evicted past the size limit, expire(), cull(), clear()) and
    rdapctl's purge: every named file survives."""
    paths = store[0]
    with _open(store, []) as cache:
        cache.put(req("seed.example"), {"a": 1}, 3600)
    db = paths.tenant_cache_dir("acme") / "cache.db"
    named = victims(tmp_path, paths)

    def plant_all(tag: str) -> None:
        for i, (filename, _victim) in enumerate(named.values()):
            for mode in (1, 2, 3, 4):
                # Expired (culled by the next write) and oversized (evicted by size).
                plant(db, f"{tag}-exp-{i}-{mode}".encode(), mode=mode, filename=filename,
                      expire=1.0)  # fmt: skip
                plant(db, f"{tag}-big-{i}-{mode}".encode(), mode=mode, filename=filename,
                      size=2**30)  # fmt: skip

    failures: list[str] = []
    plant_all("put")
    with _open(store, failures) as cache:
        for i in range(12):  # each set culls expired rows, then evicts past the limit
            cache.put(req(f"n{i}.example"), {"n": i}, 3600)
        assert cache.put_many_plain([(req("batch.example"), b'{"b":1}', 3600, None)]) == 1
    for tag, action in (
        ("expire", lambda c: c._store.expire()),
        ("cull", lambda c: c._store.cull()),
        ("evict", lambda c: c._store.evict(None)),
        ("purge", lambda c: c.purge()),
        ("clear", lambda c: c.clear()),
    ):
        plant_all(tag)
        with _open(store, failures) as cache:
            action(cache)
            if tag == "purge":
                assert rows_naming_files(db) == []
    for _filename, victim in named.values():
        assert victim.unchanged()
    assert Keyring.open(paths, "acme", {}).index_key()  # the tenant still opens its keyring


def test_cli_commands_and_lookups_leave_named_files_alone(
    httpserver: Any, rdapctl_home: Path, tmp_path: Path
) -> None:
    """The real CLI over a store full of planted rows: a lookup (a write, so a cull),
    ``cache stats``, ``doctor``, ``cache purge``, ``cache clear``; nothing named is removed."""
    loopback_profiles(rdapctl_home, httpserver.port)
    httpserver.expect_request("/autnum/63311").respond_with_json(
        load_fixture("autnum/arin-as63311.json")
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rdapctl", *args],
            capture_output=True,
            text=True,
            check=False,
            env=dict(os.environ, RDAPCTL_HOME=str(rdapctl_home)),
        )

    first = cli("lookup", "AS63311", "--server", httpserver.url_for("/"), "-o", "json")
    assert first.returncode == 0, first.stderr
    paths = StatePaths.from_env({"RDAPCTL_HOME": str(rdapctl_home)})
    db = paths.tenant_cache_dir("lab") / "cache.db"
    outside = tmp_path / "outside"
    outside.mkdir()
    keyring = Victim(paths.keyring_file("lab"))
    absolute = Victim(outside / "victim", b"precious")
    escaping = os.path.relpath(paths.keyring_file("lab"), db.parent)
    audit_dir = paths.tenant_audit_dir("lab")
    audit_files = {p: p.read_bytes() for p in audit_dir.glob("*.jsonl")}
    assert audit_files

    def plant_all(tag: str) -> None:
        for i, filename in enumerate((str(absolute.path), escaping)):
            for mode in (2, 3, 4):
                plant(db, f"{tag}-{i}-{mode}".encode(), mode=mode, filename=filename,
                      expire=1.0 if mode == 2 else FUTURE, size=2**30)  # fmt: skip

    plant_all("lookup")
    again = cli("lookup", "AS63311", "--server", httpserver.url_for("/"), "--refresh", "-o", "json")
    assert again.returncode == 0, again.stderr
    for args in (("cache", "stats"), ("doctor",), ("cache", "purge"), ("cache", "clear")):
        plant_all(args[-1])
        done = cli(*args)
        assert "Traceback" not in done.stderr and done.returncode in (0, 9), (args, done.stderr)
        assert keyring.unchanged() and absolute.unchanged(), args
    for path, data in audit_files.items():
        assert path.read_bytes().startswith(data)  # appended to, never replaced or removed
    verify = cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
