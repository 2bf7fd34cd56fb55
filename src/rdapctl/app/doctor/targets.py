"""Which tenants doctor checks: those of the profiles file (checked first, as its own
check), and state on disk for tenants it does not name."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdapctl.app.doctor.results import (
    CheckResult,
    failed,
    passed,
    plural,
    warned,
)
from rdapctl.core.errors import ConfigError, ExitCode
from rdapctl.policy.tenant import Tenant, check_tenant_name, is_tenant_name
from rdapctl.store.paths import StatePaths


@dataclass(frozen=True)
class Target:
    name: str
    tenant: Tenant
    in_profiles: bool


def tenants_on_disk(paths: StatePaths) -> set[str]:
    """Names of tenants with a keyring, cache store or audit folder."""
    names: set[str] = set()
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        names.update(p.stem for p in paths.keys_dir.glob("*.json"))
    for root in (paths.cache_root, paths.audit_root):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            names.update(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    return {n for n in names if is_tenant_name(n)}


def profiles_check(
    explicit: Path | None, env: Mapping[str, str], paths: StatePaths
) -> tuple[CheckResult, Any]:
    """The profiles check and the loaded ProfilesFile (None when it does not load)."""
    from rdapctl.profiles.loader import ProfilesFile, find_profiles_file, load_profiles
    from rdapctl.profiles.validation import validate_file

    try:
        path = find_profiles_file(explicit, env, paths)
    except ConfigError as exc:
        return failed(None, "profiles", exc.message, ExitCode.CONFIG, exc.hint), None
    if path is None:
        msg = "no profiles file: the built-in default tenant applies"
        return passed(None, "profiles", msg), ProfilesFile()
    findings = validate_file(path)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    if errors:
        first = errors[0]
        where = first.file + (f":{first.line}" if first.line is not None else "")
        what = f"{first.key_path}: {first.message}" if first.key_path else first.message
        msg = f"{plural(len(errors), 'error')} in the profiles file; first: {where}: {what}"
        hint = f"run `rdapctl profile validate {path}` to list every problem"
        return failed(None, "profiles", msg, ExitCode.CONFIG, hint), None
    try:
        loaded = load_profiles(path)
    except ConfigError as exc:
        return failed(None, "profiles", exc.message, ExitCode.CONFIG, exc.hint), None
    names = ", ".join(loaded.tenant_names)
    if warnings:
        msg = f"{path} validates with {plural(len(warnings), 'warning')} (tenants: {names})"
        return warned(None, "profiles", msg, f"run `rdapctl profile validate {path}`"), loaded
    return passed(None, "profiles", f"{path} validates (tenants: {names})"), loaded


def check_targets(
    loaded: Any, only: str | None, paths: StatePaths, env: Mapping[str, str]
) -> list[Target]:
    from rdapctl.profiles.loader import select_tenant

    if loaded is None:
        # The profiles file does not load: still check what is on disk, with defaults.
        names = [check_tenant_name(only)] if only else sorted(tenants_on_disk(paths))
        return [Target(n, Tenant(name=n), in_profiles=False) for n in names]
    if only is not None:
        chosen = select_tenant(loaded, only, env)  # ConfigError for an unknown tenant
        return [Target(chosen.name, chosen, in_profiles=True)]
    named = list(loaded.tenant_names)
    targets = [Target(n, loaded.get(n), in_profiles=True) for n in named]
    orphans = sorted(tenants_on_disk(paths) - set(named))
    targets += [Target(n, Tenant(name=n), in_profiles=False) for n in orphans]
    return targets


def has_state(paths: StatePaths, name: str) -> bool:
    return (
        paths.keyring_file(name).exists()
        or os.path.lexists(paths.tenant_cache_dir(name))
        or os.path.lexists(paths.tenant_audit_dir(name))
    )


def separate_stores(targets: list[Target], paths: StatePaths) -> dict[str, str]:
    """Tenants whose cache or audit folder resolves to another tenant's."""
    seen: dict[Path, str] = {}
    clashes: dict[str, str] = {}
    for t in targets:
        for folder in (paths.tenant_cache_dir(t.name), paths.tenant_audit_dir(t.name)):
            if not os.path.lexists(folder):
                continue
            real = folder.resolve()
            other = seen.setdefault(real, t.name)
            if other != t.name:
                clashes[t.name] = other
    return clashes
