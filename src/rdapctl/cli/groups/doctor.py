"""``rdapctl doctor``: argument declarations only (imported when the command is used)."""

from __future__ import annotations

from typing import Annotated

import typer

from rdapctl.cli.options import ProfilesOpt, TenantOpt

app = typer.Typer(rich_markup_mode=None, add_completion=False)


@app.command()
def doctor(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="text (checklist) or json (for CI).",
            autocompletion=lambda: ["text", "json"],
            show_default=False,
        ),
    ] = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Repair what is safe to repair (permissions).")
    ] = False,
) -> None:
    """Check tenant isolation: permissions, keys, audit chains, caches, PII, bootstrap."""
    from rdapctl.cli.doctor_cmd import run as run_doctor

    raise typer.Exit(run_doctor(tenant=tenant, profiles=profiles, fmt=fmt, fix=fix))
