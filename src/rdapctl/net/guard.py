"""The network guard: the tenant's rules for which outgoing connections are allowed.

Owns the decision, not the connection: URL rules (scheme, credentials, port),
normalisation of literal host spellings the way inet_aton / the WHATWG URL
standard read them, and the classification of every resolved address
(loopback, RFC 1918, link-local, metadata, reserved, ... and the IPv6 forms that
embed an IPv4 address).

Must stay pure: no sockets, no DNS, no files, no httpx. ``rdapctl.net.urls`` applies
the URL rules to every URL both clients send, ``rdapctl.net.connect`` resolves and asks
about every address before each connection; ``rdapctl policy explain`` uses
:func:`explain` for a dry run.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import field
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rdapctl.core.errors import ConfigError, NetworkGuardError, UsageError
from rdapctl.core.records import record

if TYPE_CHECKING:
    from rdapctl.policy.tenant import Tenant

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

HINT_PRIVATE = (
    "add the address range to security.allow_private_ips in the tenant profile "
    "(or set it to true) if this server is meant to be reachable"
)
HINT_HTTP = "set security.allow_http = true in the tenant profile to allow plain http"
HINT_PORTS = "add the port to security.allowed_ports in the tenant profile"
HINT_PINS = "update tls.pins for this host in the tenant profile if the key was rotated"

DEFAULT_PORTS = {"http": 80, "https": 443}

# Order matters: the first matching (most specific) entry names the rule.
_V4_RULES: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), reason)
    for net, reason in (
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "in 'this network' (0.0.0.0/8)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.169.254/32", "the cloud metadata endpoint (link-local)"),
        ("169.254.0.0/16", "link-local"),
        ("100.64.0.0/10", "shared address space (RFC 6598, carrier-grade NAT)"),
        ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
        ("192.0.2.0/24", "documentation (RFC 5737)"),
        ("198.51.100.0/24", "documentation (RFC 5737)"),
        ("203.0.113.0/24", "documentation (RFC 5737)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("192.88.99.0/24", "6to4 relay anycast (deprecated, RFC 7526)"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved (240.0.0.0/4)"),
    )
)

_V6_RULES: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), reason)
    for net, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "private (unique local, fc00::/7)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated, fec0::/10)"),
        ("ff00::/8", "multicast"),
        ("2001:db8::/32", "documentation (RFC 3849)"),
        ("3fff::/20", "documentation (RFC 9637)"),
        ("2001:2::/48", "benchmarking (RFC 5180)"),
        ("2001::/23", "IETF protocol assignments (2001::/23)"),
        ("100::/64", "discard-only (RFC 6666)"),
        ("5f00::/16", "segment routing SIDs (RFC 9602)"),
        ("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"),
    )
)

_MAPPED = IPv6Network("::ffff:0:0/96")
_TRANSLATED = IPv6Network("::ffff:0:0:0/96")  # SIIT, RFC 2765
_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = IPv6Network("2002::/16")

_DEC = re.compile(r"[0-9]+", re.ASCII)
_OCT = re.compile(r"0[0-7]*", re.ASCII)
_HEX = re.compile(r"0[xX][0-9a-fA-F]*", re.ASCII)
# Ideographic and full-width full stops act as dots under IDNA mapping.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


@record
class NetworkPolicy:
    """The tenant settings the guard and the transport need, validated once."""

    allow_http: bool = False
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_ports: tuple[int, ...] = (443,)
    certificate_pinning: bool = False
    # Every port allowed (a syntax-only check of URLs; never a tenant's policy).
    any_port: bool = False
    # host (lower case, no trailing dot) -> "sha256/<base64>" pins
    pins: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    ca_bundle: str | None = None

    @classmethod
    def from_tenant(cls, tenant: Tenant) -> NetworkPolicy:
        """Build the policy from a tenant; a malformed CIDR or pin is a ConfigError."""
        sec, tls = tenant.security, tenant.tls
        networks: list[IPNetwork] = []
        allow_private = sec.allow_private_ips is True
        if not isinstance(sec.allow_private_ips, bool):
            for cidr in sec.allow_private_ips:
                try:
                    networks.append(ip_network(str(cidr).strip(), strict=False))
                except ValueError:
                    raise ConfigError(
                        f"security.allow_private_ips: {cidr!r} is not an IP network",
                        hint="use CIDR notation such as 10.0.0.0/8 or fd00::/8",
                    ) from None
        pins: dict[str, tuple[str, ...]] = {}
        for host, values in tls.pins.items():
            pins[normalise_hostname(host)] = tuple(_validate_pin(host, v) for v in values)
        return cls(
            allow_http=sec.allow_http,
            allow_private=allow_private,
            allowed_networks=tuple(networks),
            allowed_ports=tuple(sec.allowed_ports),
            certificate_pinning=tls.certificate_pinning,
            pins=pins,
            ca_bundle=tls.ca_bundle,
        )

    @property
    def effective_ports(self) -> frozenset[int]:
        ports = set(self.allowed_ports)
        if self.allow_http:
            ports.add(80)
        return frozenset(ports)

    def pins_for(self, host: str | None) -> tuple[str, ...] | None:
        """The pins that apply to ``host``, or None when it is not pinned."""
        if not self.certificate_pinning or not host:
            return None
        return self.pins.get(normalise_hostname(host))


@record
class ParsedTarget:
    """A URL target that passed the URL rules."""

    scheme: str
    host: str
    port: int
    address: IPAddress | None  # set when the host is a literal address


@record
class AddressVerdict:
    """The guard's decision for one address (for ``rdapctl policy explain``)."""

    address: str
    allowed: bool
    category: str | None  # None: a public address
    rule: str  # why: the blocking message, or what allowed it
    hint: str | None = None


