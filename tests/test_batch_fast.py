"""The batch fast paths: stdlib HTTP behind the guard, deferred cache bookkeeping,
worker processes writing one audit chain."""

from __future__ import annotations

import json
import os
import re
import time
from contextlib import closing
from ipaddress import ip_network
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from rdapctl.core.errors import NetworkGuardError, UpstreamError
from rdapctl.net.direct import StdlibHttpClient
from rdapctl.net.guard import NetworkPolicy
from rdapctl.net.proxy_env import proxy_configured
from rdapctl.policy.tenant import Tenant
from rdapctl.store.cache.entries import CacheRequest
from rdapctl.store.cache.tenant_cache import TenantCache
from rdapctl.store.keys.keyring import Keyring
from rdapctl.store.paths import StatePaths
from tests.support import loopback_profiles

runner = CliRunner()


def _policy(*ports: int) -> NetworkPolicy:
    return NetworkPolicy(
        allow_http=True,
        allowed_networks=(ip_network("127.0.0.1/32"),),
        allowed_ports=ports,
    )


def _client(*ports: int, limit: int = 1_000_000) -> StdlibHttpClient:
    return StdlibHttpClient(_policy(*ports), env={}, timeout_s=5.0, max_response_bytes=limit)


def test_stdlib_client_reconnects_through_the_guard_when_the_server_closes(
    httpserver: HTTPServer,
) -> None:
    """The test server closes after each answer: the next GET reconnects and works."""
    httpserver.expect_request(re.compile("/domain/.*")).respond_with_json({"ldhName": "a.com"})
    client = _client(httpserver.port)
    base = httpserver.url_for("/domain/")
    try:
        first = client.get(base + "a.com")
        second = client.get(base + "b.com")
        assert first.body == second.body == {"ldhName": "a.com"}
        assert len(client._conns) == 1
    finally:
        client.close()


def test_stdlib_client_refuses_a_redirect_to_a_port_the_tenant_does_not_allow(
    httpserver: HTTPServer,
) -> None:
    """Every redirect hop goes through the network guard."""
    httpserver.expect_request("/domain/a.com").respond_with_response(
        Response(status=302, headers={"Location": "http://127.0.0.1:1/domain/a.com"})
    )
    client = _client(httpserver.port)
    with pytest.raises(NetworkGuardError, match="port 1"):
        client.get(httpserver.url_for("/domain/a.com"))
    client.close()


def test_stdlib_client_stops_reading_past_the_size_limit(httpserver: HTTPServer) -> None:
    """A body larger than max_response_bytes is an error, not a partial document."""
    httpserver.expect_request("/big").respond_with_data("x" * 5000)
    client = _client(httpserver.port, limit=1000)
    with pytest.raises(UpstreamError) as info:
        client.get(httpserver.url_for("/big"))
    assert info.value.code == "response_too_large"
    client.close()


def test_stdlib_client_follows_redirects_and_reports_the_final_url(httpserver: HTTPServer) -> None:
    """A same-host redirect is followed; the answer names the URL it came from."""
    httpserver.expect_request("/old").respond_with_response(
        Response(status=301, headers={"Location": "/new"})
    )
    httpserver.expect_request("/new").respond_with_json({"ok": True})
    client = _client(httpserver.port)
    response = client.get(httpserver.url_for("/old"))
    assert response.body == {"ok": True}
    assert response.url.endswith("/new")
    assert response.redirects == [httpserver.url_for("/old")]
    client.close()


def test_a_configured_proxy_sends_batch_through_the_httpx_transport() -> None:
    """With a proxy in the environment the stdlib path is not used."""
    assert proxy_configured({"HTTPS_PROXY": "http://proxy:3128"})
    assert proxy_configured({"all_proxy": "http://proxy:3128"})
    assert not proxy_configured({"NO_PROXY": "example.com"})


