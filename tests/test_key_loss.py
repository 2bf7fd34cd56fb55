"""A lost keyring is explicit: exit 9 until it is restored or replaced on purpose, and
``keys init --replace-lost`` leaves an audit trail that still verifies (issue 18, item 4)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner, Result

from rdapctl.cli import app
from tests.support import load_fixture, loopback_profiles

runner = CliRunner()
AUTNUM = load_fixture("autnum/arin-as63311.json")
LOST = (
    "the keyring of tenant lab is missing but its cache/audit data exist: restore it with"
    " `rdapctl keys import BACKUP`, or start a new keyring with"
    " `rdapctl keys init --replace-lost`"
)


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(rdapctl_home, httpserver.port)
    httpserver.expect_request("/autnum/63311").respond_with_json(AUTNUM)
    return httpserver


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


def lookup(server: HTTPServer, *extra: str, env: dict[str, str] | None = None) -> Result:
    return run("lookup", "AS63311", "--server", server.url_for("/"), *extra, env=env)


def records(home: Path, tenant: str = "lab") -> list[dict]:
    out = []
    for day in sorted((home / "audit" / tenant).glob("*.jsonl")):
        out.extend(json.loads(line) for line in day.read_text().splitlines())
    return out


def test_lost_keyring_stops_lookups_until_replaced(lab: HTTPServer, rdapctl_home: Path) -> None:
    """Key loss → lookup exits 9 with the message (text and -o json), nothing is
    created → keys init refuses without --replace-lost → --replace-lost drops the cache
    and starts a new segment → lookups work, verify 0 with the warning, --strict 10."""
    assert lookup(lab, "-o", "json").exit_code == 0
    assert json.loads(lookup(lab, "-o", "json").stdout)["source"] == "cache"
    keyring = rdapctl_home / "keys" / "lab.json"
    keyring.unlink()

    text = lookup(lab)
    assert text.exit_code == 9
    assert f"rdapctl: error: {LOST}" in text.stderr
    assert "Traceback" not in text.stderr
    as_json = lookup(lab, "-o", "json")
    assert as_json.exit_code == 9
    envelope = json.loads(as_json.stdout)
    assert envelope["error"]["code"] == "keyring_lost"
    assert envelope["error"]["exit_code"] == 9
    assert envelope["error"]["message"] == LOST
    assert envelope["response"] is None
    for command in (["audit", "verify"], ["keys", "status"], ["cache", "stats"]):
        assert run(*command).exit_code == 9, command
    assert not keyring.exists()

    refused = run("keys", "init")
    assert refused.exit_code == 9
    assert LOST in refused.stderr
    assert not keyring.exists()

    old = records(rdapctl_home)
    replaced = run("keys", "init", "--replace-lost", "-o", "text")
    assert replaced.exit_code == 0, replaced.stderr
    assert "replaced the lost keyring of lab" in replaced.stderr
    assert "dropped the cache of lab" in replaced.stderr
    assert keyring.exists()
    assert not (rdapctl_home / "cache" / "lab").exists()

    trail = records(rdapctl_home)
    first_new = trail[len(old)]
    assert first_new["event"] == "keyring_replaced"
    assert first_new["old_count"] == len(old)
    assert first_new["prev"] == first_new["old_head"]
    assert first_new["cache_dropped"] is True

    after = lookup(lab, "-o", "json")
    assert after.exit_code == 0
    assert json.loads(after.stdout)["source"] == "network"  # the old cache was dropped
    assert json.loads(lookup(lab, "-o", "json").stdout)["source"] == "cache"

    verify = run("audit", "verify")
    assert verify.exit_code == 0, verify.stdout
    assert f"sealed under a lost key: {len(old)} records, hash chain intact" in verify.stdout
    strict = run("audit", "verify", "--strict")
    assert strict.exit_code == 10
    assert "lost_key_segment" in strict.stderr
    shown = run("audit", "show", "--event", "keyring_replaced", "-o", "json")
    assert [json.loads(x)["event"] for x in shown.stdout.splitlines()] == ["keyring_replaced"]


def test_the_old_segment_is_still_hash_checked(lab: HTTPServer, rdapctl_home: Path) -> None:
    """After a replacement, an edit or deletion among the records under the lost key
    breaks the chain the keyring_replaced record pins: verify exits 10."""
    assert lookup(lab, "--no-cache").exit_code == 0
    assert lookup(lab, "--no-cache").exit_code == 0
    (rdapctl_home / "keys" / "lab.json").unlink()
    assert run("keys", "init", "--replace-lost").exit_code == 0
    assert run("audit", "verify").exit_code == 0
    day = sorted((rdapctl_home / "audit" / "lab").glob("*.jsonl"))[0]
    lines = day.read_bytes().splitlines(keepends=True)
    saved = day.read_bytes()
    day.write_bytes(b"".join([lines[0], *lines[2:]]))  # drop the second old record
    assert run("audit", "verify").exit_code == 10
    day.write_bytes(saved.replace(b'"exit_code":0', b'"exit_code":1', 1))
    bad = run("audit", "verify")
    assert bad.exit_code == 10
    assert "broken_chain" in bad.stdout


def test_keys_init_refuses_when_a_keyring_exists(lab: HTTPServer, rdapctl_home: Path) -> None:
    """keys init (with or without --replace-lost) never replaces a live keyring: exit 3."""
    assert lookup(lab).exit_code == 0
    keyring = rdapctl_home / "keys" / "lab.json"
    before = keyring.read_bytes()
    for extra in ([], ["--replace-lost"]):
        result = run("keys", "init", *extra)
        assert result.exit_code == 3
        assert "already has a keyring" in result.stderr
    assert keyring.read_bytes() == before
    assert lookup(lab, "-o", "json").exit_code == 0


def test_a_brand_new_tenant_gets_its_keyring_without_a_word(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    """No keyring, cache or audit data: the first lookup creates the keyring silently;
    keys init does the same for another new tenant."""
    result = lookup(lab, "-o", "json")
    assert result.exit_code == 0
    assert "keyring" not in result.stderr
    assert (rdapctl_home / "keys" / "lab.json").exists()
    profiles = rdapctl_home / "profiles.toml"
    profiles.write_text(profiles.read_text() + '\n[tenants.fresh]\nisolation = "standard"\n')
    created = run("keys", "init", "-t", "fresh", "-o", "json")
    assert created.exit_code == 0
    assert json.loads(created.stdout)["replaced_lost"] is False
    assert (rdapctl_home / "keys" / "fresh.json").exists()


def test_audit_started_survives_export_and_import(
    lab: HTTPServer, rdapctl_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keyring says the trail was started, MAC'd with it and carried by backups: after
    keys import, a trail deleted whole is "audit trail missing" (exit 10)."""
    assert lookup(lab).exit_code == 0
    monkeypatch.setenv("RDAPCTL_BACKUP_PASSPHRASE", "a long enough passphrase")
    backup = rdapctl_home.parent / "lab.backup"
    assert run("keys", "export", "--output", str(backup)).exit_code == 0
    keyring = rdapctl_home / "keys" / "lab.json"
    keyring.unlink()
    audit = rdapctl_home / "audit" / "lab"
    for path in audit.iterdir():
        if path.name != ".lock":
            path.unlink()
    assert run("keys", "import", str(backup)).exit_code == 0
    assert isinstance(json.loads(keyring.read_text()).get("audit_started"), float)
    verify = run("audit", "verify")
    assert verify.exit_code == 10
    assert "audit trail missing" in verify.stdout


