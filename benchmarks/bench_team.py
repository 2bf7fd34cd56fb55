"""Warm batch hits from the team backend (issue 22), beside the local-cache figure.

Starts redis-server (Debian's package) and a small RDAP server on 127.0.0.1 serving
realistic ~6 KB domain objects (``rdap_server.domain_object``), fills the caches once
(a cold batch of N names per tenant), then measures, in the same run:

1. ``rdapctl batch`` of the N names, tenant without a team backend, warm local cache
   (the local-cache figure, as in bench_batch.py);
2. ``rdapctl batch`` of the N names, team tenant, on a fresh RDAPCTL_HOME each time (a
   second machine: no local cache, the keyring pulled from Redis), so that every line is
   a hit read from Redis on loopback (and copied into the new local layer);
3. the same team tenant again on that home: hits from its local layer now.

Each figure is the median of three runs, lookups per second of the whole process
(start-up included). Target: 2. >= 5,000/s.

``python benchmarks/bench_team.py [--domains 10000]``. Needs redis-server
(``apt-get install -y redis-server``) and the team extra. Loopback only; all state
lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from rdap_server import domain_object  # noqa: E402

RUNS = 3
RDAPCTL = [sys.executable, "-m", "rdapctl"]
PASSWORD = "bench-redis-password"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = domain_object(self.path.rsplit("/", 1)[-1])
        self.send_response(200)
        self.send_header("Content-Type", "application/rdap+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def start_rdap() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port: int = server.server_address[1]
    return port


def start_redis(root: Path) -> tuple[subprocess.Popen[bytes], int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(root), "--requirepass", PASSWORD]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    for line in proc.stdout:
        if b"Ready to accept connections" in line:
            return proc, port
    raise SystemExit("redis-server did not start")


def write_profiles(home: Path, rdap_port: int, redis_port: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    common = f"""isolation = "standard"
servers.all = "http://127.0.0.1:{rdap_port}/"
security.allow_http = true
security.allow_private_ips = ["127.0.0.1/32"]
security.allowed_ports = [{rdap_port}]
security.max_concurrent_requests = 32
security.requests_per_second = 100000.0
security.max_batch_size = 2000000
"""
    (home / "profiles.toml").write_text(
        f"""default_tenant = "team"
[tenants.local]
{common}
[tenants.team]
{common}
team.backend = "redis://:{PASSWORD}@127.0.0.1:{redis_port}/0"
team.allow_private = true
"""
    )


def run_batch(home: Path, infile: Path, tenant: str, env: dict[str, str]) -> float:
    count = sum(1 for _ in infile.open())
    start = time.perf_counter()
    proc = subprocess.run(
        [*RDAPCTL, "batch", str(infile), "-t", tenant, "--no-progress", "--output", "/dev/null"],
        env={**env, "RDAPCTL_HOME": str(home)},
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"batch failed ({proc.returncode}): {proc.stderr.decode()[-800:]}")
    if b"warning" in proc.stderr:
        raise SystemExit(f"batch warned: {proc.stderr.decode()[-800:]}")
    return count / elapsed


def median(rates: list[float]) -> float:
    return sorted(rates)[len(rates) // 2]


def listed(rates: list[float]) -> str:
    return ", ".join(f"{r:,.0f}" for r in rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10_000)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is needed: apt-get install -y redis-server")
    root = Path(tempfile.mkdtemp(prefix="rdapctl-bench-team-"))
    redis, redis_port = start_redis(root)
    try:
        rdap_port = start_rdap()
        env = {
            "PATH": "/usr/bin:/bin",
            "RDAPCTL_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        infile = root / "names.txt"
        infile.write_text("".join(f"bench{i}.com\n" for i in range(args.domains)))
        first = root / "machine-a"
        write_profiles(first, rdap_port, redis_port)
        run_batch(first, infile, "local", env)  # cold: fills the local cache
        run_batch(first, infile, "team", env)  # cold: fills both layers of the team
        local = [run_batch(first, infile, "local", env) for _ in range(RUNS)]
        from_redis, from_layer = [], []
        for n in range(RUNS):
            other = root / f"machine-b{n}"
            write_profiles(other, rdap_port, redis_port)
            from_redis.append(run_batch(other, infile, "team", env))
            from_layer.append(run_batch(other, infile, "team", env))
        print(f"rdapctl batch, {args.domains:,} names, warm hits (lookups/s, medians of {RUNS}):")
        print(
            f"  local cache (tenant without a team backend): {median(local):,.0f}/s"
            f"  [{listed(local)}]"
        )
        print(
            f"  team: from Redis on loopback (fresh home):     {median(from_redis):,.0f}/s"
            f"  [{listed(from_redis)}]"
        )
        print(
            f"  team: from the local layer (same home again):  {median(from_layer):,.0f}/s"
            f"  [{listed(from_layer)}]"
        )
        verdict = "meets" if median(from_redis) >= 5000 else "MISSES"
        print(f"  target >= 5,000/s from Redis: {verdict}")
    finally:
        redis.terminate()
        redis.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
