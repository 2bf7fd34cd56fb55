"""Cryptographic primitives of rdapctl: AES-256-GCM sealing, HMAC-SHA256, key
derivation (HKDF-Expand labels, scrypt) and random keys.

This is the ONLY module that imports ``cryptography``, through its public
``hazmat.primitives`` API and lazily, so start-up does not pay for it. It knows
nothing about tenants, files or caches, and it must never put key material in an
exception message, a log line or a repr.
"""

from __future__ import annotations

import hmac
import os
from typing import TYPE_CHECKING

from rdapctl.core.errors import IntegrityError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

# scrypt cost for passphrase-protected backups: 2**15 * 8 * 128 B = 32 MiB of memory,
# about 0.1 s here; a backup is opened rarely, so an attacker pays the same per guess.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1


class DecryptionError(IntegrityError):
    """Authenticated decryption failed: wrong key, wrong associated data, or damaged bytes."""

    code = "integrity_error"


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        # The length is safe to report; the bytes are not.
        raise ValueError(f"an AES-256 key must be {KEY_BYTES} bytes")


def aesgcm_class() -> type[AESGCM]:
    """cryptography's public AESGCM class, imported on first use (not at start-up)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM


class Aead:
    """AES-256-GCM under one key. Reuse one instance per key: building the cipher
    object is a measurable part of a cache hit."""

    __slots__ = ("_cipher",)

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._cipher = aesgcm_class()(bytes(key))

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt under a fresh random 96-bit nonce; returns ``nonce || ciphertext || tag``."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._cipher.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        """Decrypt what :meth:`seal` produced with the same ``aad``; DecryptionError otherwise."""
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("encrypted data is truncated")
        try:
            return bytes(self._cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad))
        except Exception as exc:
            # Imported here, not before every call (a batch opens one per cache hit).
            from cryptography.exceptions import InvalidTag

            if not isinstance(exc, InvalidTag):
                raise
        # Raised outside the handler, so nothing is chained: InvalidTag adds nothing and
        # must not invite anyone to print locals of this frame.
        raise DecryptionError("encrypted data failed authentication")

    def __repr__(self) -> str:
        return "Aead(<key hidden>)"


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 (the standard library's; no need for the cryptography package)."""
    return hmac.digest(key, data, "sha256")


def derive_subkey(key: bytes, label: str) -> bytes:
    """A 256-bit key for one purpose, derived from ``key``, so one master key never
    serves two algorithms directly.

    This is HKDF-Expand (RFC 5869) with SHA-256, ``info=label`` and one output block,
    i.e. ``HMAC(key, label || 0x01)``: computed with the standard library so that key
    derivation does not import cryptography (a test pins it to cryptography's HKDFExpand).
    """
    return hmac_sha256(key, label.encode("utf-8") + b"\x01")


def scrypt_key(passphrase: str, salt: bytes, *, n: int, r: int, p: int) -> bytes:
    """Derive a 256-bit key from a passphrase with scrypt."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return bytes(Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p).derive(passphrase.encode()))


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two MACs without leaking where they differ."""
    return hmac.compare_digest(a, b)
