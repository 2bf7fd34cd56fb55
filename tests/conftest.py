"""Shared test set-up: every test runs with its own RDAPCTL_HOME and a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from rdapctl.core import diagnostics

# Property-based tests: a fixed seed and a bounded example budget by default (CI, about a
# minute in all); HYPOTHESIS_PROFILE=long for a deeper local search.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "long",
    deadline=None,
    max_examples=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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
    # Diagnostics on stderr as the command line sets them up (tests that call command
    # bodies directly, without the root callback, see the same lines).
    diagnostics.configure()
    yield home
