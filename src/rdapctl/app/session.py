"""A tenant session: the services one command needs to act for one tenant.

Builds, lazily and once, the bootstrap, the guarded HTTP client, the keyring, the
encrypted cache, the audit log and the residency decisions, all scoped to the tenant,
and says where audit records and cache writes go. Commands and the lookup pipeline
ask the session; what to record is theirs (``rdapctl.policy.audit_events``). Heavy
modules (cryptography, diskcache, and httpx, which only proxied requests use) are
imported only when their service is first used.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from rdapctl.app.runtime import Runtime
from rdapctl.core import diagnostics
from rdapctl.policy.audit_events import (
    cache_integrity_event,
    key_rotation_event,
    team_unavailable_event,
)
from rdapctl.policy.tenant import Tenant
from rdapctl.rdap.bootstrap import Bootstrap
from rdapctl.store.bootstrap_files import open_bootstrap

if TYPE_CHECKING:
    from rdapctl.net.client import RequestGate, RetryingGetter
    from rdapctl.net.guard import NetworkPolicy
    from rdapctl.policy.residency_decision import ResidencyDecisions
    from rdapctl.store.audit.log import AuditLog
    from rdapctl.store.cache.entries import CacheRequest
    from rdapctl.store.cache.tenant_cache import TenantCache
    from rdapctl.store.keys.keyring import Keyring
    from rdapctl.store.team.backend import TeamBackend

Resolver = Callable[[str, int], list[str]]
AuditSink = Callable[[str, dict[str, Any]], None]
# Batch: where cache writes go instead of one transaction each (written a chunk at a time).
CacheSink = Callable[["CacheRequest", dict[str, Any], int], None]
# Services a worker session shares with the session it was made from (thread-safe ones).
_SHARED_SERVICES = ("bootstrap", "team", "keyring", "cache", "audit")


class TenantSession:
    """The services of one tenant for one command (or one batch thread), built on first use."""

    def __init__(
        self,
        runtime: Runtime,
        tenant: Tenant,
        *,
        resolver: Resolver | None = None,
        sleep: Callable[[float], None] = time.sleep,
        gate: RequestGate | None = None,
        audit_sink: AuditSink | None = None,
        batch: bool = False,
        cache_sink: CacheSink | None = None,
    ) -> None:
        """``gate``: the per-host request gate (default: one of the session's own);
        ``audit_sink``: where records go instead of one append each (batch collects
        them); ``batch``: cache reads write nothing until ``cache.flush_reads()``;
        ``cache_sink``: where cache writes go instead of one transaction each."""
        self.runtime = runtime
        self.tenant = tenant
        self._resolver = resolver
        self._sleep = sleep
        self._gate = gate
        # Set by batch: records go to a buffered, chunked writer instead of one fsync each.
        self._audit_sink = audit_sink
        self._batch = batch
        self._cache_sink = cache_sink
        self._owns_shared = True
        # The query of the lookup running in each thread (see lookup_scope).
        self._lookup_query = threading.local()
        # Before any state of the tenant is read or created: refuse folders and files
        # another account owns or may write (exit 3).
        from rdapctl.store.paths import check_state

        check_state(runtime.paths, tenant.name)
        # A team backend's failure, reported once; recorded at the next safe point.
        self._team_failure: str | None = None
        if tenant.team is not None:
            from rdapctl.app.team import require_master_key

            require_master_key(runtime, tenant)
            if tenant.team.rate_limits and gate is not None and hasattr(gate, "share_through"):
                from rdapctl.store.team.ratelimit import RateState

                gate.share_through(RateState(lambda: self.team))

    def worker(self) -> TenantSession:
        """A session for another thread: its own HTTP client (neither client is
        thread-safe) and residency memo, the same keyring, cache, audit log and
        bootstrap."""
        self.prepare_shared()
        other = TenantSession(
            self.runtime,
            self.tenant,
            resolver=self._resolver,
            sleep=self._sleep,
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
        if self.tenant.audit.enabled:
            _ = self.audit

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
        gate = HostGate(
            self.runtime.paths.tenant_ratelimit_dir(self.tenant.name),
            max_concurrent=security.max_concurrent_requests,
            requests_per_second=security.requests_per_second,
            clock=self.runtime.clock,
            wait=wait,
            warn=diagnostics.warning,
        )
        team = self.tenant.team
        if team is not None and team.rate_limits:
            from rdapctl.store.team.ratelimit import RateState

            gate.share_through(RateState(lambda: self.team))
        return gate

    @cached_property
    def team(self) -> TeamBackend:
        """The tenant's team backend (only for a tenant with ``[tenants.X.team]``)."""
        from rdapctl.app.team import open_team

        return open_team(
            self.runtime,
            self.tenant,
            resolver=self._resolver,
            on_unavailable=self._team_unavailable,
        )

    def _team_unavailable(self, reason: str) -> None:
        team = self.tenant.team
        if team is not None and team.required:
            return  # exit 7 (TeamUnavailable) says it
        diagnostics.warning(
            f"the team backend of tenant {self.tenant.name} is unavailable ({reason});"
            " going on with the local cache and rate limits"
        )
        if self._audit_sink is not None and self.tenant.audit.enabled:
            # Batch: records are collected, never written here, so at once.
            self._audit_sink(*team_unavailable_event(reason))
            return
        # Else at the next record: this may be inside an audit write (the stream).
        self._team_failure = reason

    def _record_team_failure(self) -> None:
        reason, self._team_failure = self._team_failure, None
        if reason is not None:
            self.record(*team_unavailable_event(reason))

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

    def flush_cache_reads(self) -> None:
        """Write what cache reads deferred (``batch``), when the cache was opened."""
        cache = self.__dict__.get("cache")
        if cache is not None:
            cache.flush_reads()

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()
        self.idle()
        if not self._owns_shared:
            return
        cache = self.__dict__.get("cache")
        if cache is not None:
            cache.close()
        if self._team_failure is not None:
            with contextlib.suppress(Exception):  # a closing session never fails on it
                self._record_team_failure()
        team = self.__dict__.get("team")
        if team is not None:
            team.close()

    def __enter__(self) -> TenantSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @cached_property
    def residency(self) -> ResidencyDecisions:
        """The tenant's residency decisions, memoised for this session."""
        from rdapctl.policy.residency_decision import ResidencyDecisions

        return ResidencyDecisions(self.tenant)

    # -- keys and cache ---------------------------------------------------------------

    @cached_property
    def keyring(self) -> Keyring:
        """The tenant's keyring (created on first use); rotated here when it is too old."""
        from rdapctl.store.keys.keyring import Keyring

        if self.tenant.team is not None:
            from rdapctl.store.team.keyring import open_team_keyring

            keyring = open_team_keyring(
                self.team,
                self.runtime.paths,
                self.tenant.name,
                self.runtime.env,
                self.runtime.clock,
            )
        else:
            keyring = Keyring.open(
                self.runtime.paths, self.tenant.name, self.runtime.env, clock=self.runtime.clock
            )
        rotated = keyring.ensure_fresh(self.tenant.keys.rotation_days, diagnostics.warning)
        if rotated is not None:
            self.record(*key_rotation_event(rotated.id))
        return keyring

    @cached_property
    def cache(self) -> TenantCache:
        from rdapctl.store.cache.tenant_cache import TenantCache

        team = self.tenant.team
        if team is not None and team.cache:
            from rdapctl.store.team.cache import LayeredCache

            return LayeredCache.open(
                self.runtime.paths,
                self.tenant,
                self.keyring,
                clock=self.runtime.clock,
                on_integrity_failure=self._cache_integrity_failure,
                defer_bookkeeping=self._batch,
                on_unavailable=diagnostics.warning,
            ).attach(self.team)
        return TenantCache.open(
            self.runtime.paths,
            self.tenant,
            self.keyring,
            clock=self.runtime.clock,
            on_integrity_failure=self._cache_integrity_failure,
            defer_bookkeeping=self._batch,
            on_unavailable=diagnostics.warning,
        )

    def _cache_integrity_failure(self, reason: str) -> None:
        diagnostics.warning(f"cache entry discarded: {reason}")
        self.record(*cache_integrity_event(reason))

    @property
    def cache_enabled(self) -> bool:
        return self.tenant.cache.enabled

    def write_cache(self, key: CacheRequest, envelope: dict[str, Any], ttl: int) -> None:
        """Store a lookup's envelope: in the batch sink when there is one (written a
        chunk at a time), else in the cache at once."""
        if self._cache_sink is not None:
            self._cache_sink(key, envelope, ttl)
            return
        from rdapctl.rdap.envelope import envelope_head

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
            on_written=self._audit_stream(keyring),
        )

    def _audit_stream(self, keyring: Keyring) -> Callable[[list[dict[str, Any]]], None] | None:
        team = self.tenant.team
        if team is None or not team.audit_stream:
            return None
        from rdapctl.store.team.stream import AuditStream

        return AuditStream(self.team, keyring).append

    @contextmanager
    def lookup_scope(
        self, query_of: Callable[[], str | None], *, personal: bool = False
    ) -> Iterator[None]:
        """Records written in this block belong to the lookup of ``query_of()``: each
        carries its query, so that ``hash_queries`` can hide it in every field (a
        referral's refusal or a residency record can spell out the query too).
        ``personal``: the query names a person (a search by name or e-mail), so it is
        recorded as its keyed hash whenever the tenant redacts personal data."""
        scope = self._lookup_query
        outer = getattr(scope, "query_of", None), getattr(scope, "personal", False)
        scope.query_of, scope.personal = query_of, personal
        try:
            yield
        finally:
            scope.query_of, scope.personal = outer

    def record(self, event: str, fields: dict[str, Any]) -> None:
        """Append an audit record for this tenant; raises AuditError when it cannot."""
        if not self.tenant.audit.enabled:
            return
        if "query" not in fields:
            query_of = getattr(self._lookup_query, "query_of", None)
            query = query_of() if query_of is not None else None
            if query is not None:
                fields = {**fields, "query": query}
        if "query" in fields and getattr(self._lookup_query, "personal", False):
            fields = {**fields, "query_personal": True}
        if self._audit_sink is not None:
            self._audit_sink(event, fields)
        else:
            self.audit.append(event, fields)
        if self._team_failure is not None:
            self._record_team_failure()
