"""Batch lookups: many queries through the lookup pipeline, concurrently and politely.

Owns the run: the job feeder. Worker processes (``rdapctl.batch.processes``; threads
of this process, ``rdapctl.batch.threads``, where fork is unavailable) are fed from the
streamed input, each line parsed once here (the parsed query travels with the job);
identical queries are fetched once; results are written as JSONL in input order (or
completion order) through a bounded reorder window (``rdapctl.batch.ordering``);
audit records collected from every worker are written a chunk at a time (one fsync
per chunk) BEFORE the output lines they stand for, so nothing is shown that was not recorded;
a stop request (signal, ``--fail-fast``) ends dispatching, lets in-flight lookups
finish and flushes everything whole.

Per-host concurrency and the shared rate limit are ``rdapctl.net.ratelimit.HostGate``,
applied by the HTTP client to every request attempt.

Must not: import typer/rich, print (progress and the summary are callbacks), parse
arguments, or install signal handlers (the CLI does, and sets ``stop``).
"""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from rdapctl.app.audit_failure import tolerate_audit_failure
from rdapctl.app.lookup import CacheMode, LookupOptions
from rdapctl.batch.input import InputQuery
from rdapctl.batch.jobs import Job, JobResult, identify
from rdapctl.batch.ordering import OrderedOutput
from rdapctl.batch.output import LineSet
from rdapctl.core.errors import AuditError, ExitCode, most_serious
from rdapctl.policy.audit_events import duplicate_lookup_fields
from rdapctl.rdap.envelope import ANSWERED_STATUSES

if TYPE_CHECKING:
    from rdapctl.app.session import TenantSession

AUDIT_CHUNK = 500
# Bytes of recent results kept to answer a repeated query without a second fetch.
RECENT_BYTES = 16 * 2**20
FLUSH_INTERVAL_S = 0.25


@dataclass(frozen=True)
class BatchOptions:
    referrals: bool = True
    cache_mode: CacheMode = "default"
    check: str | None = None  # conformance checks on every answer (lookup --check)
    unordered: bool = False
    fail_fast: bool = False
    # Worker threads; None: the tenant's security.max_concurrent_requests.
    concurrency: int | None = None


@dataclass
class BatchSummary:
    """What the run did; ``exit_code`` follows ``rdapctl.core.errors.SEVERITY``."""

    total: int = 0  # query lines in the input
    done: int = 0  # envelopes written by this run
    skipped: int = 0  # already answered (--resume)
    by_status: Counter[str] = field(default_factory=Counter)
    cache_hits: int = 0
    duplicates: int = 0
    errors: int = 0
    codes: set[int] = field(default_factory=set)
    interrupted: bool = False
    stopped_early: bool = False  # --fail-fast
    duration_s: float = 0.0

    @property
    def exit_code(self) -> int:
        codes = set(self.codes)
        if self.interrupted:
            codes.add(int(ExitCode.INTERRUPTED))
        return most_serious(codes)

    @property
    def rate(self) -> float:
        return self.done / self.duration_s if self.duration_s > 0 else 0.0


class ResultWriter(Protocol):
    """Where JSONL goes; ``write`` gets whole lines and must not tear them."""

    def write(self, data: bytes) -> None: ...

    def flush(self) -> None: ...


class JobPool(Protocol):
    """What runs the jobs: ``rdapctl.batch.threads.ThreadPool`` or
    ``rdapctl.batch.processes.ProcessPool``."""

    failure: AuditError | None

    def submit(self, job: Job) -> None: ...

    def flush_submits(self) -> None: ...

    def drain(self) -> None: ...

    def poll(self, timeout: float) -> list[Any]: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


