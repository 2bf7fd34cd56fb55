"""The encrypted per-tenant response cache (one diskcache store per tenant).

- ``tenant_cache``: :class:`TenantCache`, what the rest of rdapctl uses (open, get,
  put, batch bookkeeping, stats, purge, clear).
- ``entries``: the records it takes and returns (``CacheRequest``, ``CachedEntry``...).
- ``freshness``: how long an answer may be cached (HTTP headers, tenant TTLs).
- ``codec``: cache keys and the sealed envelope of a stored value.
- ``diskcache_store``: opening diskcache (private files, damaged stores moved aside)
  and writing to it, through diskcache's public API only.
- ``sqlite_adapter``: the only code that reads diskcache's tables directly (the
  fast hit path, batch bookkeeping, read-only scans).
"""
