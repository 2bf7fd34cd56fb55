"""Batch lookups: many queries through the lookup pipeline, concurrently and politely.

Owns the run: worker processes (``rdapctl.batch.workers``; threads of this process
where fork is unavailable) fed from the streamed input, each line parsed once here
(the parsed query travels with the job); identical queries fetched once; results
written as JSONL in input order (or completion order) through a bounded reorder window;
audit records collected from every worker and written a chunk at a time (one fsync
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
import json
import queue
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from rdapctl.app.lookup import CacheMode, LookupOptions, run_lookup_plain
from rdapctl.batch.input import InputQuery
from rdapctl.batch.output import LineSet
from rdapctl.core.errors import AuditError, ExitCode, RdapctlError, most_serious
from rdapctl.core.jsontext import dumps_compact
from rdapctl.rdap.envelope import ANSWERED_STATUSES, exit_code_of
from rdapctl.rdap.query import Query, parse_query

if TYPE_CHECKING:
    from rdapctl.app.session import TenantSession

AUDIT_CHUNK = 500
# Bytes of recent results kept to answer a repeated query without a second fetch.
RECENT_BYTES = 16 * 2**20
FLUSH_INTERVAL_S = 0.25
_STOP = object()


@dataclass(frozen=True)
class BatchOptions:
    referrals: bool = True
    cache_mode: CacheMode = "default"
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


@dataclass(slots=True)
class _Result:
    key: tuple[str, ...]
    body: bytes | None  # the serialised envelope without "line"; None: interrupted
    status: str
    code: int
    source: str | None
    audit: dict[str, Any]


class AuditCollector:
    """The audit sink of every worker session: records queue up for the main thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        with self._lock:
            self._items.append((event, fields))

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            items, self._items = self._items, []
        return items


# What a worker gets for one query: (dedupe key, input text, forced type, the query as
# parsed by the parent for the key (None: it did not parse; the lookup reports why)).
Job = tuple[tuple[str, ...], str, "str | None", "Query | None"]


def identify(query: InputQuery) -> Job:
    """The job for an input line; its key is what makes two lines the same lookup
    (normalised, so AS1 == as1)."""
    try:
        parsed = parse_query(query.text, query.forced_type)
    except RdapctlError:
        return ("raw", query.forced_type or "", query.text), query.text, query.forced_type, None
    return (parsed.type, parsed.value), query.text, query.forced_type, parsed


def expected_query(query: InputQuery) -> str:
    """The ``query`` a result of this input line holds (the parsed value, or the text
    as given when it does not parse)."""
    parsed = identify(query)[3]
    return parsed.value if parsed is not None else query.text


def _audit_summary(envelope: dict[str, Any]) -> dict[str, Any]:
    """The fields of a ``lookup`` record for a repeated query answered without a fetch."""
    url = envelope.get("url")
    parts = urlsplit(url) if url else None
    policy = envelope.get("policy") or {}
    return {
        "query": envelope.get("query"),
        "query_type": envelope.get("type"),
        "server_host": parts.hostname if parts else None,
        "url_path": parts.path if parts else None,
        "http_status": envelope.get("http_status"),
        "redacted_fields": list(policy.get("redacted_fields") or []),
        "redacted_count": int(policy.get("redacted_count") or 0),
        "residency": policy.get("residency"),
        "referrals": [],
        "status": envelope["status"],
        "exit_code": exit_code_of(envelope),
    }


def answer(
    session: TenantSession,
    options: LookupOptions,
    job: Job,
    writes: Any = None,
) -> _Result:
    """One query through ``run_lookup``, serialised once for output (and the cache)."""
    key, text, forced_type, parsed = job
    if forced_type != options.forced_type:
        options = LookupOptions(
            forced_type=forced_type, referrals=options.referrals, cache_mode=options.cache_mode
        )
    envelope, plain, recorded = run_lookup_plain(session, text, options, parsed=parsed)
    error = envelope.get("error") or {}
    if error.get("code") == "interrupted":
        body = None
    else:
        body = None
        if plain is not None and envelope.get("source") == "cache":
            body = splice_cache_hit(plain, envelope.get("age_s"))
            if body is None:  # laid out otherwise: the envelope may be a head, use the text
                full = json.loads(plain)
                full.update(source="cache", age_s=envelope.get("age_s"))
                body = _dumps(full).encode("utf-8")
        if body is None:
            body = _dumps(envelope).encode("utf-8")
            if writes is not None:
                writes.attach(envelope, body)
    # What the lookup record said, for records of its repeats (see _record_duplicate).
    audit = recorded if recorded is not None else _audit_summary(envelope)
    return _Result(key, body, envelope["status"], audit["exit_code"], envelope.get("source"), audit)


