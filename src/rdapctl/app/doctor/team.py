"""``doctor``'s checks of a tenant's team backend: TLS for a non-loopback host, the
backend reachable, the team keyring present and opening, no clear text under the
tenant's names. Read-only: nothing is created, locally or in Redis."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rdapctl.app.doctor.results import CheckResult, failed, passed, warned
from rdapctl.core.errors import ConfigError, ExitCode, IntegrityError, NetworkGuardError
from rdapctl.policy.tenant import Tenant
from rdapctl.store.paths import StatePaths
from rdapctl.store.team.backend import shown_url

Resolver = Callable[[str, int], list[str]]


def team_checks(
    tenant: Tenant,
    paths: StatePaths,
    env: Mapping[str, str],
    *,
    resolver: Resolver | None = None,
) -> list[CheckResult]:
    """The team backend's checklist lines (none for a tenant without one)."""
    settings = tenant.team
    if settings is None:
        return []
    from rdapctl.app.team import checked_address
    from rdapctl.store.keys.master import master_key_from_env
    from rdapctl.store.team.backend import TeamBackend, is_loopback, redis_module

    name = tenant.name
    failures: list[str] = []
    out: list[CheckResult] = []
    backend = TeamBackend(
        settings,
        name,
        env,
        address=None,
        timeout_s=tenant.security.timeout_s,
        on_unavailable=failures.append,
    )
    if backend.tls:
        out.append(passed(name, "team_tls", f"{shown_url(settings)} uses TLS"))
    elif is_loopback(backend.host):
        out.append(passed(name, "team_tls", f"{shown_url(settings)} is on this machine"))
    else:
        out.append(
            failed(
                name,
                "team_tls",
                f"{shown_url(settings)} is not on this machine and does not use TLS",
                ExitCode.CONFIG,
                "use a rediss:// URL",
            )
        )
    try:
        master = master_key_from_env(env)
        redis_module()
        address = checked_address(backend, settings.allow_private, resolver)
    except (ConfigError, NetworkGuardError) as exc:
        code = ExitCode.DENIED if isinstance(exc, NetworkGuardError) else ExitCode.CONFIG
        out.append(failed(name, "team_backend", exc.message, code, exc.hint))
        return out
    if master is None:
        out.append(
            failed(name, "team_backend", "a team backend needs a master key", ExitCode.CONFIG)
        )
        return out
    if address is not None and not backend.tls:
        backend = TeamBackend(
            settings,
            name,
            env,
            address=address,
            timeout_s=tenant.security.timeout_s,
            on_unavailable=failures.append,
        )
    try:
        if not backend.ping():
            reason = failures[0] if failures else "no answer"
            out.append(failed(name, "team_backend", f"unreachable: {reason}", ExitCode.UPSTREAM))
            return out
        out.append(passed(name, "team_backend", f"{shown_url(settings)} answers"))
        out.append(_keyring_check(backend, paths, master))
        out.append(_clear_text_check(backend))
    finally:
        backend.close()
    return out


def _keyring_check(backend: Any, paths: StatePaths, master: bytes) -> CheckResult:
    from rdapctl.store.team.keyring import open_document

    name = backend.tenant
    doc: Any = backend.call(lambda c: c.get(backend.keyring_key), None)
    if not isinstance(doc, bytes):
        return warned(
            name, "team_keyring", "no team keyring yet", "the first command of the tenant makes it"
        )
    try:
        keys = open_document(paths, name, master, doc)
    except IntegrityError as exc:
        return failed(name, "team_keyring", exc.message, ExitCode.INTEGRITY, exc.hint)
    return passed(name, "team_keyring", f"present, opens under the master key ({len(keys)} keys)")


def _clear_text_check(backend: Any) -> CheckResult:
    from rdapctl.store.team.inspect import clear_text_findings

    name = backend.tenant
    result: tuple[int, list[str]] | None = backend.call(
        lambda c: clear_text_findings(backend, c), None
    )
    if result is None:
        return failed(name, "team_clear_text", "not scanned: the backend failed", ExitCode.UPSTREAM)
    scanned, problems = result
    if problems:
        return failed(
            name,
            "team_clear_text",
            f"{len(problems)} of {scanned} keys hold something else than sealed data: "
            + "; ".join(sorted(set(problems))[:5]),
            ExitCode.INTEGRITY,
        )
    return passed(name, "team_clear_text", f"{scanned} keys, nothing in clear")