def test_deferred_cache_reads_write_hit_counts_only_when_flushed() -> None:
    """A batch read is a plain SELECT; hits and LRU times are written at flush."""
    paths = StatePaths.from_env(os.environ)
    tenant = Tenant(name="acme")
    keyring = Keyring.open(paths, tenant.name, {}, clock=time.time)
    req = CacheRequest("domain", "example.com")
    with TenantCache.open(paths, tenant, keyring) as plain:
        plain.put_many_plain([(req, json.dumps({"status": "ok"}).encode(), 3600, None)])
    cache = TenantCache.open(paths, tenant, keyring, defer_bookkeeping=True)
    entry = cache.get(req)
    assert entry is not None and entry.value == {"status": "ok"}
    assert cache.get(CacheRequest("domain", "missing.com")) is None
    assert cache.stats()["hits"] == 0
    cache.flush_reads()
    stats = cache.stats()
    assert (stats["hits"], stats["misses"]) == (1, 1)
    cache.close()


def test_deferred_reads_refresh_lru_times_only_of_entries_not_used_this_minute() -> None:
    """Batch LRU order is to the minute: an entry read an hour ago gets a new access
    time at flush; one stored or read moments ago keeps its own (no write per hit)."""
    import sqlite3

    from rdapctl.store.cache.sqlite_adapter import LRU_GRANULARITY_S

    paths = StatePaths.from_env(os.environ)
    tenant = Tenant(name="acme")
    keyring = Keyring.open(paths, tenant.name, {}, clock=time.time)
    old, fresh = CacheRequest("domain", "old.example"), CacheRequest("domain", "new.example")
    with TenantCache.open(paths, tenant, keyring) as plain:
        plain.put_many_plain(
            [(r, json.dumps({"status": "ok"}).encode(), 3600, None) for r in (old, fresh)]
        )
        old_key, fresh_key = plain.cache_key(old), plain.cache_key(fresh)
    db = paths.tenant_cache_dir(tenant.name) / "cache.db"

    def access_times() -> dict[bytes, float]:
        with closing(sqlite3.connect(db)) as con:
            rows = con.execute("SELECT key, access_time FROM Cache WHERE raw = 1").fetchall()
        return {bytes(k): t for k, t in rows}

    an_hour_ago = time.time() - 3600
    with closing(sqlite3.connect(db)) as con, con:
        con.execute("UPDATE Cache SET access_time = ? WHERE key = ?", (an_hour_ago, old_key))
    before = access_times()
    cache = TenantCache.open(paths, tenant, keyring, defer_bookkeeping=True)
    assert cache.get(old) is not None and cache.get(fresh) is not None
    cache.flush_reads()
    cache.close()
    after = access_times()
    assert after[old_key] >= an_hour_ago + 3600 - LRU_GRANULARITY_S
    assert after[fresh_key] == before[fresh_key]


def test_deferred_reads_share_a_snapshot_that_never_blocks_writes_and_is_let_go() -> None:
    """A thread's batch reads share one read transaction: an entry another process
    writes meanwhile shows at the next snapshot (after end_reads, or after
    SNAPSHOT_READS reads); this thread's own writes still go through mid-snapshot;
    closing leaves no reader behind and nothing stored is lost."""
    import sqlite3

    from rdapctl.store.cache.sqlite_adapter import SNAPSHOT_READS

    paths = StatePaths.from_env(os.environ)
    tenant = Tenant(name="acme")
    keyring = Keyring.open(paths, tenant.name, {}, clock=time.time)
    text = json.dumps({"status": "ok"}).encode()
    late, later, own = (
        CacheRequest("domain", n) for n in ("late.example", "later.example", "own.example")
    )
    db = paths.tenant_cache_dir(tenant.name) / "cache.db"
    cache = TenantCache.open(paths, tenant, keyring, defer_bookkeeping=True)
    other = TenantCache.open(paths, tenant, keyring)  # another process's connection
    try:
        assert cache.get(late) is None  # the snapshot starts here
        other.put_many_plain([(late, text, 3600, None)])
        assert cache.get(late) is None  # not in this snapshot
        # This thread writes while its snapshot is open (diskcache's own connection).
        assert cache.put_many_plain([(own, text, 3600, None)]) == 1
        cache.flush_reads()
        cache.end_reads()
        assert cache.get(late) is not None and cache.get(own) is not None

        other.put_many_plain([(later, text, 3600, None)])
        seen = [cache.get(later) is not None for _ in range(SNAPSHOT_READS + 1)]
        assert seen[0] is False and seen[-1] is True  # a new snapshot after enough reads

        # An open snapshot keeps the WAL from being emptied; an idle thread lets go.
        busy_while_reading = _truncate_wal(db)
        cache.end_reads()
        assert (busy_while_reading, _truncate_wal(db)) == (1, 0)
    finally:
        other.close()
        cache.close()
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("SELECT COUNT(*) FROM Cache WHERE raw = 1").fetchone()[0] == 3


