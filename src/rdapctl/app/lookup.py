"""The lookup pipeline: one query, under one tenant's policy, to one envelope.

Order (each step may end the lookup with an envelope whose status says why):
parse → query type allowed → choose server → residency (before sending) →
cache read → fetch (network guard and residency on every hop, request budget and
deadline) → the answer checked against the query → referrals (bounded) →
policy applied to every body (residency anonymisation, PII redaction) → cache
write → audit.

Owns the order and the envelope; the steps live in their modules (``fetch``,
``referrals``, ``lookup_policy``, ``lookup_cache``, ``lookup_trace``). Whatever a
server sends, the lookup ends in an envelope; an exception that is a bug in rdapctl
ends in an ``internal_error`` envelope, audited like any failure. Renders nothing
and prints nothing (warnings are diagnostics).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from rdapctl.app.audit_failure import tolerate_audit_failure
from rdapctl.app.lookup_cache import cache_key, cached_envelope, store_envelope
from rdapctl.app.lookup_policy import (
    apply_policy,
    check_residency,
    policy_summary,
    record_policy_event,
)
from rdapctl.app.lookup_trace import LookupTrace, trace_fields
from rdapctl.core.errors import (
    AuditError,
    NotFoundError,
    RdapctlError,
    UpstreamError,
    UsageError,
)
from rdapctl.core.hostnames import host_of
from rdapctl.core.records import record
from rdapctl.policy.audit_events import lookup_event
from rdapctl.policy.limits import lookup_budget
from rdapctl.policy.server_choice import choose_server
from rdapctl.policy.tenant import require_query_type
from rdapctl.rdap.bootstrap import query_url
from rdapctl.rdap.envelope import make_envelope, status_for_error
from rdapctl.rdap.query import Query, parse_query

if TYPE_CHECKING:
    from rdapctl.app.session import TenantSession
    from rdapctl.net.client import HttpResponse
    from rdapctl.policy.residency_decision import Residency
    from rdapctl.store.cache.entries import CacheRequest

CacheMode = Literal["default", "no-cache", "refresh", "offline"]


@record
class LookupOptions:
    forced_type: str | None = None
    server: str | None = None
    referrals: bool = True
    cache_mode: CacheMode = "default"
    # Conformance checks of the answer as sent ("rfc", "icann-gtld", "all", or "auto":
    # chosen from the server); None: no checks. A checked lookup is never a cache hit.
    check: str | None = None


def run_lookup(session: TenantSession, raw: str, options: LookupOptions) -> dict[str, Any]:
    """Look ``raw`` up for the session's tenant; always returns an envelope.

    The audit record is written before returning. If it cannot be written and the
    tenant does not fail open, the envelope is replaced by an audit error with no
    response in it (nothing is shown that was not recorded).
    """
    return _run(session, raw, options, None, head_only=False)[0]


def run_lookup_plain(
    session: TenantSession, raw: str, options: LookupOptions, *, parsed: Query | None = None
) -> tuple[dict[str, Any], bytes | None, dict[str, Any] | None]:
    """:func:`run_lookup`, plus the stored JSON text when the envelope is a cache hit,
    plus the fields of the ``lookup`` audit record (None when it was not written).

    That text is the envelope as stored (``"source":"network","age_s":null``); batch
    splices the hit's source and age into it instead of encoding the envelope again.
    When the text is returned, the envelope may be only its head
    (``rdapctl.rdap.envelope.envelope_head``: no RDAP bodies): use the text for output.
    ``parsed``: ``raw`` already parsed with ``options.forced_type`` (batch parses
    every line once, to find repeats).
    """
    return _run(session, raw, options, parsed, head_only=True)


def cache_request_of(
    session: TenantSession, query: Query, options: LookupOptions
) -> CacheRequest | None:
    """The cache key the lookup of ``query`` would read (None: it reads none, or fails
    before): for reading a batch's entries from a team backend ahead of the lookups."""
    tenant = session.tenant
    if options.cache_mode in ("no-cache", "refresh") or not session.cache_enabled:
        return None
    if query.type not in tenant.security.allowed_query_types:
        return None
    try:
        choice = choose_server(query, tenant, session.bootstrap, options.server)
    except RdapctlError:
        return None
    return cache_key(query, choice.base_url, options.referrals and tenant.security.follow_referrals)


