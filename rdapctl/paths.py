"""Where rdapctl keeps per-user state.

Everything lives under platformdirs' directories for ``rdapctl`` or, when
``RDAPCTL_HOME`` is set, under that one folder (so scripts, CI and tests can
isolate state). Folders that hold state are created owner-only (0700).
No other module decides a state path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from rdapctl.records import record
from rdapctl.tenant import check_tenant_name

APP_NAME = "rdapctl"
DIR_MODE = 0o700
FILE_MODE = 0o600


@record
class StatePaths:
    config_dir: Path
    cache_dir: Path
    data_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StatePaths:
        home = env.get("RDAPCTL_HOME")
        if home:
            root = Path(home).expanduser()
            return cls(config_dir=root, cache_dir=root, data_dir=root)
        import platformdirs

        return cls(
            config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
            data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        )

    @property
    def profiles_file(self) -> Path:
        return self.config_dir / "profiles.toml"

    @property
    def bootstrap_dir(self) -> Path:
        return self.cache_dir / "bootstrap"

    @property
    def cache_root(self) -> Path:
        return self.cache_dir / "cache"

    def tenant_cache_dir(self, tenant: str) -> Path:
        return self.cache_root / check_tenant_name(tenant)

    @property
    def audit_root(self) -> Path:
        return self.data_dir / "audit"

    def tenant_audit_dir(self, tenant: str) -> Path:
        return self.audit_root / check_tenant_name(tenant)

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def keyring_file(self, tenant: str) -> Path:
        return self.keys_dir / f"{check_tenant_name(tenant)}.json"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and every missing parent with mode 0700; tighten ``path`` if it exists.

    Parents rdapctl creates (e.g. a fresh ``$RDAPCTL_HOME``) are its own state
    folders, so they are owner-only too; existing parents are left alone.
    """
    missing = []
    for parent in (path, *path.parents):
        if parent.exists():
            break
        missing.append(parent)
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
    if (path.stat().st_mode & 0o777) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, created 0600 (never briefly world-readable)."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
