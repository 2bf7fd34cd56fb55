"""Audit trail behaviour a user sees: records, fields, policy changes, hashing,
batches, reading, prune, syslog, permissions and write failures."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from rdapctl.core.errors import AuditError, ExitCode
from rdapctl.policy.tenant import AuditSettings, Compliance, Tenant
from rdapctl.store.audit.fields import base_fields, format_ts, hash_query, is_critical
from rdapctl.store.audit.log import AuditLog
from rdapctl.store.paths import StatePaths
from tests.support import DAY0, DAY_S, KEY, StepClock

OTHER_KEY = bytes(range(1, 33))


def make_log(
    tenant: Tenant | None = None,
    *,
    clock: StepClock | None = None,
    key: bytes = KEY,
    **kwargs: object,
) -> AuditLog:
    paths = StatePaths.from_env(os.environ)
    return AuditLog(
        paths,
        tenant or Tenant(name="acme"),
        key,
        command="lookup",
        clock=clock or StepClock(),
        **kwargs,  # type: ignore[arg-type]
    )


def lookup_fields(i: int = 0) -> dict[str, object]:
    return {
        "query": f"example{i}.com",
        "query_type": "domain",
        "server_host": "rdap.example.net",
        "url_path": f"/domain/example{i}.com",
        "http_status": 200,
        "status": "ok",
        "exit_code": 0,
        "source": "network",
        "redacted_fields": ["fn", "email"],
        "redacted_count": 2,
        "residency": "north-america",
        "referrals": 1,
        "duration_ms": 12.5,
    }


def day_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_append_writes_one_json_line_per_record_in_the_utc_day_file() -> None:
    """Each record is one compact JSON line in YYYY-MM-DD.jsonl named by its UTC date."""
    log = make_log()
    log.append("lookup", lookup_fields(1))
    log.append("lookup", lookup_fields(2))
    day = log.day_file(date(2026, 11, 25))
    lines = day_lines(day)
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["event"] == "lookup"
    assert first["query"] == "example1.com"
    assert first["ts"] == "2026-11-25T09:00:00.000Z"
    assert first["prev"] == "0" * 64
    assert list(first)[-1] == "mac"
    assert log.verify().ok


def test_record_carries_the_common_fields_and_gdpr_record() -> None:
    """Every record names tenant, actor, host, version, policy and the Art. 30 fields."""
    tenant = Tenant(
        name="acme",
        purpose="abuse handling",
        legal_basis="legitimate_interest",
        business_criticality="high",
        compliance=Compliance(gdpr=True, recipients=("soc",)),
    )
    rec = make_log(tenant).append("lookup", lookup_fields())
    assert rec is not None
    for name in ("schema", "id", "actor", "host", "pid", "rdapctl", "command", "ts"):
        assert rec[name] not in (None, "")
    assert rec["tenant"] == "acme"
    assert rec["policy"] == tenant.fingerprint()
    assert rec["business_criticality"] == "high"
    assert rec["purpose"] == "abuse handling"
    assert rec["legal_basis"] == "legitimate_interest"
    assert rec["recipients"] == ["soc"]
    assert rec["data_categories"] == "not_specified"
    assert rec["transfers"] == "not_specified"
    assert rec["retention_days"] == 400
    assert "do_not_sell" not in rec


def test_ccpa_tenant_records_do_not_sell() -> None:
    """do_not_sell appears only for ccpa tenants ('not_specified' when silent)."""
    silent = base_fields(Tenant(name="a", compliance=Compliance(ccpa=True)), "lookup")
    told = base_fields(Tenant(name="a", compliance=Compliance(ccpa=True, do_not_sell=True)), "x")
    assert silent["do_not_sell"] == "not_specified"
    assert told["do_not_sell"] is True
    assert "do_not_sell" not in base_fields(Tenant(name="a"), "lookup")


def test_timestamps_are_rfc3339_utc_with_milliseconds() -> None:
    """ts looks like 2026-11-27T15:49:27.123Z."""
    epoch = datetime(2026, 11, 27, 15, 49, 27, 123000, tzinfo=UTC).timestamp()
    assert format_ts(epoch) == "2026-11-27T15:49:27.123Z"
    assert format_ts(epoch + 0.9996) == "2026-11-27T15:49:28.123Z"


def test_disabled_audit_writes_nothing() -> None:
    """With audit.enabled = false append is a no-op and no folder appears."""
    log = make_log(Tenant(name="acme", audit=AuditSettings(enabled=False)))
    assert log.append("lookup", lookup_fields()) is None
    assert log.append_many([("lookup", lookup_fields())]) == []
    assert not log.path().exists()


def test_policy_change_is_recorded_before_the_next_record() -> None:
    """A new policy fingerprint writes policy_changed (old and new) automatically."""
    clock = StepClock()
    old = Tenant(name="acme")
    new = replace(old, audit=AuditSettings(hash_queries=True))
    make_log(old, clock=clock).append("lookup", lookup_fields(1))
    make_log(old, clock=clock).append("lookup", lookup_fields(2))
    log = make_log(new, clock=clock)
    log.append("lookup", lookup_fields(3))
    log.append("lookup", lookup_fields(4))
    events = [r["event"] for r in log.iter_records()]
    assert events == ["lookup", "lookup", "policy_changed", "lookup", "lookup"]
    change = next(log.iter_records(event="policy_changed"))
    assert change["old_policy"] == old.fingerprint()
    assert change["new_policy"] == new.fingerprint()
    assert log.verify().ok


def test_hash_queries_keeps_the_query_out_of_the_log() -> None:
    """hash_queries stores the keyed hash, never the query text."""
    log = make_log(Tenant(name="acme", audit=AuditSettings(hash_queries=True)))
    rec = log.append("lookup", lookup_fields(7))
    assert rec is not None
    assert rec["query"] == hash_query(KEY, "example7.com")
    assert rec["query_hashed"] is True
    raw = log.day_file(date(2026, 11, 25)).read_bytes()
    assert b"example7" not in raw
    assert rec["url_path"].startswith("/domain/")
    assert hash_query(KEY, "example7.com") != hash_query(OTHER_KEY, "example7.com")
    assert len(hash_query(KEY, "x")) == 64


def test_audit_key_never_appears_in_records_or_repr() -> None:
    """A field holding the key is refused, and the log's repr does not show the key."""
    log = make_log()
    with pytest.raises(AuditError) as info:
        log.append("lookup", {"note": KEY.hex()})
    assert KEY.hex() not in str(info.value)
    assert KEY.hex() not in repr(log)
    assert not log.day_file(date(2026, 11, 25)).exists()


