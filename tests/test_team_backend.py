"""The team backend (issue 22) against a real redis-server on 127.0.0.1: two "machines"
(two RDAPCTL_HOMEs, one master key) share the encrypted cache, the keyring and the rate
limits; nothing is in clear in Redis; the password is never shown; a backend that
goes away mid-batch costs warnings, not lines; ``required = true`` exits 7."""

from __future__ import annotations

import base64
import getpass
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from rdapctl.cli import app
from tests.redis_support import PASSWORD, RedisServer
from tests.support import load_fixture, stop_server

# CI installs redis-server (.ci/run): there a missing one fails every test, never skips.
pytestmark = pytest.mark.skipif(
    not RedisServer.available() and not os.environ.get("CI"),
    reason="redis-server is not installed (.ci/run installs it)",
)

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
MASTER = base64.b64encode(bytes(range(100, 132))).decode()
GOOGLE = "domain-registrar/markmonitor-google.com.json"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


class Registry:
    """An RDAP server on 127.0.0.1 answering every domain with a real registrar answer
    (its ldhName set to the name asked), recording each request's path and time."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.lock = threading.Lock()
        self.requests: list[tuple[str, float]] = []
        self.on_request: dict[str, object] = {}
        self.body = load_fixture(GOOGLE)
        server.expect_request(re.compile(r"/.*")).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.requests.append((request.path, time.monotonic()))
        name = request.path.rsplit("/", 1)[-1]
        action = self.on_request.pop(name, None)
        if callable(action):
            action()
        body = dict(self.body)  # type: ignore[arg-type]
        body["ldhName"] = name
        return Response(json.dumps(body), content_type="application/rdap+json")

    def paths(self) -> list[str]:
        with self.lock:
            return [p for p, _ in self.requests]

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/"


@pytest.fixture
def registry() -> Iterator[Registry]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield Registry(server)
    server.clear()
    stop_server(server)


def write_home(
    home: Path, registry: Registry, backend: str, team: str = "", security: str = ""
) -> Path:
    """Tenant "soc": every query to the test registry, its team backend ``backend``."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "profiles.toml").write_text(
        f"""default_tenant = "soc"

[tenants.soc]
isolation = "standard"

[tenants.soc.security]
allow_http = true
allow_private_ips = ["127.0.0.1/32"]
allowed_ports = [{registry.server.port}]
requests_per_second = 1000.0
{security}

[tenants.soc.servers]
all = "{registry.url()}"

[tenants.soc.team]
backend = "{backend}"
allow_private = true
{team}
""",
        encoding="utf-8",
    )
    return home


