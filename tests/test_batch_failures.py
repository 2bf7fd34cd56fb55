"""``rdapctl batch`` when things go wrong around it: an audit log that fails in a
single-process run, a reader that goes away, a lookup that fails with an unexpected
error, repeats answered from memory, and stderr shared or closed. (Stop signals:
tests/test_batch.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rdapctl.core.errors import ExitCode
from tests.test_batch import Recorder, batch, rdapctl, servers, write_profiles

__all__ = ["servers"]  # the fixture, imported for pytest


def _lookup_records(tenant: str = "lab") -> list[dict[str, Any]]:
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import make_runtime, resolve_tenant

    runtime = make_runtime("test")
    with TenantSession(runtime, resolve_tenant(runtime, None, tenant)) as session:
        return list(session.audit.iter_records(event="lookup"))


def test_single_process_run_shows_no_line_once_the_audit_log_fails(
    servers: list[Recorder], rdapctl_home: Path, tmp_path: Path
) -> None:
    """One request at a time runs in threads of the parent itself. Lines answered after
    the audit log failed, and lines waiting behind them, must not reach the output
    either: none of them has a record."""
    import shutil

    write_profiles(
        rdapctl_home, servers, "max_concurrent_requests = 1\nrequests_per_second = 1000.0"
    )
    names = [f"one{i}.com" for i in range(100)]
    assert batch(tmp_path, names[:1])[0] == 0  # keys and audit log in place
    servers[0].delay_s = 0.01  # the failure comes mid-run, with lookups still to answer
    audit_dir = rdapctl_home / "audit" / "lab"
    shutil.rmtree(audit_dir)
    audit_dir.write_text("not a folder", encoding="utf-8")
    code, out, err = batch(tmp_path, names)
    assert code == ExitCode.AUDIT, err
    assert out == []


def test_repeats_answered_from_memory_name_the_line_first_answered(
    servers: list[Recorder], rdapctl_home: Path, tmp_path: Path
) -> None:
    """A repeat dispatched after its first line was answered (more lines between them
    than the parent keeps in flight) is recorded as a duplicate of that line."""
    write_profiles(
        rdapctl_home, servers, "max_concurrent_requests = 4\nrequests_per_second = 100000.0"
    )
    names = ["first.com", *(f"gap{i}.com" for i in range(2100)), "first.com"]
    code, out, err = batch(tmp_path, names, "--no-cache")
    assert code == 0, err
    assert [e["line"] for e in out] == list(range(1, 2103))
    assert servers[0].paths().count("/domain/first.com") == 1
    repeats = [r for r in _lookup_records() if r["source"] == "duplicate"]
    assert [(r["query"], r["duplicate_of_line"]) for r in repeats] == [("first.com", 1)]


def test_a_reader_that_goes_away_ends_the_run_at_once(
    servers: list[Recorder], rdapctl_home: Path, tmp_path: Path
) -> None:
    """`rdapctl batch big.txt | head -1`: once the pipe closes, the lines not yet
    started are dropped instead of looked up, and the run ends without waiting out
    its workers."""
    write_profiles(
        rdapctl_home, servers, "max_concurrent_requests = 4\nrequests_per_second = 100000.0"
    )
    servers[0].delay_s = 0.005
    infile = tmp_path / "in.txt"
    infile.write_text("".join(f"head{i}.com\n" for i in range(3000)), encoding="utf-8")
    proc = rdapctl("batch", str(infile), "--no-progress")
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith(b'{"line":1,')
    proc.stdout.close()  # what head does after its line
    try:
        proc.wait(timeout=20)  # the workers' own deadline is 30 s
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("the run went on after its reader had gone") from None
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.returncode == 0, err  # a reader that stops early is not an error
    assert b"error" not in err
    assert len(servers[0].paths()) < 2000


def test_a_reader_that_goes_away_ends_lookups_waiting_out_a_retry_after(
    servers: list[Recorder], rdapctl_home: Path, tmp_path: Path
) -> None:
    """A lookup waiting out a host's 10 s Retry-After when the reader goes away ends
    with the run, instead of the run waiting for it (one request at a time: the
    lookups run in threads of the parent)."""

    write_profiles(
        rdapctl_home,
        servers,
        "max_concurrent_requests = 1\nrequests_per_second = 100000.0",
        split=True,
    )
    servers[0].delay_s = 0.005
    servers[1].status_for["slow.net"] = (503, {"Retry-After": "10"})
    infile = tmp_path / "in.txt"
    lines = ["first.com", "slow.net", *(f"n{i}.com" for i in range(3000))]
    infile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = rdapctl("batch", str(infile), "--no-progress", "--unordered", "--no-cache")
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith(b'{"line":')
    assert servers[1].wait_for("/domain/slow.net")
    assert servers[1].paths() == ["/domain/slow.net"]  # answered 503: now waiting
    proc.stdout.close()
    try:
        proc.wait(timeout=6)  # well before the server's 10 s are up
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("the run waited for a lookup nobody would read") from None
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert servers[1].paths() == ["/domain/slow.net"]  # not asked again


@pytest.mark.parametrize("mode", ["cold", "warm"])
def test_an_unexpected_error_in_a_lookup_ends_the_run_instead_of_hanging_it(
    servers: list[Recorder],
    rdapctl_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    """A bug in the pipeline is not a hang: the run stops with an internal error that
    names it. Cold runs answer in a worker's lookup threads, warm ones in the single
    thread that also writes the chunks."""
    import rdapctl.batch.jobs as batch_module

    write_profiles(
        rdapctl_home, servers, "max_concurrent_requests = 4\nrequests_per_second = 100000.0"
    )
    names = [f"bug{i}.com" for i in range(400)]
    if mode == "warm":
        assert batch(tmp_path, names)[0] == 0
    answer = batch_module.answer

    def answer_with_a_bug(session: Any, options: Any, job: Any, *rest: Any) -> Any:
        if job[1] == "bug123.com":
            raise ValueError("a bug in the pipeline")
        return answer(session, options, job, *rest)

    # Patched before the fork: the worker processes run it too.
    monkeypatch.setattr(batch_module, "answer", answer_with_a_bug)
    code, out, err = batch(tmp_path, names)
    assert code == ExitCode.INTERNAL, err
    assert "a bug in the pipeline" in err
    assert 124 not in [e["line"] for e in out]  # bug123.com: input line 124


def test_warnings_from_the_lookup_workers_are_whole_lines(
    servers: list[Recorder], rdapctl_home: Path, tmp_path: Path
) -> None:
    """Worker processes share stderr: each warning is one write, so two workers' lines
    never run into each other."""
    write_profiles(
        rdapctl_home, servers, "max_concurrent_requests = 4\nrequests_per_second = 100000.0"
    )
    infile = tmp_path / "in.txt"
    lines = [f"url:http://127.0.0.1:1/domain/w{i}.com" for i in range(300)]
    infile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = rdapctl("batch", str(infile), "--no-progress", "--no-cache")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.DENIED, err
    assert len(out.splitlines()) == 300
    warnings = err.decode().splitlines()[:-1]  # the summary last
    assert len(warnings) == 300
    assert warnings[0].startswith("rdapctl: warning: ssrf_blocked: port 1 of 127.0.0.1 is not")
    assert all(w == warnings[0] for w in warnings)


def test_a_closed_stderr_leaves_the_output_clean(
    servers: list[Recorder], rdapctl_home: Path, tmp_path: Path
) -> None:
    """Run with stderr closed (`2>&-`), warnings and the summary go nowhere: not into
    the JSON on stdout, and not into a crash."""
    write_profiles(
        rdapctl_home, servers, "max_concurrent_requests = 4\nrequests_per_second = 100000.0"
    )
    infile = tmp_path / "in.txt"
    lines = [f"url:http://127.0.0.1:1/domain/c{i}.com" for i in range(20)]
    infile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = 'exec "$0" -m rdapctl batch "$1" --no-progress --no-cache 2>&-'
    proc = subprocess.Popen(
        ["sh", "-c", command, sys.executable, str(infile)], stdout=subprocess.PIPE
    )
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.DENIED
    envelopes = [json.loads(x) for x in out.splitlines()]
    assert [e["line"] for e in envelopes] == list(range(1, 21))