def test_wrong_key_size_is_an_audit_error() -> None:
    """A key that is not 32 bytes is refused with a one-line message."""
    with pytest.raises(AuditError, match="32 bytes"):
        make_log(key=b"short")


def test_unknown_event_and_reserved_field_are_refused() -> None:
    """Typos in event names and attempts to overwrite chain fields raise AuditError."""
    log = make_log()
    with pytest.raises(AuditError, match="unknown audit event"):
        log.append("lookpu", {})
    with pytest.raises(AuditError, match="reserved"):
        log.append("lookup", {"prev": "0" * 64})


def test_append_many_writes_every_record_and_stays_verifiable() -> None:
    """A 1,000-record batch in chunks lands completely with one chain."""
    log = make_log()
    written = log.append_many(((("lookup", lookup_fields(i))) for i in range(1000)), chunk_size=64)
    assert len(written) == 1000
    report = log.verify()
    assert report.ok
    assert report.records == 1000


def test_batch_context_manager_flushes_on_exit() -> None:
    """Records buffered in log.batch() are written when the block ends."""
    log = make_log()
    with log.batch(chunk_size=10) as batch:
        for i in range(25):
            batch.append("lookup", lookup_fields(i))
    assert batch.written == 25
    assert sum(1 for _ in log.iter_records()) == 25


def test_records_move_to_the_next_day_file_across_midnight() -> None:
    """The chain continues across day files; verify counts the files."""
    clock = StepClock(start=DAY0 + 15 * 3600 - 1, step=0.4)  # 23:59:59
    log = make_log(clock=clock)
    log.append_many([("lookup", lookup_fields(i)) for i in range(6)])
    report = log.verify()
    assert report.ok
    assert report.files == 2
    first_new_day = json.loads(day_lines(log.day_file(date(2026, 11, 26)))[0])
    assert first_new_day["prev_file"] == "2026-11-25.jsonl"


