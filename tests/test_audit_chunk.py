"""Audit chunks are written whole: a refused chunk leaves nothing behind, a good
one lands as whole lines that verify, and later chunks continue the same chain."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from rdapctl.core.errors import AuditError
from tests.test_audit import KEY, StepClock, day_lines, lookup_fields, make_log


def test_chunk_refused_midway_writes_none_of_its_records() -> None:
    """A record refused in the middle of a chunk leaves the earlier ones unwritten too."""
    log = make_log()
    log.append("lookup", lookup_fields(0))
    bad = [("lookup", lookup_fields(1)), ("lookup", {"note": KEY.hex()})]
    with pytest.raises(AuditError, match="key material"):
        log.append_many(bad, chunk_size=10)
    lines = day_lines(log.day_file(date(2026, 11, 25)))
    assert len(lines) == 1
    assert log.verify().ok


def test_chunks_land_as_whole_lines_and_keep_one_chain() -> None:
    """Several chunks, crossing midnight, give one whole JSON line per record and verify."""
    before_midnight = datetime(2026, 11, 25, 23, 59, tzinfo=UTC).timestamp()
    log = make_log(clock=StepClock(start=before_midnight, step=1))
    written = log.append_many((("lookup", lookup_fields(i)) for i in range(150)), chunk_size=40)
    assert len(written) == 150
    records = list(log.iter_records())
    assert [r["id"] for r in records] == [r["id"] for r in written]
    for name in sorted(p.name for p in log.path().glob("*.jsonl")):
        for raw in day_lines(log.path() / name):
            assert raw.endswith(b"\n")
            assert json.loads(raw)["event"] == "lookup"
    assert len(list(log.path().glob("*.jsonl"))) == 2
    report = log.verify()
    assert report.ok
    assert report.records == 150
