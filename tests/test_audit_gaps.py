"""Repair never blesses a gap: records cut from the trail, a missing or foreign
checkpoint, or a trail deleted whole stay a failure until a person accepts the loss
with a reason (issue 18, item 5)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner, Result

from rdapctl.cli import app
from rdapctl.core.errors import AuditError
from rdapctl.policy.tenant import Tenant
from rdapctl.store.audit.checkpoint import Checkpoint, checkpoint_bytes
from rdapctl.store.audit.format import derive_keys
from rdapctl.store.audit.log import AuditLog
from rdapctl.store.paths import StatePaths
from tests.support import DAY0, DAY_S, KEY, StepClock, load_fixture, loopback_profiles

runner = CliRunner()
AUTNUM = load_fixture("autnum/arin-as63311.json")


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(rdapctl_home, httpserver.port)
    httpserver.expect_request("/autnum/63311").respond_with_json(AUTNUM)
    for _ in range(4):
        result = lookup(httpserver)
        assert result.exit_code == 0, result.stderr
    return httpserver


def run(*args: str) -> Result:
    return runner.invoke(app, list(args))


def lookup(server: HTTPServer) -> Result:
    return run("lookup", "AS63311", "--server", server.url_for("/"), "--no-cache", "-o", "json")


def audit_dir(home: Path) -> Path:
    return home / "audit" / "lab"


def day_files(home: Path) -> list[Path]:
    return sorted(audit_dir(home).glob("*.jsonl"))


def cut_newest_records(home: Path) -> None:
    day = day_files(home)[-1]
    lines = day.read_bytes().splitlines(keepends=True)
    day.write_bytes(b"".join(lines[:-2]))


def delete_checkpoint(home: Path) -> None:
    (audit_dir(home) / "checkpoint.json").unlink()


def cut_and_delete_checkpoint(home: Path) -> None:
    cut_newest_records(home)
    delete_checkpoint(home)


def checkpoint_under_another_key(home: Path) -> None:
    other = derive_keys(bytes(32 * [7])).record
    cp = Checkpoint(head="0" * 64, count=1, file=day_files(home)[-1].name, size=1)
    (audit_dir(home) / "checkpoint.json").write_bytes(checkpoint_bytes(cp, "lab", other))


GAPS = [
    pytest.param(cut_newest_records, id="newest-records-cut"),
    pytest.param(delete_checkpoint, id="checkpoint-deleted"),
    pytest.param(cut_and_delete_checkpoint, id="records-cut-and-checkpoint-deleted"),
    pytest.param(checkpoint_under_another_key, id="checkpoint-under-another-key"),
]


@pytest.mark.parametrize("damage", GAPS)
def test_a_gap_fails_until_it_is_accepted_with_a_reason(
    lab: HTTPServer, rdapctl_home: Path, damage: Callable[[Path], None]
) -> None:
    """verify 10 → repair still 10 and changes nothing → lookups refused (10) →
    repair --accept-loss --reason → verify 0 with a warning, --strict 10, audit show
    lists the gap, and the trail goes on."""
    damage(rdapctl_home)
    assert run("audit", "verify").exit_code == 10
    before = {p.name: p.read_bytes() for p in audit_dir(rdapctl_home).iterdir()}
    plain = run("audit", "repair")
    assert plain.exit_code == 10
    assert "--accept-loss" in plain.stderr
    assert {p.name: p.read_bytes() for p in audit_dir(rdapctl_home).iterdir()} == before
    assert run("audit", "verify").exit_code == 10
    assert lookup(lab).exit_code == 10

    accepted = run("audit", "repair", "--accept-loss", "--reason", "disk restore")
    assert accepted.exit_code == 0, accepted.stderr
    assert "accepted loss" in accepted.stdout
    verify = run("audit", "verify", "-o", "text")
    assert verify.exit_code == 0, verify.stdout
    assert "warning:" in verify.stdout and "accepted_gap" in verify.stdout
    assert "disk restore" in verify.stdout
    assert run("audit", "verify", "--strict").exit_code == 10
    shown = run("audit", "show", "--event", "audit_gap_accepted", "-o", "json")
    [gap] = [json.loads(line) for line in shown.stdout.splitlines()]
    assert gap["reason"] == "disk restore"
    assert gap["actor"]
    assert {"old_count", "new_count", "old_head", "new_head"} <= gap.keys()
    table = run("audit", "show", "-o", "text")
    assert "audit_gap_accepted" in table.stdout
    assert lookup(lab).exit_code == 0
    assert run("audit", "verify").exit_code == 0


def test_accepted_gap_counts_what_was_lost(lab: HTTPServer, rdapctl_home: Path) -> None:
    """The gap record holds the old and new count and head: what the checkpoint said
    and what the files hold."""
    checkpoint = json.loads((audit_dir(rdapctl_home) / "checkpoint.json").read_text())
    cut_newest_records(rdapctl_home)
    assert run("audit", "repair", "--accept-loss", "--reason", "disk restore").exit_code == 0
    gap = next(r for r in records(rdapctl_home) if r["event"] == "audit_gap_accepted")
    assert (gap["old_count"], gap["old_head"]) == (checkpoint["count"], checkpoint["head"])
    assert gap["new_count"] == checkpoint["count"] - 2
    assert gap["new_head"] == gap["prev"]


def records(home: Path) -> list[dict]:
    out = []
    for day in day_files(home):
        out.extend(json.loads(line) for line in day.read_text().splitlines())
    return out


def test_a_torn_last_line_is_quarantined_and_nothing_more(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    """A crash's torn tail: repair moves it to quarantine and verify is 0, no warning."""
    with day_files(rdapctl_home)[-1].open("ab") as fh:
        fh.write(b'{"actor":"root","comm')
    assert run("audit", "verify").exit_code == 10
    repaired = run("audit", "repair")
    assert repaired.exit_code == 0
    assert "torn bytes" in repaired.stdout
    verify = run("audit", "verify", "--strict", "-o", "json")
    assert verify.exit_code == 0
    assert json.loads(verify.stdout)["tenants"][0]["warnings"] == []
    assert list(audit_dir(rdapctl_home).glob("*.quarantine-*"))


