"""Mapping exceptions to exit codes: one line by default, a traceback only with --debug."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rdapctl.cli.failure import handle_exception
from rdapctl.core.errors import ConfigError, ExitCode


def test_rdapctl_errors_keep_their_code_and_hint(capsys: pytest.CaptureFixture[str]) -> None:
    """A known error prints its message and hint and returns its exit code."""
    code = handle_exception(ConfigError("bad file", hint="fix it"), debug=False)
    err = capsys.readouterr().err
    assert code == ExitCode.CONFIG
    assert "rdapctl: error: bad file" in err
    assert "rdapctl: hint: fix it" in err
    assert "Traceback" not in err


def test_internal_errors_are_exit_1_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """An unexpected exception is exit 1 with a one-line message; --debug adds the traceback."""
    try:
        raise ValueError("boom\nsecond line")
    except ValueError as exc:
        assert handle_exception(exc, debug=False) == ExitCode.INTERNAL
        err = capsys.readouterr().err
        assert "internal error: ValueError: boom" in err
        assert "second line" not in err
        assert "Traceback" not in err
        assert handle_exception(exc, debug=True) == ExitCode.INTERNAL
        assert "Traceback" in capsys.readouterr().err


def test_keyboard_interrupt_is_130(capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C exits 130."""
    assert handle_exception(KeyboardInterrupt(), debug=False) == ExitCode.INTERRUPTED


CACHE_HIT_PROBE = """
import sys
from rdapctl.cli import main
sys.argv = ["rdapctl", "lookup", "AS63311", "--server", sys.argv[1], "-o", "json"]
try:
    main()
except SystemExit as exc:
    code = exc.code
print("heavy:" + ",".join(m for m in ("httpx", "httpcore", "rich", "diskcache") if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def test_lookups_do_not_import_httpx_and_hits_not_diskcache(httpserver, rdapctl_home) -> None:  # type: ignore[no-untyped-def]
    """Direct lookups use the stdlib client (no httpx); a cache hit does not open diskcache."""
    from tests.support import load_fixture, loopback_profiles

    loopback_profiles(rdapctl_home, httpserver.port)
    httpserver.expect_request("/autnum/63311").respond_with_json(
        load_fixture("autnum/arin-as63311.json")
    )
    first = subprocess.run(
        [sys.executable, "-c", CACHE_HIT_PROBE, httpserver.url_for("/")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    assert first.stderr.strip() == "heavy:diskcache"  # the answer was written to the cache
    second = subprocess.run(
        [sys.executable, "-c", CACHE_HIT_PROBE, httpserver.url_for("/")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert second.returncode == 0
    assert json.loads(second.stdout)["source"] == "cache"
    assert "heavy:\n" in second.stderr or second.stderr.strip().endswith("heavy:")
