"""A paged search end to end (issue 20): ``rdapctl search`` against a loopback server
versus a stdlib loop that fetches and parses the same pages.

The server holds 1,000 generated domain objects (~6 KB each, two contacts with PII),
100 per page, with RFC 8977 cursor ``next`` links. Reported, as medians of interleaved
runs in this one process:
- cold: ``rdapctl search domains --ns-name ns1.example.net --limit 1000 -o json
  --no-cache`` (10 pages, every result redacted) vs ``urllib`` + ``json`` following the
  same links;
- cached: the same search answered from the encrypted page cache vs the same baseline.

Run with the Python of the environment where rdapctl is installed:
``python benchmarks/bench_search.py [--runs 15]``. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rdap_server import domain_object

RESULTS = 1000
PAGE = 100

BASELINE = """
import json, sys, urllib.request
url, n = sys.argv[1], 0
while url:
    req = urllib.request.Request(url, headers={"Accept": "application/rdap+json"})
    page = json.load(urllib.request.urlopen(req))
    n += len(page["domainSearchResults"])
    links = page.get("paging_metadata", {}).get("links", [])
    url = next((l["href"] for l in links if l.get("rel") == "next"), None)
print(n)
"""


def make_pages(port: int) -> list[bytes]:
    objects = [json.loads(domain_object(f"bench{i}.com")) for i in range(RESULTS)]
    pages = []
    for start in range(0, RESULTS, PAGE):
        body: dict[str, object] = {
            "rdapConformance": ["rdap_level_0", "paging"],
            "domainSearchResults": objects[start : start + PAGE],
            "paging_metadata": {"totalCount": RESULTS, "pageSize": PAGE},
        }
        if start + PAGE < RESULTS:
            nxt = f"http://127.0.0.1:{port}/domains?nsLdhName=ns1.example.net&cursor={start + PAGE}"
            body["paging_metadata"]["links"] = [{"rel": "next", "href": nxt, "value": nxt}]  # type: ignore[index]
        pages.append(json.dumps(body).encode())
    return pages


def serve() -> tuple[ThreadingHTTPServer, int]:
    pages: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            cursor = int(query.get("cursor", ["0"])[0])
            body = pages[cursor // PAGE]
            self.send_response(200)
            self.send_header("Content-Type", "application/rdap+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    pages.extend(make_pages(port))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    server, port = serve()
    home = Path(tempfile.mkdtemp(prefix="rdapctl-bench-search-"))
    (home / "profiles.toml").write_text(
        f"""default_tenant = "bench"
[tenants.bench]
isolation = "standard"
[tenants.bench.security]
allow_http = true
allow_private_ips = ["127.0.0.1/32"]
allowed_ports = [{port}]
requests_per_second = 1000  # the machinery, not the politeness (default 5/s: ~2 s)
[tenants.bench.servers]
search = "http://127.0.0.1:{port}/"
""",
        encoding="utf-8",
    )
    env = {**os.environ, "RDAPCTL_HOME": str(home)}
    rdapctl = [sys.executable, "-m", "rdapctl", "search", "domains", "--ns-name"]
    search = [*rdapctl, "ns1.example.net", "--limit", str(RESULTS), "-o", "json"]
    first = f"http://127.0.0.1:{port}/domains?nsLdhName=ns1.example.net"
    baseline = [sys.executable, "-c", BASELINE, first]
    timed([*search, "--refresh"], env)  # keyring, cache store, pages cached
    cold, cached, base = [], [], []
    for _ in range(args.runs):
        base.append(timed(baseline, env))
        cold.append(timed([*search, "--no-cache"], env))
        cached.append(timed(search, env))
    server.shutdown()
    b = statistics.median(base)
    print(f"baseline (urllib, {RESULTS // PAGE} pages): {b * 1000:.0f} ms")
    print(
        f"search cold:   {statistics.median(cold) * 1000:.0f} ms  ratio {statistics.median(cold) / b:.2f}"
    )
    print(
        f"search cached: {statistics.median(cached) * 1000:.0f} ms  ratio {statistics.median(cached) / b:.2f}"
    )


if __name__ == "__main__":
    main()
