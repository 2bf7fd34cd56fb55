"""``rdapctl bootstrap update|status|show``.

The registries come from a mirror (untrusted) and the updated copies sit in a cache
folder another local account may have written to, so every value read from them (a
publication date, a service URL, a reason quoting an entry) is made terminal-safe by
:func:`rdapctl.core.termtext.visible` and reaches rich only as a ``Text`` (never parsed as
markup or emoji). JSON output keeps the values exactly as they are.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import FormatOpt, ProfilesOpt, QueryArg, TenantOpt, TypeOpt

MAX_CHARS = 1000  # of one value shown on a terminal

app = typer.Typer(
    help="IANA bootstrap registries: refresh, status, server choice.", rich_markup_mode=None
)


@app.command("update")
@exits
def bootstrap_update(
    source: Annotated[
        str | None,
        typer.Option("--source", help="Base URL to fetch the registries from (default: IANA)."),
    ] = None,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> int:
    """Refresh the five IANA registries into the user cache dir (conditional GET)."""
    from rdapctl.app.bootstrap_update import IANA_BASE_URL, update_bootstrap
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.cli.output import choose_format, console, print_json
    from rdapctl.core.errors import ExitCode

    out = choose_format(output)
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
        print_json({"schema": 1, "registries": [r.as_dict() for r in results]})
    else:
        from rich.text import Text

        con = console()
        for r in results:
            colour = {"updated": "green", "not-modified": "cyan", "failed": "red"}[r.outcome]
            line = Text(f"{_safe(r.name):12} ")
            line.append(r.outcome, style=colour)
            line.append(f" {_safe(r.publication)}")
            if r.detail:
                line.append(f" ({_safe(r.detail)})")
            con.print(line)
    return int(ExitCode.UPSTREAM) if failed else 0


@app.command("status")
@exits
def bootstrap_status(output: FormatOpt = None) -> int:
    """Show each registry's publication date and whether the embedded or updated copy is used."""
    from rdapctl.cli.context import make_runtime
    from rdapctl.cli.output import choose_format, console, print_json
    from rdapctl.rdap.bootstrap import REGISTRY_NAMES
    from rdapctl.store.bootstrap_files import open_bootstrap

    out = choose_format(output)
    runtime = make_runtime("bootstrap status")
    boot = open_bootstrap(runtime.paths.bootstrap_dir)
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
        print_json({"schema": 1, "registries": rows})
        return 0
    from rich.table import Table
    from rich.text import Text

    table = Table("registry", "publication", "copy", "services")
    for row in rows:
        cells = (row["registry"], row["publication"], row["source"], row["services"])
        table.add_row(*(Text(_safe(cell)) for cell in cells))
    console().print(table)
    return 0


@app.command("show")
@exits
def bootstrap_show(
    query: QueryArg,
    query_type: TypeOpt = None,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> int:
    """Print which server(s) would answer QUERY and why (sends nothing)."""
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.cli.output import choose_format, console, print_json
    from rdapctl.policy.server_choice import choose_server
    from rdapctl.rdap.bootstrap import query_url
    from rdapctl.rdap.query import parse_query
    from rdapctl.store.bootstrap_files import open_bootstrap

    out = choose_format(output)
    runtime = make_runtime("bootstrap show")
    chosen = resolve_tenant(runtime, profiles, tenant)
    parsed = parse_query(query, query_type)
    choice = choose_server(parsed, chosen, open_bootstrap(runtime.paths.bootstrap_dir))
    data = {
        "schema": 1,
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
    from rich.text import Text

    con = console()
    head = Text(f"{_safe(parsed.type)} ")
    head.append(_safe(parsed.value), style="bold")
    head.append(f" (tenant {_safe(chosen.name)})")
    con.print(head)
    con.print(Text(f"  why:     {_safe(choice.reason)}"))
    for i, server in enumerate(choice.servers):
        label = "server:" if i == 0 else "also:  "
        con.print(Text(f"  {label}  {_safe(server)}"))
    con.print(Text(f"  url:     {_safe(data['url'])}"))
    return 0


def _safe(value: Any) -> str:
    """``value`` as one terminal-safe line of at most MAX_CHARS characters."""
    from rdapctl.core.termtext import visible

    text = "" if value is None else str(value)
    if len(text) > MAX_CHARS:
        return visible(text[: MAX_CHARS - 1], one_line=True) + "…"
    return visible(text, one_line=True)
