"""``rdapctl search``: RFC 9082 searches and RFC 9536 reverse searches, every page
(RFC 8977) up to the limit, and ``search capabilities`` (what a server declares).

Under ``-o json`` and ``-o rdap`` stdout is one JSON document whatever happens;
``-o jsonl`` prints one result per line as each page arrives.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import (
    FormatOpt,
    NoCacheOpt,
    NoColorOpt,
    OfflineOpt,
    ProfilesOpt,
    RefreshOpt,
    TenantOpt,
    cache_mode,
)

app = typer.Typer(
    rich_markup_mode=None,
    add_completion=False,
    no_args_is_help=True,
    help="Search a registry: domains, name servers, entities (RFC 9082), and reverse "
    "searches by a related entity (RFC 9536), following every page (RFC 8977).",
)

_FORMATS = ("text", "json", "jsonl", "rdap")

SearchOutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="text (terminal default), json (one envelope; default when piped), jsonl "
        "(one result per line, as pages arrive) or rdap (one RFC 9083 search response).",
        autocompletion=lambda: list(_FORMATS),
        show_default=False,
    ),
]
SearchServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server", help="Search this RDAP base URL (default: the tenant's servers.search)."
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        help="Stop after this many results (default 100; at most the tenant's max_search_results).",
        show_default=False,
    ),
]
# RFC 8977 section 2.3.1: sort properties every server that sorts should know.
_SORTS = (
    "name:a",
    "name:d",
    "registrationDate:d",
    "expirationDate:a",
    "lastChangedDate:d",
    "handle:a",
    "startAddress:a",
    "country:a",
)
SortOpt = Annotated[
    str | None,
    typer.Option(
        "--sort",
        help="Sort by PROPERTY[:a|:d] (RFC 8977), e.g. name:a.",
        autocompletion=lambda: list(_SORTS),
    ),
]
TotalOpt = Annotated[
    bool, typer.Option("--total", help="Ask the server for the total count (count=true).")
]
FieldSetOpt = Annotated[
    str | None,
    typer.Option("--field-set", help="Ask for this RFC 8982 field set (e.g. brief, full)."),
]
UnicodeOpt = Annotated[
    bool, typer.Option("--unicode", help="Send domain name labels as U-labels, not A-labels.")
]
EntityHandleOpt = Annotated[
    str | None,
    typer.Option("--entity-handle", help="Reverse search: a related entity's handle."),
]
EntityFnOpt = Annotated[
    str | None,
    typer.Option("--entity-fn", help="Reverse search: a related entity's full name."),
]
EntityEmailOpt = Annotated[
    str | None,
    typer.Option("--entity-email", help="Reverse search: a related entity's e-mail address."),
]


def _complete_role(incomplete: str) -> list[str]:
    from rdapctl.rdap.answer import ENTITY_ROLES

    return [role for role in ENTITY_ROLES if role.startswith(incomplete)]


RoleOpt = Annotated[
    str | None,
    typer.Option(
        "--role",
        help="Reverse search: the related entity's role (e.g. registrant).",
        autocompletion=_complete_role,
    ),
]
NameOpt = Annotated[
    str | None, typer.Option("--name", help="Name pattern; '*' matches any characters.")
]


@app.command("domains")
@exits
def search_domains(
    ctx: typer.Context,
    name: NameOpt = None,
    ns_name: Annotated[
        str | None, typer.Option("--ns-name", help="Domains using a name server (pattern).")
    ] = None,
    ns_ip: Annotated[
        str | None, typer.Option("--ns-ip", help="Domains using a name server at this IP.")
    ] = None,
    entity_handle: EntityHandleOpt = None,
    entity_fn: EntityFnOpt = None,
    entity_email: EntityEmailOpt = None,
    role: RoleOpt = None,
    server: SearchServerOpt = None,
    limit: LimitOpt = None,
    sort: SortOpt = None,
    total: TotalOpt = False,
    field_set: FieldSetOpt = None,
    unicode: UnicodeOpt = False,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: SearchOutputOpt = None,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    no_color: NoColorOpt = False,
) -> int:
    """Search domains by name, name server name or name server address."""
    given = {"--name": name, "--ns-name": ns_name, "--ns-ip": ns_ip}
    return _search(ctx, "domains", given, locals())


@app.command("nameservers")
@exits
def search_nameservers(
    ctx: typer.Context,
    name: NameOpt = None,
    ip: Annotated[str | None, typer.Option("--ip", help="Name servers at this IP.")] = None,
    entity_handle: EntityHandleOpt = None,
    entity_fn: EntityFnOpt = None,
    entity_email: EntityEmailOpt = None,
    role: RoleOpt = None,
    server: SearchServerOpt = None,
    limit: LimitOpt = None,
    sort: SortOpt = None,
    total: TotalOpt = False,
    field_set: FieldSetOpt = None,
    unicode: UnicodeOpt = False,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: SearchOutputOpt = None,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    no_color: NoColorOpt = False,
) -> int:
    """Search name servers by name or address."""
    return _search(ctx, "nameservers", {"--name": name, "--ip": ip}, locals())


@app.command("entities")
@exits
def search_entities(
    ctx: typer.Context,
    fn: Annotated[
        str | None, typer.Option("--fn", help="Full name pattern; '*' matches any characters.")
    ] = None,
    handle: Annotated[str | None, typer.Option("--handle", help="Handle pattern.")] = None,
    entity_handle: EntityHandleOpt = None,
    entity_fn: EntityFnOpt = None,
    entity_email: EntityEmailOpt = None,
    role: RoleOpt = None,
    server: SearchServerOpt = None,
    limit: LimitOpt = None,
    sort: SortOpt = None,
    total: TotalOpt = False,
    field_set: FieldSetOpt = None,
    unicode: UnicodeOpt = False,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: SearchOutputOpt = None,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    no_color: NoColorOpt = False,
) -> int:
    """Search entities by full name or handle."""
    return _search(ctx, "entities", {"--fn": fn, "--handle": handle}, locals())


@app.command("ips")
@exits
def search_ips(
    ctx: typer.Context,
    entity_handle: EntityHandleOpt = None,
    entity_fn: EntityFnOpt = None,
    entity_email: EntityEmailOpt = None,
    role: RoleOpt = None,
    server: SearchServerOpt = None,
    limit: LimitOpt = None,
    sort: SortOpt = None,
    total: TotalOpt = False,
    field_set: FieldSetOpt = None,
    unicode: UnicodeOpt = False,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: SearchOutputOpt = None,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    no_color: NoColorOpt = False,
) -> int:
    """Reverse search IP networks by a related entity (RFC 9536)."""
    return _search(ctx, "ips", {}, locals())


@app.command("autnums")
@exits
def search_autnums(
    ctx: typer.Context,
    entity_handle: EntityHandleOpt = None,
    entity_fn: EntityFnOpt = None,
    entity_email: EntityEmailOpt = None,
    role: RoleOpt = None,
    server: SearchServerOpt = None,
    limit: LimitOpt = None,
    sort: SortOpt = None,
    total: TotalOpt = False,
    field_set: FieldSetOpt = None,
    unicode: UnicodeOpt = False,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: SearchOutputOpt = None,
    no_cache: NoCacheOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    no_color: NoColorOpt = False,
) -> int:
    """Reverse search AS numbers by a related entity (RFC 9536)."""
    return _search(ctx, "autnums", {}, locals())


@app.command("capabilities")
@exits
def search_capabilities(
    ctx: typer.Context,
    server: SearchServerOpt = None,
    tenant: TenantOpt = None,
    profiles: ProfilesOpt = None,
    output: FormatOpt = None,
    no_color: NoColorOpt = False,
) -> int:
    """What a server declares in its help answer: paging, sorting, field sets
    (subsetting), reverse search and its properties."""
    from rdapctl.app.search_capabilities import fetch_capabilities
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.cli.output import choose_format, print_json

    fmt = choose_format(output)
    runtime = make_runtime("search", debug=bool(ctx.find_root().params.get("debug")))
    chosen = resolve_tenant(runtime, profiles, tenant)
    with TenantSession(runtime, chosen) as session:
        report = fetch_capabilities(session, server)
    if fmt == "json":
        print_json(report)
        return 0
    from rdapctl.cli.output import console
    from rdapctl.cli.render.search import render_capabilities

    render_capabilities(report, console(no_color=no_color))
    return 0


def _search(ctx: typer.Context, kind: str, forward: dict[str, str | None], args: Any) -> int:
    """The body every search command shares: build the request, run it, render it."""
    from rdapctl.app.search import SearchOptions, run_search
    from rdapctl.app.session import TenantSession
    from rdapctl.cli.context import make_runtime, resolve_tenant
    from rdapctl.cli.output import choose_format
    from rdapctl.core.errors import RdapctlError
    from rdapctl.rdap.envelope import exit_code_of, make_envelope, status_for_error
    from rdapctl.rdap.search_args import search_request

    fmt = choose_format(args["output"], _FORMATS)
    runtime = make_runtime("search", debug=bool(ctx.find_root().params.get("debug")))
    given = {
        **forward,
        "--entity-handle": args["entity_handle"],
        "--entity-fn": args["entity_fn"],
        "--entity-email": args["entity_email"],
    }
    sink = _print_results if fmt == "jsonl" else None
    first_page = None
    try:
        request = search_request(
            kind,
            given,
            role=args["role"],
            sort=args["sort"],
            count=args["total"],
            field_set=args["field_set"],
            unicode=args["unicode"],
        )
        options = SearchOptions(
            server=args["server"],
            limit=args["limit"],
            cache_mode=cache_mode(args["no_cache"], args["refresh"], args["offline"]),
        )
        chosen = resolve_tenant(runtime, args["profiles"], args["tenant"])
        with TenantSession(runtime, chosen) as session:
            outcome = run_search(session, request, options, sink)
        envelope, first_page = outcome.envelope, outcome.first_page
    except Exception as exc:
        if fmt in ("text", "jsonl"):
            raise  # one line on stderr from the CLI's error handler
        error = exc if isinstance(exc, RdapctlError) else runtime.internal_error(exc)
        envelope = make_envelope(
            query=next((v for v in given.values() if v is not None), ""),
            query_type="search",
            tenant=args["tenant"] or runtime.env.get("RDAPCTL_TENANT") or None,
            status=status_for_error(error),
            source=None,
            error=error,
        )
        envelope["search"] = None
        envelope["results"] = []
    _render(envelope, first_page, fmt, no_color=args["no_color"])
    return exit_code_of(envelope)


def _print_results(results: list[Any]) -> None:
    import sys

    from rdapctl.cli.output import valid_unicode
    from rdapctl.core.jsontext import dumps_compact

    sys.stdout.write("".join(valid_unicode(dumps_compact(r)) + "\n" for r in results))
    sys.stdout.flush()


def _render(
    envelope: dict[str, Any], first_page: dict[str, Any] | None, fmt: str, *, no_color: bool
) -> None:
    from rdapctl.cli.commands.lookup import print_error_line
    from rdapctl.cli.output import console, print_json

    if fmt == "json":
        print_json(envelope)
    elif fmt == "rdap":
        print_json(_rdap_response(envelope, first_page))
    elif fmt == "text" and _ran(envelope):
        from rdapctl.cli.render.search import render_search

        render_search(envelope, console(no_color=no_color))
    print_error_line(envelope)


def _ran(envelope: dict[str, Any]) -> bool:
    """Whether the search got as far as a page (or an answer): a search refused or
    failed before that has only its error line to show."""
    search = envelope.get("search")
    if not isinstance(search, dict):
        return False
    return bool(search.get("pages")) or envelope["status"] in ("ok", "not_found")


def _rdap_response(envelope: dict[str, Any], first_page: dict[str, Any] | None) -> Any:
    """One RFC 9083 search response: the first page's members with every result."""
    from rdapctl.rdap.envelope import rdap_error_object
    from rdapctl.rdap.search import results_member

    search = envelope.get("search") or {}
    answered = envelope["status"] == "ok" or (
        envelope["status"] == "not_found" and envelope.get("http_status") == 200
    )
    if not answered or first_page is None:
        return rdap_error_object(envelope)
    response = dict(first_page)
    response[results_member(first_page, search.get("kind", "domains"))] = envelope["results"]
    return response
