"""Per-tenant key management: the keyring file ``keys/<tenant>.json``.

Owns creating (race-free), loading, verifying, wrapping under the master key,
rotating, retiring, exporting and importing one tenant's keys:

* ``data`` keys encrypt cache values (one ``active``; after :meth:`Keyring.rotate`
  older ones are ``previous``, still readable, until :meth:`Keyring.retire_old`
  makes them ``retired``: their material is erased, so entries under them become
  unreadable, which is the point of retiring);
* one ``index`` key (HMAC of cache keys, so queried names never reach the disk);
* one ``audit`` key (MACs of the audit log; never used for anything else).

Master key: ``RDAPCTL_MASTER_KEY`` is the base64 of exactly 32 bytes;
``RDAPCTL_MASTER_KEY_FILE`` names a file holding either exactly 32 raw bytes or that
base64 text (surrounding whitespace ignored). Setting both is a ConfigError. With a
master key, key material is stored AES-256-GCM-wrapped (associated data = tenant and
key id) and never touches the disk in clear; a raw keyring found while a master key is
set is wrapped on first open.

Importing a backup over a *different* live keyring without ``force`` is a ConfigError
(exit 3): it is a choice the user must make, not damage.

This module must never print, log or put key material in an exception or a repr,
and never silently replace a keyring it cannot open.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, Literal

from rdapctl.core.errors import ConfigError, IntegrityError, UsageError
from rdapctl.core.records import mutable_record, record
from rdapctl.policy.tenant import is_tenant_name
from rdapctl.store.locks import LockFile, held
from rdapctl.store.ownership import read_private
from rdapctl.store.paths import StatePaths, ensure_private_dir, write_private_file

Purpose = Literal["data", "index", "audit"]
Status = Literal["active", "previous", "retired"]

PURPOSES: tuple[str, ...] = ("data", "index", "audit")
STATUSES: tuple[str, ...] = ("active", "previous", "retired")
KEYRING_FORMAT = "rdapctl-keyring"
BACKUP_FORMAT = "rdapctl-keyring-backup"
FORMAT_VERSION = 1
SECONDS_PER_DAY = 86400.0
_WRAPPED_SIZE = 12 + 32 + 16  # nonce + key + GCM tag

_KEY_ID_PATTERN = re.compile(r"^(data|index|audit)-[0-9a-f]{16}$")
_MASTER_HINT = (
    "set RDAPCTL_MASTER_KEY to the base64 of 32 random bytes (e.g. `openssl rand -base64 32`)"
    " or RDAPCTL_MASTER_KEY_FILE to a file holding it"
)
_FINGERPRINT_LABEL = b"rdapctl key fingerprint v1\x00"
_RESTORE_HINT = (
    "restore the keyring from a backup (`rdapctl keys import`), or move the file away to"
    " start a new keyring (entries cached under the old keys are then lost)"
)


@record
class KeyInfo:
    """What may be shown about a key: never its material."""

    id: str
    purpose: str
    status: str
    created_at: float
    age_days: float
    wrapped: bool


@mutable_record
class _Key:
    id: str
    purpose: str
    status: str
    created_at: float
    material: bytes | None = field(default=None, repr=False)
    retired_at: float | None = None


# --------------------------------------------------------------------------- master key


def master_key_from_env(env: Mapping[str, str]) -> bytes | None:
    """The master key the environment names, or None. ConfigError when it is malformed."""
    value = env.get("RDAPCTL_MASTER_KEY") or None
    path = env.get("RDAPCTL_MASTER_KEY_FILE") or None
    if value and path:
        raise ConfigError(
            "both RDAPCTL_MASTER_KEY and RDAPCTL_MASTER_KEY_FILE are set",
            hint="set only one of them",
        )
    if value:
        key = _b64_32(value.strip().encode("ascii", "replace"))
        if key is None:
            raise ConfigError(
                "RDAPCTL_MASTER_KEY is not the base64 of exactly 32 bytes", hint=_MASTER_HINT
            )
        return key
    if path:
        try:
            data = Path(path).expanduser().read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read RDAPCTL_MASTER_KEY_FILE {path}: {exc.strerror or 'unreadable'}",
                hint="check the path and that the file is readable by you",
            ) from None
        # 32 raw bytes and base64 text of 32 bytes (44 characters) cannot be confused.
        key = data if len(data) == 32 else _b64_32(data.strip())
        if key is None:
            raise ConfigError(
                f"RDAPCTL_MASTER_KEY_FILE {path} holds neither 32 raw bytes nor the base64"
                " of 32 bytes",
                hint=_MASTER_HINT,
            )
        return key
    return None


def _b64_32(text: bytes) -> bytes | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


# --------------------------------------------------------------------------- helpers


def _check_tenant(tenant: str) -> None:
    if not is_tenant_name(tenant):
        raise ConfigError(f"invalid tenant name {tenant!r}")


def _canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _wrap_aad(tenant: str, key_id: str) -> bytes:
    return b"rdapctl-keyring-wrap/v1\x00" + tenant.encode() + b"\x00" + key_id.encode()


def _locked(paths: StatePaths, tenant: str) -> contextlib.AbstractContextManager[LockFile]:
    """Exclusive lock over a tenant's keyring across processes (keys/<tenant>.lock)."""
    ensure_private_dir(paths.keys_dir)
    return held(paths.keys_dir / f"{tenant}.lock")


