"""The encrypted per-tenant cache: freshness, isolation, integrity, permissions, concurrency."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rdapctl.policy.tenant import CacheSettings, Compliance, Security, Tenant
from rdapctl.store.cache.entries import CacheRequest
from rdapctl.store.cache.freshness import default_ttl, ttl_from_headers
from rdapctl.store.cache.tenant_cache import TenantCache
from rdapctl.store.keys.keyring import Keyring
from rdapctl.store.paths import StatePaths
from tests.support import load_fixture

T0 = 1_700_000_000.0
SECRET_QUERY = "zz-distinctive-query-name.example"
SECRET_TEXT = "Distinctive-Registrant-Street-4711"


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Harness:
    """A tenant's keyring and cache with an injected clock and recorded failures."""

    def __init__(self, tenant: Tenant, env: dict[str, str] | None = None) -> None:
        self.paths = StatePaths.from_env(os.environ)
        self.tenant = tenant
        self.clock = Clock()
        self.failures: list[str] = []
        self.keyring = Keyring.open(self.paths, tenant.name, env or {}, clock=self.clock)
        self.cache = self.open()

    def open(self, tenant: Tenant | None = None) -> TenantCache:
        return TenantCache.open(
            self.paths,
            tenant or self.tenant,
            self.keyring,
            clock=self.clock,
            on_integrity_failure=self.failures.append,
        )

    @property
    def directory(self) -> Path:
        return self.paths.tenant_cache_dir(self.tenant.name)


@pytest.fixture
def acme() -> Iterator[Harness]:
    h = Harness(Tenant(name="acme"))
    yield h
    h.cache.close()


def req(query: str = "example.com", **kw: Any) -> CacheRequest:
    return CacheRequest(kw.pop("query_type", "domain"), query, kw.pop("server", None), **kw)


def rdap_value(extra: str = "") -> dict[str, Any]:
    obj = load_fixture("autnum/arin-as63311.json")
    assert isinstance(obj, dict)
    obj["remarks"] = [{"description": [SECRET_TEXT + extra]}]
    return {"result": obj, "fetched_at": T0, "server": "https://rdap.arin.net/", "http_status": 200}


def _rows(directory: Path) -> list[tuple[int, bytes]]:
    conn = sqlite3.connect(directory / "cache.db")
    try:
        return [
            (rowid, bytes(value))
            for rowid, value in conn.execute(
                "SELECT rowid, value FROM Cache WHERE typeof(key) = 'blob'"
            )
        ]
    finally:
        conn.close()


def _set_value(directory: Path, rowid: int, value: bytes) -> None:
    conn = sqlite3.connect(directory / "cache.db")
    try:
        conn.execute("UPDATE Cache SET value = ? WHERE rowid = ?", (value, rowid))
        conn.commit()
    finally:
        conn.close()


# --------------------------------------------------------------------------- basics


def test_stored_value_comes_back_with_its_age(acme: Harness) -> None:
    """A put entry is returned by get with stored_at, age and the data key id."""
    value = rdap_value()
    assert acme.cache.put(req(), value, 3600)
    acme.clock.now += 42
    entry = acme.cache.get(req())
    assert entry is not None
    assert entry.value == value
    assert entry.stored_at == T0 and entry.age_s == 42
    assert entry.key_id == acme.keyring.active_data_key()[0]


def test_unknown_request_is_a_miss_and_stats_count_it(acme: Harness) -> None:
    """Misses and hits are counted and reported with entries and size."""
    assert acme.cache.get(req("nothing.example")) is None
    acme.cache.put(req(), {"a": 1}, 60)
    acme.cache.get(req())
    stats = acme.cache.stats()
    assert stats["entries"] == 1 and stats["hits"] == 1 and stats["misses"] == 1
    assert stats["oldest"] == stats["newest"] == T0 and stats["size_bytes"] > 0


def test_stats_persist_across_processes_reopening_the_store(acme: Harness) -> None:
    """Hit and miss counts live in the store, so a new instance sees them."""
    acme.cache.put(req(), {"a": 1}, 60)
    acme.cache.get(req())
    acme.cache.get(req("other.example"))
    acme.cache.close()
    acme.cache = acme.open()
    stats = acme.cache.stats()
    assert (stats["hits"], stats["misses"]) == (1, 1)


