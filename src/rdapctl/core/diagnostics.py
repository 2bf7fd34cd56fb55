"""Errors, hints, warnings and notes for the person at the terminal, through ``logging``.

Every module reports through the ``rdapctl`` logger with the four functions below;
nothing else writes diagnostics, and stdout stays for results. The command line
calls :func:`configure` once per run: one handler on stderr, at the level that the
global ``-v/--verbose`` and ``-q/--quiet`` choose. Library users keep Python's own
logging set-up. Messages may quote server text, so each line is made terminal-safe
and kept to one line, and written in one call (batch worker processes share stderr).
"""

from __future__ import annotations

import logging
import sys

from rdapctl.core.termtext import visible

LOGGER_NAME = "rdapctl"
_LOG = logging.getLogger(LOGGER_NAME)
_LABELS = {logging.ERROR: "error", logging.WARNING: "warning", logging.DEBUG: "debug"}


def error(message: str, hint: str | None = None) -> None:
    """``rdapctl: error: ...`` and, when given, ``rdapctl: hint: ...``."""
    _LOG.error(message, extra={"hint": hint})


def warning(message: str) -> None:
    """``rdapctl: warning: ...``: something the user should know; the run goes on."""
    _LOG.warning(message)


def note(message: str) -> None:
    """``rdapctl: ...``: what a command did (wrote a file, created a keyring)."""
    _LOG.info(message)


def detail(message: str) -> None:
    """``rdapctl: debug: ...``: shown with ``-v`` only."""
    _LOG.debug(message)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        label = _LABELS.get(record.levelno)
        head = f"rdapctl: {label}: " if label else "rdapctl: "
        line = head + visible(record.getMessage(), one_line=True)
        hint = getattr(record, "hint", None)
        if hint:
            line += f"\nrdapctl: hint: {visible(hint, one_line=True)}"
        return line


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is when a message is emitted (test runners
    and ``2>&-`` replace it), one ``write`` per message.

    Unlike ``logging.StreamHandler`` it does not swallow exceptions: a stop signal
    whose handler raises while a line is being written must still stop the run. Only
    a stderr that cannot be written (closed, full) is ignored."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(_Formatter())

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record) + "\n"
        stream = sys.stderr
        try:
            stream.write(line)
            stream.flush()
        except (OSError, ValueError):  # ValueError: the stream was closed
            pass


def level_for(*, verbose: int = 0, quiet: bool = False) -> int:
    """The logging level the global options choose: errors only, the default, debug."""
    if quiet:
        return logging.ERROR
    return logging.DEBUG if verbose else logging.INFO


def configure(level: int = logging.INFO) -> None:
    """Send rdapctl's diagnostics to stderr at ``level`` (idempotent: one handler)."""
    for handler in list(_LOG.handlers):
        if isinstance(handler, _StderrHandler):
            _LOG.removeHandler(handler)
    _LOG.addHandler(_StderrHandler())
    _LOG.setLevel(level)
    _LOG.propagate = False
