"""``rdapctl doctor``: render the isolation checklist (text) or its JSON document.

The checks live in ``rdapctl.app.doctor``; this module only builds the runtime, picks
the format and prints. It must not decide verdicts or print anything the report
does not hold (the report never holds key material or PII). Messages quote paths and
file content (a planted profiles or keyring file), so every part of a text line goes
through :func:`rdapctl.core.termtext.visible` and reaches rich only as a ``Text``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import ProfilesOpt, TenantOpt

if TYPE_CHECKING:
    from rdapctl.app.doctor.results import CheckResult, DoctorReport

SYMBOLS = {"pass": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "red")}

app = typer.Typer(rich_markup_mode=None, add_completion=False)


@app.command()
@exits
def doctor(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="text (checklist) or json (for CI).",
            autocompletion=lambda: ["text", "json"],
            show_default=False,
        ),
    ] = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Repair what is safe to repair (permissions).")
    ] = False,
) -> int:
    """Check tenant isolation: permissions, keys, audit chains, caches, PII, bootstrap."""
    from rdapctl.app.doctor.run import run_doctor
    from rdapctl.cli.context import make_runtime
    from rdapctl.cli.output import choose_format, print_json

    out = choose_format(fmt)
    runtime = make_runtime("doctor")
    report = run_doctor(
        runtime.paths,
        runtime.env,
        profiles=profiles,
        tenant=tenant,
        fix=fix,
        clock=runtime.clock,
    )
    if out == "json":
        print_json(report.as_dict())
    else:
        _print_checklist(report)
    return report.exit_code


def _groups(report: DoctorReport) -> list[tuple[str | None, list[CheckResult]]]:
    groups: dict[str | None, list[CheckResult]] = {}
    for result in report.checks:
        groups.setdefault(result.tenant, []).append(result)
    return list(groups.items())


def _safe(text: str) -> str:
    """``text`` as one terminal-safe line (controls, bidi and zero-width made visible)."""
    from rdapctl.core.termtext import visible

    return visible(text, one_line=True)


def _print_checklist(report: DoctorReport) -> None:
    from rich.text import Text

    from rdapctl.app.doctor.results import statuses
    from rdapctl.cli.output import console

    con: Any = console()
    for tenant, results in _groups(report):
        title = "rdapctl" if tenant is None else f"tenant {_safe(tenant)}"
        con.print(Text(title, style="bold"))
        for r in results:
            symbol, colour = SYMBOLS[r.status]
            line = Text("  ")
            line.append(symbol, style=colour)
            line.append(f" {_safe(r.check)}: {_safe(r.message)}")
            if r.fixed:
                line.append(" (fixed)", style="green")
            con.print(line)
            if r.hint and r.status != "pass":
                con.print(Text(f"      hint: {_safe(r.hint)}", style="dim"))
    counts = statuses(report.checks)
    summary = (
        f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed"
        f" (exit {report.exit_code})"
    )
    con.print(Text(summary, style="bold green" if report.ok else "bold red"))