def test_request_fields_each_select_a_different_entry(acme: Harness) -> None:
    """Query type, query, server and follow_referrals all take part in the key."""
    acme.cache.put(req("x.example"), {"n": 0}, 60)
    assert acme.cache.get(req("x.example", query_type="nameserver")) is None
    assert acme.cache.get(req("x.example", server="https://other/")) is None
    assert acme.cache.get(req("x.example", follow_referrals=False)) is None
    assert acme.cache.get(req("X.example")) is None
    assert acme.cache.get(req("x.example")) is not None


def test_disabled_cache_neither_stores_nor_serves() -> None:
    """With cache.enabled = false, put stores nothing and get always misses."""
    h = Harness(Tenant(name="off", cache=CacheSettings(enabled=False)))
    assert h.cache.put(req(), {"a": 1}, 60) is False
    assert h.cache.get(req()) is None
    assert h.cache.stats()["entries"] == 0
    h.cache.close()


def test_clear_removes_everything_and_returns_the_count(acme: Harness) -> None:
    """clear() deletes every entry and says how many."""
    for i in range(3):
        acme.cache.put(req(f"d{i}.example"), {"i": i}, 60)
    assert acme.cache.clear() == 3
    assert acme.cache.get(req("d0.example")) is None
    assert acme.cache.stats()["entries"] == 0


def test_non_json_value_is_an_rdapctl_error(acme: Harness) -> None:
    """A value that is not JSON-able is refused with an RdapctlError, not a TypeError."""
    from rdapctl.core.errors import RdapctlError

    with pytest.raises(RdapctlError):
        acme.cache.put(req(), {"when": object()}, 60)


def test_repr_shows_no_keys(acme: Harness) -> None:
    """The cache's repr names the tenant only."""
    text = repr(acme.cache)
    assert "acme" in text
    assert acme.keyring.index_key().hex() not in text


# --------------------------------------------------------------------------- freshness


def test_entry_expires_by_the_injected_clock(acme: Harness) -> None:
    """An entry is served until its TTL is up and then missed and removed."""
    acme.cache.put(req(), {"a": 1}, 100)
    acme.clock.now = T0 + 99
    assert acme.cache.get(req()) is not None
    acme.clock.now = T0 + 100
    assert acme.cache.get(req()) is None
    assert acme.cache.stats()["entries"] == 0
    assert acme.failures == []


def test_expired_lookups_count_as_misses(acme: Harness) -> None:
    """A lookup that finds only an expired entry is a miss in the stats."""
    acme.cache.put(req(), {"a": 1}, 10)
    acme.clock.now += 11
    acme.cache.get(req())
    stats = acme.cache.stats()
    assert (stats["hits"], stats["misses"]) == (0, 1)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 3600),
        ({"Cache-Control": "max-age=60"}, 60),
        ({"cache-control": "public, max-age=7200"}, 3600),
        ({"Cache-Control": "max-age=600", "Age": "100"}, 500),
        ({"Cache-Control": "max-age=60", "Expires": "Thu, 01 Jan 2099 00:00:00 GMT"}, 60),
        ({"Cache-Control": "no-store"}, None),
        ({"Cache-Control": "private, no-cache"}, None),
        ({"Cache-Control": "max-age=bogus"}, 3600),
        ({"Expires": "Tue, 14 Nov 2023 22:03:20 GMT"}, 0),
        ({"Expires": "Tue, 14 Nov 2023 22:33:20 GMT"}, 1200),
        ({"Expires": "Thu, 01 Jan 2099 00:00:00 GMT"}, 3600),
        ({"Expires": "0"}, 0),
    ],
    ids=[
        "none",
        "max-age-shortens",
        "max-age-never-lengthens",
        "age-subtracted",
        "max-age-beats-expires",
        "no-store",
        "no-cache",
        "bad-max-age-ignored",
        "expires-past",
        "expires-shortens",
        "expires-never-lengthens",
        "expires-invalid",
    ],
)
def test_ttl_from_headers(headers: dict[str, str], expected: int | None) -> None:
    """Cache-Control and Expires can only shorten the tenant's TTL; no-store forbids caching."""
    assert ttl_from_headers(headers, 3600, T0) == expected