class BatchRun:
    """One batch run. Build, then :meth:`run` once from the thread that owns ``stop``."""

    def __init__(
        self,
        session: TenantSession,
        collector: Callable[[], list[tuple[str, dict[str, Any]]]] | None,
        writer: ResultWriter,
        options: BatchOptions,
        *,
        stop: threading.Event,
        on_progress: Callable[[BatchSummary], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        processes: int | None = None,
        slowed: threading.Event | None = None,
    ) -> None:
        """``processes``: worker processes (default: the usable CPUs; 1: threads only);
        ``slowed``: the rate gate's "a host was slowed" event (threads-only runs widen)."""
        self._session = session
        self._slowed = slowed
        self._collect = collector
        self._writer = writer
        self._options = options
        self._stop = stop
        self._on_progress = on_progress
        self._clock = clock
        self.summary = BatchSummary()
        concurrency = options.concurrency or session.tenant.security.max_concurrent_requests
        self._concurrency = max(1, concurrency)
        # Workers answer a chunk at a time (see rdapctl.batch.worker_process): room for several.
        self._window = max(2048, 64 * self._concurrency)
        self._processes = processes if processes is not None else _cpu_count()
        self._output = OrderedOutput(self.summary, options.unordered)
        self._inflight: dict[tuple[str, ...], list[int]] = {}
        # Answers kept for repeats: body, audit fields and the line first answered.
        self._recent: OrderedDict[tuple[str, ...], tuple[bytes, dict[str, Any], int]] = (
            OrderedDict()
        )
        self._recent_bytes = 0
        self._last_flush = clock()
        self._audit_failed: AuditError | None = None

    # -- output ---------------------------------------------------------------------

    def _flush(self, force: bool = False) -> None:
        """Audit first (fsync'd), then the output lines those records stand for."""
        now = self._clock()
        just_flushed = now - self._last_flush < FLUSH_INTERVAL_S
        output = self._output
        if not force and output.lines < AUDIT_CHUNK and just_flushed:
            return
        self._last_flush = now
        if self._collect is not None and self._audit_failed is None:
            records = self._collect()
            if records:
                try:
                    self._session.audit.append_many(records, chunk_size=AUDIT_CHUNK)
                except AuditError as exc:
                    if not tolerate_audit_failure(self._session.tenant, exc, "AUDIT RECORDS"):
                        self._audit_failed = exc
                        self._stop.set()
        if self._audit_failed is not None:
            # Not recorded, so not shown: from the failure on, no line is written (ones
            # answered later would have no record either); --resume redoes them.
            output.drop()
            return
        if output.lines:
            self._writer.write(output.take())
        self._writer.flush()

    # -- results ----------------------------------------------------------------------

    def _count(self, status: str, code: int, source: str | None, duplicate: bool) -> None:
        s = self.summary
        s.by_status[status] += 1
        if duplicate:
            s.duplicates += 1
        elif source == "cache":
            s.cache_hits += 1
        if status not in ANSWERED_STATUSES:
            s.errors += 1
            s.codes.add(code)
            if self._options.fail_fast:
                s.stopped_early = True
                self._stop.set()
        else:
            s.codes.add(0)

    def _record_duplicate(self, audit: dict[str, Any], first: int) -> None:
        self._session.record("lookup", duplicate_lookup_fields(audit, first))

    def _remember(
        self, key: tuple[str, ...], body: bytes, audit: dict[str, Any], first: int
    ) -> None:
        if len(body) > RECENT_BYTES // 16:
            return
        self._recent[key] = (body, audit, first)
        self._recent_bytes += len(body)
        while self._recent_bytes > RECENT_BYTES:
            _, (old, _a, _f) = self._recent.popitem(last=False)
            self._recent_bytes -= len(old)

    def _handle(self, result: JobResult) -> None:
        lines = self._inflight.pop(result.key)
        emit = self._output.emit
        if result.body is None:
            for line in lines:
                emit(line, None)
            return
        self._remember(result.key, result.body, result.audit, lines[0])
        for i, line in enumerate(lines):
            if i:
                self._record_duplicate(result.audit, lines[0])
            self._count(result.status, result.code, result.source, duplicate=i > 0)
            emit(line, result.body)

    # -- the run -------------------------------------------------------------------------

    def _pool(self, lookup_options: LookupOptions) -> JobPool:
        from rdapctl.batch.processes import ProcessPool, fork_available
        from rdapctl.batch.threads import ThreadPool

        session = self._session
        processes = min(self._processes, self._concurrency)
        if processes > 1 and fork_available():
            # Built before the fork so the children find fresh keys (rotation runs once).
            _ = session.keyring
            _ = session.bootstrap
            return ProcessPool(
                session.runtime,
                session.tenant,
                lookup_options,
                processes=processes,
                concurrency=self._concurrency,
                fail_fast=self._options.fail_fast,
            )
        return ThreadPool(session, lookup_options, self._concurrency, self._slowed)

    def run(self, queries: Iterable[InputQuery], total: int, skip: LineSet | None) -> BatchSummary:
        started = self._clock()
        self.summary.total = total
        lookup_options = LookupOptions(
            referrals=self._options.referrals,
            cache_mode=self._options.cache_mode,
            check=self._options.check,
        )
        # Everything built so far lives for the whole run: keep it out of the cyclic
        # GC's full collections (tens of ms each, every few hundred lookups), in the
        # workers forked next too.
        gc.freeze()
        pool = self._pool(lookup_options)
        source = iter(queries)
        exhausted = False
        stopping = False
        queued = 0  # jobs handed to workers whose result has not come back
        try:
            while True:
                while not exhausted and not self._stop.is_set() and self._room(queued):
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                        pool.drain()
                        break
                    if skip is not None and item.line in skip:
                        self.summary.skipped += 1
                        continue
                    queued += self._dispatch(item, pool)
                    # Repeats answered from memory produce output here too: keep it bounded.
                    self._flush()
                pool.flush_submits()
                if queued == 0 and (exhausted or self._stop.is_set()):
                    break
                if self._stop.is_set() and not stopping:
                    stopping = True
                    pool.stop()
                results = pool.poll(FLUSH_INTERVAL_S)
                if pool.failure is not None and self._audit_failed is None:
                    self._audit_failed = pool.failure
                    self._stop.set()
                if not results:
                    self._flush()
                    continue
                for result in results:
                    if isinstance(result, Exception):
                        raise result
                    queued -= 1
                    self._handle(result)
                self._flush()
                if self._on_progress is not None:
                    self._on_progress(self.summary)
        except BaseException:
            # A failed run (a worker's error, a closed output pipe): jobs not started
            # are dropped, instead of being looked up for an output nobody reads, and
            # lookups waiting out a backoff or a Retry-After end now (the gate's wait).
            self._stop.set()
            pool.stop()
            raise
        finally:
            pool.close()
            self._finish()
        self.summary.duration_s = self._clock() - started
        if self._stop.is_set() and not self.summary.stopped_early:
            self.summary.interrupted = self._audit_failed is None
        if self._audit_failed is not None:
            raise self._audit_failed
        return self.summary

    def _room(self, queued: int) -> bool:
        # Ordered: bounded by lines waiting to be written (a slow head holds the rest).
        waiting = queued if self._options.unordered else self._output.waiting
        return waiting < self._window

    def _dispatch(self, item: InputQuery, pool: JobPool) -> int:
        job = identify(item)
        key = job[0]
        self._output.expect(item.line)
        waiting = self._inflight.get(key)
        if waiting is not None:
            waiting.append(item.line)
            return 0
        recent = self._recent.get(key)
        if recent is not None:
            body, audit, first = recent
            self._recent.move_to_end(key)
            self._record_duplicate(audit, first)
            self._count(audit["status"], audit["exit_code"], None, duplicate=True)
            self._output.emit(item.line, body)
            return 0
        self._inflight[key] = [item.line]
        pool.submit(job)
        return 1

    def _finish(self) -> None:
        self._output.finish()
        self._flush(force=True)


def _cpu_count() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
