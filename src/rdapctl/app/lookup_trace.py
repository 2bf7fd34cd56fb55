"""What a lookup learns on its way (the query, the server, the URLs, what the policy
did), for its envelope and its ``lookup`` audit record."""

from __future__ import annotations

import functools
import re
from dataclasses import field
from typing import Any
from urllib.parse import urlsplit

from rdapctl.core.records import mutable_record
from rdapctl.policy.limits import RequestBudget
from rdapctl.rdap.bootstrap import ServerChoice
from rdapctl.rdap.query import Query


@mutable_record
class LookupTrace:
    """What the envelope and the audit record need to know about how the lookup went."""

    query: Query | None = None
    choice: ServerChoice | None = None
    url: str | None = None
    server: str | None = None  # the base URL of the server that answered
    http_status: int | None = None
    source: str = "network"
    redacted_fields: set[str] = field(default_factory=set)
    redacted_count: int = 0
    residency: dict[str, Any] | None = None
    referrals: list[str] = field(default_factory=list)
    budget: RequestBudget | None = None
    # A cache hit's stored JSON text, before "source"/"age_s" were set on the envelope.
    cached_plain: bytes | None = None
    # lookup --check: how many findings of each severity (for the audit record).
    checks: dict[str, int] | None = None


def trace_fields(trace: LookupTrace) -> dict[str, Any]:
    """The fields of the lookup's audit record that the trace knows."""
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
        **({"checks": trace.checks} if trace.checks is not None else {}),
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
