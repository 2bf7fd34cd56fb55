"""The lookup pipeline: one query, under one tenant's policy, to one envelope.

Order (each step may end the lookup with an envelope whose status says why):
parse → query type allowed → choose server → residency (before sending) →
cache read → fetch (network guard and residency on every hop, request budget and
deadline) → the answer checked against the query → referrals (bounded) →
policy applied to every body (residency anonymisation, PII redaction) → cache
write → audit.

Owns the order and the envelope; the steps themselves live in their modules.
Whatever a server sends, the lookup ends in an envelope; an exception that is a bug
in rdapctl ends in an ``internal_error`` envelope, audited like any failure.
Renders nothing and prints nothing (warnings go through the runtime).
"""

from __future__ import annotations

import functools
import re
import time
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from rdapctl.core.errors import (
    AuditError,
    NetworkGuardError,
    NotFoundError,
    PolicyDeniedError,
    RateLimitedError,
    RdapctlError,
    UpstreamError,
    UsageError,
)
from rdapctl.core.records import factory, mutable_record, record
from rdapctl.policy.limits import RequestBudget, lookup_budget
from rdapctl.policy.server_choice import choose_server
from rdapctl.rdap.answer import answer_error, error_message, expected_type, has_related_links
from rdapctl.rdap.bootstrap import ServerChoice, query_url
from rdapctl.rdap.envelope import make_envelope, status_for_error
from rdapctl.rdap.query import Query, parse_query

if TYPE_CHECKING:
    from rdapctl.app.session import Residency, TenantSession
    from rdapctl.net.client import HttpResponse

CacheMode = Literal["default", "no-cache", "refresh", "offline"]


@record
class LookupOptions:
    forced_type: str | None = None
    server: str | None = None
    referrals: bool = True
    cache_mode: CacheMode = "default"


@mutable_record
class _Trace:
    """What the envelope and the audit record need to know about how the lookup went."""

    query: Query | None = None
    choice: ServerChoice | None = None
    url: str | None = None
    server: str | None = None  # the base URL of the server that answered
    http_status: int | None = None
    source: str = "network"
    redacted_fields: set[str] = factory(set)
    redacted_count: int = 0
    residency: dict[str, Any] | None = None
    referrals: list[str] = factory(list)
    budget: RequestBudget | None = None
    # A cache hit's stored JSON text, before "source"/"age_s" were set on the envelope.
    cached_plain: bytes | None = None


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


def _run(
    session: TenantSession,
    raw: str,
    options: LookupOptions,
    parsed: Query | None,
    *,
    head_only: bool,
) -> tuple[dict[str, Any], bytes | None, dict[str, Any] | None]:
    started = time.perf_counter()
    trace = _Trace(budget=lookup_budget(session.tenant, session.runtime.monotonic()))
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
            session.record_policy_event(failure, dict(fields))
        recorded = session.record_lookup(envelope, fields, duration_ms)
    except AuditError as exc:
        if not session.tolerate_audit_failure(exc, "AUDIT RECORD"):
            return _error_envelope(session, raw, trace, exc, keep_answer=False), None, None
    return envelope, (trace.cached_plain if failure is None else None), recorded


def trace_fields(trace: _Trace) -> dict[str, Any]:
    query = trace.query
    host, path = url_host_and_path(trace.url, trace.choice, query) if trace.url else (None, None)
    return {
        "query": query.value if query else None,
        "query_type": query.type if query else None,
        "server_host": host,
        "url_path": path,
        "http_status": trace.http_status,
        "source": trace.source,
        "redacted_fields": sorted(trace.redacted_fields),
        "redacted_count": trace.redacted_count,
        "residency": trace.residency,
        "referrals": list(trace.referrals),
        "requests": trace.budget.sent if trace.budget is not None else 0,
    }


def url_host_and_path(
    url: str, choice: ServerChoice | None, query: Query | None
) -> tuple[str | None, str]:
    """``urlsplit(url)``'s hostname and path. A query URL is its server's base URL plus
    the query's path: the base is split once per server, not once per lookup."""
    if choice is not None and query is not None and query.path and query.type != "url":
        base = _split_base(choice.base_url)
        rest = query.path
        if base is not None and url == choice.base_url + rest and _PATH_PLAIN.fullmatch(rest):
            return base[0], base[1] + rest
    try:
        parts = urlsplit(url)
        return parts.hostname, parts.path
    except ValueError:
        return None, ""


# Characters urlsplit would stop at or drop (query, fragment, tab and line breaks) are
# not in query paths; anything else goes the long way.
_PATH_PLAIN = re.compile(r"[^?#\t\r\n]*")


@functools.lru_cache(maxsize=256)
def _split_base(base_url: str) -> tuple[str | None, str] | None:
    """(hostname, path) of a server base URL ending in "/" with no query or fragment;
    None otherwise (then appending a path would not just extend the split path)."""
    if not _PATH_PLAIN.fullmatch(base_url):  # no query, fragment or dropped characters
        return None
    try:
        parts = urlsplit(base_url)
    except ValueError:
        return None
    return (parts.hostname, parts.path) if parts.path.endswith("/") else None


