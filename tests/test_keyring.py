"""Per-tenant keyrings: creation, master-key wrapping, tampering, rotation, backup."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from rdapctl.core.errors import ConfigError, ExitCode, IntegrityError, UsageError
from rdapctl.store.keys.keyring import Keyring, import_keyring
from rdapctl.store.keys.master import master_key_from_env
from rdapctl.store.paths import StatePaths

DAY = 86400.0
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _paths() -> StatePaths:
    return StatePaths.from_env(os.environ)


def _master_env(key: bytes | None = None) -> dict[str, str]:
    return {"RDAPCTL_MASTER_KEY": base64.b64encode(key or os.urandom(32)).decode()}


def _materials(ring: Keyring) -> list[bytes]:
    return [ring.index_key(), ring.audit_key(), ring.active_data_key()[1]]


def _leaks(ring: Keyring, text: str | bytes) -> bool:
    """True when any key's material appears in text (raw, hex or base64)."""
    blob = text.encode() if isinstance(text, str) else text
    for m in _materials(ring):
        if m in blob or m.hex().encode() in blob or base64.b64encode(m) in blob:
            return True
    return False


def test_new_keyring_is_private_and_holds_three_purposes() -> None:
    """A first open creates keys/<tenant>.json 0600 in a 0700 folder with data/index/audit keys."""
    paths = _paths()
    ring = Keyring.open(paths, "acme", {})
    file = paths.keyring_file("acme")
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.keys_dir.stat().st_mode) == 0o700
    assert sorted(k.purpose for k in ring.status()) == ["audit", "data", "index"]
    assert all(k.status == "active" and not k.wrapped for k in ring.status())
    assert json.loads(file.read_text())["wrapped"] is False
    assert len({ring.index_key(), ring.audit_key(), ring.active_data_key()[1]}) == 3


def test_reopening_gives_the_same_keys() -> None:
    """Opening an existing keyring loads it rather than making new keys."""
    first = Keyring.open(_paths(), "acme", {})
    second = Keyring.open(_paths(), "acme", {})
    assert [k.id for k in first.status()] == [k.id for k in second.status()]
    assert _materials(first) == _materials(second)


def test_status_repr_and_file_listing_never_show_material() -> None:
    """status(), reprs and KeyInfo show ids and ages but no key material."""
    ring = Keyring.open(_paths(), "acme", {})
    assert not _leaks(ring, repr(ring))
    assert not _leaks(ring, repr(ring.status()))


def test_master_key_wraps_material_so_it_never_reaches_disk_in_clear() -> None:
    """With RDAPCTL_MASTER_KEY the file is marked wrapped and holds no raw key bytes."""
    paths = _paths()
    ring = Keyring.open(paths, "acme", _master_env())
    raw = paths.keyring_file("acme").read_bytes()
    assert json.loads(raw)["wrapped"] is True
    assert all(k.wrapped for k in ring.status())
    assert not _leaks(ring, raw)


def test_raw_keyring_is_wrapped_when_a_master_key_appears() -> None:
    """A keyring written without a master key is wrapped, same keys, on the next open with one."""
    paths = _paths()
    env = _master_env()
    raw_ring = Keyring.open(paths, "acme", {})
    wrapped = Keyring.open(paths, "acme", env)
    assert _materials(raw_ring) == _materials(wrapped)
    assert json.loads(paths.keyring_file("acme").read_text())["wrapped"] is True
    assert not _leaks(raw_ring, paths.keyring_file("acme").read_bytes())


def test_wrong_master_key_is_an_integrity_error_and_keeps_the_keyring() -> None:
    """A different master key fails with exit 9 and a clear message; nothing is replaced."""
    paths = _paths()
    Keyring.open(paths, "acme", _master_env())
    before = paths.keyring_file("acme").read_bytes()
    with pytest.raises(IntegrityError) as info:
        Keyring.open(paths, "acme", _master_env())
    assert info.value.exit_code == ExitCode.INTEGRITY
    assert "master key does not open the keyring of tenant acme" in info.value.message
    assert paths.keyring_file("acme").read_bytes() == before


