"""One batch worker process: a session of its own, lookup threads, chunked writes.

Each worker builds its own :class:`TenantSession` after the fork (its own SQLite,
HTTP and audit writer: nothing the parent opened is used), runs one lookup thread per
in-flight slot of its share (one while the cache answers, all of them once a lookup
is not a hit or a host is slowed), and answers a chunk at a time: cache entries in
one transaction, audit records in one locked, fsync'd append, then the results to
the parent. So nothing reaches the output that was not recorded. Python work runs in
one thread at a time where it can (see ``_lookups`` and ``_flush``).

Workers ignore SIGINT and SIGTERM (sent to the whole process group): the parent asks
them to stop; they drop the jobs not started, finish those in flight and flush. A
worker whose parent is gone sees its inbox close and ends the same way. An
unexpected error is reported to the parent, which ends the run with it.

Must not: import typer/rich, print (warnings are diagnostics), or touch the output.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import signal
import threading
import time
import traceback
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING, Any

from rdapctl.app.audit_failure import tolerate_audit_failure
from rdapctl.app.session import TenantSession
from rdapctl.batch import jobs
from rdapctl.batch.collectors import AuditCollector, CacheWrites
from rdapctl.batch.jobs import next_job, not_started
from rdapctl.core import diagnostics
from rdapctl.core.errors import AuditError
from rdapctl.net.ratelimit import SLOWED_THREADS, HostGate
from rdapctl.rdap.envelope import ANSWERED_STATUSES

if TYPE_CHECKING:
    from rdapctl.app.lookup import LookupOptions
    from rdapctl.app.runtime import Runtime
    from rdapctl.policy.tenant import Tenant

# A worker sends what it has after this many results or this long, whichever first.
CHUNK_RESULTS = 256
CHUNK_SECONDS = 0.05
# While the cache answers, one lookup thread: more would only fight over the GIL.
# The rest start once a lookup is not a cache hit or one takes this long (well above
# what a hit and a chunk's flush take together).
NARROW_SLOW_S = 0.25
# How often the main thread looks at the inbox and the chunk timer once the input has
# ended (the last results then go out at once; before, within CHUNK_SECONDS / 2).
_DRAIN_POLL_S = 0.005
_STOP = None


def worker_main(
    runtime: Runtime,
    tenant: Tenant,
    options: LookupOptions,
    threads: int,
    share: int,
    inbox: Connection,
    outbox: Connection,
    parent_ends: list[Connection],
    fail_fast: bool,
) -> None:
    """The body of a worker process (see :class:`Worker`); reports a crash to the parent."""
    # Another worker holding the parent's end of our inbox would hide the parent's
    # death (no EOF): close every parent end inherited through the fork.
    for conn in parent_ends:
        conn.close()
    # Ctrl-C, and a service manager's SIGTERM, reach the whole process group: the
    # parent decides how to stop (it tells us, and we finish and flush). Without this,
    # the parent's own handlers, inherited through the fork, would answer them here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        Worker(runtime, tenant, options, threads, share, inbox, outbox, fail_fast).run()
    except Exception:  # a bug must not hang the parent: report it
        with contextlib.suppress(OSError):
            outbox.send(("error", traceback.format_exc(limit=8)))
    finally:
        outbox.close()


class Worker:
    """One worker process: its own session, lookup threads, and the chunks it writes."""

    def __init__(
        self,
        runtime: Runtime,
        tenant: Tenant,
        options: LookupOptions,
        threads: int,
        share: int,
        inbox: Connection,
        outbox: Connection,
        fail_fast: bool = False,
    ) -> None:
        """``threads`` lookup threads; ``share`` requests in flight (per host and in all);
        ``fail_fast``: the first failure stops this worker (see ``_lookups``)."""
        self._inbox = inbox
        self._outbox = outbox
        # Results go out from their own thread: the parent may be blocked sending us
        # jobs while our results fill the pipe, and this thread's inbox must be read
        # meanwhile or both would wait for ever.
        self._outgoing: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._sender = threading.Thread(target=self._send_loop, daemon=True)
        self._sender.start()
        self._options = options
        self._fail_fast = fail_fast
        self._threads = threads
        self._wide = max(threads, SLOWED_THREADS)  # once a host is slowed
        self._share = share
        self._stop = threading.Event()
        security = tenant.security
        self._gate = HostGate(
            runtime.paths.tenant_ratelimit_dir(tenant.name),
            max_concurrent=share,
            max_total=share,
            requests_per_second=security.requests_per_second,
            clock=runtime.clock,
            wait=self._stop.wait,
            warn=diagnostics.warning,
        )
        self._collector = AuditCollector()
        self._writes = CacheWrites()
        self._audited = tenant.audit.enabled
        self._session = TenantSession(
            runtime,
            tenant,
            gate=self._gate,
            audit_sink=self._collector,
            batch=True,
            cache_sink=self._writes.add,
        )
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._sent = 0  # results sent to the parent (under _flush_lock)
        self._done: list[Any] = []
        self._first_done = 0.0
        self._failed = False
        self._broken = threading.Event()  # a lookup thread failed: results may be lost
        self._workers: list[threading.Thread] = []
        self._go_wide = threading.Event()
        self._busy_since = 0.0  # when the narrow thread took its job; 0.0: idle
        self._narrow = options.cache_mode in ("default", "offline") and self._session.cache_enabled

    def _start_threads(self) -> None:
        if self._narrow:
            want = 1
        elif self._gate.slowed.is_set():
            want = self._wide
        else:
            want = min(self._share, self._threads)
        while len(self._workers) < want:
            t = threading.Thread(target=self._lookups, args=(self._session.worker(),), daemon=True)
            t.start()
            self._workers.append(t)

    def _widen_if_needed(self) -> None:
        busy = self._busy_since
        if self._go_wide.is_set() or (busy and time.monotonic() - busy > NARROW_SLOW_S):
            self._narrow = False
            self._start_threads()

    def run(self) -> None:
        session = self._session
        session.prepare_shared()
        gc.freeze()  # the session lives as long as the worker (see BatchRun.run)
        workers = self._workers
        self._start_threads()
        received = 0
        ended = False
        draining = False
        try:
            while not (ended and (received == self._sent or self._broken.is_set())):
                if self._narrow:
                    self._widen_if_needed()
                elif len(workers) < self._wide and self._gate.slowed.is_set():
                    self._start_threads()
                poll_s = _DRAIN_POLL_S if draining else CHUNK_SECONDS / 2
                if ended:
                    time.sleep(min(poll_s, CHUNK_SECONDS / 5))
                elif self._inbox.poll(poll_s):
                    try:
                        kind, payload = self._inbox.recv()
                    except (EOFError, OSError):
                        kind, payload = "end", None  # the parent is gone
                        self._stop.set()
                    if kind == "jobs":
                        received += len(payload)
                        if self._stop.is_set():  # --fail-fast: jobs sent before we stopped
                            self._not_started(payload)
                        else:
                            for job in payload:
                                self._jobs.put(job)
                            self._read_ahead(payload)
                    elif kind == "drain":
                        draining = True
                    elif kind == "stop":
                        self._stop.set()
                        self._cancel_queued()
                    else:
                        ended = True
                        if self._stop.is_set():
                            self._cancel_queued()
                # Draining: the last results go out as soon as every job is answered.
                all_done = draining and self._sent + len(self._done) == received
                self._flush(force=ended or all_done)
        finally:
            if received != self._sent + len(self._done):
                # Ended early (a failed lookup thread, an error here): lookups waiting
                # out a backoff or a Retry-After must not hold up the joins below.
                self._stop.set()
            try:
                for _ in workers:
                    self._jobs.put(_STOP)
                for t in workers:
                    t.join(timeout=30)
                self._flush(force=True)
                session.close()
                self._gate.close()
            finally:
                # Only then may _worker_main write to the outbox itself.
                self._outgoing.put(_STOP)
                self._sender.join()

    def _read_ahead(self, payload: list[Any]) -> None:
        """A team tenant: the shared cache entries of these jobs in one round trip to
        Redis (the lookup thread then finds them at hand, see ``LayeredCache.prefetch``)."""
        session = self._session
        team = session.tenant.team
        if team is None or not team.cache or not session.cache_enabled:
            return
        from rdapctl.app.lookup import cache_request_of

        requests = [
            req
            for job in payload
            if job[3] is not None
            and (req := cache_request_of(session, job[3], self._options)) is not None
        ]
        session.cache.prefetch(requests)  # type: ignore[attr-defined]

    def _send_loop(self) -> None:
        while True:
            message = self._outgoing.get()
            if message is _STOP:
                return
            try:
                self._outbox.send_bytes(message)
            except OSError:  # the parent is gone: nobody to answer
                self._stop.set()
                return

    def _post(self, message: tuple[str, Any]) -> None:
        """Queue a message for the parent, pickled here: the sender thread only writes
        (pickling there ran Python beside the lookups, see ``_flush``)."""
        self._outgoing.put(ForkingPickler.dumps(message))

    def _cancel_queued(self) -> None:
        cancelled = []
        while True:
            try:
                cancelled.append(self._jobs.get_nowait())
            except queue.Empty:
                break
        self._not_started(cancelled)

    def _not_started(self, jobs: list[Any]) -> None:
        """Answer ``jobs`` as not done: their lines stay unanswered (--resume)."""
        if jobs:
            self._add([not_started(job) for job in jobs])

    def _add(self, results: list[Any]) -> None:
        with self._lock:
            if not self._done:
                self._first_done = time.monotonic()
            self._done.extend(results)

    def _flush(self, force: bool = False) -> None:
        """Cache, then audit (fsync'd), then the results to the parent, when a chunk is
        due. One flush at a time (a chunk's records must be written before its results
        leave, and before a later chunk's do)."""
        with self._flush_lock:
            with self._lock:
                if not self._done:
                    return
                due = force or len(self._done) >= CHUNK_RESULTS
                if not due and time.monotonic() - self._first_done < CHUNK_SECONDS:
                    return
                # Results first, records second: a result's record was collected before it.
                results, self._done = self._done, []
            writes = self._writes.take()
            if writes and self._session.cache_enabled:
                self._session.cache.put_many_plain(writes)
            self._session.flush_cache_reads()
            # After the cache writes: a record they made (the team backend gone) goes too.
            records = self._collector.take() if self._audited else []
            if records and not self._failed:
                try:
                    self._session.audit.append_many(records, chunk_size=len(records))
                except AuditError as exc:
                    if not tolerate_audit_failure(self._session.tenant, exc, "AUDIT RECORDS"):
                        # Not recorded, so not shown: the lines stay unanswered (--resume).
                        self._failed = True
                        self._stop.set()
                        self._post(("audit_failed", (exc.message, exc.hint)))
            if self._failed:
                for r in results:
                    r.body = None
            # Plain tuples: pickling them costs a third of pickling the objects.
            payload = [(r.key, r.body, r.status, r.code, r.source, r.audit) for r in results]
            self._post(("results", payload))
            self._sent += len(results)

    def _lookups(self, session: TenantSession) -> None:
        answer = jobs.answer  # looked up when the thread starts (tests replace it)
        try:
            while True:
                job = next_job(self._jobs, session)
                if job is _STOP:
                    return
                self._busy_since = time.monotonic()
                try:
                    result = answer(session, self._options, job, self._writes)
                except Exception:  # a bug: the line stays unanswered, the run ends
                    self._fail(traceback.format_exc(limit=8))
                    result = not_started(job)
                self._busy_since = 0.0
                if result.source != "cache":
                    self._go_wide.set()
                self._add([result])
                if self._fail_fast and result.status not in ANSWERED_STATUSES:
                    # --fail-fast: no more jobs here, and the parent hears of it now,
                    # not a chunk later (it then stops the other workers too).
                    self._stop.set()
                    self._cancel_queued()
                    self._flush(force=True)
                elif self._narrow:
                    # The only thread answering writes its own chunks: two threads
                    # running Python at once (lookups here, a flush in the main thread)
                    # would hand the GIL back and forth around every C call.
                    self._flush()
        except Exception:  # a failed flush: its chunk's results are lost with it
            self._fail(traceback.format_exc(limit=8))
            self._broken.set()
        finally:
            session.close()

    def _fail(self, report: str) -> None:
        """Tell the parent of an unexpected error (it ends the run with it) and stop."""
        self._stop.set()
        self._post(("error", report))
