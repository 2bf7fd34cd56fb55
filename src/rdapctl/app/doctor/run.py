"""``rdapctl doctor``'s run: every check, in checklist order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rdapctl.app.doctor.bootstrap_age import bootstrap_check
from rdapctl.app.doctor.keys import (
    key_tokens,
    master_key_check,
    open_keyring,
    sharing_results,
    try_load_keyring,
)
from rdapctl.app.doctor.permissions import ownership_result, permissions_result, scan_permissions
from rdapctl.app.doctor.results import (
    CheckResult,
    DoctorReport,
    failed,
    passed,
    warned,
)
from rdapctl.app.doctor.stores import (
    PiiFinds,
    audit_check,
    cache_check,
    pii_kinds,
    pii_result,
    scan_audit_pii,
)
from rdapctl.app.doctor.targets import (
    Target,
    check_targets,
    has_state,
    profiles_check,
    separate_stores,
    tenants_on_disk,
)
from rdapctl.core.errors import ExitCode
from rdapctl.policy.tenant import Tenant
from rdapctl.store.paths import StatePaths


def run_doctor(
    paths: StatePaths,
    env: Mapping[str, str],
    *,
    profiles: Path | None = None,
    tenant: str | None = None,
    fix: bool = False,
    clock: Callable[[], float],
) -> DoctorReport:
    """Run every check (for ``tenant`` only, when given) and return the checklist.

    ConfigError only when ``tenant`` names no tenant of a valid profiles file; every
    other problem is a failed check in the report.
    """
    results: list[CheckResult] = []
    profiles_result, loaded = profiles_check(profiles, env, paths)
    results.append(profiles_result)
    results.append(bootstrap_check(paths, clock))
    master_result, master_ok = master_key_check(env)
    results.append(master_result)

    targets = check_targets(loaded, tenant, paths, env)
    scans = scan_permissions(paths)
    shared_scan = scans.get(None)
    if shared_scan is not None:
        results.append(permissions_result(None, shared_scan, paths, fix))
        if (owners := ownership_result(None, shared_scan, paths)) is not None:
            results.append(owners)

    keyrings: dict[str, Any] = {}
    per_tenant: dict[str, list[CheckResult]] = {}
    for t in targets:
        checks = per_tenant.setdefault(t.name, [])
        if not t.in_profiles and loaded is not None:
            msg = "state on disk for a tenant the profiles file does not name"
            checks.append(warned(t.name, "state", msg, "remove it, or add the tenant back"))
        if not has_state(paths, t.name):
            checks.append(passed(t.name, "state", "no state yet"))
            continue
        if t.name in scans:
            checks.append(permissions_result(t.name, scans[t.name], paths, fix))
            if (owners := ownership_result(t.name, scans[t.name], paths)) is not None:
                checks.append(owners)
        if not master_ok:
            keyring = None
            checks.append(warned(t.name, "keyring", "not opened: the master key is malformed"))
        else:
            keyring, ring_result, wrap_result = open_keyring(t, paths, env, clock)
            checks.append(ring_result)
            if wrap_result is not None:
                checks.append(wrap_result)
        keyrings[t.name] = keyring

    # Keys of every tenant on disk are compared, even with -t: a copy is shared both ways.
    tokens: dict[str, set[str]] = {}
    checked = set(per_tenant)
    for name in sorted(tenants_on_disk(paths) | set(keyrings)):
        ring = keyrings.get(name)
        if ring is None and name not in checked and master_ok:
            ring = try_load_keyring(paths, name, env, clock)
        tokens[name] = key_tokens(paths, name, ring)
    everyone = [*targets, *(Target(n, Tenant(name=n), False) for n in tokens if n not in checked)]
    sharing = sharing_results(everyone, tokens)
    clashes = separate_stores(everyone, paths)

    for t in targets:
        checks = per_tenant[t.name]
        if t.name not in keyrings:
            continue  # no state yet
        if t.name in sharing and paths.keyring_file(t.name).exists():
            checks.append(sharing[t.name])
        keyring = keyrings[t.name]
        if t.name in clashes:
            msg = f"its cache or audit folder is the same folder as tenant {clashes[t.name]}'s"
            checks.append(failed(t.name, "separate_stores", msg, ExitCode.INTEGRITY))
        kinds = pii_kinds(t)
        pii = PiiFinds() if kinds is not None else None
        checks.append(cache_check(t, keyring, paths, clock, pii, kinds or (False, False)))
        checks.append(audit_check(t, keyring, paths, clock))
        if not t.in_profiles:
            checks.append(warned(t.name, "pii", "not scanned: the tenant's PII policy is unknown"))
        elif kinds is None or pii is None:
            checks.append(passed(t.name, "pii", "not scanned: the tenant does not redact PII"))
        else:
            problem = scan_audit_pii(paths.tenant_audit_dir(t.name), pii, *kinds)
            if problem is not None:
                checks.append(failed(t.name, "pii", problem, ExitCode.AUDIT))
            else:
                checks.append(pii_result(t, pii, kinds))

    for t in targets:
        if t.in_profiles and t.tenant.team is not None:
            from rdapctl.app.doctor.team import team_checks

            per_tenant[t.name].extend(team_checks(t.tenant, paths, env))
        results.extend(per_tenant[t.name])
    return DoctorReport(results)