def test_wrapped_keyring_without_master_key_says_one_is_needed() -> None:
    """Opening a wrapped keyring with no master key asks for one (exit 9) and has a hint."""
    paths = _paths()
    Keyring.open(paths, "acme", _master_env())
    with pytest.raises(IntegrityError) as info:
        Keyring.open(paths, "acme", {})
    assert "master key is needed" in info.value.message
    assert info.value.hint and "RDAPCTL_MASTER_KEY" in info.value.hint


@pytest.mark.parametrize(
    "env",
    [
        {"RDAPCTL_MASTER_KEY": "not base64!!"},
        {"RDAPCTL_MASTER_KEY": base64.b64encode(b"x" * 16).decode()},
        {"RDAPCTL_MASTER_KEY_FILE": "/nonexistent/master.key"},
        {
            "RDAPCTL_MASTER_KEY": base64.b64encode(b"x" * 32).decode(),
            "RDAPCTL_MASTER_KEY_FILE": "/etc/hostname",
        },
    ],
    ids=["bad-base64", "wrong-length", "unreadable-file", "both-set"],
)
def test_malformed_master_key_is_a_config_error(env: dict[str, str]) -> None:
    """A malformed or unreadable master key is a one-line ConfigError (exit 3)."""
    with pytest.raises(ConfigError) as info:
        Keyring.open(_paths(), "acme", env)
    assert info.value.exit_code == ExitCode.CONFIG
    assert "\n" not in info.value.message


def test_master_key_file_accepts_raw_bytes_or_base64(tmp_path: Path) -> None:
    """A master key file may hold 32 raw bytes or their base64 (with a newline)."""
    key = os.urandom(32)
    raw_file = tmp_path / "raw.key"
    raw_file.write_bytes(key)
    b64_file = tmp_path / "b64.key"
    b64_file.write_text(base64.b64encode(key).decode() + "\n")
    assert master_key_from_env({"RDAPCTL_MASTER_KEY_FILE": str(raw_file)}) == key
    assert master_key_from_env({"RDAPCTL_MASTER_KEY_FILE": str(b64_file)}) == key
    bad = tmp_path / "bad.key"
    bad.write_bytes(b"short")
    with pytest.raises(ConfigError):
        master_key_from_env({"RDAPCTL_MASTER_KEY_FILE": str(bad)})


@pytest.mark.parametrize("wrapped", [False, True], ids=["raw", "wrapped"])
def test_edited_keyring_file_is_an_integrity_error(wrapped: bool) -> None:
    """Changing a key's status by hand is detected (exit 9), never silently accepted."""
    paths = _paths()
    env = _master_env() if wrapped else {}
    ring = Keyring.open(paths, "acme", env)
    ring.rotate()
    file = paths.keyring_file("acme")
    doc = json.loads(file.read_text())
    for key in doc["keys"]:
        if key["status"] == "previous":
            key["created_at"] = 1.0
    file.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError) as info:
        Keyring.open(paths, "acme", env)
    assert "edited or damaged" in info.value.message


def test_edited_wrapped_material_is_an_integrity_error() -> None:
    """Replacing a wrapped key's material is caught, and the message names the damage."""
    paths = _paths()
    env = _master_env()
    Keyring.open(paths, "acme", env)
    file = paths.keyring_file("acme")
    doc = json.loads(file.read_text())
    doc["keys"][0]["material"] = base64.b64encode(os.urandom(60)).decode()
    file.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="damaged"):
        Keyring.open(paths, "acme", env)


@pytest.mark.parametrize("content", [b"{not json", b"[]", b""], ids=["bad-json", "list", "empty"])
def test_garbage_keyring_file_is_an_integrity_error_not_a_new_keyring(content: bytes) -> None:
    """A damaged keyring is reported (exit 9) and left in place for recovery."""
    paths = _paths()
    Keyring.open(paths, "acme", {})
    paths.keyring_file("acme").write_bytes(content)
    with pytest.raises(IntegrityError) as info:
        Keyring.open(paths, "acme", {})
    assert info.value.hint
    assert paths.keyring_file("acme").read_bytes() == content


