"""Choosing the server for one query of a tenant: ``--server``, then the tenant's
``servers.all``, then its per-TLD/prefix/AS/tag overrides, then the IANA bootstrap,
then ``servers.fallback``. Pure: reads no file itself (the bootstrap's loader does),
sends nothing.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rdapctl.core.errors import NoServerError
from rdapctl.policy.tenant import Tenant
from rdapctl.rdap.bootstrap import Bootstrap, ServerChoice, with_slash
from rdapctl.rdap.query import IpNetwork, Query

if TYPE_CHECKING:
    from rdapctl.rdap.search import SearchRequest

NO_SERVER_HINT = "pass --server URL, or set servers.fallback in the tenant profile"


def _override_domain(table: Mapping[str, str], name: str) -> tuple[str, str] | None:
    if not table:  # the usual case, asked on every lookup
        return None
    labels = name.split(".")
    for i in range(len(labels)):
        suffix = ".".join(labels[i:])
        if suffix in table:
            return suffix, table[suffix]
    return None


def _override_ip(table: Mapping[str, str], network: IpNetwork) -> tuple[str, str] | None:
    """The longest ``servers.ip`` prefix holding ``network`` (the first of equals)."""
    if not table:
        return None
    for candidate, key, url in _parsed_ip_overrides(tuple(table.items())):
        if candidate.version == network.version and network.subnet_of(candidate):  # type: ignore[arg-type]
            return key, url
    return None


@functools.lru_cache(maxsize=16)
def _parsed_ip_overrides(
    items: tuple[tuple[str, str], ...],
) -> tuple[tuple[IpNetwork, str, str], ...]:
    # Parsed once per table, not per lookup: a tenant may list many internal prefixes.
    parsed = []
    for key, url in items:
        try:
            parsed.append((ipaddress.ip_network(key, strict=False), key, url))
        except ValueError:
            continue
    parsed.sort(key=lambda item: item[0].prefixlen, reverse=True)  # stable: equals keep order
    return tuple(parsed)


def _override_asn(table: Mapping[str, str], asn: int) -> tuple[str, str] | None:
    for key, url in table.items():  # a handful at most
        low, _, high = key.partition("-")
        try:
            if int(low) <= asn <= int(high or low):
                return key, url
        except ValueError:
            continue
    return None


def choose_server(
    query: Query, tenant: Tenant, bootstrap: Bootstrap, explicit: str | None = None
) -> ServerChoice:
    """Pick the base URL: --server, then the tenant's overrides, then IANA, then fallback.

    A ``url`` query carries its own server. Raises NoServerError (exit 8).
    """
    if query.type == "url":
        return ServerChoice((query.value,), "full RDAP URL given")
    if explicit:
        return ServerChoice((with_slash(explicit),), "--server option")
    servers = tenant.servers
    if servers.all:
        return ServerChoice((with_slash(servers.all),), "tenant servers.all (mirror)")
    override = _tenant_override(query, tenant)
    if override is not None:
        return override
    match = bootstrap.match(query)
    if match is not None:
        return match
    if servers.fallback:
        return ServerChoice((with_slash(servers.fallback),), "tenant servers.fallback")
    raise NoServerError(
        f"no RDAP server is known for {query.type} {query.value}", hint=NO_SERVER_HINT
    )


def _tenant_override(query: Query, tenant: Tenant) -> ServerChoice | None:
    servers = tenant.servers
    hit: tuple[str, str] | None = None
    table = ""
    if query.type in ("domain", "nameserver") and query.network is None:
        hit, table = _override_domain(servers.domains, query.value), "domains"
    elif query.network is not None:
        hit, table = _override_ip(servers.ip, query.network), "ip"
    elif query.type == "autnum" and query.asn is not None:
        hit, table = _override_asn(servers.autnum, query.asn), "autnum"
    elif query.type == "entity" and query.object_tag:
        url = {k.upper(): v for k, v in servers.entity.items()}.get(query.object_tag)
        hit, table = ((query.object_tag, url) if url else None), "entity"
    if hit is None:
        return None
    return ServerChoice((with_slash(hit[1]),), f"tenant servers.{table} override {hit[0]!r}")


SEARCH_NO_SERVER_HINT = (
    "pass --server URL, or set servers.search in the tenant profile"
    " (the bootstrap finds a server only for domains --name with a literal TLD"
    " and entities --handle with an object tag)"
)


def choose_search_server(
    search: SearchRequest, tenant: Tenant, bootstrap: Bootstrap, explicit: str | None = None
) -> ServerChoice:
    """The base URL a search goes to: ``--server``, then ``servers.search``, then
    ``servers.all``, then for ``domains --name`` with a literal TLD the server of that
    TLD (tenant override or IANA), for ``entities --handle`` with an object tag that
    registry's. Raises NoServerError (exit 8) with a hint otherwise."""
    if explicit:
        return ServerChoice((with_slash(explicit),), "--server option")
    servers = tenant.servers
    if servers.search:
        return ServerChoice((with_slash(servers.search),), "tenant servers.search")
    if servers.all:
        return ServerChoice((with_slash(servers.all),), "tenant servers.all (mirror)")
    stand_in: Query | None = None
    if search.tld is not None:
        stand_in = Query("domain", search.tld, search.tld, f"domain/{search.tld}")
    elif search.object_tag is not None:
        tag = search.object_tag
        stand_in = Query("entity", f"X-{tag}", f"X-{tag}", "", object_tag=tag)
    if stand_in is not None:
        found = _tenant_override(stand_in, tenant) or bootstrap.match(stand_in)
        if found is not None:
            return found
    raise NoServerError(
        f"no RDAP server is known for the search {search.describe()}", hint=SEARCH_NO_SERVER_HINT
    )
