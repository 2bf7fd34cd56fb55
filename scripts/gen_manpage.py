"""Regenerate the man page ``rdapctl.1`` from the CLI's own command tree.

Usage::

    python scripts/gen_manpage.py            # rewrite rdapctl.1
    python scripts/gen_manpage.py --check    # exit 1 when rdapctl.1 is out of date
    man ./rdapctl.1                          # read it

Owns: the roff layout. Every command, option, help text, environment variable and
exit code comes from ``rdapctl.cli`` and ``rdapctl.core.errors``, so the page cannot drift
from the CLI without ``--check`` noticing.
Must not: depend on the date, the terminal width or the environment (the output is
compared byte for byte).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from typer import Context  # noqa: TID251  (documents the CLI itself)
from typer.main import get_command  # noqa: TID251

from rdapctl import __version__
from rdapctl.cli import ENV_HELP, app
from rdapctl.core.errors import ExitCode

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "rdapctl.1"

# What each exit code means to a user; the codes themselves come from ExitCode.
_EXIT_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.INTERNAL: "internal error (a bug; run with --debug)",
    ExitCode.USAGE: "bad arguments or an unparseable query",
    ExitCode.CONFIG: "invalid profiles file or unknown tenant",
    ExitCode.DENIED: "denied by the tenant policy (query type, network guard, residency)",
    ExitCode.RATE_LIMITED: "rate limited by the server past the retry budget",
    ExitCode.NOT_FOUND: "the RDAP object does not exist (404), or a search found nothing",
    ExitCode.UPSTREAM: "network failure, timeout, server error or offline cache miss",
    ExitCode.NO_SERVER: "no RDAP server is known for the query",
    ExitCode.INTEGRITY: "cache or key integrity failure, wrong master key",
    ExitCode.AUDIT: "the audit record could not be written or did not verify",
    ExitCode.CHECK_FAILED: "rdapctl check found a finding at or above --fail-on",
    ExitCode.INTERRUPTED: "interrupted",
}


def _esc(text: str) -> str:
    """Escape text for roff: backslashes, and leading dots/quotes that would be requests."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    if out.startswith((".", "'")):
        out = "\\&" + out
    return out


def _paragraphs(text: str) -> list[str]:
    """Help text as roff paragraphs (click's \\b markers dropped, lines kept as written)."""
    lines = []
    for block in text.strip().split("\n\n"):
        block = block.replace("\b\n", "").strip("\n")
        if block:
            lines.extend([".PP", *(_esc(line.strip()) for line in block.splitlines())])
    return lines


def _option_lines(command: Any, ctx: Any) -> list[str]:
    lines: list[str] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        if param.param_type_name == "argument":
            continue
        lines.extend([".TP", f"\\fB{_esc(names)}\\fR", _esc(" ".join(help_text.split()))])
    return lines


def _arguments(command: Any, ctx: Any) -> list[str]:
    lines: list[str] = []
    for param in command.get_params(ctx):
        if param.param_type_name != "argument":
            continue
        help_text = getattr(param, "help", None) or ""
        metavar = param.make_metavar(ctx) if _takes_ctx(param) else param.make_metavar()
        lines.extend([".TP", f"\\fI{_esc(metavar)}\\fR", _esc(" ".join(help_text.split()))])
    return lines


def _takes_ctx(param: Any) -> bool:
    import inspect

    return "ctx" in inspect.signature(param.make_metavar).parameters


def _walk(command: Any, parent: Any, path: list[str]) -> list[str]:
    """Sections for ``command`` and, depth first, its sub-commands in declared order."""
    ctx = Context(command, info_name=path[-1], parent=parent)
    lines: list[str] = []
    sub_names = command.list_commands(ctx) if hasattr(command, "list_commands") else []
    if len(path) > 1:
        usage = " ".join(command.collect_usage_pieces(ctx))
        lines.extend(
            [
                f".SS {_esc(' '.join(path))}",
                f"\\fB{_esc(' '.join(path))}\\fR {_esc(usage)}",
                *_paragraphs(command.help or ""),
            ]
        )
        if not sub_names:
            args = _arguments(command, ctx)
            opts = _option_lines(command, ctx)
            if args:
                lines.extend([".PP", "Arguments:", ".RS", *args, ".RE"])
            if opts:
                lines.extend([".PP", "Options:", ".RS", *opts, ".RE"])
    for name in sub_names:
        sub = command.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            lines.extend(_walk(sub, ctx, [*path, name]))
    return lines


def render() -> str:
    """The whole man page."""
    root = get_command(app)
    ctx = Context(root, info_name="rdapctl")
    summary = (root.help or "").split("\n\n")[0].strip()
    lines = [
        '.\\" Generated by scripts/gen_manpage.py from the rdapctl CLI; do not edit.',
        f'.TH RDAPCTL 1 "" "rdapctl {_esc(__version__)}" "User Commands"',
        ".SH NAME",
        f"rdapctl \\- {_esc(summary)}",
        ".SH SYNOPSIS",
        "\\fBrdapctl\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        *_paragraphs(summary),
        ".SH GLOBAL OPTIONS",
        *_option_lines(root, ctx),
        ".SH COMMANDS",
        *_walk(root, None, ["rdapctl"]),
        ".SH ENVIRONMENT",
    ]
    for line in ENV_HELP.splitlines()[1:]:
        entry = line.strip()
        if not entry or entry == "\b":
            continue
        # Names and meanings are separated by a run of spaces; a name may hold ", ".
        name, meaning = (*re.split(r"\s{2,}", entry, maxsplit=1), "")[:2]
        lines.extend([".TP", f"\\fB{_esc(name)}\\fR", _esc(" ".join(meaning.split()))])
    lines.append(".SH EXIT STATUS")
    for code in ExitCode:
        lines.extend([".TP", f"\\fB{int(code)}\\fR", _esc(_EXIT_MEANINGS[code])])
    lines.extend(
        [
            ".SH FILES",
            "State lives under the user config, cache and data directories, or all in",
            "\\fB$RDAPCTL_HOME\\fR when set: profiles.toml, cache/, audit/, keys/.",
            ".SH SEE ALSO",
            "The README of the rdapctl project; RFC 7480\\(en7484, 9082, 9083, 9224, 9537.",
        ]
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="Report drift and exit 1 instead of writing."
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH, help="Man page path.")
    args = parser.parse_args(argv)
    expected = render()
    try:
        current = args.output.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    if args.check:
        if current != expected:
            sys.stderr.write(f"{args.output}: out of date; run scripts/gen_manpage.py\n")
            return 1
        return 0
    if current != expected:
        with open(args.output, "w", encoding="utf-8", newline="") as fh:
            fh.write(expected)
        sys.stderr.write(f"wrote {args.output}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
