"""``rdapctl audit show|verify|path|prune|export|repair``.

Audit files may have been edited or planted by another local account, so every value
read from them is made terminal-safe (:func:`rdapctl.core.termtext.visible`) and reaches rich
only as a ``Text`` (never parsed as markup or emoji) before it is shown to a person.
JSON and JSONL outputs keep the records exactly as they are.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import (
    AllTenantsOpt,
    EventOpt,
    FormatOpt,
    ProfilesOpt,
    SinceOpt,
    TenantOpt,
    UntilOpt,
)

if TYPE_CHECKING:
    from datetime import date

    from rdapctl.app.session import TenantSession

DETAIL_CHARS = 60  # of the "query / detail" column
FIELD_CHARS = 100  # of the other columns (a planted record may hold megabytes)
REASON_CHARS = 500

app = typer.Typer(help="The tenant's tamper-evident audit log.", rich_markup_mode=None)


@app.command("show")
@exits
def audit_show(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    event: EventOpt = None,
    output: FormatOpt = None,
) -> int:
    """Audit records: a table on a terminal, JSONL otherwise."""
    from rdapctl.cli.output import choose_format, console

    out = choose_format(output)
    lo, hi = _day(since, "--since"), _day(until, "--until")
    with _session("audit show", tenant, profiles) as session:
        records = session.audit.iter_records(lo, hi, event)
        if out == "json":
            _write_jsonl(records, sys.stdout)
            return 0
        from rich.table import Table
        from rich.text import Text

        table = Table("time (UTC)", "event", "actor", "query / detail", "status", "source")
        for rec in records:
            detail = rec.get("query") or rec.get("reason") or rec.get("url_path") or ""
            cells = (
                _safe(str(rec.get("ts") or "")[:23]).replace("T", " "),
                _safe(rec.get("event"), FIELD_CHARS),
                _safe(rec.get("actor"), FIELD_CHARS),
                _safe(detail, DETAIL_CHARS),
                _safe(rec.get("status"), FIELD_CHARS),
                _safe(rec.get("source"), FIELD_CHARS),
            )
            table.add_row(*(Text(cell) for cell in cells))
        console().print(table)
    return 0


@app.command("verify")
@exits
def audit_verify(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Accepted gaps and records under a lost key fail too (exit 10)."
        ),
    ] = False,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="Also check the team audit stream: every record's MAC and each host's chain.",
        ),
    ] = False,
) -> int:
    """Check JSON, chain, MACs, checkpoint and time order; exit 10 on any problem."""
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import all_tenants as all_tenants_in
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.cli.output import choose_format, print_json
    from rdapctl.core import diagnostics
    from rdapctl.core.errors import ExitCode

    out = choose_format(output)
    runtime = make_runtime("audit verify")
    tenants = (
        all_tenants_in(runtime, profiles)
        if all_tenants
        else [resolve_tenant(runtime, profiles, tenant)]
    )
    results: list[dict[str, Any]] = []
    for chosen in tenants:
        with TenantSession(runtime, chosen) as session:
            report = session.audit.verify()
            row: dict[str, Any] = {
                "tenant": chosen.name,
                "ok": report.ok,
                "records": report.records,
                "files": report.files,
                "problems": [_problem(p) for p in report.problems],
                "warnings": [_problem(p) for p in report.warnings],
            }
            if stream:
                _verify_stream(session, row)
        results.append(row)
    bad = [r for r in results if not r["ok"]]
    warned = [r for r in results if r["ok"] and _loss_warnings(r)]
    failed = bad + warned if strict else bad
    if out == "json":
        print_json({"schema": 1, "ok": not failed, "strict": strict, "tenants": results})
    else:
        for r in results:
            state = "intact" if r["ok"] else "PROBLEMS FOUND"
            if any(p["kind"] == "trail_missing" for p in r["problems"]):
                state = "AUDIT TRAIL MISSING"
            elif r["ok"] and r["warnings"]:
                state = "intact, with warnings"
            print(f"{_safe(r['tenant'])}: {state} ({r['records']} records in {r['files']} files)")
            for p in r["problems"]:
                print(f"  {_problem_line(p)}")
            for p in r["warnings"]:
                print(f"  warning: {_problem_line(p)}")
    if bad:
        first = bad[0]["problems"][0] if bad[0]["problems"] else None
        where = (
            f" (first problem: {_safe(first['location'])}: {_safe(first['kind'])})" if first else ""
        )
        torn = any(p["kind"] == "torn_tail" for r in bad for p in r["problems"])
        hint = "run `rdapctl audit repair` to quarantine the torn tail" if torn else None
        diagnostics.error(f"audit verification failed{where}", hint)
        return int(ExitCode.AUDIT)
    if failed:
        first = _loss_warnings(failed[0])[0]
        diagnostics.error(
            "audit verification failed under --strict (first warning:"
            f" {_safe(first['location'])}: {_safe(first['kind'])})"
        )
        return int(ExitCode.AUDIT)
    return 0


@app.command("path")
@exits
def audit_path(tenant: TenantOpt = None, profiles: ProfilesOpt = None) -> int:
    """Print the folder holding the tenant's audit log."""
    from rdapctl.cli.context import make_runtime, resolve_tenant

    runtime = make_runtime("audit path")
    chosen = resolve_tenant(runtime, profiles, tenant)
    print(runtime.paths.tenant_audit_dir(chosen.name))
    return 0


