"""``rdapctl policy``: argument declarations only (imported when the group is used)."""

from __future__ import annotations

import typer

from rdapctl.cli.options import (
    FormatOpt,
    ProfilesOpt,
    QueryArg,
    ServerOpt,
    TenantOpt,
    TypeOpt,
)

app = typer.Typer(help="Dry runs of the tenant policy.", rich_markup_mode=None)


@app.command("explain")
def policy_explain(
    query: QueryArg,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    query_type: TypeOpt = None,
    server: ServerOpt = None,
    output: FormatOpt = None,
) -> None:
    """Dry run: server, region, residency, network guard and redaction; sends nothing."""
    from rdapctl.cli.policy_cmd import explain

    code = explain(
        query, tenant=tenant, profiles=profiles, query_type=query_type, server=server, fmt=output
    )
    raise typer.Exit(code)
