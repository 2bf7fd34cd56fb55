"""``rdapctl lookup``: run the pipeline and render the envelope.

Under ``-o json`` and ``-o rdap`` stdout is one valid JSON document whatever happens,
errors met before the lookup could start (profiles, tenant, keys) included: they
become an error envelope (or its RFC 9083 error object) too.
"""

from __future__ import annotations

from typing import Any

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import (
    CheckOpt,
    NoCacheOpt,
    NoColorOpt,
    NoReferralOpt,
    OfflineOpt,
    OutputOpt,
    ProfilesOpt,
    QueryArg,
    RefreshOpt,
    ServerOpt,
    TenantOpt,
    TypeOpt,
    cache_mode,
)

app = typer.Typer(rich_markup_mode=None, add_completion=False)


@app.command()
@exits
def lookup(
    ctx: typer.Context,
    query: QueryArg,
    query_type: TypeOpt = None,
    server: ServerOpt = None,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: OutputOpt = None,
    no_referral: NoReferralOpt = False,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    check: CheckOpt = False,
    no_color: NoColorOpt = False,
) -> int:
    """Look up a domain, IP address or network, AS number, entity, name server or RDAP URL."""
    from rdapctl.app.lookup import LookupOptions, run_lookup
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.cli.output import choose_format
    from rdapctl.core.errors import RdapctlError
    from rdapctl.rdap.envelope import exit_code_of, make_envelope, status_for_error

    fmt = choose_format(output, ("text", "json", "rdap"))
    runtime = make_runtime("lookup", debug=bool(ctx.find_root().params.get("debug")))
    try:
        options = LookupOptions(
            forced_type=query_type,
            server=server,
            referrals=not no_referral,
            cache_mode=cache_mode(no_cache, refresh, offline),
            check="auto" if check else None,
        )
        chosen = resolve_tenant(runtime, profiles, tenant)
        with TenantSession(runtime, chosen) as session:
            envelope = run_lookup(session, query, options)
    except Exception as exc:
        if fmt == "text":
            raise  # one line on stderr from the CLI's error handler
        error = exc if isinstance(exc, RdapctlError) else runtime.internal_error(exc)
        envelope = make_envelope(
            query=query,
            query_type=None,
            tenant=tenant or runtime.env.get("RDAPCTL_TENANT") or None,
            status=status_for_error(error),
            source=None,
            error=error,
        )
    render(envelope, fmt, no_color=no_color)
    return exit_code_of(envelope)


def render(envelope: dict[str, Any], fmt: str, *, no_color: bool) -> None:
    """Write ``envelope`` as ``fmt`` (text, json or rdap), then its error line."""
    from rdapctl.cli.output import console, print_json
    from rdapctl.rdap.envelope import rdap_error_object

    if fmt == "json":
        print_json(envelope)
        print_error_line(envelope)
        return
    if fmt == "rdap":
        response = envelope.get("response")
        ok = envelope["status"] == "ok" and response is not None
        print_json(response if ok else rdap_error_object(envelope))
        print_error_line(envelope)
        return
    from rdapctl.cli.render.envelope import render_envelope

    if envelope.get("response") is not None or envelope["status"] == "ok":
        render_envelope(envelope, console(no_color=no_color))
    print_error_line(envelope)


def print_error_line(envelope: dict[str, Any]) -> None:
    from rdapctl.core import diagnostics

    checks = envelope.get("checks")
    if isinstance(checks, dict):
        from rdapctl.cli.render.checks import summary_line

        diagnostics.note("checks: " + summary_line({**checks, "url": envelope.get("url")}))

    error = envelope.get("error")
    if error:
        diagnostics.error(str(error.get("message")), error.get("hint"))
        return
    skipped = 0
    for ref in envelope.get("referrals") or []:
        if ref.get("status") == "skipped":
            skipped += 1
        elif ref.get("error"):
            diagnostics.warning(f"referral {ref.get('url')} failed: {ref['error'].get('message')}")
    if skipped:
        diagnostics.warning(f"{skipped} referral link(s) not followed (referral limits)")
