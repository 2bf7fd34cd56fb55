"""``rdapctl keys status|rotate|export|import``: never prints key material.

A keyring file is read from disk (another local account may have planted one), so
every value of it shown as text goes through :func:`rdapctl.core.termtext.visible` and
reaches rich only as a ``Text`` (never parsed as markup or emoji).
"""

from __future__ import annotations

import getpass
import sys
import time
from dataclasses import asdict
from pathlib import Path

from rdapctl.app.session import TenantSession
from rdapctl.cli.context import make_runtime, resolve_tenant
from rdapctl.cli.output import choose_format, console, print_json
from rdapctl.core.errors import UsageError
from rdapctl.core.termtext import visible

PASSPHRASE_ENV = "RDAPCTL_BACKUP_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
MIN_PASSPHRASE = 12


def status(*, tenant: str | None, profiles: Path | None, fmt: str | None) -> int:
    out = choose_format(fmt)
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
                "tenant": chosen.name,
                "keyring": where,
                "wrapped": wrapped,
                "rotation_days": chosen.keys.rotation_days,
                "keys": [asdict(k) for k in infos],
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


def _safe(value: object) -> str:
    """``value`` as one terminal-safe line."""
    return visible(str(value), one_line=True)


def _day(epoch: float) -> str:
    """The UTC day of a creation time; "?" when a planted file holds no real time."""
    try:
        return time.strftime("%Y-%m-%d", time.gmtime(epoch))
    except (OverflowError, ValueError, OSError, TypeError):
        return "?"


def init(*, tenant: str | None, profiles: Path | None, replace_lost: bool, fmt: str | None) -> int:
    from rdapctl.store.keys.replace import init_keyring

    out = choose_format(fmt)
    runtime = make_runtime("keys init")
    chosen = resolve_tenant(runtime, profiles, tenant)
    done = init_keyring(
        runtime.paths, chosen, runtime.env, replace_lost=replace_lost, clock=runtime.clock
    )
    for warning in done.warnings:
        runtime.warn(warning)
    if out == "json":
        print_json(
            {
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
        print(f"rdapctl: created the keyring of {name}", file=sys.stderr)
        return 0
    print(f"rdapctl: replaced the lost keyring of {name}", file=sys.stderr)
    if done.cache_dropped:
        print(f"rdapctl: dropped the cache of {name} (sealed under the lost keys)", file=sys.stderr)
    if done.old_records is not None:
        print(
            f"rdapctl: new audit segment after {done.old_records} records sealed under the lost"
            " key (`rdapctl audit verify` reports them as a warning)",
            file=sys.stderr,
        )
    return 0


def rotate(*, tenant: str | None, profiles: Path | None, retire_old: bool, fmt: str | None) -> int:
    out = choose_format(fmt)
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
        print_json({"tenant": chosen.name, "active": new.id, "retired": [k.id for k in retired]})
    else:
        name = _safe(chosen.name)
        print(f"{name}: new active data key {_safe(new.id)}")
        for k in retired:
            print(f"{name}: retired {_safe(k.id)} (entries under it are no longer readable)")
    return 0


def _passphrase(confirm: bool) -> str:
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


def export(output: Path, *, tenant: str | None, profiles: Path | None, force: bool = False) -> int:
    from rdapctl.store.exportfile import refuse_existing, write_export

    runtime = make_runtime("keys export")
    chosen = resolve_tenant(runtime, profiles, tenant)
    refuse_existing(output, force=force)  # before asking for a passphrase
    passphrase = _passphrase(confirm=True)
    if len(passphrase) < MIN_PASSPHRASE:
        raise UsageError(f"the backup passphrase must be at least {MIN_PASSPHRASE} characters")
    with TenantSession(runtime, chosen) as session:
        blob = session.keyring.export_keyring(passphrase)
    write_export(output, blob, force=force)
    print(f"rdapctl: wrote the keyring backup of {chosen.name} to {output}", file=sys.stderr)
    return 0


def import_(backup: Path, *, tenant: str | None, profiles: Path | None, force: bool) -> int:
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
    print(f"rdapctl: restored the keyring of {chosen.name} from {backup}", file=sys.stderr)
    return 0
