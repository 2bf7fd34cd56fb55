"""One view per RDAP object class (domain, IP network, autnum, entity, nameserver),
search results, history, error objects and unknown objects; ``response_view`` picks
the view by the object's class or, when it has none, by its members.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from rdapctl.cli.render.cards import jscard_members
from rdapctl.cli.render.layout import indented, key_values, more_line, object_title
from rdapctl.cli.render.redactions import Redactions, index_redactions
from rdapctl.cli.render.sections import (
    EntityBudget,
    entities_section,
    entity_block,
    entity_name,
    events_section,
    handle_text,
    links_section,
    notices_section,
    public_id,
    redaction_line,
    status_text,
)
from rdapctl.cli.render.values import (
    LABEL_STYLE,
    MAX_ADDRESSES,
    MAX_CIDRS,
    MAX_KEYS,
    MAX_NAMESERVERS,
    MAX_NOTICE_LINES,
    MAX_RESPONSE_ITEMS,
    MAX_ROLES,
    MAX_SEARCH_ROWS,
    as_dict,
    as_list,
    clean,
    date_text,
    dicts_in,
    first,
    join,
    more_text,
    strs,
    text_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console


def _registrar(obj: dict[str, Any]) -> Text:
    for entity in dicts_in(obj.get("entities")):
        if "registrar" in (r.lower() for r in strs(entity.get("roles"))):
            text = Text(entity_name(entity) or "(unnamed)")
            iana = public_id(entity)
            if iana:
                text.append(f"  (IANA ID {iana})", style="dim")
            return text
    return Text()


def _nameserver_label(ns: Any) -> str:
    if not isinstance(ns, dict):
        return text_of(ns)
    name = first(ns, "ldhName", "unicodeName", "handle") or "(unnamed)"
    ips = as_dict(ns.get("ipAddresses"))
    addrs = strs(ips.get("v4")) + strs(ips.get("v6"))
    return f"{name} ({join(addrs, limit=4)})" if addrs else name


def _dnssec(obj: dict[str, Any]) -> str:
    sec = obj.get("secureDNS", obj.get("secureDns"))
    if sec is None:
        return ""
    if not isinstance(sec, dict):
        return text_of(sec)
    signed = sec.get("delegationSigned")
    text = ("signed" if signed else "unsigned") if isinstance(signed, bool) else text_of(signed)
    extras = [f"{len(as_list(sec.get(k)))} {k}" for k in ("dsData", "keyData") if sec.get(k)]
    return join([text, *extras])


def _domain(console: Console, obj: dict[str, Any], red: Redactions) -> None:
    ldh = text_of(obj.get("ldhName"))
    uni = text_of(obj.get("unicodeName"))
    object_title(console, "Domain", ldh or uni or "(no name)")
    nameservers = as_list(obj.get("nameservers", obj.get("nameServers")))
    ns_lines = [_nameserver_label(ns) for ns in nameservers[:MAX_NAMESERVERS]]
    if len(nameservers) > MAX_NAMESERVERS:
        ns_lines.append(more_text(len(nameservers) - MAX_NAMESERVERS))
    key_values(
        console,
        [
            ("unicode", uni if uni and uni.lower() != ldh.lower() else ""),
            ("handle", handle_text(obj, red)),
            ("status", status_text(obj)),
            ("registrar", _registrar(obj)),
            ("nameservers", Text("\n").join(Text(s) for s in ns_lines if s)),
            ("DNSSEC", _dnssec(obj)),
        ],
    )
    events_section(console, obj)
    entities_section(console, obj, red)


def _cidrs(obj: dict[str, Any]) -> str:
    out = []
    for c in dicts_in(obj.get("cidr0_cidrs")):
        prefix = first(c, "v4prefix", "v6prefix")
        length = text_of(c.get("length"))
        if prefix:
            out.append(f"{prefix}/{length}" if length else prefix)
    return join(out, limit=MAX_CIDRS)


def _ip(console: Console, obj: dict[str, Any], red: Redactions) -> None:
    start, end = text_of(obj.get("startAddress")), text_of(obj.get("endAddress"))
    rng = f"{start} - {end}" if start and end else start or end
    object_title(console, "IP network", rng or text_of(obj.get("handle")) or "(no range)")
    key_values(
        console,
        [
            ("range", rng),
            ("cidr", _cidrs(obj)),
            ("name", text_of(obj.get("name"))),
            ("type", text_of(obj.get("type"))),
            ("country", text_of(obj.get("country"))),
            ("handle", handle_text(obj, red)),
            ("parent", text_of(obj.get("parentHandle"))),
            ("version", text_of(obj.get("ipVersion"))),
            ("status", status_text(obj)),
        ],
    )
    events_section(console, obj)
    entities_section(console, obj, red)


def _autnum(console: Console, obj: dict[str, Any], red: Redactions) -> None:
    start, end = text_of(obj.get("startAutnum")), text_of(obj.get("endAutnum"))
    if start and end and start != end:
        rng = f"AS{start} - AS{end}"
    else:
        rng = f"AS{start or end}" if start or end else ""
    object_title(console, "Autnum", rng or text_of(obj.get("handle")) or "(no number)")
    key_values(
        console,
        [
            ("range", rng),
            ("name", text_of(obj.get("name"))),
            ("type", text_of(obj.get("type"))),
            ("country", text_of(obj.get("country"))),
            ("handle", handle_text(obj, red)),
            ("status", status_text(obj)),
        ],
    )
    events_section(console, obj)
    entities_section(console, obj, red)


def _entity_view(console: Console, obj: dict[str, Any], red: Redactions) -> None:
    object_title(console, "Entity", text_of(obj.get("handle")) or entity_name(obj) or "(no handle)")
    entity_block(console, obj, "$", 0, red, EntityBudget())
    counts = [f"{len(as_list(obj.get(k)))} {k}" for k in ("networks", "autnums") if obj.get(k)]
    key_values(console, [("status", status_text(obj)), ("related", join(counts))])
    events_section(console, obj)


def _nameserver(console: Console, obj: dict[str, Any], red: Redactions) -> None:
    ldh = text_of(obj.get("ldhName"))
    uni = text_of(obj.get("unicodeName"))
    object_title(console, "Nameserver", ldh or uni or "(no name)")
    ips = as_dict(obj.get("ipAddresses"))
    key_values(
        console,
        [
            ("unicode", uni if uni and uni.lower() != ldh.lower() else ""),
            ("handle", handle_text(obj, red)),
            ("status", status_text(obj)),
            ("IPv4", join(strs(ips.get("v4")), limit=MAX_ADDRESSES)),
            ("IPv6", join(strs(ips.get("v6")), limit=MAX_ADDRESSES)),
        ],
    )
    events_section(console, obj)
    entities_section(console, obj, red)


def _error_object(console: Console, obj: dict[str, Any]) -> None:
    code = text_of(obj.get("errorCode"))
    title = text_of(obj.get("title"))
    text = Text.assemble(("RDAP error", "bold red"))
    if code:
        text.append(f" {code}", style="bold red")
    if title:
        text.append(f": {title}")
    console.print(text)
    lines = strs(obj.get("description"))
    for line in lines[:MAX_NOTICE_LINES]:
        indented(console, Text(line))
    more_line(console, len(lines) - MAX_NOTICE_LINES, "lines")


def _search_row(kind: str, item: Any) -> tuple[str, str, str]:
    d = as_dict(item)
    if not d:
        return (text_of(item) or "(malformed)", "", "")
    handle = text_of(d.get("handle"))
    cls = text_of(d.get("objectClassName")).lower() or kind
    if "domain" in cls:
        return (first(d, "ldhName", "unicodeName") or handle, handle, status_text(d))
    if "nameserver" in cls:
        return (first(d, "ldhName", "unicodeName") or handle, handle, _nameserver_label(d))
    if "entity" in cls:
        return (handle, join(strs(d.get("roles")), limit=MAX_ROLES), entity_name(d))
    if "autnum" in cls:
        return (handle, f"AS{text_of(d.get('startAutnum'))}-AS{text_of(d.get('endAutnum'))}", "")
    if "ip" in cls or "network" in cls:
        start, end = text_of(d.get("startAddress")), text_of(d.get("endAddress"))
        name = join([text_of(d.get("name")), text_of(d.get("country"))], " ")
        return (handle, f"{start} - {end}" if start or end else "", name)
    return (
        handle or text_of(d.get("ldhName")),
        text_of(d.get("objectClassName")),
        text_of(d.get("name")),
    )


def _search(console: Console, obj: dict[str, Any], keys: list[str]) -> None:
    for key in keys:
        results = as_list(obj.get(key))
        kind = key.lower()
        # The member name is server text too.
        object_title(console, "Search results", f"{clean(key, 60)} ({len(results):,})")
        table = Table(show_edge=False, pad_edge=False, box=None, header_style=LABEL_STYLE)
        # Identity columns keep their width; long ranges and names give way first.
        table.add_column("#", no_wrap=True, justify="right", min_width=3)
        rows = [_search_row(kind, item) for item in results[:MAX_SEARCH_ROWS]]
        ident_width = min(32, max((len(r[0]) for r in rows), default=6))
        table.add_column("object", no_wrap=True, overflow="ellipsis", min_width=ident_width)
        table.add_column("detail", no_wrap=True, overflow="ellipsis", max_width=40)
        table.add_column("name", no_wrap=True, overflow="ellipsis")
        for i, row in enumerate(rows, 1):
            table.add_row(Text(str(i)), *(Text(c) for c in row))
        console.print(Padding(table, (0, 0, 0, 2), expand=False))
        more_line(console, len(results) - MAX_SEARCH_ROWS, "results")


def _history(console: Console, obj: dict[str, Any]) -> None:
    records = as_list(obj.get("records"))
    object_title(console, "History", f"{len(records):,} records")
    table = Table(show_edge=False, pad_edge=False, box=None, header_style=LABEL_STYLE)
    for col in ("from", "until", "object"):
        table.add_column(col, no_wrap=True, overflow="ellipsis")
    for item in records[:MAX_SEARCH_ROWS]:
        rec = as_dict(item)
        content = as_dict(rec.get("content"))
        what = join([text_of(content.get("objectClassName")), text_of(content.get("handle"))], " ")
        until = date_text(rec.get("applicableUntil")) if rec.get("applicableUntil") else Text("now")
        table.add_row(date_text(rec.get("applicableFrom")), until, Text(what))
    console.print(Padding(table, (0, 0, 0, 2), expand=False))
    more_line(console, len(records) - MAX_SEARCH_ROWS, "records")


def _generic(console: Console, obj: dict[str, Any], red: Redactions) -> None:
    cls = text_of(obj.get("objectClassName"))
    object_title(console, "Object", f"class {cls!r}" if cls else "(no objectClassName)")
    keys = [clean(str(k), 40) for k in obj]
    key_values(
        console,
        [
            ("handle", handle_text(obj, red)),
            ("name", first(obj, "ldhName", "unicodeName", "name")),
            ("status", status_text(obj)),
            ("members", join(keys, limit=MAX_KEYS)),
        ],
    )
    events_section(console, obj)
    entities_section(console, obj, red)


_CLASSES = {
    "domain": "domain",
    "ip network": "ip",
    "ip_network": "ip",
    "ipnetwork": "ip",
    "network": "ip",
    "autnum": "autnum",
    "entity": "entity",
    "nameserver": "nameserver",
    "help": "help",
}


def classify(obj: dict[str, Any]) -> str:
    cls = _CLASSES.get(text_of(obj.get("objectClassName")).lower())
    if cls:
        return cls
    if _search_keys(obj):
        return "search"
    if "startAddress" in obj or "endAddress" in obj or "cidr0_cidrs" in obj:
        return "ip"
    if "startAutnum" in obj or "endAutnum" in obj:
        return "autnum"
    if any(k in obj for k in ("nameservers", "nameServers", "secureDNS")):
        return "domain"
    if "ipAddresses" in obj:
        return "nameserver"
    if "vcardArray" in obj or "roles" in obj or jscard_members(obj):
        return "entity"
    if isinstance(obj.get("records"), list):
        return "history"
    if "ldhName" in obj and "objectClassName" not in obj:
        return "domain"
    if "errorCode" in obj:
        return "error"
    if "objectClassName" not in obj and set(obj) <= {
        "notices",
        "rdapConformance",
        "lang",
        "links",
        "port43",
    }:
        return "help"
    return "generic"


def _search_keys(obj: dict[str, Any]) -> list[str]:
    return [
        k
        for k, v in obj.items()
        if isinstance(k, str) and k.endswith("SearchResults") and isinstance(v, list)
    ]


def response_view(console: Console, resp: Any) -> None:
    if isinstance(resp, list):
        console.print(Text(f"Response is a list of {len(resp):,} items, not an RDAP object."))
        for item in resp[:MAX_RESPONSE_ITEMS]:
            if isinstance(item, dict):
                response_view(console, item)
        more_line(console, len(resp) - MAX_RESPONSE_ITEMS, "items", 0)
        return
    if not isinstance(resp, dict):
        shown = text_of(resp)
        console.print(Text("Response is not an RDAP object" + (f": {shown}" if shown else ".")))
        return
    if not resp:
        console.print(Text("Empty response object (no RDAP data).", style="dim"))
        return

    red = index_redactions(resp)
    kind = classify(resp)
    views: dict[str, Callable[[Console, dict[str, Any], Redactions], None]] = {
        "domain": _domain,
        "ip": _ip,
        "autnum": _autnum,
        "entity": _entity_view,
        "nameserver": _nameserver,
        "generic": _generic,
    }
    if kind in views:
        views[kind](console, resp, red)
    elif kind == "search":
        _search(console, resp, _search_keys(resp))
    elif kind == "history":
        _history(console, resp)
    elif kind == "help":
        object_title(console, "Help", "")
    if "errorCode" in resp:
        _error_object(console, resp)
    notices_section(console, resp, "remarks", "Remarks")
    notices_section(console, resp, "notices", "Notices")
    redaction_line(console, red)
    links_section(console, resp)