def test_zero_or_none_ttl_is_not_stored(acme: Harness) -> None:
    """put with ttl None (no-store) or 0 (already stale) stores nothing."""
    assert acme.cache.put(req(), {"a": 1}, None) is False
    assert acme.cache.put(req(), {"a": 1}, 0) is False
    assert acme.cache.get(req()) is None


def test_negative_answers_use_the_negative_ttl(acme: Harness) -> None:
    """A 404 answer is kept for negative_ttl_s, a 200 for ttl_s."""
    tenant = Tenant(name="neg", cache=CacheSettings(ttl_s=3600, negative_ttl_s=300))
    assert default_ttl(tenant, 404) == 300
    assert default_ttl(tenant, 200) == 3600
    acme.cache.put(req("missing.example"), {"http_status": 404}, default_ttl(tenant, 404))
    acme.clock.now = T0 + 299
    assert acme.cache.get(req("missing.example")) is not None
    acme.clock.now = T0 + 300
    assert acme.cache.get(req("missing.example")) is None


def test_compliance_caps_and_development_floor_apply_to_default_ttl() -> None:
    """GDPR tenants cache at most an hour; development tenants at least a day."""
    gdpr = Tenant(name="g", compliance=Compliance(gdpr=True), cache=CacheSettings(ttl_s=86400))
    dev = Tenant(name="d", isolation="development", cache=CacheSettings(ttl_s=60))
    assert default_ttl(gdpr, 200) == 3600
    assert default_ttl(dev, 200) == 86400
    assert ttl_from_headers({"Cache-Control": "max-age=999999"}, default_ttl(gdpr, 200), T0) == 3600


def test_policy_change_makes_old_entries_unreachable(acme: Harness) -> None:
    """An entry stored under one policy fingerprint is a miss once the policy changes."""
    acme.cache.put(req(), {"a": 1}, 3600)
    changed = replace(acme.tenant, security=Security(redact_pii=False))
    assert changed.fingerprint() != acme.tenant.fingerprint()
    with acme.open(changed) as other:
        assert other.get(req()) is None
    renamed = replace(acme.tenant, display_name="Acme Corp")
    with acme.open(renamed) as same:
        assert same.get(req()) is not None


# --------------------------------------------------------------------------- on disk


def _all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_no_query_or_response_bytes_in_clear_on_disk(acme: Harness) -> None:
    """Neither the queried name nor response text appear in any file, open or closed."""
    acme.cache.put(req(SECRET_QUERY), rdap_value(), 3600)
    big = {"blob": SECRET_TEXT + os.urandom(40000).hex()}  # > 32 KB even zipped: still inline
    acme.cache.put(req(SECRET_QUERY + ".big"), big, 3600)
    acme.cache.get(req(SECRET_QUERY))
    needles = [SECRET_QUERY.encode(), SECRET_TEXT.encode(), b"63311", b"Distinctive"]
    for when in ("open", "closed"):
        if when == "closed":
            acme.cache.close()
        files = _all_files(acme.directory)
        assert not any(f.suffix == ".val" for f in files)  # every value is in its row
        for path in files:
            data = path.read_bytes()
            for needle in needles:
                assert needle not in data, f"{needle!r} in clear in {path.name} ({when})"
    acme.cache = acme.open()


def test_everything_under_cache_and_keys_is_owner_only(acme: Harness) -> None:
    """Every folder is 0700 and every file 0600, value files and WAL included."""
    acme.cache.put(req(), {"big": os.urandom(40000).hex()}, 3600)
    acme.cache.put(req("small.example"), {"a": 1}, 3600)
    roots = [acme.paths.cache_root, acme.paths.keys_dir]
    for root in roots:
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
        for path in root.rglob("*"):
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"


# --------------------------------------------------------------------------- isolation


