"""Query parsing (RFC 9082): turn what the user typed into a typed, normalised RDAP query.

Pure functions: no network, no files. The RDAP path of a query is relative to a
server's base URL (``domain/example.com``, ``ip/192.0.2.0/24``, ``autnum/15169``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import quote, urlsplit

from rdapctl.core.errors import UsageError
from rdapctl.core.hostnames import to_a_labels
from rdapctl.core.records import record

QueryType = Literal["domain", "ip", "autnum", "entity", "nameserver", "help", "url"]
QUERY_TYPE_NAMES: tuple[str, ...] = (
    "domain",
    "ip",
    "autnum",
    "entity",
    "nameserver",
    "help",
    "url",
)

ACCEPTED_FORMS = (
    "a domain name (example.com, bücher.de), an IPv4/IPv6 address or CIDR prefix "
    "(192.0.2.1, 2001:db8::/32), an AS number (AS15169, 15169), an entity handle with an "
    "object tag (ABC123-ARIN), a reverse-DNS name (2.0.192.in-addr.arpa), or a full RDAP "
    "URL (https://rdap.example/domain/x.com); use --type nameserver for name servers"
)

MAX_ASN = 4_294_967_295
# Longer than any query needs (a domain is at most 253, an RDAP URL rarely near 2,000).
MAX_QUERY_CHARS = 2048
_ASN = re.compile(r"^(?:as)?(\d{1,10})$", re.IGNORECASE)
# An RFC 8521 handle: anything without dots or spaces ending in "-TAG".
_ENTITY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*-([A-Za-z][A-Za-z0-9]*)$")
_LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# What an IPv4 address or prefix can be made of (ipaddress accepts decimal octets and
# dotted or numeric prefixes only); anything else with no ":" is not worth a parse
# attempt, whose failure costs an exception chain per line in a batch.
_IPV4_CHARS = re.compile(r"^\[?[0-9./]+\]?$")
_URL = re.compile(r"^https?://", re.IGNORECASE)
# An ASCII name of LDH labels whose last label starts with a letter: nothing but a
# domain can look like this (no URL, AS number, address, or dot-less entity handle),
# so batch inputs of plain names skip trying every other form first.
_PLAIN_DOMAIN = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?",
    re.ASCII | re.IGNORECASE,
)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@record
class Query:
    """A parsed query. ``value`` is the normalised form used in paths, cache keys and logs."""

    type: QueryType
    value: str
    raw: str
    path: str
    # Bootstrap inputs, set according to the type.
    network: IpNetwork | None = None
    asn: int | None = None
    object_tag: str | None = None

    @property
    def tld(self) -> str | None:
        """The top-level label of a domain or name server query."""
        if self.type in ("domain", "nameserver"):
            return self.value.rsplit(".", 1)[-1]
        return None


def parse_query(raw: str, forced_type: str | None = None) -> Query:
    """Detect the type of ``raw`` (or apply ``forced_type``) and normalise it.

    Raises UsageError, listing the accepted forms, when nothing fits.
    """
    if len(raw) > MAX_QUERY_CHARS:
        raise UsageError(
            f"query is longer than {MAX_QUERY_CHARS:,} characters",
            hint=f"accepted forms: {ACCEPTED_FORMS}",
        )
    text = raw.strip()
    if not text:
        raise UsageError("empty query", hint=f"accepted forms: {ACCEPTED_FORMS}")
    if "\ufffd" in text:
        # What a decoder leaves for bytes that were not UTF-8 (batch input files).
        raise UsageError(
            f"query {text!r} holds bytes that are not UTF-8 (shown as \ufffd)",
            hint="convert the input to UTF-8",
        )
    if forced_type is not None:
        if forced_type not in QUERY_TYPE_NAMES:
            raise UsageError(
                f"unknown query type {forced_type!r}",
                hint=f"one of: {', '.join(QUERY_TYPE_NAMES)}",
            )
        return _parse_as(text, forced_type)
    if len(text) <= 253 and _PLAIN_DOMAIN.fullmatch(text):
        name = text.lower()
        if not name.endswith(".arpa"):  # reverse names carry a network: the long way
            return Query("domain", name, text, f"domain/{name}")
    query = detect_query(text)
    if query is None:
        raise UsageError(
            f"cannot tell what kind of query {raw!r} is",
            hint=f"accepted forms: {ACCEPTED_FORMS}",
        )
    return query


def detect_query(text: str) -> Query | None:
    """Every accepted form tried in order on stripped ``text`` (None: no form fits)."""
    for kind in ("url", "help", "autnum", "ip", "reverse", "entity", "domain"):
        query = _try(text, kind)
        if query is not None:
            return query
    return None


def _try(text: str, kind: str) -> Query | None:
    if kind == "url":
        return _url(text) if _URL.match(text) else None
    if kind == "help":
        return _help(text) if text.lower() == "help" else None
    if kind == "autnum":
        return _autnum(text) if _ASN.match(text) else None
    if kind == "ip":
        if ":" not in text and not _IPV4_CHARS.match(text):
            return None
        try:
            return _ip(text)
        except UsageError:
            return None
    if kind == "reverse":
        lowered = text.lower().rstrip(".")
        if lowered.endswith((".in-addr.arpa", ".ip6.arpa")):
            return _domain(text)
        return None
    if kind == "entity":
        return _entity(text) if "." not in text and _ENTITY.match(text) else None
    if kind == "domain":
        if "." not in text.rstrip("."):
            return None
        try:
            return _domain(text)
        except UsageError:
            return None
    return None


def _parse_as(text: str, kind: str) -> Query:
    if kind == "domain":
        return _domain(text)
    if kind == "nameserver":
        name = normalise_domain(text)
        return Query("nameserver", name, text, f"nameserver/{name}")
    if kind == "ip":
        return _ip(text)
    if kind == "autnum":
        if not _ASN.match(text):
            raise UsageError(f"{text!r} is not an AS number", hint="e.g. AS15169 or 15169")
        return _autnum(text)
    if kind == "entity":
        return _entity(text)
    if kind == "help":
        return _help(text)
    return _url(text)


def _help(text: str) -> Query:
    return Query("help", "help", text, "help")


def _url(text: str) -> Query:
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{text!r} is not an http(s) RDAP URL")
    return Query("url", text, text, "")


def _autnum(text: str) -> Query:
    match = _ASN.match(text)
    assert match is not None  # callers check
    number = int(match.group(1))
    if number > MAX_ASN:
        raise UsageError(f"AS number {number} is out of range (0-{MAX_ASN})")
    return Query("autnum", str(number), text, f"autnum/{number}", asn=number)


def _ip(text: str) -> Query:
    candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        if "/" in candidate:
            network = ipaddress.ip_network(candidate, strict=False)
            value = network.with_prefixlen
            return Query(
                "ip",
                value,
                text,
                f"ip/{network.network_address}/{network.prefixlen}",
                network=network,
            )
        address = ipaddress.ip_address(candidate)
    except ValueError as exc:
        raise UsageError(f"{text!r} is not an IP address or CIDR prefix") from exc
    network = ipaddress.ip_network(address)
    return Query("ip", str(address), text, f"ip/{address}", network=network)


def _entity(text: str) -> Query:
    if any(ch.isspace() for ch in text) or "/" in text:
        raise UsageError(f"{text!r} is not an entity handle")
    match = _ENTITY.match(text)
    tag = match.group(1).upper() if match else None
    return Query("entity", text, text, f"entity/{quote(text, safe='')}", object_tag=tag)


def _domain(text: str) -> Query:
    name = normalise_domain(text)
    network = reverse_name_network(name)
    return Query("domain", name, text, f"domain/{name}", network=network)


def normalise_domain(text: str) -> str:
    """Case-fold, drop the trailing dot and convert Unicode labels to A-labels (IDNA 2008)."""
    name = text.strip().rstrip(".")
    if not name or ".." in name or any(ch.isspace() for ch in name):
        raise UsageError(f"{text!r} is not a domain name")
    if not name.isascii():  # checked here too: every batch line passes this way
        try:
            name = to_a_labels(name)
        except ValueError:
            raise UsageError(f"{text!r} is not a valid internationalised domain name") from None
    name = name.lower()
    labels = name.split(".")
    if len(name) > 253 or not all(_LDH_LABEL.match(label) for label in labels):
        raise UsageError(f"{text!r} is not a domain name")
    return name


def reverse_name_network(name: str) -> IpNetwork | None:
    """The network a reverse-DNS name stands for (``2.0.192.in-addr.arpa`` → 192.0.2.0/24)."""
    if name.endswith(".in-addr.arpa"):
        labels = name[: -len(".in-addr.arpa")].split(".")
        if not 1 <= len(labels) <= 4 or not all(lb.isdigit() and int(lb) < 256 for lb in labels):
            return None
        octets = list(reversed(labels)) + ["0"] * (4 - len(labels))
        return ipaddress.ip_network(f"{'.'.join(octets)}/{8 * len(labels)}", strict=False)
    if name.endswith(".ip6.arpa"):
        nibbles = name[: -len(".ip6.arpa")].split(".")
        if not 1 <= len(nibbles) <= 32 or not all(
            len(n) == 1 and n in "0123456789abcdef" for n in nibbles
        ):
            return None
        hexdigits = "".join(reversed(nibbles)).ljust(32, "0")
        address = ipaddress.IPv6Address(int(hexdigits, 16))
        return ipaddress.ip_network(f"{address}/{4 * len(nibbles)}", strict=False)
    return None
