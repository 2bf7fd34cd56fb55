"""HTTP freshness rules of the cache: how long an answer may be stored.

Freshness is decided against the injected clock, never diskcache's own expiry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rdapctl.policy.tenant import Tenant


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lname = name.lower()
    for key, val in headers.items():
        if key.lower() == lname:
            return val
    return None


def ttl_from_headers(headers: Mapping[str, str], default_ttl_s: int, now: float) -> int | None:
    """The TTL to cache a response for: ``default_ttl_s`` shortened (never lengthened)
    by ``Cache-Control: max-age`` (less ``Age``) or, without max-age, ``Expires``.

    None means "do not cache" (``no-store``; also ``no-cache``, since this cache
    never revalidates). 0 means already stale; ``TenantCache.put`` skips it.
    """
    ttl = max(0, int(default_ttl_s))
    max_age: int | None = None
    cache_control = _header(headers, "cache-control")
    if cache_control:
        for part in cache_control.split(","):
            name, _, arg = part.strip().partition("=")
            name = name.strip().lower()
            if name in ("no-store", "no-cache"):
                return None
            if name == "max-age":
                with contextlib.suppress(ValueError):
                    max_age = max(0, int(arg.strip().strip('"')))
    if max_age is not None:
        age_text = _header(headers, "age")
        age = 0
        if age_text:
            with contextlib.suppress(ValueError):
                age = max(0, int(age_text.strip()))
        return min(ttl, max(0, max_age - age))
    expires = _header(headers, "expires")
    if expires is not None:
        from rdapctl.core.httpdate import parse_http_date

        when = parse_http_date(expires)
        # RFC 9111 5.3: an invalid Expires means "already expired"
        remaining = 0 if when is None else int(when - now)
        return min(ttl, max(0, remaining))
    return ttl


def default_ttl(tenant: Tenant, http_status: int) -> int:
    """The tenant's TTL for an answer before headers: negative TTL for 404, with the
    compliance cap/floor applied."""
    return tenant.effective_negative_ttl_s if http_status == 404 else tenant.effective_cache_ttl_s
