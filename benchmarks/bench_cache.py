"""Benchmark: in-process cache hit (lookup by key, decrypt, decode) of a ~6 KB RDAP
object, with 1,000 and 100,000 entries in the store. Target: median <= 0.3 ms and
no growth with the store size.

Run: ``python benchmarks/bench_cache.py [--sizes 1000,100000] [--samples 2000]``.
Also compares the LRU eviction policy (every read is a write) with
least-recently-stored, and zlib on/off. Uses a throw-away RDAPCTL_HOME; prints a table.
A script, not a test: nothing here asserts wall-clock speed.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rdapctl.policy.tenant import CacheSettings, Tenant
from rdapctl.store.cache.entries import CacheRequest
from rdapctl.store.cache.tenant_cache import TenantCache
from rdapctl.store.keys.keyring import Keyring
from rdapctl.store.paths import StatePaths

FIXTURE = Path(__file__).parent.parent / "tests/fixtures/rdap/autnum/arin-as63311.json"


def make_value(base: dict[str, Any], i: int) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    obj["handle"] = f"AS{i}"
    return {
        "result": obj,
        "fetched_at": 1_700_000_000.0 + i,
        "server": "https://rdap.arin.net/registry/",
        "url": f"https://rdap.arin.net/registry/autnum/{i}",
        "http_status": 200,
        "referrals": [],
    }


def run(size: int, samples: int, *, lru: bool, compress: bool) -> tuple[float, float, float]:
    """(fill seconds, median hit ms, p95 hit ms) for a store holding ``size`` entries."""
    base = json.loads(FIXTURE.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as home:
        paths = StatePaths.from_env({"RDAPCTL_HOME": home})
        tenant = Tenant(name="bench", cache=CacheSettings(max_size_mb=4096))
        keyring = Keyring.open(paths, tenant.name, {})
        cache = TenantCache.open(paths, tenant, keyring, compress=compress)
        if not lru:
            cache._store.reset("eviction_policy", "least-recently-stored")
        value = make_value(base, 0)
        started = time.perf_counter()
        batch = 5000
        for start in range(0, size, batch):
            cache.put_many(
                (CacheRequest("autnum", str(i), None, True), value, 86400)
                for i in range(start, min(size, start + batch))
            )
        fill = time.perf_counter() - started
        rng = random.Random(7)
        keys = [
            CacheRequest("autnum", str(rng.randrange(size)), None, True) for _ in range(samples)
        ]
        for req in keys[:100]:  # warm up: page cache, cipher objects
            cache.get(req)
        times = []
        for req in keys:
            t0 = time.perf_counter_ns()
            entry = cache.get(req)
            times.append((time.perf_counter_ns() - t0) / 1e6)
            if entry is None:
                sys.exit("benchmark error: a stored entry was not found")
        cache.close()
    times.sort()
    return fill, statistics.median(times), times[int(len(times) * 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"value: {len(FIXTURE.read_bytes())} B RDAP autnum object; {args.samples} hits each")
    print(
        f"{'entries':>8}  {'eviction':<22} {'zlib':<4}  {'fill s':>7}"
        f"  {'median ms':>9}  {'p95 ms':>7}"
    )
    for size in sizes:
        for lru, compress in ((True, True), (True, False), (False, True)):
            fill, median, p95 = run(size, args.samples, lru=lru, compress=compress)
            policy = "least-recently-used" if lru else "least-recently-stored"
            print(
                f"{size:>8}  {policy:<22} {'on' if compress else 'off':<4}  {fill:>7.2f}"
                f"  {median:>9.3f}  {p95:>7.3f}"
            )


if __name__ == "__main__":
    main()