def test_a_trail_deleted_whole_is_missing_not_empty(lab: HTTPServer, rdapctl_home: Path) -> None:
    """Every day file and the checkpoint deleted: verify 10 "audit trail missing" (never
    "intact (0 records)"), lookups 10, repair 10; accepting it starts over with a gap."""
    for path in audit_dir(rdapctl_home).iterdir():
        path.unlink()
    verify = run("audit", "verify", "-o", "text")
    assert verify.exit_code == 10
    assert "audit trail missing" in verify.stdout.lower()
    assert "intact" not in verify.stdout
    as_json = json.loads(run("audit", "verify", "-o", "json").stdout)
    assert as_json["ok"] is False
    assert as_json["tenants"][0]["problems"][0]["kind"] == "trail_missing"
    refused = lookup(lab)
    assert refused.exit_code == 10
    assert json.loads(refused.stdout)["error"]["code"] == "audit_trail_missing"
    assert run("audit", "repair").exit_code == 10
    assert run("audit", "repair", "--accept-loss", "--reason", "folder wiped").exit_code == 0
    assert run("audit", "verify").exit_code == 0
    assert run("audit", "verify", "--strict").exit_code == 10
    assert lookup(lab).exit_code == 0


def test_accept_loss_never_accepts_tampering(lab: HTTPServer, rdapctl_home: Path) -> None:
    """An edited record is not a loss: repair --accept-loss refuses (10), changes nothing."""
    day = day_files(rdapctl_home)[0]
    day.write_bytes(day.read_bytes().replace(b'"exit_code":0', b'"exit_code":1', 1))
    before = day.read_bytes()
    refused = run("audit", "repair", "--accept-loss", "--reason", "whatever")
    assert refused.exit_code == 10
    assert "altered" in refused.stderr
    assert day.read_bytes() == before
    assert run("audit", "verify").exit_code == 10


