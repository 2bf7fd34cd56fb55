"""A tenant's team backend, opened for a session: the guard, then the connection.

The backend URL goes through the network guard like any server: its address is
resolved once and every address checked, private ones allowed only with
``[tenants.X.team] allow_private = true``; a plain ``redis://`` connection then goes
to the checked address (never resolved again). A backend that cannot be resolved is
unavailable (warning, or exit 7 when required), one the guard refuses is refused
(exit 4). No master key: ConfigError (exit 3), as is a missing ``redis`` package.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network

from rdapctl.app.runtime import Runtime
from rdapctl.core.errors import ConfigError, NetworkGuardError
from rdapctl.policy.tenant import Tenant
from rdapctl.store.team.backend import TeamBackend, redis_module

Resolver = Callable[[str, int], list[str]]


def require_master_key(runtime: Runtime, tenant: Tenant) -> None:
    """ConfigError (exit 3) when a team tenant has no master key."""
    from rdapctl.store.keys.master import MASTER_HINT, master_key_from_env

    if tenant.team is not None and master_key_from_env(runtime.env) is None:
        raise ConfigError(
            f"tenant {tenant.name} has a team backend, which needs a master key"
            " (RDAPCTL_MASTER_KEY or RDAPCTL_MASTER_KEY_FILE): the shared keyring is kept"
            " wrapped under it",
            hint=MASTER_HINT,
            code="master_key_required",
        )


def open_team(
    runtime: Runtime,
    tenant: Tenant,
    *,
    resolver: Resolver | None,
    on_unavailable: Callable[[str], None],
) -> TeamBackend:
    """The tenant's backend (``tenant.team`` must be set), its address checked."""
    settings = tenant.team
    assert settings is not None
    require_master_key(runtime, tenant)
    redis_module()  # exit 3 naming the extra, before anything else
    make = functools.partial(
        TeamBackend,
        settings,
        tenant.name,
        runtime.env,
        timeout_s=tenant.security.timeout_s,
        on_unavailable=on_unavailable,
        monotonic=runtime.monotonic,
    )
    backend = make(address=None)
    address = checked_address(backend, settings.allow_private, resolver)
    if address is not None and not backend.tls:
        backend = make(address=address)  # plain redis:// connects to the checked address
    return backend


def checked_address(
    backend: TeamBackend, allow_private: bool, resolver: Resolver | None
) -> str | None:
    """The first address of the backend's host, all of them allowed by the guard
    (NetworkGuardError otherwise); None when the name does not resolve (reported as
    the backend being unavailable)."""
    from rdapctl.net.connect import ResolveError, resolve_checked, system_resolver
    from rdapctl.net.guard import NetworkPolicy

    networks: tuple[IPv4Network | IPv6Network, ...] = ()
    policy = NetworkPolicy(allow_private=allow_private, allowed_networks=networks, any_port=True)
    try:
        addresses = resolve_checked(backend.host, backend.port, policy, resolver or system_resolver)
    except ResolveError as exc:
        backend.failed(exc)
        return None
    except NetworkGuardError as exc:
        raise NetworkGuardError(
            f"team backend: {exc.message}",
            hint=f"set [tenants.{backend.tenant}.team] allow_private = true if this Redis is"
            " meant to be reachable",
        ) from None
    return addresses[0]
