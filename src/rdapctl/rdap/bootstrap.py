"""IANA RDAP bootstrap (RFC 9224, RFC 8521 object tags) and server selection.

Owns: reading the five registries (the copy refreshed by ``bootstrap update`` in
the cache dir when it is valid, else the copy embedded in the package), matching
a query to base URLs, and applying a tenant's server overrides. No network I/O
here: ``rdapctl.app.bootstrap_update`` fetches.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rdapctl.core.errors import NoServerError
from rdapctl.core.records import factory, mutable_record, record
from rdapctl.policy.tenant import Tenant
from rdapctl.rdap.query import IpNetwork, Query
from rdapctl.store.ownership import read_private

REGISTRY_NAMES: tuple[str, ...] = ("dns", "ipv4", "ipv6", "asn", "object-tags")
NO_SERVER_HINT = "pass --server URL, or set servers.fallback in the tenant profile"


class BootstrapFormatError(ValueError):
    """A registry file is not a valid RFC 9224 document."""


@record
class Registry:
    name: str
    publication: str
    source: str  # "embedded" or "updated"
    path: str
    services: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]


@record
class ServerChoice:
    """Where a query goes and why."""

    servers: tuple[str, ...]
    reason: str
    registry: str | None = None

    @property
    def base_url(self) -> str:
        return self.servers[0]


def parse_registry(name: str, data: Any) -> tuple[str, tuple[tuple[tuple[str, ...], ...], ...]]:
    """Validate an RFC 9224 document; return (publication, services)."""
    if not isinstance(data, dict):
        raise BootstrapFormatError(f"{name}: not a JSON object")
    services = data.get("services")
    if not isinstance(services, list) or not services:
        raise BootstrapFormatError(f"{name}: no services")
    if not isinstance(data.get("version"), str) or not isinstance(data.get("publication"), str):
        raise BootstrapFormatError(f"{name}: missing version or publication")
    parsed = []
    for entry in services:
        if not isinstance(entry, list) or len(entry) not in (2, 3):
            raise BootstrapFormatError(f"{name}: malformed service entry")
        # object-tags entries are [contacts, tags, urls]; the others [keys, urls].
        keys, urls = entry[-2], entry[-1]
        if not (isinstance(keys, list) and isinstance(urls, list)):
            raise BootstrapFormatError(f"{name}: malformed service entry")
        if not all(isinstance(x, str) for x in keys + urls):
            raise BootstrapFormatError(f"{name}: service entries must be strings")
        parsed.append((tuple(keys), tuple(urls)))
    return data["publication"], tuple(parsed)


# The package ships as plain files (never zipped), so a path beside this module is
# enough; importlib.resources would add its imports to every lookup's start-up.
EMBEDDED_DIR = Path(__file__).resolve().parent.parent / "data" / "bootstrap"


def _embedded_text(name: str) -> str:
    return (EMBEDDED_DIR / f"{name}.json").read_text(encoding="utf-8")


def load_registry(name: str, updated_dir: Path | None) -> Registry:
    """The updated copy when present and valid, else the embedded one."""
    if updated_dir is not None:
        path = updated_dir / f"{name}.json"
        try:
            publication, services = parse_registry(name, json.loads(read_private(path)))
            return Registry(name, publication, "updated", str(path), services)
        except (OSError, ValueError):
            pass
    publication, services = parse_registry(name, json.loads(_embedded_text(name)))
    return Registry(name, publication, "embedded", f"rdapctl/data/bootstrap/{name}.json", services)


def _prefer_https(urls: tuple[str, ...]) -> tuple[str, ...]:
    https = [u for u in urls if u.lower().startswith("https://")]
    other = [u for u in urls if not u.lower().startswith("https://")]
    return tuple(_with_slash(u) for u in https + other)


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


@mutable_record
class Bootstrap:
    """The five registries, loaded lazily (most lookups need one), each indexed on its
    first match: a batch asks for a server once per line, and scanning a registry (1,200
    TLDs, 200 prefixes) cost about 100 us a time."""

    updated_dir: Path | None
    _loaded: dict[str, Registry] = factory(dict)
    # Indexes hold each entry's URLs; its ServerChoice is built when first matched
    # (a choice per entry up front would cost a single lookup milliseconds).
    _dns_index: dict[str, tuple[str, ...]] | None = None
    # Per registry: (prefix length, {network address: (prefix, URLs)}), longest first.
    _ip_index: dict[str, list[tuple[int, dict[int, tuple[IpNetwork, tuple[str, ...]]]]]] = factory(
        dict
    )
    _asn_index: _AsnIndex | None = None
    _choices: dict[tuple[str, object], ServerChoice] = factory(dict)

    def registry(self, name: str) -> Registry:
        if name not in self._loaded:
            self._loaded[name] = load_registry(name, self.updated_dir)
        return self._loaded[name]

    def match(self, query: Query) -> ServerChoice | None:
        if query.type in ("domain", "nameserver"):
            if query.network is not None:
                return self._match_ip(query.network)
            return self._match_domain(query.value)
        if query.type == "ip" and query.network is not None:
            return self._match_ip(query.network)
        if query.type == "autnum" and query.asn is not None:
            return self._match_asn(query.asn)
        if query.type == "entity" and query.object_tag:
            return self._match_tag(query.object_tag)
        return None

    def _choice(
        self, registry: str, entry: object, urls: tuple[str, ...], reason: str
    ) -> ServerChoice:
        """The choice for a registry entry; ``reason`` is formatted with ``registry``
        and ``entry`` when it is first built."""
        choice = self._choices.get((registry, entry))
        if choice is None:
            text = reason.format(registry=registry, entry=entry)
            choice = ServerChoice(_prefer_https(urls), text, registry)
            self._choices[(registry, entry)] = choice
        return choice

    def _match_domain(self, name: str) -> ServerChoice | None:
        table = self._dns_index
        if table is None:
            # Built whole, then published: lookup threads match concurrently. A later
            # entry for the same TLD wins.
            services = self.registry("dns").services
            table = {key.lower(): urls for keys, urls in services for key in keys}
            self._dns_index = table
        labels = name.split(".")
        for i in range(len(labels)):
            suffix = ".".join(labels[i:])
            urls = table.get(suffix)
            if urls is not None:
                return self._choice(
                    "dns",
                    suffix,
                    urls,
                    "IANA {registry} registry: longest matching suffix .{entry}",
                )
        return None

    def _match_ip(self, network: IpNetwork) -> ServerChoice | None:
        name = "ipv4" if network.version == 4 else "ipv6"
        index = self._ip_index.get(name)
        if index is None:
            index = self._ip_index[name] = self._build_ip_index(name, network.version)
        bits = network.max_prefixlen
        address = int(network.network_address)
        for prefixlen, table in index:
            # A prefix contains the query's network when it is no longer than the
            # query's and the query's address, cut to its length, is its address.
            if prefixlen <= network.prefixlen:
                hit = table.get(address >> (bits - prefixlen) << (bits - prefixlen))
                if hit is not None:
                    prefix, urls = hit
                    return self._choice(
                        name,
                        prefix,
                        urls,
                        "IANA {registry} registry: longest matching prefix {entry}",
                    )
        return None

    def _build_ip_index(
        self, name: str, version: int
    ) -> list[tuple[int, dict[int, tuple[IpNetwork, tuple[str, ...]]]]]:
        by_length: dict[int, dict[int, tuple[IpNetwork, tuple[str, ...]]]] = {}
        for keys, urls in self.registry(name).services:
            for key in keys:
                try:
                    prefix = ipaddress.ip_network(key, strict=False)
                except ValueError:
                    continue
                if prefix.version == version:
                    # The first entry for a prefix wins, as in registry order.
                    table = by_length.setdefault(prefix.prefixlen, {})
                    table.setdefault(int(prefix.network_address), (prefix, urls))
        return sorted(by_length.items(), reverse=True)

    def _match_asn(self, asn: int) -> ServerChoice | None:
        index = self._asn_index
        if index is None:
            index = self._asn_index = _AsnIndex(self.registry("asn"))
        hit = index.find(asn)
        if hit is None:
            return None
        key, urls = hit
        return self._choice("asn", key, urls, "IANA {registry} registry: range {entry}")

    def _match_tag(self, tag: str) -> ServerChoice | None:
        for keys, urls in self.registry("object-tags").services:
            if tag.upper() in (k.upper() for k in keys):
                return ServerChoice(
                    _prefer_https(urls), f"IANA object-tags registry: tag {tag}", "object-tags"
                )
        return None


class _AsnIndex:
    """The asn registry's ranges, parsed once, searched by bisection (registry order
    decides between overlapping ranges, which IANA does not publish but a file could)."""

    def __init__(self, registry: Registry) -> None:
        ranges: list[tuple[int, int, str, tuple[str, ...]]] = []  # registry order
        for keys, urls in registry.services:
            for key in keys:
                low, _, high = key.partition("-")
                try:
                    ranges.append((int(low), int(high or low), key, urls))
                except ValueError:
                    continue
        self._ranges = ranges
        by_start = sorted(ranges, key=lambda r: r[0])
        disjoint = all(a[1] < b[0] for a, b in itertools.pairwise(by_start))
        self._sorted = by_start if disjoint else None
        self._starts = [r[0] for r in by_start]

    def find(self, asn: int) -> tuple[str, tuple[str, ...]] | None:
        """(range key, URLs) of the range holding ``asn``."""
        if self._sorted is None:
            return next(((k, u) for lo, hi, k, u in self._ranges if lo <= asn <= hi), None)
        at = bisect.bisect_right(self._starts, asn) - 1
        if at >= 0:
            lo, hi, key, urls = self._sorted[at]
            if lo <= asn <= hi:
                return key, urls
        return None


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
        return ServerChoice((_with_slash(explicit),), "--server option")
    servers = tenant.servers
    if servers.all:
        return ServerChoice((_with_slash(servers.all),), "tenant servers.all (mirror)")
    override = _tenant_override(query, tenant)
    if override is not None:
        return override
    match = bootstrap.match(query)
    if match is not None:
        return match
    if servers.fallback:
        return ServerChoice((_with_slash(servers.fallback),), "tenant servers.fallback")
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
    return ServerChoice((_with_slash(hit[1]),), f"tenant servers.{table} override {hit[0]!r}")


def query_url(choice: ServerChoice, query: Query) -> str:
    """The full URL of ``query`` at the chosen server."""
    if query.type == "url":
        return query.value
    return choice.base_url + query.path
