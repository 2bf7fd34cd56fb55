"""The rdapctl command line: argument parsing and nothing else.

This module is imported on every run (``--version``, ``--help``, TAB completion),
so it imports only Typer. Each command's work lives in a ``rdapctl.cli.*_cmd``
module imported when the command runs; those call the core and render.
Errors are mapped to exit codes in exactly one place: ``RdapctlGroup.invoke``.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from rdapctl import __version__
from rdapctl.cli.options import (
    AllTenantsOpt,
    DebugState,
    FormatOpt,
    NoColorOpt,
    OutputOpt,
    ProfilesOpt,
    TenantOpt,
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


class RdapctlGroup(TyperGroup):
    """Maps every rdapctl error to its exit code and a one-line message on stderr."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from rdapctl.cli.failure import handle_exception

            code = handle_exception(exc, debug=DebugState.enabled)
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
) -> None:
    DebugState.enabled = debug


QueryArg = Annotated[str, typer.Argument(help="Domain, IP/CIDR, ASN, entity handle or RDAP URL.")]
TypeOpt = Annotated[
    str | None,
    typer.Option(
        "--type",
        help="Force the query type: domain|ip|autnum|entity|nameserver|help|url.",
        autocompletion=lambda: ["domain", "ip", "autnum", "entity", "nameserver", "help", "url"],
    ),
]
ServerOpt = Annotated[
    str | None, typer.Option("--server", help="Send the query to this RDAP base URL.")
]
NoReferralOpt = Annotated[
    bool, typer.Option("--no-referral", help="Do not follow registrar referrals.")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache.")]
RefreshOpt = Annotated[
    bool, typer.Option("--refresh", help="Skip the cache read; store the fresh answer.")
]
OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Answer from the cache only; a miss exits 7.")
]


@app.command()
def lookup(
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
        cache_mode=_cache_mode(no_cache, refresh, offline),
        no_color=no_color,
    )
    raise typer.Exit(code)


def _cache_mode(no_cache: bool, refresh: bool, offline: bool) -> str:
    chosen = [
        name
        for name, on in (("no-cache", no_cache), ("refresh", refresh), ("offline", offline))
        if on
    ]
    if len(chosen) > 1:
        raise typer.BadParameter(f"--{chosen[0]} and --{chosen[1]} cannot be combined")
    return chosen[0] if chosen else "default"


bootstrap_app = typer.Typer(help="IANA bootstrap registries: refresh, status, server choice.")
app.add_typer(bootstrap_app, name="bootstrap")


@bootstrap_app.command("update")
def bootstrap_update(
    source: Annotated[
        str | None,
        typer.Option("--source", help="Base URL to fetch the registries from (default: IANA)."),
    ] = None,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> None:
    """Refresh the five IANA registries into the user cache dir (conditional GET)."""
    from rdapctl.cli.bootstrap_cmd import update

    raise typer.Exit(update(source=source, tenant=tenant, profiles=profiles, fmt=output))


@bootstrap_app.command("status")
def bootstrap_status(output: FormatOpt = None) -> None:
    """Show each registry's publication date and whether the embedded or updated copy is used."""
    from rdapctl.cli.bootstrap_cmd import status

    raise typer.Exit(status(fmt=output))


@bootstrap_app.command("show")
def bootstrap_show(
    query: QueryArg,
    query_type: TypeOpt = None,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> None:
    """Print which server(s) would answer QUERY and why (sends nothing)."""
    from rdapctl.cli.bootstrap_cmd import show

    raise typer.Exit(
        show(query, query_type=query_type, tenant=tenant, profiles=profiles, fmt=output)
    )


def main() -> None:
    """Console-script entry point."""
    app(prog_name="rdapctl")


__all__ = ["AllTenantsOpt", "app", "main"]
