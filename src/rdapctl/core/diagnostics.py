"""Errors, hints, warnings and notes for the person at the terminal, through ``logging``.

Every module reports through the ``rdapctl`` logger with the four functions below;
nothing else writes diagnostics, and stdout stays for results. The command line
calls :func:`configure` once per run: one handler on stderr, at the level that the
global ``-v/--verbose`` and ``-q/--quiet`` choose. Library users keep Python's own
logging set-up. Messages may quote server text, so each line is made terminal-safe
and kept to one line, and written in one call (batch worker processes share stderr).

``logging`` itself is imported when the first message is emitted: most runs emit
none, and the import is a measurable share of a cache hit's start-up.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from rdapctl.core.termtext import visible

if TYPE_CHECKING:
    import logging

LOGGER_NAME = "rdapctl"
# The standard logging levels, so that choosing one needs no import of logging.
DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_LABELS = {ERROR: "error", WARNING: "warning", DEBUG: "debug"}
# What configure() asked for; applied when the logger is first needed (None: leave
# logging's set-up as the library user made it).
_wanted: list[int | None] = [None]
_configured: list[bool] = [False]


def error(message: str, hint: str | None = None) -> None:
    """``rdapctl: error: ...`` and, when given, ``rdapctl: hint: ...``."""
    _logger().error(message, extra={"hint": hint})


def warning(message: str) -> None:
    """``rdapctl: warning: ...``: something the user should know; the run goes on."""
    _logger().warning(message)


def note(message: str) -> None:
    """``rdapctl: ...``: what a command did (wrote a file, created a keyring)."""
    _logger().info(message)


def detail(message: str) -> None:
    """``rdapctl: debug: ...``: shown with ``-v`` only."""
    if _wanted[0] is not None and _wanted[0] > DEBUG:
        return  # the common case: no logging import for a line nobody will see
    _logger().debug(message)


def level_for(*, verbose: int = 0, quiet: bool = False) -> int:
    """The logging level the global options choose: errors only, the default, debug."""
    if quiet:
        return ERROR
    return DEBUG if verbose else INFO


def configure(level: int = INFO) -> None:
    """Send rdapctl's diagnostics to stderr at ``level`` (idempotent: one handler)."""
    _wanted[0] = level
    _configured[0] = False


def _logger() -> logging.Logger:
    import logging

    log = logging.getLogger(LOGGER_NAME)
    level = _wanted[0]
    if level is not None and not _configured[0]:
        for handler in list(log.handlers):
            if getattr(handler, "rdapctl_stderr", False):
                log.removeHandler(handler)
        log.addHandler(_stderr_handler())
        log.setLevel(level)
        log.propagate = False
        _configured[0] = True
    return log


def _format(record: Any) -> str:
    label = _LABELS.get(record.levelno)
    head = f"rdapctl: {label}: " if label else "rdapctl: "
    line = head + visible(record.getMessage(), one_line=True)
    hint = getattr(record, "hint", None)
    if hint:
        line += f"\nrdapctl: hint: {visible(hint, one_line=True)}"
    return line


def _stderr_handler() -> logging.Handler:
    import logging

    class StderrHandler(logging.Handler):
        """Writes to whatever ``sys.stderr`` is when a message is emitted (test
        runners and ``2>&-`` replace it), one ``write`` per message.

        Unlike ``logging.StreamHandler`` it does not swallow exceptions: a stop
        signal whose handler raises while a line is being written must still stop
        the run. Only a stderr that cannot be written (closed, full) is ignored."""

        rdapctl_stderr = True

        def emit(self, record: logging.LogRecord) -> None:
            line = _format(record) + "\n"
            stream = sys.stderr
            try:
                stream.write(line)
                stream.flush()
            except (OSError, ValueError):  # ValueError: the stream was closed
                pass

    return StderrHandler()