def normalise_hostname(host: str) -> str:
    """Lower case, without brackets or a trailing dot: the key pins are stored under."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host[:-1] if host.endswith(".") else host


def _validate_pin(host: str, pin: str) -> str:
    algo, _, b64 = str(pin).partition("/")
    try:
        ok = algo.lower() == "sha256" and len(base64.b64decode(b64, validate=True)) == 32
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(
            f"tls.pins for {host}: {pin!r} is not a sha256/<base64> SPKI pin",
            hint='pins look like "sha256/" followed by the base64 SHA-256 of the public key',
        )
    return f"sha256/{b64}"


def _parse_ipv4_number(part: str) -> int | None:
    if _HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if _OCT.fullmatch(part) else None
    return int(part) if _DEC.fullmatch(part) else None


def _invalid_literal(host: str, what: str) -> NetworkGuardError:
    return NetworkGuardError(
        f"host {host!r} looks like an {what} address but is not a valid one",
        hint="check the URL; numeric hosts must be valid IPv4 or IPv6 addresses",
    )


def parse_literal_host(host: str) -> IPAddress | None:
    """The address a literal host denotes, or None for a host name.

    Reads every spelling inet_aton and the WHATWG URL parser accept (``127.1``,
    ``0x7f.1``, ``0177.0.0.1``, ``2130706433``, a trailing dot, ``[::ffff:7f00:1]``),
    because that is what the connecting code would reach. A host that ends in a
    number but is no valid address raises NetworkGuardError rather than being
    handed to a resolver that might read it differently.
    """
    h = host.strip().translate(_DOTS)
    if h.startswith("[") or ":" in h:
        inner = h[1:-1] if h.startswith("[") and h.endswith("]") else h
        inner = inner.replace("%25", "%")
        try:
            return IPv6Address(inner)
        except ValueError:
            raise _invalid_literal(host, "IPv6") from None
    parts = h.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    last = parts[-1] if parts else ""
    if not (_DEC.fullmatch(last) or _HEX.fullmatch(last)):
        return None  # a domain name: resolved later, every answer checked
    if len(parts) > 4:
        raise _invalid_literal(host, "IPv4")
    numbers = [_parse_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        raise _invalid_literal(host, "IPv4")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise _invalid_literal(host, "IPv4")
    total = values[-1]
    for i, n in enumerate(values[:-1]):
        total += n << (8 * (3 - i))
    return IPv4Address(total)


def embedded_ipv4(addr: IPv6Address) -> tuple[IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4)."""
    packed = addr.packed
    if addr in _MAPPED:
        return IPv4Address(packed[12:]), "IPv4-mapped"
    if addr in _TRANSLATED:
        return IPv4Address(packed[12:]), "IPv4-translated"
    if addr in _COMPATIBLE and int(addr) > 1:
        return IPv4Address(packed[12:]), "IPv4-compatible"
    if addr in _NAT64:
        return IPv4Address(packed[12:]), "NAT64"
    if addr in _NAT64_LOCAL:
        # RFC 6052 /48 layout: bits 64-71 (the "u" octet) are skipped.
        return IPv4Address(packed[6:8] + packed[9:11]), "local-use NAT64"
    if addr in _SIX_TO_FOUR:
        return IPv4Address(packed[2:6]), "6to4"
    return None


def blocked_reason(addr: IPAddress) -> str | None:
    """Why ``addr`` is not a public unicast address, or None when it is."""
    if isinstance(addr, IPv4Address):
        for net, reason in _V4_RULES:
            if addr in net:
                return reason
        return None if addr.is_global else "not globally routable"
    plain = IPv6Address(addr.packed)  # scope ids do not change the category
    embedded = embedded_ipv4(plain)
    if embedded is not None:
        v4, form = embedded
        inner = blocked_reason(v4)
        if inner is not None:
            return f"{form} ({v4}: {inner})"
    if embedded is not None and embedded[1] in ("IPv4-mapped", "IPv4-translated"):
        return None
    if embedded is not None and embedded[1] == "IPv4-compatible":
        return f"IPv4-compatible (deprecated, {embedded[0]})"
    for net6, reason in _V6_RULES:
        if plain in net6:
            return reason
    if embedded is not None:  # NAT64 / 6to4 of a public IPv4 address
        return None
    return None if plain.is_global else "not globally routable"


