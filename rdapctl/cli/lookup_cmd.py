"""``rdapctl lookup``: run the pipeline and render the envelope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rdapctl.cli.context import make_runtime, resolve_tenant
from rdapctl.cli.output import choose_format, console, print_json
from rdapctl.envelope import exit_code_of, rdap_error_object
from rdapctl.lookup import LookupOptions, run_lookup
from rdapctl.session import TenantSession


def run(
    query: str,
    *,
    query_type: str | None,
    server: str | None,
    tenant: str | None,
    profiles: Path | None,
    output: str | None,
    referrals: bool,
    cache_mode: Any,
    no_color: bool,
) -> int:
    fmt = choose_format(output, ("text", "json", "rdap"))
    runtime = make_runtime("lookup")
    chosen = resolve_tenant(runtime, profiles, tenant)
    options = LookupOptions(
        forced_type=query_type, server=server, referrals=referrals, cache_mode=cache_mode
    )
    with TenantSession(runtime, chosen) as session:
        envelope = run_lookup(session, query, options)
    render(envelope, fmt, no_color=no_color)
    return exit_code_of(envelope)


def render(envelope: dict[str, Any], fmt: str, *, no_color: bool) -> None:
    if fmt == "json":
        print_json(envelope)
        _print_error_line(envelope)
        return
    if fmt == "rdap":
        response = envelope.get("response")
        ok = envelope["status"] == "ok" and response is not None
        print_json(response if ok else rdap_error_object(envelope))
        _print_error_line(envelope)
        return
    from rdapctl.cli.render_rdap import render_envelope

    if envelope.get("response") is not None or envelope["status"] == "ok":
        render_envelope(envelope, console(no_color=no_color))
    _print_error_line(envelope)


def _print_error_line(envelope: dict[str, Any]) -> None:
    import sys

    error = envelope.get("error")
    if not error:
        for ref in envelope.get("referrals") or []:
            if ref.get("error"):
                print(
                    f"rdapctl: warning: referral {ref.get('url')} failed: "
                    f"{ref['error'].get('message')}",
                    file=sys.stderr,
                )
        return
    print(f"rdapctl: error: {error.get('message')}", file=sys.stderr)
    if error.get("hint"):
        print(f"rdapctl: hint: {error['hint']}", file=sys.stderr)
