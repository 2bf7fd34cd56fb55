"""Shared test set-up: every test runs with its own RDAPCTL_HOME and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

_SCRUBBED = (
    "RDAPCTL_HOME",
    "RDAPCTL_PROFILES",
    "RDAPCTL_TENANT",
    "RDAPCTL_MASTER_KEY",
    "RDAPCTL_MASTER_KEY_FILE",
    "RDAPCTL_BACKUP_PASSPHRASE",
    "NO_COLOR",
    "FORCE_COLOR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


@pytest.fixture(autouse=True)
def rdapctl_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Move all rdapctl state into a temporary folder; never touch the real home."""
    for name in _SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "rdapctl-home"
    monkeypatch.setenv("RDAPCTL_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "100")
    yield home
