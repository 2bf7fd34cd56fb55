"""A tenant's keyring file ``keys/<tenant>.json``: its format, wrapping and lock.

Owns reading and writing the file (atomically, 0600, under the keyring lock), its
integrity check and the wrapping of key material under the master key: with a
master key the material is stored AES-256-GCM-wrapped (associated data = tenant and
key id) and never touches the disk in clear, and a check value tells "wrong master
key" apart from "damaged file". Without one the MAC is only a checksum against
accidental edits (whoever can edit a raw keyring can read its keys anyway).
Must never print, log or put key material in an exception or a repr.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from rdapctl.core.errors import IntegrityError
from rdapctl.core.records import mutable_record, record
from rdapctl.store.keys.master import MASTER_HINT
from rdapctl.store.locks import LockFile, held
from rdapctl.store.ownership import read_private
from rdapctl.store.paths import StatePaths, ensure_private_dir, write_private_file

PURPOSES: tuple[str, ...] = ("data", "index", "audit")
STATUSES: tuple[str, ...] = ("active", "previous", "retired")
KEYRING_FORMAT = "rdapctl-keyring"
FORMAT_VERSION = 1
WRAPPED_SIZE = 12 + 32 + 16  # nonce + key + GCM tag

KEY_ID_PATTERN = re.compile(r"^(data|index|audit)-[0-9a-f]{16}$")
FINGERPRINT_LABEL = b"rdapctl key fingerprint v1\x00"
RESTORE_HINT = (
    "restore the keyring from a backup (`rdapctl keys import`), or move the file away to"
    " start a new keyring (entries cached under the old keys are then lost)"
)


@mutable_record
class StoredKey:
    """One key of a keyring, its material in clear in memory (never in a repr)."""

    id: str
    purpose: str
    status: str
    created_at: float
    material: bytes | None = field(default=None, repr=False)
    retired_at: float | None = None


@record
class KeyringFile:
    """What a keyring file holds, verified and unwrapped."""

    keys: list[StoredKey]
    wrapped: bool
    audit_started: float | None


def canonical_json(doc: Mapping[str, Any]) -> bytes:
    """Sorted, compact JSON: the bytes a MAC or associated data covers."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")


def wrap_aad(tenant: str, key_id: str) -> bytes:
    """The associated data a key's material is wrapped with (tenant and key id)."""
    return b"rdapctl-keyring-wrap/v1\x00" + tenant.encode() + b"\x00" + key_id.encode()


def keyring_lock(paths: StatePaths, tenant: str) -> contextlib.AbstractContextManager[LockFile]:
    """Exclusive lock over a tenant's keyring across processes (keys/<tenant>.lock)."""
    ensure_private_dir(paths.keys_dir)
    return held(paths.keys_dir / f"{tenant}.lock")


def new_stored_key(purpose: str, now: float) -> StoredKey:
    """A new active key of ``purpose`` with fresh random material."""
    from rdapctl.store.crypto import new_key

    return StoredKey(
        id=f"{purpose}-{os.urandom(8).hex()}",
        purpose=purpose,
        status="active",
        created_at=now,
        material=new_key(),
    )


def damaged(tenant: str, why: str) -> IntegrityError:
    """Exit 9: the keyring (or a backup) of ``tenant`` is damaged (``why``)."""
    return IntegrityError(
        f"the keyring of tenant {tenant} is damaged ({why})",
        hint=RESTORE_HINT,
        code="keyring_damaged",
    )


def parse_keys(tenant: str, items: object) -> list[StoredKey]:
    """Validate the shape of a keyring's key list; material stays encoded (str) here."""
    if not isinstance(items, list):
        raise damaged(tenant, "no key list")
    keys: list[StoredKey] = []
    for item in items:
        if not isinstance(item, dict):
            raise damaged(tenant, "a key entry is not an object")
        kid, purpose, status = item.get("id"), item.get("purpose"), item.get("status")
        created, material = item.get("created_at"), item.get("material")
        retired_at = item.get("retired_at")
        if not (isinstance(kid, str) and KEY_ID_PATTERN.match(kid)):
            raise damaged(tenant, "a key id is malformed")
        if purpose not in PURPOSES or status not in STATUSES or not kid.startswith(purpose):
            raise damaged(tenant, f"key {kid} has an unknown purpose or status")
        if not isinstance(created, int | float) or isinstance(created, bool):
            raise damaged(tenant, f"key {kid} has no creation time")
        if status == "retired":
            if material is not None:
                raise damaged(tenant, f"retired key {kid} still holds material")
        elif not isinstance(material, str):
            raise damaged(tenant, f"key {kid} has no material")
        if retired_at is not None and not isinstance(retired_at, int | float):
            raise damaged(tenant, f"key {kid} has a bad retirement time")
        keys.append(StoredKey(kid, purpose, status, float(created), None, retired_at))
        keys[-1].material = material  # type: ignore[assignment]  # decoded by the caller
    if len({k.id for k in keys}) != len(keys):
        raise damaged(tenant, "duplicate key ids")
    for purpose in PURPOSES:
        if sum(1 for k in keys if k.purpose == purpose and k.status == "active") != 1:
            raise damaged(tenant, f"not exactly one active {purpose} key")
    return keys


def decode_material(tenant: str, keys: list[StoredKey], size: int = 32) -> None:
    """Decode base64 material in place; ``size`` is 32 for raw keys, more when wrapped."""
    for key in keys:
        if key.material is None:
            continue
        try:
            raw = base64.b64decode(key.material, validate=True)
        except (binascii.Error, ValueError):
            raise damaged(tenant, f"key {key.id} material is not base64") from None
        if len(raw) != size:
            raise damaged(tenant, f"key {key.id} material has the wrong length")
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
            out[str(item.get("id"))] = hashlib.sha256(FINGERPRINT_LABEL + material).hexdigest()
    return out


