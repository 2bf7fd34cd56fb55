"""Asking servers for a lookup: the query URL, with residency decided for every server
that answers (redirects included), and the registrar referrals of its answer. A failed
fetch keeps what may be shown of the server's answer (the policy applied to it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rdapctl.app.lookup_policy import apply_policy, check_residency, record_policy_event
from rdapctl.core.errors import (
    NetworkGuardError,
    NotFoundError,
    RdapctlError,
    UpstreamError,
    UsageError,
)
from rdapctl.core.hostnames import host_of
from rdapctl.rdap.answer import answer_error, error_message
from rdapctl.rdap.envelope import status_for_error

if TYPE_CHECKING:
    from rdapctl.app.lookup_trace import LookupTrace
    from rdapctl.app.session import TenantSession
    from rdapctl.net.client import HttpResponse
    from rdapctl.policy.residency_decision import Residency


def check_given_url(url: str) -> None:
    """A URL the user typed (--server, or a URL query) must be one rdapctl can ask."""
    from rdapctl.net.urls import ANY_HTTP_URL, request_target

    try:
        request_target(url, ANY_HTTP_URL)
    except ValueError as exc:
        raise UsageError(f"cannot use the URL {_shown_url(url)}: {exc}") from None
    except NetworkGuardError:
        pass  # decided by the tenant's guard when the request is made


def fetch(
    session: TenantSession, url: str, query_tld: str | None, trace: LookupTrace
) -> tuple[HttpResponse, Residency]:
    """GET ``url`` with residency decided for every server that answers (strict:
    refused before the request; the decision for the last hop is returned)."""
    assert trace.budget is not None
    decisions: list[Residency] = []

    def check_hop(hop_url: str) -> None:
        # The query's ccTLD speaks for its registry's own host, not for another host.
        tld = query_tld if host_of(hop_url) == host_of(url) else None
        decisions.append(check_residency(session, hop_url, tld))

    try:
        response = session.http.get(url, budget=trace.budget, check_hop=check_hop)
    except RdapctlError as exc:
        if exc.answer is not None:
            answer_url, status, body = exc.answer
            trace.server = server_of(trace.choice.base_url if trace.choice else url, answer_url)
            if decisions:
                trace.residency = decisions[-1].as_dict()
            if body is not None:
                residency = (
                    decisions[-1] if decisions else session.residency.for_url(url, query_tld)
                )
                body = apply_policy(session, body, residency, trace)
                if exc.code == "http_error":  # say what the server said, as the policy left it
                    exc.message = error_message(host_of(answer_url), status, body)
            exc.answer = (answer_url, status, body)
        raise
    if response.redirects and decisions:
        return response, decisions[-1]
    return response, session.residency.for_url(url, query_tld)


def follow_referrals(
    session: TenantSession,
    body: Any,
    url: str,
    response: HttpResponse,
    trace: LookupTrace,
) -> list[dict[str, Any]]:
    """Registrar referrals of the answer (see ``rdapctl.app.referrals`` for the bounds)."""
    from rdapctl.app import referrals

    assert trace.budget is not None

    def fetch_one(link: str, depth: int) -> tuple[dict[str, Any], tuple[Any, str] | None]:
        trace.referrals.append(link)
        return fetch_referral(session, link, depth, trace)

    return referrals.follow_referrals(
        body, response.url, {url, response.url}, trace.budget, fetch_one
    )


def fetch_referral(
    session: TenantSession, url: str, depth: int, trace: LookupTrace
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
        decisions.append(check_residency(session, url, None))
        response = session.http.get(
            url,
            budget=trace.budget,
            check_hop=lambda hop: decisions.append(check_residency(session, hop, None)),
        )
        status = response.status
        entry["http_status"] = status
        entry["url"] = response.url
        body = response.body
        problem: RdapctlError | None = None
        if status == 404:
            problem = NotFoundError(error_message(host_of(response.url), 404, None))
        elif not 200 <= status < 300:
            code = "bad_redirect" if 300 <= status < 400 else "http_error"
            problem = UpstreamError(error_message(host_of(response.url), status, None), code=code)
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
                entry["response"] = apply_policy(session, body, decisions[-1], trace)
                if isinstance(entry["response"], dict) and "errorCode" in entry["response"]:
                    exc.message = error_message(
                        host_of(answer_url), entry["http_status"], entry["response"]
                    )
        entry["error"] = {"code": exc.code, "message": exc.message}
        record_policy_event(session, exc, {"url_path": _path(url), "referral": True})
        return entry, None
    entry["status"] = "ok"
    entry["response"] = apply_policy(session, body, decisions[-1], trace)
    # Referrals of the referral are followed from what the server sent (links are not PII).
    return entry, (body, response.url)


def server_of(chosen_base: str, answered_url: str) -> str:
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


def _path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def _shown_url(url: str) -> str:
    import json

    return json.dumps(url[:200], ensure_ascii=True)