def test_other_tenant_never_reads_entries_even_from_copied_files(acme: Harness) -> None:
    """Tenant B misses on A's request even with A's store copied into B's folder."""
    acme.cache.put(req(SECRET_QUERY), rdap_value(), 3600)
    acme.cache.close()
    beta = Harness(Tenant(name="beta"))
    beta.cache.close()
    shutil.rmtree(beta.directory)
    shutil.copytree(acme.directory, beta.directory)
    beta.cache = beta.open()
    assert beta.cache.get(req(SECRET_QUERY)) is None
    assert beta.cache.purge() == 1
    beta.cache.close()
    acme.cache = acme.open()
    assert acme.cache.get(req(SECRET_QUERY)) is not None


def test_entry_moved_into_another_tenants_slot_fails_authentication(acme: Harness) -> None:
    """Even an envelope placed under B's own key for the same request does not decrypt."""
    acme.cache.put(req(), {"tenant": "acme"}, 3600)
    acme.cache.close()
    [(_rowid, stolen)] = _rows(acme.directory)
    beta = Harness(Tenant(name="beta"))
    beta.cache.put(req(), {"tenant": "beta"}, 3600)
    beta.cache.close()
    [(rowid, _own)] = _rows(beta.directory)
    _set_value(beta.directory, rowid, stolen)
    beta.cache = beta.open()
    assert beta.cache.get(req()) is None
    assert len(beta.failures) == 1
    beta.cache.close()
    acme.cache = acme.open()


# --------------------------------------------------------------------------- tampering


def _flip(blob: bytes) -> bytes:
    return blob[:-20] + bytes([blob[-20] ^ 0x01]) + blob[-19:]


