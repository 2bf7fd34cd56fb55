"""The master key, from the environment: what wraps every keyring at rest.

``RDAPCTL_MASTER_KEY`` is the base64 of exactly 32 bytes; ``RDAPCTL_MASTER_KEY_FILE``
names a file holding either exactly 32 raw bytes or that base64 text (surrounding
whitespace ignored). Setting both is a ConfigError. Without either, keyrings are
stored unwrapped (``rdapctl.store.keys.keyfile``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path

from rdapctl.core.errors import ConfigError

MASTER_HINT = (
    "set RDAPCTL_MASTER_KEY to the base64 of 32 random bytes (e.g. `openssl rand -base64 32`)"
    " or RDAPCTL_MASTER_KEY_FILE to a file holding it"
)


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
                "RDAPCTL_MASTER_KEY is not the base64 of exactly 32 bytes", hint=MASTER_HINT
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
                hint=MASTER_HINT,
            )
        return key
    return None


def _b64_32(text: bytes) -> bytes | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None
