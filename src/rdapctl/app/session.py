"""A tenant session: the services one command needs to act for one tenant.

Builds, lazily and once, the bootstrap, the guarded HTTP client, the keyring, the
encrypted cache and the audit log, all scoped to the tenant. Commands and the
lookup pipeline ask the session; nothing here is global. Heavy modules (httpx,
cryptography, diskcache) are imported only when their service is first used,
so a cache hit never imports httpx.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from rdapctl.app.runtime import Runtime
from rdapctl.core.errors import AuditError, RdapctlError
from rdapctl.core.records import record
from rdapctl.policy.tenant import Tenant
from rdapctl.rdap.bootstrap import Bootstrap
from rdapctl.store.bootstrap_files import open_bootstrap

if TYPE_CHECKING:
    from rdapctl.net.client import HttpResponse, RequestGate, RetryingGetter
    from rdapctl.net.guard import NetworkPolicy
    from rdapctl.policy.residency import ResidencyDecision
    from rdapctl.rdap.query import Query
    from rdapctl.store.audit.log import AuditLog
    from rdapctl.store.cache import CacheRequest, TenantCache
    from rdapctl.store.keys.keyring import Keyring

Resolver = Callable[[str, int], list[str]]
AuditSink = Callable[[str, dict[str, Any]], None]
# Batch: where cache writes go instead of one transaction each (written a chunk at a time).
CacheSink = Callable[["CacheRequest", dict[str, Any], int], None]
# Services a worker session shares with the session it was made from (thread-safe ones).
_SHARED_SERVICES = ("bootstrap", "keyring", "cache", "audit")
_RESIDENCY_MEMO_MAX = 4096


@record
class Residency:
    """The residency decision for one server, as recorded in envelopes and audit."""

    region: str
    action: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"region": self.region, "action": self.action, "reason": self.reason}


class TenantSession:
    def __init__(
        self,
        runtime: Runtime,
        tenant: Tenant,
        *,
        resolver: Resolver | None = None,
        sleep: Callable[[float], None] = time.sleep,
        use_audit: bool = True,
        gate: RequestGate | None = None,
        audit_sink: AuditSink | None = None,
        batch: bool = False,
        cache_sink: CacheSink | None = None,
    ) -> None:
        """``batch``: the stdlib keep-alive HTTP path (unless a proxy is configured) and
        cache reads that write nothing until ``cache.flush_reads()``."""
        self.runtime = runtime
        self.tenant = tenant
        self._resolver = resolver
        self._sleep = sleep
        self._use_audit = use_audit
        self._gate = gate
        # Set by batch: records go to a buffered, chunked writer instead of one fsync each.
        self._audit_sink = audit_sink
        self._batch = batch
        self._cache_sink = cache_sink
        self._owns_shared = True
        # Residency decisions by (server netloc, query TLD): a pure function of those
        # and the tenant, asked once per lookup (see check_residency).
        self._residency_memo: dict[tuple[str, str | None], Residency] = {}
        # The query of the lookup running in each thread (see lookup_scope).
        self._lookup_query = threading.local()
        # Before any state of the tenant is read or created: refuse folders and files
        # another account owns or may write (exit 3).
        from rdapctl.store.paths import check_state

        check_state(runtime.paths, tenant.name)

    def worker(self) -> TenantSession:
        """A session for another thread: its own HTTP client (httpx clients are not
        shared across threads), the same keyring, cache, audit log and bootstrap."""
        self.prepare_shared()
        other = TenantSession(
            self.runtime,
            self.tenant,
            resolver=self._resolver,
            sleep=self._sleep,
            use_audit=self._use_audit,
            gate=self._gate,
            audit_sink=self._audit_sink,
            batch=self._batch,
            cache_sink=self._cache_sink,
        )
        for name in _SHARED_SERVICES:
            if name in self.__dict__:
                other.__dict__[name] = self.__dict__[name]
        other._owns_shared = False
        return other

    def prepare_shared(self) -> None:
        """Build, in this thread, the shared services the tenant uses (so that worker
        threads never race to build them)."""
        _ = self.bootstrap
        if self.cache_enabled:
            _ = self.cache
        if self._audit_wanted:
            _ = self.audit

    @property
    def _audit_wanted(self) -> bool:
        return self._use_audit and self.tenant.audit.enabled

    # -- services ---------------------------------------------------------------

    @cached_property
    def policy_fingerprint(self) -> str:
        """``tenant.fingerprint()``, computed once (it serialises the whole policy)."""
        return self.tenant.fingerprint()

    @cached_property
    def bootstrap(self) -> Bootstrap:
        return open_bootstrap(self.runtime.paths.bootstrap_dir)

    @cached_property
    def http(self) -> RetryingGetter:
        """The tenant's HTTP client: the stdlib keep-alive client for direct connections
        (no httpx import), httpx through the guarded transport when a proxy is set. Both
        apply the same rules (``rdapctl.net.client.RetryingGetter``) and the same gate."""
        from rdapctl.net.direct import StdlibHttpClient
        from rdapctl.net.proxy_env import proxy_configured
        from rdapctl.policy.limits import RETRY_BY_CRITICALITY

        security = self.tenant.security
        common: dict[str, Any] = {
            "env": self.runtime.env,
            "resolver": self._resolver,
            "connect_timeout": security.timeout_s,
            "timeout_s": security.timeout_s,
            "max_response_bytes": security.max_response_bytes,
            "retry": RETRY_BY_CRITICALITY[self.tenant.business_criticality],
            "sleep": self._sleep,
            "clock": self.runtime.clock,
            "monotonic": self.runtime.monotonic,
            "gate": self._gate if self._gate is not None else self._own_gate(),
        }
        if not proxy_configured(self.runtime.env):
            return StdlibHttpClient(self.network_policy, **common)
        from rdapctl.net.proxied import RdapHttpClient

        return RdapHttpClient(self.network_policy, **common)

    def _own_gate(self) -> RequestGate:
        """The per-host gate of a command that is not a batch run: the tenant's
        ``requests_per_second`` and ``Retry-After`` blocks, shared with every other
        rdapctl process of the tenant through the same state as batch."""
        from rdapctl.net.ratelimit import HostGate

        def wait(seconds: float) -> bool:
            self._sleep(seconds)
            return False  # nothing stops a single command but a signal

        security = self.tenant.security
        return HostGate(
            self.runtime.paths.tenant_ratelimit_dir(self.tenant.name),
            max_concurrent=security.max_concurrent_requests,
            requests_per_second=security.requests_per_second,
            clock=self.runtime.clock,
            wait=wait,
            warn=self.runtime.warn,
        )

    @cached_property
    def network_policy(self) -> NetworkPolicy:
        from rdapctl.net.guard import NetworkPolicy

        return NetworkPolicy.from_tenant(self.tenant)

    def idle(self) -> None:
        """This thread is about to wait for work: let go of what it would hold in the
        meantime (its cache read snapshot, which keeps the cache's WAL from shrinking)."""
        cache = self.__dict__.get("cache")
        if cache is not None:
            cache.end_reads()

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()
        self.idle()
        if not self._owns_shared:
            return
        cache = self.__dict__.get("cache")
        if cache is not None:
            cache.close()

    def __enter__(self) -> TenantSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- residency ----------------------------------------------------------------

    def residency_for(self, url: str, query_tld: str | None) -> Residency:
        """The residency decision for the server of ``url`` (no consequences drawn)."""
        # The decision depends on the server's host and the TLD only: memoised.
        parts = url.split("/", 3)
        netloc = parts[2] if len(parts) > 2 and parts[1] == "" else None
        memo = self._residency_memo
        residency = memo.get((netloc, query_tld)) if netloc is not None else None
        if residency is None:
            from rdapctl.policy.residency import decide, region_for

            info = region_for(url, query_tld=query_tld, overrides=self.tenant.regions)
            decision: ResidencyDecision = decide(self.tenant, info)
            residency = Residency(decision.region, decision.action, decision.reason)
            if netloc is not None:
                if len(memo) >= _RESIDENCY_MEMO_MAX:
                    memo.clear()
                memo[(netloc, query_tld)] = residency
        return residency

    def check_residency(self, url: str, query_tld: str | None) -> Residency:
        """Decide residency for the server of ``url`` before it is asked: strict
        isolation refuses here; anonymise and warn are recorded (and warned)."""
        residency = self.residency_for(url, query_tld)
        if residency.action == "deny":
            from rdapctl.policy.residency import residency_refusal

            raise residency_refusal(residency.reason)
        if residency.action in ("anonymise", "warn"):
            self.record("residency_violation", {"residency": residency.as_dict()})
            if residency.action == "warn":
                self.runtime.warn(f"data residency (development isolation): {residency.reason}")
        return residency

    # -- keys and cache ---------------------------------------------------------------

    @cached_property
    def keyring(self) -> Keyring:
        """The tenant's keyring (created on first use); rotated here when it is too old."""
        from rdapctl.store.keys.keyring import Keyring

        keyring = Keyring.open(
            self.runtime.paths, self.tenant.name, self.runtime.env, clock=self.runtime.clock
        )
        rotated = keyring.ensure_fresh(self.tenant.keys.rotation_days, self.runtime.warn)
        if rotated is not None:
            self.record("key_rotation", {"key_id": rotated.id, "reason": "rotation_days"})
        return keyring

    @cached_property
    def cache(self) -> TenantCache:
        from rdapctl.store.cache import TenantCache

        return TenantCache.open(
            self.runtime.paths,
            self.tenant,
            self.keyring,
            clock=self.runtime.clock,
            on_integrity_failure=self._cache_integrity_failure,
            defer_bookkeeping=self._batch,
            on_unavailable=self.runtime.warn,
        )

    def _cache_integrity_failure(self, reason: str) -> None:
        self.runtime.warn(f"cache entry discarded: {reason}")
        self.record("cache_integrity_failure", {"reason": reason})

    @property
    def cache_enabled(self) -> bool:
        return self.tenant.cache.enabled

    def cache_request(self, query: Query, server: str, follow_referrals: bool) -> CacheRequest:
        from rdapctl.store.cache import CacheRequest

        return CacheRequest(query.type, query.value, server, follow_referrals)

    def cache_get(
        self, key: CacheRequest, *, head_only: bool = False
    ) -> tuple[dict[str, Any], float, bytes | None] | None:
        """(envelope, age in seconds, its stored JSON text) of a fresh entry, or None.

        ``head_only``: the envelope may be just its head (``envelope_head``) when the
        entry stored one; the text is then the only place the bodies are."""
        entry = self.cache.get(key, head_only=head_only)
        if entry is None:
            return None
        # Parsed for this call alone: the caller may change it.
        value = entry.value if entry.value is not None else entry.head
        assert value is not None
        return value, entry.age_s, entry.plain

    def cache_put(
        self, key: CacheRequest, envelope: dict[str, Any], response: HttpResponse
    ) -> None:
        from rdapctl.rdap.envelope import envelope_head
        from rdapctl.store.cache import default_ttl, ttl_from_headers

        default = default_ttl(self.tenant, response.status)
        ttl = ttl_from_headers(response.headers, default, self.runtime.clock())
        if ttl is not None and ttl > 0:
            if self._cache_sink is not None:
                self._cache_sink(key, envelope, ttl)
            else:
                self.cache.put(key, envelope, ttl, envelope_head(envelope))

    # -- audit ------------------------------------------------------------------------

    @cached_property
    def audit(self) -> AuditLog:
        from rdapctl.store.audit.log import AuditLog

        keyring = self.keyring
        return AuditLog(
            self.runtime.paths,
            self.tenant,
            keyring.audit_key(),
            command=self.runtime.command,
            clock=self.runtime.clock,
            trail_started=keyring.audit_started,
            mark_started=keyring.mark_audit_started,
        )

    @contextmanager
    def lookup_scope(self, query_of: Callable[[], str | None]) -> Iterator[None]:
        """Records written in this block belong to the lookup of ``query_of()``: each
        carries its query, so that ``hash_queries`` can hide it in every field (a
        referral's refusal or a residency record can spell out the query too)."""
        scope = self._lookup_query
        outer = getattr(scope, "query_of", None)
        scope.query_of = query_of
        try:
            yield
        finally:
            scope.query_of = outer

    def record(self, event: str, fields: dict[str, Any]) -> None:
        """Append an audit record for this tenant; raises AuditError when it cannot."""
        if not self._audit_wanted:
            return
        if "query" not in fields:
            query_of = getattr(self._lookup_query, "query_of", None)
            query = query_of() if query_of is not None else None
            if query is not None:
                fields = {**fields, "query": query}
        if self._audit_sink is not None:
            self._audit_sink(event, fields)
            return
        self.audit.append(event, fields)

    def tolerate_audit_failure(self, exc: AuditError, what: str) -> bool:
        """Whether the tenant goes on without the audit ``what`` that failed to write
        (``audit.fail_open``, with a warning). False: what it stands for must not be
        shown."""
        if not self.tenant.audit.fail_open:
            return False
        self.runtime.warn(f"{what} NOT WRITTEN (audit.fail_open = true): {exc.message}")
        return True

    def record_policy_event(self, exc: RdapctlError, fields: dict[str, Any]) -> None:
        from rdapctl.app.lookup import policy_event_for

        event = policy_event_for(exc)
        if event is None:
            return
        data = dict(fields)
        data["reason"] = exc.message
        self.record(event, data)
        if event in ("ssrf_blocked", "residency_violation"):
            self.runtime.warn(f"{event}: {exc.message}")

    def record_lookup(
        self, envelope: dict[str, Any], fields: dict[str, Any], duration_ms: float
    ) -> dict[str, Any]:
        """Record the lookup (``fields`` completed in place); returns the record's fields,
        which the caller must not change."""
        from rdapctl.rdap.envelope import exit_code_of

        error = envelope.get("error")
        fields.update(
            status=envelope["status"],
            exit_code=exit_code_of(envelope),
            error_code=error.get("code") if error else None,
            source=envelope.get("source") or fields.get("source"),
            duration_ms=round(duration_ms, 3),
        )
        self.record("lookup", fields)
        return fields