def _new_key(purpose: str, now: float) -> _Key:
    from rdapctl.store.crypto import new_key

    return _Key(
        id=f"{purpose}-{os.urandom(8).hex()}",
        purpose=purpose,
        status="active",
        created_at=now,
        material=new_key(),
    )


def _damaged(tenant: str, why: str) -> IntegrityError:
    return IntegrityError(
        f"the keyring of tenant {tenant} is damaged ({why})",
        hint=_RESTORE_HINT,
        code="keyring_damaged",
    )


def _parse_keys(tenant: str, items: object) -> list[_Key]:
    """Validate the shape of a keyring's key list; material stays encoded (str) here."""
    if not isinstance(items, list):
        raise _damaged(tenant, "no key list")
    keys: list[_Key] = []
    for item in items:
        if not isinstance(item, dict):
            raise _damaged(tenant, "a key entry is not an object")
        kid, purpose, status = item.get("id"), item.get("purpose"), item.get("status")
        created, material = item.get("created_at"), item.get("material")
        retired_at = item.get("retired_at")
        if not (isinstance(kid, str) and _KEY_ID_PATTERN.match(kid)):
            raise _damaged(tenant, "a key id is malformed")
        if purpose not in PURPOSES or status not in STATUSES or not kid.startswith(purpose):
            raise _damaged(tenant, f"key {kid} has an unknown purpose or status")
        if not isinstance(created, int | float) or isinstance(created, bool):
            raise _damaged(tenant, f"key {kid} has no creation time")
        if status == "retired":
            if material is not None:
                raise _damaged(tenant, f"retired key {kid} still holds material")
        elif not isinstance(material, str):
            raise _damaged(tenant, f"key {kid} has no material")
        if retired_at is not None and not isinstance(retired_at, int | float):
            raise _damaged(tenant, f"key {kid} has a bad retirement time")
        keys.append(_Key(kid, purpose, status, float(created), None, retired_at))
        keys[-1].material = material  # type: ignore[assignment]  # decoded by the caller
    if len({k.id for k in keys}) != len(keys):
        raise _damaged(tenant, "duplicate key ids")
    for purpose in PURPOSES:
        if sum(1 for k in keys if k.purpose == purpose and k.status == "active") != 1:
            raise _damaged(tenant, f"not exactly one active {purpose} key")
    return keys


