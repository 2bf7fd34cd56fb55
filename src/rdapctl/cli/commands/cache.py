"""``rdapctl cache stats|clear|purge`` (one tenant, or ``--all-tenants``).

Text output passes every value through :func:`rdapctl.core.termtext.visible` and hands rich
only ``Text`` cells (tenant names come from a profiles file; nothing from it is parsed
as markup). JSON output keeps the values as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import AllTenantsOpt, FormatOpt, ProfilesOpt, TenantOpt

if TYPE_CHECKING:
    from rdapctl.app.runtime import Runtime
    from rdapctl.app.session import TenantSession
    from rdapctl.policy.tenant import Tenant

app = typer.Typer(help="The tenant's encrypted cache: stats, clear, purge.", rich_markup_mode=None)


@app.command("stats")
@exits
def cache_stats(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> int:
    """Entries, size on disk, hits and misses, oldest and newest entry."""
    from rdapctl.cli.output import choose_format, console, print_json
    from rdapctl.core.termtext import visible

    out = choose_format(output)
    rows = _each("cache stats", tenant, all_tenants, profiles, lambda s: s.cache.stats())
    if out == "json":
        print_json({"schema": 1, "tenants": rows})
        return 0
    from rich.table import Table
    from rich.text import Text

    table = Table("tenant", "entries", "size", "hits", "misses", "oldest", "newest")
    for r in rows:
        cells = (
            r["tenant"],
            str(r["entries"]),
            f"{r['size_bytes'] / 1024:.0f} KiB",
            str(r["hits"]),
            str(r["misses"]),
            _when(r["oldest"]),
            _when(r["newest"]),
        )
        table.add_row(*(Text(visible(cell, one_line=True)) for cell in cells))
        team = r.get("team")
        if team is not None:
            table.add_row(*(Text(visible(cell, one_line=True)) for cell in _team_cells(team)))
    console().print(table)
    return 0


def _team_cells(team: dict[str, Any]) -> tuple[str, ...]:
    """The shared layer's row, under its tenant's (the local layer's) row."""
    if not team["reachable"]:
        return (f"  team {team['backend']}", "unreachable", "", "", "", "", "")
    return (
        f"  team {team['backend']}",
        str(team["entries"]),
        f"{team['size_bytes'] / 1024:.0f} KiB",
        str(team["hits"]),
        str(team["misses"]),
        "",
        "",
    )


@app.command("clear")
@exits
def cache_clear(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> int:
    """Remove every cached entry of the tenant."""
    return _report(_each("cache clear", tenant, all_tenants, profiles, _clear), output, "removed")


@app.command("purge")
@exits
def cache_purge(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> int:
    """Remove expired and unreadable entries."""
    return _report(_each("cache purge", tenant, all_tenants, profiles, _purge), output, "purged")


def _tenants(
    runtime: Runtime, tenant: str | None, all_: bool, profiles: Path | None
) -> list[Tenant]:
    from rdapctl.cli.context import all_tenants, resolve_tenant

    if all_:
        return all_tenants(runtime, profiles)
    return [resolve_tenant(runtime, profiles, tenant)]


def _each(
    command: str,
    tenant: str | None,
    all_: bool,
    profiles: Path | None,
    action: Callable[[TenantSession], dict[str, Any]],
) -> list[dict[str, Any]]:
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import make_runtime

    runtime = make_runtime(command)
    rows = []
    for chosen in _tenants(runtime, tenant, all_, profiles):
        with TenantSession(runtime, chosen) as session:
            row = {"tenant": chosen.name, **action(session)}
        rows.append(row)
    return rows


def _when(epoch: float | None) -> str:
    """A stored-at time for people; cache files can be planted, so a time that is not a
    date (NaN, 1e300) shows as "?" instead of stopping the command."""
    import time

    if epoch is None:
        return "-"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
    except (OverflowError, ValueError, OSError):
        return "?"


def _clear(session: TenantSession) -> dict[str, Any]:
    removed = session.cache.clear()
    session.record("cache_clear", {"entries_removed": removed})
    return {"removed": removed}


def _purge(session: TenantSession) -> dict[str, Any]:
    removed = session.cache.purge()
    session.record("cache_purge", {"entries_removed": removed})
    return {"removed": removed}


def _report(rows: list[dict[str, Any]], output: str | None, verb: str) -> int:
    from rdapctl.cli.output import choose_format, print_json
    from rdapctl.core.termtext import visible

    if choose_format(output) == "json":
        print_json({"schema": 1, "tenants": rows})
    else:
        for r in rows:
            print(f"{visible(r['tenant'], one_line=True)}: {verb} {r['removed']} entries")
    return 0
