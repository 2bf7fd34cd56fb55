"""``rdapctl audit``: argument declarations only (imported when the group is used)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rdapctl.cli.options import (
    AllTenantsOpt,
    EventOpt,
    FormatOpt,
    ProfilesOpt,
    SinceOpt,
    TenantOpt,
    UntilOpt,
)

app = typer.Typer(help="The tenant's tamper-evident audit log.", rich_markup_mode=None)


@app.command("show")
def audit_show(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    event: EventOpt = None,
    output: FormatOpt = None,
) -> None:
    """Audit records: a table on a terminal, JSONL otherwise."""
    from rdapctl.cli.audit_cmd import show

    code = show(tenant=tenant, profiles=profiles, since=since, until=until, event=event, fmt=output)
    raise typer.Exit(code)


@app.command("verify")
def audit_verify(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Accepted gaps and records under a lost key fail too (exit 10)."
        ),
    ] = False,
) -> None:
    """Check JSON, chain, MACs, checkpoint and time order; exit 10 on any problem."""
    from rdapctl.cli.audit_cmd import verify

    raise typer.Exit(
        verify(tenant=tenant, all_tenants=all_tenants, profiles=profiles, fmt=output, strict=strict)
    )


@app.command("path")
def audit_path(tenant: TenantOpt = None, profiles: ProfilesOpt = None) -> None:
    """Print the folder holding the tenant's audit log."""
    from rdapctl.cli.audit_cmd import path

    raise typer.Exit(path(tenant=tenant, profiles=profiles))


@app.command("prune")
def audit_prune(
    tenant: TenantOpt = None, profiles: ProfilesOpt = None, output: FormatOpt = None
) -> None:
    """Remove day files older than audit.retention_days (the chain stays verifiable)."""
    from rdapctl.cli.audit_cmd import prune

    raise typer.Exit(prune(tenant=tenant, profiles=profiles, fmt=output))


@app.command("export")
def audit_export(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    event: EventOpt = None,
    output_file: Annotated[
        Path | None, typer.Option("--output", help="Write JSONL here instead of stdout.")
    ] = None,
) -> None:
    """Export records as JSONL (for a SIEM)."""
    from rdapctl.cli.audit_cmd import export

    code = export(
        tenant=tenant, profiles=profiles, since=since, until=until, event=event, output=output_file
    )
    raise typer.Exit(code)


@app.command("repair")
def audit_repair(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    accept_loss: Annotated[
        bool,
        typer.Option(
            "--accept-loss",
            help="Accept records known to be lost (recorded as audit_gap_accepted).",
        ),
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why the loss is accepted (with --accept-loss).")
    ] = None,
) -> None:
    """Move a torn last line (after a crash) to a quarantine file; nothing is deleted."""
    from rdapctl.cli.audit_cmd import repair

    raise typer.Exit(
        repair(tenant=tenant, profiles=profiles, accept_loss=accept_loss, reason=reason)
    )
