"""``rdapctl profile``: argument declarations only (imported when the group is used)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rdapctl.cli.options import (
    FormatOpt,
    ProfilesOpt,
    ValidateFormatOpt,
)

app = typer.Typer(
    help="Tenant profiles: validate, list, show, init, schema.", rich_markup_mode=None
)


@app.command("validate")
def profile_validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Profiles files to check (default: the one rdapctl would use)."),
    ] = None,
    fmt: ValidateFormatOpt = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    profiles: ProfilesOpt = None,
) -> None:
    """Check profiles files; exit 0 when valid, 3 otherwise (made for CI)."""
    from rdapctl.cli.profile_cmd import validate

    raise typer.Exit(validate(files or [], fmt=fmt, strict=strict, profiles=profiles))


@app.command("list")
def profile_list(profiles: ProfilesOpt = None, output: FormatOpt = None) -> None:
    """List tenants: name, display name, isolation, residency."""
    from rdapctl.cli.profile_cmd import list_tenants

    raise typer.Exit(list_tenants(profiles=profiles, fmt=output))


@app.command("show")
def profile_show(
    name: Annotated[str | None, typer.Argument(help="Tenant (default: the selected one).")] = None,
    profiles: ProfilesOpt = None,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="toml or json.", autocompletion=lambda: ["toml", "json"]
        ),
    ] = "toml",
) -> None:
    """Show a tenant's effective settings after defaults (incl. effective cache TTL)."""
    from rdapctl.cli.profile_cmd import show

    raise typer.Exit(show(name, profiles=profiles, fmt=output))


@app.command("init")
def profile_init(
    path: Annotated[
        Path | None, typer.Argument(help="Where to write (default: the profiles file location).")
    ] = None,
    tenant: Annotated[str, typer.Option("--tenant", help="Name of the first tenant.")] = "default",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter profiles file (never overwrites without --force)."""
    from rdapctl.cli.profile_cmd import init

    raise typer.Exit(init(path, tenant=tenant, force=force))


@app.command("schema")
def profile_schema() -> None:
    """Print the JSON Schema of the profiles file (for editors and CI)."""
    from rdapctl.cli.profile_cmd import schema

    raise typer.Exit(schema())
