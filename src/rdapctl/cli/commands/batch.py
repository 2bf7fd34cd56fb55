"""``rdapctl batch``: wire input, output, signals, progress and the summary to a run.

The run itself is ``rdapctl.batch.runner``; this module owns what touches the terminal and
the process: standard streams, SIGINT/SIGTERM handlers (restored afterwards), the
rich progress bar on stderr, and the closing summary line.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import (
    CheckOpt,
    NoCacheOpt,
    NoReferralOpt,
    OfflineOpt,
    ProfilesOpt,
    RefreshOpt,
    TenantOpt,
    cache_mode,
)

if TYPE_CHECKING:
    from rdapctl.app.runtime import Runtime
    from rdapctl.batch.input import BatchInput
    from rdapctl.batch.output import LineSet, OutputWriteError
    from rdapctl.batch.runner import BatchOptions, BatchSummary
    from rdapctl.policy.tenant import Tenant

PROGRESS_REFRESH_S = 0.1

app = typer.Typer(rich_markup_mode=None, add_completion=False)


@app.command()
@exits
def batch(
    input_file: Annotated[
        str, typer.Argument(help="File with one query per line, or - for standard input.")
    ] = "-",
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output_file: Annotated[
        Path | None,
        typer.Option("--output", help="Write JSONL to this file (0600, locked) instead of stdout."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Skip queries answered in --output; ask failed ones again."),
    ] = False,
    unordered: Annotated[
        bool, typer.Option("--unordered", help="Write results in completion order.")
    ] = False,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first failed query.")
    ] = False,
    no_referral: NoReferralOpt = False,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    check: CheckOpt = False,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Force the progress bar on or off (default: on when stderr is a terminal).",
            show_default=False,
        ),
    ] = None,
) -> int:
    """Look up many queries (one per line, optional type: prefix, or search:KIND OPTIONS)
    as JSONL envelopes."""
    from contextlib import ExitStack

    from rdapctl.batch.input import BatchInput
    from rdapctl.batch.runner import BatchOptions
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.core.errors import UsageError

    mode = cache_mode(no_cache, refresh, offline)
    output = output_file
    if output is not None and str(output) == "-":
        output = None  # standard output, as for the input
    if resume and output is None:
        raise UsageError("--resume needs --output FILE", hint="add --output results.jsonl")
    runtime = make_runtime("batch")
    chosen = resolve_tenant(runtime, profiles, tenant)
    if check and mode == "offline":
        raise UsageError("--check needs the servers' answers: it cannot run --offline")
    options = BatchOptions(
        referrals=not no_referral,
        cache_mode=mode,
        unordered=unordered,
        fail_fast=fail_fast,
        check="auto" if check else None,
    )
    with ExitStack() as held:
        with _stop_before_the_run():
            source = held.enter_context(BatchInput.open(input_file, sys.stdin.buffer))
            total = source.count()
            _check_size(runtime, chosen, total)
            out, skip = _open_output(source, output, chosen, resume) if output else (None, None)
            if out is not None:
                held.callback(out.close)
        # From here the run's own handlers stop it (and flush what was answered).
        summary = _run(runtime, chosen, source, total, skip, out, output, options, progress)
    _print_summary(runtime, summary)
    return summary.exit_code


def _open_output(
    source: BatchInput, output: Path, tenant: Tenant, resume: bool
) -> tuple[BinaryIO, LineSet | None]:
    """The output file, locked for this run; with --resume, mended, and the lines an
    earlier run answered in it (refused if they are another input's or tenant's)."""
    from rdapctl.batch.jobs import expected_query
    from rdapctl.batch.output import (
        check_resume_identity,
        mend_for_resume,
        open_output,
        resume_scan,
    )

    out = open_output(output, resume=resume, input_identity=source.identity())
    if not resume:
        return out, None
    try:
        scan = resume_scan(output, source.lines)
        expected = {
            line: expected_query(query) if query is not None else None
            for line, query in source.queries_at(set(scan.samples)).items()
        }
        check_resume_identity(scan, tenant.name, expected)
        if mend_for_resume(output, scan):
            # Failed lines were taken out through a new file: write to (and lock) that one.
            out.close()
            out = open_output(output, resume=True, input_identity=source.identity())
    except BaseException:
        out.close()
        raise
    return out, scan.answered


@contextmanager
def _stop_before_the_run() -> Iterator[None]:
    """Ctrl-C or SIGTERM before the run starts (spooling standard input, counting,
    reading the output to resume) stops at once: exit 130, nothing looked up."""
    from rdapctl.core.errors import InterruptedRunError

    def handler(signum: int, _frame: object) -> None:
        raise InterruptedRunError(
            f"{signal.Signals(signum).name} before the first lookup: nothing was looked up"
        )

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _check_size(runtime: Runtime, tenant: Tenant, total: int) -> None:
    from rdapctl.app.session import TenantSession
    from rdapctl.core.errors import PolicyDeniedError

    limit = tenant.security.max_batch_size
    if total <= limit:
        return
    error = PolicyDeniedError(
        f"the input has {total} queries; tenant {tenant.name!r} allows at most {limit} per "
        "batch, so nothing was looked up",
        code="batch_too_large",
        hint="split the input, or raise security.max_batch_size in the tenant profile",
    )
    with TenantSession(runtime, tenant) as session:
        session.record("policy_denied", {"reason": error.message, "query_count": total})
    raise error


def _run(
    runtime: Runtime,
    tenant: Tenant,
    source: BatchInput,
    total: int,
    skip: LineSet | None,
    out: BinaryIO | None,
    output: Path | None,
    options: BatchOptions,
    progress: bool | None,
) -> BatchSummary:
    from rdapctl.app.session import TenantSession
    from rdapctl.batch.collectors import AuditCollector
    from rdapctl.batch.runner import BatchRun
    from rdapctl.core import diagnostics
    from rdapctl.net.ratelimit import HostGate

    stop = threading.Event()
    security = tenant.security
    gate = HostGate(
        runtime.paths.cache_dir / "ratelimit" / tenant.name,
        max_concurrent=security.max_concurrent_requests,
        requests_per_second=security.requests_per_second,
        clock=runtime.clock,
        wait=stop.wait,
        warn=diagnostics.warning,
    )
    collector = AuditCollector()
    session = TenantSession(runtime, tenant, gate=gate, audit_sink=collector, batch=True)
    audited = tenant.audit.enabled
    writer = _FileWriter(out, output) if out is not None else _StdoutWriter()
    show = progress if progress is not None else runtime.stderr.isatty()
    try:
        with _signals(stop, runtime), _progress_bar(show, total) as on_progress:
            batch = BatchRun(
                session,
                collector.take if audited else None,
                writer,
                options,
                stop=stop,
                on_progress=on_progress,
                slowed=gate.slowed,
            )
            return batch.run(source.queries(), total, skip)
    finally:
        session.close()
        gate.close()


class _FileWriter:
    def __init__(self, fh: BinaryIO, path: Path | None) -> None:
        self._fh = fh
        self._path = path
        self._failed: OutputWriteError | None = None

    def write(self, data: bytes) -> None:
        if self._failed is not None:
            # After a short write the file ends in a torn line: whole lines written after
            # it (once space is freed) would make the file unfit to resume into.
            raise self._failed
        view = memoryview(data)
        try:
            while view:  # an unbuffered file may write less than asked
                written = self._fh.write(view)
                view = view[written:]
        except OSError as exc:
            self._failed = _write_failed(exc, str(self._path))
            raise self._failed from None

    def flush(self) -> None:
        self._fh.flush()


class _StdoutWriter:
    def write(self, data: bytes) -> None:
        try:
            sys.stdout.buffer.write(data)
        except BrokenPipeError:
            raise  # the reader went away: see failure.handle_exception
        except OSError as exc:
            raise _write_failed(exc, "standard output") from None

    def flush(self) -> None:
        sys.stdout.buffer.flush()


def _write_failed(exc: OSError, where: str) -> OutputWriteError:
    from rdapctl.batch.output import OutputWriteError

    return OutputWriteError(
        f"cannot write the results to {where}: {exc.strerror or exc.__class__.__name__}",
        hint="the lines written are whole up to the last one; free space, then run again "
        "with --output FILE --resume",
    )


@contextmanager
def _signals(stop: threading.Event, runtime: Runtime) -> Iterator[None]:
    """SIGINT/SIGTERM ask the run to stop (once); the previous handlers come back after."""

    from rdapctl.core import diagnostics

    def handler(signum: int, _frame: object) -> None:
        if not stop.is_set():
            name = signal.Signals(signum).name
            diagnostics.note(f"{name}: stopping; finishing lookups in flight")
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread (e.g. some test runners)
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _progress_bar(show: bool, total: int) -> Iterator[Callable[[BatchSummary], None] | None]:
    if not show:
        with nullcontext():
            yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from rdapctl.cli.output import console

    bar = Progress(
        TextColumn("batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.0f}/s"),
        TimeRemainingColumn(),
        TextColumn("errors {task.fields[errors]}  cache hits {task.fields[hits]}"),
        console=console(stderr=True),
        transient=True,
    )
    task = bar.add_task("batch", total=total, rate=0.0, errors=0, hits=0)
    started = time.monotonic()
    last = 0.0

    def update(summary: BatchSummary) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < PROGRESS_REFRESH_S:
            return
        last = now
        done = summary.done + summary.skipped
        elapsed = max(now - started, 1e-6)
        bar.update(
            task,
            completed=done,
            rate=summary.done / elapsed,
            errors=summary.errors,
            hits=summary.cache_hits,
        )

    with bar:
        yield update


def _print_summary(runtime: Runtime, summary: BatchSummary) -> None:
    from rdapctl.core import diagnostics

    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_status.items())) or "none"
    parts = [f"{summary.done} of {summary.total} answered ({statuses})"]
    if summary.cache_hits:
        parts.append(f"{summary.cache_hits} from cache")
    if summary.duplicates:
        parts.append(f"{summary.duplicates} duplicates")
    if summary.skipped:
        parts.append(f"{summary.skipped} skipped (already answered)")
    parts.append(f"{summary.duration_s:.2f} s, {summary.rate:.0f}/s")
    diagnostics.note("batch: " + "; ".join(parts))
    if summary.interrupted:
        diagnostics.note("batch interrupted; run again with --resume")
    elif summary.stopped_early:
        diagnostics.note("batch stopped at the first failure (--fail-fast)")
