"""The pages of a search: each read from the tenant's cache or fetched like a lookup
(network guard, residency and the rate gate on every hop, its own request budget),
checked to be a page of results, policy applied and cached under its URL; and what the
search keeps of them as it goes (results, pages, total, the RFC 9537 redactions of
every kept result).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rdapctl.app.lookup import CacheMode
from rdapctl.app.lookup_policy import apply_policy
from rdapctl.app.lookup_trace import LookupTrace
from rdapctl.core import diagnostics
from rdapctl.core.errors import UpstreamError
from rdapctl.core.hostnames import host_of
from rdapctl.core.records import mutable_record
from rdapctl.policy.limits import lookup_budget
from rdapctl.rdap import search as protocol
from rdapctl.rdap.search import SearchRequest

if TYPE_CHECKING:
    from rdapctl.app.session import TenantSession


@mutable_record
class SearchProgress:
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


def read_page(
    session: TenantSession,
    request: SearchRequest,
    cache_mode: CacheMode,
    base_url: str,
    url: str,
    trace: LookupTrace,
    progress: SearchProgress,
) -> tuple[dict[str, Any], str | None] | None:
    """One page: (its policy-applied body, the next page's URL). From the cache when it
    holds the page (``--offline``: only from there; None when a later page is not)."""
    key = None
    first = progress.pages == 0
    if cache_mode != "no-cache" and session.cache_enabled:
        from rdapctl.store.cache.entries import CacheRequest

        key = CacheRequest("search_page", url, base_url, False)
        if cache_mode != "refresh":
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
    if cache_mode == "offline":
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
    progress: SearchProgress, body: dict[str, Any], url: str, status: Any, first: bool
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
    progress: SearchProgress,
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


def collect_redactions(
    progress: SearchProgress, body: dict[str, Any], kind: str, kept: int
) -> None:
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


def combine_redactions(progress: SearchProgress) -> None:
    """The first page (``-o rdap`` shows it with every result) gets the redactions of
    every page: without this its ``redacted`` array describes page 1 alone."""
    page = progress.first_page
    if page is None or progress.redacted is None:
        return
    page["redacted"] = progress.redacted
    conformance = page.get("rdapConformance")
    if progress.redacted and isinstance(conformance, list) and "redacted" not in conformance:
        page["rdapConformance"] = [*conformance, "redacted"]
