"""Issue 18 items 1 and 3: rdapctl uses only state folders and files it owns.

Another local account is played by uid 65534 (nobody): the tests run as root, create
the planted folders and files and ``os.chown`` them to 65534.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.cli import app
from rdapctl.store.paths import StatePaths, write_private_file
from tests.support import load_fixture, loopback_profiles

runner = CliRunner()
NOBODY = 65534
AUTNUM = load_fixture("autnum/arin-as63311.json")
PASSPHRASE = "a long enough passphrase"

needs_chown = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="planting files of another account needs root (os.chown)",
)


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Every path below ``root`` (not following links) with mode, owner and content."""
    out: dict[str, tuple[int, int, bytes | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath, name)
            st = p.lstat()
            data = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
            out[str(p.relative_to(root))] = (st.st_mode, st.st_uid, data)
    return out


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(rdapctl_home, httpserver.port)
    httpserver.expect_request("/autnum/63311").respond_with_json(AUTNUM)
    return httpserver


def lookup(server: HTTPServer, *extra: str) -> tuple[int, str, str]:
    return invoke("lookup", "AS63311", "--server", server.url_for("/"), "-o", "json", *extra)


def assert_refused(code: int, out: str, err: str, path: Path) -> None:
    assert code == 3, (out, err)
    assert str(path) in out + err
    assert "Traceback" not in out + err


# --------------------------------------------------------------------------- the home


@needs_chown
@pytest.mark.parametrize(
    "command",
    [
        ("lookup", "AS63311", "-o", "json"),
        ("profile", "list", "-o", "json"),
        ("profile", "init"),
        ("keys", "status", "-o", "json"),
        ("keys", "rotate"),
        ("audit", "verify"),
    ],
)
def test_a_home_owned_by_another_account_is_refused_and_left_alone(
    rdapctl_home: Path, command: tuple[str, ...]
) -> None:
    rdapctl_home.mkdir(mode=0o700)
    os.chown(rdapctl_home, NOBODY, NOBODY)
    code, out, err = invoke(*command)
    assert_refused(code, out, err, rdapctl_home)
    assert "uid 65534" in out + err
    assert "chown" in out + err and "RDAPCTL_HOME" in out + err
    assert list(rdapctl_home.iterdir()) == []  # nothing written there
    if command[0] == "lookup":
        doc = json.loads(out)  # one valid envelope, even for this error
        assert doc["error"]["code"] == "state_not_private"
        assert doc["error"]["exit_code"] == 3


@needs_chown
def test_a_home_of_another_account_with_our_profiles_file_still_refuses_lookups(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    os.chown(rdapctl_home, NOBODY, NOBODY)
    before = snapshot(rdapctl_home)
    code, out, err = lookup(lab)
    assert_refused(code, out, err, rdapctl_home)
    assert snapshot(rdapctl_home) == before
    assert len(lab.log) == 0


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777, 0o1777])
def test_a_state_folder_writable_by_group_or_others_is_refused(
    lab: HTTPServer, rdapctl_home: Path, mode: int
) -> None:
    assert lookup(lab)[0] == 0
    keys = rdapctl_home / "keys"
    os.chmod(keys, mode)
    code, out, err = lookup(lab, "--refresh")
    assert_refused(code, out, err, keys)
    assert "writable by group or others" in out + err
    assert "chmod 0700" in out + err
    assert stat.S_IMODE(keys.stat().st_mode) == mode  # refused, not silently "fixed"


