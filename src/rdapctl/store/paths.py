"""Where rdapctl keeps per-user state.

Everything lives under platformdirs' directories for ``rdapctl`` or, when
``RDAPCTL_HOME`` is set, under that one folder (so scripts, CI and tests can
isolate state). Folders that hold state are created owner-only (0700), and
:func:`check_state` checks a tenant's state paths by the rules of
``rdapctl.store.ownership``. No other module decides a state path.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from rdapctl.core.records import record
from rdapctl.policy.tenant import check_tenant_name
from rdapctl.store.ownership import check_dir, check_file

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
    def ratelimit_root(self) -> Path:
        return self.cache_dir / "ratelimit"

    def tenant_ratelimit_dir(self, tenant: str) -> Path:
        return self.ratelimit_root / tenant

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
    """Create ``path`` and every missing parent with mode 0700; check it is ours.

    Parents rdapctl creates (e.g. a fresh ``$RDAPCTL_HOME``) are its own state
    folders, so they are owner-only too; existing parents are left alone. ``path``
    (and any folder another process created first) must pass
    :func:`rdapctl.store.ownership.check_dir` (ConfigError otherwise); its other mode bits
    are then tightened to 0700.
    """
    missing = []
    for parent in (path, *path.parents):
        if os.path.lexists(parent):
            break
        missing.append(parent)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            check_dir(folder)  # made by someone else meanwhile: trusted only if ours
    st = check_dir(path)
    if st is None:
        raise FileNotFoundError(errno.ENOENT, "state folder disappeared", str(path))
    if (st.st_mode & 0o777) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace state file ``path`` with ``data``, created 0600 (never briefly
    world-readable) in a temporary file with an unpredictable name (O_EXCL, no symlink
    followed) in the same folder, then renamed over ``path`` (a symlink there is
    replaced, never followed)."""
    ensure_private_dir(path.parent)
    write_replacing(path, data)


def write_replacing(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Atomically replace ``path`` (any file, a symlink included) with ``data``: written
    to an unpredictable temporary name in its folder (created O_EXCL, 0600, no symlink
    followed), given ``mode``, then renamed into place. The folder is left as it is."""
    fd, tmp = _new_temp_file(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            if mode != FILE_MODE:
                os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _new_temp_file(path: Path) -> tuple[int, Path]:
    """A new file next to ``path`` under an unpredictable name: created exclusively
    (O_EXCL, so never a file or symlink someone planted), 0600. As ``tempfile.mkstemp``
    does, without importing ``tempfile`` (and ``random``) on every lookup."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{os.urandom(8).hex()}.tmp")
        try:
            return os.open(tmp, flags, FILE_MODE), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", str(path.parent))


def write_new_file(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write ``data`` to a file outside the state folders (an export), mode 0600.

    Created exclusively (FileExistsError when ``path`` exists, a symlink included)
    unless ``replace``: then written to an unpredictable temporary name beside it and
    renamed over it. The folder is never created nor its mode changed.
    """
    if replace:
        write_replacing(path, data)
        return
    fd = os.open(
        path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _roots(paths: StatePaths) -> list[Path]:
    return list(dict.fromkeys((paths.config_dir, paths.cache_dir, paths.data_dir)))


def check_state(paths: StatePaths, tenant: str | None = None) -> None:
    """Check the state folders (and, for ``tenant``, its own folders and files) that
    exist: each owned by us and not writable by group or others. ConfigError (exit 3)
    at the first one that is not. Creates nothing; a few ``lstat`` calls."""
    dirs: list[Path] = _roots(paths)
    dirs += [paths.keys_dir, paths.cache_root, paths.audit_root, paths.bootstrap_dir]
    dirs.append(paths.ratelimit_root)
    files: list[Path] = []
    if tenant is not None:
        dirs += [paths.tenant_cache_dir(tenant), paths.tenant_audit_dir(tenant)]
        dirs.append(paths.tenant_ratelimit_dir(tenant))
        files += [
            paths.keyring_file(tenant),
            paths.tenant_cache_dir(tenant) / "cache.db",
        ]
    _check_all(dict.fromkeys(dirs), files)


def _check_all(dirs: Iterable[Path], files: Iterable[Path]) -> None:
    for folder in dirs:
        check_dir(folder)
    for file in files:
        check_file(file)
