"""The rdapctl command line: argument parsing and nothing else.

This module is imported on every run (``--version``, ``--help``, TAB completion),
so it imports only Typer. Each command's work lives in a ``rdapctl.cli.*_cmd``
module imported when the command runs; those call the core and render.
Errors are mapped to exit codes in exactly one place: ``RdapctlGroup.invoke``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from rdapctl import __version__
from rdapctl.cli.options import (
    AllTenantsOpt,
    DebugState,
    FormatOpt,
    NoColorOpt,
    OutputOpt,
    ProfilesOpt,
    TenantOpt,
)

ENV_HELP = """\
Environment variables:

\b
  RDAPCTL_HOME             keep all state (profiles.toml, cache/, audit/, keys/) in this folder
  RDAPCTL_PROFILES         path of the profiles file
  RDAPCTL_TENANT           tenant to act for when -t is not given
  RDAPCTL_MASTER_KEY       base64 of a 32-byte key that wraps every tenant keyring
  RDAPCTL_MASTER_KEY_FILE  file holding that base64 master key
  RDAPCTL_BACKUP_PASSPHRASE passphrase for keys export / import
  NO_COLOR                 disable colour
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY   proxies for RDAP and bootstrap requests
  SSL_CERT_FILE, SSL_CERT_DIR         CA bundle / directory (corporate CAs)
"""


class RdapctlGroup(TyperGroup):
    """Maps every rdapctl error to its exit code and a one-line message on stderr."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from rdapctl.cli.failure import handle_exception

            code = handle_exception(exc, debug=DebugState.enabled)
            if code is None:
                raise
            sys.exit(code)


app = typer.Typer(
    cls=RdapctlGroup,
    name="rdapctl",
    help="Policy-enforcing RDAP lookups on behalf of a tenant.\n\n" + ENV_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"rdapctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for internal errors.")
    ] = False,
) -> None:
    DebugState.enabled = debug


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
OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Answer from the cache only; a miss exits 7.")
]


@app.command()
def lookup(
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
    no_color: NoColorOpt = False,
) -> None:
    """Look up a domain, IP address or network, AS number, entity, name server or RDAP URL."""
    from rdapctl.cli.lookup_cmd import run

    code = run(
        query,
        query_type=query_type,
        server=server,
        tenant=tenant,
        profiles=profiles,
        output=output,
        referrals=not no_referral,
        cache_mode=_cache_mode(no_cache, refresh, offline),
        no_color=no_color,
    )
    raise typer.Exit(code)


def _cache_mode(no_cache: bool, refresh: bool, offline: bool) -> str:
    chosen = [
        name
        for name, on in (("no-cache", no_cache), ("refresh", refresh), ("offline", offline))
        if on
    ]
    if len(chosen) > 1:
        raise typer.BadParameter(f"--{chosen[0]} and --{chosen[1]} cannot be combined")
    return chosen[0] if chosen else "default"


bootstrap_app = typer.Typer(help="IANA bootstrap registries: refresh, status, server choice.")
app.add_typer(bootstrap_app, name="bootstrap")


@bootstrap_app.command("update")
def bootstrap_update(
    source: Annotated[
        str | None,
        typer.Option("--source", help="Base URL to fetch the registries from (default: IANA)."),
    ] = None,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> None:
    """Refresh the five IANA registries into the user cache dir (conditional GET)."""
    from rdapctl.cli.bootstrap_cmd import update

    raise typer.Exit(update(source=source, tenant=tenant, profiles=profiles, fmt=output))


@bootstrap_app.command("status")
def bootstrap_status(output: FormatOpt = None) -> None:
    """Show each registry's publication date and whether the embedded or updated copy is used."""
    from rdapctl.cli.bootstrap_cmd import status

    raise typer.Exit(status(fmt=output))


@bootstrap_app.command("show")
def bootstrap_show(
    query: QueryArg,
    query_type: TypeOpt = None,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> None:
    """Print which server(s) would answer QUERY and why (sends nothing)."""
    from rdapctl.cli.bootstrap_cmd import show

    raise typer.Exit(
        show(query, query_type=query_type, tenant=tenant, profiles=profiles, fmt=output)
    )


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

# -- profiles and policy -------------------------------------------------------------

profile_app = typer.Typer(help="Tenant profiles: validate, list, show, init, schema.")
app.add_typer(profile_app, name="profile")


@profile_app.command("validate")
def profile_validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Profiles files to check (default: the one rdapctl would use)."),
    ] = None,
    fmt: ValidateFormatOpt = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    profiles: ProfilesOpt = None,
) -> None:
    """Check profiles files; exit 0 when valid, 3 otherwise (made for CI)."""
    from rdapctl.cli.profile_cmd import validate

    raise typer.Exit(validate(files or [], fmt=fmt, strict=strict, profiles=profiles))


