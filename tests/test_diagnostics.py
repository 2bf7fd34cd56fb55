"""Diagnostics: one line per message on stderr, levels chosen by -v/-q, server text made
safe, and a stop signal raised while a line is written is never swallowed."""

from __future__ import annotations

import io
import sys

import pytest
from typer.testing import CliRunner

from rdapctl.cli import app
from rdapctl.core import diagnostics


def _emit_all() -> None:
    diagnostics.detail("some detail")
    diagnostics.note("wrote a file")
    diagnostics.warning("something odd")
    diagnostics.error("it failed", "try this")


@pytest.mark.parametrize(
    ("verbose", "quiet", "expected"),
    [
        (0, False, ["rdapctl: wrote a file", "rdapctl: warning: something odd"]),
        (
            1,
            False,
            [
                "rdapctl: debug: some detail",
                "rdapctl: wrote a file",
                "rdapctl: warning: something odd",
            ],
        ),
        (0, True, []),
    ],
)
def test_levels_follow_verbose_and_quiet(
    capsys: pytest.CaptureFixture[str], verbose: int, quiet: bool, expected: list[str]
) -> None:
    diagnostics.configure(diagnostics.level_for(verbose=verbose, quiet=quiet))
    _emit_all()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        *expected,
        "rdapctl: error: it failed",
        "rdapctl: hint: try this",
    ]


def test_server_text_is_one_safe_line(capsys: pytest.CaptureFixture[str]) -> None:
    diagnostics.warning("title: \x1b]0;pwned\x07\nsecond line")
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "\x1b" not in err and "\x07" not in err


class _Boom(Exception):
    pass


class _Raising(io.StringIO):
    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc

    def write(self, s: str) -> int:
        raise self.exc


def test_an_exception_while_writing_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal handler that raises (batch's stop before the run) may fire while a line
    is written; logging's own handlers would print "--- Logging error ---" instead."""
    monkeypatch.setattr(sys, "stderr", _Raising(_Boom("stop")))
    with pytest.raises(_Boom):
        diagnostics.warning("x")


def test_an_unwritable_stderr_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Raising(BrokenPipeError()))
    diagnostics.warning("x")  # nothing raised
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    diagnostics.error("y")  # nothing raised


def test_quiet_keeps_the_error_of_a_failed_command() -> None:
    result = CliRunner().invoke(app, ["-q", "lookup", "example.com", "--offline", "-o", "json"])
    assert result.exit_code == 7
    assert result.stderr.startswith("rdapctl: error: offline")
