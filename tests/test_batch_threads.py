"""Lookup threads in batch workers: one while the cache answers, all of them as soon
as lookups go to the network, so a cold run with the cache on keeps full concurrency."""

from __future__ import annotations

from pathlib import Path

from tests.test_batch import Recorder, batch, servers, write_profiles

__all__ = ["servers"]  # the fixture, imported for pytest


def test_cold_run_with_cache_on_reaches_full_concurrency(
    servers: list[Recorder], rdapctl_home: Path, tmp_path: Path
) -> None:
    """With the cache on but empty, a slow server still sees max_concurrent_requests."""
    write_profiles(
        rdapctl_home, servers, "max_concurrent_requests = 4\nrequests_per_second = 1000.0"
    )
    servers[0].delay_s = 0.05
    code, out, _ = batch(tmp_path, [f"w{i}.com" for i in range(32)])
    assert code == 0
    assert [e["source"] for e in out] == ["network"] * 32
    assert servers[0].max_active == 4


def test_warm_run_answers_every_line_from_the_cache_in_order(
    servers: list[Recorder], rdapctl_home: Path, tmp_path: Path
) -> None:
    """A second run over the same names is all cache hits, in input order, no requests."""
    write_profiles(
        rdapctl_home, servers, "max_concurrent_requests = 4\nrequests_per_second = 1000.0"
    )
    names = [f"h{i}.com" for i in range(40)]
    assert batch(tmp_path, names)[0] == 0
    fetched = len(servers[0].paths())
    code, out, _ = batch(tmp_path, names)
    assert code == 0
    assert [e["line"] for e in out] == list(range(1, 41))
    assert [e["source"] for e in out] == ["cache"] * 40
    assert len(servers[0].paths()) == fetched
