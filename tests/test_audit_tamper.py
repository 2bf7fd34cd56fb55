"""Tamper evidence, crashes and concurrency: verify names the first bad place as
file:line, repair quarantines torn writes, parallel writers keep one chain."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import pytest

from rdapctl.policy.tenant import Tenant
from rdapctl.store.audit.log import AuditLog
from rdapctl.store.paths import StatePaths
from tests.support import DAY0, DAY_S, KEY, StepClock

D1, D2, D3 = "2026-11-25.jsonl", "2026-11-26.jsonl", "2026-11-27.jsonl"


def make_log(clock: Callable[[], float] | None = None) -> AuditLog:
    return AuditLog(
        StatePaths.from_env(os.environ),
        Tenant(name="acme"),
        KEY,
        command="lookup",
        clock=clock or StepClock(),
    )


def three_day_log() -> AuditLog:
    """Five lookups on each of three consecutive days."""
    clock = StepClock()
    log = make_log(clock)
    for day in range(3):
        clock.now = DAY0 + day * DAY_S
        for i in range(5):
            log.append("lookup", {"query": f"d{day}-{i}.example", "http_status": 200})
    return log


def read(log: AuditLog, name: str) -> list[bytes]:
    return (log.path() / name).read_bytes().splitlines(keepends=True)


def write(log: AuditLog, name: str, lines: list[bytes]) -> None:
    (log.path() / name).write_bytes(b"".join(lines))


def edit_field(log: AuditLog) -> None:
    lines = read(log, D2)
    lines[2] = lines[2].replace(b'"http_status":200', b'"http_status":201')
    write(log, D2, lines)


def delete_line(log: AuditLog) -> None:
    lines = read(log, D2)
    del lines[2]
    write(log, D2, lines)


def insert_forged_line(log: AuditLog) -> None:
    lines = read(log, D2)
    forged = json.loads(lines[1])
    forged["query"] = "forged.example"
    forged["mac"] = "0" * 64
    lines.insert(2, json.dumps(forged, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    write(log, D2, lines)


def insert_replayed_line(log: AuditLog) -> None:
    lines = read(log, D2)
    lines.insert(2, lines[1])
    write(log, D2, lines)


def swap_lines(log: AuditLog) -> None:
    lines = read(log, D2)
    lines[2], lines[3] = lines[3], lines[2]
    write(log, D2, lines)


def garbage_line(log: AuditLog) -> None:
    lines = read(log, D2)
    lines[2] = b"not json at all\n"
    write(log, D2, lines)


def remove_newest_lines(log: AuditLog) -> None:
    write(log, D3, read(log, D3)[:3])


def remove_first_file(log: AuditLog) -> None:
    (log.path() / D1).unlink()


def remove_middle_file(log: AuditLog) -> None:
    (log.path() / D2).unlink()


def remove_last_file(log: AuditLog) -> None:
    (log.path() / D3).unlink()


def tear_last_line(log: AuditLog) -> None:
    lines = read(log, D3)
    lines[-1] = lines[-1][:57]
    write(log, D3, lines)


def edit_checkpoint(log: AuditLog) -> None:
    path = log.path() / "checkpoint.json"
    data = json.loads(path.read_bytes())
    data["count"] = 99
    path.write_text(json.dumps(data))


TAMPER_CASES = [
    pytest.param(edit_field, D2, 3, "bad_mac", id="edited-field"),
    pytest.param(delete_line, D2, 3, "broken_chain", id="deleted-line"),
    pytest.param(insert_forged_line, D2, 3, "bad_mac", id="forged-line"),
    pytest.param(insert_replayed_line, D2, 3, "broken_chain", id="replayed-line"),
    pytest.param(swap_lines, D2, 3, "broken_chain", id="swapped-lines"),
    pytest.param(garbage_line, D2, 3, "invalid_json", id="garbage-line"),
    pytest.param(remove_newest_lines, D3, 4, "checkpoint_mismatch", id="newest-lines-removed"),
    pytest.param(remove_first_file, D1, 0, "missing_file", id="first-file-removed"),
    pytest.param(remove_middle_file, D2, 0, "missing_file", id="middle-file-removed"),
    pytest.param(remove_last_file, D3, 0, "missing_file", id="last-file-removed"),
    pytest.param(tear_last_line, D3, 5, "torn_tail", id="torn-last-line"),
    pytest.param(edit_checkpoint, "checkpoint.json", 0, "checkpoint_mismatch", id="checkpoint"),
]


@pytest.mark.parametrize(("tamper", "file", "line", "kind"), TAMPER_CASES)
def test_verify_reports_the_first_tampered_place(
    tamper: Callable[[AuditLog], None], file: str, line: int, kind: str
) -> None:
    """Each kind of tampering is detected and located as file:line with its kind."""
    log = three_day_log()
    assert log.verify().ok
    tamper(log)
    report = log.verify()
    assert not report.ok
    first = report.problems[0]
    assert (first.file, first.line, first.kind) == (file, line, kind), report.problems
    assert first.location == f"{file}:{line}"
    assert "\n" not in first.message


def test_time_order_violation_is_detected() -> None:
    """A record stamped earlier than the one before it is reported as time_order."""
    clock = StepClock()
    log = make_log(clock)
    log.append("lookup", {"query": "a.example"})
    log.append("lookup", {"query": "b.example"})
    clock.now -= 3600  # the system clock stepped back an hour
    log.append("lookup", {"query": "c.example"})
    report = log.verify()
    assert [(p.file, p.line, p.kind) for p in report.problems] == [(D1, 3, "time_order")]


def test_torn_tail_is_repaired_into_quarantine() -> None:
    """repair moves torn bytes to a 0600 quarantine file, truncates, records it, verify green."""
    log = three_day_log()
    day = log.path() / D3
    torn = b'{"actor":"root","business_criticality":"medium","comm'
    with day.open("ab") as fh:
        fh.write(torn)
    before = day.read_bytes()
    assert [p.kind for p in log.verify().problems] == ["torn_tail"]
    result = log.repair()
    assert len(result.quarantined) == 1
    quarantine = result.quarantined[0]
    assert quarantine.name.startswith(f"{D3}.quarantine-")
    assert quarantine.read_bytes() == torn + b"\n"
    assert stat.S_IMODE(quarantine.stat().st_mode) == 0o600
    assert day.read_bytes().startswith(before[: -len(torn)])
    report = log.verify()
    assert report.ok, report.problems
    assert [r["event"] for r in log.iter_records()][-1] == "audit_repair"
    assert log.repair().changed is False


def test_append_after_torn_tail_starts_a_fresh_line() -> None:
    """A new record never glues onto torn bytes; verify still points at the torn place."""
    log = make_log()
    log.append("lookup", {"query": "a.example"})
    day = log.path() / D1
    with day.open("ab") as fh:
        fh.write(b'{"actor":"ro')
    log.append("lookup", {"query": "b.example"})
    lines = day.read_bytes().splitlines()
    assert lines[1] == b'{"actor":"ro'
    assert json.loads(lines[2])["query"] == "b.example"
    report = log.verify()
    assert [(p.file, p.line, p.kind) for p in report.problems] == [(D1, 2, "torn_tail")]
    log.repair()
    assert log.verify().ok
    assert [r["query"] for r in log.iter_records(event="lookup")] == ["a.example", "b.example"]


_WRITER = textwrap.dedent(
    """
    import os, sys
    from rdapctl.store.audit.log import AuditLog
    from rdapctl.store.paths import StatePaths
    from rdapctl.policy.tenant import Tenant
    log = AuditLog(StatePaths.from_env(os.environ), Tenant(name="acme"), bytes(range(32)),
                   command="lookup")
    for i in range(int(sys.argv[1])):
        log.append("lookup", {"query": f"p{os.getpid()}-{i}.example", "http_status": 200})
    """
)


@pytest.mark.slow
def test_eight_processes_append_concurrently_into_one_chain() -> None:
    """8 processes x 200 appends give exactly 1,600 lookups and a verifiable chain."""
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, "200"], env=dict(os.environ))
        for _ in range(8)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    log = make_log()
    report = log.verify()
    assert report.ok, report.problems[:3]
    lookups = list(log.iter_records(event="lookup"))
    assert len(lookups) == 1600
    assert len({r["query"] for r in lookups}) == 1600
    assert len({r["pid"] for r in lookups}) == 8


@pytest.mark.slow
def test_sigkill_while_appending_leaves_at_most_a_torn_tail() -> None:
    """A writer killed mid-loop leaves every complete record intact; repair makes it green."""
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, "1000000"], env=dict(os.environ))
    try:
        log = make_log(time.time)  # the writer stamps real time; so must repair
        deadline = time.monotonic() + 60
        while sum(1 for _ in log.iter_records()) < 50:
            assert time.monotonic() < deadline, "writer never produced records"
            assert proc.poll() is None
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    report = log.verify()
    assert {p.kind for p in report.problems} <= {"torn_tail"}
    assert report.records >= 50
    log.repair()
    report = log.verify()
    assert report.ok, report.problems
    assert report.warnings == []
    # And the trail keeps growing after the crash.
    log.append("lookup", {"query": "after.example"})
    assert log.verify().ok


def test_pruned_files_do_not_count_as_missing_but_hand_deleted_ones_do() -> None:
    """After prune, verify is green; deleting the next-oldest file by hand is still caught."""
    log = three_day_log()
    result = log.prune(now=DAY0 + 2 * DAY_S + 400 * DAY_S - DAY_S)  # cutoff: the second day
    assert result.removed == [D1]
    assert log.verify().ok
    (log.path() / D2).unlink()
    problems = log.verify().problems
    assert (problems[0].file, problems[0].kind) == (D2, "missing_file")


def test_verify_of_an_empty_trail_is_ok() -> None:
    """A tenant that never wrote a record verifies clean."""
    report = make_log().verify()
    assert report.ok
    assert (report.records, report.files) == (0, 0)


def test_quarantine_files_are_not_read_as_day_files() -> None:
    """Quarantined bytes never appear in audit show/export."""
    log = make_log()
    log.append("lookup", {"query": "a.example"})
    with (log.path() / D1).open("ab") as fh:
        fh.write(b'{"broken')
    log.repair()
    assert [r["event"] for r in log.iter_records()] == ["lookup", "audit_repair"]
    assert len(list(log.path().glob("*.quarantine-*"))) == 1