def test_iter_records_filters_by_day_and_event() -> None:
    """audit show/export can select a date range and an event."""
    clock = StepClock()
    log = make_log(clock=clock)
    log.append("lookup", lookup_fields(1))
    clock.now += DAY_S
    log.append("cache_clear", {"entries": 3})
    clock.now += DAY_S
    log.append("lookup", lookup_fields(2))
    assert [r["event"] for r in log.iter_records()] == ["lookup", "cache_clear", "lookup"]
    assert [r["event"] for r in log.iter_records(since=date(2026, 11, 26))] == [
        "cache_clear",
        "lookup",
    ]
    assert len(list(log.iter_records(until=date(2026, 11, 26), event="lookup"))) == 1


def test_prune_removes_old_day_files_and_verify_stays_green() -> None:
    """Retention prune deletes whole old files, records what it removed, chain still verifies."""
    tenant = Tenant(name="acme", audit=AuditSettings(retention_days=30))
    clock = StepClock(start=DAY0 - 100 * DAY_S)
    log = make_log(tenant, clock=clock)
    for offset in (0, 1, 80, 99):
        clock.now = DAY0 - (100 - offset) * DAY_S
        log.append_many([("lookup", lookup_fields(i)) for i in range(3)])
    result = log.prune(now=DAY0)
    assert result.removed == ["2026-08-17.jsonl", "2026-08-18.jsonl"]
    assert result.records == 6
    prune_rec = next(log.iter_records(event="audit_prune"))
    assert prune_rec["pruned_files"] == result.removed
    assert prune_rec["pruned_records"] == 6
    report = log.verify()
    assert report.ok, report.problems
    assert report.records == 3 + 3 + 1
    # A later prune that removes the file holding the first prune record stays green too.
    clock.now = DAY0 + 40 * DAY_S
    log.append("lookup", lookup_fields())
    later = log.prune(now=DAY0 + 40 * DAY_S)
    assert "2026-11-24.jsonl" in later.removed
    assert log.verify().ok, log.verify().problems


def test_prune_with_nothing_old_changes_nothing() -> None:
    """Prune within retention writes no record."""
    log = make_log()
    log.append("lookup", lookup_fields())
    assert log.prune(now=DAY0).removed == []
    assert [r["event"] for r in log.iter_records()] == ["lookup"]


def test_critical_events_go_to_syslog_without_personal_data() -> None:
    """ssrf_blocked reaches syslog (when enabled) as names and ids only."""
    sent: list[str] = []
    loud = Tenant(name="acme", audit=AuditSettings(syslog=True))
    log = make_log(loud, syslog_send=sent.append)
    log.append("ssrf_blocked", {"query": "secret-person.example", "server_host": "10.0.0.1"})
    log.append("lookup", lookup_fields())
    assert len(sent) == 1
    assert "event=ssrf_blocked" in sent[0]
    assert "tenant=acme" in sent[0]
    assert "secret-person" not in sent[0]
    quiet: list[str] = []
    make_log(Tenant(name="acme"), syslog_send=quiet.append).append("ssrf_blocked", {})
    assert quiet == []
    assert is_critical("residency_violation")
    assert is_critical("cache_integrity_failure")
    assert not is_critical("lookup")


def test_audit_files_are_private() -> None:
    """Day files, checkpoint and lock are 0600; the folders are 0700."""
    log = make_log()
    log.append("lookup", lookup_fields())
    for path in log.path().iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE(log.path().stat().st_mode) == 0o700
    assert stat.S_IMODE(log.path().parent.stat().st_mode) == 0o700


def test_unwritable_day_file_raises_audit_error_and_keeps_earlier_records() -> None:
    """When the day file cannot be written, append raises AuditError (exit 10)."""
    clock = StepClock()
    sent: list[str] = []
    log = make_log(
        Tenant(name="acme", audit=AuditSettings(syslog=True)), clock=clock, syslog_send=sent.append
    )
    log.append_many([("lookup", lookup_fields(i)) for i in range(3)])
    before = log.day_file(date(2026, 11, 25)).read_bytes()
    clock.now += DAY_S
    log.day_file(date(2026, 11, 26)).mkdir()  # the path cannot be opened as a file
    with pytest.raises(AuditError) as info:
        log.append("lookup", lookup_fields(9))
    assert info.value.exit_code == ExitCode.AUDIT
    assert "\n" not in info.value.message
    assert any("audit_write_failure" in m for m in sent)
    assert log.day_file(date(2026, 11, 25)).read_bytes() == before
    log.day_file(date(2026, 11, 26)).rmdir()
    log.append("lookup", lookup_fields(10))
    assert log.verify().ok


