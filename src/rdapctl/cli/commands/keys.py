"""``rdapctl keys status|init|rotate|export|import``: never prints key material.

A keyring file is read from disk (another local account may have planted one), so
every value of it shown as text goes through :func:`rdapctl.core.termtext.visible` and
reaches rich only as a ``Text`` (never parsed as markup or emoji).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import FormatOpt, ProfilesOpt, TenantOpt

PASSPHRASE_ENV = "RDAPCTL_BACKUP_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
MIN_PASSPHRASE = 12

app = typer.Typer(
    help="The tenant's keyring: status, init, rotate, export, import.", rich_markup_mode=None
)


@app.command("status")
@exits
def keys_status(
    tenant: TenantOpt = None, profiles: ProfilesOpt = None, output: FormatOpt = None
) -> int:
    """Key ids, ages, status and whether they are wrapped (never the key material)."""
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.cli.output import choose_format, console, print_json
    from rdapctl.core.records import as_dict

    out = choose_format(output)
    runtime = make_runtime("keys status")
    chosen = resolve_tenant(runtime, profiles, tenant)
    with TenantSession(runtime, chosen) as session:
        keyring = session.keyring
        infos = keyring.status()
        wrapped = keyring.wrapped
        where = str(keyring.path)
    if out == "json":
        print_json(
            {
                "schema": 1,
                "tenant": chosen.name,
                "keyring": where,
                "wrapped": wrapped,
                "rotation_days": chosen.keys.rotation_days,
                "keys": [as_dict(k) for k in infos],
            }
        )
        return 0
    from rich.table import Table
    from rich.text import Text

    con = console()
    head = Text(f"tenant {_safe(chosen.name)}: {_safe(where)} (")
    if wrapped:
        head.append("wrapped by the master key")
    else:
        head.append("not wrapped (no master key)", style="yellow")
    head.append(")")
    con.print(head)
    table = Table("key id", "purpose", "status", "created", "age (days)")
    for k in infos:
        cells = (k.id, k.purpose, k.status, _day(k.created_at), f"{k.age_days:.1f}")
        table.add_row(*(Text(_safe(cell)) for cell in cells))
    con.print(table)
    return 0


@app.command("init")
@exits
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
) -> int:
    """Create a keyring for a tenant that has none (refuses when one exists)."""
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.cli.output import choose_format, print_json
    from rdapctl.core import diagnostics
    from rdapctl.store.keys.replace import init_keyring

    out = choose_format(output)
    runtime = make_runtime("keys init")
    chosen = resolve_tenant(runtime, profiles, tenant)
    if chosen.team is not None:
        _refuse_init_over_team_keyring(runtime, chosen, replace_lost)
    done = init_keyring(
        runtime.paths, chosen, runtime.env, replace_lost=replace_lost, clock=runtime.clock
    )
    for warning in done.warnings:
        diagnostics.warning(warning)
    if out == "json":
        print_json(
            {
                "schema": 1,
                "tenant": chosen.name,
                "created": True,
                "replaced_lost": done.replaced_lost,
                "cache_dropped": done.cache_dropped,
                "old_records": done.old_records,
            }
        )
        return 0
    name = _safe(chosen.name)
    if not done.replaced_lost:
        diagnostics.note(f"created the keyring of {name}")
        return 0
    diagnostics.note(f"replaced the lost keyring of {name}")
    if done.cache_dropped:
        diagnostics.note(f"dropped the cache of {name} (sealed under the lost keys)")
    if done.old_records is not None:
        diagnostics.note(
            f"new audit segment after {done.old_records} records sealed under the lost"
            " key (`rdapctl audit verify` reports them as a warning)"
        )
    return 0


@app.command("rotate")
@exits
def keys_rotate(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    retire_old: Annotated[
        bool, typer.Option("--retire-old", help="Make entries under older keys unreadable.")
    ] = False,
    output: FormatOpt = None,
) -> int:
    """Create a new active data key; old keys stay readable unless --retire-old."""
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.cli.output import choose_format, print_json

    out = choose_format(output)
    runtime = make_runtime("keys rotate")
    chosen = resolve_tenant(runtime, profiles, tenant)
    with TenantSession(runtime, chosen) as session:
        new = session.keyring.rotate()
        retired = session.keyring.retire_old() if retire_old else []
        session.record(
            "key_rotation",
            {"key_id": new.id, "reason": "manual", "retired": [k.id for k in retired]},
        )
    if out == "json":
        print_json(
            {
                "schema": 1,
                "tenant": chosen.name,
                "active": new.id,
                "retired": [k.id for k in retired],
            }
        )
    else:
        name = _safe(chosen.name)
        print(f"{name}: new active data key {_safe(new.id)}")
        for k in retired:
            print(f"{name}: retired {_safe(k.id)} (entries under it are no longer readable)")
    return 0


@app.command("export")
@exits
def keys_export(
    output_file: Annotated[Path, typer.Option("--output", help="Backup file to write.")],
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing backup file.")
    ] = False,
) -> int:
    """Write an offline backup of the keyring (a new 0600 file), encrypted under a passphrase."""
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.core import diagnostics
    from rdapctl.core.errors import UsageError
    from rdapctl.store.exportfile import refuse_existing, write_export

    runtime = make_runtime("keys export")
    chosen = resolve_tenant(runtime, profiles, tenant)
    refuse_existing(output_file, force=force)  # before asking for a passphrase
    passphrase = _passphrase(confirm=True)
    if len(passphrase) < MIN_PASSPHRASE:
        raise UsageError(f"the backup passphrase must be at least {MIN_PASSPHRASE} characters")
    with TenantSession(runtime, chosen) as session:
        blob = session.keyring.export_keyring(passphrase)
    write_export(output_file, blob, force=force)
    diagnostics.note(f"wrote the keyring backup of {chosen.name} to {output_file}")
    return 0


@app.command("import")
@exits
def keys_import(
    backup: Annotated[Path, typer.Argument(help="Backup file written by keys export.")],
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a different live keyring.")
    ] = False,
) -> int:
    """Restore a keyring backup (refuses to replace a different keyring without --force)."""
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.core import diagnostics
    from rdapctl.core.errors import UsageError
    from rdapctl.store.keys.keyring import import_keyring

    runtime = make_runtime("keys import")
    chosen = resolve_tenant(runtime, profiles, tenant)
    try:
        blob = backup.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {backup}: {exc.strerror}") from exc
    import_keyring(
        runtime.paths, chosen.name, blob, _passphrase(confirm=False), runtime.env, force=force
    )
    diagnostics.note(f"restored the keyring of {chosen.name} from {backup}")
    if chosen.team is not None:
        from rdapctl.app.session import TenantSession
        from rdapctl.store.team.keyring import publish_keyring

        with TenantSession(runtime, chosen) as session:
            if publish_keyring(session.team, runtime.paths, chosen.name, runtime.env, force=force):
                from rdapctl.store.team.backend import shown_url

                diagnostics.note(
                    f"the team backend holds it now: {shown_url(session.team.settings)}"
                )
    return 0


def _refuse_init_over_team_keyring(runtime: Any, chosen: Any, replace_lost: bool) -> None:
    """A team tenant whose team already has a keyring uses it: no init (ConfigError)."""
    from rdapctl.app.session import TenantSession
    from rdapctl.core.errors import ConfigError
    from rdapctl.store.team.keyring import team_has_keyring

    with TenantSession(runtime, chosen) as session:
        if team_has_keyring(session.team) and not replace_lost:
            raise ConfigError(
                f"the team backend already holds the keyring of tenant {chosen.name}",
                hint="nothing to create: every command of this tenant uses the team's keyring",
                code="keyring_exists",
            )


def _safe(value: object) -> str:
    """``value`` as one terminal-safe line."""
    from rdapctl.core.termtext import visible

    return visible(str(value), one_line=True)


def _day(epoch: float) -> str:
    """The UTC day of a creation time; "?" when a planted file holds no real time."""
    import time

    try:
        return time.strftime("%Y-%m-%d", time.gmtime(epoch))
    except (OverflowError, ValueError, OSError, TypeError):
        return "?"


def _passphrase(confirm: bool) -> str:
    import getpass
    import sys

    from rdapctl.cli.context import make_runtime
    from rdapctl.core.errors import UsageError

    env = make_runtime("keys").env
    if env.get(PASSPHRASE_ENV):
        return env[PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        raise UsageError(
            "no passphrase for the backup",
            hint=f"set {PASSPHRASE_ENV} or run from a terminal to be prompted",
        )
    first = getpass.getpass("Backup passphrase: ")
    if confirm and getpass.getpass("Repeat passphrase: ") != first:
        raise UsageError("the passphrases differ")
    return first
