"""Benchmark of the audit trail: cost of one fsync'd append, of a 10,000-record
batch written in chunks, and of verifying it. Prints a table; state goes to a
temporary RDAPCTL_HOME that is removed afterwards.

Targets: <= 2 ms per single append (median, with fsync); <= 1 s CPU for 10,000
records appended in chunks of 100.

    /tmp/venv/bin/python benchmarks/bench_audit.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from rdapctl.policy.tenant import AuditSettings, Compliance, Tenant
from rdapctl.store.audit.log import AuditLog
from rdapctl.store.paths import StatePaths

KEY = bytes(range(32))
SINGLES = 300
BATCH = 10_000
CHUNK = 100


def lookup_fields(i: int) -> dict[str, object]:
    return {
        "query": f"example{i}.com",
        "query_type": "domain",
        "server_host": "rdap.verisign.com",
        "url_path": f"/domain/example{i}.com",
        "http_status": 200,
        "status": "ok",
        "exit_code": 0,
        "source": "network",
        "redacted_fields": ["fn", "adr", "email", "tel"],
        "redacted_count": 4,
        "residency": "north-america",
        "referrals": 1,
        "duration_ms": 123.4,
    }


def make_log(root: Path, name: str, hash_queries: bool) -> AuditLog:
    tenant = Tenant(
        name=name,
        purpose="abuse handling",
        legal_basis="legitimate_interest",
        compliance=Compliance(gdpr=True, data_categories=("domain registration data",)),
        audit=AuditSettings(hash_queries=hash_queries),
    )
    paths = StatePaths(config_dir=root, cache_dir=root, data_dir=root)
    return AuditLog(paths, tenant, KEY, command="lookup")


def bench(root: Path, hash_queries: bool) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    suffix = "-hashed" if hash_queries else ""
    single = make_log(root, f"single{suffix}", hash_queries)
    single.append("lookup", lookup_fields(-1))  # folder creation is not per-lookup cost
    wall: list[float] = []
    cpu: list[float] = []
    for i in range(SINGLES):
        w0, c0 = time.perf_counter(), time.process_time()
        single.append("lookup", lookup_fields(i))
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    label = " (hash_queries)" if hash_queries else ""
    rows.append(
        (
            f"single append{label}, median wall",
            f"{statistics.median(wall) * 1000:.3f} ms",
            "<= 2 ms",
        )
    )
    rows.append(
        (f"single append{label}, median CPU", f"{statistics.median(cpu) * 1000:.3f} ms", "")
    )
    rows.append(
        (
            f"single append{label}, p95 wall",
            f"{statistics.quantiles(wall, n=20)[-1] * 1000:.3f} ms",
            "",
        )
    )

    batch = make_log(root, f"batch{suffix}", hash_queries)
    items = [("lookup", lookup_fields(i)) for i in range(BATCH)]
    w0, c0 = time.perf_counter(), time.process_time()
    batch.append_many(items, chunk_size=CHUNK)
    cpu_s = time.process_time() - c0
    wall_s = time.perf_counter() - w0
    rows.append((f"{BATCH:,} records / {CHUNK} per chunk{label}, CPU", f"{cpu_s:.3f} s", "<= 1 s"))
    rows.append((f"{BATCH:,} records / {CHUNK} per chunk{label}, wall", f"{wall_s:.3f} s", ""))

    w0 = time.perf_counter()
    report = batch.verify()
    rows.append(
        (
            f"verify {report.records:,} records{label}",
            f"{time.perf_counter() - w0:.3f} s",
            "ok" if report.ok else "FAILED",
        )
    )
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="rdapctl-bench-") as tmp:
        rows = bench(Path(tmp), hash_queries=False) + bench(Path(tmp), hash_queries=True)
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>11}  target")
    print(f"{'-' * width}  {'-' * 11}  ------")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>11}  {target}")


if __name__ == "__main__":
    main()