@pytest.mark.parametrize(
    "damage",
    [
        _flip,
        lambda blob: blob[: len(blob) // 2],
        lambda blob: blob[:3],
        lambda blob: b"",
        lambda blob: blob[:8] + b"0" * 8 + blob[16:],
        lambda blob: blob[: 5 + blob[4]] + bytes(8) + blob[13 + blob[4] :],
        lambda blob: blob[:2] + b"\x07" + blob[3:],
    ],
    ids=[
        "flipped-byte",
        "truncated-half",
        "truncated-header",
        "emptied",
        "key-id-edited",
        "stored-at-edited",
        "unknown-version",
    ],
)
def test_tampered_entry_is_a_reported_miss_and_deleted(
    acme: Harness, damage: Callable[[bytes], bytes]
) -> None:
    """A damaged stored value is never served: miss, callback, entry deleted."""
    acme.cache.put(req(), rdap_value(), 3600)
    acme.cache.close()
    [(rowid, blob)] = _rows(acme.directory)
    _set_value(acme.directory, rowid, damage(blob))
    acme.cache = acme.open()
    assert acme.cache.get(req()) is None
    assert len(acme.failures) == 1 and "deleted" in acme.failures[0]
    assert acme.cache.stats()["entries"] == 0
    assert acme.cache.get(req()) is None
    assert len(acme.failures) == 1


def test_swapped_values_of_two_entries_are_both_rejected(acme: Harness) -> None:
    """Moving a value to another entry's slot breaks authentication of both."""
    acme.cache.put(req("a.example"), {"who": "a"}, 3600)
    acme.cache.put(req("b.example"), {"who": "b"}, 3600)
    acme.cache.close()
    (row_a, blob_a), (row_b, blob_b) = _rows(acme.directory)
    _set_value(acme.directory, row_a, blob_b)
    _set_value(acme.directory, row_b, blob_a)
    acme.cache = acme.open()
    assert acme.cache.get(req("a.example")) is None
    assert acme.cache.get(req("b.example")) is None
    assert len(acme.failures) == 2


def test_large_value_is_stored_inline_and_tampering_is_rejected(acme: Harness) -> None:
    """A value far above diskcache's 32 KB file threshold stays in its row (no value
    file, no filename), reads back, and is authenticated like any other."""
    big = {"big": os.urandom(40000).hex()}
    acme.cache.put(req(), big, 3600)
    acme.cache.close()
    assert not [p for p in _all_files(acme.directory) if p.suffix == ".val"]
    conn = sqlite3.connect(acme.directory / "cache.db")
    [(mode, filename, size)] = conn.execute(
        "SELECT mode, filename, length(value) FROM Cache WHERE typeof(key) = 'blob'"
    ).fetchall()
    conn.close()
    assert (mode, filename) == (1, None) and size > 40000
    acme.cache = acme.open()
    assert acme.cache.get(req()).value == big  # type: ignore[union-attr]
    [(rowid, blob)] = _rows(acme.directory)
    _set_value(acme.directory, rowid, _flip(blob))
    assert acme.cache.get(req()) is None
    assert len(acme.failures) == 1


def test_lost_keyring_makes_old_entries_unreadable_not_fatal(acme: Harness) -> None:
    """After the keyring is deleted it is not silently replaced; a new one made on purpose
    (``Keyring.create``, as ``keys init`` does) reads none of the old entries, and purge
    drops them."""
    from rdapctl.core.errors import IntegrityError

    acme.cache.put(req(), {"a": 1}, 3600)
    acme.cache.close()
    acme.paths.keyring_file("acme").unlink()
    with pytest.raises(IntegrityError, match="missing but its cache/audit data exist"):
        Keyring.open(acme.paths, "acme", {}, clock=acme.clock)
    acme.keyring = Keyring.create(acme.paths, "acme", {}, clock=acme.clock)
    acme.cache = acme.open()
    assert acme.cache.get(req()) is None
    assert acme.cache.purge() == 1
    assert acme.cache.stats()["entries"] == 0


def test_wrong_master_key_cannot_open_the_cache_keys() -> None:
    """With the wrong master key the keyring (hence the cache) refuses to open."""
    from rdapctl.core.errors import IntegrityError

    env = {"RDAPCTL_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    h = Harness(Tenant(name="wrapped"), env)
    h.cache.put(req(), {"a": 1}, 3600)
    h.cache.close()
    wrong = {"RDAPCTL_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    with pytest.raises(IntegrityError, match="does not open"):
        Keyring.open(h.paths, "wrapped", wrong)
    right = Keyring.open(h.paths, "wrapped", env)
    with TenantCache.open(h.paths, h.tenant, right, clock=h.clock) as cache:
        assert cache.get(req()) == cache.get(req()) is not None


def test_damaged_store_is_moved_aside_and_replaced() -> None:
    """A cache.db that is not a database is kept as <tenant>.damaged-<ts>; a new store works."""
    h = Harness(Tenant(name="broken"))
    h.cache.put(req(), {"a": 1}, 3600)
    h.cache.close()
    for path in h.directory.glob("cache.db*"):
        path.unlink()
    (h.directory / "cache.db").write_bytes(b"this is not a database" * 100)
    h.cache = h.open()
    assert len(h.failures) == 1 and "moved" in h.failures[0]
    aside = [p for p in h.paths.cache_root.iterdir() if p.name.startswith("broken.damaged-")]
    assert len(aside) == 1
    assert (aside[0] / "cache.db").read_bytes().startswith(b"this is not a database")
    assert h.cache.get(req()) is None
    assert h.cache.put(req(), {"a": 2}, 3600)
    assert h.cache.get(req()).value == {"a": 2}  # type: ignore[union-attr]
    h.cache.close()


# --------------------------------------------------------------------------- rotation


def test_a_store_damaged_twice_keeps_only_the_newest_damaged_copy() -> None:
    """Garbage over cache.db twice (and once more in another second): each time the
    store is moved aside and replaced, and only the newest damaged copy is kept."""
    h = Harness(Tenant(name="twice"))
    other = Harness(Tenant(name="twice2"))  # a tenant whose name starts alike: untouched
    other.cache.put(req(), {"o": 1}, 3600)
    other.cache.close()
    for path in other.directory.glob("cache.db*"):
        path.unlink()
    (other.directory / "cache.db").write_bytes(b"garbage of the other tenant" * 100)
    other.cache = other.open()
    other.cache.close()
    for round_, seconds in enumerate((0, 0, 5), start=1):
        h.clock.now += seconds
        h.cache.put(req(), {"round": round_}, 3600)
        h.cache.close()
        for path in h.directory.glob("cache.db*"):
            path.unlink()
        (h.directory / "cache.db").write_bytes(f"garbage {round_} ".encode() * 200)
        h.cache = h.open()
        assert "moved" in h.failures[-1]
        aside = sorted(p for p in h.paths.cache_root.iterdir() if ".damaged-" in p.name)
        mine = [p for p in aside if p.name.startswith("twice.damaged-")]
        assert len(mine) == 1, aside
        assert (mine[0] / "cache.db").read_bytes().startswith(f"garbage {round_} ".encode())
        assert len([p for p in aside if p.name.startswith("twice2.damaged-")]) == 1
        assert h.cache.put(req(), {"a": round_}, 3600)
        assert h.cache.get(req()).value == {"a": round_}  # type: ignore[union-attr]
    h.cache.close()


def test_rotation_keeps_old_entries_until_retired(acme: Harness) -> None:
    """Entries sealed under a rotated key stay readable; after retire_old they are gone."""
    old_id = acme.keyring.active_data_key()[0]
    acme.cache.put(req("old.example"), {"v": "old"}, 3600)
    new = acme.keyring.rotate()
    acme.cache.put(req("new.example"), {"v": "new"}, 3600)
    assert acme.cache.get(req("old.example")).key_id == old_id  # type: ignore[union-attr]
    assert acme.cache.get(req("new.example")).key_id == new.id  # type: ignore[union-attr]
    acme.keyring.retire_old()
    assert acme.cache.get(req("old.example")) is None
    assert acme.failures and "retired" in acme.failures[-1]
    assert acme.cache.get(req("new.example")) is not None


def test_retired_key_seen_by_another_process_after_reopen(acme: Harness) -> None:
    """A key retired elsewhere stops opening entries once the keyring is reloaded."""
    acme.cache.put(req("old.example"), {"v": "old"}, 3600)
    other = Keyring.open(acme.paths, "acme", {})
    other.rotate()
    other.retire_old()
    acme.keyring.reload()
    assert acme.cache.get(req("old.example")) is None


def test_purge_drops_expired_and_unreadable_entries_only(acme: Harness) -> None:
    """purge() removes expired entries and ones under retired keys, keeping fresh ones."""
    acme.cache.put(req("short.example"), {"v": 1}, 10)
    acme.cache.put(req("retired.example"), {"v": 2}, 3600)
    acme.keyring.rotate()
    acme.keyring.retire_old()
    acme.cache.put(req("fresh.example"), {"v": 3}, 3600)
    acme.clock.now += 20
    assert acme.cache.purge() == 2
    assert acme.cache.stats()["entries"] == 1
    assert acme.cache.get(req("fresh.example")) is not None
    assert acme.failures == []


def test_restored_keyring_reads_cache_written_before_the_backup(acme: Harness) -> None:
    """Export, lose the keyring, import: entries cached before the backup are served again."""
    from rdapctl.store.keys.keyring import import_keyring

    acme.cache.put(req(SECRET_QUERY), rdap_value(), 3600)
    blob = acme.keyring.export_keyring("pw")
    acme.cache.close()
    acme.paths.keyring_file("acme").unlink()
    acme.keyring = import_keyring(acme.paths, "acme", blob, "pw", {}, clock=acme.clock)
    acme.cache = acme.open()
    entry = acme.cache.get(req(SECRET_QUERY))
    assert entry is not None and entry.value == rdap_value()


# --------------------------------------------------------------------------- concurrency


def _hammer(home: str, worker: int, count: int, barrier: Any) -> None:
    paths = StatePaths.from_env({"RDAPCTL_HOME": home})
    tenant = Tenant(name="busy")
    keyring = Keyring.open(paths, "busy", {})
    failures: list[str] = []
    barrier.wait()
    with TenantCache.open(paths, tenant, keyring, on_integrity_failure=failures.append) as cache:
        for i in range(count):
            request = req(f"w{worker}-{i}.example")
            value = {"worker": worker, "i": i, "pad": "x" * 2000}
            assert cache.put(request, value, 3600)
            got = cache.get(request)
            assert got is not None and got.value == value
            cache.get(req(f"w{(worker + 1) % 4}-{i}.example"))
    if failures:
        raise SystemExit(f"integrity failures: {failures}")


@pytest.mark.slow
def test_several_processes_share_one_store_without_losing_writes(rdapctl_home: Path) -> None:
    """4 processes x 100 puts/gets at once: no errors, and every entry is readable after."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [
        ctx.Process(target=_hammer, args=(str(rdapctl_home), w, 100, barrier)) for w in range(4)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    paths = StatePaths.from_env({"RDAPCTL_HOME": str(rdapctl_home)})
    keyring = Keyring.open(paths, "busy", {})
    with TenantCache.open(paths, Tenant(name="busy"), keyring) as cache:
        for w in range(4):
            for i in range(100):
                entry = cache.get(req(f"w{w}-{i}.example"))
                assert entry is not None and entry.value["i"] == i
        assert cache.stats()["entries"] == 400
    for path in paths.tenant_cache_dir("busy").rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) in (0o600, 0o700)


def test_cached_value_survives_json_round_trip_exactly(acme: Harness) -> None:
    """Unicode and nested structures come back unchanged (no ASCII escaping loss)."""
    value = {"name": "Müller Ωmega 例え", "list": [1, 2.5, None, True], "nested": {"a": []}}
    acme.cache.put(req("unicode.example"), value, 60)
    entry = acme.cache.get(req("unicode.example"))
    assert entry is not None and json.dumps(entry.value) == json.dumps(value)


def test_batch_writes_store_small_and_large_values_and_replace_old_ones(acme: Harness) -> None:
    """put_many_plain (one transaction, eviction once per chunk): every entry reads
    back, values past diskcache's in-database size go to files, a rewrite replaces."""
    small = json.dumps({"n": 1}).encode()
    large = json.dumps({"blob": base64.b64encode(os.urandom(60_000)).decode()}).encode()
    items = [(req(f"d{i}.example"), large if i % 2 else small, 3600, None) for i in range(20)]
    assert acme.cache.put_many_plain(items) == 20
    assert acme.cache.put_many_plain([(req("d0.example"), large, 3600, None)]) == 1
    for i in range(20):
        entry = acme.cache.get(req(f"d{i}.example"))
        assert entry is not None
        assert entry.plain == (large if i % 2 or i == 0 else small)
    assert acme.cache.stats()["entries"] == 20


def test_an_entry_with_a_head_reads_whole_or_head_only(acme: Harness) -> None:
    """Version 2 entries carry a small head beside the value: ``head_only`` readers get
    it without the value being decoded; everyone else sees the value as before."""
    value = {"status": "ok", "response": {"ldhName": "a.example", "text": "x\ny"}}
    head = {"status": "ok", "note": "line\nbreak"}
    assert acme.cache.put(req("a.example"), value, 3600, head)
    assert acme.cache.put_many_plain(
        [(req("b.example"), json.dumps(value).encode(), 3600, json.dumps(head).encode())]
    )
    acme.cache.put(req("c.example"), value, 3600)  # version 1: no head
    for name in ("a.example", "b.example"):
        whole = acme.cache.get(req(name))
        assert whole is not None and whole.value == value and json.loads(whole.plain) == value
        part = acme.cache.get(req(name), head_only=True)
        assert part is not None and part.value is None and part.head == head
        assert json.loads(part.plain) == value
    old = acme.cache.get(req("c.example"), head_only=True)
    assert old is not None and old.value == value and old.head is None
    assert [e.value for e in acme.cache.iter_entries()] == [value, value, value]


def test_a_state_folder_whose_name_holds_uri_characters_works_for_every_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain SQLite readers open the store by URI (so that they never create it):
    '#', '?' and '%' in the path must stay part of the file name."""
    monkeypatch.setenv("RDAPCTL_HOME", str(tmp_path / "state #1?x=%41"))
    h = Harness(Tenant(name="acme"))
    value = {"status": "ok"}
    assert h.cache.put(req(), value, 3600)
    h.cache.close()
    single = h.open()  # a fresh process: the hit is read without diskcache
    batch = TenantCache.open(
        h.paths,
        h.tenant,
        h.keyring,
        clock=h.clock,
        on_integrity_failure=h.failures.append,
        defer_bookkeeping=True,
    )
    try:
        for cache in (single, batch):
            entry = cache.get(req())
            assert entry is not None and entry.value == value
        batch.flush_reads()
        assert [e.value for e in single.iter_entries()] == [value]
        assert single.stats()["hits"] == 2
    finally:
        batch.close()
        single.close()
    assert h.failures == []
