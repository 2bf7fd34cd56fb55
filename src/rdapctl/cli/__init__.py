"""The rdapctl command line: argument parsing and nothing else.

This module is imported on every run (``--version``, ``--help``, TAB completion),
so it imports only Typer. Each command's work lives in a ``rdapctl.cli.*_cmd``
module imported when the command runs; those call the core and render.
Errors are mapped to exit codes in exactly one place: ``RdapctlGroup.invoke``.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from rdapctl import __version__
from rdapctl.cli.options import (
    NoCacheOpt,
    NoColorOpt,
    NoReferralOpt,
    OfflineOpt,
    OutputOpt,
    ProfilesOpt,
    QueryArg,
    RefreshOpt,
    ServerOpt,
    TenantOpt,
    TypeOpt,
)

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


# Sub-command groups are imported only when invoked (or listed by --help), so a
# lookup does not pay for building forty commands it will not run.
LAZY_GROUPS: dict[str, str] = {
    "batch": "rdapctl.cli.groups.batch",
    "doctor": "rdapctl.cli.groups.doctor",
    "bootstrap": "rdapctl.cli.groups.bootstrap",
    "profile": "rdapctl.cli.groups.profile",
    "policy": "rdapctl.cli.groups.policy",
    "cache": "rdapctl.cli.groups.cache",
    "keys": "rdapctl.cli.groups.keys",
    "audit": "rdapctl.cli.groups.audit",
    "schema": "rdapctl.cli.groups.schema",
    "completions": "rdapctl.cli.groups.completions",
}


# Of those, the modules that hold a single top-level command rather than a group.
LAZY_COMMANDS = frozenset({"batch", "doctor"})


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


@app.command()
def lookup(
    ctx: typer.Context,
    query: QueryArg,
    query_type: TypeOpt = None,
    server: ServerOpt = None,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: OutputOpt = None,
    no_referral: NoReferralOpt = False,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Look up a domain, IP address or network, AS number, entity, name server or RDAP URL."""
    from rdapctl.cli.lookup_cmd import run

    code = run(
        query,
        query_type=query_type,
        server=server,
        tenant=tenant,
        profiles=profiles,
        output=output,
        referrals=not no_referral,
        no_cache=no_cache,
        refresh=refresh,
        offline=offline,
        no_color=no_color,
        debug=bool(ctx.find_root().params.get("debug")),
    )
    raise typer.Exit(code)


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


__all__ = ["app", "main"]
