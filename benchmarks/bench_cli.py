"""Whole-process benchmarks of the installed ``rdapctl`` (issues 2 and 4).

Reports ratios of medians, each pair measured side by side (interleaved) in one run:
- ``rdapctl --version`` vs a trivial two-command Typer app            (target <= 1.2)
- ``rdapctl lookup DOMAIN -o json`` over the network (cold cache) vs a
  stdlib urllib + json one-liner fetching the same URL                 (target <= 2.5)
- ``rdapctl lookup DOMAIN -o json`` answered from the cache vs the
  trivial Typer app                                                    (target <= 1.6)

Run with the Python of the environment where rdapctl is installed:
``python benchmarks/bench_cli.py [--runs 25]``. Loopback only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRIVIAL_APP = """
import typer
app = typer.Typer()
@app.command()
def hello(name: str = "world") -> None:
    print(f"hello {name}")
@app.command()
def bye() -> None:
    print("bye")
app()
"""
URLLIB_ONE_LINER = (
    "import json, sys, urllib.request; "
    "json.load(urllib.request.urlopen(urllib.request.Request(sys.argv[1], "
    "headers={'Accept': 'application/rdap+json'})))"
)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def instructions(cmd: list[str], env: dict[str, str]) -> float | None:
    """Instructions executed by ``cmd`` (millions), counted by callgrind: unlike wall
    time this does not move when the other core is busy. None without valgrind."""
    if shutil.which("valgrind") is None:
        return None
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in proc.stderr.splitlines():
        if "Collected" in line:
            return int(line.split()[-1]) / 1e6
    return None


def start_server() -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "rdap_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def write_profiles(home: Path, port: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "profiles.toml").write_text(
        f"""default_tenant = "bench"

[tenants.bench]
display_name = "benchmark tenant (loopback server)"
isolation = "standard"

[tenants.bench.security]
allow_http = true
allow_private_ips = ["127.0.0.1/32"]
allowed_ports = [{port}]
"""
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions with callgrind"
    )
    args = parser.parse_args()
    rdapctl = shutil.which("rdapctl", path=str(Path(sys.executable).parent)) or "rdapctl"
    work = Path(tempfile.mkdtemp(prefix="rdapctl-bench-"))
    server, port = start_server()
    try:
        home = work / "home"
        write_profiles(home, port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RDAPCTL_")}
        env["RDAPCTL_HOME"] = str(home)
        trivial = work / "trivial_app.py"
        trivial.write_text(TRIVIAL_APP)
        base = f"http://127.0.0.1:{port}/"
        # Warm the OS caches and create the keyring/cache/audit state once.
        timed([rdapctl, "lookup", "warm.com", "-o", "json", "--server", base], env)
        timed([rdapctl, "lookup", "hit.com", "-o", "json", "--server", base], env)

        rows: dict[str, list[float]] = {
            k: [] for k in ("version", "typer", "lookup", "urllib", "hit")
        }
        for i in range(args.runs):
            os.chdir(work)  # never import the source tree
            rows["typer"].append(timed([sys.executable, str(trivial), "hello"], env))
            rows["version"].append(timed([rdapctl, "--version"], env))
            name = f"bench{i}.com"
            rows["lookup"].append(
                timed([rdapctl, "lookup", name, "-o", "json", "--server", base], env)
            )
            rows["urllib"].append(
                timed([sys.executable, "-c", URLLIB_ONE_LINER, f"{base}domain/{name}"], env)
            )
            rows["hit"].append(
                timed([rdapctl, "lookup", "hit.com", "-o", "json", "--server", base], env)
            )
        med = {k: statistics.median(v) * 1000 for k, v in rows.items()}
        table = [
            ("rdapctl --version", med["version"], "trivial Typer app", med["typer"], 1.2),
            (
                "lookup -o json (network, cold)",
                med["lookup"],
                "urllib one-liner",
                med["urllib"],
                2.5,
            ),
            ("lookup -o json (cache hit)", med["hit"], "trivial Typer app", med["typer"], 1.6),
        ]
        if args.instructions:
            counts = {
                "typer": instructions([sys.executable, str(trivial), "hello"], env),
                "version": instructions([rdapctl, "--version"], env),
                "lookup": instructions(
                    [rdapctl, "lookup", "icount.com", "-o", "json", "--server", base], env
                ),
                "urllib": instructions(
                    [sys.executable, "-c", URLLIB_ONE_LINER, f"{base}domain/icount.com"], env
                ),
                "hit": instructions(
                    [rdapctl, "lookup", "hit.com", "-o", "json", "--server", base], env
                ),
            }
            if all(counts.values()):
                c = {k: v or 0.0 for k, v in counts.items()}
                print("instructions (millions, callgrind, one run each):")
                print(
                    f"  --version {c['version']:.0f} / typer {c['typer']:.0f} = {c['version'] / c['typer']:.2f}"
                )
                print(
                    f"  lookup    {c['lookup']:.0f} / urllib {c['urllib']:.0f} = {c['lookup'] / c['urllib']:.2f}"
                )
                print(
                    f"  cache hit {c['hit']:.0f} / typer {c['typer']:.0f} = {c['hit'] / c['typer']:.2f}"
                )
        print(f"runs per command: {args.runs}; medians in ms; python {sys.version.split()[0]}")
        print(f"{'case':34} {'ms':>7}  {'baseline':20} {'ms':>7}  {'ratio':>6}  target")
        for case, ms, baseline, bms, target in table:
            ratio = ms / bms
            flag = "ok" if ratio <= target else "MISSED"
            print(
                f"{case:34} {ms:7.1f}  {baseline:20} {bms:7.1f}  {ratio:6.2f}  <= {target} {flag}"
            )
    finally:
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
