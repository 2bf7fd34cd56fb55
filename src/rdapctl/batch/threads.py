"""Lookup threads in this process: the batch runner where fork is unavailable (or one
process is asked for). Same interface as ``rdapctl.batch.processes.ProcessPool``."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any

from rdapctl.batch import jobs
from rdapctl.batch.jobs import Job, next_job, not_started
from rdapctl.core.errors import AuditError

if TYPE_CHECKING:
    from rdapctl.app.lookup import LookupOptions
    from rdapctl.app.session import TenantSession

_STOP = object()


class ThreadPool:
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
        answer = jobs.answer  # looked up when the thread starts (tests replace it)
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
                self._results.put(not_started(job))

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(_STOP)
        for t in self._threads:
            t.join(timeout=30)
