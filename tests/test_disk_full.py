"""A full or read-only disk is not corruption: the cache store is kept, never moved aside.

Each test runs the real CLI against a tenant whose RDAPCTL_HOME is a small tmpfs mounted
in a private mount namespace (``unshare -m``, as root), filled with a ballast file or
remounted read-only between lookups; a damaged store (garbage, not a full disk) is still
moved aside, and only one damaged copy per tenant is kept.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import load_fixture, loopback_profiles

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("mount") is None,
    reason="needs root with unshare(1) and mount(8) to mount a private tmpfs",
)

TMPFS_KB = 2048
ANSWERS = {n: load_fixture(f"autnum/{f}") for n, f in ((63311, "arin-as63311.json"),)}


def _namespace_works(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


class Steps:
    """A shell script of CLI runs inside one private tmpfs; each run's outcome on disk."""

    def __init__(self, tmp_path: Path, home: Path, url: str, extra: str = "") -> None:
        if not _namespace_works(tmp_path):
            pytest.skip("this platform cannot mount a tmpfs in a private mount namespace")
        self.out = tmp_path / "out"
        self.out.mkdir()
        stage = tmp_path / "stage"
        loopback_profiles(stage, int(url.rsplit(":", 1)[1].strip("/")), extra=extra)
        self.home = home
        self.url = url
        home.mkdir(parents=True, exist_ok=True)
        # Nothing runs unless the tmpfs is mounted: the ballast must never fill a real disk.
        self.lines = [
            "set -eu",
            f"mount -t tmpfs -o size={TMPFS_KB}k,mode=0700 tmpfs {_q(home)}",
            f"mountpoint -q {_q(home)}",
            f"cp {_q(stage / 'profiles.toml')} {_q(home / 'profiles.toml')}",
            "set +e",
        ]
        self.names: list[str] = []

    def lookup(self, name: str, *args: str) -> None:
        argv = " ".join(_q(a) for a in (sys.executable, "-m", "rdapctl", "lookup", *args))
        out = self.out / name
        self.lines.append(f"{argv} >{_q(out)}.out 2>{_q(out)}.err; echo $? >{_q(out)}.rc")
        self.lines.append(f"ls -a {_q(self.home / 'cache')} >{_q(out)}.ls 2>&1")
        self.names.append(name)

    def shell(self, line: str) -> None:
        self.lines.append(line)

    def run(self) -> dict[str, dict[str, Any]]:
        script = self.out / "steps.sh"
        script.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        env = dict(os.environ, RDAPCTL_HOME=str(self.home))
        done = subprocess.run(
            ["unshare", "-m", "sh", str(script)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        results = {}
        for name in self.names:
            base = self.out / name
            results[name] = {
                "rc": int(Path(f"{base}.rc").read_text()),
                "out": Path(f"{base}.out").read_text(),
                "err": Path(f"{base}.err").read_text(),
                "ls": Path(f"{base}.ls").read_text().split(),
            }
        return results


def _q(value: object) -> str:
    text = str(value)
    return "'" + text.replace("'", "'\\''") + "'"


def _serve(httpserver: Any) -> None:
    for number in range(1, 40):
        answer = dict(ANSWERS[63311])
        answer["handle"] = f"AS{number}"
        answer["startAutnum"] = answer["endAutnum"] = number
        # Padding makes each answer a few pages of cache: the ballast leaves less.
        answer["remarks"] = [{"description": [os.urandom(6000).hex()]}]
        httpserver.expect_request(f"/autnum/{number}").respond_with_json(answer)


def _no_damage(result: dict[str, Any]) -> None:
    assert [n for n in result["ls"] if "damaged" in n] == [], result["ls"]
    assert "Traceback" not in result["err"]


# At most the tmpfs's size: stops at ENOSPC, and could never fill anything larger.
FILL = f"dd if=/dev/zero of={{ballast}} bs=4096 count={TMPFS_KB // 4} >/dev/null 2>&1"


def test_a_full_disk_never_moves_the_store_and_old_entries_come_back(
    httpserver: Any, rdapctl_home: Path, tmp_path: Path
) -> None:
    """Lookups work, the disk fills (lookups go on with a warning, no store moved or
    deleted), the ballast goes: the entries cached before are served offline again."""
    _serve(httpserver)
    url = httpserver.url_for("/")
    steps = Steps(tmp_path, rdapctl_home, url, extra="\n[tenants.lab.audit]\nenabled = false\n")
    for n in (1, 2, 3):
        steps.lookup(f"before{n}", f"AS{n}", "--server", url, "-o", "json")
    ballast = rdapctl_home / "ballast"
    steps.shell(FILL.format(ballast=_q(ballast)))
    for n in range(4, 12):
        steps.lookup(f"full{n}", f"AS{n}", "--server", url, "-o", "json")
    steps.lookup("full_hit", "AS1", "--server", url, "-o", "json")
    steps.shell(f"rm -f {_q(ballast)}")
    for n in (1, 2, 3):
        steps.lookup(f"after{n}", f"AS{n}", "--server", url, "--offline", "-o", "json")
    steps.lookup("after_new", "AS20", "--server", url, "-o", "json")
    steps.lookup("after_new_hit", "AS20", "--server", url, "--offline", "-o", "json")
    results = steps.run()

    for name, result in results.items():
        _no_damage(result)
        assert result["rc"] == 0, (name, result["err"])
        assert json.loads(result["out"])["status"] == "ok", name
    warned = [n for n in results if n.startswith("full") and "cache" in results[n]["err"]]
    assert warned, "a cache write refused for lack of space is reported"
    for n in range(4, 12):
        err = results[f"full{n}"]["err"]
        assert len(err.strip().splitlines()) <= 1, err
        assert "damaged" not in err and "discarded" not in err, err
    # A hit while the disk is full may be fetched instead: SQLite cannot always map its
    # WAL index then (a "disk I/O error"), and that too is a warning, not damage.
    for n in (1, 2, 3):
        envelope = json.loads(results[f"after{n}"]["out"])
        assert envelope["source"] == "cache", envelope
    assert json.loads(results["after_new_hit"]["out"])["source"] == "cache"


def test_a_full_disk_fails_closed_on_the_audit_and_keeps_the_store(
    httpserver: Any, rdapctl_home: Path, tmp_path: Path
) -> None:
    """With the audit on, a lookup whose audit record cannot be written exits 10 with a
    JSON envelope; the store stays, and after the ballast goes lookups work again."""
    _serve(httpserver)
    url = httpserver.url_for("/")
    steps = Steps(tmp_path, rdapctl_home, url)
    steps.lookup("before", "AS1", "--server", url, "-o", "json")
    ballast = rdapctl_home / "ballast"
    steps.shell(FILL.format(ballast=_q(ballast)))
    for n in range(2, 10):
        steps.lookup(f"full{n}", f"AS{n}", "--server", url, "-o", "json")
    steps.shell(f"rm -f {_q(ballast)}")
    steps.lookup("after", "AS1", "--server", url, "--offline", "-o", "json")
    steps.lookup("after_new", "AS30", "--server", url, "-o", "json")
    results = steps.run()

    for result in results.values():
        _no_damage(result)
    assert results["before"]["rc"] == 0
    full = [results[f"full{n}"] for n in range(2, 10)]
    assert any(r["rc"] == 10 for r in full), [r["err"] for r in full]
    for r in full:
        assert r["rc"] in (0, 10), r["err"]
        envelope = json.loads(r["out"])  # one valid JSON envelope, also on exit 10
        if r["rc"] == 10:
            assert envelope["error"]["code"] == "audit_error", envelope
    assert results["after"]["rc"] == 0, results["after"]["err"]
    assert json.loads(results["after"]["out"])["source"] == "cache"
    assert results["after_new"]["rc"] == 0, results["after_new"]["err"]


def test_a_read_only_disk_is_not_damage(
    httpserver: Any, rdapctl_home: Path, tmp_path: Path
) -> None:
    """The cache folder made read-only (a read-only bind mount): lookups go on with one
    warning each, nothing is moved; writable again, the old entry is served and new
    answers are cached."""
    _serve(httpserver)
    url = httpserver.url_for("/")
    steps = Steps(tmp_path, rdapctl_home, url, extra="\n[tenants.lab.audit]\nenabled = false\n")
    steps.lookup("before", "AS1", "--server", url, "-o", "json")
    cache = _q(rdapctl_home / "cache")
    steps.shell(f"mount --bind {cache} {cache} && mount -o remount,ro,bind {cache} || exit 3")
    steps.lookup("ro_hit", "AS1", "--server", url, "-o", "json")
    steps.lookup("ro_miss", "AS2", "--server", url, "-o", "json")
    steps.lookup("ro_miss_again", "AS2", "--server", url, "-o", "json")
    steps.shell(f"umount {cache}")
    steps.lookup("rw_old", "AS1", "--server", url, "--offline", "-o", "json")
    steps.lookup("rw_miss", "AS2", "--server", url, "-o", "json")
    steps.lookup("rw_hit", "AS2", "--server", url, "--offline", "-o", "json")
    results = steps.run()

    for name, result in results.items():
        _no_damage(result)
        assert result["rc"] == 0, (name, result["err"])
        assert json.loads(result["out"])["status"] == "ok", name
    assert json.loads(results["rw_old"]["out"])["source"] == "cache"
    for name in ("ro_hit", "ro_miss", "ro_miss_again"):
        err = results[name]["err"].strip()
        assert len(err.splitlines()) == 1 and "cache" in err, err
        assert json.loads(results[name]["out"])["source"] != "cache"
    assert json.loads(results["rw_hit"]["out"])["source"] == "cache"


def test_a_read_only_home_is_a_documented_outcome_not_a_crash(
    httpserver: Any, rdapctl_home: Path, tmp_path: Path
) -> None:
    """All of RDAPCTL_HOME read-only: the rate limit is kept in the process (a warning),
    the cache is not used (a warning) and the audit fails closed (exit 10, a JSON
    envelope); with the audit off the lookup answers. Never an internal error."""
    _serve(httpserver)
    url = httpserver.url_for("/")
    steps = Steps(tmp_path, rdapctl_home, url)
    steps.lookup("before", "AS1", "--server", url, "-o", "json")
    home = _q(rdapctl_home)
    # A second profiles file, outside the read-only home, with the audit off.
    quiet = tmp_path / "quiet"
    loopback_profiles(
        quiet,
        int(url.rsplit(":", 1)[1].strip("/")),
        extra="\n[tenants.lab.audit]\nenabled = false\n",
    )
    steps.shell(f"mount -o remount,ro {home} || exit 3")
    steps.lookup("ro_audited", "AS2", "--server", url, "-o", "json")
    steps.lookup(
        "ro_quiet", "AS3", "--server", url, "-o", "json", "--profiles", str(quiet / "profiles.toml")
    )
    results = steps.run()

    for result in results.values():
        _no_damage(result)
        assert "internal error" not in result["err"], result["err"]
    assert results["before"]["rc"] == 0, results["before"]["err"]
    audited = results["ro_audited"]
    assert audited["rc"] == 10, audited["err"]
    assert json.loads(audited["out"])["error"]["code"] == "audit_error"
    quiet_run = results["ro_quiet"]
    assert quiet_run["rc"] == 0, quiet_run["err"]
    assert json.loads(quiet_run["out"])["status"] == "ok"
    assert "rate-limit state cannot be written" in quiet_run["err"], quiet_run["err"]


def test_a_full_disk_when_the_keyring_is_made_is_a_clear_error(
    httpserver: Any, rdapctl_home: Path, tmp_path: Path
) -> None:
    """The disk is full before a tenant's first lookup: its keyring cannot be written,
    a clear exit 9 (never an internal error); once there is room the lookup works."""
    _serve(httpserver)
    url = httpserver.url_for("/")
    steps = Steps(tmp_path, rdapctl_home, url)
    ballast = rdapctl_home / "ballast"
    steps.shell(FILL.format(ballast=_q(ballast)))
    steps.lookup("full", "AS1", "--server", url, "-o", "json")
    steps.shell(f"rm -f {_q(ballast)}")
    steps.lookup("after", "AS1", "--server", url, "-o", "json")
    results = steps.run()

    full = results["full"]
    assert full["rc"] == 9, full["err"]
    assert json.loads(full["out"])["error"]["code"] == "keyring_unwritable"
    assert "internal error" not in full["err"]
    assert results["after"]["rc"] == 0, results["after"]["err"]
