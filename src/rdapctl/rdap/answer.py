"""What an RDAP answer means for the query that was asked (RFC 9083), before any policy.

Pure: given a decoded JSON object and the query, says whether it answers the query
(an object of the class asked for), is an error object in disguise (a 200 carrying
``errorCode``), or answers something else (``unexpected_object``). Also turns a
server's error object into the one-line message rdapctl prints.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from rdapctl.core.errors import NotFoundError, RateLimitedError, RdapctlError, UpstreamError
from rdapctl.core.hostnames import host_of

# RFC 9083 section 10.2.4 (the IANA "RDAP JSON Values" registry of entity roles).
ENTITY_ROLES: tuple[str, ...] = (
    "registrant",
    "technical",
    "administrative",
    "abuse",
    "billing",
    "registrar",
    "reseller",
    "sponsor",
    "proxy",
    "notifications",
    "noc",
)
# objectClassName per query type (RFC 9083 section 5); help answers carry none.
EXPECTED_CLASS: dict[str, str] = {
    "domain": "domain",
    "ip": "ip network",
    "autnum": "autnum",
    "entity": "entity",
    "nameserver": "nameserver",
}
# RFC 9082 path segments of lookups, for queries given as a full URL.
_PATH_TYPES = frozenset({"domain", "ip", "autnum", "entity", "nameserver"})


def expected_type(query_type: str, url: str) -> str | None:
    """The query type an answer must fit: the query's own, or, for a full URL, the
    lookup its path names (``.../domain/x.com``); None when it names none (search,
    help or an unknown path)."""
    if query_type != "url":
        return query_type
    try:
        segments = [s for s in urlsplit(url).path.split("/") if s]
    except ValueError:
        return None
    if len(segments) >= 2 and segments[-2].lower() in _PATH_TYPES:
        return segments[-2].lower()
    if segments and segments[-1].lower() == "help":
        return "help"
    return None


def has_related_links(body: dict[str, Any]) -> bool:
    """Whether the answer has any ``related`` link (a referral to look at more closely);
    most answers link only to themselves."""
    links = body.get("links")
    if not isinstance(links, list):
        return False
    return any(isinstance(link, dict) and link.get("rel") != "self" for link in links)


def answer_error(body: dict[str, Any], query_type: str | None, url: str) -> RdapctlError | None:
    """Why a 2xx JSON object does not answer the query (None when it does).

    A body holding ``errorCode`` is that error (404: not found; 429: rate limited); an
    ``objectClassName`` that does not fit the query is ``unexpected_object``. A
    missing ``objectClassName`` is tolerated (older servers leave it out).
    """
    if "errorCode" in body:
        code = body.get("errorCode")
        message = error_message(host_of(url), code if _is_status(code) else None, body)
        if code == 404:
            return NotFoundError(message)
        if code == 429:
            return RateLimitedError(message, hint="wait and retry")
        return UpstreamError(message, code="rdap_error")
    if query_type is None:
        return None
    found = body.get("objectClassName")
    if query_type == "help":
        if found is None:
            return None
        wanted = "a help answer (no objectClassName)"
    else:
        wanted_class = EXPECTED_CLASS.get(query_type)
        if wanted_class is None or found is None:
            return None
        if isinstance(found, str) and found.strip().lower() == wanted_class:
            return None
        wanted = f"{wanted_class!r}"
    host = host_of(url)
    return UpstreamError(
        f"{host} answered a {query_type} query with objectClassName {_shown(found)}, not {wanted}",
        code="unexpected_object",
    )


def error_message(host: str, status: int | None, body: Any) -> str:
    """'<host> answered HTTP 404: Not Found: description' from an RDAP error object."""
    parts = [f"HTTP {status}" if status is not None else "an RDAP error"]
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
    return f"{host} answered " + ": ".join(parts)[:500]


def _is_status(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599


def _shown(value: Any) -> str:
    """A server value quoted for a message: JSON, short, one line."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 60 else text[:57] + "..."
