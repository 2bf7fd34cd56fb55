"""The one description of every profiles key (``PROFILE_SPEC``), from which both the
checks and the shipped JSON Schema derive, with the normalisers of free-form keys
(TLDs, hosts, CIDRs, AS ranges, object tags, tenant names).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from typing import Any

from rdapctl.policy.tenant import (
    QUERY_TYPES,
    REGIONS,
    TENANT_NAME_EXPECTED,
    TENANT_NAME_PATTERN,
    is_tenant_name,
)
from rdapctl.profiles.findings import KeyPath
from rdapctl.profiles.spec import (
    CIDR_PATTERN,
    Bool,
    Enum,
    Float,
    Int,
    KeyResult,
    List,
    Map,
    Pin,
    PrivateIps,
    Report,
    Spec,
    Str,
    Table,
    Url,
    check_network,
)
from rdapctl.rdap.answer import ENTITY_ROLES

JCARD_PROPERTIES: tuple[str, ...] = (
    "source",
    "kind",
    "xml",
    "fn",
    "n",
    "nickname",
    "photo",
    "bday",
    "anniversary",
    "gender",
    "adr",
    "tel",
    "email",
    "impp",
    "lang",
    "tz",
    "geo",
    "title",
    "role",
    "logo",
    "org",
    "member",
    "related",
    "categories",
    "note",
    "prodid",
    "rev",
    "sound",
    "uid",
    "clientpidmap",
    "url",
    "key",
    "fburl",
    "caladruri",
    "caluri",
    "contact-uri",
)

MAX_TTL_S = 31_536_000
MAX_ASN = 4_294_967_295


def _to_ascii(text: str) -> str | None:
    if text.isascii():
        return text
    import idna

    try:
        return ".".join(idna.encode(label, uts46=True).decode() for label in text.split("."))
    except idna.IDNAError:
        return None


_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _domain_key(key: str) -> KeyResult:
    expected = "a TLD or domain suffix such as com, co.uk or xn--p1ai"
    name = key.strip().lower().strip(".")
    ascii_name = _to_ascii(name) if name else None
    if not ascii_name or not all(_LABEL_RE.match(label) for label in ascii_name.split(".")):
        return None, (f"{key!r} is not a valid domain suffix", expected)
    return ascii_name, None


def _host_key(key: str) -> KeyResult:
    expected = "a host name such as rdap.example.net or an IP address"
    name = key.strip().lower().rstrip(".")
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(name.strip("[]"))), None
    ascii_name = _to_ascii(name) if name else None
    if not ascii_name or not all(_LABEL_RE.match(label) for label in ascii_name.split(".")):
        return None, (f"{key!r} is not a valid host name", expected)
    return ascii_name, None


def _cidr_key(key: str) -> KeyResult:
    net, message, expected = check_network(key)
    if net is None:
        return None, (message or "invalid CIDR", expected or "a CIDR")
    return net, None


_AUTNUM_RE = re.compile(r"^([0-9]+)(?:-([0-9]+))?$")


def _autnum_key(key: str) -> KeyResult:
    expected = f"an AS number N or a range N-M with 0 <= N <= M <= {MAX_ASN}"
    m = _AUTNUM_RE.match(key.strip())
    if not m:
        return None, (f"{key!r} is not an AS number or range", expected)
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) is not None else lo
    if hi > MAX_ASN:
        return None, (f"{key!r} is beyond the largest AS number", expected)
    if lo > hi:
        return None, (f"{key!r} is an empty range (start > end)", expected)
    return (f"{lo}-{hi}" if m.group(2) is not None else str(lo)), None


_TAG_RE = re.compile(r"^[A-Z0-9]+$")


def _entity_tag_key(key: str) -> KeyResult:
    tag = key.strip().upper()
    if not _TAG_RE.match(tag):
        return None, (f"{key!r} is not an object tag", "letters and digits only, such as ARIN")
    return tag, None


def _tenant_name_key(key: str) -> KeyResult:
    if not is_tenant_name(key):
        return None, (f"invalid tenant name {key!r}", TENANT_NAME_EXPECTED)
    return key, None


_HOST_KEY_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1}

REDIS_URL_PATTERN = r"^[Rr][Ee][Dd][Ii][Ss][Ss]?://[^/?#]+(/[0-9]{0,5})?$"
_REDIS_URL_RE = re.compile(REDIS_URL_PATTERN)
PREFIX_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class RedisUrl(Spec):
    """A team backend: redis:// or rediss:// (TLS), host, optional port and database
    number. A password may be in it: the value is never echoed in a finding."""

    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        expected = "redis://host:6379/0 or rediss://host:6380/0 (TLS)"
        if not isinstance(value, str):
            return report.error(path, "expected a URL string", expected)
        from urllib.parse import urlsplit

        text = value.strip()
        try:
            parts = urlsplit(text)
            _ = parts.port
        except ValueError:
            return report.error(path, "not a valid redis:// or rediss:// URL", expected)
        if not _REDIS_URL_RE.match(text) or not parts.hostname:
            return report.error(path, "not a redis:// or rediss:// URL with a host", expected)
        return text

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "string", "pattern": REDIS_URL_PATTERN})


class Prefix(Spec):
    """The key prefix of a team backend (letters, digits, '_', '.', '-')."""

    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        if not isinstance(value, str) or not re.fullmatch(PREFIX_PATTERN[1:-1], value):
            return report.error(
                path,
                "not a key prefix",
                "1 to 64 letters, digits, '_', '.' or '-', such as rdapctl",
            )
        return value

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "string", "pattern": PREFIX_PATTERN})


TENANT_SPEC = Table(
    {
        "display_name": Str("Human-readable name shown in reports (not part of the policy)."),
        "isolation": Enum(
            ("strict", "standard", "development"),
            "How strictly the tenant is separated: strict, standard or development.",
        ),
        "data_residency": List(
            Enum(REGIONS),
            "Regions whose RDAP servers may be queried; empty means no restriction.",
        ),
        "unknown_region": Enum(
            ("deny", "allow"), "What to do with a server whose region is unknown."
        ),
        "purpose": Str("Why this tenant queries RDAP (recorded for accountability)."),
        "legal_basis": Str("Legal basis for processing, e.g. GDPR Art. 6(1)(f)."),
        "business_criticality": Enum(
            ("critical", "high", "medium", "low"), "How critical the tenant's lookups are."
        ),
        "compliance": Table(
            {
                "gdpr": Bool("The tenant is subject to the GDPR."),
                "ccpa": Bool("The tenant is subject to the CCPA/CPRA."),
                "pdpl": Bool("The tenant is subject to a PDPL (e.g. Saudi Arabia)."),
                "do_not_sell": Bool("Personal data is never sold or shared (CCPA)."),
                "data_categories": List(Str(), "Categories of personal data processed."),
                "recipients": List(Str(), "Who receives the data."),
                "transfers": List(Str(), "Cross-border transfers and their safeguards."),
            },
            "Regulatory regimes and record-of-processing facts.",
        ),
        "security": Table(
            {
                "redact_pii": Bool("Redact personal data from responses (default true)."),
                "redact_fields": List(
                    Enum(JCARD_PROPERTIES),
                    "jCard properties to redact; default depends on compliance.",
                ),
                "redaction_exempt_roles": List(
                    Enum(ENTITY_ROLES),
                    "Entity roles whose organisations and role mailboxes keep their name,"
                    " organisation, e-mail and phone (default registrar and abuse; [] redacts"
                    " them too). An entity of kind individual is always redacted.",
                ),
                "allow_http": Bool("Allow plain-http RDAP servers."),
                "allow_private_ips": PrivateIps(
                    "Allow connections to private addresses: true, false or a list of CIDRs."
                ),
                "allowed_ports": List(Int(1, 65535), "TCP ports servers may use."),
                "follow_referrals": Bool("Follow registry-to-registrar referral links."),
                "allowed_query_types": List(
                    Enum(QUERY_TYPES),
                    "Query types this tenant may run (default: all but reverse_search,"
                    " which looks people up by personal data and must be listed).",
                ),
                "max_concurrent_requests": Int(1, 256, "Parallel requests in a batch."),
                "requests_per_second": Float(
                    100_000,
                    "Rate limit per registry host (requests/second), shared by every"
                    " rdapctl process of the tenant.",
                ),
                "max_batch_size": Int(1, 10_000_000, "Most queries accepted in one batch."),
                "max_search_results": Int(
                    1, 1_000_000, "Most results one search may fetch (default 1000)."
                ),
                "timeout_s": Float(300, "Per-request timeout in seconds."),
                "max_response_bytes": Int(
                    1024, 1_000_000_000, "Largest response body accepted, in bytes."
                ),
            },
            "Network and data-protection policy.",
        ),
        "servers": Table(
            {
                "all": Url("Send every query to this server (overrides bootstrap)."),
                "fallback": Url("Server used when bootstrap knows none."),
                "search": Url("Base URL of the server searches go to by default."),
                "domains": Map(
                    _domain_key, _HOST_KEY_SCHEMA, Url(), "TLD or suffix -> RDAP base URL."
                ),
                "ip": Map(
                    _cidr_key,
                    {"type": "string", "pattern": CIDR_PATTERN},
                    Url(),
                    "CIDR -> RDAP base URL.",
                ),
                "autnum": Map(
                    _autnum_key,
                    {"type": "string", "pattern": _AUTNUM_RE.pattern},
                    Url(),
                    "AS number or range N-M -> RDAP base URL.",
                ),
                "entity": Map(
                    _entity_tag_key,
                    {"type": "string", "pattern": "^[A-Za-z0-9]+$"},
                    Url(),
                    "Entity object tag -> RDAP base URL.",
                ),
            },
            "Server overrides.",
        ),
        "regions": Map(
            _host_key,
            _HOST_KEY_SCHEMA,
            Enum(REGIONS),
            "Server host -> region, for data residency.",
        ),
        "tls": Table(
            {
                "ca_bundle": Str(
                    "PEM file of trusted CAs instead of the system store.", min_length=1
                ),
                "certificate_pinning": Bool("Require a pinned SPKI hash for listed hosts."),
                "pins": Map(
                    _host_key,
                    _HOST_KEY_SCHEMA,
                    List(Pin()),
                    "Host -> list of sha256/BASE64= SPKI pins.",
                ),
            },
            "TLS trust settings.",
        ),
        "cache": Table(
            {
                "enabled": Bool("Cache responses (encrypted at rest)."),
                "ttl_s": Int(0, MAX_TTL_S, "Lifetime of a cached answer, seconds."),
                "negative_ttl_s": Int(0, 7 * 86400, "Lifetime of a cached not-found, seconds."),
                "max_size_mb": Int(1, 1_000_000, "Cache size limit in MiB."),
            },
            "Response cache.",
        ),
        "audit": Table(
            {
                "enabled": Bool("Write a tamper-evident audit record per query."),
                "hash_queries": Bool("Store a keyed hash of the query instead of the query."),
                "retention_days": Int(1, 36500, "Days audit records are kept."),
                "fail_open": Bool("Run queries even when the audit record cannot be written."),
                "syslog": Bool("Also send audit records to syslog."),
            },
            "Audit log.",
        ),
        "keys": Table(
            {"rotation_days": Int(1, 3650, "Days before a tenant key should be rotated.")},
            "Key management.",
        ),
        "team": Table(
            {
                "backend": RedisUrl(
                    "Redis (or Valkey) URL of the team backend: redis:// or rediss:// (TLS);"
                    " the password from the URL or RDAPCTL_REDIS_PASSWORD. Needs a master key."
                ),
                "cache": Bool("Share the encrypted cache (default true)."),
                "rate_limits": Bool(
                    "Share the per-host token buckets and Retry-After blocks (default true)."
                ),
                "audit_stream": Bool(
                    "Also append each audit record to the stream PREFIX:audit:TENANT."
                ),
                "prefix": Prefix("Key prefix, so several teams can share one Redis."),
                "allow_private": Bool(
                    "Allow the backend on a private address (a team Redis usually is)."
                ),
                "required": Bool(
                    "Exit 7 when the backend is unreachable instead of going on locally."
                ),
            },
            "A team backend shared by every machine of the tenant.",
        ),
    },
    "One tenant's policy.",
)

PROFILE_SPEC = Table(
    {
        "default_tenant": Str("Tenant used when none is selected; must be defined below."),
        "tenants": Map(
            _tenant_name_key,
            {"type": "string", "pattern": TENANT_NAME_PATTERN},
            TENANT_SPEC,
            "Tenants by name.",
        ),
    },
    "rdapctl tenant profiles.",
)


def build_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) derived from ``PROFILE_SPEC``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:rdapctl:profiles-schema",
        "title": "rdapctl profiles file",
        **PROFILE_SPEC.schema(),
    }