def next_job(jobs: queue.SimpleQueue[Any], session: TenantSession) -> Any:
    """The next job of a lookup thread; before waiting for one, the thread's session
    lets go of what it holds (see ``TenantSession.idle``)."""
    try:
        return jobs.get_nowait()
    except queue.Empty:
        session.idle()
        return jobs.get()


_dumps = dumps_compact
# How every stored envelope reads between "status" and "server" (make_envelope's order;
# only strings and numbers come before it, so the first match is the top-level key).
_STORED_SOURCE = b',"source":"network","age_s":null,"server":'


def splice_cache_hit(plain: bytes, age_s: object) -> bytes | None:
    """The stored envelope text with the hit's ``source`` and ``age_s``: the bytes that
    encoding the hit's envelope would give, without decoding and encoding ~KBs again.
    None when the text is not laid out as expected (the caller encodes instead)."""
    at = plain.find(b',"source":')
    if at < 0 or not plain.startswith(_STORED_SOURCE, at) or type(age_s) is not float:
        return None
    return b"".join(
        (
            plain[:at],
            b',"source":"cache","age_s":',
            repr(age_s).encode(),
            b',"server":',
            plain[at + len(_STORED_SOURCE) :],
        )
    )


class _ThreadPool:
    """Lookup threads in this process (one core; used when fork is unavailable)."""

    def __init__(
        self,
        session: TenantSession,
        options: LookupOptions,
        threads: int,
        slowed: threading.Event | None = None,
    ) -> None:
        """``slowed``: set once a host is slowed by Retry-After; threads are then added
        (up to ``SLOWED_THREADS``) so that lookups for other hosts go on."""
        from rdapctl.net.ratelimit import SLOWED_THREADS

        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._options = options
        self._session = session
        self._slowed = slowed
        self._wide = max(threads, SLOWED_THREADS)
        session.prepare_shared()
        self._threads: list[threading.Thread] = []
        self._add_threads(threads)
        self.failure: AuditError | None = None

    def _add_threads(self, want: int) -> None:
        while len(self._threads) < want:
            t = threading.Thread(
                target=self._work,
                args=(self._session.worker(),),
                name=f"rdapctl-batch-{len(self._threads)}",
                daemon=True,
            )
            t.start()
            self._threads.append(t)

    def _work(self, session: TenantSession) -> None:
        try:
            while True:
                job = next_job(self._jobs, session)
                if job is _STOP:
                    return
                try:
                    self._results.put(answer(session, self._options, job))
                except Exception as exc:  # a bug must not hang the run: report it
                    self._results.put(exc)
        finally:
            session.close()

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def flush_submits(self) -> None:
        pass

    def drain(self) -> None:
        pass

    def poll(self, timeout: float) -> list[Any]:
        if self._slowed is not None and self._slowed.is_set():
            self._add_threads(self._wide)
        try:
            out = [self._results.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                out.append(self._results.get_nowait())
            except queue.Empty:
                return out

    def stop(self) -> None:
        """Take back jobs no thread has started: answered as interrupted."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not _STOP:
                self._results.put(_Result(job[0], None, "error", 0, None, {}))

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(_STOP)
        for t in self._threads:
            t.join(timeout=30)


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
        # Workers answer a chunk at a time (see rdapctl.batch.workers): room for several.
        self._window = max(2048, 64 * self._concurrency)
        self._processes = processes if processes is not None else _cpu_count()
        self._order: deque[int] = deque()  # lines dispatched, not yet written (input order)
        self._ready: dict[int, bytes | None] = {}  # answered, waiting for earlier lines
        self._inflight: dict[tuple[str, ...], list[int]] = {}
        # Answers kept for repeats: body, audit fields and the line first answered.
        self._recent: OrderedDict[tuple[str, ...], tuple[bytes, dict[str, Any], int]] = (
            OrderedDict()
        )
        self._recent_bytes = 0
        self._out: list[bytes | memoryview] = []  # output pieces (see _add_line)
        self._out_lines = 0
        self._last_flush = clock()
        self._audit_failed: AuditError | None = None

    # -- output ---------------------------------------------------------------------

    def _emit(self, line: int, body: bytes | None) -> None:
        if self._options.unordered:
            if body is not None:
                self._add_line(line, body)
            return
        self._ready[line] = body
        order, ready = self._order, self._ready
        while order and order[0] in ready:
            number = order.popleft()
            answered = ready.pop(number)
            if answered is not None:
                self._add_line(number, answered)

    def _add_line(self, line: int, body: bytes) -> None:
        # The envelope with "line" put first, as pieces the flush joins once: slicing
        # and concatenating the ~KBs body here cost more than the rest of a warm line.
        self._out += (b'{"line":%d,' % line, memoryview(body)[1:], b"\n")
        self._out_lines += 1
        self.summary.done += 1

    def _flush(self, force: bool = False) -> None:
        """Audit first (fsync'd), then the output lines those records stand for."""
        now = self._clock()
        just_flushed = now - self._last_flush < FLUSH_INTERVAL_S
        if not force and self._out_lines < AUDIT_CHUNK and just_flushed:
            return
        self._last_flush = now
        if self._collect is not None and self._audit_failed is None:
            records = self._collect()
            if records:
                try:
                    self._session.audit.append_many(records, chunk_size=AUDIT_CHUNK)
                except AuditError as exc:
                    if not self._session.tolerate_audit_failure(exc, "AUDIT RECORDS"):
                        self._audit_failed = exc
                        self._stop.set()
        if self._audit_failed is not None:
            # Not recorded, so not shown: from the failure on, no line is written (ones
            # answered later would have no record either); --resume redoes them.
            self.summary.done -= self._out_lines
            self._out, self._out_lines = [], 0
            return
        if self._out:
            data, self._out, self._out_lines = b"".join(self._out), [], 0
            self._writer.write(data)
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
        fields = dict(audit)
        # A repeat fetched nothing itself: no referrals and no requests of its own.
        fields.update(
            source="duplicate", duplicate_of_line=first, duration_ms=0.0, referrals=[], requests=0
        )
        self._session.record("lookup", fields)

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

    def _handle(self, result: _Result) -> None:
        lines = self._inflight.pop(result.key)
        if result.body is None:
            for line in lines:
                self._emit(line, None)
            return
        self._remember(result.key, result.body, result.audit, lines[0])
        for i, line in enumerate(lines):
            if i:
                self._record_duplicate(result.audit, lines[0])
            self._count(result.status, result.code, result.source, duplicate=i > 0)
            self._emit(line, result.body)

    # -- the run -------------------------------------------------------------------------

    def _pool(self, lookup_options: LookupOptions) -> Any:
        from rdapctl.batch import workers as batch_worker

        session = self._session
        processes = min(self._processes, self._concurrency)
        if processes > 1 and batch_worker.fork_available():
            # Built before the fork so the children find fresh keys (rotation runs once).
            _ = session.keyring
            _ = session.bootstrap
            return batch_worker.ProcessPool(
                session.runtime,
                session.tenant,
                lookup_options,
                processes=processes,
                concurrency=self._concurrency,
                fail_fast=self._options.fail_fast,
            )
        return _ThreadPool(session, lookup_options, self._concurrency, self._slowed)

    def run(self, queries: Iterable[InputQuery], total: int, skip: LineSet | None) -> BatchSummary:
        started = self._clock()
        self.summary.total = total
        lookup_options = LookupOptions(
            referrals=self._options.referrals, cache_mode=self._options.cache_mode
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
        waiting = queued if self._options.unordered else len(self._order)
        return waiting < self._window

    def _dispatch(self, item: InputQuery, pool: Any) -> int:
        job = identify(item)
        key = job[0]
        if not self._options.unordered:
            self._order.append(item.line)
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
            self._emit(item.line, body)
            return 0
        self._inflight[key] = [item.line]
        pool.submit(job)
        return 1

    def _finish(self) -> None:
        # Lines behind a gap (interrupted or cancelled): written in line order so that
        # everything answered is kept; --resume fills the gaps.
        if not self._options.unordered:
            for line in sorted(self._ready):
                body = self._ready.pop(line)
                if body is not None:
                    self._add_line(line, body)
            self._order.clear()
        self._flush(force=True)


def _cpu_count() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
