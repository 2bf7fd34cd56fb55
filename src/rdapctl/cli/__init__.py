"""The rdapctl command line: argument parsing and nothing else.

This module is imported on every run (``--version``, ``--help``, TAB completion),
so it imports only Typer. Each command lives in ``rdapctl.cli.commands.<name>`` (its
signature and body together), imported only when the command runs or is listed.
Errors are mapped to exit codes in exactly one place: ``RdapctlGroup.invoke``.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from rdapctl import __version__

ENV_HELP = """\
Environment variables:

\b
  RDAPCTL_HOME             keep all state (profiles.toml, cache/, audit/, keys/) in this folder
  RDAPCTL_PROFILES         path of the profiles file
  RDAPCTL_TENANT           tenant to act for when -t is not given
  RDAPCTL_MASTER_KEY       base64 of a 32-byte key that wraps every tenant keyring
  RDAPCTL_MASTER_KEY_FILE  file holding that base64 master key
  RDAPCTL_BACKUP_PASSPHRASE passphrase for keys export / import
  NO_COLOR                 disable colour
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY   proxies for RDAP and bootstrap requests
  SSL_CERT_FILE, SSL_CERT_DIR         CA bundle / directory (corporate CAs)
"""


# Commands and command groups are imported only when invoked (or listed by --help), so
# a lookup does not pay for building forty commands it will not run. In this order
# --help lists them.
LAZY_GROUPS: dict[str, str] = {
    "lookup": "rdapctl.cli.commands.lookup",
    "search": "rdapctl.cli.commands.search",
    "batch": "rdapctl.cli.commands.batch",
    "check": "rdapctl.cli.commands.check",
    "doctor": "rdapctl.cli.commands.doctor",
    "bootstrap": "rdapctl.cli.commands.bootstrap",
    "profile": "rdapctl.cli.commands.profile",
    "policy": "rdapctl.cli.commands.policy",
    "cache": "rdapctl.cli.commands.cache",
    "keys": "rdapctl.cli.commands.keys",
    "audit": "rdapctl.cli.commands.audit",
    "schema": "rdapctl.cli.commands.schema",
    "completions": "rdapctl.cli.commands.completions",
}


# Of those, the modules that hold a single top-level command rather than a group.
LAZY_COMMANDS = frozenset({"lookup", "batch", "check", "doctor", "schema"})


class RdapctlGroup(TyperGroup):
    """The root group: lazy sub-command groups, and the one place where every
    rdapctl error becomes its exit code and a one-line message on stderr."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_GROUPS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_GROUPS:
            import importlib

            module = importlib.import_module(LAZY_GROUPS[cmd_name])
            app_ = module.app
            if cmd_name in LAZY_COMMANDS:
                command = typer.main.get_command(app_)
            else:
                command = typer.main.get_group(app_)
            command.name = cmd_name
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:
            # Typer suggests close names ("Did you mean ...?") only among the commands it
            # has built; the lazy ones are not built until used, so suggest among them here.
            message = getattr(exc, "message", None)
            if args and message == f"No such command {args[0]!r}.":
                from difflib import get_close_matches

                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    names = ", ".join(repr(name) for name in matches)
                    exc.message = f"No such command {args[0]!r}. Did you mean {names}?"  # type: ignore[attr-defined]
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.Exit:
            raise  # every command ends this way; no need to load the error handler
        except Exception as exc:
            from rdapctl.cli.failure import handle_exception

            # The root context holds --debug (parsed before any sub-command runs).
            code = handle_exception(exc, debug=bool(ctx.params.get("debug")))
            if code is None:
                raise
            sys.exit(code)


app = typer.Typer(
    cls=RdapctlGroup,
    name="rdapctl",
    help="Policy-enforcing RDAP lookups on behalf of a tenant.\n\n" + ENV_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"rdapctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for internal errors.")
    ] = False,
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="Show more detail on stderr."),
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Show errors only on stderr.")
    ] = False,
) -> None:
    """Policy-enforcing RDAP lookups on behalf of a tenant."""
    from rdapctl.core import diagnostics

    diagnostics.configure(diagnostics.level_for(verbose=verbose, quiet=quiet))


def main() -> None:
    """Console-script entry point."""
    if sys.stderr is None:
        # Started with stderr closed (`2>&-`): print(file=None) writes to stdout, so
        # diagnostics would land in the JSON a script reads. They go nowhere instead.
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    instruction = os.environ.get("_RDAPCTL_COMPLETE")
    if instruction:
        # A TAB press: answered from the command tree, without running any command.
        from rdapctl.cli.completion import answer

        sys.exit(answer(instruction, typer.main.get_command(app), os.environ))
    app(prog_name="rdapctl")


__all__ = ["ENV_HELP", "LAZY_GROUPS", "app", "main"]