@pytest.fixture
def machines(
    tmp_path: Path, registry: Registry, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """Two homes of tenant soc on one Redis (the password in the URL), one master key."""
    monkeypatch.setenv("RDAPCTL_MASTER_KEY", MASTER)
    url = redis_server.url()
    return write_home(tmp_path / "a", registry, url), write_home(tmp_path / "b", registry, url)


def on(home: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("RDAPCTL_HOME", str(home))
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def lookup(home: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, dict, str]:
    code, out, err = on(home, monkeypatch, "lookup", *args, "-o", "json")
    return code, json.loads(out), err


def rdapctl(home: Path, *args: str) -> tuple[int, str]:
    """Run rdapctl in a process of its own on ``home``: (exit code, stderr)."""
    env = {**os.environ, "RDAPCTL_HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-m", "rdapctl", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
        timeout=120,
    )
    return proc.returncode, proc.stderr


def audit_lines(home: Path) -> list[dict]:
    folder = home / "audit" / "soc"
    return [
        json.loads(line)
        for day in sorted(folder.glob("*.jsonl"))
        for line in day.read_text(encoding="utf-8").splitlines()
    ]


def state_text(home: Path) -> bytes:
    """Every byte rdapctl wrote under a home (audit, cache, keys...), not the profiles."""
    files = (p for p in sorted(home.rglob("*")) if p.is_file() and p.name != "profiles.toml")
    return b"".join(p.read_bytes() for p in files)


# --- sharing -----------------------------------------------------------------------------


def test_two_machines_share_cache_hits(
    machines: tuple[Path, Path], registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lookup on machine A is a cache hit on machine B: the registry is asked once."""
    a, b = machines
    code, env, err = lookup(a, monkeypatch, "example.com")
    assert (code, env["source"]) == (0, "network"), (env, err)
    code, env, err = lookup(b, monkeypatch, "example.com")
    assert (code, env["source"]) == (0, "cache"), err
    assert registry.paths() == ["/domain/example.com"]
    # B keeps the entry in its own local layer: --offline answers without Redis asked.
    code, env, _ = lookup(b, monkeypatch, "example.com", "--offline")
    assert (code, env["source"]) == (0, "cache")
    code, out, _ = on(b, monkeypatch, "cache", "stats", "-o", "json")
    row = json.loads(out)["tenants"][0]
    assert row["entries"] == 1
    assert row["team"]["reachable"] is True
    assert row["team"]["entries"] == 1
    assert row["team"]["hits"] >= 1


def test_another_tenant_never_reads_the_teams_entries(
    machines: tuple[Path, Path],
    registry: Registry,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tenant soc2 on the same Redis and prefix has its own keys: a soc entry is a miss."""
    a, _b = machines
    lookup(a, monkeypatch, "example.com")
    text = (a / "profiles.toml").read_text(encoding="utf-8")
    (a / "profiles.toml").write_text(
        text.replace('default_tenant = "soc"', 'default_tenant = "soc2"')
        + text.split('default_tenant = "soc"', 1)[1].replace("tenants.soc", "tenants.soc2"),
        encoding="utf-8",
    )
    code, env, _ = lookup(a, monkeypatch, "example.com", "-t", "soc2")
    assert (code, env["source"]) == (0, "network")
    assert registry.paths() == ["/domain/example.com"] * 2


def test_a_key_rotated_on_one_machine_is_used_by_the_other(
    machines: tuple[Path, Path], registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rotates the data key; B reads entries sealed under the new key and still those
    under the old one (readers keep old key ids until they are retired)."""
    a, b = machines
    lookup(a, monkeypatch, "old.example")
    assert lookup(b, monkeypatch, "old.example")[1]["source"] == "cache"
    code, out, err = on(a, monkeypatch, "keys", "rotate", "-o", "json")
    assert code == 0, err
    new_key = json.loads(out)["active"]
    lookup(a, monkeypatch, "new.example")
    code, env, err = lookup(b, monkeypatch, "new.example")
    assert (code, env["source"]) == (0, "cache"), err
    assert lookup(b, monkeypatch, "old.example")[1]["source"] == "cache"
    code, out, _ = on(b, monkeypatch, "keys", "status", "-o", "json")
    active = [k["id"] for k in json.loads(out)["keys"] if k["purpose"] == "data"]
    assert len(active) == 2
    assert new_key in active
    assert registry.paths() == ["/domain/old.example", "/domain/new.example"]


# --- nothing in clear -------------------------------------------------------------------


def test_nothing_in_clear_in_redis_after_real_lookups(
    machines: tuple[Path, Path],
    registry: Registry,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every key and value in Redis, after lookups, a batch and the audit stream: no
    query name, no identity (account, host), no personal data of the answers."""
    a, b = machines
    for home in machines:
        text = (home / "profiles.toml").read_text(encoding="utf-8")
        (home / "profiles.toml").write_text(text + "audit_stream = true\n", encoding="utf-8")
    lookup(a, monkeypatch, "secretcase-alpha.com")
    lookup(b, monkeypatch, "secretcase-alpha.com")
    infile = a / "in.txt"
    infile.write_text("secretcase-beta.com\nsecretcase-gamma.net\n", encoding="utf-8")
    code, _, err = on(a, monkeypatch, "batch", str(infile), "--no-progress")
    assert code == 0, err
    dump = redis_server.dump()
    kinds = {name.split(b":")[1] for name, _ in dump}
    assert {b"cache", b"keyring", b"audit", b"rate"} <= kinds
    assert any(name.endswith(b":audit:soc") for name, _ in dump)
    blob = b"\n".join(name + b" " + value for name, value in dump).lower()
    body = json.dumps(load_fixture(GOOGLE)).lower()
    emails = set(re.findall(r"[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]+", body))
    # Who and where (the audit records' actor and host): names of 4 characters or more,
    # since a shorter one turns up in random bytes by chance.
    identities = {getpass.getuser().lower(), socket.gethostname().lower()}
    needles = {
        "secretcase",
        "alpha.com",
        "gamma.net",
        "markmonitor",
        "google",
        *emails,
        *(name for name in identities if len(name) >= 4),
    }
    assert emails  # the answers do hold e-mail addresses
    found = sorted(n for n in needles if n.encode() in blob)
    assert found == []
    # The doctor's scan agrees.
    code, out, _ = on(a, monkeypatch, "doctor", "-t", "soc", "--format", "json")
    checks = {c["check"]: c for c in json.loads(out)["checks"] if c["tenant"] == "soc"}
    assert checks["team_clear_text"]["status"] == "pass", checks["team_clear_text"]
    assert checks["team_keyring"]["status"] == "pass"
    assert checks["team_backend"]["status"] == "pass"
    assert checks["team_tls"]["status"] == "pass"


def test_doctor_finds_clear_text_planted_under_the_prefix(
    machines: tuple[Path, Path], redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value in clear under the tenant's cache names fails the doctor (exit 9)."""
    a, _ = machines
    lookup(a, monkeypatch, "example.com")
    client = redis_server.client()
    client.set("rdapctl:cache:soc:" + "ab" * 32, b'RC{"ldhName": "planted.example.com"}')
    client.close()
    code, out, _ = on(a, monkeypatch, "doctor", "-t", "soc", "--format", "json")
    checks = {c["check"]: c for c in json.loads(out)["checks"] if c["tenant"] == "soc"}
    assert checks["team_clear_text"]["status"] == "fail"
    assert code == 9


# --- the password ------------------------------------------------------------------------


def test_the_password_is_never_shown_recorded_or_raised(
    tmp_path: Path,
    registry: Registry,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Right password in the URL: profile show, stats, doctor, audit never hold it.
    Wrong password (RDAPCTL_REDIS_PASSWORD): warnings and exit 7 without it."""
    monkeypatch.setenv("RDAPCTL_MASTER_KEY", MASTER)
    home = write_home(tmp_path / "a", registry, redis_server.url())
    outputs = []
    for args in (
        ["profile", "show", "soc", "-o", "json"],
        ["profile", "show", "soc"],
        ["lookup", "example.com", "-o", "json"],
        ["cache", "stats", "-o", "json"],
        ["doctor", "--format", "json"],
        ["keys", "status", "-o", "json"],
    ):
        code, out, err = on(home, monkeypatch, *args)
        assert code in (0, 1) or args[0] == "doctor", (args, err)
        outputs.append(out + err)
    assert all(PASSWORD not in text for text in outputs)
    assert PASSWORD.encode() not in state_text(home)

    wrong = "Wr0ng-pass-wOrd-42"
    other = write_home(tmp_path / "b", registry, redis_server.url(with_password=False))
    monkeypatch.setenv("RDAPCTL_REDIS_PASSWORD", wrong)
    code, out, err = on(other, monkeypatch, "lookup", "example.com", "-o", "json")
    assert code == 0
    assert "team backend of tenant soc is unavailable" in err
    assert wrong not in out + err
    events = [r["event"] for r in audit_lines(other)]
    assert "team_backend_unavailable" in events
    write_home(tmp_path / "b", registry, redis_server.url(with_password=False), "required = true")
    code, out, err = on(other, monkeypatch, "--debug", "lookup", "example.com", "--no-cache")
    assert code == 7
    assert "unavailable" in err
    assert wrong not in out + err
    assert wrong.encode() not in state_text(other)


# --- failure -----------------------------------------------------------------------------


def test_redis_stopped_mid_batch_the_batch_completes_with_warnings(
    machines: tuple[Path, Path],
    registry: Registry,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis goes away while the registry answers line 5: every line is answered, a
    warning says so, the audit records it; the trail verifies; with Redis back (empty,
    as after a restart) the next run works from the local cache and fills Redis again."""
    a, _ = machines
    registry.on_request["n05.com"] = redis_server.stop
    names = [f"n{i:02d}.com" for i in range(20)]
    infile = a / "in.txt"
    infile.write_text("\n".join(names) + "\n", encoding="utf-8")
    out_file = a / "out.jsonl"
    # A process of its own: worker processes' warnings go to its real stderr.
    code, err = rdapctl(a, "batch", str(infile), "--output", str(out_file))
    assert code == 0, err
    lines = [json.loads(x) for x in out_file.read_text(encoding="utf-8").splitlines()]
    assert sorted(e["line"] for e in lines) == list(range(1, 21))
    assert all(e["status"] == "ok" for e in lines)
    assert "team backend of tenant soc is unavailable" in err
    assert "team_backend_unavailable" in [r["event"] for r in audit_lines(a)]
    code, out, err = on(a, monkeypatch, "audit", "verify", "-o", "json")
    assert code == 0, out + err
    redis_server.start()
    # A process of its own: worker processes' warnings go to its real stderr.
    code, err = rdapctl(a, "batch", str(infile), "--output", str(out_file))
    assert code == 0, err
    again = [json.loads(x) for x in out_file.read_text(encoding="utf-8").splitlines()]
    assert [e["source"] for e in again] == ["cache"] * 20
    assert len(registry.paths()) == 20


def test_required_backend_unreachable_exits_7(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """required = true and nothing listening on the port: exit 7, the registry not asked."""
    monkeypatch.setenv("RDAPCTL_MASTER_KEY", MASTER)
    server = RedisServer(tmp_path / "never")  # a free port, never started
    home = write_home(tmp_path / "a", registry, server.url(), "required = true")
    code, _, err = on(home, monkeypatch, "lookup", "example.com", "-o", "json")
    assert code == 7, err
    assert "team backend" in err
    assert registry.paths() == []
    # Not required: the lookup goes on locally, with one warning line.
    write_home(tmp_path / "a", registry, server.url())
    code, env, err = lookup(home, monkeypatch, "example.com")
    assert (code, env["source"]) == (0, "network")
    assert err.count("team backend of tenant soc is unavailable") == 1


def test_no_master_key_exits_3_for_commands_and_validate(
    tmp_path: Path, registry: Registry, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = write_home(tmp_path / "a", registry, redis_server.url())
    code, _, err = on(home, monkeypatch, "lookup", "example.com")
    assert code == 3
    assert "master key" in err
    code, out, _ = on(home, monkeypatch, "profile", "validate")
    assert code == 3
    assert "needs a master key" in out
    assert registry.paths() == []


def test_private_backend_needs_allow_private(
    tmp_path: Path, registry: Registry, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Redis URL goes through the network guard: 127.0.0.1 without allow_private is
    refused (exit 4) before anything is sent anywhere."""
    monkeypatch.setenv("RDAPCTL_MASTER_KEY", MASTER)
    home = write_home(tmp_path / "a", registry, redis_server.url())
    text = (home / "profiles.toml").read_text(encoding="utf-8")
    (home / "profiles.toml").write_text(
        text.replace("allow_private = true\n", ""), encoding="utf-8"
    )
    code, _, err = on(home, monkeypatch, "lookup", "example.com")
    assert code == 4
    assert "team backend" in err and "allow_private" in err
    assert registry.paths() == []
    assert redis_server.dump() == []


def test_doctor_wants_tls_for_a_backend_off_this_machine(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """A redis:// backend named by a host that is not this machine fails team_tls, even
    when it answers."""
    from rdapctl.app.doctor.team import team_checks
    from rdapctl.profiles.validation import analyse_text
    from rdapctl.store.paths import StatePaths

    text = (
        "[tenants.soc.team]\n"
        f'backend = "redis://:{PASSWORD}@rdap-cache.test:{redis_server.port}/0"\n'
        "allow_private = true\n"
    )
    tenant = analyse_text(text, "p.toml").tenants["soc"]
    env = {"RDAPCTL_MASTER_KEY": MASTER}
    results = team_checks(
        tenant,
        StatePaths.from_env({"RDAPCTL_HOME": str(tmp_path / "h")}),
        env,
        resolver=lambda host, port: ["127.0.0.1"],
    )
    status = {r.check: r.status for r in results}
    assert status["team_tls"] == "fail"
    assert status["team_backend"] == "pass"
    assert all(PASSWORD not in r.message for r in results)


# --- rate limits -------------------------------------------------------------------------


@pytest.mark.slow
def test_two_processes_on_two_homes_share_the_rate_limit(
    machines: tuple[Path, Path], registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5 requests/s for the tenant: two batch processes on two homes (no shared files)
    together stay within it, as the registry sees it."""
    procs = []
    for n, home in enumerate(machines):
        write_home(home, registry, _backend_of(home), security="requests_per_second = 5.0")
        text = (home / "profiles.toml").read_text(encoding="utf-8")
        (home / "profiles.toml").write_text(
            text.replace("requests_per_second = 1000.0\n", ""), encoding="utf-8"
        )
        infile = home / "in.txt"
        infile.write_text("".join(f"p{n}-{i}.com\n" for i in range(5)), encoding="utf-8")
        env = {**os.environ, "RDAPCTL_HOME": str(home)}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "rdapctl", "batch", str(infile), "--no-cache"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=ROOT,
                env=env,
            )
        )
    errors = [proc.communicate(timeout=60)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errors
    starts = sorted(t for _, t in registry.requests)
    assert len(starts) == 10
    # 10 requests at 5/s: 9 gaps of 0.2 s, 1.8 s (less scheduling slack: a process may
    # send its first request late). Unshared, both homes would send theirs in 0.8 s.
    assert starts[-1] - starts[0] >= 1.5
    # In any window of one second the registry saw at most 5 (+1 at the edge) requests.
    for i, start in enumerate(starts):
        assert sum(1 for t in starts[i:] if t < start + 1.0) <= 6


def _backend_of(home: Path) -> str:
    text = (home / "profiles.toml").read_text(encoding="utf-8")
    match = re.search(r'backend = "([^"]+)"', text)
    assert match is not None
    return match.group(1)


# --- start-up ------------------------------------------------------------------------------


def _modules_at_exit(args: list[str], env: dict[str, str]) -> tuple[int, set[str], str]:
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(*sys.modules, file=sys.stderr))\n"
        "from rdapctl.cli import main\n"
        f"sys.argv = ['rdapctl', *{args!r}]\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=False
    )
    return proc.returncode, set(proc.stderr.split()), proc.stdout


def test_redis_is_imported_only_for_team_tenants(
    tmp_path: Path,
    registry: Registry,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--version and a cache hit of a tenant without a team backend import no redis; the
    same lookup of a team tenant does."""
    home = write_home(tmp_path / "a", registry, redis_server.url())
    text = (home / "profiles.toml").read_text(encoding="utf-8")
    local = text.split("[tenants.soc.team]")[0].replace("tenants.soc", "tenants.solo")
    (home / "profiles.toml").write_text(text + local.split("\n", 2)[2], encoding="utf-8")
    env = {**os.environ, "RDAPCTL_HOME": str(home), "RDAPCTL_MASTER_KEY": MASTER}
    code, modules, _ = _modules_at_exit(["--version"], env)
    assert code == 0
    assert "redis" not in modules
    args = ["lookup", "example.com", "-t", "solo", "-o", "json"]
    assert _modules_at_exit(args, env)[0] == 0  # fills the cache
    code, modules, out = _modules_at_exit(args, env)
    assert (code, json.loads(out)["source"]) == (0, "cache")
    assert "redis" not in modules
    code, modules, _ = _modules_at_exit(["lookup", "example.com", "-t", "soc", "-o", "json"], env)
    assert code == 0
    assert "redis" in modules


def test_without_the_redis_package_a_team_tenant_exits_3_naming_the_extra(
    tmp_path: Path, registry: Registry, redis_server: RedisServer
) -> None:
    home = write_home(tmp_path / "a", registry, redis_server.url())
    code = (
        "import sys\n"
        "sys.modules['redis'] = None  # as if not installed: importing it fails\n"
        "from rdapctl.cli import main\n"
        "sys.argv = ['rdapctl', 'lookup', 'example.com']\n"
        "main()\n"
    )
    env = {**os.environ, "RDAPCTL_HOME": str(home), "RDAPCTL_MASTER_KEY": MASTER}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=False
    )
    assert proc.returncode == 3
    assert "rdapctl[team]" in proc.stderr
    assert registry.paths() == []


# --- the audit stream ----------------------------------------------------------------------


def test_audit_stream_collects_both_machines_and_verifies(
    machines: tuple[Path, Path],
    registry: Registry,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each machine's records are also in the stream, sealed; verify --stream checks their
    MACs and chains, and finds an entry altered or deleted in Redis (exit 10)."""
    a, b = machines
    for home in machines:
        text = (home / "profiles.toml").read_text(encoding="utf-8")
        (home / "profiles.toml").write_text(text + "audit_stream = true\n", encoding="utf-8")
    for name in ("one.example", "two.example", "three.example"):
        lookup(a, monkeypatch, name)
        lookup(b, monkeypatch, name)
    local = len(audit_lines(a)) + len(audit_lines(b))
    code, out, err = on(a, monkeypatch, "audit", "verify", "--stream", "-o", "json")
    assert code == 0, out + err
    row = json.loads(out)["tenants"][0]
    assert row["stream"]["records"] == local
    assert row["stream"]["gaps"] == 0
    # Retiring the data keys leaves the stream readable (it is sealed under the audit
    # key's own derivation), the rotation's record included.
    code, _, err = on(a, monkeypatch, "keys", "rotate", "--retire-old")
    assert code == 0, err
    code, out, err = on(b, monkeypatch, "audit", "verify", "--stream", "-o", "json")
    assert code == 0, out + err
    assert json.loads(out)["tenants"][0]["stream"]["records"] == local + 1
    local += 1
    client = redis_server.client()
    entries = client.xrange("rdapctl:audit:soc")
    assert len(entries) == local
    # A middle record of one machine deleted: its successor's predecessor is missing.
    client.xdel("rdapctl:audit:soc", entries[2][0])
    code, out, _ = on(a, monkeypatch, "audit", "verify", "--stream", "-o", "json")
    assert code == 10
    assert json.loads(out)["tenants"][0]["stream"]["gaps"] == 1
    # An entry altered: it no longer opens.
    _id, fields = entries[4]
    sealed = bytearray(fields[b"v"])
    sealed[-1] ^= 1
    client.xadd("rdapctl:audit:soc", {"k": fields[b"k"], "v": bytes(sealed)})
    client.close()
    code, out, _ = on(b, monkeypatch, "audit", "verify", "--stream", "-o", "json")
    assert code == 10
    assert json.loads(out)["tenants"][0]["stream"]["unreadable"] == 1


def test_verify_stream_of_a_tenant_without_one_is_a_usage_error(
    machines: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = on(machines[0], monkeypatch, "audit", "verify", "--stream")
    assert code == 2
    assert "audit_stream = true" in err


def test_keys_export_import_and_init_work_on_the_team_keyring(
    machines: tuple[Path, Path],
    registry: Registry,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """keys init on a second machine refuses (the team has a keyring, which it uses);
    a backup exported on A and imported with --force after the team keyring changed
    puts the backup's keys back for every machine: B reads A's old entries again."""
    a, b = machines
    monkeypatch.setenv("RDAPCTL_BACKUP_PASSPHRASE", "a long backup passphrase")
    lookup(a, monkeypatch, "kept.example")
    backup = a.parent / "soc.backup"
    code, _, err = on(a, monkeypatch, "keys", "export", "--output", str(backup))
    assert code == 0, err
    code, _, err = on(b, monkeypatch, "keys", "init")
    assert code == 3
    assert "team backend already holds the keyring" in err
    # Someone replaces the team keyring with another: A's entries no longer open on B.
    client = redis_server.client()
    client.delete("rdapctl:keyring:soc")
    client.close()
    other = a.parent / "c"
    write_home(other, registry, redis_server.url())
    lookup(other, monkeypatch, "unrelated.example")  # C's keys become the team's
    code, _, err = on(a, monkeypatch, "keys", "import", str(backup))
    assert code == 3
    assert "different keyring" in err
    code, _, err = on(a, monkeypatch, "keys", "import", str(backup), "--force")
    assert code == 0, err
    code, env, err = lookup(b, monkeypatch, "kept.example")
    assert (code, env["source"]) == (0, "cache"), err
    assert registry.paths().count("/domain/kept.example") == 1


# --- hostile values in Redis ------------------------------------------------------------

_BUDGET = max(1, (settings.default.max_examples or 60) // 60)


@settings(max_examples=25 * _BUDGET)
@given(value=st.binary(max_size=600) | st.builds(lambda b: b"RC" + b, st.binary(max_size=600)))
def test_any_value_under_a_shared_cache_name_is_a_miss_never_a_crash(
    machines: tuple[Path, Path],
    registry: Registry,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    value: bytes,
) -> None:
    """Whatever another writer of the shared Redis puts under the tenant's cache names,
    a machine without the entry locally asks the registry (exit 0), says the entry was
    discarded, and writes a good entry back."""
    a, _ = machines
    lookup(a, monkeypatch, "planted.example")
    client = redis_server.client()
    (name,) = list(client.scan_iter(match="rdapctl:cache:soc:*"))
    client.set(name, value)
    fresh = a.parent / f"fresh-{os.urandom(6).hex()}"
    write_home(fresh, registry, redis_server.url())
    asked = len(registry.paths())
    code, env, err = lookup(fresh, monkeypatch, "planted.example")
    assert (code, env["status"], env["source"]) == (0, "ok", "network"), err
    assert len(registry.paths()) == asked + 1
    if value:
        assert "cache entry discarded" in err
    assert (client.get(name) or b"").startswith(b"RC")
    client.close()


@settings(max_examples=20 * _BUDGET)
@given(state=st.binary(min_size=16, max_size=16) | st.binary(max_size=40))
def test_any_rate_limit_state_in_redis_lets_lookups_through(
    machines: tuple[Path, Path],
    registry: Registry,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    state: bytes,
) -> None:
    """Garbage, NaN, infinities or far futures in the shared bucket state never crash a
    lookup nor hold it for long (a state no run could have written is reset)."""
    a, _ = machines
    lookup(a, monkeypatch, "first.example", "--no-cache")
    client = redis_server.client()
    (name,) = list(client.scan_iter(match="rdapctl:rate:soc:*"))
    client.set(name, state)
    client.close()
    started = time.monotonic()
    code, env, err = lookup(a, monkeypatch, "second.example", "--no-cache")
    assert (code, env["status"]) == (0, "ok"), err
    assert time.monotonic() - started < 30


def test_a_batch_on_the_second_machine_is_answered_from_redis(
    machines: tuple[Path, Path],
    registry: Registry,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Machine A's batch fills the shared cache; the same batch on machine B (worker
    processes reading each chunk's entries ahead in one round trip) asks the registry
    nothing, and a third run on B is answered by B's own local layer."""
    a, b = machines
    names = [f"w{i:03d}.example" for i in range(120)]
    for home in machines:
        (home / "in.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    code, err = rdapctl(a, "batch", str(a / "in.txt"), "--output", str(a / "out.jsonl"))
    assert code == 0, err
    assert len(registry.paths()) == 120
    client = redis_server.client()
    client.delete("rdapctl:stats:soc")
    client.close()
    for _ in range(2):
        code, err = rdapctl(b, "batch", str(b / "in.txt"), "--output", str(b / "out.jsonl"))
        assert code == 0, err
        out = [json.loads(x) for x in (b / "out.jsonl").read_text(encoding="utf-8").splitlines()]
        assert [e["source"] for e in out] == ["cache"] * 120
        assert sorted(e["query"] for e in out) == names
    assert len(registry.paths()) == 120
    code, stats, _ = on(b, monkeypatch, "cache", "stats", "-o", "json")
    row = json.loads(stats)["tenants"][0]
    assert row["entries"] == 120  # B's local layer holds them now
    assert row["team"]["hits"] == 120  # read from Redis once, then locally
