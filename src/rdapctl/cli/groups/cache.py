"""``rdapctl cache``: argument declarations only (imported when the group is used)."""

from __future__ import annotations

import typer

from rdapctl.cli.options import (
    AllTenantsOpt,
    FormatOpt,
    ProfilesOpt,
    TenantOpt,
)

app = typer.Typer(help="The tenant's encrypted cache: stats, clear, purge.", rich_markup_mode=None)


@app.command("stats")
def cache_stats(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> None:
    """Entries, size on disk, hits and misses, oldest and newest entry."""
    from rdapctl.cli.cache_cmd import stats

    raise typer.Exit(stats(tenant=tenant, all_tenants=all_tenants, profiles=profiles, fmt=output))


@app.command("clear")
def cache_clear(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> None:
    """Remove every cached entry of the tenant."""
    from rdapctl.cli.cache_cmd import clear

    raise typer.Exit(clear(tenant=tenant, all_tenants=all_tenants, profiles=profiles, fmt=output))


@app.command("purge")
def cache_purge(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> None:
    """Remove expired and unreadable entries."""
    from rdapctl.cli.cache_cmd import purge

    raise typer.Exit(purge(tenant=tenant, all_tenants=all_tenants, profiles=profiles, fmt=output))
