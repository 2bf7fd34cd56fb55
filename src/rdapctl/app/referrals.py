"""Registrar referrals: which ``related`` links of an answer are followed, within what bounds.

A registry's domain answer may link to the registrar's RDAP server (``links`` with
``rel: "related"`` and an RDAP media type, RFC 9083 section 4.2). Any server can put
any number of links in an answer, to any host, so following is bounded:

- of each answer, the first ``MAX_PER_ANSWER`` links not seen before are followed;
- to depth ``MAX_DEPTH`` (referrals of referrals), never the same URL twice;
- within the lookup's request budget and deadline (``rdapctl.net.client.RequestBudget``).

Links left out by a bound are listed as ``skipped`` (at most ``MAX_LISTED`` per answer),
and hrefs that are not usable http(s) URLs as errors; neither is requested. Fetching
(with policy on every hop) is the caller's: this module decides only what to ask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from rdapctl.core.errors import NetworkGuardError
from rdapctl.core.records import record
from rdapctl.net.urls import ANY_HTTP_URL, request_target
from rdapctl.policy.limits import RequestBudget

MAX_DEPTH = 2
MAX_PER_ANSWER = 2
MAX_LISTED = 16
RDAP_MEDIA_TYPES = ("application/rdap+json", "application/json")

# fetch(url, depth) -> (the referral's envelope entry, (its body, its URL) to follow on)
Fetch = Callable[[str, int], tuple[dict[str, Any], tuple[Any, str] | None]]


@record
class ReferralLink:
    """One related link of an answer: its absolute URL, or why it cannot be asked."""

    url: str
    problem: str | None = None


def referral_links(body: Any, base_url: str) -> list[ReferralLink]:
    """The answer's ``related`` links with an RDAP media type, resolved against
    ``base_url``, in order, without repeats."""
    if not isinstance(body, dict):
        return []
    links = body.get("links")
    if not isinstance(links, list):
        return []
    out: dict[str, ReferralLink] = {}
    for link in links:
        if not isinstance(link, dict):
            continue
        rel, media, href = link.get("rel"), link.get("type"), link.get("href")
        if not (isinstance(rel, str) and isinstance(href, str) and isinstance(media, str)):
            continue
        if rel.lower() != "related" or media.split(";")[0].strip().lower() not in RDAP_MEDIA_TYPES:
            continue
        found = _resolve(href, base_url)
        out.setdefault(found.url, found)
    return list(out.values())


def _resolve(href: str, base_url: str) -> ReferralLink:
    shown = href[:2048]
    try:
        url = urljoin(base_url, href.strip())
        request_target(url, ANY_HTTP_URL)  # syntax; the guard decides when asked
    except ValueError as exc:
        return ReferralLink(shown, f"not a usable URL ({exc})")
    except NetworkGuardError as exc:  # another scheme, or credentials in the URL
        return ReferralLink(shown, f"not a URL rdapctl asks: {exc.message}")
    return ReferralLink(url)


def follow_referrals(
    body: Any, base_url: str, seen: set[str], budget: RequestBudget, fetch: Fetch
) -> list[dict[str, Any]]:
    """Follow the referrals of ``body`` (answered at ``base_url``) breadth-first within
    the bounds above; returns their envelope entries (followed, failed, skipped)."""
    results: list[dict[str, Any]] = []
    frontier: list[tuple[Any, str]] = [(body, base_url)]
    for depth in range(1, MAX_DEPTH + 1):
        next_frontier: list[tuple[Any, str]] = []
        for parent, parent_url in frontier:
            followed = listed = 0
            for link in referral_links(parent, parent_url):
                if link.url in seen:
                    continue
                seen.add(link.url)
                reason = link.problem or _bound_reached(followed, budget)
                if reason is not None:
                    if listed < MAX_LISTED:
                        results.append(_not_followed(link, depth, reason))
                        listed += 1
                    continue
                followed += 1
                entry, fetched = fetch(link.url, depth)
                results.append(entry)
                if fetched is not None:
                    seen.add(fetched[1])
                    next_frontier.append(fetched)
        frontier = next_frontier
    return results


def _bound_reached(followed: int, budget: RequestBudget) -> str | None:
    if followed >= MAX_PER_ANSWER:
        return f"not followed: at most {MAX_PER_ANSWER} referrals are followed per answer"
    if budget.sent >= budget.max_requests:
        return f"not followed: the lookup has sent its {budget.max_requests} requests"
    return None


def _not_followed(link: ReferralLink, depth: int, reason: str) -> dict[str, Any]:
    bad = link.problem is not None
    return {
        "url": link.url,
        "depth": depth,
        "status": "error" if bad else "skipped",
        "http_status": None,
        "response": None,
        "error": {"code": "bad_referral" if bad else "referral_limit", "message": reason},
    }
