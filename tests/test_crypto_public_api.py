"""The crypto layer uses cryptography's public API only, with the byte formats of
RFC 5869 and AES-GCM that rdapctl's stored keyrings and cache entries rely on."""

from __future__ import annotations

import ast
import inspect

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from rdapctl.store import crypto
from rdapctl.store.crypto import NONCE_BYTES, Aead, derive_subkey, new_key


def test_derive_subkey_is_hkdf_expand_with_one_block() -> None:
    """derive_subkey gives the bytes of cryptography's HKDFExpand (SHA-256, 32 bytes)."""
    master = new_key()
    for label in ("rdapctl keyring wrap v1", "rdapctl keyring mac v1", "é"):
        expected = HKDFExpand(hashes.SHA256(), 32, label.encode("utf-8")).derive(master)
        assert derive_subkey(master, label) == expected


def test_sealed_bytes_are_nonce_then_aesgcm_ciphertext_and_tag() -> None:
    """A sealed blob opens with the public AESGCM: nonce first, then ciphertext || tag."""
    key = new_key()
    blob = Aead(key).seal(b"payload", b"ad")
    assert AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], b"ad") == b"payload"
    nonce = b"n" * NONCE_BYTES
    assert Aead(key).open(nonce + AESGCM(key).encrypt(nonce, b"x", b""), b"") == b"x"


def test_no_private_name_of_cryptography_is_imported() -> None:
    """Every cryptography import names public modules only (no ``_rust`` bindings)."""
    tree = ast.parse(inspect.getsource(crypto))
    modules = [
        node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cryptography")
    ]
    assert modules
    assert all(not part.startswith("_") for name in modules for part in name.split("."))