@profile_app.command("list")
def profile_list(profiles: ProfilesOpt = None, output: FormatOpt = None) -> None:
    """List tenants: name, display name, isolation, residency."""
    from rdapctl.cli.profile_cmd import list_tenants

    raise typer.Exit(list_tenants(profiles=profiles, fmt=output))


@profile_app.command("show")
def profile_show(
    name: Annotated[str | None, typer.Argument(help="Tenant (default: the selected one).")] = None,
    profiles: ProfilesOpt = None,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="toml or json.", autocompletion=lambda: ["toml", "json"]
        ),
    ] = "toml",
) -> None:
    """Show a tenant's effective settings after defaults (incl. effective cache TTL)."""
    from rdapctl.cli.profile_cmd import show

    raise typer.Exit(show(name, profiles=profiles, fmt=output))


@profile_app.command("init")
def profile_init(
    path: Annotated[
        Path | None, typer.Argument(help="Where to write (default: the profiles file location).")
    ] = None,
    tenant: Annotated[str, typer.Option("--tenant", help="Name of the first tenant.")] = "default",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter profiles file (never overwrites without --force)."""
    from rdapctl.cli.profile_cmd import init

    raise typer.Exit(init(path, tenant=tenant, force=force))


@profile_app.command("schema")
def profile_schema() -> None:
    """Print the JSON Schema of the profiles file (for editors and CI)."""
    from rdapctl.cli.profile_cmd import schema

    raise typer.Exit(schema())


policy_app = typer.Typer(help="Dry runs of the tenant policy.")
app.add_typer(policy_app, name="policy")


@policy_app.command("explain")
def policy_explain(
    query: QueryArg,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    query_type: TypeOpt = None,
    server: ServerOpt = None,
    output: FormatOpt = None,
) -> None:
    """Dry run: server, region, residency, network guard and redaction; sends nothing."""
    from rdapctl.cli.policy_cmd import explain

    code = explain(
        query, tenant=tenant, profiles=profiles, query_type=query_type, server=server, fmt=output
    )
    raise typer.Exit(code)


# -- cache and keys --------------------------------------------------------------------

cache_app = typer.Typer(help="The tenant's encrypted cache: stats, clear, purge.")
app.add_typer(cache_app, name="cache")


@cache_app.command("stats")
def cache_stats(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> None:
    """Entries, size on disk, hits and misses, oldest and newest entry."""
    from rdapctl.cli.cache_cmd import stats

    raise typer.Exit(stats(tenant=tenant, all_tenants=all_tenants, profiles=profiles, fmt=output))


@cache_app.command("clear")
def cache_clear(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> None:
    """Remove every cached entry of the tenant."""
    from rdapctl.cli.cache_cmd import clear

    raise typer.Exit(clear(tenant=tenant, all_tenants=all_tenants, profiles=profiles, fmt=output))


@cache_app.command("purge")
def cache_purge(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> None:
    """Remove expired and unreadable entries."""
    from rdapctl.cli.cache_cmd import purge

    raise typer.Exit(purge(tenant=tenant, all_tenants=all_tenants, profiles=profiles, fmt=output))


keys_app = typer.Typer(help="The tenant's keyring: status, rotate, export, import.")
app.add_typer(keys_app, name="keys")


@keys_app.command("status")
def keys_status(
    tenant: TenantOpt = None, profiles: ProfilesOpt = None, output: FormatOpt = None
) -> None:
    """Key ids, ages, status and whether they are wrapped (never the key material)."""
    from rdapctl.cli.keys_cmd import status

    raise typer.Exit(status(tenant=tenant, profiles=profiles, fmt=output))


@keys_app.command("rotate")
def keys_rotate(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    retire_old: Annotated[
        bool, typer.Option("--retire-old", help="Make entries under older keys unreadable.")
    ] = False,
    output: FormatOpt = None,
) -> None:
    """Create a new active data key; old keys stay readable unless --retire-old."""
    from rdapctl.cli.keys_cmd import rotate

    raise typer.Exit(rotate(tenant=tenant, profiles=profiles, retire_old=retire_old, fmt=output))


@keys_app.command("export")
def keys_export(
    output_file: Annotated[Path, typer.Option("--output", help="Backup file to write.")],
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
) -> None:
    """Write an offline backup of the keyring, encrypted under a passphrase."""
    from rdapctl.cli.keys_cmd import export

    raise typer.Exit(export(output_file, tenant=tenant, profiles=profiles))


@keys_app.command("import")
def keys_import(
    backup: Annotated[Path, typer.Argument(help="Backup file written by keys export.")],
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a different live keyring.")
    ] = False,
) -> None:
    """Restore a keyring backup (refuses to replace a different keyring without --force)."""
    from rdapctl.cli.keys_cmd import import_

    raise typer.Exit(import_(backup, tenant=tenant, profiles=profiles, force=force))


# -- audit -------------------------------------------------------------------------------

audit_app = typer.Typer(help="The tenant's tamper-evident audit log.")
app.add_typer(audit_app, name="audit")


@audit_app.command("show")
def audit_show(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    event: EventOpt = None,
    output: FormatOpt = None,
) -> None:
    """Audit records: a table on a terminal, JSONL otherwise."""
    from rdapctl.cli.audit_cmd import show

    code = show(tenant=tenant, profiles=profiles, since=since, until=until, event=event, fmt=output)
    raise typer.Exit(code)


@audit_app.command("verify")
def audit_verify(
    tenant: TenantOpt = None,
    all_tenants: AllTenantsOpt = False,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
) -> None:
    """Check JSON, chain, MACs, checkpoint and time order; exit 10 on any problem."""
    from rdapctl.cli.audit_cmd import verify

    raise typer.Exit(verify(tenant=tenant, all_tenants=all_tenants, profiles=profiles, fmt=output))


@audit_app.command("path")
def audit_path(tenant: TenantOpt = None, profiles: ProfilesOpt = None) -> None:
    """Print the folder holding the tenant's audit log."""
    from rdapctl.cli.audit_cmd import path

    raise typer.Exit(path(tenant=tenant, profiles=profiles))


@audit_app.command("prune")
def audit_prune(
    tenant: TenantOpt = None, profiles: ProfilesOpt = None, output: FormatOpt = None
) -> None:
    """Remove day files older than audit.retention_days (the chain stays verifiable)."""
    from rdapctl.cli.audit_cmd import prune

    raise typer.Exit(prune(tenant=tenant, profiles=profiles, fmt=output))


@audit_app.command("export")
def audit_export(
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    event: EventOpt = None,
    output_file: Annotated[
        Path | None, typer.Option("--output", help="Write JSONL here instead of stdout.")
    ] = None,
) -> None:
    """Export records as JSONL (for a SIEM)."""
    from rdapctl.cli.audit_cmd import export

    code = export(
        tenant=tenant, profiles=profiles, since=since, until=until, event=event, output=output_file
    )
    raise typer.Exit(code)


@audit_app.command("repair")
def audit_repair(tenant: TenantOpt = None, profiles: ProfilesOpt = None) -> None:
    """Move a torn last line (after a crash) to a quarantine file; nothing is deleted."""
    from rdapctl.cli.audit_cmd import repair

    raise typer.Exit(repair(tenant=tenant, profiles=profiles))


schema_app = typer.Typer(help="JSON Schemas shipped with rdapctl.")
app.add_typer(schema_app, name="schema")


@schema_app.command("envelope")
def schema_envelope() -> None:
    """Print the JSON Schema of the lookup envelope (-o json, batch JSONL)."""
    from rdapctl.cli.profile_cmd import print_packaged_json

    raise typer.Exit(print_packaged_json("envelope.schema.json"))


@schema_app.command("profiles")
def schema_profiles() -> None:
    """Print the JSON Schema of the profiles file (same as profile schema)."""
    from rdapctl.cli.profile_cmd import schema

    raise typer.Exit(schema())


# -- batch, doctor, completions ------------------------------------------------------


@app.command()
def batch(
    input_file: Annotated[
        str, typer.Argument(help="File with one query per line, or - for standard input.")
    ] = "-",
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output_file: Annotated[
        Path | None, typer.Option("--output", help="Write JSONL here instead of stdout.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip queries already answered in --output.")
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
        cache_mode=_cache_mode(no_cache, refresh, offline),
        progress=progress,
    )
    raise typer.Exit(code)


@app.command()
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
) -> None:
    """Check tenant isolation: permissions, keys, audit chains, caches, PII, bootstrap."""
    from rdapctl.cli.doctor_cmd import run as run_doctor

    raise typer.Exit(run_doctor(tenant=tenant, profiles=profiles, fmt=fmt, fix=fix))


completions_app = typer.Typer(help="Shell completion scripts for bash, zsh and fish.")
app.add_typer(completions_app, name="completions")


@completions_app.command("show")
def completions_show(shell: ShellArg) -> None:
    """Print the completion script for SHELL."""
    from rdapctl.cli.completion_cmd import show as show_completion

    raise typer.Exit(show_completion(shell))


@completions_app.command("install")
def completions_install(shell: ShellArg) -> None:
    """Install the completion script where SHELL looks for it, and say where."""
    from rdapctl.cli.completion_cmd import install as install_completion

    raise typer.Exit(install_completion(shell))


def main() -> None:
    """Console-script entry point."""
    app(prog_name="rdapctl")


__all__ = ["AllTenantsOpt", "app", "main"]
