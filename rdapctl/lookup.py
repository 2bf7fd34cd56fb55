"""The lookup pipeline: one query, under one tenant's policy, to one envelope.

Order (each step may end the lookup with an envelope whose status says why):
parse → query type allowed → choose server → residency (before sending) →
cache read → fetch (network guard on every hop, in the transport) → referrals →
policy applied (residency anonymisation, PII redaction) → cache write → audit.

Owns the order and the envelope; the steps themselves live in their modules.
Renders nothing and prints nothing (warnings go through the runtime).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin, urlsplit

from rdapctl.bootstrap import ServerChoice, choose_server, query_url
from rdapctl.envelope import make_envelope, status_for_error
from rdapctl.errors import (
    AuditError,
    NetworkGuardError,
    NotFoundError,
    PolicyDeniedError,
    RateLimitedError,
    RdapctlError,
    UpstreamError,
)
from rdapctl.query import Query, parse_query
from rdapctl.records import factory, mutable_record, record

if TYPE_CHECKING:
    from rdapctl.http import HttpResponse
    from rdapctl.session import TenantSession

CacheMode = Literal["default", "no-cache", "refresh", "offline"]
MAX_REFERRAL_DEPTH = 2
RDAP_MEDIA_TYPES = ("application/rdap+json", "application/json")


@record
class LookupOptions:
    forced_type: str | None = None
    server: str | None = None
    referrals: bool = True
    cache_mode: CacheMode = "default"


@mutable_record
class _Trace:
    """What the audit record needs to know about how the lookup went."""

    query: Query | None = None
    choice: ServerChoice | None = None
    url: str | None = None
    http_status: int | None = None
    source: str = "network"
    redacted_fields: set[str] = factory(set)
    redacted_count: int = 0
    residency: dict[str, Any] | None = None
    referrals: list[str] = factory(list)
    ttl_s: int | None = None
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
    (``rdapctl.envelope.envelope_head``: no RDAP bodies): use the text for output.
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
    trace = _Trace()
    failure: RdapctlError | None = None
    try:
        envelope = _lookup(session, raw, options, trace, parsed, head_only)
    except RdapctlError as exc:
        envelope = _error_envelope(session, raw, trace, exc)
        failure = exc
    duration_ms = (time.perf_counter() - started) * 1000
    fields = trace_fields(trace)
    recorded = None
    try:
        if failure is not None:
            session.record_policy_event(failure, dict(fields))
        recorded = session.record_lookup(envelope, fields, duration_ms)
    except AuditError as exc:
        if not session.tolerate_audit_failure(exc, "AUDIT RECORD"):
            return _error_envelope(session, raw, trace, exc), None, None
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
    parts = urlsplit(url)
    return parts.hostname, parts.path


# Characters urlsplit would stop at or drop (query, fragment, tab and line breaks) are
# not in query paths; anything else goes the long way.
_PATH_PLAIN = re.compile(r"[^?#\t\r\n]*")


@functools.lru_cache(maxsize=256)
def _split_base(base_url: str) -> tuple[str | None, str] | None:
    """(hostname, path) of a server base URL ending in "/" with no query or fragment;
    None otherwise (then appending a path would not just extend the split path)."""
    if not _PATH_PLAIN.fullmatch(base_url):  # no query, fragment or dropped characters
        return None
    parts = urlsplit(base_url)
    return (parts.hostname, parts.path) if parts.path.endswith("/") else None


def _error_envelope(
    session: TenantSession, raw: str, trace: _Trace, exc: RdapctlError
) -> dict[str, Any]:
    query = trace.query
    return make_envelope(
        query=query.value if query else raw,
        query_type=query.type if query else None,
        tenant=session.tenant.name,
        status=status_for_error(exc),
        source=None,
        server=trace.choice.base_url if trace.choice else None,
        url=trace.url,
        http_status=trace.http_status,
        error=exc,
    )


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
                envelope, age_s, trace.cached_plain = hit
                trace.source = "cache"
                trace.http_status = envelope.get("http_status")
                policy = envelope.get("policy") or {}
                trace.redacted_fields.update(policy.get("redacted_fields") or [])
                trace.redacted_count = int(policy.get("redacted_count") or 0)
                trace.referrals = [r.get("url", "") for r in envelope.get("referrals", [])]
                envelope.update(source="cache", age_s=round(age_s, 3))
                return envelope
    if options.cache_mode == "offline":
        raise UpstreamError(
            f"offline: no cached answer for {query.type} {query.value}",
            code="offline_miss",
            hint="run without --offline to fetch it",
        )

    response = session.http.get(url)
    trace.http_status = response.status
    referrals: list[dict[str, Any]] = []
    if response.status == 404:
        envelope = _not_found(session, query, choice, response)
    elif response.status >= 400:
        raise UpstreamError(_rdap_error_message(response), code="http_error")
    else:
        body = response.body
        if follow and query.type in ("domain", "url"):
            referrals = _follow_referrals(session, body, {url, response.url}, trace)
        body = _apply_policy(session, body, residency, trace)
        envelope = make_envelope(
            query=query.value,
            query_type=query.type,
            tenant=tenant.name,
            status="ok",
            server=choice.base_url,
            url=response.url,
            http_status=response.status,
            response=body,
            referrals=referrals,
        )
    envelope["policy"] = _policy_summary(session, trace)
    if cache_key is not None:
        session.cache_put(cache_key, envelope, response)
    return envelope


def _not_found(
    session: TenantSession, query: Query, choice: ServerChoice, response: HttpResponse
) -> dict[str, Any]:
    error = NotFoundError(f"{choice.base_url} has no {query.type} {query.value}")
    body = response.body if isinstance(response.body, dict) else None
    if body:
        error = NotFoundError(_rdap_error_message(response) or error.message)
    return make_envelope(
        query=query.value,
        query_type=query.type,
        tenant=session.tenant.name,
        status="not_found",
        server=choice.base_url,
        url=response.url,
        http_status=404,
        response=body,
        error=error,
    )


def _rdap_error_message(response: HttpResponse) -> str:
    """'HTTP 404: Not Found — description' from an RDAP error object, if there is one."""
    body = response.body
    parts = [f"HTTP {response.status}"]
    if isinstance(body, dict):
        title = body.get("title")
        if isinstance(title, str) and title.strip():
            parts.append(title.strip())
        desc = body.get("description")
        if isinstance(desc, list):
            text = " ".join(d.strip() for d in desc if isinstance(d, str) and d.strip())
            if text:
                parts.append(text)
        elif isinstance(desc, str) and desc.strip():
            parts.append(desc.strip())
    host = urlsplit(response.url).hostname or response.url
    return f"{host} answered " + ": ".join(parts)[:500]


def _policy_summary(session: TenantSession, trace: _Trace) -> dict[str, Any]:
    return {
        "fingerprint": session.policy_fingerprint,
        "redacted_fields": sorted(trace.redacted_fields),
        "redacted_count": trace.redacted_count,
        "residency": trace.residency,
    }


def _apply_policy(session: TenantSession, body: Any, residency: Any, trace: _Trace) -> Any:
    """Residency anonymisation, then PII redaction: before anything is shown or stored."""
    if residency.action == "anonymise":
        from rdapctl.residency import anonymise_record

        return anonymise_record(body, residency.reason)
    security = session.tenant.security
    if not security.redact_pii or not security.redact_fields:
        return body
    from rdapctl.redaction import redact_pii

    # The body was parsed from this response and nothing else holds it: edit in place.
    result = redact_pii(body, security.redact_fields, tenant=session.tenant.name, in_place=True)
    trace.redacted_fields.update(result.redacted_fields)
    trace.redacted_count += result.count
    return result.obj


def referral_links(body: Any, base_url: str) -> list[str]:
    """RDAP ``links`` with rel=related and an RDAP media type, resolved against base_url."""
    if not isinstance(body, dict):
        return []
    links = body.get("links")
    if not isinstance(links, list):
        return []
    out: list[str] = []
    for link in links:
        if not isinstance(link, dict):
            continue
        rel = link.get("rel")
        media = link.get("type")
        href = link.get("href")
        if not (isinstance(rel, str) and isinstance(href, str) and isinstance(media, str)):
            continue
        if rel.lower() != "related" or media.split(";")[0].strip().lower() not in RDAP_MEDIA_TYPES:
            continue
        absolute = urljoin(base_url, href.strip())
        if absolute.lower().startswith(("http://", "https://")) and absolute not in out:
            out.append(absolute)
    return out


def _follow_referrals(
    session: TenantSession, body: Any, seen: set[str], trace: _Trace
) -> list[dict[str, Any]]:
    """Follow registrar referrals breadth-first, depth <= 2, never the same URL twice.

    A failed referral never fails the lookup: its error is reported in its entry.
    """
    results: list[dict[str, Any]] = []
    frontier: list[tuple[Any, str]] = [(body, next(iter(seen)))]
    for depth in range(1, MAX_REFERRAL_DEPTH + 1):
        next_frontier: list[tuple[Any, str]] = []
        for parent, parent_url in frontier:
            for link in referral_links(parent, parent_url):
                if link in seen:
                    continue
                seen.add(link)
                entry, fetched = _fetch_referral(session, link, depth, trace)
                results.append(entry)
                trace.referrals.append(link)
                if fetched is not None:
                    seen.add(fetched.url)
                    next_frontier.append((fetched.body, fetched.url))
        frontier = next_frontier
    return results


def _fetch_referral(
    session: TenantSession, url: str, depth: int, trace: _Trace
) -> tuple[dict[str, Any], HttpResponse | None]:
    entry: dict[str, Any] = {
        "url": url,
        "depth": depth,
        "status": "error",
        "http_status": None,
        "response": None,
        "error": None,
    }
    try:
        residency = session.check_residency(url, None)
        response = session.http.get(url)
    except RdapctlError as exc:
        entry["status"] = status_for_error(exc)
        entry["error"] = {"code": exc.code, "message": exc.message}
        session.record_policy_event(exc, {"url_path": urlsplit(url).path, "referral": True})
        return entry, None
    entry["http_status"] = response.status
    if response.status >= 400:
        entry["status"] = "not_found" if response.status == 404 else "error"
        entry["error"] = {"code": "http_error", "message": _rdap_error_message(response)}
        return entry, None
    raw_body = response.body
    entry["status"] = "ok"
    entry["url"] = response.url
    entry["response"] = _apply_policy(session, raw_body, residency, trace)
    # Referrals of the referral are followed from what the server sent (links are not PII).
    return entry, response


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


Warn = Callable[[str], None]
