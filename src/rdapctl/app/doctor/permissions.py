"""Owner-only permissions and ownership of rdapctl's state folders and files;
``--fix`` tightens modes (never ownership, never through a symlink)."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rdapctl.app.doctor.results import (
    CheckResult,
    failed,
    passed,
    places,
    plural,
)
from rdapctl.core.errors import ExitCode, most_serious
from rdapctl.policy.tenant import is_tenant_name
from rdapctl.store.paths import DIR_MODE, FILE_MODE, StatePaths

_FIX_HINT = "run `rdapctl doctor --fix`"


@dataclass
class PermScan:
    checked: int = 0
    bad: list[tuple[Path, int, bool]] = field(default_factory=list)  # path, mode, is_dir
    # Paths rdapctl must not trust (another owner, a symlink): never changed by --fix.
    untrusted: list[tuple[Path, str]] = field(default_factory=list)  # path, why


def _walk(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """``root`` and everything below it, without following symlinks."""
    try:
        st = root.lstat()
    except FileNotFoundError:
        return
    yield root, st
    if not stat.S_ISDIR(st.st_mode):
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            try:
                yield path, path.lstat()
            except FileNotFoundError:
                continue  # removed while we looked (a lock, a temp file)


def _owner_of(paths: StatePaths, path: Path) -> str | None:
    """The tenant a state path belongs to, or None for shared folders."""
    for root in (paths.cache_root, paths.audit_root):
        if root in path.parents:
            first = path.relative_to(root).parts[0]
            # cache/.<tenant>.lock and cache/<tenant>.damaged-<stamp> belong to the tenant.
            name = first.lstrip(".").removesuffix(".lock").split(".damaged-")[0]
            return name if is_tenant_name(name) else None
    if path.parent == paths.keys_dir:
        name = path.name.lstrip(".").split(".")[0]
        return name if is_tenant_name(name) else None
    return None


def scan_permissions(paths: StatePaths) -> dict[str | None, PermScan]:
    """Modes and owners of every state path: the state folders themselves, then all
    below keys/, cache/, audit/, bootstrap/ and ratelimit/."""
    scans: dict[str | None, PermScan] = {}
    euid = os.geteuid()
    for top in dict.fromkeys((paths.config_dir, paths.cache_dir, paths.data_dir)):
        # The state folders themselves: rdapctl refuses them when another account owns
        # them or may write to them (a mode --fix can tighten, an owner it cannot).
        try:
            st = top.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            with contextlib.suppress(OSError):
                st = top.stat() if st.st_uid in (euid, 0) else st
        if stat.S_ISDIR(st.st_mode) and st.st_uid == euid and not st.st_mode & 0o022:
            continue
        shared = scans.setdefault(None, PermScan())
        if not stat.S_ISDIR(st.st_mode):
            shared.untrusted.append((top, "not a folder, or a link another account owns"))
        elif st.st_uid != euid:
            shared.untrusted.append((top, f"owned by uid {st.st_uid}"))
        elif st.st_mode & 0o022:
            shared.bad.append((top, st.st_mode & 0o777, True))
    roots = (
        paths.keys_dir,
        paths.cache_root,
        paths.audit_root,
        paths.bootstrap_dir,
        paths.ratelimit_root,
    )
    for root in dict.fromkeys(roots):
        for path, st in _walk(root):
            scan = scans.setdefault(_owner_of(paths, path), PermScan())
            if stat.S_ISLNK(st.st_mode):
                # Never followed, never changed; rdapctl refuses to use it.
                scan.untrusted.append((path, "a symbolic link"))
                continue
            if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                continue  # specials: never followed, never chmod-ed
            if st.st_uid != euid:
                scan.untrusted.append((path, f"owned by uid {st.st_uid}"))
                continue
            scan.checked += 1
            if st.st_mode & 0o077:
                scan.bad.append((path, st.st_mode & 0o777, stat.S_ISDIR(st.st_mode)))
    return scans


def _shown(paths: StatePaths, p: Path) -> str:
    for base in (paths.data_dir, paths.cache_dir):
        if base in p.parents:
            return str(p.relative_to(base))
    return str(p)


def permissions_result(
    tenant: str | None, scan: PermScan, paths: StatePaths, fix: bool
) -> CheckResult:
    def shown(p: Path) -> str:
        return _shown(paths, p)

    if not scan.bad:
        return passed(tenant, "permissions", f"{plural(scan.checked, 'path')} are owner-only")
    codes = {
        int(ExitCode.AUDIT if paths.audit_root in (p, *p.parents) else ExitCode.INTEGRITY)
        for p, _m, _d in scan.bad
    }
    if fix:
        changed = []
        for path, mode, is_dir in scan.bad:
            target = DIR_MODE if is_dir else FILE_MODE
            try:
                os.chmod(path, target, follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                msg = f"cannot chmod {shown(path)}: {exc.strerror}"
                return failed(tenant, "permissions", msg, most_serious(codes))
            changed.append(f"{shown(path)} {mode:04o} -> {target:04o}")
        return passed(tenant, "permissions", f"fixed: {places(changed)}", fixed=True)
    listed = places([f"{shown(p)} ({m:04o})" for p, m, _d in scan.bad])
    msg = f"{plural(len(scan.bad), 'path')} not owner-only: {listed}"
    return failed(tenant, "permissions", msg, most_serious(codes), _FIX_HINT)


def ownership_result(tenant: str | None, scan: PermScan, paths: StatePaths) -> CheckResult | None:
    """A failure (exit 3) listing state paths rdapctl refuses to use (another owner, a
    symlink), or None. Never fixed: whoever planted them may have planted more (a
    keyring, a forged audit trail), so a person must look first."""
    if not scan.untrusted:
        return None
    listed = places([f"{_shown(paths, p)} ({why})" for p, why in scan.untrusted])
    msg = f"{plural(len(scan.untrusted), 'path')} not yours: {listed}"
    hint = (
        "rdapctl refuses to use them: check what they hold, then remove them or "
        f"`chown {os.geteuid()}` them (as root), or set RDAPCTL_HOME to a folder of "
        "your own (--fix never changes ownership)"
    )
    return failed(tenant, "ownership", msg, ExitCode.CONFIG, hint)
