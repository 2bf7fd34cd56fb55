"""The audit records of policy decisions and lookups, built as (event, fields): pure
functions, so that what is recorded is decided in one place and the session only
appends it (``rdapctl.app.session.TenantSession.record``)."""

from __future__ import annotations

from typing import Any

from rdapctl.core.errors import (
    NetworkGuardError,
    PolicyDeniedError,
    RateLimitedError,
    RdapctlError,
)
from rdapctl.rdap.envelope import exit_code_of

AuditEvent = tuple[str, dict[str, Any]]

# Errors whose audit event is more specific than a plain lookup failure.
POLICY_EVENTS: list[tuple[type[RdapctlError], str]] = [
    (NetworkGuardError, "ssrf_blocked"),
    (PolicyDeniedError, "policy_denied"),
    (RateLimitedError, "rate_limited"),
]
# Policy events the user is also warned of when they are recorded.
WARNED_EVENTS = ("ssrf_blocked", "residency_violation")


def policy_event_for(exc: RdapctlError) -> str | None:
    """The audit event of a refusal, or None when ``exc`` is a plain failure."""
    if exc.code == "residency_violation":
        return "residency_violation"
    for kind, event in POLICY_EVENTS:
        if isinstance(exc, kind):
            return event
    return None


def policy_event(exc: RdapctlError, fields: dict[str, Any]) -> AuditEvent | None:
    """The record of a refusal met by a lookup (``fields``: where), or None."""
    event = policy_event_for(exc)
    if event is None:
        return None
    data = dict(fields)
    data["reason"] = exc.message
    return event, data


def residency_event(residency: dict[str, str]) -> AuditEvent:
    """The record of a server outside the tenant's residency that was asked anyway
    (standard isolation anonymises, development warns)."""
    return "residency_violation", {"residency": residency}


def lookup_event(
    envelope: dict[str, Any], fields: dict[str, Any], duration_ms: float
) -> AuditEvent:
    """The ``lookup`` record of ``envelope``: ``fields`` completed in place."""
    error = envelope.get("error")
    fields.update(
        status=envelope["status"],
        exit_code=exit_code_of(envelope),
        error_code=error.get("code") if error else None,
        source=envelope.get("source") or fields.get("source"),
        duration_ms=round(duration_ms, 3),
    )
    return "lookup", fields


def search_event(
    envelope: dict[str, Any], fields: dict[str, Any], duration_ms: float
) -> AuditEvent:
    """The ``search`` record of a search envelope: ``fields`` (kind, parameter names,
    pages, results, truncated, ...) completed in place with how it ended."""
    error = envelope.get("error")
    fields.update(
        status=envelope["status"],
        exit_code=exit_code_of(envelope),
        error_code=error.get("code") if error else None,
        source=envelope.get("source"),
        duration_ms=round(duration_ms, 3),
    )
    return "search", fields


def duplicate_lookup_fields(audit: dict[str, Any], first: int) -> dict[str, Any]:
    """The ``lookup`` record of a repeated query answered from the first one's result
    (``audit``: that one's record, left unchanged; ``first``: its input line)."""
    fields = dict(audit)
    # A repeat fetched nothing itself: no referrals and no requests of its own.
    fields.update(
        source="duplicate", duplicate_of_line=first, duration_ms=0.0, referrals=[], requests=0
    )
    return fields


def key_rotation_event(key_id: str) -> AuditEvent:
    return "key_rotation", {"key_id": key_id, "reason": "rotation_days"}


def cache_integrity_event(reason: str) -> AuditEvent:
    return "cache_integrity_failure", {"reason": reason}


def team_unavailable_event(reason: str) -> AuditEvent:
    """The team backend could not be used; the command went on with local state."""
    return "team_backend_unavailable", {"reason": reason}
