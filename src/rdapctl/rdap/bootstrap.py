"""IANA RDAP bootstrap (RFC 9224, RFC 8521 object tags): matching a query to base URLs.

Owns: parsing a registry document, matching a query against the five registries,
and the URL of a query at a chosen server. Pure: the registries come from a loader
(``rdapctl.store.bootstrap_files`` reads them from disk), a tenant's own servers are
chosen by ``rdapctl.policy.server_choice``, and ``rdapctl.app.bootstrap_update``
fetches new copies.
"""

from __future__ import annotations

import bisect
import ipaddress
import itertools
from collections.abc import Callable
from dataclasses import field
from typing import Any

from rdapctl.core.records import mutable_record, record
from rdapctl.rdap.query import IpNetwork, Query

REGISTRY_NAMES: tuple[str, ...] = ("dns", "ipv4", "ipv6", "asn", "object-tags")
# A registry's services: (keys, base URLs) per entry, in registry order.
Services = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]


class BootstrapFormatError(ValueError):
    """A registry file is not a valid RFC 9224 document."""


@record
class Registry:
    name: str
    publication: str
    source: str  # "embedded" or "updated"
    path: str
    services: Services


@record
class ServerChoice:
    """Where a query goes and why."""

    servers: tuple[str, ...]
    reason: str
    registry: str | None = None

    @property
    def base_url(self) -> str:
        return self.servers[0]


def parse_registry(name: str, data: Any) -> tuple[str, Services]:
    """Validate an RFC 9224 document; return (publication, services)."""
    if not isinstance(data, dict):
        raise BootstrapFormatError(f"{name}: not a JSON object")
    services = data.get("services")
    if not isinstance(services, list) or not services:
        raise BootstrapFormatError(f"{name}: no services")
    if not isinstance(data.get("version"), str) or not isinstance(data.get("publication"), str):
        raise BootstrapFormatError(f"{name}: missing version or publication")
    parsed: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
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


def _prefer_https(urls: tuple[str, ...]) -> tuple[str, ...]:
    https = [u for u in urls if u.lower().startswith("https://")]
    other = [u for u in urls if not u.lower().startswith("https://")]
    return tuple(with_slash(u) for u in https + other)


def with_slash(url: str) -> str:
    """``url`` ending with "/" (a base URL the query path is appended to)."""
    return url if url.endswith("/") else url + "/"


# Reads one registry by name ("dns", "ipv4", ...).
RegistryLoader = Callable[[str], Registry]


@mutable_record
class Bootstrap:
    """The five registries, read through ``load`` when first needed (most lookups need
    one), each indexed on its first match: a batch asks for a server once per line,
    and scanning a whole registry each time would cost more than the rest of the match."""

    load: RegistryLoader
    _loaded: dict[str, Registry] = field(default_factory=dict)
    # Indexes hold each entry's URLs; its ServerChoice is built when first matched
    # (a choice per entry up front would cost a single lookup milliseconds).
    _dns_index: dict[str, tuple[str, ...]] | None = None
    # Per registry: (prefix length, {network address: (prefix, URLs)}), longest first.
    _ip_index: dict[str, list[tuple[int, dict[int, tuple[IpNetwork, tuple[str, ...]]]]]] = field(
        default_factory=dict
    )
    _asn_index: _AsnIndex | None = None
    _choices: dict[tuple[str, object], ServerChoice] = field(default_factory=dict)

    def registry(self, name: str) -> Registry:
        if name not in self._loaded:
            self._loaded[name] = self.load(name)
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


def query_url(choice: ServerChoice, query: Query) -> str:
    """The full URL of ``query`` at the chosen server."""
    if query.type == "url":
        return query.value
    return choice.base_url + query.path
