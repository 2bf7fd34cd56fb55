"""``rdapctl keys``: argument declarations only (imported when the group is used)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rdapctl.cli.options import (
    FormatOpt,
    ProfilesOpt,
    TenantOpt,
)

app = typer.Typer(
    help="The tenant's keyring: status, init, rotate, export, import.", rich_markup_mode=None
)


@app.command("status")
def keys_status(
    tenant: TenantOpt = None, profiles: ProfilesOpt = None, output: FormatOpt = None
) -> None:
    """Key ids, ages, status and whether they are wrapped (never the key material)."""
    from rdapctl.cli.keys_cmd import status

    raise typer.Exit(status(tenant=tenant, profiles=profiles, fmt=output))


@app.command("init")
def keys_init(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    replace_lost: Annotated[
        bool,
        typer.Option(
            "--replace-lost",
            help="The keyring was lost: drop the cache it sealed and start a new audit segment.",
        ),
    ] = False,
    output: FormatOpt = None,
) -> None:
    """Create a keyring for a tenant that has none (refuses when one exists)."""
    from rdapctl.cli.keys_cmd import init

    raise typer.Exit(init(tenant=tenant, profiles=profiles, replace_lost=replace_lost, fmt=output))


@app.command("rotate")
def keys_rotate(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    retire_old: Annotated[
        bool, typer.Option("--retire-old", help="Make entries under older keys unreadable.")
    ] = False,
    output: FormatOpt = None,
) -> None:
    """Create a new active data key; old keys stay readable unless --retire-old."""
    from rdapctl.cli.keys_cmd import rotate

    raise typer.Exit(rotate(tenant=tenant, profiles=profiles, retire_old=retire_old, fmt=output))


@app.command("export")
def keys_export(
    output_file: Annotated[Path, typer.Option("--output", help="Backup file to write.")],
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing backup file.")
    ] = False,
) -> None:
    """Write an offline backup of the keyring (a new 0600 file), encrypted under a passphrase."""
    from rdapctl.cli.keys_cmd import export

    raise typer.Exit(export(output_file, tenant=tenant, profiles=profiles, force=force))


@app.command("import")
def keys_import(
    backup: Annotated[Path, typer.Argument(help="Backup file written by keys export.")],
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a different live keyring.")
    ] = False,
) -> None:
    """Restore a keyring backup (refuses to replace a different keyring without --force)."""
    from rdapctl.cli.keys_cmd import import_

    raise typer.Exit(import_(backup, tenant=tenant, profiles=profiles, force=force))
