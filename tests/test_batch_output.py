"""``rdapctl batch`` input lines it cannot use, its ``--output`` file, and ``--resume``:
what must never be destroyed, and what is refused before anything changes."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from rdapctl.core.errors import ExitCode
from tests.test_batch import Recorder, batch, lab, rdapctl, runner, servers, write_profiles

__all__ = ["lab", "servers"]  # the fixtures, imported for pytest


# A result line as batch writes it (line 1 of an input holding a.com, tenant lab).
_RESULT = (
    b'{"line":1,"schema":1,"query":"a.com","type":"domain","tenant":"lab","status":"ok",'
    b'"source":"network","age_s":null,"server":null}\n'
)


def _run(infile: Path, *args: str) -> tuple[int, str, str]:
    from rdapctl.cli import app

    result = runner.invoke(app, ["batch", str(infile), "--no-progress", *args])
    return result.exit_code, result.stdout, result.stderr


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_the_input_file_is_never_the_output(lab: list[Recorder], tmp_path: Path) -> None:
    """--output naming the input (itself, or through a link) is refused before the
    input is touched or anything looked up."""
    infile = tmp_path / "in.txt"
    infile.write_text("a.com\nb.com\n", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(infile)
    for target in (infile, link):
        for extra in ((), ("--resume",)):
            code, _out, err = _run(infile, "--output", str(target), *extra)
            assert code == ExitCode.USAGE, err
            assert "is the input file" in err
    assert infile.read_text(encoding="utf-8") == "a.com\nb.com\n"
    assert lab[0].paths() == []


@pytest.mark.parametrize(
    "content",
    [
        b'{"important": true}\n',
        _RESULT + b'{"note":"keep me"}\n',
        b'{"line": 1, "col": 4, "msg": "keep me"}\n{"line": 3, "col": 1, "msg": "x"}\n',
        b'{"line": 1, "status": {"code": 200}, "schema": 1, "tenant": "lab", "query": 1}\n',
        b"[" * 100_000 + b"\n",
        b"\x89PNG\r\x1a\x00 binary without a newline",
        b"",
    ],
    ids=[
        "json object",
        "a foreign last line",
        "a log with line numbers",
        "an object status",
        "deep nesting",
        "binary",
        "empty",
    ],
)
def test_resume_never_changes_a_file_that_is_not_batch_output(
    lab: list[Recorder], tmp_path: Path, content: bytes
) -> None:
    infile = tmp_path / "in.txt"
    infile.write_text("a.com\nb.com\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_bytes(content)
    code, _o, err = _run(infile, "--output", str(out), "--resume", "--no-cache")
    if not content:  # an empty file is a run that wrote nothing yet
        assert code == 0, err
        assert [e["line"] for e in _lines(out)] == [1, 2]
        return
    assert code == ExitCode.USAGE, err
    assert "not a batch result" in err
    assert out.read_bytes() == content
    assert lab[0].paths() == []


def test_resume_refuses_the_results_of_another_input_or_tenant(
    servers: list[Recorder], rdapctl_home: Path, tmp_path: Path
) -> None:
    """Results are matched to this input's lines and this tenant: another input's
    output (or an edited input) would otherwise skip lines that were never asked."""
    write_profiles(rdapctl_home, servers, "requests_per_second = 1000.0")
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("a.com\nb.com\n", encoding="utf-8")
    second.write_text("x.com\ny.com\nz.com\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert _run(first, "--output", str(out), "--no-cache")[0] == 0
    before = out.read_bytes()
    code, _o, err = _run(second, "--output", str(out), "--resume", "--no-cache")
    assert code == ExitCode.USAGE, err
    assert "another input" in err and "'a.com'" in err
    # Same input, another tenant.
    profiles = rdapctl_home / "profiles.toml"
    text = profiles.read_text(encoding="utf-8")
    profiles.write_text(
        text
        + text.split("[tenants.lab]", 1)[1]
        .join(["\n[tenants.other]", ""])
        .replace("tenants.lab.", "tenants.other."),
        encoding="utf-8",
    )
    code, _o, err = _run(first, "--output", str(out), "--resume", "-t", "other")
    assert code == ExitCode.USAGE, err
    assert "for tenant 'lab', not 'other'" in err
    assert out.read_bytes() == before
    assert len(servers[0].paths()) == 2


def test_resume_refuses_another_inputs_results_even_when_all_failed(
    lab: list[Recorder], tmp_path: Path
) -> None:
    """Failed results are taken out to be asked again, but only this input's: a file
    of another input's failures is refused, not emptied."""
    infile = tmp_path / "in.txt"
    infile.write_text("a.com\nb.com\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    content = _RESULT.replace(b'"a.com"', b'"other.com"').replace(b'"ok"', b'"error"')
    out.write_bytes(content)
    code, _o, err = _run(infile, "--output", str(out), "--resume")
    assert code == ExitCode.USAGE, err
    assert "another input" in err
    assert out.read_bytes() == content
    assert lab[0].paths() == []


def test_resume_through_a_link_rewrites_the_file_it_points_to(
    lab: list[Recorder], tmp_path: Path
) -> None:
    """Taking failed lines out renames a new file over the real one, not over the link."""
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = real_dir / "out.jsonl"
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    infile = tmp_path / "in.txt"
    infile.write_text("a.com\nflaky.com\n", encoding="utf-8")
    lab[0].status_for["flaky.com"] = (400, {})
    assert _run(infile, "--output", str(link), "--no-cache")[0] == ExitCode.UPSTREAM
    code, _o, err = _run(infile, "--output", str(link), "--resume", "--no-cache")
    assert code == 0, err
    assert link.is_symlink()
    assert {e["line"]: e["status"] for e in _lines(real)} == {1: "ok", 2: "ok"}


def test_resume_refuses_line_numbers_past_the_input_without_holding_them(
    lab: list[Recorder], tmp_path: Path
) -> None:
    """A result for line 99,999,999,999 of a 2-line input is refused at once (a set of
    line numbers that size would take 12 GB)."""
    infile = tmp_path / "in.txt"
    infile.write_text("a.com\nb.com\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    content = _RESULT.replace(b'"line":1,', b'"line":99999999999,')
    out.write_bytes(content)
    code, _o, err = _run(infile, "--output", str(out), "--resume")
    assert code == ExitCode.USAGE, err
    assert "input has 2 lines" in err
    assert out.read_bytes() == content


def test_resume_asks_again_the_lines_that_failed(lab: list[Recorder], tmp_path: Path) -> None:
    """Failed lines are not "answered": --resume takes their results out and asks
    again (after the cause is fixed), and the exit code is that of the new answers.
    The file keeps one result per line and its permissions."""
    infile = tmp_path / "in.txt"
    infile.write_text("a.com\nflaky.com\nb.com\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    lab[0].status_for["flaky.com"] = (400, {})  # once; not retried
    code, _o, err = _run(infile, "--output", str(out), "--no-cache")
    assert code == ExitCode.UPSTREAM, err
    assert {e["line"]: e["status"] for e in _lines(out)}[2] == "error"
    os.chmod(out, 0o640)
    code, _o, err = _run(infile, "--output", str(out), "--resume", "--no-cache")
    assert code == 0, err
    assert "1 of 3 answered" in err and "2 skipped" in err
    results = _lines(out)
    assert sorted(e["line"] for e in results) == [1, 2, 3]
    assert {e["line"]: e["status"] for e in results} == {1: "ok", 2: "ok", 3: "ok"}
    assert lab[0].paths().count("/domain/flaky.com") == 2
    assert out.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".resume")] == []


def test_a_second_run_into_the_same_output_is_refused(lab: list[Recorder], tmp_path: Path) -> None:
    """Two runs appending to one file would each answer every line: the file is
    locked for the run, and a second run says so and changes nothing."""
    infile = tmp_path / "in.txt"
    infile.write_text("a.com\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"")
    with out.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as a run in progress holds it
        for extra in ((), ("--resume",)):
            code, _o, err = _run(infile, "--output", str(out), *extra)
            assert code == ExitCode.USAGE, err
            assert "another rdapctl batch is writing to" in err
    assert lab[0].paths() == []


def test_output_that_cannot_be_written_is_a_clear_error(
    lab: list[Recorder], tmp_path: Path
) -> None:
    """A missing folder or a folder is a usage error before any lookup; a full disk
    mid-run names the file and says how to go on, not "internal error"."""
    infile = tmp_path / "in.txt"
    infile.write_text("a.com\n", encoding="utf-8")
    code, _o, err = _run(infile, "--output", str(tmp_path / "no" / "out.jsonl"))
    assert code == ExitCode.USAGE and "No such file or directory" in err
    code, _o, err = _run(infile, "--output", str(tmp_path))
    assert code == ExitCode.USAGE and "is a folder" in err
    assert lab[0].paths() == []
    code, _o, err = _run(infile, "--output", "/dev/full", "--no-cache")
    assert code == ExitCode.INTERNAL
    assert "cannot write the results to /dev/full: No space left on device" in err
    assert "internal error" not in err and "--resume" in err


def test_dash_as_output_is_standard_output(lab: list[Recorder], tmp_path: Path) -> None:
    code, out, err = batch(tmp_path, ["a.com"], "--output", "-")
    assert code == 0, err
    assert [e["query"] for e in out] == ["a.com"]
    assert not (Path.cwd() / "-").exists()


def test_lines_that_are_not_utf8_or_too_long_get_their_own_usage_error(
    lab: list[Recorder], tmp_path: Path
) -> None:
    """One bad line must not end a long run: it is answered with a usage error (and
    not echoed whole), the other lines are looked up, and a comment needs no decoding."""
    infile = tmp_path / "in.txt"
    long_line = b"domain:example.com" + b" " * 3000 + b"x" * 200_000
    infile.write_bytes(
        b"# list by Jos\xe9\na.com\ncaf\xe9.com\n" + long_line + b"\n\xef\xbb\xbf#x\xff\nb.com\n"
    )
    code, stdout, err = _run(infile, "--no-cache")
    assert code == ExitCode.USAGE, err
    results = [json.loads(x) for x in stdout.splitlines()]
    assert [(e["line"], (e["error"] or {}).get("code")) for e in results] == [
        (2, None),
        (3, "usage_error"),
        (4, "usage_error"),
        (6, None),
    ]
    assert "not UTF-8" in results[1]["error"]["message"]
    assert "longer than 2,048 characters" in results[2]["error"]["message"]
    assert len(stdout) < 20_000
    assert sorted(lab[0].paths()) == ["/domain/a.com", "/domain/b.com"]
    assert "4 of 4 answered" in err


def test_sigterm_before_the_run_starts_exits_130(rdapctl_home: Path, tmp_path: Path) -> None:
    """SIGTERM while standard input is still being read stops like Ctrl-C."""
    proc = rdapctl("-v", "batch", "-", "--no-progress", stdin=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(b"a.com\n")
    proc.stdin.flush()
    # -v says when it starts reading standard input (the stop handler is in place by then).
    seen = proc.stderr.readline()
    assert b"reading the queries from standard input" in seen, seen
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert b"SIGTERM before the first lookup" in err


def test_resume_reads_results_of_megabytes_and_keeps_them_whole(
    lab: list[Recorder], tmp_path: Path
) -> None:
    """Results larger than the piece a line is read in (1 MiB) are answered lines like
    any other: kept byte for byte, or taken out whole when they had failed."""
    infile = tmp_path / "in.txt"
    infile.write_text("a.com\nb.com\nc.com\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert _run(infile, "--output", str(out), "--no-cache")[0] == 0
    first, second, third = out.read_bytes().splitlines(keepends=True)
    pad = b',"pad":"' + b"x" * (3 << 20) + b'"}\n'
    big_answered = first[:-2] + pad
    big_failed = second[:-2].replace(b'"status":"ok"', b'"status":"error"', 1) + pad
    out.write_bytes(big_answered + big_failed + third)
    before = len(lab[0].paths())
    code, _o, err = _run(infile, "--output", str(out), "--resume", "--no-cache")
    assert code == 0, err
    assert lab[0].paths()[before:] == ["/domain/b.com"]
    kept = out.read_bytes().splitlines(keepends=True)
    assert kept[:2] == [big_answered, third]
    assert [json.loads(x)["line"] for x in kept] == [1, 3, 2]


def test_resume_refuses_what_cannot_be_read_back_without_reading_it_all(
    lab: list[Recorder], tmp_path: Path
) -> None:
    """`--output /dev/zero --resume` read until memory ran out, and a pipe waited for
    ever: neither is a file to resume into. A large file without a newline is refused
    by its first piece."""
    infile = tmp_path / "in.txt"
    infile.write_text("a.com\n", encoding="utf-8")
    code, _o, err = _run(infile, "--output", "/dev/zero", "--resume", "--no-cache")
    assert code == ExitCode.USAGE, err
    assert "not a regular file" in err
    proc = rdapctl("batch", str(infile), "--output", "/dev/stdout", "--resume", "--no-cache")
    _out, stderr = proc.communicate(timeout=30)  # stdout: a pipe
    assert proc.returncode == ExitCode.USAGE, stderr
    assert b"not a regular file" in stderr
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x00" * (5 << 20))
    code, _o, err = _run(infile, "--output", str(big), "--resume", "--no-cache")
    assert code == ExitCode.USAGE, err
    assert "not a batch result" in err
    assert big.stat().st_size == 5 << 20
    assert lab[0].paths() == []


def test_resume_refuses_a_damaged_last_result_line(lab: list[Recorder], tmp_path: Path) -> None:
    """The first and last result lines are decoded: damage there is named as such, not
    taken for the results of another tenant."""
    infile = tmp_path / "in.txt"
    infile.write_text("a.com\nb.com\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert _run(infile, "--output", str(out), "--no-cache")[0] == 0
    first, second = out.read_bytes().splitlines(keepends=True)
    damaged = first + second.replace(b'"status":"ok",', b'"status":"ok",XX', 1)
    out.write_bytes(damaged)
    code, _o, err = _run(infile, "--output", str(out), "--resume", "--no-cache")
    assert code == ExitCode.USAGE, err
    assert "line 2 is not a batch result" in err
    assert out.read_bytes() == damaged
