"""Batch worker processes, seen from the parent: the lookup pipeline on every core.

The per-lookup CPU of the pipeline (HTTP, JSON, redaction, encryption, audit) is what
limits a batch run, and threads of one process share one core: the run forks worker
processes (``rdapctl.batch.worker_process``) and hands them jobs in batches, to the
least busy first. Each gets an equal share of ``max_concurrent_requests``, so the run
as a whole stays within the tenant's numbers. Results come back a chunk at a time,
already recorded in the audit log; the parent orders and writes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import time
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from rdapctl.batch.jobs import Job, JobResult
from rdapctl.batch.worker_process import worker_main
from rdapctl.core.errors import AuditError

if TYPE_CHECKING:
    from rdapctl.app.lookup import LookupOptions
    from rdapctl.app.runtime import Runtime
    from rdapctl.policy.tenant import Tenant

# Jobs sent to a worker in one message.
SEND_JOBS = 64
# How long the parent waits for its workers to end once the run is over.
CLOSE_S = 30.0


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
                target=worker_main,
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
        instead of waiting out the chunk timer for a chunk that will not fill."""
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
                self._outstanding[i] -= len(payload)
                out.extend(JobResult(*fields) for fields in payload)
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
                proc.kill()  # it ignores SIGTERM (see rdapctl.batch.worker_process)
                proc.join(timeout=5)
        for _proc, _to_child, conn in self._workers:
            conn.close()