def test_lock_timeout_raises_audit_error() -> None:
    """When another process holds the tenant lock too long, append fails cleanly."""
    log = make_log(lock_timeout_s=0.05)
    log.append("lookup", lookup_fields())
    fd = os.open(log.path() / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(AuditError, match="audit lock"):
            log.append("lookup", lookup_fields())
    finally:
        os.close(fd)
    assert log.verify().records == 1


_DISK_FULL_CHILD = textwrap.dedent(
    """
    import os, resource, signal, sys, json
    from rdapctl.store.audit.log import AuditLog
    from rdapctl.core.errors import AuditError
    from rdapctl.store.paths import StatePaths
    from rdapctl.policy.tenant import Tenant
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    log = AuditLog(StatePaths.from_env(os.environ), Tenant(name="acme"), bytes(range(32)),
                   command="lookup", clock=lambda: float(sys.argv[1]))
    size = os.path.getsize(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, size + 100))
    try:
        log.append("lookup", {"query": "example.com", "pad": "x" * 400})
    except AuditError as exc:
        print(json.dumps({"exit": int(exc.exit_code), "message": exc.message}))
    else:
        print(json.dumps({"exit": 0}))
    """
)


def test_disk_full_during_write_raises_and_leaves_no_partial_line() -> None:
    """A write cut short by a file-size limit raises AuditError; the log stays intact."""
    log = make_log()
    log.append_many([("lookup", lookup_fields(i)) for i in range(3)])
    day = log.day_file(date(2026, 11, 25))
    before = day.read_bytes()
    out = subprocess.run(
        [sys.executable, "-c", _DISK_FULL_CHILD, str(DAY0 + 60), str(day)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=dict(os.environ),
    )
    result = json.loads(out.stdout)
    assert result["exit"] == ExitCode.AUDIT
    assert day.read_bytes() == before
    report = log.verify()
    assert report.ok, report.problems
    assert report.records == 3


def test_checkpoint_behind_after_crash_is_recovered_on_next_append() -> None:
    """Records written before a crash skipped the checkpoint are chained onto, not lost."""
    log = make_log()
    log.append("lookup", lookup_fields(1))
    checkpoint = log.path() / "checkpoint.json"
    stale = checkpoint.read_bytes()
    log.append("lookup", lookup_fields(2))
    checkpoint.write_bytes(stale)  # as if the process died before rewriting it
    report = log.verify()
    assert report.ok
    assert [w.kind for w in report.warnings] == ["checkpoint_behind"]
    log.append("lookup", lookup_fields(3))
    report = log.verify()
    assert report.ok, report.problems
    assert report.records == 3
    assert report.warnings == []


def test_missing_checkpoint_blocks_appends_until_the_loss_is_accepted() -> None:
    """Without its checkpoint the log refuses appends (hint: repair); a plain repair
    changes nothing; ``accept_loss`` records the gap and appends work again."""
    log = make_log()
    log.append("lookup", lookup_fields(1))
    (log.path() / "checkpoint.json").unlink()
    with pytest.raises(AuditError) as info:
        log.append("lookup", lookup_fields(2))
    assert info.value.hint is not None
    assert "repair" in info.value.hint
    with pytest.raises(AuditError, match="disagrees with its checkpoint"):
        log.repair()
    assert not (log.path() / "checkpoint.json").exists()
    result = log.repair(accept_loss=True, reason="checkpoint lost")
    assert result.accepted
    log.append("lookup", lookup_fields(2))
    report = log.verify()
    assert report.ok
    assert [w.kind for w in report.warnings] == ["accepted_gap"]
    assert [r["event"] for r in log.iter_records()] == ["lookup", "audit_gap_accepted", "lookup"]


def test_verify_with_another_tenants_key_fails() -> None:
    """Records MAC'd under one key do not verify under another."""
    make_log().append("lookup", lookup_fields())
    report = make_log(key=OTHER_KEY).verify()
    assert not report.ok
    assert report.problems[0].kind == "bad_mac"


def test_a_record_that_cannot_be_encoded_is_an_audit_error() -> None:
    """Values JSON cannot hold, a self-containing value included, are refused with an
    AuditError naming the problem; nothing is written."""
    log = make_log()
    looped: dict[str, Any] = {}
    looped["self"] = looped
    for bad in ({"note": object()}, {"note": float("nan")}, {"note": looped}):
        with pytest.raises(AuditError, match="not serialisable"):
            log.append("lookup", bad)
    assert not log.day_file(date(2026, 11, 25)).exists()