def _run(
    session: TenantSession,
    raw: str,
    options: LookupOptions,
    parsed: Query | None,
    *,
    head_only: bool,
) -> tuple[dict[str, Any], bytes | None, dict[str, Any] | None]:
    started = time.perf_counter()
    trace = LookupTrace(budget=lookup_budget(session.tenant, session.runtime.monotonic()))
    failure: RdapctlError | None = None
    try:
        with session.lookup_scope(lambda: trace.query.value if trace.query else None):
            envelope = _lookup(session, raw, options, trace, parsed, head_only)
    except RdapctlError as exc:
        failure = exc
    except Exception as exc:  # a bug in rdapctl: one envelope and one audit record, as any
        failure = session.runtime.internal_error(exc)
    if failure is not None:
        envelope = _error_envelope(session, raw, trace, failure)
    duration_ms = (time.perf_counter() - started) * 1000
    fields = trace_fields(trace)
    recorded = None
    try:
        if failure is not None:
            record_policy_event(session, failure, dict(fields))
        event, fields = lookup_event(envelope, fields, duration_ms)
        session.record(event, fields)
        recorded = fields
    except AuditError as exc:
        if not tolerate_audit_failure(session.tenant, exc, "AUDIT RECORD"):
            return _error_envelope(session, raw, trace, exc, keep_answer=False), None, None
    return envelope, (trace.cached_plain if failure is None else None), recorded


def _error_envelope(
    session: TenantSession,
    raw: str,
    trace: LookupTrace,
    exc: RdapctlError,
    *,
    keep_answer: bool = True,
) -> dict[str, Any]:
    """The envelope of a lookup that ended in ``exc``; with the server's (policy-applied)
    error body and HTTP status when ``exc`` came with an answer."""
    query = trace.query
    response = None
    if keep_answer and exc.answer is not None:
        trace.url, trace.http_status, response = exc.answer
    envelope = make_envelope(
        query=query.value if query else raw,
        query_type=query.type if query else None,
        tenant=session.tenant.name,
        status=status_for_error(exc),
        source=None,
        server=trace.server or (trace.choice.base_url if trace.choice else None),
        url=trace.url,
        http_status=trace.http_status,
        response=response,
        error=exc,
    )
    if response is not None:
        envelope["policy"] = policy_summary(session, trace)
    return envelope