def test_a_readable_but_not_writable_state_folder_is_still_used(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    """Only write access lets another account plant state: 0755 is not refused."""
    assert lookup(lab)[0] == 0
    os.chmod(rdapctl_home / "audit", 0o755)
    os.chmod(rdapctl_home, 0o755)
    assert lookup(lab, "--refresh")[0] == 0


@needs_chown
def test_a_home_that_is_a_symlink_to_another_accounts_folder_is_refused(
    lab: HTTPServer, rdapctl_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    link = tmp_path / "link-home"
    link.symlink_to(theirs)
    monkeypatch.setenv("RDAPCTL_HOME", str(link))
    code, out, err = lookup(lab)
    assert_refused(code, out, err, link)
    assert list(theirs.iterdir()) == []


@needs_chown
def test_a_symlink_home_the_other_account_owns_is_refused_even_to_our_folder(
    lab: HTTPServer, rdapctl_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The link's owner could point it elsewhere at any time: not trusted.
    link = tmp_path / "their-link"
    link.symlink_to(rdapctl_home)
    os.chown(link, NOBODY, NOBODY, follow_symlinks=False)
    monkeypatch.setenv("RDAPCTL_HOME", str(link))
    code, out, err = lookup(lab)
    assert_refused(code, out, err, link)
    assert "symbolic link owned by uid 65534" in out + err


def test_a_symlink_home_of_ours_to_a_folder_of_ours_is_used(
    lab: HTTPServer, rdapctl_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = tmp_path / "my-link"
    link.symlink_to(rdapctl_home)
    monkeypatch.setenv("RDAPCTL_HOME", str(link))
    assert lookup(lab)[0] == 0
    assert (rdapctl_home / "keys" / "lab.json").is_file()


# --------------------------------------------------------------------------- planted files


@needs_chown
def test_a_keyring_planted_by_another_account_is_refused(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    assert lookup(lab)[0] == 0
    ring = rdapctl_home / "keys" / "lab.json"
    os.chown(ring, NOBODY, NOBODY)  # right mode (0600), wrong owner
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600
    for args in (("--refresh",), ()):
        code, out, err = lookup(lab, *args)
        assert_refused(code, out, err, ring)
    code, out, err = invoke("keys", "status", "-o", "json")
    assert_refused(code, out, err, ring)


@needs_chown
@pytest.mark.parametrize(
    "relpath",
    ["cache/lab", "cache/lab/cache.db", "audit/lab", "audit", "bootstrap", "ratelimit/lab"],
)
def test_any_state_path_of_another_owner_is_refused(
    lab: HTTPServer, rdapctl_home: Path, relpath: str
) -> None:
    assert lookup(lab)[0] == 0
    (rdapctl_home / "bootstrap").mkdir(mode=0o700, exist_ok=True)
    target = rdapctl_home / relpath
    assert target.exists(), relpath
    os.chown(target, NOBODY, NOBODY)
    code, out, err = lookup(lab)
    assert_refused(code, out, err, target)


@needs_chown
def test_a_planted_audit_day_file_is_refused(lab: HTTPServer, rdapctl_home: Path) -> None:
    assert lookup(lab)[0] == 0
    (day,) = (rdapctl_home / "audit" / "lab").glob("*.jsonl")
    os.chown(day, NOBODY, NOBODY)
    before = day.read_bytes()
    code, out, err = lookup(lab, "--refresh")
    assert_refused(code, out, err, day)
    assert day.read_bytes() == before


def test_a_symlink_at_the_keyring_is_never_followed(
    lab: HTTPServer, rdapctl_home: Path, tmp_path: Path
) -> None:
    assert lookup(lab)[0] == 0
    ring = rdapctl_home / "keys" / "lab.json"
    elsewhere = tmp_path / "victim.json"
    elsewhere.write_bytes(ring.read_bytes())
    ring.unlink()
    ring.symlink_to(elsewhere)
    code, out, err = lookup(lab, "--refresh")
    assert_refused(code, out, err, ring)
    assert "symbolic link" in out + err


def test_a_symlink_at_the_audit_checkpoint_is_never_followed(
    lab: HTTPServer, rdapctl_home: Path, tmp_path: Path
) -> None:
    assert lookup(lab)[0] == 0
    checkpoint = rdapctl_home / "audit" / "lab" / "checkpoint.json"
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    checkpoint.unlink()
    checkpoint.symlink_to(victim)
    code, out, err = lookup(lab, "--refresh")
    assert_refused(code, out, err, checkpoint)
    assert victim.read_bytes() == b"precious\n"


def test_symlinks_planted_at_temporary_names_are_not_followed(
    rdapctl_home: Path, tmp_path: Path
) -> None:
    """The old fixed names ``.NAME.PID.tmp`` (and any other name) are never opened."""
    folder = rdapctl_home / "keys"
    folder.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    for pid in range(os.getpid() - 5, os.getpid() + 5):
        (folder / f".lab.json.{pid}.tmp").symlink_to(victim)
    write_private_file(folder / "lab.json", b"new keyring\n")
    assert victim.read_bytes() == b"precious\n"
    assert (folder / "lab.json").read_bytes() == b"new keyring\n"
    assert stat.S_IMODE((folder / "lab.json").lstat().st_mode) == 0o600
    leftovers = {p.name for p in folder.iterdir()} - {"lab.json"}
    assert all((folder / name).is_symlink() for name in leftovers)


def test_a_symlink_at_a_state_file_is_replaced_not_written_through(
    rdapctl_home: Path, tmp_path: Path
) -> None:
    folder = rdapctl_home / "audit" / "lab"
    folder.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    (folder / "checkpoint.json").symlink_to(victim)
    write_private_file(folder / "checkpoint.json", b"{}\n")
    assert victim.read_bytes() == b"precious\n"
    assert not (folder / "checkpoint.json").is_symlink()


def test_profile_init_writes_through_no_symlink_at_a_temporary_name(
    rdapctl_home: Path, tmp_path: Path
) -> None:
    rdapctl_home.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    for pid in range(os.getpid() - 5, os.getpid() + 5):
        (rdapctl_home / f".profiles.toml.{pid}.tmp").symlink_to(victim)
    code, _, err = invoke("profile", "init")
    assert code == 0, err
    assert victim.read_bytes() == b"precious\n"
    assert stat.S_IMODE((rdapctl_home / "profiles.toml").stat().st_mode) == 0o600


@needs_chown
def test_a_planted_profiles_file_in_our_home_is_refused(rdapctl_home: Path) -> None:
    rdapctl_home.mkdir(mode=0o700)
    planted = rdapctl_home / "profiles.toml"
    planted.write_text('default_tenant = "x"\n[tenants.x]\n', encoding="utf-8")
    os.chown(planted, NOBODY, NOBODY)
    code, out, err = invoke("profile", "list", "-o", "json")
    assert_refused(code, out, err, planted)


# --------------------------------------------------------------------------- doctor


def doctor(*args: str) -> tuple[int, dict, str]:
    result = runner.invoke(app, ["doctor", "--format", "json", *args])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout), result.output


def checks_named(doc: dict, name: str) -> list[dict]:
    return [c for c in doc["checks"] if c["check"] == name]


@needs_chown
def test_doctor_reports_planted_files_with_good_modes_and_fix_never_chowns(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    assert lookup(lab)[0] == 0
    ring = rdapctl_home / "keys" / "lab.json"
    os.chown(ring, NOBODY, NOBODY)
    loose = rdapctl_home / "cache" / "lab"
    os.chmod(loose, 0o750)
    for args in ((), ("--fix",)):
        code, doc, _ = doctor(*args)
        assert code != 0
        (owned,) = [c for c in checks_named(doc, "ownership") if c["tenant"] == "lab"]
        assert owned["status"] == "fail"
        assert "keys/lab.json" in owned["message"] and "uid 65534" in owned["message"]
        assert ring.stat().st_uid == NOBODY  # --fix changes modes only
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700  # the mode was fixed


@needs_chown
def test_doctor_reports_a_home_owned_by_another_account(rdapctl_home: Path) -> None:
    rdapctl_home.mkdir(mode=0o700)
    os.chown(rdapctl_home, NOBODY, NOBODY)
    code, doc, _ = doctor("--fix")
    assert code == 3
    (owned,) = checks_named(doc, "ownership")
    assert owned["status"] == "fail" and str(rdapctl_home) in owned["message"]
    assert rdapctl_home.stat().st_uid == NOBODY
    assert list(rdapctl_home.iterdir()) == []


def test_doctor_passes_a_home_that_is_all_ours(lab: HTTPServer) -> None:
    assert lookup(lab)[0] == 0
    _, doc, output = doctor()
    assert not checks_named(doc, "ownership"), output


# --------------------------------------------------------------------------- keys export


@pytest.fixture
def shared_tmp(tmp_path: Path) -> Path:
    """A folder like /tmp: world-writable and sticky."""
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    return folder


def export(out: Path, *extra: str) -> tuple[int, str, str]:
    return invoke("keys", "export", "--output", str(out), *extra)


def test_keys_export_creates_a_private_file_and_leaves_its_folder_alone(
    lab: HTTPServer, shared_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RDAPCTL_BACKUP_PASSPHRASE", PASSPHRASE)
    assert lookup(lab)[0] == 0
    out = shared_tmp / "lab.backup"
    code, _, err = export(out)
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(shared_tmp.stat().st_mode) == 0o1777
    assert [p.name for p in shared_tmp.iterdir()] == ["lab.backup"]  # no temp file left


def test_keys_export_refuses_an_existing_file_unless_forced(
    lab: HTTPServer, shared_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RDAPCTL_BACKUP_PASSPHRASE", PASSPHRASE)
    out = shared_tmp / "existing"
    out.write_bytes(b"keep me\n")
    os.chmod(out, 0o644)
    code, _, err = export(out)
    assert code == 3, err
    assert str(out) in err and "--force" in err
    assert out.read_bytes() == b"keep me\n"
    code, _, err = export(out, "--force")
    assert code == 0, err
    assert out.read_bytes() != b"keep me\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(shared_tmp.stat().st_mode) == 0o1777
    code, _, err = invoke("keys", "import", str(out), "--force")
    assert code == 0, err


def test_keys_export_never_writes_through_a_planted_symlink(
    lab: HTTPServer, shared_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RDAPCTL_BACKUP_PASSPHRASE", PASSPHRASE)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    out = shared_tmp / "lab.backup"
    out.symlink_to(victim)
    code, _, err = export(out)
    assert code == 3, err
    assert victim.read_bytes() == b"precious\n"
    code, _, err = export(out, "--force")  # replaces the link, never writes through it
    assert code == 0, err
    assert victim.read_bytes() == b"precious\n"
    assert not out.is_symlink() and stat.S_IMODE(out.stat().st_mode) == 0o600


def test_keys_export_into_a_missing_folder_is_a_usage_error(
    lab: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RDAPCTL_BACKUP_PASSPHRASE", PASSPHRASE)
    out = tmp_path / "no-such-folder" / "lab.backup"
    code, _, err = export(out)
    assert code == 2, err
    assert str(out) in err
    assert not out.parent.exists()


def test_state_paths_used_by_the_tests_are_the_real_ones(rdapctl_home: Path) -> None:
    paths = StatePaths.from_env(os.environ)
    assert paths.keys_dir == rdapctl_home / "keys"
    assert paths.tenant_ratelimit_dir("lab") == rdapctl_home / "ratelimit" / "lab"