@app.command("prune")
@exits
def audit_prune(
    tenant: TenantOpt = None, profiles: ProfilesOpt = None, output: FormatOpt = None
) -> int:
    """Remove day files older than audit.retention_days (the chain stays verifiable)."""
    from rdapctl.cli.output import choose_format, print_json

    out = choose_format(output)
    with _session("audit prune", tenant, profiles) as session:
        result = session.audit.prune()
        name = session.tenant.name
    data = {
        "schema": 1,
        "tenant": name,
        "removed": result.removed,
        "records": result.records,
        "cutoff": result.cutoff.isoformat(),
    }
    if out == "json":
        print_json(data)
    else:
        files = len(result.removed)
        print(
            f"{_safe(name)}: removed {files} day files ({result.records} records)"
            f" before {data['cutoff']}"
        )
    return 0


@app.command("export")
@exits
def audit_export(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    event: EventOpt = None,
    output_file: Annotated[
        Path | None, typer.Option("--output", help="Write JSONL here instead of stdout.")
    ] = None,
) -> int:
    """Export records as JSONL (for a SIEM)."""
    from rdapctl.core import diagnostics

    lo, hi = _day(since, "--since"), _day(until, "--until")
    with _session("audit export", tenant, profiles) as session:
        records = session.audit.iter_records(lo, hi, event)
        if output_file is None:
            _write_jsonl(records, sys.stdout)
            return 0
        with output_file.open("w", encoding="utf-8") as fh:
            count = _write_jsonl(records, fh)
    diagnostics.note(f"exported {count} records to {_safe(output_file)}")
    return 0


@app.command("repair")
@exits
def audit_repair(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    accept_loss: Annotated[
        bool,
        typer.Option(
            "--accept-loss",
            help="Accept records known to be lost (recorded as audit_gap_accepted).",
        ),
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why the loss is accepted (with --accept-loss).")
    ] = None,
) -> int:
    """Move a torn last line (after a crash) to a quarantine file; nothing is deleted."""
    from rdapctl.core.errors import UsageError

    if reason is not None and not accept_loss:
        raise UsageError("--reason goes with --accept-loss")
    if accept_loss:
        reason = _reason(reason)
    with _session("audit repair", tenant, profiles) as session:
        result = session.audit.repair(accept_loss=accept_loss, reason=reason)
        name = session.tenant.name
    shown = _safe(name)
    if not result.changed:
        print(f"{shown}: nothing to repair")
        return 0
    for q in result.quarantined:
        print(f"{shown}: moved {result.bytes_quarantined} torn bytes to {_safe(q)}")
    for loss in result.accepted:
        print(f"{shown}: accepted loss: {_safe(loss)}")
    if result.accepted:
        print(f"{shown}: recorded audit_gap_accepted (`audit verify` reports it as a warning)")
    elif result.checkpoint_rebuilt:
        print(f"{shown}: rebuilt the checkpoint")
    return 0