def _lookup(
    session: TenantSession,
    raw: str,
    options: LookupOptions,
    trace: LookupTrace,
    parsed: Query | None = None,
    head_only: bool = False,
) -> dict[str, Any]:
    tenant = session.tenant
    query = parsed if parsed is not None else parse_query(raw, options.forced_type)
    trace.query = query
    require_query_type(tenant, query.type)
    choice = choose_server(query, tenant, session.bootstrap, options.server)
    trace.choice = choice
    url = query_url(choice, query)
    trace.url = url
    follow = options.referrals and tenant.security.follow_referrals
    residency = check_residency(session, url, query.tld)
    trace.residency = residency.as_dict()

    key = None
    if options.check is not None and options.cache_mode == "offline":
        raise UsageError("--check needs the server's answer: it cannot run --offline")
    if options.cache_mode != "no-cache" and session.cache_enabled:
        key = cache_key(query, choice.base_url, follow)
        if options.cache_mode != "refresh" and options.check is None:
            hit = cached_envelope(session, key, head_only=head_only)
            if hit is not None:
                return _from_cache(trace, hit)
    if options.cache_mode == "offline":
        raise UpstreamError(
            f"offline: no cached answer for {query.type} {query.value}",
            code="offline_miss",
            hint="run without --offline to fetch it",
        )
    # Past the cache: a hit never loads the fetching and answer-checking steps.
    from rdapctl.app.fetch import check_given_url, fetch, follow_referrals, server_of
    from rdapctl.rdap.answer import (
        answer_error,
        error_message,
        expected_type,
        has_related_links,
    )

    if options.server is not None or query.type == "url":
        # Checked when it is to be asked (a cached answer came from a URL that passed).
        check_given_url(url)

    response, answered = fetch(session, url, query.tld, trace)
    checks = None
    if options.check is not None:  # on the answer as sent, before the policy edits it
        from rdapctl.app.check import lookup_checks

        checks = lookup_checks(session.bootstrap, query, response, options.check)
    status = trace.http_status = response.status
    trace.url = response.url
    trace.server = server_of(choice.base_url, response.url)
    trace.residency = answered.as_dict()
    if status == 404:
        body = apply_policy(session, response.body, answered, trace)
        envelope = make_envelope(
            query=query.value,
            query_type=query.type,
            tenant=tenant.name,
            status="not_found",
            server=trace.server,
            url=response.url,
            http_status=404,
            response=body,
            error=NotFoundError(
                error_message(host_of(response.url), 404, body)
                if isinstance(body, dict)
                else f"{choice.base_url} has no {query.type} {query.value}"
            ),
        )
    elif not 200 <= status < 300:
        body = apply_policy(session, response.body, answered, trace)
        code = "bad_redirect" if 300 <= status < 400 else "http_error"
        message = error_message(host_of(response.url), status, body)
        raise UpstreamError(message, code=code).with_answer(response.url, status, body)
    else:
        body = response.body
        problem = answer_error(body, expected_type(query.type, url), response.url)
        if problem is not None:
            raise _answer_problem(session, problem, response, answered, trace)
        referrals: list[dict[str, Any]] = []
        if follow and query.type in ("domain", "url") and has_related_links(body):
            referrals = follow_referrals(session, body, url, response, trace)
        body = apply_policy(session, body, answered, trace)
        envelope = make_envelope(
            query=query.value,
            query_type=query.type,
            tenant=tenant.name,
            status="ok",
            server=trace.server,
            url=response.url,
            http_status=status,
            response=body,
            referrals=referrals,
        )
        envelope["abuse"] = _abuse(body, query.type, referrals)
    envelope["policy"] = policy_summary(session, trace)
    if key is not None:
        store_envelope(session, key, envelope, response)
    if checks is not None:
        envelope["checks"] = checks
        trace.checks = checks["summary"]
    return envelope


def _abuse(body: Any, query_type: str, referrals: list[dict[str, Any]]) -> dict[str, Any]:
    """The abuse contact, from the policy-applied answers: what the policy removed is
    not found here either."""
    if not (isinstance(body, dict) and body.get("entities")) and not referrals:
        return {"email": [], "phone": [], "source": None}
    from rdapctl.rdap.abuse import abuse_contact

    return abuse_contact(body, query_type, referrals)


def _answer_problem(
    session: TenantSession,
    problem: RdapctlError,
    response: HttpResponse,
    residency: Residency,
    trace: LookupTrace,
) -> RdapctlError:
    """``problem`` (why a 2xx answer is no answer) with what may be shown of it: an
    error object the server sent as a 200 is kept (policy applied) and its message
    built from what the policy left; any other object is not shown."""
    body = response.body
    if "errorCode" not in body:
        return problem.with_answer(response.url, response.status)
    kept = apply_policy(session, body, residency, trace)
    code = body.get("errorCode")
    status = code if isinstance(code, int) and not isinstance(code, bool) else None
    from rdapctl.rdap.answer import error_message

    problem.message = error_message(host_of(response.url), status, kept)
    return problem.with_answer(response.url, response.status, kept)


def _from_cache(
    trace: LookupTrace, hit: tuple[dict[str, Any], float, bytes | None]
) -> dict[str, Any]:
    envelope, age_s, trace.cached_plain = hit
    trace.source = "cache"
    trace.http_status = envelope.get("http_status")
    trace.url = envelope.get("url") or trace.url
    trace.server = envelope.get("server")
    policy = envelope.get("policy") or {}
    trace.redacted_fields.update(policy.get("redacted_fields") or [])
    trace.redacted_count = int(policy.get("redacted_count") or 0)
    trace.residency = policy.get("residency") or trace.residency
    trace.referrals = [r.get("url", "") for r in envelope.get("referrals", [])]
    envelope.update(source="cache", age_s=round(age_s, 3))
    return envelope
