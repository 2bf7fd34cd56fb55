"""Creating a tenant's keyring on request (``keys init``), replacing a lost one.

``keys init --replace-lost`` (:func:`init_keyring`) makes a new keyring for a tenant
whose keyring was lost (``rdapctl.store.keys.loss``): the cache sealed under the lost
keys is dropped (nobody can read it) and the audit trail goes on in a new segment
whose first record, ``keyring_replaced``, carries the hash and count of the old
chain (see ``rdapctl.store.audit.format``).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any

from rdapctl.core.records import record
from rdapctl.policy.tenant import Tenant
from rdapctl.store.keys.loss import keyring_lost_error, tenant_state
from rdapctl.store.paths import StatePaths, check_state


@record
class KeysInit:
    """What ``keys init`` did."""

    tenant: str
    replaced_lost: bool
    found: tuple[str, ...] = ()
    cache_dropped: bool = False
    old_records: int | None = None
    record_id: str | None = None
    warnings: list[str] = field(default_factory=list)


def init_keyring(
    paths: StatePaths,
    tenant: Tenant,
    env: Mapping[str, str],
    *,
    replace_lost: bool = False,
    command: str = "keys init",
    clock: Callable[[], float] = time.time,
) -> KeysInit:
    """Create the keyring of a tenant that has none.

    ConfigError (exit 3) when it has one. When its cache or audit data exist the
    keyring was lost: IntegrityError (exit 9) unless ``replace_lost``, which also drops
    the cache and starts a new audit segment (``keyring_replaced``).
    """
    from rdapctl.store.keys.keyring import Keyring

    name = tenant.name
    check_state(paths, name)  # never write keys into state another account controls
    found = tenant_state(paths, name)
    if found and not replace_lost and not os.path.lexists(paths.keyring_file(name)):
        raise keyring_lost_error(name, found)
    # A replacement is stored last: interrupted before that (a crash, a full disk), the
    # keyring is still missing and the same command can simply be run again (a segment
    # record sealed under keys never stored then counts as part of the old segment).
    ring = Keyring.create(paths, name, env, clock, save=not found)
    if not found:
        return KeysInit(name, False)
    dropped = "cache" in found and _drop_cache(paths, name)
    from rdapctl.store.audit.log import AuditLog

    log = AuditLog(
        paths, tenant, ring.audit_key(), command=command, clock=clock, trail_started=True
    )
    fields: dict[str, Any] = {"reason": "keyring lost", "cache_dropped": dropped}
    rec = log.start_segment(fields)
    ring.save_created(audit_started=True)
    warnings = []
    old = rec.get("old_checkpoint")
    if isinstance(old, dict) and old.get("head") != rec.get("old_head"):
        warnings.append(
            "the old checkpoint (unverifiable now) does not name the last record left:"
            " the newest records under the lost key may be missing"
        )
    return KeysInit(name, True, found, dropped, rec.get("old_count"), rec.get("id"), warnings)


def _drop_cache(paths: StatePaths, tenant: str) -> bool:
    """Delete the tenant's cache store (rdapctl's own folder; a link is removed, not
    followed). Its entries are sealed under the lost keys: nobody can read them."""
    store = paths.tenant_cache_dir(tenant)
    if store.is_symlink() or not store.is_dir():
        store.unlink(missing_ok=True)
    else:
        shutil.rmtree(store)
    return True
