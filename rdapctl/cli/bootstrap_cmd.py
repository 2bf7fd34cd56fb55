"""``rdapctl bootstrap update|status|show``."""

from __future__ import annotations

from pathlib import Path

from rdapctl.bootstrap import REGISTRY_NAMES, Bootstrap, choose_server, query_url
from rdapctl.cli.context import make_runtime, resolve_tenant
from rdapctl.cli.output import choose_format, console, print_json
from rdapctl.errors import ExitCode
from rdapctl.query import parse_query


def update(
    *, source: str | None, tenant: str | None, profiles: Path | None, fmt: str | None
) -> int:
    from rdapctl.bootstrap_update import IANA_BASE_URL, update_bootstrap
    from rdapctl.session import TenantSession

    out = choose_format(fmt)
    runtime = make_runtime("bootstrap update")
    chosen = resolve_tenant(runtime, profiles, tenant)
    with TenantSession(runtime, chosen) as session:
        results = update_bootstrap(
            session.http, runtime.paths.bootstrap_dir, source or IANA_BASE_URL
        )
        session.record(
            "bootstrap_update",
            {"source": source or IANA_BASE_URL, "results": [r.as_dict() for r in results]},
        )
    failed = [r for r in results if r.outcome == "failed"]
    if out == "json":
        print_json({"registries": [r.as_dict() for r in results]})
    else:
        con = console()
        for r in results:
            colour = {"updated": "green", "not-modified": "cyan", "failed": "red"}[r.outcome]
            detail = f" ({r.detail})" if r.detail else ""
            con.print(f"{r.name:12} [{colour}]{r.outcome}[/] {r.publication or ''}{detail}")
    return int(ExitCode.UPSTREAM) if failed else 0


def status(*, fmt: str | None) -> int:
    out = choose_format(fmt)
    runtime = make_runtime("bootstrap status")
    boot = Bootstrap(runtime.paths.bootstrap_dir)
    rows = []
    for name in REGISTRY_NAMES:
        reg = boot.registry(name)
        rows.append(
            {
                "registry": name,
                "publication": reg.publication,
                "source": reg.source,
                "path": reg.path,
                "services": len(reg.services),
            }
        )
    if out == "json":
        print_json({"registries": rows})
        return 0
    from rich.table import Table

    table = Table("registry", "publication", "copy", "services")
    for row in rows:
        table.add_row(row["registry"], row["publication"], row["source"], str(row["services"]))
    console().print(table)
    return 0


def show(
    query: str,
    *,
    query_type: str | None,
    tenant: str | None,
    profiles: Path | None,
    fmt: str | None,
) -> int:
    out = choose_format(fmt)
    runtime = make_runtime("bootstrap show")
    chosen = resolve_tenant(runtime, profiles, tenant)
    parsed = parse_query(query, query_type)
    choice = choose_server(parsed, chosen, Bootstrap(runtime.paths.bootstrap_dir))
    data = {
        "query": parsed.value,
        "type": parsed.type,
        "tenant": chosen.name,
        "servers": list(choice.servers),
        "url": query_url(choice, parsed),
        "reason": choice.reason,
        "registry": choice.registry,
    }
    if out == "json":
        print_json(data)
        return 0
    con = console()
    con.print(f"{parsed.type} [bold]{parsed.value}[/] (tenant {chosen.name})", markup=True)
    con.print(f"  why:     {choice.reason}", markup=False)
    for i, server in enumerate(choice.servers):
        label = "server:" if i == 0 else "also:  "
        con.print(f"  {label}  {server}", markup=False)
    con.print(f"  url:     {data['url']}", markup=False)
    return 0
