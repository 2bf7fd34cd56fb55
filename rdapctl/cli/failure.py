"""Turning exceptions into one-line messages and exit codes (the only place that does)."""

from __future__ import annotations

import sys
import traceback

from rdapctl.errors import ExitCode, RdapctlError


def print_error(error: RdapctlError) -> None:
    print(f"rdapctl: error: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"rdapctl: hint: {error.hint}", file=sys.stderr)


def handle_exception(exc: BaseException, *, debug: bool) -> int | None:
    """Report ``exc`` on stderr and return its exit code; None lets Typer/click handle it."""
    if isinstance(exc, RdapctlError):
        print_error(exc)
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        return int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        print("rdapctl: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    if isinstance(exc, SystemExit):
        return None
    if type(exc).__module__.startswith(("click", "typer")):
        return None
    if isinstance(exc, BrokenPipeError):
        # The reader went away (e.g. `| head`): not an error worth a message.
        return 0
    first_line = (str(exc) or type(exc).__name__).splitlines()[0][:200]
    print(f"rdapctl: internal error: {type(exc).__name__}: {first_line}", file=sys.stderr)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    else:
        print("rdapctl: hint: run with --debug for a traceback", file=sys.stderr)
    return int(ExitCode.INTERNAL)
