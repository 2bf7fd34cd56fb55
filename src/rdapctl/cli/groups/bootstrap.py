"""``rdapctl bootstrap``: argument declarations only (imported when the group is used)."""

from __future__ import annotations

from typing import Annotated

import typer

from rdapctl.cli.options import (
    FormatOpt,
    ProfilesOpt,
    QueryArg,
    TenantOpt,
    TypeOpt,
)

app = typer.Typer(
    help="IANA bootstrap registries: refresh, status, server choice.", rich_markup_mode=None
)


@app.command("update")
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


@app.command("status")
def bootstrap_status(output: FormatOpt = None) -> None:
    """Show each registry's publication date and whether the embedded or updated copy is used."""
    from rdapctl.cli.bootstrap_cmd import status

    raise typer.Exit(status(fmt=output))


@app.command("show")
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