def test_keyring_copied_from_another_tenant_is_rejected() -> None:
    """A keyring file copied under another tenant's name does not open."""
    paths = _paths()
    Keyring.open(paths, "alpha", {})
    paths.keyring_file("beta").write_bytes(paths.keyring_file("alpha").read_bytes())
    with pytest.raises(IntegrityError, match="another tenant"):
        Keyring.open(paths, "beta", {})


def test_invalid_tenant_name_is_a_config_error() -> None:
    """A tenant name that could escape the keys folder is refused."""
    with pytest.raises(ConfigError):
        Keyring.open(_paths(), "../evil", {})


def test_rotate_keeps_old_key_readable_until_retired() -> None:
    """After rotate() the old data key is 'previous' and readable; retire_old() erases it."""
    paths = _paths()
    ring = Keyring.open(paths, "acme", {})
    old_id, old_material = ring.active_data_key()
    info = ring.rotate()
    assert info.status == "active" and info.id != old_id
    assert ring.active_data_key()[0] == info.id
    assert ring.data_key(old_id) == old_material
    statuses = {k.id: k.status for k in ring.status()}
    assert statuses[old_id] == "previous"
    retired = ring.retire_old()
    assert [k.id for k in retired] == [old_id]
    assert ring.data_key(old_id) is None
    reopened = Keyring.open(paths, "acme", {})
    assert {k.id: k.status for k in reopened.status()}[old_id] == "retired"
    assert reopened.data_key(old_id) is None
    assert old_material not in paths.keyring_file("acme").read_bytes()
    assert base64.b64encode(old_material) not in paths.keyring_file("acme").read_bytes()


def test_rotation_by_another_process_is_seen_on_lookup() -> None:
    """A data key created by another keyring instance is found without reopening."""
    paths = _paths()
    mine = Keyring.open(paths, "acme", {})
    other = Keyring.open(paths, "acme", {})
    new = other.rotate()
    assert mine.data_key(new.id) == other.active_data_key()[1]


def test_ensure_fresh_rotates_only_keys_older_than_rotation_days() -> None:
    """ensure_fresh rotates a data key past rotation_days once, notifying without secrets."""
    clock = Clock()
    ring = Keyring.open(_paths(), "acme", {}, clock=clock)
    messages: list[str] = []
    clock.now = T0 + 89 * DAY
    assert ring.ensure_fresh(90, messages.append) is None
    clock.now = T0 + 91 * DAY
    info = ring.ensure_fresh(90, messages.append)
    assert info is not None and info.age_days == 0
    assert len(messages) == 1 and "acme" in messages[0] and "91 days" in messages[0]
    assert not _leaks(ring, messages[0])
    assert ring.ensure_fresh(90, messages.append) is None
    assert ring.ensure_fresh(0, messages.append) is None
    ages = {k.id: round(k.age_days) for k in ring.status() if k.purpose == "data"}
    assert sorted(ages.values()) == [0, 91]


