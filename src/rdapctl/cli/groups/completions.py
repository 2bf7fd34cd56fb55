"""``rdapctl completions``: argument declarations only (imported when the group is used)."""

from __future__ import annotations

import typer

from rdapctl.cli.options import (
    ShellArg,
)

app = typer.Typer(help="Shell completion scripts for bash, zsh and fish.", rich_markup_mode=None)


@app.command("show")
def completions_show(shell: ShellArg) -> None:
    """Print the completion script for SHELL."""
    from rdapctl.cli.completion_cmd import show as show_completion

    raise typer.Exit(show_completion(shell))


@app.command("install")
def completions_install(shell: ShellArg) -> None:
    """Install the completion script where SHELL looks for it, and say where."""
    from rdapctl.cli.completion_cmd import install as install_completion

    raise typer.Exit(install_completion(shell))
