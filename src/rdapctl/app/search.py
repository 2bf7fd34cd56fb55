"""The search pipeline: one RFC 9082 / RFC 9536 search, under one tenant's policy, to
one envelope with every result.

Order: query type allowed (``search`` or ``reverse_search``) → result limit within the
tenant's ``max_search_results`` → choose the server → residency (before anything is
sent) → pages, each from the cache or fetched like a lookup (network guard, residency
and the rate gate on every hop, its own request budget), checked, policy applied, and
cached under its URL → the next page from ``paging_metadata`` until the limit, the
last page, a loop, another origin or the page cap → one ``search`` audit record.

Results reach ``on_results`` page by page, policy applied, as they arrive (``-o jsonl``
prints them before the next page is asked for). Whatever a server sends, the search
ends in an envelope; what was fetched before a failure stays in it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from rdapctl.app.audit_failure import tolerate_audit_failure
from rdapctl.app.lookup import CacheMode
from rdapctl.app.lookup_policy import (
    check_residency,
    policy_summary,
    record_policy_event,
)
from rdapctl.app.lookup_trace import LookupTrace, url_host_and_path
from rdapctl.app.search_pages import (
    SearchProgress,
    collect_redactions,
    combine_redactions,
    read_page,
)
from rdapctl.core import diagnostics
from rdapctl.core.errors import (
    AuditError,
    NotFoundError,
    PolicyDeniedError,
    RdapctlError,
)
from rdapctl.core.hostnames import host_of
from rdapctl.core.records import mutable_record, record
from rdapctl.policy.audit_events import search_event
from rdapctl.policy.server_choice import choose_search_server
from rdapctl.policy.tenant import require_query_type
from rdapctl.rdap import search as protocol
from rdapctl.rdap.envelope import make_envelope, status_for_error
from rdapctl.rdap.search import SearchRequest

if TYPE_CHECKING:
    from rdapctl.app.session import TenantSession

DEFAULT_SEARCH_LIMIT = 100
# Pages one search may fetch, whatever the limit: a server that hands out one result
# (or none) per page with fresh cursors forever is stopped here.
MAX_SEARCH_PAGES = 100
ResultSink = Callable[[list[Any]], None]


@record
class SearchOptions:
    server: str | None = None
    limit: int | None = None  # None: DEFAULT_SEARCH_LIMIT, capped by max_search_results
    cache_mode: CacheMode = "default"


@mutable_record
class SearchOutcome:
    """The envelope, and the first page as the policy left it (``-o rdap``)."""

    envelope: dict[str, Any]
    first_page: dict[str, Any] | None = None


def search_limit(tenant_max: int, asked: int | None) -> int:
    """The result limit of a search: ``asked`` (default 100, at most the tenant's
    ``max_search_results``). PolicyDeniedError when ``asked`` is above it; UsageError
    below 1."""
    from rdapctl.core.errors import UsageError

    if asked is None:
        return min(DEFAULT_SEARCH_LIMIT, tenant_max)
    if asked < 1:
        raise UsageError("--limit must be at least 1")
    if asked > tenant_max:
        raise PolicyDeniedError(
            f"--limit {asked} is above the tenant's max_search_results ({tenant_max})",
            code="search_limit",
            hint="ask for fewer, or raise security.max_search_results in the tenant profile",
        )
    return asked


def run_search(
    session: TenantSession,
    request: SearchRequest,
    options: SearchOptions,
    on_results: ResultSink | None = None,
) -> SearchOutcome:
    """Run ``request`` for the session's tenant; always returns an outcome whose
    envelope is written to the audit trail first (an audit failure that the tenant
    does not tolerate replaces it with an audit error holding no results)."""
    started = time.perf_counter()
    trace = LookupTrace()
    progress = SearchProgress(results=[], sources=set())
    failure: RdapctlError | None = None
    try:
        with session.lookup_scope(lambda: request.pattern, personal=request.personal):
            _search(session, request, options, trace, progress, on_results)
    except RdapctlError as exc:
        failure = exc
    except Exception as exc:  # a bug in rdapctl: one envelope and one audit record
        failure = session.runtime.internal_error(exc)
    envelope = _envelope(session, request, trace, progress, failure)
    fields = _audit_fields(request, trace, progress)
    combine_redactions(progress)
    try:
        with session.lookup_scope(lambda: request.pattern, personal=request.personal):
            if failure is not None:
                record_policy_event(session, failure, dict(fields))
            event, fields = search_event(envelope, fields, (time.perf_counter() - started) * 1000)
            session.record(event, fields)
    except AuditError as exc:
        if not tolerate_audit_failure(session.tenant, exc, "AUDIT RECORD"):
            return SearchOutcome(
                _envelope(session, request, trace, SearchProgress(results=[]), exc)
            )
    return SearchOutcome(envelope, progress.first_page)


def _search(
    session: TenantSession,
    request: SearchRequest,
    options: SearchOptions,
    trace: LookupTrace,
    progress: SearchProgress,
    on_results: ResultSink | None,
) -> None:
    tenant = session.tenant
    require_query_type(tenant, request.query_type)
    limit = search_limit(tenant.security.max_search_results, options.limit)
    choice = choose_search_server(request, tenant, session.bootstrap, options.server)
    trace.choice = choice
    first_url = choice.base_url + request.path
    trace.url = progress.first_url = first_url
    if options.server is not None:
        from rdapctl.app.fetch import check_given_url

        check_given_url(choice.base_url)
    # Residency before anything is sent: strict isolation refuses here.
    trace.residency = check_residency(session, first_url, request.tld).as_dict()
    url: str | None = first_url
    visited: set[str] = set()
    warned = False
    while url is not None:
        if progress.pages >= MAX_SEARCH_PAGES:
            diagnostics.warning(f"paging stopped after {MAX_SEARCH_PAGES} pages (the page cap)")
            progress.truncated = True
            break
        visited.add(protocol.page_key(url))
        page = read_page(
            session, request, options.cache_mode, choice.base_url, url, trace, progress
        )
        if page is None:  # offline, and this later page was never cached
            progress.truncated = True
            break
        body, next_url = page
        if not warned:
            warned = True
            for feature in protocol.undeclared_features(request, body):
                diagnostics.warning(
                    f"{host_of(url)} does not declare {feature!r} in rdapConformance:"
                    " the search ran, but the server may have ignored it"
                )
        results = protocol.page_results(body, request.kind) or []
        room = limit - len(progress.results)
        if len(results) > room:
            results = results[:room]
            progress.truncated = True
        collect_redactions(progress, body, request.kind, len(results))
        if protocol.says_truncated(body):
            progress.truncated = True
        progress.results.extend(results)
        if on_results is not None and results:
            on_results(results)
        if next_url is None:
            break
        if len(progress.results) >= limit:
            progress.truncated = True  # more are on offer: the limit cut them
            break
        if protocol.page_key(next_url) in visited:
            diagnostics.warning("the server's next page link repeats a page: paging stopped")
            progress.truncated = True
            break
        if protocol.has_userinfo(next_url):
            diagnostics.warning("the server's next page link carries credentials: paging stopped")
            progress.truncated = True
            break
        if not protocol.same_origin(next_url, url):
            diagnostics.warning(
                f"the server's next page link leaves {host_of(url)} for"
                f" {host_of(next_url)}: paging stopped"
            )
            progress.truncated = True
            break
        if not results:
            diagnostics.warning("the server sent an empty page with a next link: paging stopped")
            progress.truncated = True
            break
        url = next_url
    if not progress.results and not progress.truncated:
        raise NotFoundError(
            f"{host_of(progress.first_url or '')} has no {request.kind} matching"
            f" {request.param}={request.pattern}"
        )


def _envelope(
    session: TenantSession,
    request: SearchRequest,
    trace: LookupTrace,
    progress: SearchProgress,
    failure: RdapctlError | None,
) -> dict[str, Any]:
    status = "ok" if failure is None else status_for_error(failure)
    sources = progress.sources or set()
    source: Literal["network", "cache"] | None = None
    if sources:
        source = "cache" if sources == {"cache"} else "network"
    response = None
    if failure is not None and failure.answer is not None:
        trace.url, trace.http_status, response = failure.answer
    envelope = make_envelope(
        query=request.pattern,
        query_type="search",
        tenant=session.tenant.name,
        status=status,
        source=source,
        server=trace.server or (trace.choice.base_url if trace.choice else None),
        url=progress.first_url,
        http_status=progress.first_status if progress.pages else trace.http_status,
        response=response,
        error=failure,
        age_s=progress.oldest_s if source == "cache" else None,
    )
    if failure is not None and progress.results:
        progress.truncated = True  # a later page failed: there may be more
    envelope["policy"] = policy_summary(session, trace)
    envelope["search"] = {
        "kind": request.kind,
        "reverse": request.reverse,
        "params": request.parameters,
        "pages": progress.pages,
        "results_count": len(progress.results),
        "truncated": progress.truncated,
        "total": progress.total,
    }
    envelope["results"] = progress.results
    return envelope


def _audit_fields(
    request: SearchRequest, trace: LookupTrace, progress: SearchProgress
) -> dict[str, Any]:
    host, path = (None, None)
    if progress.first_url:
        host, path = url_host_and_path(progress.first_url, None, None)
    return {
        "query": request.pattern,
        "query_type": request.query_type,
        "kind": request.kind,
        "params": list(request.parameters),
        "server_host": host,
        "url_path": path,
        "pages": progress.pages,
        "results": len(progress.results),
        "truncated": progress.truncated,
        "redacted_fields": sorted(trace.redacted_fields),
        "redacted_count": trace.redacted_count,
        "residency": trace.residency,
        "requests": progress.requests,
    }