def _open_in_child(home: str, barrier: object, queue: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    ring = Keyring.open(StatePaths.from_env({"RDAPCTL_HOME": home}), "race", {})
    queue.put(sorted(k.id for k in ring.status()))  # type: ignore[attr-defined]


@pytest.mark.slow
def test_processes_creating_a_keyring_at_once_end_with_one(rdapctl_home: Path) -> None:
    """Several processes opening a new tenant at the same moment all get the same keys."""
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(target=_open_in_child, args=(str(rdapctl_home), barrier, queue))
        for _ in range(4)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert all(r == results[0] for r in results)
    on_disk = Keyring.open(StatePaths.from_env({"RDAPCTL_HOME": str(rdapctl_home)}), "race", {})
    assert sorted(k.id for k in on_disk.status()) == results[0]


def test_export_then_import_restores_the_same_keys() -> None:
    """A backup restored after the keyring is lost gives back the same ids and material."""
    paths = _paths()
    ring = Keyring.open(paths, "acme", {})
    ring.rotate()
    blob = ring.export_keyring("correct horse battery staple")
    assert not _leaks(ring, blob)
    assert json.loads(blob)["format"] == "rdapctl-keyring-backup"
    paths.keyring_file("acme").unlink()
    restored = import_keyring(paths, "acme", blob, "correct horse battery staple", {})
    assert [k.id for k in restored.status()] == [k.id for k in ring.status()]
    assert _materials(Keyring.open(paths, "acme", {})) == _materials(ring)


def test_import_rewraps_under_the_current_master_key() -> None:
    """A raw keyring's backup imported with a master key set is stored wrapped."""
    paths = _paths()
    ring = Keyring.open(paths, "acme", {})
    blob = ring.export_keyring("pw")
    paths.keyring_file("acme").unlink()
    env = _master_env()
    import_keyring(paths, "acme", blob, "pw", env)
    assert json.loads(paths.keyring_file("acme").read_text())["wrapped"] is True
    assert _materials(Keyring.open(paths, "acme", env)) == _materials(ring)


def test_import_with_wrong_passphrase_is_an_integrity_error() -> None:
    """The wrong passphrase fails with exit 9 and leaves the keyring alone."""
    paths = _paths()
    ring = Keyring.open(paths, "acme", {})
    blob = ring.export_keyring("right")
    before = paths.keyring_file("acme").read_bytes()
    with pytest.raises(IntegrityError, match="passphrase does not open"):
        import_keyring(paths, "acme", blob, "wrong", {}, force=True)
    assert paths.keyring_file("acme").read_bytes() == before


def test_import_refuses_to_replace_a_different_keyring_without_force() -> None:
    """Importing over a different live keyring is a ConfigError unless forced."""
    paths = _paths()
    blob = Keyring.open(paths, "acme", {}).export_keyring("pw")
    paths.keyring_file("acme").unlink()
    live = Keyring.open(paths, "acme", {})
    with pytest.raises(ConfigError) as info:
        import_keyring(paths, "acme", blob, "pw", {})
    assert info.value.hint and "--force" in info.value.hint
    assert _materials(Keyring.open(paths, "acme", {})) == _materials(live)
    restored = import_keyring(paths, "acme", blob, "pw", {}, force=True)
    assert _materials(restored) != _materials(live)


def test_import_over_the_identical_keyring_is_allowed() -> None:
    """Re-importing the backup of the live keyring needs no force."""
    paths = _paths()
    ring = Keyring.open(paths, "acme", {})
    import_keyring(paths, "acme", ring.export_keyring("pw"), "pw", {})
    assert _materials(Keyring.open(paths, "acme", {})) == _materials(ring)


def test_backup_of_another_tenant_or_garbage_is_refused() -> None:
    """A backup is bound to its tenant, and non-backups are reported as damaged."""
    paths = _paths()
    blob = Keyring.open(paths, "alpha", {}).export_keyring("pw")
    with pytest.raises(ConfigError, match="tenant alpha"):
        import_keyring(paths, "beta", blob, "pw", {})
    doc = json.loads(blob)
    doc["tenant"] = "beta"  # the header is authenticated: relabelling fails
    with pytest.raises(IntegrityError):
        import_keyring(paths, "beta", json.dumps(doc).encode(), "pw", {})
    with pytest.raises(IntegrityError, match="not an rdapctl keyring backup"):
        import_keyring(paths, "beta", b"hello", "pw", {})


def test_export_with_empty_passphrase_is_a_usage_error() -> None:
    """An empty backup passphrase is refused."""
    with pytest.raises(UsageError):
        Keyring.open(_paths(), "acme", {}).export_keyring("")
