"""The runtime context built once at the entry point and passed down.

It carries what the world provides: environment, state paths, the clock and the
diagnostic stream. No module keeps these in globals, so tests inject their own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from rdapctl.paths import StatePaths
from rdapctl.records import factory, mutable_record


def _stderr() -> TextIO:
    return sys.stderr


@mutable_record
class Runtime:
    env: Mapping[str, str]
    paths: StatePaths
    clock: Callable[[], float] = time.time
    stderr: TextIO = factory(_stderr)
    debug: bool = False
    command: str = ""

    def warn(self, message: str) -> None:
        """A diagnostic for the user on stderr (never stdout)."""
        # One write, newline included: batch worker processes share the stream, and
        # print() writes the text and its newline apart, so their lines interleaved.
        self.stderr.write(f"rdapctl: warning: {message}\n")
        self.stderr.flush()

    @classmethod
    def from_env(cls, env: Mapping[str, str], **kwargs: object) -> Runtime:
        return cls(env=dict(env), paths=StatePaths.from_env(env), **kwargs)  # type: ignore[arg-type]
