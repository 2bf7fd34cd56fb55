"""Building the runtime and choosing the tenant for a command (entry-point wiring)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rdapctl.app.runtime import Runtime
from rdapctl.policy.tenant import Tenant


def make_runtime(command: str, *, debug: bool = False) -> Runtime:
    """``debug``: the root ``--debug`` flag (tracebacks for internal errors)."""
    return Runtime.from_env(os.environ, command=command, stderr=sys.stderr, debug=debug)


def resolve_tenant(runtime: Runtime, profiles: Path | None, tenant: str | None) -> Tenant:
    """The tenant this command acts for (see README: finding profiles)."""
    from rdapctl.profiles.loader import find_profiles_file, load_profiles, select_tenant

    path = find_profiles_file(profiles, runtime.env, runtime.paths)
    loaded = load_profiles(path)
    return select_tenant(loaded, tenant, runtime.env)


def all_tenants(runtime: Runtime, profiles: Path | None) -> list[Tenant]:
    from rdapctl.profiles.loader import find_profiles_file, load_profiles

    loaded = load_profiles(find_profiles_file(profiles, runtime.env, runtime.paths))
    return [loaded.get(name) for name in loaded.tenant_names]
