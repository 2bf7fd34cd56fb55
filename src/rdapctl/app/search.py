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
    apply_policy,
    check_residency,
    policy_summary,
    record_policy_event,
)
from rdapctl.app.lookup_trace import LookupTrace, url_host_and_path
from rdapctl.core import diagnostics
from rdapctl.core.errors import (
    AuditError,
    NotFoundError,
    PolicyDeniedError,
    RdapctlError,
    UpstreamError,
)
from rdapctl.core.hostnames import host_of
from rdapctl.core.records import mutable_record, record
from rdapctl.policy.audit_events import search_event
from rdapctl.policy.limits import lookup_budget
from rdapctl.policy.server_choice import choose_search_server
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


@mutable_record
class _Progress:
    results: list[Any]
    pages: int = 0
    truncated: bool = False
    total: int | None = None
    first_page: dict[str, Any] | None = None
    first_url: str | None = None
    first_status: int | None = None
    sources: set[str] | None = None
    oldest_s: float | None = None
    requests: int = 0
    # RFC 9537 redactions of every kept result, at its index among all results.
    redacted: list[Any] | None = None


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
    progress = _Progress(results=[], sources=set())
    failure: RdapctlError | None = None
    try:
        with session.lookup_scope(lambda: request.pattern):
            _search(session, request, options, trace, progress, on_results)
    except RdapctlError as exc:
        failure = exc
    except Exception as exc:  # a bug in rdapctl: one envelope and one audit record
        failure = session.runtime.internal_error(exc)
    envelope = _envelope(session, request, trace, progress, failure)
    fields = _audit_fields(request, trace, progress)
    _combine_redactions(progress)
    try:
        with session.lookup_scope(lambda: request.pattern):
            if failure is not None:
                record_policy_event(session, failure, dict(fields))
            event, fields = search_event(envelope, fields, (time.perf_counter() - started) * 1000)
            session.record(event, fields)
    except AuditError as exc:
        if not tolerate_audit_failure(session.tenant, exc, "AUDIT RECORD"):
            return SearchOutcome(_envelope(session, request, trace, _Progress(results=[]), exc))
    return SearchOutcome(envelope, progress.first_page)


def _search(
    session: TenantSession,
    request: SearchRequest,
    options: SearchOptions,
    trace: LookupTrace,
    progress: _Progress,
    on_results: ResultSink | None,
) -> None:
    tenant = session.tenant
    if request.query_type not in tenant.security.allowed_query_types:
        raise PolicyDeniedError(
            f"tenant {tenant.name!r} may not run {request.query_type} queries",
            hint=f"add {request.query_type!r} to security.allowed_query_types in the tenant"
            " profile",
        )
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
        visited.add(url)
        page = _page(session, request, options, choice.base_url, url, trace, progress)
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
        _collect_redactions(progress, body, request.kind, len(results))
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
        if next_url in visited:
            diagnostics.warning("the server's next page link repeats a page: paging stopped")
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


def _page(
    session: TenantSession,
    request: SearchRequest,
    options: SearchOptions,
    base_url: str,
    url: str,
    trace: LookupTrace,
    progress: _Progress,
) -> tuple[dict[str, Any], str | None] | None:
    """One page: (its policy-applied body, the next page's URL). From the cache when it
    holds the page (``--offline``: only from there; None when a later page is not)."""
    key = None
    first = progress.pages == 0
    if options.cache_mode != "no-cache" and session.cache_enabled:
        from rdapctl.store.cache.entries import CacheRequest

        key = CacheRequest("search_page", url, base_url, False)
        if options.cache_mode != "refresh":
            from rdapctl.app.lookup_cache import cached_envelope

            hit = cached_envelope(session, key, head_only=False)
            if hit is not None and isinstance(hit[0].get("response"), dict):
                value, age_s, _ = hit
                _count_page(progress, value["response"], url, value.get("http_status"), first)
                assert progress.sources is not None
                progress.sources.add("cache")
                progress.oldest_s = max(progress.oldest_s or 0.0, age_s)
                trace.server = value.get("server") or trace.server
                nxt = value.get("next")
                return value["response"], nxt if isinstance(nxt, str) else None
    if options.cache_mode == "offline":
        if first:
            raise UpstreamError(
                f"offline: no cached page for the search {request.describe()}",
                code="offline_miss",
                hint="run without --offline to fetch it",
            )
        diagnostics.warning("offline: the next page was never cached; results end here")
        return None
    body, status, next_url, response = _fetch_page(session, request, url, trace, progress)
    _count_page(progress, body, url, status, first)
    assert progress.sources is not None
    progress.sources.add("network")
    if key is not None:
        from rdapctl.store.cache.freshness import default_ttl, ttl_from_headers

        ttl = ttl_from_headers(
            response.headers, default_ttl(session.tenant, status), session.runtime.clock()
        )
        if ttl is not None and ttl > 0:
            value = {
                "url": url,
                "http_status": status,
                "server": trace.server,
                "next": next_url,
                "response": body,
                "referrals": [],
            }
            session.write_cache(key, value, ttl)
    return body, next_url


