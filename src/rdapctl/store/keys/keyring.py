"""One tenant's keys: :class:`Keyring` (``keys/<tenant>.json``) and restoring a backup.

* ``data`` keys encrypt cache values (one ``active``; after :meth:`Keyring.rotate`
  older ones are ``previous``, still readable, until :meth:`Keyring.retire_old`
  makes them ``retired``: their material is erased, so entries under them become
  unreadable, which is the point of retiring);
* one ``index`` key (HMAC of cache keys, so queried names never reach the disk);
* one ``audit`` key (MACs of the audit log; never used for anything else).

Keyrings are created race-free under the keyring lock, and never replaced silently:
a keyring that is missing while data sealed under it remain is "lost"
(``rdapctl.store.keys.loss``). The file format and wrapping under the master key are
in ``rdapctl.store.keys.keyfile``, the master key in ``rdapctl.store.keys.master``,
the backup format in ``rdapctl.store.keys.backup``. Importing a backup over a
*different* live keyring without ``force`` is a ConfigError (exit 3): it is a choice
the user must make, not damage.

This module must never print, log or put key material in an exception or a repr.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from rdapctl.core.errors import ConfigError, IntegrityError
from rdapctl.core.records import record
from rdapctl.policy.tenant import check_tenant_name
from rdapctl.store.keys.keyfile import (
    FINGERPRINT_LABEL,
    KEY_ID_PATTERN,
    PURPOSES,
    StoredKey,
    damaged,
    keyring_lock,
    new_stored_key,
    read_keyring_file,
    write_keyring_file,
)
from rdapctl.store.keys.master import master_key_from_env
from rdapctl.store.paths import StatePaths, check_state

SECONDS_PER_DAY = 86400.0


@record
class KeyInfo:
    """What may be shown about a key: never its material."""

    id: str
    purpose: str
    status: str
    created_at: float
    age_days: float
    wrapped: bool


def _check_tenant(tenant: str) -> None:
    check_tenant_name(tenant)


class Keyring:
    """One tenant's keys, loaded and verified. Build it with :meth:`open`."""

    def __init__(
        self,
        paths: StatePaths,
        tenant: str,
        master: bytes | None,
        keys: list[StoredKey],
        clock: Callable[[], float],
    ) -> None:
        self.paths = paths
        self.tenant = tenant
        self._master = master
        self._keys = keys
        self._clock = clock
        # How the file on disk is stored, which may lag behind self._master (upgrade).
        self._stored_wrapped = False
        # When the tenant's audit trail was started (None: never). Sealed with the keys,
        # so a trail deleted whole is "missing", not "empty" (see rdapctl.store.keys.loss).
        self._audit_started: float | None = None

    def __repr__(self) -> str:
        return f"Keyring(tenant={self.tenant!r}, wrapped={self.wrapped}, keys={len(self._keys)})"

    @property
    def wrapped(self) -> bool:
        return self._master is not None

    @property
    def path(self) -> Path:
        return self.paths.keyring_file(self.tenant)

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        paths: StatePaths,
        tenant: str,
        env: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> Keyring:
        """Load the tenant's keyring, creating it (race-free) when there is none.

        ConfigError for a malformed master key; IntegrityError for a keyring the
        master key does not open, that needs a master key, or that is damaged.
        """
        _check_tenant(tenant)
        master = master_key_from_env(env)
        ring = cls(paths, tenant, master, [], clock)
        path = ring.path
        if path.exists():
            ring._keys = ring._load()
        else:
            with keyring_lock(paths, tenant):
                # Re-check under the lock: another process may have won the race.
                if path.exists():
                    ring._keys = ring._load()
                else:
                    from rdapctl.store.keys.loss import keyring_lost_error, tenant_state

                    left = tenant_state(paths, tenant)
                    if left:
                        # A lost keyring is never replaced without a word (see keys init).
                        raise keyring_lost_error(tenant, left)
                    now = clock()
                    ring._keys = [new_stored_key(p, now) for p in PURPOSES]
                    ring._save()
        if master is not None and not ring._stored_wrapped:
            with keyring_lock(paths, tenant):
                ring._keys = ring._load()
                if not ring._stored_wrapped:
                    ring._save()  # upgrade: wrap the raw keyring under the master key
        if ring._audit_started is None:
            from rdapctl.store.keys.loss import tenant_state

            if "audit" in tenant_state(paths, tenant):
                # A keyring from before trails were marked: mark the trail it already
                # has now, so that deleting it whole is never "intact (0 records)".
                ring.mark_audit_started()
        return ring

    @classmethod
    def create(
        cls,
        paths: StatePaths,
        tenant: str,
        env: Mapping[str, str],
        clock: Callable[[], float] = time.time,
        *,
        save: bool = True,
    ) -> Keyring:
        """Create a new keyring for a tenant that has none (``keys init``).

        ConfigError (``keyring_exists``) when one exists. Unlike :meth:`open` it does
        not look at the tenant's cache or audit data: the caller decides (see
        ``rdapctl.store.keys.replace.init_keyring``). ``save=False``: the keys exist in memory
        only until :meth:`save_created` (so that what is sealed under them can be
        written first, and an interrupted replacement can simply be run again).
        """
        _check_tenant(tenant)
        ring = cls(paths, tenant, master_key_from_env(env), [], clock)
        with keyring_lock(paths, tenant):
            ring._refuse_existing()
            now = clock()
            ring._keys = [new_stored_key(p, now) for p in PURPOSES]
            if save:
                ring._save()
        return ring

    def save_created(self, *, audit_started: bool) -> None:
        """Store a keyring made with ``create(save=False)``; ConfigError when another
        one appeared meanwhile."""
        with keyring_lock(self.paths, self.tenant):
            self._refuse_existing()
            if audit_started:
                self._audit_started = self._clock()
            self._save()

    def _refuse_existing(self) -> None:
        if os.path.lexists(self.path):
            raise ConfigError(
                f"tenant {self.tenant} already has a keyring",
                hint="`rdapctl keys status` shows it; `keys rotate` makes new data keys",
                code="keyring_exists",
            )

    @classmethod
    def load(
        cls,
        paths: StatePaths,
        tenant: str,
        env: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> Keyring | None:
        """Load the tenant's keyring read-only, or None when it has none.

        Unlike :meth:`open` it never creates, wraps or rotates anything (for checks
        such as ``doctor``). Same errors as :meth:`open`.
        """
        _check_tenant(tenant)
        ring = cls(paths, tenant, master_key_from_env(env), [], clock)
        if not ring.path.exists():
            return None
        ring._keys = ring._load()
        return ring

    @property
    def audit_started(self) -> bool:
        """Whether the keyring records that the tenant's audit trail was started."""
        return self._audit_started is not None

    def mark_audit_started(self) -> bool:
        """Record (once) that the tenant's audit trail is started. Returns whether the
        keyring on disk already said so (another process may have marked it)."""
        with keyring_lock(self.paths, self.tenant):
            self._keys = self._load()
            if self._audit_started is not None:
                return True
            self._audit_started = self._clock()
            self._save()
        return False

    @property
    def stored_wrapped(self) -> bool:
        """Whether the file on disk holds its key material wrapped by a master key."""
        return self._stored_wrapped

    def fingerprints(self) -> dict[str, str]:
        """Key id -> SHA-256 (hex) of the raw material of every readable key.

        For comparing keyrings (no key may be shared between tenants); a fingerprint
        is not material, but callers should still not print it.
        """
        return {
            k.id: hashlib.sha256(FINGERPRINT_LABEL + k.material).hexdigest()
            for k in self._keys
            if k.material is not None
        }

    def _load(self) -> list[StoredKey]:
        """Read and verify the keyring file; remember how it is stored."""
        loaded = read_keyring_file(self.path, self.tenant, self._master)
        self._stored_wrapped = loaded.wrapped
        self._audit_started = loaded.audit_started
        return loaded.keys

    def _save(self) -> None:
        """Write the keyring atomically (0600). Callers hold the lock."""
        write_keyring_file(self.path, self.tenant, self._master, self._keys, self._audit_started)
        self._stored_wrapped = self._master is not None

    def reload(self) -> None:
        """Re-read the keyring (another process may have rotated it)."""
        self._keys = self._load()

    # -- reading keys -------------------------------------------------------------------

    def _active(self, purpose: str) -> StoredKey:
        for key in self._keys:
            if key.purpose == purpose and key.status == "active":
                return key
        raise damaged(self.tenant, f"no active {purpose} key")  # parse_keys rules this out

    def active_data_key(self) -> tuple[str, bytes]:
        """(key id, material) of the key new cache entries are sealed under."""
        key = self._active("data")
        assert key.material is not None
        return key.id, key.material

    def data_key(self, key_id: str) -> bytes | None:
        """Material of a readable (active or previous) data key, or None if gone/retired."""
        for attempt in range(2):
            for key in self._keys:
                if key.id == key_id and key.purpose == "data" and key.material is not None:
                    return key.material
            if attempt == 0 and KEY_ID_PATTERN.match(key_id) and key_id.startswith("data-"):
                try:
                    self.reload()
                except IntegrityError:
                    return None
        return None

    def index_key(self) -> bytes:
        key = self._active("index")
        assert key.material is not None
        return key.material

    def audit_key(self) -> bytes:
        """The key the audit log MACs its records with (used for nothing else)."""
        key = self._active("audit")
        assert key.material is not None
        return key.material

    def readable_data_key_ids(self) -> set[str]:
        return {k.id for k in self._keys if k.purpose == "data" and k.material is not None}

    def _info(self, key: StoredKey) -> KeyInfo:
        age = max(0.0, (self._clock() - key.created_at) / SECONDS_PER_DAY)
        return KeyInfo(key.id, key.purpose, key.status, key.created_at, age, self.wrapped)

    def status(self) -> list[KeyInfo]:
        """Every key's id, purpose, status, creation time and age: never material."""
        return [self._info(k) for k in sorted(self._keys, key=lambda k: (k.created_at, k.id))]

    # -- changing keys ------------------------------------------------------------------

    def _rotatekeyring_lock(self) -> KeyInfo:
        for key in self._keys:
            if key.purpose == "data" and key.status == "active":
                key.status = "previous"
        new = new_stored_key("data", self._clock())
        self._keys.append(new)
        self._save()
        return self._info(new)

    def rotate(self) -> KeyInfo:
        """Make a new active data key; the old one stays readable as 'previous'."""
        with keyring_lock(self.paths, self.tenant):
            self._keys = self._load()
            return self._rotatekeyring_lock()

    def retire_old(self) -> list[KeyInfo]:
        """Erase the material of every 'previous' data key; entries under them become
        unreadable. Returns the keys retired."""
        with keyring_lock(self.paths, self.tenant):
            self._keys = self._load()
            now = self._clock()
            retired = []
            for key in self._keys:
                if key.purpose == "data" and key.status == "previous":
                    key.status, key.material, key.retired_at = "retired", None, now
                    retired.append(key)
            if retired:
                self._save()
            return [self._info(k) for k in retired]

    def ensure_fresh(self, rotation_days: int, notify: Callable[[str], None]) -> KeyInfo | None:
        """Rotate the active data key if it is older than ``rotation_days`` (0 or less:
        never), call ``notify`` with a one-line message and return the new key's info."""
        if rotation_days <= 0:
            return None
        limit = rotation_days * SECONDS_PER_DAY
        if self._clock() - self._active("data").created_at <= limit:
            return None
        with keyring_lock(self.paths, self.tenant):
            self._keys = self._load()
            old = self._active("data")
            age = self._clock() - old.created_at
            if age <= limit:
                return None  # another process rotated first
            info = self._rotatekeyring_lock()
        notify(
            f"rotated the data key of tenant {self.tenant}: {old.id} was"
            f" {age / SECONDS_PER_DAY:.0f} days old (rotation_days = {rotation_days});"
            f" new key {info.id}"
        )
        return info

    # -- backup -------------------------------------------------------------------------
    def export_keyring(self, passphrase: str) -> bytes:
        """An offline backup: the keyring (unwrapped) encrypted under a key scrypt derives
        from ``passphrase``. Versioned JSON bytes (``rdapctl.store.keys.backup``)."""
        from rdapctl.store.keys.backup import seal_backup

        return seal_backup(self.tenant, self._keys, self._audit_started, passphrase, self._clock)


def import_keyring(
    paths: StatePaths,
    tenant: str,
    blob: bytes,
    passphrase: str,
    env: Mapping[str, str],
    *,
    force: bool = False,
    clock: Callable[[], float] = time.time,
) -> Keyring:
    """Restore a backup made by :meth:`Keyring.export_keyring` as ``tenant``'s keyring,
    wrapped under the current master key if one is set.

    IntegrityError: wrong passphrase or damaged backup. ConfigError: the backup is of
    another tenant, or a different live keyring exists and ``force`` is False.
    """
    _check_tenant(tenant)

    check_state(paths, tenant)  # never write keys into state another account controls
    master = master_key_from_env(env)
    from rdapctl.store.keys.backup import open_backup

    backup_tenant, keys, started = open_backup(blob, passphrase)
    if backup_tenant != tenant:
        raise ConfigError(
            f"the backup holds the keyring of tenant {backup_tenant}, not {tenant}",
            hint=f"import it as tenant {backup_tenant}",
        )
    ring = Keyring(paths, tenant, master, keys, clock)
    ring._audit_started = started
    if started is None:
        from rdapctl.store.keys.loss import tenant_state

        # An older backup does not say; a trail on disk does (marking is the safe side).
        if "audit" in tenant_state(paths, tenant):
            ring._audit_started = clock()
    with keyring_lock(paths, tenant):
        if ring.path.exists() and not force:
            try:
                live_keys: list[StoredKey] | None = read_keyring_file(
                    ring.path, tenant, master
                ).keys
            except IntegrityError:
                live_keys = None
            same = live_keys is not None and sorted(
                (k.id, k.purpose, k.material or b"") for k in live_keys
            ) == sorted((k.id, k.purpose, k.material or b"") for k in keys)
            if not same:
                raise ConfigError(
                    f"tenant {tenant} already has a different keyring",
                    hint="use --force to replace it; entries cached under its keys become"
                    " unreadable",
                    code="keyring_exists",
                )
        ring._save()
    return ring