def test_a_large_value_replaced_under_an_open_snapshot_reads_the_snapshot() -> None:
    """Values of 32 KB or more are stored inline like the others (no value file a
    replacement could take away): when another process replaces one, a snapshot taken
    before still reads the old value whole, without a warning, and the next snapshot
    finds the new value."""
    paths = StatePaths.from_env(os.environ)
    tenant = Tenant(name="acme")
    keyring = Keyring.open(paths, tenant.name, {}, clock=time.time)
    big = CacheRequest("domain", "big.example")

    def value(n: int) -> bytes:  # incompressible: stays over 32 KB once compressed
        return json.dumps({"status": "ok", "n": n, "pad": os.urandom(40_000).hex()}).encode()

    warnings: list[str] = []
    cache = TenantCache.open(
        paths, tenant, keyring, defer_bookkeeping=True, on_integrity_failure=warnings.append
    )
    other = TenantCache.open(paths, tenant, keyring)  # another process's connection
    try:
        other.put_many_plain([(big, value(1), 3600, None)])
        first = cache.get(big)  # the snapshot starts here
        assert first is not None and first.value["n"] == 1
        other.put_many_plain([(big, value(2), 3600, None)])
        same = cache.get(big)  # still the snapshot's value, read whole
        assert same is not None and same.value["n"] == 1
        cache.end_reads()
        second = cache.get(big)  # a new snapshot
        assert second is not None and second.value["n"] == 2
        assert not list(paths.tenant_cache_dir("acme").rglob("*.val"))
        assert warnings == []
    finally:
        other.close()
        cache.close()


WARM_READS_PROBE = """
import os, sys, time
from rdapctl.store.cache.entries import CacheRequest
from rdapctl.store.cache.tenant_cache import TenantCache
from rdapctl.store.keys.keyring import Keyring
from rdapctl.store.paths import StatePaths
from rdapctl.policy.tenant import Tenant
paths = StatePaths.from_env(os.environ)
keyring = Keyring.open(paths, "acme", {}, clock=time.time)
cache = TenantCache.open(paths, Tenant(name="acme"), keyring, defer_bookkeeping=True)
hit = cache.get(CacheRequest("domain", "example.com"))
miss = cache.get(CacheRequest("domain", "missing.com"))
cache.flush_reads()
cache.close()
print(hit.value["status"], miss, "diskcache" in sys.modules)
"""