def _count_page(
    progress: _Progress, body: dict[str, Any], url: str, status: Any, first: bool
) -> None:
    progress.pages += 1
    if first:
        progress.first_page = body
        progress.first_status = status if isinstance(status, int) else None
        progress.total = protocol.total_count(body)


def _fetch_page(
    session: TenantSession,
    request: SearchRequest,
    url: str,
    trace: LookupTrace,
    progress: _Progress,
) -> tuple[dict[str, Any], int, str | None, Any]:
    """GET one page like a lookup, and check it is a page of results."""
    from rdapctl.app.fetch import fetch, server_of
    from rdapctl.rdap.answer import answer_error, error_message

    trace.budget = lookup_budget(session.tenant, session.runtime.monotonic())
    try:
        response, answered = fetch(session, url, request.tld, trace)
    finally:
        progress.requests += trace.budget.sent
    status = response.status
    trace.http_status = status
    assert trace.choice is not None
    trace.server = server_of(trace.choice.base_url, response.url)
    trace.residency = answered.as_dict()
    if status == 404 and progress.pages == 0:
        # No match: some servers answer a search that finds nothing with 404.
        return (
            {"rdapConformance": [], protocol.RESULTS_MEMBER[request.kind]: []},
            404,
            None,
            response,
        )
    if not 200 <= status < 300:
        body = apply_policy(session, response.body, answered, trace)
        code = "bad_redirect" if 300 <= status < 400 else "http_error"
        message = error_message(host_of(response.url), status, body)
        raise UpstreamError(message, code=code).with_answer(response.url, status, body)
    raw = response.body
    problem = answer_error(raw, None, response.url)
    if problem is not None:
        kept = apply_policy(session, raw, answered, trace) if "errorCode" in raw else None
        raise problem.with_answer(response.url, status, kept)
    if protocol.page_results(raw, request.kind) is None:
        raise UpstreamError(
            f"{host_of(response.url)} answered the search without a"
            f" {protocol.RESULTS_MEMBER[request.kind]} array",
            code="unexpected_object",
        ).with_answer(response.url, status)
    # Read before the policy is applied: links are the server's, and redaction may mask
    # text that looks like a contact inside them.
    next_url = protocol.next_link(raw, response.url)
    if answered.action == "anonymise":
        body = _anonymised_page(raw, request.kind, answered.reason)
    else:
        body = apply_policy(session, raw, answered, trace)
    return body, status, next_url, response


def _anonymised_page(raw: dict[str, Any], kind: str, reason: str) -> dict[str, Any]:
    """A page from a server outside the tenant's regions (standard isolation): each
    result anonymised on its own, so the search still counts and lists them (the
    page as a whole would become one stub holding no results); of the page's own
    members only rdapConformance and paging_metadata are kept."""
    from rdapctl.policy.residency import anonymise_record

    page: dict[str, Any] = {k: raw[k] for k in ("rdapConformance", "paging_metadata") if k in raw}
    results = protocol.page_results(raw, kind) or []
    page[protocol.results_member(raw, kind)] = [anonymise_record(r, reason) for r in results]
    return page


def _collect_redactions(progress: _Progress, body: dict[str, Any], kind: str, kept: int) -> None:
    """Keep the RFC 9537 entries of ``body`` (the page just read) about its first
    ``kept`` results, their paths moved to where the results land among all results;
    the first page's entries about the page itself are kept as they are."""
    items = body.get("redacted")
    if not isinstance(items, list):
        return
    first = progress.pages == 1
    found = progress.redacted = progress.redacted or []
    prefix = f"$.{protocol.results_member(body, kind)}["
    offset = len(progress.results)
    for item in items:
        if not isinstance(item, dict):
            continue
        moved, about_result, keep = dict(item), False, True
        for key in ("prePath", "postPath", "replacementPath"):
            path = item.get(key)
            index, sep, rest = (
                path[len(prefix) :].partition("]")
                if isinstance(path, str) and path.startswith(prefix)
                else ("", "", "")
            )
            if not sep or not index.isdigit():
                continue
            about_result = True
            keep = keep and int(index) < kept
            moved[key] = f"{prefix}{int(index) + offset}]{rest}"
        if keep and (about_result or first):
            found.append(moved)


def _combine_redactions(progress: _Progress) -> None:
    """The first page (``-o rdap`` shows it with every result) gets the redactions of
    every page: without this its ``redacted`` array describes page 1 alone."""
    page = progress.first_page
    if page is None or progress.redacted is None:
        return
    page["redacted"] = progress.redacted
    conformance = page.get("rdapConformance")
    if progress.redacted and isinstance(conformance, list) and "redacted" not in conformance:
        page["rdapConformance"] = [*conformance, "redacted"]


def _envelope(
    session: TenantSession,
    request: SearchRequest,
    trace: LookupTrace,
    progress: _Progress,
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
    request: SearchRequest, trace: LookupTrace, progress: _Progress
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