def _error_envelope(
    session: TenantSession,
    raw: str,
    trace: _Trace,
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
        envelope["policy"] = _policy_summary(session, trace)
    return envelope


def _lookup(
    session: TenantSession,
    raw: str,
    options: LookupOptions,
    trace: _Trace,
    parsed: Query | None = None,
    head_only: bool = False,
) -> dict[str, Any]:
    tenant = session.tenant
    query = parsed if parsed is not None else parse_query(raw, options.forced_type)
    trace.query = query
    if query.type not in tenant.security.allowed_query_types:
        raise PolicyDeniedError(
            f"tenant {tenant.name!r} may not run {query.type} queries",
            hint="add it to security.allowed_query_types in the tenant profile",
        )
    choice = choose_server(query, tenant, session.bootstrap, options.server)
    trace.choice = choice
    url = query_url(choice, query)
    trace.url = url
    follow = options.referrals and tenant.security.follow_referrals
    residency = session.check_residency(url, query.tld)
    trace.residency = residency.as_dict()

    cache_key = None
    if options.cache_mode != "no-cache" and session.cache_enabled:
        cache_key = session.cache_request(query, choice.base_url, follow)
        if options.cache_mode != "refresh":
            hit = session.cache_get(cache_key, head_only=head_only)
            if hit is not None:
                return _from_cache(trace, hit)
    if options.cache_mode == "offline":
        raise UpstreamError(
            f"offline: no cached answer for {query.type} {query.value}",
            code="offline_miss",
            hint="run without --offline to fetch it",
        )
    if options.server is not None or query.type == "url":
        # Checked when it is to be asked (a cached answer came from a URL that passed).
        _check_given_url(url)

    response, answered = _fetch(session, url, query.tld, trace)
    status = trace.http_status = response.status
    trace.url = response.url
    trace.server = _server_of(choice.base_url, response.url)
    trace.residency = answered.as_dict()
    if status == 404:
        body = _apply_policy(session, response.body, answered, trace)
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
                error_message(_host(response.url), 404, body)
                if isinstance(body, dict)
                else f"{choice.base_url} has no {query.type} {query.value}"
            ),
        )
    elif not 200 <= status < 300:
        body = _apply_policy(session, response.body, answered, trace)
        code = "bad_redirect" if 300 <= status < 400 else "http_error"
        message = error_message(_host(response.url), status, body)
        raise UpstreamError(message, code=code).with_answer(response.url, status, body)
    else:
        body = response.body
        problem = answer_error(body, expected_type(query.type, url), response.url)
        if problem is not None:
            raise _answer_problem(session, problem, response, answered, trace)
        referrals: list[dict[str, Any]] = []
        if follow and query.type in ("domain", "url") and has_related_links(body):
            referrals = _follow_referrals(session, body, url, response, trace)
        body = _apply_policy(session, body, answered, trace)
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
    envelope["policy"] = _policy_summary(session, trace)
    if cache_key is not None:
        session.cache_put(cache_key, envelope, response)
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
    trace: _Trace,
) -> RdapctlError:
    """``problem`` (why a 2xx answer is no answer) with what may be shown of it: an
    error object the server sent as a 200 is kept (policy applied) and its message
    built from what the policy left; any other object is not shown."""
    body = response.body
    if "errorCode" not in body:
        return problem.with_answer(response.url, response.status)
    kept = _apply_policy(session, body, residency, trace)
    code = body.get("errorCode")
    status = code if isinstance(code, int) and not isinstance(code, bool) else None
    problem.message = error_message(_host(response.url), status, kept)
    return problem.with_answer(response.url, response.status, kept)


def _from_cache(trace: _Trace, hit: tuple[dict[str, Any], float, bytes | None]) -> dict[str, Any]:
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


def _check_given_url(url: str) -> None:
    """A URL the user typed (--server, or a URL query) must be one rdapctl can ask."""
    from rdapctl.net.urls import ANY_HTTP_URL, request_target

    try:
        request_target(url, ANY_HTTP_URL)
    except ValueError as exc:
        raise UsageError(f"cannot use the URL {_shown_url(url)}: {exc}") from None
    except NetworkGuardError:
        pass  # decided by the tenant's guard when the request is made


def _fetch(
    session: TenantSession, url: str, query_tld: str | None, trace: _Trace
) -> tuple[HttpResponse, Residency]:
    """GET ``url`` with residency decided for every server that answers (strict:
    refused before the request; the decision for the last hop is returned)."""
    assert trace.budget is not None
    decisions: list[Residency] = []

    def check_hop(hop_url: str) -> None:
        # The query's ccTLD speaks for its registry's own host, not for another host.
        tld = query_tld if _host(hop_url) == _host(url) else None
        decisions.append(session.check_residency(hop_url, tld))

    try:
        response = session.http.get(url, budget=trace.budget, check_hop=check_hop)
    except RdapctlError as exc:
        if exc.answer is not None:
            answer_url, status, body = exc.answer
            trace.server = _server_of(trace.choice.base_url if trace.choice else url, answer_url)
            if decisions:
                trace.residency = decisions[-1].as_dict()
            if body is not None:
                residency = decisions[-1] if decisions else session.residency_for(url, query_tld)
                body = _apply_policy(session, body, residency, trace)
                if exc.code == "http_error":  # say what the server said, as the policy left it
                    exc.message = error_message(_host(answer_url), status, body)
            exc.answer = (answer_url, status, body)
        raise
    if response.redirects and decisions:
        return response, decisions[-1]
    return response, session.residency_for(url, query_tld)


