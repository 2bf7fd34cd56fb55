"""``rdapctl policy explain``: a dry run of the tenant policy that sends nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rdapctl.bootstrap import Bootstrap, choose_server, query_url
from rdapctl.cli.context import make_runtime, resolve_tenant
from rdapctl.cli.output import choose_format, console, print_json
from rdapctl.errors import RdapctlError
from rdapctl.query import parse_query


def explain(
    query: str,
    *,
    tenant: str | None,
    profiles: Path | None,
    query_type: str | None,
    server: str | None,
    fmt: str | None,
) -> int:
    from rdapctl.netguard import NetworkPolicy
    from rdapctl.netguard import explain as explain_network
    from rdapctl.residency import decide, region_for

    out = choose_format(fmt)
    runtime = make_runtime("policy explain")
    chosen = resolve_tenant(runtime, profiles, tenant)
    parsed = parse_query(query, query_type)
    report: dict[str, Any] = {
        "tenant": chosen.name,
        "policy_fingerprint": chosen.fingerprint(),
        "query": parsed.value,
        "type": parsed.type,
        "query_type_allowed": parsed.type in chosen.security.allowed_query_types,
    }
    choice = choose_server(parsed, chosen, Bootstrap(runtime.paths.bootstrap_dir), server)
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
    from rdapctl.connect import system_resolver

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


def _render(report: dict[str, Any]) -> None:
    con = console()
    ok = "[green]yes[/]" if report["would_send"] else "[red]no[/]"
    con.print(f"[bold]{report['type']} {report['query']}[/] for tenant {report['tenant']}")
    allowed = "allowed" if report["query_type_allowed"] else "[red]not allowed[/]"
    con.print(f"  query type   {report['type']}: {allowed}")
    con.print(f"  server       {report['server']}  ({report['server_reason']})", markup=False)
    res = report["residency"]
    con.print(f"  region       {res['region']}  ({res['region_reason']})", markup=False)
    con.print(f"  residency    {res['action']}: {res['reason']}", markup=False)
    net = report["network"]
    if not net["addresses"]:
        con.print(f"  network      blocked: {net.get('rule')}", markup=False)
    for row in net["addresses"]:
        verdict = "allowed" if row["allowed"] else f"blocked ({row['rule']})"
        con.print(f"  network      {row['address']}: {verdict}", markup=False)
    red = report["redaction"]
    fields = ", ".join(red["fields"]) if red["enabled"] else "off"
    con.print(f"  redaction    {fields}", markup=False)
    con.print(f"  would send   {ok}")