def _decode_raw_material(tenant: str, keys: list[_Key], size: int = 32) -> None:
    """Decode base64 material in place; ``size`` is 32 for raw keys, more when wrapped."""
    for key in keys:
        if key.material is None:
            continue
        try:
            raw = base64.b64decode(key.material, validate=True)  # type: ignore[arg-type]
        except (binascii.Error, ValueError):
            raise _damaged(tenant, f"key {key.id} material is not base64") from None
        if len(raw) != size:
            raise _damaged(tenant, f"key {key.id} material has the wrong length")
        key.material = raw


def stored_fingerprints(path: Path) -> dict[str, str]:
    """Key id -> SHA-256 (hex) of each key's material *as stored* in a keyring file,
    without opening or verifying it: a file copied over another tenant's still shows
    which keys it shares. {} for a file that is missing or not a keyring."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    items = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return {}
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("material"), str):
            material = item["material"].encode("utf-8", "replace")
            out[str(item.get("id"))] = hashlib.sha256(_FINGERPRINT_LABEL + material).hexdigest()
    return out


# --------------------------------------------------------------------------- keyring


class Keyring:
    """One tenant's keys, loaded and verified. Build it with :meth:`open`."""

    def __init__(
        self,
        paths: StatePaths,
        tenant: str,
        master: bytes | None,
        keys: list[_Key],
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
        # so a trail deleted whole is "missing", not "empty" (see rdapctl.store.keyloss).
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
            with _locked(paths, tenant):
                # Re-check under the lock: another process may have won the race.
                if path.exists():
                    ring._keys = ring._load()
                else:
                    from rdapctl.store.keyloss import keyring_lost_error, tenant_state

                    left = tenant_state(paths, tenant)
                    if left:
                        # A lost keyring is never replaced without a word (see keys init).
                        raise keyring_lost_error(tenant, left)
                    now = clock()
                    ring._keys = [_new_key(p, now) for p in PURPOSES]
                    ring._save()
        if master is not None and not ring._stored_wrapped:
            with _locked(paths, tenant):
                ring._keys = ring._load()
                if not ring._stored_wrapped:
                    ring._save()  # upgrade: wrap the raw keyring under the master key
        if ring._audit_started is None:
            from rdapctl.store.keyloss import tenant_state

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
        ``rdapctl.store.keyloss.init_keyring``). ``save=False``: the keys exist in memory
        only until :meth:`save_created` (so that what is sealed under them can be
        written first, and an interrupted replacement can simply be run again).
        """
        _check_tenant(tenant)
        ring = cls(paths, tenant, master_key_from_env(env), [], clock)
        with _locked(paths, tenant):
            ring._refuse_existing()
            now = clock()
            ring._keys = [_new_key(p, now) for p in PURPOSES]
            if save:
                ring._save()
        return ring

    def save_created(self, *, audit_started: bool) -> None:
        """Store a keyring made with ``create(save=False)``; ConfigError when another
        one appeared meanwhile."""
        with _locked(self.paths, self.tenant):
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
        with _locked(self.paths, self.tenant):
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
            k.id: hashlib.sha256(_FINGERPRINT_LABEL + k.material).hexdigest()
            for k in self._keys
            if k.material is not None
        }

    def _read_doc(self) -> dict[str, Any]:
        try:
            data = read_private(self.path)  # no symlink, ours, not group/other-writable
        except FileNotFoundError:
            raise IntegrityError(
                f"the keyring of tenant {self.tenant} has disappeared",
                hint=_RESTORE_HINT,
                code="keyring_missing",
            ) from None
        except OSError as exc:
            raise IntegrityError(
                f"cannot read the keyring of tenant {self.tenant}: {exc.strerror}"
            ) from None
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise _damaged(self.tenant, "not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != KEYRING_FORMAT:
            raise _damaged(self.tenant, "not an rdapctl keyring")
        if doc.get("version") != FORMAT_VERSION:
            raise _damaged(self.tenant, f"unsupported version {doc.get('version')!r}")
        if doc.get("tenant") != self.tenant:
            raise _damaged(self.tenant, "it belongs to another tenant")
        return doc

    def _load(self) -> list[_Key]:
        from rdapctl.store.crypto import Aead, DecryptionError, constant_time_equal, hmac_sha256

        doc = self._read_doc()
        wrapped = doc.get("wrapped")
        if not isinstance(wrapped, bool):
            raise _damaged(self.tenant, "no 'wrapped' flag")
        mac = doc.get("mac")
        body = {k: v for k, v in doc.items() if k != "mac"}
        if wrapped:
            if self._master is None:
                raise IntegrityError(
                    f"the keyring of tenant {self.tenant} is wrapped: a master key is needed",
                    hint=_MASTER_HINT,
                    code="master_key_required",
                )
            check = doc.get("check")
            expected = self._check_value(self._master)
            if not (isinstance(check, str) and constant_time_equal(check.encode(), expected)):
                raise IntegrityError(
                    f"the master key does not open the keyring of tenant {self.tenant}",
                    hint="use the master key this keyring was written with",
                    code="wrong_master_key",
                )
        mac_key = self._mac_key(self._master if wrapped else None)
        expected_mac = hmac_sha256(mac_key, _canonical(body)).hex().encode()
        if not (isinstance(mac, str) and constant_time_equal(mac.encode(), expected_mac)):
            raise _damaged(self.tenant, "integrity check failed: the file was edited or damaged")
        keys = _parse_keys(self.tenant, doc.get("keys"))
        started = _parse_started(self.tenant, doc.get("audit_started"))
        _decode_raw_material(self.tenant, keys, _WRAPPED_SIZE if wrapped else 32)
        if wrapped:
            assert self._master is not None
            aead = Aead(self._wrap_key(self._master))
            for key in keys:
                if key.material is None:
                    continue
                try:
                    raw = aead.open(key.material, _wrap_aad(self.tenant, key.id))
                except DecryptionError:
                    raise _damaged(self.tenant, f"key {key.id} does not unwrap") from None
                key.material = raw
        self._stored_wrapped = wrapped
        self._audit_started = started
        return keys

    def _save(self) -> None:
        """Write the keyring atomically (0600). Callers hold the lock."""
        from rdapctl.store.crypto import Aead, hmac_sha256

        aead = Aead(self._wrap_key(self._master)) if self._master is not None else None
        items = []
        for key in self._keys:
            material: str | None = None
            if key.material is not None:
                blob = (
                    aead.seal(key.material, _wrap_aad(self.tenant, key.id))
                    if aead is not None
                    else key.material
                )
                material = base64.b64encode(blob).decode("ascii")
            item: dict[str, Any] = {
                "id": key.id,
                "purpose": key.purpose,
                "status": key.status,
                "created_at": key.created_at,
                "material": material,
            }
            if key.retired_at is not None:
                item["retired_at"] = key.retired_at
            items.append(item)
        doc: dict[str, Any] = {
            "format": KEYRING_FORMAT,
            "version": FORMAT_VERSION,
            "tenant": self.tenant,
            "wrapped": self._master is not None,
            "keys": items,
        }
        if self._audit_started is not None:
            doc["audit_started"] = self._audit_started
        if self._master is not None:
            doc["check"] = self._check_value(self._master).decode()
        doc["mac"] = hmac_sha256(self._mac_key(self._master), _canonical(doc)).hex()
        try:
            write_private_file(
                self.path, json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n"
            )
        except OSError as exc:  # a full or read-only disk: the old keyring is untouched
            raise IntegrityError(
                f"cannot write the keyring of tenant {self.tenant}: "
                f"{exc.strerror or exc.__class__.__name__}",
                hint="free disk space or fix the keys folder, then retry",
                code="keyring_unwritable",
            ) from None
        self._stored_wrapped = self._master is not None

    @staticmethod
    def _wrap_key(master: bytes) -> bytes:
        from rdapctl.store.crypto import derive_subkey

        return derive_subkey(master, "rdapctl keyring wrap v1")

    @staticmethod
    def _mac_key(master: bytes | None) -> bytes:
        from rdapctl.store.crypto import derive_subkey

        # Without a master key this is only a checksum against accidental edits:
        # whoever can edit a raw keyring can read its keys anyway.
        return derive_subkey(master if master is not None else bytes(32), "rdapctl keyring mac v1")

    @staticmethod
    def _check_value(master: bytes) -> bytes:
        """A verifier telling "wrong master key" apart from "damaged file"."""
        from rdapctl.store.crypto import derive_subkey, hmac_sha256

        return (
            hmac_sha256(derive_subkey(master, "rdapctl keyring check v1"), b"check")[:16]
            .hex()
            .encode()
        )

    def reload(self) -> None:
        """Re-read the keyring (another process may have rotated it)."""
        self._keys = self._load()

    # -- reading keys -------------------------------------------------------------------

    def _active(self, purpose: str) -> _Key:
        for key in self._keys:
            if key.purpose == purpose and key.status == "active":
                return key
        raise _damaged(self.tenant, f"no active {purpose} key")  # _parse_keys rules this out

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
            if attempt == 0 and _KEY_ID_PATTERN.match(key_id) and key_id.startswith("data-"):
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

    def _info(self, key: _Key) -> KeyInfo:
        age = max(0.0, (self._clock() - key.created_at) / SECONDS_PER_DAY)
        return KeyInfo(key.id, key.purpose, key.status, key.created_at, age, self.wrapped)

    def status(self) -> list[KeyInfo]:
        """Every key's id, purpose, status, creation time and age: never material."""
        return [self._info(k) for k in sorted(self._keys, key=lambda k: (k.created_at, k.id))]

    # -- changing keys ------------------------------------------------------------------

    def _rotate_locked(self) -> KeyInfo:
        for key in self._keys:
            if key.purpose == "data" and key.status == "active":
                key.status = "previous"
        new = _new_key("data", self._clock())
        self._keys.append(new)
        self._save()
        return self._info(new)

    def rotate(self) -> KeyInfo:
        """Make a new active data key; the old one stays readable as 'previous'."""
        with _locked(self.paths, self.tenant):
            self._keys = self._load()
            return self._rotate_locked()

    def retire_old(self) -> list[KeyInfo]:
        """Erase the material of every 'previous' data key; entries under them become
        unreadable. Returns the keys retired."""
        with _locked(self.paths, self.tenant):
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
        with _locked(self.paths, self.tenant):
            self._keys = self._load()
            old = self._active("data")
            age = self._clock() - old.created_at
            if age <= limit:
                return None  # another process rotated first
            info = self._rotate_locked()
        notify(
            f"rotated the data key of tenant {self.tenant}: {old.id} was"
            f" {age / SECONDS_PER_DAY:.0f} days old (rotation_days = {rotation_days});"
            f" new key {info.id}"
        )
        return info

    # -- backup -------------------------------------------------------------------------

    def export_keyring(self, passphrase: str) -> bytes:
        """An offline backup: the keyring (unwrapped) encrypted under a key scrypt derives
        from ``passphrase``. Versioned JSON bytes."""
        from rdapctl.store.crypto import SCRYPT_N, SCRYPT_P, SCRYPT_R, Aead, scrypt_key

        if not passphrase:
            raise UsageError("the backup passphrase must not be empty")
        inner = _canonical(
            {
                "tenant": self.tenant,
                "keys": [
                    {
                        "id": k.id,
                        "purpose": k.purpose,
                        "status": k.status,
                        "created_at": k.created_at,
                        "material": None
                        if k.material is None
                        else base64.b64encode(k.material).decode("ascii"),
                        **({"retired_at": k.retired_at} if k.retired_at is not None else {}),
                    }
                    for k in self._keys
                ],
                **(
                    {"audit_started": self._audit_started}
                    if self._audit_started is not None
                    else {}
                ),
            }
        )
        salt = os.urandom(16)
        header = {
            "format": BACKUP_FORMAT,
            "version": FORMAT_VERSION,
            "tenant": self.tenant,
            "created_at": self._clock(),
            "kdf": {
                "name": "scrypt",
                "n": SCRYPT_N,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
                "salt": base64.b64encode(salt).decode(),
            },
            "cipher": "AES-256-GCM",
        }
        key = scrypt_key(passphrase, salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
        sealed = Aead(key).seal(inner, _canonical(header))
        return json.dumps({**header, "data": base64.b64encode(sealed).decode()}, indent=2).encode()


def _parse_started(tenant: str, value: object) -> float | None:
    """The ``audit_started`` time of a keyring or backup: None or a number."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _damaged(tenant, "bad audit_started value")
    return float(value)


def _decrypt_backup(blob: bytes, passphrase: str) -> tuple[str, list[_Key], float | None]:
    from rdapctl.store.crypto import Aead, DecryptionError, scrypt_key

    not_backup = IntegrityError(
        "the backup is damaged or is not an rdapctl keyring backup", code="backup_damaged"
    )
    try:
        doc = json.loads(blob)
    except (ValueError, UnicodeDecodeError):
        raise not_backup from None
    if not isinstance(doc, dict) or doc.get("format") != BACKUP_FORMAT:
        raise not_backup
    if doc.get("version") != FORMAT_VERSION:
        raise IntegrityError(f"unsupported keyring backup version {doc.get('version')!r}")
    header = {k: v for k, v in doc.items() if k != "data"}
    kdf = doc.get("kdf")
    try:
        assert isinstance(kdf, dict) and kdf.get("name") == "scrypt"
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        # Bounds keep a hostile backup from asking for gigabytes of scrypt memory.
        if not (2**14 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError
        salt = base64.b64decode(kdf["salt"], validate=True)
        sealed = base64.b64decode(doc["data"], validate=True)
        tenant = doc["tenant"]
        if not isinstance(tenant, str):
            raise ValueError
    except (AssertionError, KeyError, TypeError, ValueError, binascii.Error):
        raise not_backup from None
    key = scrypt_key(passphrase, salt, n=n, r=r, p=p)
    try:
        inner = json.loads(Aead(key).open(sealed, _canonical(header)))
    except DecryptionError:
        raise IntegrityError(
            "the passphrase does not open this keyring backup (or the backup was altered)",
            code="wrong_passphrase",
        ) from None
    if not isinstance(inner, dict) or inner.get("tenant") != tenant:
        raise not_backup
    keys = _parse_keys(tenant, inner.get("keys"))
    started = _parse_started(tenant, inner.get("audit_started"))
    _decode_raw_material(tenant, keys)
    return tenant, keys, started


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
    from rdapctl.store.ownership import check_state

    check_state(paths, tenant)  # never write keys into state another account controls
    master = master_key_from_env(env)
    backup_tenant, keys, started = _decrypt_backup(blob, passphrase)
    if backup_tenant != tenant:
        raise ConfigError(
            f"the backup holds the keyring of tenant {backup_tenant}, not {tenant}",
            hint=f"import it as tenant {backup_tenant}",
        )
    ring = Keyring(paths, tenant, master, keys, clock)
    ring._audit_started = started
    if started is None:
        from rdapctl.store.keyloss import tenant_state

        # An older backup does not say; a trail on disk does (marking is the safe side).
        if "audit" in tenant_state(paths, tenant):
            ring._audit_started = clock()
    with _locked(paths, tenant):
        if ring.path.exists() and not force:
            live = Keyring(paths, tenant, master, [], clock)
            try:
                live_keys = live._load()
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