def _follow_referrals(
    session: TenantSession,
    body: Any,
    url: str,
    response: HttpResponse,
    trace: _Trace,
) -> list[dict[str, Any]]:
    """Registrar referrals of the answer (see ``rdapctl.app.referrals`` for the bounds)."""
    from rdapctl.app.referrals import follow_referrals

    assert trace.budget is not None

    def fetch(link: str, depth: int) -> tuple[dict[str, Any], tuple[Any, str] | None]:
        trace.referrals.append(link)
        return _fetch_referral(session, link, depth, trace)

    return follow_referrals(body, response.url, {url, response.url}, trace.budget, fetch)


def _fetch_referral(
    session: TenantSession, url: str, depth: int, trace: _Trace
) -> tuple[dict[str, Any], tuple[Any, str] | None]:
    """One referral: its envelope entry, and (its raw body, its URL) to follow on.

    A failed referral never fails the lookup: its error is reported in its entry.
    """
    entry: dict[str, Any] = {
        "url": url,
        "depth": depth,
        "status": "error",
        "http_status": None,
        "response": None,
        "error": None,
    }
    assert trace.budget is not None
    decisions: list[Residency] = []
    try:
        decisions.append(session.check_residency(url, None))
        response = session.http.get(
            url,
            budget=trace.budget,
            check_hop=lambda hop: decisions.append(session.check_residency(hop, None)),
        )
        status = response.status
        entry["http_status"] = status
        entry["url"] = response.url
        body = response.body
        problem: RdapctlError | None = None
        if status == 404:
            problem = NotFoundError(error_message(_host(response.url), 404, None))
        elif not 200 <= status < 300:
            code = "bad_redirect" if 300 <= status < 400 else "http_error"
            problem = UpstreamError(error_message(_host(response.url), status, None), code=code)
        else:
            problem = answer_error(body, "domain", response.url)
        if problem is not None:
            raise problem.with_answer(response.url, status, body)
    except RdapctlError as exc:
        entry["status"] = status_for_error(exc)
        if exc.answer is not None:
            answer_url, entry["http_status"], body = exc.answer
            entry["url"] = answer_url
            if body is not None:
                entry["response"] = _apply_policy(session, body, decisions[-1], trace)
                if isinstance(entry["response"], dict) and "errorCode" in entry["response"]:
                    exc.message = error_message(
                        _host(answer_url), entry["http_status"], entry["response"]
                    )
        entry["error"] = {"code": exc.code, "message": exc.message}
        session.record_policy_event(exc, {"url_path": _path(url), "referral": True})
        return entry, None
    entry["status"] = "ok"
    entry["response"] = _apply_policy(session, body, decisions[-1], trace)
    # Referrals of the referral are followed from what the server sent (links are not PII).
    return entry, (body, response.url)


def _server_of(chosen_base: str, answered_url: str) -> str:
    """The base URL of the server that answered: the chosen one, or the origin a
    redirect led to."""
    if chosen_base.endswith("/") and answered_url.startswith(chosen_base):
        return chosen_base  # asked and answered there (no redirect to another origin)
    try:
        chosen, answered = urlsplit(chosen_base), urlsplit(answered_url)
        if (chosen.scheme, chosen.netloc) == (answered.scheme, answered.netloc):
            return chosen_base
        return f"{answered.scheme}://{answered.netloc}/"
    except ValueError:
        return chosen_base


def _host(url: str) -> str:
    from rdapctl.core.hostnames import host_of

    return host_of(url)


def _path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def _shown_url(url: str) -> str:
    import json

    return json.dumps(url[:200], ensure_ascii=True)


def _policy_summary(session: TenantSession, trace: _Trace) -> dict[str, Any]:
    return {
        "fingerprint": session.policy_fingerprint,
        "redacted_fields": sorted(trace.redacted_fields),
        "redacted_count": trace.redacted_count,
        "residency": trace.residency,
    }


def _apply_policy(session: TenantSession, body: Any, residency: Any, trace: _Trace) -> Any:
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


# Errors whose audit event is more specific than a plain lookup failure.
POLICY_EVENTS: list[tuple[type[RdapctlError], str]] = [
    (NetworkGuardError, "ssrf_blocked"),
    (PolicyDeniedError, "policy_denied"),
    (RateLimitedError, "rate_limited"),
]


def policy_event_for(exc: RdapctlError) -> str | None:
    if exc.code == "residency_violation":
        return "residency_violation"
    for kind, event in POLICY_EVENTS:
        if isinstance(exc, kind):
            return event
    return None