def parse_started(tenant: str, value: object) -> float | None:
    """The ``audit_started`` time of a keyring or backup: None or a number."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise damaged(tenant, "bad audit_started value")
    return float(value)


def wrap_key(master: bytes) -> bytes:
    """The key that wraps key material, derived from the master key."""
    from rdapctl.store.crypto import derive_subkey

    return derive_subkey(master, "rdapctl keyring wrap v1")


def mac_key(master: bytes | None) -> bytes:
    """The key of the file's MAC: derived from the master key, or a fixed one."""
    from rdapctl.store.crypto import derive_subkey

    # Without a master key this is only a checksum against accidental edits:
    # whoever can edit a raw keyring can read its keys anyway.
    return derive_subkey(master if master is not None else bytes(32), "rdapctl keyring mac v1")


def check_value(master: bytes) -> bytes:
    """A verifier telling "wrong master key" apart from "damaged file"."""
    from rdapctl.store.crypto import derive_subkey, hmac_sha256

    return (
        hmac_sha256(derive_subkey(master, "rdapctl keyring check v1"), b"check")[:16].hex().encode()
    )


def _read_doc(path: Path, tenant: str) -> dict[str, Any]:
    try:
        data = read_private(path)  # no symlink, ours, not group/other-writable
    except FileNotFoundError:
        raise IntegrityError(
            f"the keyring of tenant {tenant} has disappeared",
            hint=RESTORE_HINT,
            code="keyring_missing",
        ) from None
    except OSError as exc:
        raise IntegrityError(
            f"cannot read the keyring of tenant {tenant}: {exc.strerror}"
        ) from None
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise damaged(tenant, "not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != KEYRING_FORMAT:
        raise damaged(tenant, "not an rdapctl keyring")
    if doc.get("version") != FORMAT_VERSION:
        raise damaged(tenant, f"unsupported version {doc.get('version')!r}")
    if doc.get("tenant") != tenant:
        raise damaged(tenant, "it belongs to another tenant")
    return doc


def read_keyring_file(path: Path, tenant: str, master: bytes | None) -> KeyringFile:
    """The verified, unwrapped keys of keyring file ``path`` and how it is stored.

    IntegrityError when it is missing, damaged, wrapped without ``master`` or
    wrapped under another master key."""
    from rdapctl.store.crypto import Aead, DecryptionError, constant_time_equal, hmac_sha256

    doc = _read_doc(path, tenant)
    wrapped = doc.get("wrapped")
    if not isinstance(wrapped, bool):
        raise damaged(tenant, "no 'wrapped' flag")
    mac = doc.get("mac")
    body = {k: v for k, v in doc.items() if k != "mac"}
    if wrapped:
        if master is None:
            raise IntegrityError(
                f"the keyring of tenant {tenant} is wrapped: a master key is needed",
                hint=MASTER_HINT,
                code="master_key_required",
            )
        check = doc.get("check")
        expected = check_value(master)
        if not (isinstance(check, str) and constant_time_equal(check.encode(), expected)):
            raise IntegrityError(
                f"the master key does not open the keyring of tenant {tenant}",
                hint="use the master key this keyring was written with",
                code="wrong_master_key",
            )
    expected_mac = (
        hmac_sha256(mac_key(master if wrapped else None), canonical_json(body)).hex().encode()
    )
    if not (isinstance(mac, str) and constant_time_equal(mac.encode(), expected_mac)):
        raise damaged(tenant, "integrity check failed: the file was edited or damaged")
    keys = parse_keys(tenant, doc.get("keys"))
    started = parse_started(tenant, doc.get("audit_started"))
    decode_material(tenant, keys, WRAPPED_SIZE if wrapped else 32)
    if wrapped:
        assert master is not None
        aead = Aead(wrap_key(master))
        for key in keys:
            if key.material is None:
                continue
            try:
                raw = aead.open(key.material, wrap_aad(tenant, key.id))
            except DecryptionError:
                raise damaged(tenant, f"key {key.id} does not unwrap") from None
            key.material = raw
    return KeyringFile(keys, wrapped, started)


def write_keyring_file(
    path: Path,
    tenant: str,
    master: bytes | None,
    keys: list[StoredKey],
    audit_started: float | None,
) -> None:
    """Write a keyring file atomically (0600), wrapped when there is a ``master``
    key; IntegrityError when it cannot be written. Callers hold the lock."""
    from rdapctl.store.crypto import Aead, hmac_sha256

    aead = Aead(wrap_key(master)) if master is not None else None
    items = []
    for key in keys:
        material: str | None = None
        if key.material is not None:
            blob = (
                aead.seal(key.material, wrap_aad(tenant, key.id))
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
        "tenant": tenant,
        "wrapped": master is not None,
        "keys": items,
    }
    if audit_started is not None:
        doc["audit_started"] = audit_started
    if master is not None:
        doc["check"] = check_value(master).decode()
    doc["mac"] = hmac_sha256(mac_key(master), canonical_json(doc)).hex()
    try:
        write_private_file(path, json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n")
    except OSError as exc:  # a full or read-only disk: the old keyring is untouched
        raise IntegrityError(
            f"cannot write the keyring of tenant {tenant}: "
            f"{exc.strerror or exc.__class__.__name__}",
            hint="free disk space or fix the keys folder, then retry",
            code="keyring_unwritable",
        ) from None
