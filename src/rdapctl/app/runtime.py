"""The runtime context built once at the entry point and passed down.

It carries what the world provides: environment, state paths, the clock and the
diagnostic stream. No module keeps these in globals, so tests inject their own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import TextIO

from rdapctl.core.errors import RdapctlError
from rdapctl.core.records import mutable_record
from rdapctl.store.paths import StatePaths


def _stderr() -> TextIO:
    return sys.stderr


@mutable_record
class Runtime:
    env: Mapping[str, str]
    paths: StatePaths
    clock: Callable[[], float] = time.time
    stderr: TextIO = field(default_factory=_stderr)
    debug: bool = False
    command: str = ""
    # For deadlines and durations (never steps back); ``clock`` is wall time.
    monotonic: Callable[[], float] = time.monotonic

    def internal_error(self, exc: Exception) -> RdapctlError:
        """A bug in rdapctl met while serving one request, as the error its envelope
        carries (exit 1); the traceback goes to stderr with ``--debug``."""
        if self.debug:
            import traceback

            traceback.print_exception(exc, file=self.stderr)
        first = (str(exc) or type(exc).__name__).splitlines()[0][:200]
        return RdapctlError(
            f"internal error: {type(exc).__name__}: {first}",
            hint="this is a bug in rdapctl; run with --debug for a traceback",
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str], **kwargs: object) -> Runtime:
        return cls(env=dict(env), paths=StatePaths.from_env(env), **kwargs)  # type: ignore[arg-type]
