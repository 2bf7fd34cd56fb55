"""The lookup's cache steps: the key of an answer, a fresh entry read back, and an
answer stored for as long as the tenant and the server's headers allow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rdapctl.app.session import TenantSession
    from rdapctl.net.client import HttpResponse
    from rdapctl.rdap.query import Query
    from rdapctl.store.cache.entries import CacheRequest


def cache_key(query: Query, server: str, follow_referrals: bool) -> CacheRequest:
    from rdapctl.store.cache.entries import CacheRequest

    return CacheRequest(query.type, query.value, server, follow_referrals)


def cached_envelope(
    session: TenantSession, key: CacheRequest, *, head_only: bool
) -> tuple[dict[str, Any], float, bytes | None] | None:
    """(envelope, age in seconds, its stored JSON text) of a fresh entry, or None.

    ``head_only``: the envelope may be just its head (``envelope_head``) when the
    entry stored one; the text is then the only place the bodies are."""
    entry = session.cache.get(key, head_only=head_only)
    if entry is None:
        return None
    # Parsed for this call alone: the caller may change it.
    value = entry.value if entry.value is not None else entry.head
    assert value is not None
    return value, entry.age_s, entry.plain


def store_envelope(
    session: TenantSession, key: CacheRequest, envelope: dict[str, Any], response: HttpResponse
) -> None:
    """Cache ``envelope`` for the TTL of ``response`` (nothing when that is zero)."""
    from rdapctl.store.cache.freshness import default_ttl, ttl_from_headers

    default = default_ttl(session.tenant, response.status)
    ttl = ttl_from_headers(response.headers, default, session.runtime.clock())
    if ttl is not None and ttl > 0:
        session.write_cache(key, envelope, ttl)
