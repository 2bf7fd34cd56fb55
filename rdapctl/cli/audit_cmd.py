"""``rdapctl audit show|verify|path|prune|export|repair``."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from rdapctl.cli.context import all_tenants as all_tenants_in
from rdapctl.cli.context import make_runtime, resolve_tenant
from rdapctl.cli.output import choose_format, console, print_json
from rdapctl.errors import ExitCode, UsageError
from rdapctl.session import TenantSession


def _day(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"{flag} {value!r} is not a date", hint="use YYYY-MM-DD (UTC)") from exc


def _session(command: str, tenant: str | None, profiles: Path | None) -> TenantSession:
    runtime = make_runtime(command)
    return TenantSession(runtime, resolve_tenant(runtime, profiles, tenant))


def show(
    *,
    tenant: str | None,
    profiles: Path | None,
    since: str | None,
    until: str | None,
    event: str | None,
    fmt: str | None,
) -> int:
    out = choose_format(fmt)
    lo, hi = _day(since, "--since"), _day(until, "--until")
    with _session("audit show", tenant, profiles) as session:
        records = session.audit.iter_records(lo, hi, event)
        if out == "json":
            _write_jsonl(records, sys.stdout)
            return 0
        from rich.table import Table

        table = Table("time (UTC)", "event", "actor", "query / detail", "status", "source")
        for rec in records:
            detail = rec.get("query") or rec.get("reason") or rec.get("url_path") or ""
            table.add_row(
                str(rec.get("ts", ""))[:23].replace("T", " "),
                str(rec.get("event", "")),
                str(rec.get("actor", "")),
                str(detail)[:60],
                str(rec.get("status", "")),
                str(rec.get("source", "") or ""),
            )
        console().print(table)
    return 0


def _write_jsonl(records: Any, stream: Any) -> int:
    count = 0
    for rec in records:
        stream.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    stream.flush()
    return count


def export(
    *,
    tenant: str | None,
    profiles: Path | None,
    since: str | None,
    until: str | None,
    event: str | None,
    output: Path | None,
) -> int:
    lo, hi = _day(since, "--since"), _day(until, "--until")
    with _session("audit export", tenant, profiles) as session:
        records = session.audit.iter_records(lo, hi, event)
        if output is None:
            _write_jsonl(records, sys.stdout)
            return 0
        with output.open("w", encoding="utf-8") as fh:
            count = _write_jsonl(records, fh)
    print(f"rdapctl: exported {count} records to {output}", file=sys.stderr)
    return 0


def verify(*, tenant: str | None, all_tenants: bool, profiles: Path | None, fmt: str | None) -> int:
    out = choose_format(fmt)
    runtime = make_runtime("audit verify")
    tenants = (
        all_tenants_in(runtime, profiles)
        if all_tenants
        else [resolve_tenant(runtime, profiles, tenant)]
    )
    results = []
    for chosen in tenants:
        with TenantSession(runtime, chosen) as session:
            report = session.audit.verify()
        results.append(
            {
                "tenant": chosen.name,
                "ok": report.ok,
                "records": report.records,
                "files": report.files,
                "problems": [_problem(p) for p in report.problems],
                "warnings": [_problem(p) for p in report.warnings],
            }
        )
    bad = [r for r in results if not r["ok"]]
    if out == "json":
        print_json({"ok": not bad, "tenants": results})
    else:
        for r in results:
            state = "intact" if r["ok"] else "PROBLEMS FOUND"
            print(f"{r['tenant']}: {state} ({r['records']} records in {r['files']} files)")
            for p in r["problems"]:
                print(f"  {p['location']}: {p['kind']}: {p['message']}")
            for p in r["warnings"]:
                print(f"  warning: {p['location']}: {p['kind']}: {p['message']}")
    if bad:
        first = bad[0]["problems"][0] if bad[0]["problems"] else None
        where = f" (first problem: {first['location']}: {first['kind']})" if first else ""
        print(f"rdapctl: error: audit verification failed{where}", file=sys.stderr)
        if any(p["kind"] == "torn_tail" for r in bad for p in r["problems"]):
            print(
                "rdapctl: hint: run `rdapctl audit repair` to quarantine the torn tail",
                file=sys.stderr,
            )
        return int(ExitCode.AUDIT)
    return 0


def _problem(p: Any) -> dict[str, Any]:
    return {
        "location": p.location,
        "file": p.file,
        "line": p.line,
        "kind": p.kind,
        "message": p.message,
    }


def path(*, tenant: str | None, profiles: Path | None) -> int:
    runtime = make_runtime("audit path")
    chosen = resolve_tenant(runtime, profiles, tenant)
    print(runtime.paths.tenant_audit_dir(chosen.name))
    return 0


def prune(*, tenant: str | None, profiles: Path | None, fmt: str | None) -> int:
    out = choose_format(fmt)
    with _session("audit prune", tenant, profiles) as session:
        result = session.audit.prune()
        name = session.tenant.name
    data = {
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
            f"{name}: removed {files} day files ({result.records} records) before {data['cutoff']}"
        )
    return 0


def repair(*, tenant: str | None, profiles: Path | None) -> int:
    with _session("audit repair", tenant, profiles) as session:
        result = session.audit.repair()
        name = session.tenant.name
    if not result.changed:
        print(f"{name}: nothing to repair")
        return 0
    for q in result.quarantined:
        print(f"{name}: moved {result.bytes_quarantined} torn bytes to {q}")
    if result.checkpoint_rebuilt:
        print(f"{name}: rebuilt the checkpoint")
    return 0
