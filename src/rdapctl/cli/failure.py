"""Turning exceptions into one-line messages and exit codes (the only place that does)."""

from __future__ import annotations

import sys
import traceback

from rdapctl.core import diagnostics
from rdapctl.core.errors import ExitCode, RdapctlError


def handle_exception(exc: BaseException, *, debug: bool) -> int | None:
    """Report ``exc`` on stderr and return its exit code; None lets Typer/click handle it."""
    if isinstance(exc, RdapctlError):
        diagnostics.error(exc.message, exc.hint)
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        return int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        diagnostics.note("interrupted")
        return int(ExitCode.INTERRUPTED)
    if isinstance(exc, SystemExit):
        return None
    if type(exc).__module__.startswith(("click", "typer")):
        return None
    if isinstance(exc, BrokenPipeError):
        # The reader went away (e.g. `| head`): not an error worth a message.
        return 0
    first_line = (str(exc) or type(exc).__name__).splitlines()[0][:200]
    message = f"internal error: {type(exc).__name__}: {first_line}"
    if debug:
        diagnostics.error(message)
        traceback.print_exception(exc, file=sys.stderr)
    else:
        diagnostics.error(message, "run with --debug for a traceback")
    return int(ExitCode.INTERNAL)
