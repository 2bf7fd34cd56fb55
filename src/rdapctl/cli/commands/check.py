"""``rdapctl check``: conformance findings for one RDAP answer (a live query for a tenant,
or a saved answer with ``--file``), as a table, JSON or GitHub annotations; exit 11
when a finding at or above ``--fail-on`` exists. ``--list`` prints every check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import FormatOpt, NoColorOpt, ProfilesOpt, ServerOpt, TenantOpt

app = typer.Typer(rich_markup_mode=None, add_completion=False)


@app.command()
@exits
def check(
    ctx: typer.Context,
    query: Annotated[
        str | None,
        typer.Argument(help="Domain, IP/CIDR, ASN, entity handle or RDAP URL to fetch and check."),
    ] = None,
    query_type: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="The query type (as for lookup); with --file, what the answer is: "
            "domain|ip|autnum|entity|nameserver|help|search.",
            autocompletion=lambda: [
                "domain",
                "ip",
                "autnum",
                "entity",
                "nameserver",
                "help",
                "search",
                "url",
            ],
        ),
    ] = None,
    server: ServerOpt = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="rfc, icann-gtld or all (default: all for gTLD registries found through "
            "the bootstrap, rfc otherwise).",
            autocompletion=lambda: ["rfc", "icann-gtld", "all"],
        ),
    ] = None,
    output: FormatOpt = None,
    fmt_option: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="github: one ::error/::warning/::notice workflow command per finding "
            "(overrides -o).",
            autocompletion=lambda: ["github"],
        ),
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 11 when a finding of this severity or worse exists: error, warning "
            "or never.",
            autocompletion=lambda: ["error", "warning", "never"],
        ),
    ] = "error",
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="Check this saved answer (JSON) instead of fetching.", dir_okay=False
        ),
    ] = None,
    headers: Annotated[
        Path | None,
        typer.Option(
            "--headers", help="With --file: the answer's saved headers (curl -D).", dir_okay=False
        ),
    ] = None,
    list_checks: Annotated[
        bool, typer.Option("--list", help="Print every check: id, severity, profiles, reference.")
    ] = False,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    no_color: NoColorOpt = False,
) -> int:
    """Check an RDAP answer against RFC 7480, 9083, 9537, 8977/8982/9536 and the ICANN
    gTLD profile: each finding with an id, a severity, a JSON Pointer and a reference."""
    from rdapctl.app.check import (
        FAIL_ON,
        CheckOptions,
        check_file,
        check_live,
        check_profile,
        failed,
    )
    from rdapctl.cli.output import choose_format
    from rdapctl.core.errors import RdapctlError, UsageError

    if fmt_option is not None and fmt_option.lower() != "github":
        raise UsageError(f"unknown --format {fmt_option!r}", hint="github (else use -o text|json)")
    fmt = "github" if fmt_option is not None else choose_format(output)
    if fail_on not in FAIL_ON:
        raise UsageError(f"unknown --fail-on {fail_on!r}", hint=f"one of: {', '.join(FAIL_ON)}")
    if list_checks:
        _print_list(fmt, no_color=no_color)
        return 0
    if (query is None) == (file is None):
        raise UsageError("give either a QUERY to fetch or --file RESPONSE.json")
    if headers is not None and file is None:
        raise UsageError("--headers goes with --file")
    if file is not None:
        from rdapctl.rdap.conformance import QUERY_TYPES

        if query_type not in QUERY_TYPES:
            raise UsageError(f"--file needs --type, one of: {', '.join(QUERY_TYPES)}")
    check_profile(profile)
    from rdapctl.cli.context import make_runtime

    runtime = make_runtime("check", debug=bool(ctx.find_root().params.get("debug")))
    try:
        if file is not None:
            result = check_file(file, query_type or "", headers_path=headers, profile=profile)
        else:
            from rdapctl.app.session import TenantSession
            from rdapctl.cli.context import resolve_tenant

            assert query is not None
            chosen = resolve_tenant(runtime, profiles, tenant)
            options = CheckOptions(forced_type=query_type, server=server, profile=profile)
            with TenantSession(runtime, chosen) as session:
                result = check_live(session, query, options)
    except Exception as exc:
        if fmt != "json":
            raise
        from rdapctl.app.check import report

        error = exc if isinstance(exc, RdapctlError) else runtime.internal_error(exc)
        result = report(
            query=query or str(file),
            query_type=query_type,
            url=None,
            http_status=None,
            profile=profile or "rfc",
            findings=[],
            error=error,
        )
        _render(result, fmt, file, no_color=no_color)
        return int(error.exit_code)
    _render(result, fmt, file, no_color=no_color)
    from rdapctl.core.errors import ExitCode
    from rdapctl.rdap.conformance import Finding

    findings = [Finding(**f) for f in result["findings"]]
    return int(ExitCode.CHECK_FAILED) if failed(findings, fail_on) else 0


def _render(result: dict[str, Any], fmt: str, file: Path | None, *, no_color: bool) -> None:
    from rdapctl.cli.output import console, print_json

    if fmt == "json":
        print_json(result)
    elif fmt == "github":
        import sys

        from rdapctl.cli.render.checks import github_lines

        sys.stdout.write("".join(line + "\n" for line in github_lines(result, file)))
        sys.stdout.flush()
    else:
        from rdapctl.cli.render.checks import render_report

        render_report(result, console(no_color=no_color))
    error = result.get("error")
    if error:
        from rdapctl.core import diagnostics

        diagnostics.error(str(error.get("message")), error.get("hint"))


def _print_list(fmt: str, *, no_color: bool) -> None:
    from rdapctl.cli.output import console, print_json
    from rdapctl.rdap.conformance import all_checks

    checks = all_checks()
    if fmt == "json":
        from rdapctl.rdap.envelope import SCHEMA_VERSION

        print_json(
            {
                "schema": SCHEMA_VERSION,
                "checks": [
                    {
                        "id": c.id,
                        "severity": c.severity,
                        "profiles": list(c.profiles),
                        "reference": c.reference,
                        "title": c.title,
                    }
                    for c in checks
                ],
            }
        )
        return
    from rdapctl.cli.render.checks import render_list

    render_list(checks, console(no_color=no_color))
