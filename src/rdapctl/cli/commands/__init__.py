"""The commands: one module per command group (or top-level command) holding its Typer
app and, for each command, the signature and the body together.

A module is imported only when its command runs or is listed (``--help``, TAB
completion), and imports just Typer and :mod:`rdapctl.cli.options` at the top: the
core is imported inside the bodies, so listing commands stays as cheap as ``--version``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

import typer

P = ParamSpec("P")


def exits(body: Callable[P, int]) -> Callable[P, None]:
    """A command body that returns its exit code, as a Typer command that exits with it
    (the body returns, so every ``with`` block in it closes normally first)."""

    @functools.wraps(body)
    def command(*args: P.args, **kwargs: P.kwargs) -> None:
        raise typer.Exit(body(*args, **kwargs))

    return command


__all__ = ["exits"]
