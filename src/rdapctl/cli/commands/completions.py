"""``rdapctl completions show|install SHELL``: print or install a shell completion script.

Owns: where each shell looks for completion scripts, and telling the user (on stderr)
where the script went and what, if anything, they still have to add to their shell
start-up file. The scripts themselves are :mod:`rdapctl.cli.completion`'s.

Must not: edit the user's shell start-up files (``~/.bashrc``, ``~/.zshrc``): it
prints the line to add instead, since silently rewriting them is not ours to do.
Must not import httpx, cryptography, diskcache or rich.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import ShellArg

app = typer.Typer(help="Shell completion scripts for bash, zsh and fish.", rich_markup_mode=None)


@app.command("show")
@exits
def completions_show(shell: ShellArg) -> int:
    """Print the completion script for SHELL."""
    from rdapctl.cli.completion import completion_script

    sys.stdout.write(completion_script(_shell(shell)))
    sys.stdout.flush()
    return 0


@app.command("install")
@exits
def completions_install(shell: ShellArg) -> int:
    """Install the completion script where SHELL looks for it, and say where."""
    import os

    from rdapctl.cli.completion import completion_script
    from rdapctl.core import diagnostics

    name = _shell(shell)
    target = install_path(name, os.environ)
    script = completion_script(name)
    changed = _write_script(target, script)
    verb = "installed" if changed else "already up to date:"
    diagnostics.note(f"{verb} {name} completion in {target}")
    for line in activation_notes(name, target):
        diagnostics.note(line)
    return 0


def install_path(shell: str, env: Mapping[str, str]) -> Path:
    """The file ``shell`` loads completions from for the current user."""
    home = Path(env.get("HOME") or Path.home())
    if shell == "bash":
        # bash-completion >= 2.8 loads user completions lazily from here, by command name.
        data_home = env.get("XDG_DATA_HOME") or str(home / ".local" / "share")
        return Path(data_home) / "bash-completion" / "completions" / "rdapctl"
    if shell == "zsh":
        return home / ".zfunc" / "_rdapctl"
    config_home = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    return Path(config_home) / "fish" / "completions" / "rdapctl.fish"


def activation_notes(shell: str, target: Path) -> list[str]:
    """What the user must still do for new shells to pick the script up."""
    if shell == "bash":
        return [
            "new bash shells load it when the bash-completion package is installed;",
            f"without it, add this line to ~/.bashrc: source {target}",
        ]
    if shell == "zsh":
        return [
            "add these lines to ~/.zshrc (before any other compinit call), then open a new shell:",
            f"  fpath=({target.parent} $fpath)",
            "  autoload -Uz compinit && compinit",
        ]
    return ["new fish shells load it automatically"]


def _shell(shell: str) -> str:
    from rdapctl.cli.completion import SHELLS, normalise_shell
    from rdapctl.core.errors import UsageError

    name = normalise_shell(shell)
    if name is None:
        raise UsageError(
            f"unsupported shell {shell!r}",
            hint=f"use one of: {', '.join(SHELLS)}",
            code="unsupported_shell",
        )
    return name


def _write_script(target: Path, script: str) -> bool:
    """Write ``script`` to ``target`` atomically; False when it was already there."""
    from rdapctl.core.errors import ConfigError
    from rdapctl.store.paths import write_replacing

    try:
        if target.is_file() and target.read_text(encoding="utf-8") == script:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        write_replacing(target, script.encode("utf-8"), mode=0o644)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(
            f"cannot install completion script in {target}: {reason}",
            hint="run `rdapctl completions show SHELL` and save the output yourself",
            code="completion_install_failed",
        ) from None
    return True
