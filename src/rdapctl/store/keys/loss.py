"""A lost keyring: telling it from a new tenant, and the error that stops commands.

A tenant whose keyring is missing while its cache or audit trail exist lost it
(deleted, or never restored after a move). Making a new keyring without a word would
leave a cache nobody can read and an audit trail whose MACs and checkpoint fail for
ever, so commands that need the keys stop with exit 9 (:func:`keyring_lost_error`)
until a person either restores the backup (``keys import``) or replaces the keyring
(``keys init --replace-lost``, ``rdapctl.store.keys.replace``). A brand-new tenant
(no keyring, cache or audit data) gets its keyring silently.
"""

from __future__ import annotations

import os

from rdapctl.core.errors import IntegrityError
from rdapctl.store.audit.format import CHECKPOINT_NAME, list_day_files
from rdapctl.store.paths import StatePaths


def tenant_state(paths: StatePaths, tenant: str) -> tuple[str, ...]:
    """Which of the tenant's keyed data exist on disk: ``"cache"``, ``"audit"``."""
    found: list[str] = []
    if os.path.lexists(paths.tenant_cache_dir(tenant) / "cache.db"):
        found.append("cache")  # an empty folder holds nothing sealed under the keys
    audit = paths.tenant_audit_dir(tenant)
    try:
        has_trail = os.path.lexists(audit / CHECKPOINT_NAME) or bool(list_day_files(audit))
    except OSError:
        has_trail = os.path.lexists(audit)  # something is there that is not a folder
    if has_trail:
        found.append("audit")
    return tuple(found)


def keyring_lost_error(tenant: str, found: tuple[str, ...]) -> IntegrityError:
    """Exit 9: the keyring is missing but data sealed under it remain."""
    return IntegrityError(
        f"the keyring of tenant {tenant} is missing but its cache/audit data exist:"
        " restore it with `rdapctl keys import BACKUP`, or start a new keyring with"
        " `rdapctl keys init --replace-lost`",
        hint=f"found: {' and '.join(found)}; `--replace-lost` drops the cache it can no"
        " longer read and starts a new audit segment (the old one stays, hash-checked only)",
        code="keyring_lost",
    )
