"""``rdapctl batch``: argument declarations only (imported when the command is used)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rdapctl.cli.options import (
    NoCacheOpt,
    NoReferralOpt,
    OfflineOpt,
    ProfilesOpt,
    RefreshOpt,
    TenantOpt,
    cache_mode,
)

app = typer.Typer(rich_markup_mode=None, add_completion=False)


@app.command()
def batch(
    input_file: Annotated[
        str, typer.Argument(help="File with one query per line, or - for standard input.")
    ] = "-",
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output_file: Annotated[
        Path | None,
        typer.Option("--output", help="Write JSONL to this file (0600, locked) instead of stdout."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Skip queries answered in --output; ask failed ones again."),
    ] = False,
    unordered: Annotated[
        bool, typer.Option("--unordered", help="Write results in completion order.")
    ] = False,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first failed query.")
    ] = False,
    no_referral: NoReferralOpt = False,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Force the progress bar on or off (default: on when stderr is a terminal).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Look up many queries (one per line, optional type: prefix) as JSONL envelopes."""
    from rdapctl.cli.batch_cmd import run as run_batch

    code = run_batch(
        input_file,
        tenant=tenant,
        profiles=profiles,
        output=output_file,
        resume=resume,
        unordered=unordered,
        fail_fast=fail_fast,
        referrals=not no_referral,
        cache_mode=cache_mode(no_cache, refresh, offline),
        progress=progress,
    )
    raise typer.Exit(code)