@pytest.mark.parametrize(
    "args",
    [
        ["--reason", "why"],
        ["--accept-loss"],
        ["--accept-loss", "--reason", "  "],
        ["--accept-loss", "--reason", "two\nlines"],
    ],
)
def test_accept_loss_needs_one_line_of_reason(
    lab: HTTPServer, rdapctl_home: Path, args: list[str]
) -> None:
    """--reason without --accept-loss, or --accept-loss without a one-line reason: exit 2."""
    delete_checkpoint(rdapctl_home)
    result = run("audit", "repair", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert not (audit_dir(rdapctl_home) / "checkpoint.json").exists()


# --------------------------------------------------------------------------- property


def _make_log(root: Path) -> AuditLog:
    paths = StatePaths(config_dir=root, cache_dir=root, data_dir=root)
    clock = StepClock()
    log = AuditLog(paths, Tenant(name="acme"), KEY, clock=clock)
    for day in range(3):
        clock.now = DAY0 + day * DAY_S
        for i in range(3):
            log.append("lookup", {"query": f"d{day}-{i}.example"})
    # As a session opens it once the keyring says the trail was started.
    return AuditLog(paths, Tenant(name="acme"), KEY, clock=clock, trail_started=True)


@given(
    drop=st.sets(st.integers(0, 8)),
    drop_files=st.sets(st.integers(0, 2)),
    cut_bytes=st.integers(0, 40),
    drop_checkpoint=st.booleans(),
)
def test_no_deletion_or_truncation_verifies_intact_without_an_accepted_gap(
    drop: set[int], drop_files: set[int], cut_bytes: int, drop_checkpoint: bool
) -> None:
    """Whatever records, day files, trailing bytes or checkpoint are removed from a real
    trail, verify fails; a plain repair never makes it pass; only an accepted loss does,
    and then verify names the accepted gap."""
    with tempfile.TemporaryDirectory() as tmp:
        log = _make_log(Path(tmp))
        folder = log.path()
        names = sorted(p.name for p in folder.glob("*.jsonl"))
        lines = [
            (name, ln) for name in names for ln in (folder / name).read_bytes().splitlines(True)
        ]
        kept: dict[str, list[bytes]] = {name: [] for name in names}
        for i, (name, ln) in enumerate(lines):
            if i not in drop and names.index(name) not in drop_files:
                kept[name].append(ln)
        for index, name in enumerate(names):
            if index in drop_files:
                (folder / name).unlink()
            else:
                (folder / name).write_bytes(b"".join(kept[name]))
        left = [name for index, name in enumerate(names) if index not in drop_files]
        if cut_bytes and left:
            last = folder / left[-1]
            data = last.read_bytes()
            last.write_bytes(data[: max(0, len(data) - cut_bytes)])
        if drop_checkpoint:
            (folder / "checkpoint.json").unlink()
        changed = bool(drop or drop_files or drop_checkpoint) or (cut_bytes > 0 and bool(left))

        assert log.verify().ok is not changed
        with contextlib.suppress(AuditError):
            log.repair()  # a plain repair must never make a cut trail pass
        if changed:
            assert not log.verify().ok
        try:
            log.repair(accept_loss=True, reason="test")
        except AuditError:
            return
        report = log.verify()
        if changed and report.ok:
            assert "accepted_gap" in [w.kind for w in report.warnings]


def test_a_trail_is_marked_started_only_once_its_empty_checkpoint_is_stored(
    tmp_path: Path,
) -> None:
    """The keyring is told "a trail was started" only after a checkpoint of the empty
    chain is on disk: a first write that fails after the mark (a full disk, a crash)
    leaves a trail the next write continues, never "audit trail missing"."""
    from rdapctl.policy.tenant import Tenant
    from rdapctl.store.audit.log import AuditLog
    from rdapctl.store.paths import StatePaths

    paths = StatePaths.from_env({"RDAPCTL_HOME": str(tmp_path / "home")})
    seen: list[bool] = []
    checkpoint = paths.tenant_audit_dir("acme") / "checkpoint.json"

    def mark() -> bool:
        seen.append(checkpoint.exists())
        return False

    log = AuditLog(paths, Tenant(name="acme"), bytes(range(32)), command="t", mark_started=mark)
    log.append("lookup", {"query": "a.example"})
    assert seen == [True]
    # The state a crash right after the mark leaves: the empty checkpoint, no records.
    for day in checkpoint.parent.glob("*.jsonl"):
        day.unlink()
    from rdapctl.store.audit.checkpoint import Checkpoint, checkpoint_bytes
    from rdapctl.store.paths import write_private_file

    write_private_file(checkpoint, checkpoint_bytes(Checkpoint(), "acme", log._keys.record))
    again = AuditLog(paths, Tenant(name="acme"), bytes(range(32)), command="t", trail_started=True)
    again.append("lookup", {"query": "b.example"})
    report = again.verify()
    assert report.ok, report.problems
    assert report.records == 1


def test_a_day_file_that_is_a_link_or_a_folder_is_a_problem_not_a_crash(
    tmp_path: Path,
) -> None:
    """verify reads day files as state files: a symlink (even a dangling one) or a
    folder under a day file's name is reported (exit 10 in the CLI), never followed."""
    from rdapctl.policy.tenant import Tenant
    from rdapctl.store.audit.log import AuditLog
    from rdapctl.store.paths import StatePaths

    paths = StatePaths.from_env({"RDAPCTL_HOME": str(tmp_path / "home")})
    log = AuditLog(paths, Tenant(name="acme"), bytes(range(32)), command="t")
    log.append("lookup", {"query": "a.example"})
    folder = paths.tenant_audit_dir("acme")
    (folder / "2099-01-01.jsonl").symlink_to(tmp_path / "nowhere")
    (folder / "2099-01-02.jsonl").mkdir()
    report = log.verify()
    assert not report.ok
    kinds = {(p.file, p.kind) for p in report.problems}
    assert ("2099-01-01.jsonl", "unreadable_file") in kinds
    assert ("2099-01-02.jsonl", "unreadable_file") in kinds