def _allowed_by(addr: IPAddress, policy: NetworkPolicy) -> str | None:
    if policy.allow_private:
        return "security.allow_private_ips = true"
    candidates: list[IPAddress] = [addr]
    if isinstance(addr, IPv6Address):
        plain = IPv6Address(addr.packed)
        candidates = [plain]
        embedded = embedded_ipv4(plain)
        # Only a mapped (or translated) address reaches its IPv4 address when dialled;
        # an IPv4-compatible, NAT64 or 6to4 one is another host.
        if embedded is not None and embedded[1] in ("IPv4-mapped", "IPv4-translated"):
            candidates.append(embedded[0])
    for net in policy.allowed_networks:
        for cand in candidates:
            if cand.version == net.version and cand in net:
                return f"security.allow_private_ips entry {net}"
    return None


def verdict(host: str, address: str | IPAddress, policy: NetworkPolicy) -> AddressVerdict:
    """The decision for one address ``host`` resolved to."""
    try:
        addr = address if not isinstance(address, str) else ip_address(address)
    except ValueError:
        return AddressVerdict(
            address=str(address),
            allowed=False,
            category="invalid",
            rule=f"{host} resolved to {str(address)!r}, which is not an IP address",
        )
    reason = blocked_reason(addr)
    if reason is None:
        return AddressVerdict(str(addr), True, None, "public address")
    allowed_by = _allowed_by(addr, policy)
    if allowed_by is not None:
        return AddressVerdict(str(addr), True, reason, f"{reason}, allowed by {allowed_by}")
    of = "" if normalise_hostname(host) == str(addr) else f" of {host}"
    return AddressVerdict(str(addr), False, reason, f"address {addr}{of} is {reason}", HINT_PRIVATE)


def check_addresses(host: str, addresses: Sequence[str | IPAddress], policy: NetworkPolicy) -> None:
    """Raise NetworkGuardError unless EVERY address is allowed (one bad answer blocks)."""
    if not addresses:
        raise NetworkGuardError(f"{host} resolved to no address")
    for address in addresses:
        v = verdict(host, address, policy)
        if not v.allowed:
            raise NetworkGuardError(v.rule, hint=v.hint)


def check_target(
    scheme: str, host: str, port: int | None, has_userinfo: bool, policy: NetworkPolicy
) -> ParsedTarget:
    """Apply the URL rules to already-parsed URL parts (the transport passes httpx's)."""
    scheme = scheme.lower()
    shown = host or "(no host)"
    if scheme not in DEFAULT_PORTS:
        raise NetworkGuardError(
            f"scheme {scheme!r} is not allowed for {shown} (only https, or http when allowed)"
        )
    if scheme == "http" and not policy.allow_http:
        raise NetworkGuardError(f"plain http to {shown} is not allowed", hint=HINT_HTTP)
    if has_userinfo:
        # Never echo the credentials themselves.
        raise NetworkGuardError(
            f"the URL for {shown} carries credentials (user:password@), which are refused",
            hint="remove the user:password@ part from the URL",
        )
    if not host:
        raise NetworkGuardError("the URL has no host")
    effective = DEFAULT_PORTS[scheme] if port is None else port
    if not policy.any_port and effective not in policy.effective_ports:
        allowed = ", ".join(str(p) for p in sorted(policy.effective_ports))
        raise NetworkGuardError(
            f"port {effective} of {shown} is not allowed (allowed: {allowed})", hint=HINT_PORTS
        )
    return ParsedTarget(scheme, host, effective, parse_literal_host(host))


def check_url(url: str, policy: NetworkPolicy) -> ParsedTarget:
    """Apply the URL rules (scheme, credentials, port) to ``url``; no resolving."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UsageError(f"not a valid URL: {_redact(url)}") from None
    host = parts.hostname or ""
    return check_target(parts.scheme, host, port, "@" in parts.netloc, policy)


def explain(url: str, addresses: Sequence[str], policy: NetworkPolicy) -> list[AddressVerdict]:
    """Dry run: the decision for each address ``url``'s host resolved to.

    URL-level refusals (scheme, credentials, port) raise NetworkGuardError, since
    no address would be tried. For a literal host ``addresses`` is ignored.
    """
    target = check_url(url, policy)
    if target.address is not None:
        return [verdict(target.host, target.address, policy)]
    return [verdict(target.host, a, policy) for a in addresses]


def _redact(url: str) -> str:
    """``url`` without any user:password@ part, safe for messages."""
    return re.sub(r"(?<=//)[^/@]*@", "***@", url)
