"""Option types shared by commands (declared once so every command spells them alike)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

if TYPE_CHECKING:
    from rdapctl.app.lookup import CacheMode


def _complete_tenant(ctx: typer.Context, incomplete: str) -> list[str]:
    from rdapctl.cli.completion import tenant_names

    # A --profiles given earlier on the line decides which tenants exist.
    names = tenant_names(explicit_profiles=ctx.params.get("profiles"))
    return [name for name in names if name.startswith(incomplete)]


TenantOpt = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        "-t",
        help="Tenant to act for (default: $RDAPCTL_TENANT, then default_tenant).",
        autocompletion=_complete_tenant,
        show_default=False,
    ),
]
ProfilesOpt = Annotated[
    Path | None,
    typer.Option(
        "--profiles",
        help="Profiles file (default: $RDAPCTL_PROFILES, $RDAPCTL_HOME/profiles.toml, "
        "then the user config dir).",
        show_default=False,
        dir_okay=False,
    ),
]
OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="text (terminal default), json (the envelope; default when piped) or rdap "
        "(the RDAP object only).",
        autocompletion=lambda: ["text", "json", "rdap"],
        show_default=False,
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="text (terminal default) or json (default when piped).",
        autocompletion=lambda: ["text", "json"],
        show_default=False,
    ),
]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="Disable colour (also: NO_COLOR).")]
AllTenantsOpt = Annotated[
    bool, typer.Option("--all-tenants", help="Act for every tenant in the profiles file.")
]


QueryArg = Annotated[str, typer.Argument(help="Domain, IP/CIDR, ASN, entity handle or RDAP URL.")]
TypeOpt = Annotated[
    str | None,
    typer.Option(
        "--type",
        help="Force the query type: domain|ip|autnum|entity|nameserver|help|url.",
        autocompletion=lambda: ["domain", "ip", "autnum", "entity", "nameserver", "help", "url"],
    ),
]
ServerOpt = Annotated[
    str | None, typer.Option("--server", help="Send the query to this RDAP base URL.")
]
NoReferralOpt = Annotated[
    bool, typer.Option("--no-referral", help="Do not follow registrar referrals.")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache.")]
RefreshOpt = Annotated[
    bool, typer.Option("--refresh", help="Skip the cache read; store the fresh answer.")
]
CheckOpt = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Also run the conformance checks (rdapctl check) on the answer as sent: "
        '"checks" in the envelope and a summary line on stderr; never from the cache.',
    ),
]
OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Answer from the cache only; a miss exits 7.")
]


SinceOpt = Annotated[
    str | None, typer.Option("--since", help="First UTC day to include (YYYY-MM-DD).")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Last UTC day to include (YYYY-MM-DD).")
]
EventOpt = Annotated[
    str | None, typer.Option("--event", help="Only records of this event type (e.g. lookup).")
]
ValidateFormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        help="text, json (a list of findings) or github (workflow annotations).",
        autocompletion=lambda: ["text", "json", "github"],
    ),
]
ShellArg = Annotated[
    str,
    typer.Argument(help="bash, zsh or fish.", autocompletion=lambda: ["bash", "zsh", "fish"]),
]


def cache_mode(no_cache: bool, refresh: bool, offline: bool) -> CacheMode:
    """The cache mode that --no-cache, --refresh and --offline choose (at most one)."""
    chosen = [
        name
        for name, on in (("no-cache", no_cache), ("refresh", refresh), ("offline", offline))
        if on
    ]
    if len(chosen) > 1:
        from rdapctl.core.errors import UsageError

        raise UsageError(f"--{chosen[0]} and --{chosen[1]} cannot be combined")
    return cast("CacheMode", chosen[0] if chosen else "default")
