"""Documentation drift: every command is in the README, exit codes match the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer
import typer.testing

from rdapctl.cli import app
from rdapctl.core.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def command_paths() -> list[str]:
    root = typer.main.get_command(app)
    paths: list[str] = []

    context = type(root.make_context("rdapctl", ["--help"], resilient_parsing=True))

    def walk(cmd: Any, prefix: str, ctx: Any) -> None:
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, name
                walk(sub, f"{prefix} {name}", context(sub, parent=ctx, info_name=name))
        else:
            paths.append(prefix)

    walk(root, "rdapctl", context(root, info_name="rdapctl"))
    return paths


def test_every_command_is_documented_in_the_readme() -> None:
    """Each leaf command appears in the README (as `rdapctl group sub` or a `group a | b` heading)."""
    missing = []
    for path in command_paths():
        words = path.split()
        if path in README:
            continue
        if len(words) == 3 and re.search(rf"rdapctl {words[1]} [^\n]*\b{words[2]}\b", README):
            continue
        missing.append(path)
    assert missing == []
    assert len(command_paths()) >= 29


def test_exit_codes_in_the_readme_match_the_code() -> None:
    """The README's exit-code table lists exactly the codes rdapctl uses."""
    section = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", section, flags=re.M)}
    assert documented == {int(code) for code in ExitCode}


def test_every_command_has_help() -> None:
    """Every command carries user-facing help text."""
    result = typer.testing.CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for path in command_paths():
        args = [*path.split()[1:], "--help"]
        out = typer.testing.CliRunner().invoke(app, args)
        assert out.exit_code == 0, path
        assert "Usage:" in out.stdout


def test_readme_env_table_matches_help() -> None:
    """The environment variables documented in the README are listed in --help too."""
    help_text = typer.testing.CliRunner().invoke(app, ["--help"]).stdout
    for name in (
        "RDAPCTL_HOME",
        "RDAPCTL_PROFILES",
        "RDAPCTL_TENANT",
        "RDAPCTL_MASTER_KEY",
        "RDAPCTL_MASTER_KEY_FILE",
        "NO_COLOR",
        "HTTPS_PROXY",
        "SSL_CERT_FILE",
    ):
        assert name in README
        assert name in help_text


def test_quick_start_matches_ci() -> None:
    """CI installs the way the README says and runs the README's test command."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install '.[test]' && pytest" in README
    assert "'.[test]'" in ci
    assert re.search(r"^\s*pytest\b", ci, flags=re.M)