def _day(value: str | None, flag: str) -> date | None:
    from datetime import date

    from rdapctl.core.errors import UsageError

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"{flag} {value!r} is not a date", hint="use YYYY-MM-DD (UTC)") from exc


def _session(command: str, tenant: str | None, profiles: Path | None) -> TenantSession:
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import make_runtime, resolve_tenant

    runtime = make_runtime(command)
    return TenantSession(runtime, resolve_tenant(runtime, profiles, tenant))


def _safe(value: Any, limit: int | None = None) -> str:
    """``value`` as one terminal-safe line, cut to ``limit`` characters (read first, so a
    megabyte field is not scanned for the sixty characters shown)."""
    from rdapctl.core.termtext import visible

    text = value if isinstance(value, str) else "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        return visible(text[: limit - 1], one_line=True) + "…"
    return visible(text, one_line=True)


def _write_jsonl(records: Any, stream: Any) -> int:
    import json

    count = 0
    for rec in records:
        stream.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    stream.flush()
    return count


def _loss_warnings(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The warnings that stand for lost or unverifiable records (``--strict`` fails)."""
    from rdapctl.store.audit.verify import LOSS_WARNINGS

    return [w for w in result["warnings"] if w["kind"] in LOSS_WARNINGS]


def _problem_line(p: dict[str, Any]) -> str:
    """One problem for a person: its message can quote file content (a timestamp, a
    file name a record points to), so every part is made terminal-safe."""
    return f"{_safe(p['location'])}: {_safe(p['kind'])}: {_safe(p['message'])}"


def _verify_stream(session: Any, row: dict[str, Any]) -> None:
    """``--stream``: the team stream's check, as ``row["stream"]`` and its problems."""
    from rdapctl.core.errors import UsageError
    from rdapctl.store.team.backend import TeamUnavailable
    from rdapctl.store.team.stream import verify_stream

    team = session.tenant.team
    if team is None or not team.audit_stream:
        raise UsageError(
            f"tenant {session.tenant.name} has no team audit stream",
            hint=f"set [tenants.{session.tenant.name}.team] audit_stream = true",
        )
    backend = session.team
    failures = backend.failures
    report = verify_stream(backend, session.keyring)
    if backend.failures > failures:
        raise TeamUnavailable(
            f"the team backend of tenant {session.tenant.name} cannot be read:"
            " the stream is not verified",
            hint="check that Redis is up and reachable",
        )
    row["stream"] = {
        "records": report.records,
        "hosts": report.hosts,
        "bad_macs": report.bad_macs,
        "unreadable": report.unreadable,
        "gaps": report.gaps,
    }
    for text in report.problems:
        row["problems"].append(
            {"location": "stream", "file": "stream", "line": 0, "kind": "stream", "message": text}
        )
    if not report.intact:
        row["ok"] = False


def _problem(p: Any) -> dict[str, Any]:
    return {
        "location": p.location,
        "file": p.file,
        "line": p.line,
        "kind": p.kind,
        "message": p.message,
    }


def _reason(reason: str | None) -> str:
    """The --reason of an accepted loss: one line of text a person wrote."""
    from rdapctl.core.errors import UsageError

    text = (reason or "").strip()
    if not text:
        raise UsageError(
            "--accept-loss needs --reason TEXT", hint='e.g. --reason "restored from backup"'
        )
    if len(text) > REASON_CHARS or any(ch < " " or ch == "\x7f" for ch in text):
        raise UsageError(f"--reason must be one line of at most {REASON_CHARS} characters")
    return text