def test_audit_started_cannot_be_removed_from_a_wrapped_keyring(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    """Taking the mark out of a keyring wrapped by a master key breaks its MAC: exit 9."""
    env = {"RDAPCTL_MASTER_KEY": "A" * 43 + "="}
    assert lookup(lab, env=env).exit_code == 0
    keyring = rdapctl_home / "keys" / "lab.json"
    doc = json.loads(keyring.read_text())
    assert "audit_started" in doc
    del doc["audit_started"]
    keyring.write_text(json.dumps(doc))
    assert run("audit", "verify", env=env).exit_code == 9


def test_replace_lost_warns_when_the_old_checkpoint_names_more(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    """Records cut from the end before the key was lost: the old checkpoint (unverifiable
    now) names more than is left, which keys init and verify say."""
    for _ in range(3):
        assert lookup(lab, "--no-cache").exit_code == 0
    day = sorted((rdapctl_home / "audit" / "lab").glob("*.jsonl"))[-1]
    lines = day.read_bytes().splitlines(keepends=True)
    day.write_bytes(b"".join(lines[:-1]))
    (rdapctl_home / "keys" / "lab.json").unlink()
    replaced = run("keys", "init", "--replace-lost")
    assert replaced.exit_code == 0
    assert "may be missing" in replaced.stderr
    verify = run("audit", "verify")
    assert verify.exit_code == 0
    assert f"its old checkpoint (unverifiable) named {len(lines)} records" in verify.stdout


def test_only_a_cache_left_is_a_lost_keyring_too(lab: HTTPServer, rdapctl_home: Path) -> None:
    """A cache without a keyring (no audit data) is exit 9 as well; after --replace-lost
    the new trail starts with keyring_replaced from the genesis."""
    assert lookup(lab).exit_code == 0
    os.unlink(rdapctl_home / "keys" / "lab.json")
    for path in (rdapctl_home / "audit" / "lab").iterdir():
        path.unlink()
    assert lookup(lab).exit_code == 9
    assert run("keys", "init", "--replace-lost").exit_code == 0
    trail = records(rdapctl_home)
    assert [r["event"] for r in trail] == ["keyring_replaced"]
    assert trail[0]["old_count"] == 0
    verify = run("audit", "verify")
    assert verify.exit_code == 0
    assert "sealed under a lost key: 0 records" in verify.stdout


def test_an_interrupted_replacement_can_be_run_again(lab: HTTPServer, rdapctl_home: Path) -> None:
    """``keys init --replace-lost`` that fails before it is done (here the new
    checkpoint cannot be stored) leaves the keyring missing, so the same command simply
    runs again; the trail then verifies with the lost-key warning."""
    assert lookup(lab).exit_code == 0
    assert lookup(lab, "--refresh").exit_code == 0
    (rdapctl_home / "keys" / "lab.json").unlink()
    checkpoint = rdapctl_home / "audit" / "lab" / "checkpoint.json"
    checkpoint.unlink()
    checkpoint.mkdir()  # the checkpoint cannot be replaced: the segment fails half-way

    failed = run("keys", "init", "--replace-lost")
    assert failed.exit_code == 10, failed.stderr
    assert "Traceback" not in failed.stderr
    assert not (rdapctl_home / "keys" / "lab.json").exists()

    checkpoint.rmdir()
    again = run("keys", "init", "--replace-lost")
    assert again.exit_code == 0, again.stderr
    assert lookup(lab).exit_code == 0
    verified = run("audit", "verify")
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    assert "sealed under a lost key" in verified.stdout + verified.stderr
    assert [r["event"] for r in records(rdapctl_home)].count("keyring_replaced") == 2


def test_keys_init_and_import_refuse_a_home_of_another_account(
    lab: HTTPServer, rdapctl_home: Path, tmp_path: Path
) -> None:
    """The ownership rule holds for the commands that write keys, not only for lookups:
    nothing is written into a home another account owns."""
    outside = tmp_path / "outside"
    loopback_profiles(outside, lab.port)
    profiles = str(outside / "profiles.toml")
    os.chown(rdapctl_home, 65534, 65534)
    refused = run("keys", "init", "--profiles", profiles)
    assert refused.exit_code == 3, refused.stderr
    assert "refusing to use" in refused.stderr
    backup = tmp_path / "backup.json"
    backup.write_bytes(b"{}")
    imported = run("keys", "import", str(backup), "--profiles", profiles, env=PASSPHRASE)
    assert imported.exit_code == 3, imported.stderr
    assert not (rdapctl_home / "keys").exists()


PASSPHRASE = {"RDAPCTL_BACKUP_PASSPHRASE": "correct horse battery staple"}


def test_an_empty_cache_folder_is_no_lost_keyring(lab: HTTPServer, rdapctl_home: Path) -> None:
    """Only data sealed under the keys counts: an empty cache folder of a new tenant
    does not make its first lookup exit 9."""
    (rdapctl_home / "cache" / "lab").mkdir(parents=True, mode=0o700)
    os.chmod(rdapctl_home / "cache", 0o700)
    first = lookup(lab)
    assert first.exit_code == 0, first.stderr
    assert (rdapctl_home / "keys" / "lab.json").exists()


def test_a_keyring_from_before_trails_were_marked_protects_its_trail(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    """A keyring written before ``audit_started`` existed is marked when it is next
    opened and its trail exists, so deleting that trail whole is "missing" (10)."""
    assert lookup(lab).exit_code == 0
    keyring = rdapctl_home / "keys" / "lab.json"
    doc = json.loads(keyring.read_text())
    assert "audit_started" in doc
    # The keyring as an older rdapctl wrote it: no mark (re-MAC'd as that version did).
    from rdapctl.store.keys.keyring import Keyring
    from rdapctl.store.paths import StatePaths

    paths = StatePaths.from_env({"RDAPCTL_HOME": str(rdapctl_home)})
    ring = Keyring.open(paths, "lab", {})
    ring._audit_started = None  # what an older version wrote (the MAC is its own)
    ring._save()
    assert "audit_started" not in json.loads(keyring.read_text())

    assert run("keys", "status").exit_code == 0  # opened: marked again
    assert "audit_started" in json.loads(keyring.read_text())
    for day in (rdapctl_home / "audit" / "lab").glob("*.jsonl"):
        day.unlink()
    (rdapctl_home / "audit" / "lab" / "checkpoint.json").unlink()
    verified = run("audit", "verify")
    assert verified.exit_code == 10
    assert "audit trail missing" in verified.stdout + verified.stderr
