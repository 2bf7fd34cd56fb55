"""``rdapctl policy explain``: a dry run of the tenant policy that sends nothing.

The report quotes the query, server URLs from the bootstrap copies (untrusted files),
resolver errors and policy rules: the text view passes each through
:func:`rdapctl.core.termtext.visible` and gives rich only ``Text`` objects (nothing is parsed
as markup or emoji). The JSON view keeps the values as they are.
"""

from __future__ import annotations

from typing import Any

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import FormatOpt, ProfilesOpt, QueryArg, ServerOpt, TenantOpt, TypeOpt

app = typer.Typer(help="Dry runs of the tenant policy.", rich_markup_mode=None)


@app.command("explain")
@exits
def policy_explain(
    query: QueryArg,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    query_type: TypeOpt = None,
    server: ServerOpt = None,
    output: FormatOpt = None,
) -> int:
    """Dry run: server, region, residency, network guard and redaction; sends nothing."""
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.cli.output import choose_format, print_json
    from rdapctl.net.guard import NetworkPolicy
    from rdapctl.net.guard import explain as explain_network
    from rdapctl.policy.residency import decide, region_for
    from rdapctl.policy.server_choice import choose_server
    from rdapctl.rdap.bootstrap import query_url
    from rdapctl.rdap.query import parse_query
    from rdapctl.store.bootstrap_files import open_bootstrap

    out = choose_format(output)
    runtime = make_runtime("policy explain")
    chosen = resolve_tenant(runtime, profiles, tenant)
    parsed = parse_query(query, query_type)
    report: dict[str, Any] = {
        "schema": 1,
        "tenant": chosen.name,
        "policy_fingerprint": chosen.fingerprint(),
        "query": parsed.value,
        "type": parsed.type,
        "query_type_allowed": parsed.type in chosen.security.allowed_query_types,
    }
    choice = choose_server(parsed, chosen, open_bootstrap(runtime.paths.bootstrap_dir), server)
    url = query_url(choice, parsed)
    report.update(server=choice.base_url, url=url, server_reason=choice.reason)
    region = region_for(url, query_tld=parsed.tld, overrides=chosen.regions)
    decision = decide(chosen, region)
    report["residency"] = {
        "region": region.region,
        "region_reason": region.reason,
        "action": decision.action,
        "reason": decision.reason,
    }
    report["network"] = _network(url, NetworkPolicy.from_tenant(chosen), explain_network)
    security = chosen.security
    report["redaction"] = {
        "enabled": security.redact_pii,
        "fields": list(security.redact_fields) if security.redact_pii else [],
        "exempt_roles": list(security.redaction_exempt_roles) if security.redact_pii else [],
    }
    report["referrals"] = security.follow_referrals
    report["would_send"] = bool(
        report["query_type_allowed"] and decision.action != "deny" and report["network"]["allowed"]
    )
    if out == "json":
        print_json(report)
    else:
        _render(report)
    return 0


def _network(url: str, policy: Any, explain_network: Any) -> dict[str, Any]:
    from urllib.parse import urlsplit

    from rdapctl.core.errors import RdapctlError
    from rdapctl.net.connect import system_resolver

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        try:
            addresses = system_resolver(host, port)
        except OSError as exc:
            return {"allowed": False, "rule": f"{host} does not resolve: {exc}", "addresses": []}
        verdicts = explain_network(url, addresses, policy)
    except RdapctlError as exc:
        return {"allowed": False, "rule": exc.message, "hint": exc.hint, "addresses": []}
    rows = [
        {
            "address": str(v.address),
            "allowed": v.allowed,
            "category": v.category,
            "rule": v.rule,
            "hint": v.hint,
        }
        for v in verdicts
    ]
    return {"allowed": all(r["allowed"] for r in rows) and bool(rows), "addresses": rows}


def _safe(value: Any) -> str:
    """``value`` as one terminal-safe line."""
    from rdapctl.core.termtext import visible

    return visible(str(value), one_line=True)


def _render(report: dict[str, Any]) -> None:
    from rich.text import Text

    from rdapctl.cli.output import console

    con = console()

    def line(label: str, *parts: str | tuple[str, str]) -> None:
        # Every part is already safe text; a (text, style) pair is styled, never parsed.
        con.print(Text.assemble(f"  {label:<12} ", *parts))

    con.print(
        Text.assemble(
            (f"{_safe(report['type'])} {_safe(report['query'])}", "bold"),
            f" for tenant {_safe(report['tenant'])}",
        )
    )
    allowed = "allowed" if report["query_type_allowed"] else ("not allowed", "red")
    line("query type", f"{_safe(report['type'])}: ", allowed)
    line("server", f"{_safe(report['server'])}  ({_safe(report['server_reason'])})")
    res = report["residency"]
    line("region", f"{_safe(res['region'])}  ({_safe(res['region_reason'])})")
    line("residency", f"{_safe(res['action'])}: {_safe(res['reason'])}")
    net = report["network"]
    if not net["addresses"]:
        line("network", f"blocked: {_safe(net.get('rule'))}")
    for row in net["addresses"]:
        verdict = "allowed" if row["allowed"] else f"blocked ({_safe(row['rule'])})"
        line("network", f"{_safe(row['address'])}: {verdict}")
    red = report["redaction"]
    fields = ", ".join(_safe(f) for f in red["fields"]) if red["enabled"] else "off"
    line("redaction", fields)
    if red["enabled"]:
        roles = ", ".join(_safe(r) for r in red["exempt_roles"]) or "none (every entity redacted)"
        line("exempt", f"{roles}  (organisations and role mailboxes keep name, e-mail, phone)")
    line("would send", ("yes", "green") if report["would_send"] else ("no", "red"))