def test_warm_batch_reads_and_their_bookkeeping_do_without_diskcache() -> None:
    """A batch worker answering from an existing store reads and keeps the counts with
    plain SQLite: importing and opening diskcache would be most of its start-up."""
    import subprocess
    import sys

    paths = StatePaths.from_env(os.environ)
    tenant = Tenant(name="acme")
    keyring = Keyring.open(paths, tenant.name, {}, clock=time.time)
    with TenantCache.open(paths, tenant, keyring) as cache:
        req = CacheRequest("domain", "example.com")
        cache.put_many_plain([(req, json.dumps({"status": "ok"}).encode(), 3600, None)])
    probe = subprocess.run(
        [sys.executable, "-c", WARM_READS_PROBE], capture_output=True, text=True, check=False
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["ok", "None", "False"]
    with TenantCache.open(paths, tenant, keyring) as cache:
        stats = cache.stats()
    assert (stats["hits"], stats["misses"]) == (1, 1)


@pytest.mark.parametrize("reader", ["batch", "single lookup", "after a write"])
def test_a_tampered_entry_holding_a_pickle_is_never_unpickled(reader: str, tmp_path: Path) -> None:
    """diskcache would unpickle a value stored in its pickle mode. rdapctl stores bytes
    only, so such a row can only come from tampering: it is a miss, and what the
    pickle says is never run."""
    import pickle
    import sqlite3

    paths = StatePaths.from_env(os.environ)
    tenant = Tenant(name="acme")
    keyring = Keyring.open(paths, tenant.name, {}, clock=time.time)
    req = CacheRequest("domain", "example.com")
    with TenantCache.open(paths, tenant, keyring) as cache:
        cache.put_many_plain([(req, json.dumps({"status": "ok"}).encode(), 3600, None)])
        key = cache.cache_key(req)
    ran = tmp_path / "the pickle ran"

    class Planted:
        def __reduce__(self) -> tuple[object, tuple[object, ...]]:
            return (Path.touch, (ran,))

    db = paths.tenant_cache_dir(tenant.name) / "cache.db"
    with closing(sqlite3.connect(db)) as con, con:
        con.execute(
            "UPDATE Cache SET mode = 4, value = ? WHERE key = ?",  # 4: diskcache's pickle mode
            (pickle.dumps(Planted()), key),
        )
    cache = TenantCache.open(paths, tenant, keyring, defer_bookkeeping=reader == "batch")
    try:
        if reader == "after a write":  # reads go through diskcache's own get from here
            other = CacheRequest("domain", "other.example")
            cache.put_many_plain([(other, json.dumps({"status": "ok"}).encode(), 3600, None)])
        assert cache.get(req) is None
        cache.flush_reads()
    finally:
        cache.close()
    assert not ran.exists()
    if reader != "after a write":  # diskcache's get counts any row it finds as a hit
        with TenantCache.open(paths, tenant, keyring) as cache:
            assert cache.stats()["misses"] == 1


def test_batch_reads_set_up_a_sqlite_file_that_is_not_a_store_yet() -> None:
    """A cache.db that is SQLite but has no cache table (a store whose creation was cut
    short) is set up by the first batch read, which is a miss, without a warning; the
    answer stored next is read back."""
    import sqlite3

    paths = StatePaths.from_env(os.environ)
    tenant = Tenant(name="acme")
    keyring = Keyring.open(paths, tenant.name, {}, clock=time.time)
    directory = paths.tenant_cache_dir(tenant.name)
    directory.mkdir(parents=True, mode=0o700)
    with closing(sqlite3.connect(directory / "cache.db")) as con, con:
        con.execute("CREATE TABLE Settings (key TEXT NOT NULL UNIQUE, value)")
    warnings: list[str] = []
    req = CacheRequest("domain", "example.com")
    cache = TenantCache.open(
        paths, tenant, keyring, defer_bookkeeping=True, on_integrity_failure=warnings.append
    )
    try:
        assert cache.get(req) is None
        cache.put_many_plain([(req, json.dumps({"status": "ok"}).encode(), 3600, None)])
        cache.end_reads()
        entry = cache.get(req)
        assert entry is not None and entry.value == {"status": "ok"}
    finally:
        cache.close()
    assert warnings == []


def _truncate_wal(db: Path) -> int:
    """1 when a reader still holds a WAL snapshot (the checkpoint could not finish)."""
    import sqlite3

    with closing(sqlite3.connect(db, timeout=0)) as con:
        return int(con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs for two workers")
def test_batch_workers_in_several_processes_write_one_valid_audit_chain(
    httpserver: HTTPServer, rdapctl_home: Path, tmp_path: Path
) -> None:
    """Lookups run in worker processes; their records form one chain that verifies."""

    def handle(request: Request) -> Response:
        name = request.path.rsplit("/", 1)[-1]
        return Response(
            json.dumps({"objectClassName": "domain", "ldhName": name}),
            content_type="application/rdap+json",
        )

    httpserver.expect_request(re.compile("/domain/.*")).respond_with_handler(handle)
    loopback_profiles(
        rdapctl_home,
        httpserver.port,
        extra="max_concurrent_requests = 4\nrequests_per_second = 1000.0\n"
        f'[tenants.lab.servers]\nall = "{httpserver.url_for("/")}"\n',
    )
    infile = tmp_path / "in.txt"
    infile.write_text("".join(f"w{i}.com\n" for i in range(200)), encoding="utf-8")
    result = runner.invoke(app_(), ["batch", str(infile), "--no-progress", "--no-cache"])
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(x)["line"] for x in result.stdout.splitlines()]
    assert lines == list(range(1, 201))
    verify = runner.invoke(app_(), ["audit", "verify", "-t", "lab"])
    assert verify.exit_code == 0, verify.output
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import make_runtime, resolve_tenant

    runtime = make_runtime("test")
    with TenantSession(runtime, resolve_tenant(runtime, None, "lab")) as session:
        records = list(session.audit.iter_records(event="lookup"))
    assert len(records) == 200
    assert len({r["pid"] for r in records}) >= 2


def app_():  # type: ignore[no-untyped-def]
    from rdapctl.cli import app

    return app


def test_a_lookup_thread_lets_go_of_its_snapshot_only_when_it_must_wait() -> None:
    """next_job: straight from the queue while there is work; idle() first otherwise."""
    import queue
    import threading

    from rdapctl.batch.jobs import next_job

    class Session:
        idled = 0

        def idle(self) -> None:
            self.idled += 1

    jobs: queue.SimpleQueue[str] = queue.SimpleQueue()
    session = Session()
    jobs.put("a")
    assert next_job(jobs, session) == "a"  # type: ignore[arg-type]
    assert session.idled == 0
    threading.Timer(0.05, jobs.put, args=("b",)).start()
    assert next_job(jobs, session) == "b"  # type: ignore[arg-type]
    assert session.idled == 1


def test_the_stdlib_client_keeps_a_bounded_number_of_connections(httpserver: HTTPServer) -> None:
    """One keep-alive connection per host, hundreds of hosts (referrals): the least
    recently used are closed, so a thread never holds more than MAX_CONNECTIONS."""
    from rdapctl.net.direct import MAX_CONNECTIONS

    httpserver.expect_request(re.compile("/domain/.*")).respond_with_json({"ok": True})
    client = StdlibHttpClient(
        _policy(httpserver.port),
        env={},
        resolver=lambda host, port: ["127.0.0.1"],
        timeout_s=5.0,
        max_response_bytes=100_000,
    )
    before = len(os.listdir("/proc/self/fd"))
    try:
        for i in range(3 * MAX_CONNECTIONS):
            url = f"http://rdap{i}.registrar.test:{httpserver.port}/domain/example.com"
            assert client.get(url).body == {"ok": True}
        held = len(os.listdir("/proc/self/fd")) - before
        assert held <= MAX_CONNECTIONS
        again = f"http://rdap{3 * MAX_CONNECTIONS - 1}.registrar.test:{httpserver.port}/domain/x"
        assert client.get(again).status == 200  # a recent host: its connection is kept
    finally:
        client.close()


def test_the_stdlib_client_reaches_an_idn_host_by_its_idna_2008_name(
    httpserver: HTTPServer,
) -> None:
    """ "straße" is resolved and sent as xn--strae-oqa (as httpx does), never as
    "strasse", another domain; a host with no A-label form is refused, not a crash."""
    from rdapctl.core.errors import UpstreamError

    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    httpserver.expect_request("/domain/x.example").respond_with_json({"ok": True})
    client = StdlibHttpClient(_policy(httpserver.port), env={}, resolver=resolver, timeout_s=5.0)
    try:
        url = f"http://straße.example:{httpserver.port}/domain/x.example"
        assert client.get(url).body == {"ok": True}
        with pytest.raises(UpstreamError, match="not a valid internationalised host name") as info:
            client.get(f"http://{'ä' * 70}.example:{httpserver.port}/domain/x.example")
        assert info.value.code == "bad_url"
    finally:
        client.close()
    assert asked == ["xn--strae-oqa.example"]
    request, _ = httpserver.log[0]
    assert request.headers["Host"] == f"xn--strae-oqa.example:{httpserver.port}"
