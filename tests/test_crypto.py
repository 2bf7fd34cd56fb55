"""AES-GCM sealing, key derivation, and the lazy-import promise of the crypto layer."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rdapctl.core.errors import ExitCode
from rdapctl.store.crypto import Aead, DecryptionError, derive_subkey, new_key, scrypt_key


def test_sealed_data_opens_with_the_same_key_and_associated_data() -> None:
    """What is sealed opens again under the same key and associated data."""
    aead = Aead(new_key())
    assert aead.open(aead.seal(b"hello", b"ad"), b"ad") == b"hello"


def test_every_seal_uses_a_fresh_nonce() -> None:
    """Sealing the same plaintext twice gives different ciphertexts."""
    aead = Aead(new_key())
    assert aead.seal(b"same", b"") != aead.seal(b"same", b"")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda blob: blob[:-1],
        lambda blob: blob[:5],
        lambda blob: blob[:20] + bytes([blob[20] ^ 1]) + blob[21:],
    ],
    ids=["truncated-tag", "truncated-nonce", "flipped-byte"],
)
def test_damaged_ciphertext_is_an_integrity_error(mutate: object) -> None:
    """Truncated or altered ciphertext raises an IntegrityError (exit 9), never garbage."""
    aead = Aead(new_key())
    blob = aead.seal(b"payload-bytes", b"ad")
    with pytest.raises(DecryptionError) as info:
        aead.open(mutate(blob), b"ad")  # type: ignore[operator]
    assert info.value.exit_code == ExitCode.INTEGRITY
    # Nothing chained: a traceback printer has no cryptography frame's locals to show.
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_other_key_or_associated_data_does_not_open() -> None:
    """A different key or different associated data fails authentication."""
    blob = Aead(new_key()).seal(b"x", b"tenant-a")
    with pytest.raises(DecryptionError):
        Aead(new_key()).open(blob, b"tenant-a")
    key = new_key()
    with pytest.raises(DecryptionError):
        Aead(key).open(Aead(key).seal(b"x", b"tenant-a"), b"tenant-b")


def test_repr_and_errors_never_show_key_material() -> None:
    """Neither the repr nor a key-length error mentions the key bytes."""
    key = new_key()
    assert key.hex() not in repr(Aead(key)) and "hidden" in repr(Aead(key))
    with pytest.raises(ValueError) as info:
        Aead(key[:31])
    assert key[:31].hex() not in str(info.value)


def test_derived_subkeys_differ_per_label_and_scrypt_is_deterministic() -> None:
    """Sub-keys per label are distinct; scrypt gives the same key for the same input."""
    master = new_key()
    assert derive_subkey(master, "a") != derive_subkey(master, "b")
    salt = b"s" * 16
    one = scrypt_key("pass", salt, n=2**14, r=8, p=1)
    assert one == scrypt_key("pass", salt, n=2**14, r=8, p=1)
    assert one != scrypt_key("pass2", salt, n=2**14, r=8, p=1)


def test_importing_core_modules_does_not_load_cryptography_or_diskcache() -> None:
    """Start-up stays cheap: crypto, keyring and cache import their libraries lazily."""
    code = (
        "import sys, rdapctl.store.crypto, rdapctl.store.keys.keyring, rdapctl.store.cache\n"
        "bad = [m for m in ('cryptography', 'diskcache', 'typer', 'rich') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


def test_aesgcm_fast_import_is_the_public_class() -> None:
    """The directly imported AESGCM is the very class cryptography publishes."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from rdapctl.store.crypto import aesgcm_class

    assert aesgcm_class() is AESGCM
