"""Offline keyring backups (``keys export`` / ``keys import``): their format.

A backup holds a tenant's keys unwrapped, sealed with AES-256-GCM under a key that
scrypt derives from a passphrase; the header (format, version, tenant, KDF
parameters) is the associated data, so no part of it can be changed unnoticed.
Restoring one as a live keyring is :func:`rdapctl.store.keys.keyring.import_keyring`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable

from rdapctl.core.errors import IntegrityError, UsageError
from rdapctl.store.keys.keyfile import (
    FORMAT_VERSION,
    StoredKey,
    canonical_json,
    decode_material,
    parse_keys,
    parse_started,
)

BACKUP_FORMAT = "rdapctl-keyring-backup"


def seal_backup(
    tenant: str,
    keys: list[StoredKey],
    audit_started: float | None,
    passphrase: str,
    clock: Callable[[], float],
) -> bytes:
    """An offline backup: the keys (unwrapped) encrypted under a key scrypt derives
    from ``passphrase``. Versioned JSON bytes; UsageError for an empty passphrase."""
    from rdapctl.store.crypto import SCRYPT_N, SCRYPT_P, SCRYPT_R, Aead, scrypt_key

    if not passphrase:
        raise UsageError("the backup passphrase must not be empty")
    inner = canonical_json(
        {
            "tenant": tenant,
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
                for k in keys
            ],
            **({"audit_started": audit_started} if audit_started is not None else {}),
        }
    )
    salt = os.urandom(16)
    header = {
        "format": BACKUP_FORMAT,
        "version": FORMAT_VERSION,
        "tenant": tenant,
        "created_at": clock(),
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
    sealed = Aead(key).seal(inner, canonical_json(header))
    return json.dumps({**header, "data": base64.b64encode(sealed).decode()}, indent=2).encode()


def open_backup(blob: bytes, passphrase: str) -> tuple[str, list[StoredKey], float | None]:
    """(tenant, keys, audit_started) of a backup made by :func:`seal_backup`.

    IntegrityError: a wrong passphrase, or not (or no longer) such a backup."""
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
        inner = json.loads(Aead(key).open(sealed, canonical_json(header)))
    except DecryptionError:
        raise IntegrityError(
            "the passphrase does not open this keyring backup (or the backup was altered)",
            code="wrong_passphrase",
        ) from None
    if not isinstance(inner, dict) or inner.get("tenant") != tenant:
        raise not_backup
    keys = parse_keys(tenant, inner.get("keys"))
    started = parse_started(tenant, inner.get("audit_started"))
    decode_material(tenant, keys)
    return tenant, keys, started
