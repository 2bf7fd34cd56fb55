"""The encrypted cache seen from the command line: sources, flags, isolation, commands."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.cli import app
from tests.support import load_fixture, loopback_profiles

runner = CliRunner()
AUTNUM = load_fixture("autnum/arin-as63311.json")


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(
        rdapctl_home,
        httpserver.port,
        extra=f"""
[tenants.other]
[tenants.other.security]
allow_http = true
allow_private_ips = ["127.0.0.1/32"]
allowed_ports = [{httpserver.port}]
""",
    )
    httpserver.expect_request("/autnum/63311").respond_with_json(AUTNUM)
    return httpserver


def lookup(server: HTTPServer, *extra: str) -> tuple[int, dict]:
    result = runner.invoke(
        app, ["lookup", "AS63311", "--server", server.url_for("/"), "-o", "json", *extra]
    )
    return result.exit_code, json.loads(result.stdout)


def test_second_lookup_comes_from_the_cache_with_its_age(lab: HTTPServer) -> None:
    """source says network, then cache (with age_s); the server is asked once."""
    assert lookup(lab)[1]["source"] == "network"
    code, env = lookup(lab)
    assert code == 0
    assert env["source"] == "cache"
    assert env["age_s"] is not None
    assert len(lab.log) == 1


def test_no_cache_refresh_and_offline(lab: HTTPServer) -> None:
    """--no-cache neither reads nor writes; --refresh fetches and stores; --offline only reads."""
    code, env = lookup(lab, "--offline")
    assert code == 7
    assert env["error"]["code"] == "offline_miss"
    lookup(lab, "--no-cache")
    assert lookup(lab, "--offline")[0] == 7  # --no-cache did not store
    lookup(lab, "--refresh")
    assert lookup(lab, "--refresh")[1]["source"] == "network"
    code, env = lookup(lab, "--offline")
    assert code == 0
    assert env["source"] == "cache"
    assert len(lab.log) == 3


def test_conflicting_cache_flags_are_a_usage_error(lab: HTTPServer) -> None:
    """--offline with --refresh makes no sense: exit 2."""
    result = runner.invoke(app, ["lookup", "AS1", "--offline", "--refresh"])
    assert result.exit_code == 2


def test_tenants_do_not_share_cache_entries(lab: HTTPServer) -> None:
    """Tenant other does not see lab's cached answer (separate store, separate keys)."""
    lookup(lab)
    _, env = lookup(lab, "-t", "other")
    assert env["source"] == "network"
    assert len(lab.log) == 2


def test_policy_change_makes_old_entries_unreachable(lab: HTTPServer, rdapctl_home: Path) -> None:
    """A different policy fingerprint never reads entries stored under the old policy."""
    lookup(lab)
    profiles = rdapctl_home / "profiles.toml"
    profiles.write_text(
        profiles.read_text().replace(
            "allow_http = true", 'allow_http = true\nredact_fields = ["email"]', 1
        )
    )
    assert lookup(lab)[1]["source"] == "network"


def test_nothing_readable_on_disk(lab: HTTPServer, rdapctl_home: Path) -> None:
    """No queried name or response byte appears in clear under the cache folder."""
    lookup(lab)
    needles = [b"63311", b"AS63311", b"GOVI", b"autnum", b"ARIN"]
    for path in (rdapctl_home / "cache").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [n for n in needles if n in data], path
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        else:
            assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


def test_tampered_entry_is_a_miss_with_a_warning(lab: HTTPServer, rdapctl_home: Path) -> None:
    """A flipped byte in the store is never served: warning, fresh fetch, exit 0."""
    import sqlite3

    lookup(lab)
    db = rdapctl_home / "cache" / "lab" / "cache.db"
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT rowid, value FROM Cache WHERE raw = 1").fetchall()
    for rowid, value in rows:
        if isinstance(value, bytes) and len(value) > 40:
            tampered = bytearray(value)
            tampered[-5] ^= 0xFF
            conn.execute("UPDATE Cache SET value = ? WHERE rowid = ?", (bytes(tampered), rowid))
    conn.commit()
    conn.close()
    result = runner.invoke(app, ["lookup", "AS63311", "--server", lab.url_for("/"), "-o", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["source"] == "network"
    assert "cache entry discarded" in result.stderr


def test_wrong_master_key_is_exit_9(lab: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A keyring wrapped under one master key does not open under another (no new keyring)."""
    monkeypatch.setenv("RDAPCTL_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    assert lookup(lab)[0] == 0
    monkeypatch.setenv("RDAPCTL_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    result = runner.invoke(app, ["lookup", "AS63311", "--server", lab.url_for("/"), "-o", "json"])
    assert result.exit_code == 9
    assert "master key" in result.stderr
    assert "Traceback" not in result.stderr


def test_cache_commands(lab: HTTPServer) -> None:
    """stats counts entries and hits; clear empties; --all-tenants covers every tenant."""
    lookup(lab)
    lookup(lab)
    stats = json.loads(runner.invoke(app, ["cache", "stats", "-o", "json"]).stdout)["tenants"][0]
    assert stats["entries"] == 1
    assert stats["hits"] >= 1
    cleared = json.loads(
        runner.invoke(app, ["cache", "clear", "--all-tenants", "-o", "json"]).stdout
    )
    assert {t["tenant"] for t in cleared["tenants"]} == {"lab", "other"}
    assert runner.invoke(app, ["cache", "purge", "-o", "json"]).exit_code == 0
    assert lookup(lab)[1]["source"] == "network"


def test_keys_status_rotate_export_import(
    lab: HTTPServer, rdapctl_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Key commands never print material; rotated keys still read old entries; backups restore."""
    lookup(lab)
    keyring = json.loads((rdapctl_home / "keys" / "lab.json").read_text())
    secrets = [k.get("material") for k in keyring["keys"] if k.get("material")]
    status = runner.invoke(app, ["keys", "status", "-o", "json"])
    assert status.exit_code == 0
    assert not any(s in status.stdout for s in secrets)
    assert runner.invoke(app, ["keys", "rotate"]).exit_code == 0
    assert lookup(lab)[1]["source"] == "cache"  # old key still readable
    monkeypatch.setenv("RDAPCTL_BACKUP_PASSPHRASE", "a long enough passphrase")
    backup = rdapctl_home / "backup.bin"
    assert runner.invoke(app, ["keys", "export", "--output", str(backup)]).exit_code == 0
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert not any(s.encode() in backup.read_bytes() for s in secrets)
    (rdapctl_home / "keys" / "lab.json").unlink()
    assert runner.invoke(app, ["keys", "import", str(backup)]).exit_code == 0
    assert lookup(lab)[1]["source"] == "cache"
    assert runner.invoke(app, ["keys", "rotate", "--retire-old"]).exit_code == 0
    assert lookup(lab)[1]["source"] == "network"  # retired key: entry unreadable
