"""The tenant's policy as a lookup meets it: residency decided for each server before
it is asked (strict isolation refuses; the others are recorded, development also
warned), refusals recorded as their audit events, and every body shown or stored
with the policy applied (residency anonymisation, then PII redaction)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rdapctl.core import diagnostics
from rdapctl.core.errors import RdapctlError
from rdapctl.policy.audit_events import WARNED_EVENTS, policy_event, residency_event
from rdapctl.policy.residency_decision import Residency

if TYPE_CHECKING:
    from rdapctl.app.lookup_trace import LookupTrace
    from rdapctl.app.session import TenantSession


def check_residency(session: TenantSession, url: str, query_tld: str | None) -> Residency:
    """Decide residency for the server of ``url`` before it is asked: strict
    isolation refuses here; anonymise and warn are recorded (and warned)."""
    residency = session.residency.for_url(url, query_tld)
    if residency.action == "deny":
        from rdapctl.policy.residency import residency_refusal

        raise residency_refusal(residency.reason)
    if residency.action in ("anonymise", "warn"):
        session.record(*residency_event(residency.as_dict()))
        if residency.action == "warn":
            diagnostics.warning(f"data residency (development isolation): {residency.reason}")
    return residency


def record_policy_event(session: TenantSession, exc: RdapctlError, fields: dict[str, Any]) -> None:
    """Record ``exc`` as its policy event when it is a refusal (and warn of some)."""
    built = policy_event(exc, fields)
    if built is None:
        return
    session.record(*built)
    if built[0] in WARNED_EVENTS:
        diagnostics.warning(f"{built[0]}: {exc.message}")


def apply_policy(
    session: TenantSession, body: Any, residency: Residency, trace: LookupTrace
) -> Any:
    """Residency anonymisation, then PII redaction: before anything is shown or stored."""
    if body is None:
        return None
    if residency.action == "anonymise":
        from rdapctl.policy.residency import anonymise_record

        return anonymise_record(body, residency.reason)
    security = session.tenant.security
    if not security.redact_pii or not security.redact_fields:
        return body
    from rdapctl.policy.redaction import redact_pii

    # The body was parsed from this response and nothing else holds it: edit in place.
    result = redact_pii(
        body,
        security.redact_fields,
        tenant=session.tenant.name,
        in_place=True,
        exempt_roles=security.redaction_exempt_roles,
    )
    trace.redacted_fields.update(result.redacted_fields)
    trace.redacted_count += result.count
    return result.obj


def policy_summary(session: TenantSession, trace: LookupTrace) -> dict[str, Any]:
    """The envelope's ``policy`` member: what the policy did to this lookup."""
    return {
        "fingerprint": session.policy_fingerprint,
        "redacted_fields": sorted(trace.redacted_fields),
        "redacted_count": trace.redacted_count,
        "residency": trace.residency,
    }
