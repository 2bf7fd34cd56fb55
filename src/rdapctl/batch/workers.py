"""Batch worker processes: the lookup pipeline on every core.

The per-lookup CPU of the pipeline (HTTP, JSON, redaction, encryption, audit) is
what limits a batch run, and threads of one process share one core. A batch run
therefore forks worker processes; each builds its own :class:`TenantSession`
(its own SQLite connections, HTTP connections and audit writer: nothing opened by
the parent is used after the fork) and runs lookup threads.

Each worker gets an equal share of ``max_concurrent_requests`` as the in-flight
limits (per host and over all hosts) of its ``HostGate``, so the run as a whole
stays within the tenant's numbers. It runs one lookup thread per slot of its share
(more would only queue for a slot, and every hand-over wakes a thread), and all of
``max_concurrent_requests`` once a host answers with ``Retry-After``, so that lookups
waiting for a slowed host hold no slot and others go on. When the cache may answer it
starts with one thread (hits are pure CPU, and more threads would only fight over the
GIL) and widens at the first lookup that is not a hit or takes longer than
``NARROW_SLOW_S``. The per-host rate limit is the gate's token bucket, shared by all
processes of the tenant anyway.

A worker answers a chunk at a time: it writes the chunk's cache entries in one
transaction and its audit records in one locked, fsync'd append (the audit lock
keeps one valid chain across processes), and only then sends the results to the
parent, which orders and writes them. So nothing reaches the output that was not
recorded. While one thread answers from the cache, that thread writes its chunks
itself; otherwise the main thread does. Either way all Python work of a worker runs
in one thread at a time: a flush beside the lookups made both trade the GIL around
every C call (SQLite, zlib, hashing), which cost them about 40 % more CPU. Messages
to the parent are pickled by the thread that makes them; a sender thread only writes
them, so that a full pipe never stops the worker from reading its jobs.

Workers ignore SIGINT and SIGTERM (a terminal or a service manager sends them to the
whole group): the parent asks them to stop, they drop the jobs not started, finish
those in flight and flush. A worker whose parent is gone sees its inbox close and
ends the same way. A lookup that fails with an unexpected error is reported to the
parent, which ends the run with it; it never leaves the parent waiting.

Must not: import typer/rich, print (warnings go through the runtime), or touch the
output; only the parent writes output.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import multiprocessing
import queue
import signal
import threading
import time
import traceback
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING, Any

from rdapctl.core.errors import AuditError
from rdapctl.core.jsontext import dumps_compact
from rdapctl.net.ratelimit import SLOWED_THREADS
from rdapctl.rdap.envelope import ANSWERED_STATUSES, envelope_head_text

if TYPE_CHECKING:
    from rdapctl.app.lookup import LookupOptions
    from rdapctl.app.runtime import Runtime
    from rdapctl.batch.runner import Job
    from rdapctl.policy.tenant import Tenant
    from rdapctl.store.cache.entries import CacheRequest

# A worker sends what it has after this many results or this long, whichever first.
CHUNK_RESULTS = 256
CHUNK_SECONDS = 0.05
SEND_JOBS = 64
# While the cache answers, one lookup thread: more would only fight over the GIL.
# The rest start once a lookup is not a cache hit or one takes this long (well above
# what a hit and a chunk's flush take together).
NARROW_SLOW_S = 0.25
# How often the main thread looks at the inbox and the chunk timer once the input has
# ended (the last results then go out at once; before, within CHUNK_SECONDS / 2).
_DRAIN_POLL_S = 0.005
# How long the parent waits for its workers to end once the run is over.
CLOSE_S = 30.0
_STOP = None


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _widen_pipe(conn: Connection) -> None:
    """A chunk of results is ~1.5 MB: through the default 64 KB pipe that is a few
    dozen wake-ups on each side per chunk; 1 MB (the unprivileged maximum) makes it two."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)


def shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal positive shares (sum == total)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class CacheWrites:
    """Cache writes of a worker's lookup threads, paired with the bytes the thread
    serialised for output, so each envelope is serialised once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[list[Any]] = []
        self._local = threading.local()

    def add(self, key: CacheRequest, envelope: dict[str, Any], ttl_s: int) -> None:
        item = [key, envelope, ttl_s, None, None]
        self._local.last = item
        with self._lock:
            self._items.append(item)

    def attach(self, envelope: dict[str, Any], body: bytes) -> None:
        item = getattr(self._local, "last", None)
        self._local.last = None
        if item is not None and item[1] is envelope:
            # Text and head now, and the envelope let go: thousands of objects fewer for
            # the garbage collector to walk until the chunk is written.
            item[1:] = [None, item[2], body, envelope_head_text(envelope, body)]

    def take(self) -> list[tuple[CacheRequest, bytes, int, bytes]]:
        """(request, the envelope's JSON text, ttl, its head's JSON text) per write."""
        with self._lock:
            items, self._items = self._items, []
        out = []
        for key, envelope, ttl, text, head in items:
            if text is None:
                text = dumps_compact(envelope).encode("utf-8")
                head = envelope_head_text(envelope, text)
            out.append((key, text, ttl, head))
        return out


class ProcessPool:
    """Worker processes seen from the parent: submit jobs, poll results, stop, close."""

    def __init__(
        self,
        runtime: Runtime,
        tenant: Tenant,
        options: LookupOptions,
        *,
        processes: int,
        concurrency: int,
        fail_fast: bool = False,
    ) -> None:
        ctx = multiprocessing.get_context("fork")
        self._workers: list[tuple[Any, Connection, Connection]] = []
        self._outstanding: list[int] = []
        self._buffers: list[list[Any]] = []
        mine: list[Connection] = []  # the parent's ends, which a child must not keep open
        for share in shares(concurrency, processes):
            to_child_r, to_child_w = ctx.Pipe(duplex=False)
            from_child_r, from_child_w = ctx.Pipe(duplex=False)
            _widen_pipe(from_child_r)
            mine += [to_child_w, from_child_r]
            proc = ctx.Process(
                target=_worker_main,
                args=(
                    runtime,
                    tenant,
                    options,
                    concurrency,
                    share,
                    to_child_r,
                    from_child_w,
                    list(mine),
                    fail_fast,
                ),
                name="rdapctl-batch-worker",
                daemon=True,
            )
            proc.start()
            to_child_r.close()
            from_child_w.close()
            self._workers.append((proc, to_child_w, from_child_r))
            self._outstanding.append(0)
            self._buffers.append([])
        self._live = {conn: i for i, (_p, _w, conn) in enumerate(self._workers)}
        self.failure: AuditError | None = None

    def submit(self, job: Job) -> None:
        loads = self._outstanding
        i = loads.index(min(loads))  # the least busy worker
        self._buffers[i].append(job)
        self._outstanding[i] += 1
        if len(self._buffers[i]) >= SEND_JOBS:
            self._send(i)

    def _send(self, i: int) -> None:
        jobs, self._buffers[i] = self._buffers[i], []
        if jobs:
            self._workers[i][1].send(("jobs", jobs))

    def flush_submits(self) -> None:
        for i in range(len(self._workers)):
            self._send(i)

    def drain(self) -> None:
        """No more jobs will come: workers send each result as soon as all are done,
        instead of waiting out ``CHUNK_SECONDS`` for a chunk that will not fill."""
        self.flush_submits()
        for _proc, to_child, _conn in self._workers:
            with contextlib.suppress(OSError):
                to_child.send(("drain", None))

    def poll(self, timeout: float) -> list[Any]:
        out: list[Any] = []
        for conn in wait(list(self._live), timeout):
            assert isinstance(conn, Connection)
            i = self._live[conn]
            try:
                kind, payload = conn.recv()
            except (EOFError, OSError):
                del self._live[conn]
                if self._outstanding[i]:
                    out.append(RuntimeError("a batch worker process ended unexpectedly"))
                continue
            if kind == "results":
                from rdapctl.batch.runner import _Result

                self._outstanding[i] -= len(payload)
                out.extend(_Result(*fields) for fields in payload)
            elif kind == "audit_failed":
                message, hint = payload
                self.failure = AuditError(message, hint=hint)
            elif kind == "error":
                # The traceback's last line (the exception) first: the one line shown.
                last = payload.rstrip().rsplit("\n", 1)[-1]
                out.append(RuntimeError(f"a batch worker failed: {last}\n{payload}"))
        return out

    def stop(self) -> None:
        """Workers drop the jobs they have not started (answered as interrupted)."""
        for _proc, to_child, _conn in self._workers:
            with contextlib.suppress(OSError):
                to_child.send(("stop", None))

    def close(self) -> None:
        for _proc, to_child, _conn in self._workers:
            with contextlib.suppress(OSError):
                to_child.send(("end", None))
            to_child.close()
        deadline = time.monotonic() + CLOSE_S
        # Read on until every worker has hung up. After a failure nothing is waiting
        # for their last results, but a worker whose pipe is full never ends.
        live = list(self._live)
        while live:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for conn in wait(live, left):
                assert isinstance(conn, Connection)
                try:
                    conn.recv_bytes()
                except (EOFError, OSError):
                    live.remove(conn)
        for proc, _to_child, _conn in self._workers:
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()  # it ignores SIGTERM (see the module's docstring)
                proc.join(timeout=5)
        for _proc, _to_child, conn in self._workers:
            conn.close()


def _worker_main(
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
        _Worker(runtime, tenant, options, threads, share, inbox, outbox, fail_fast).run()
    except Exception:  # a bug must not hang the parent: report it
        with contextlib.suppress(OSError):
            outbox.send(("error", traceback.format_exc(limit=8)))
    finally:
        outbox.close()


class _Worker:
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
        from rdapctl.app.session import TenantSession
        from rdapctl.batch.runner import AuditCollector
        from rdapctl.net.ratelimit import HostGate

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
            runtime.paths.cache_dir / "ratelimit" / tenant.name,
            max_concurrent=share,
            max_total=share,
            requests_per_second=security.requests_per_second,
            clock=runtime.clock,
            wait=self._stop.wait,
            warn=runtime.warn,
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
        from rdapctl.batch.runner import _Result

        if jobs:
            self._add([_Result(job[0], None, "error", 0, None, {}) for job in jobs])

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
            records = self._collector.take() if self._audited else []
            writes = self._writes.take()
            if writes and self._session.cache_enabled:
                self._session.cache.put_many_plain(writes)
            if "cache" in self._session.__dict__:
                self._session.cache.flush_reads()
            if records and not self._failed:
                try:
                    self._session.audit.append_many(records, chunk_size=len(records))
                except AuditError as exc:
                    if not self._session.tolerate_audit_failure(exc, "AUDIT RECORDS"):
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

    def _lookups(self, session: Any) -> None:
        from rdapctl.batch.runner import _Result, answer, next_job

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
                    result = _Result(job[0], None, "error", 0, None, {})
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
                    # hand the GIL back and forth around every C call, which cost both
                    # about 40 % more CPU.
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
