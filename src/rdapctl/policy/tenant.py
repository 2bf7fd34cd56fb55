"""The effective settings of one tenant, after defaults: the contract between the
profiles loader and every policy consumer (network guard, residency, redaction,
cache, audit, keys).

Pure data. ``rdapctl.profiles.loader`` builds these from TOML; nothing here reads files.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import field
from typing import Any, Literal

from rdapctl.core.errors import ConfigError, PolicyDeniedError
from rdapctl.core.records import as_dict, record

Isolation = Literal["strict", "standard", "development"]
Criticality = Literal["critical", "high", "medium", "low"]

DEFAULT_EXEMPT_ROLES: tuple[str, ...] = ("registrar", "abuse")
QUERY_TYPES: tuple[str, ...] = (
    "domain",
    "ip",
    "autnum",
    "entity",
    "nameserver",
    "help",
    "url",
    "search",
    "reverse_search",
)
# Reverse searches look people up by personal data: a tenant allows them explicitly.
DEFAULT_QUERY_TYPES: tuple[str, ...] = tuple(t for t in QUERY_TYPES if t != "reverse_search")
REGIONS: tuple[str, ...] = (
    "north-america",
    "europe",
    "asia-pacific",
    "middle-east",
    "latin-america",
    "africa",
    "global",
)
# For the JSON Schema (ECMA-262, where "$" ends the text). Python code checks names with
# is_tenant_name: a full match, since Python's "$" also matches before a final newline.
TENANT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_TENANT_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# What a valid tenant name looks like, for messages.
TENANT_NAME_EXPECTED = (
    "a name matching [a-z0-9][a-z0-9_-]{0,62} "
    "(lower-case letters, digits, '_' or '-', at most 63 characters)"
)
DEFAULT_TENANT = "default"


def is_tenant_name(name: object) -> bool:
    """Whether ``name`` is a valid tenant name, as a whole (``"evil\\n"`` is not).

    The one check of tenant names: a name becomes a folder and a file name (cache,
    audit, keyring), so profiles, validation, keyring, doctor and paths all use this.
    """
    return isinstance(name, str) and _TENANT_NAME_RE.fullmatch(name) is not None


def check_tenant_name(name: str) -> str:
    """``name`` if :func:`is_tenant_name`, else ConfigError (exit 3)."""
    if not is_tenant_name(name):
        raise ConfigError(
            f"invalid tenant name {name!r}",
            hint="tenant names use lower-case letters, digits, '_' and '-' "
            "(first a letter or digit, at most 63 characters)",
            code="invalid_tenant_name",
        )
    return name


# jCard properties that identify or reach a person.
BASE_REDACT_FIELDS: tuple[str, ...] = ("fn", "n", "adr", "email", "tel", "contact-uri")
# GDPR/CCPA/PDPL also treat the organisation as personal data (sole traders, natural persons).
COMPLIANCE_REDACT_FIELDS: tuple[str, ...] = (*BASE_REDACT_FIELDS, "org")


@record
class Compliance:
    gdpr: bool = False
    ccpa: bool = False
    pdpl: bool = False
    do_not_sell: bool | None = None
    data_categories: tuple[str, ...] | None = None
    recipients: tuple[str, ...] | None = None
    transfers: tuple[str, ...] | None = None

    @property
    def any(self) -> bool:
        return self.gdpr or self.ccpa or self.pdpl


@record
class Security:
    redact_pii: bool = True
    redact_fields: tuple[str, ...] = BASE_REDACT_FIELDS
    # Entities with only these roles (and not of kind individual) keep their name,
    # organisation, e-mail and phone: organisations and role mailboxes, not persons.
    redaction_exempt_roles: tuple[str, ...] = DEFAULT_EXEMPT_ROLES
    allow_http: bool = False
    # False: no private addresses; True: all; a tuple: only these CIDRs.
    allow_private_ips: bool | tuple[str, ...] = False
    allowed_ports: tuple[int, ...] = (443,)
    follow_referrals: bool = True
    allowed_query_types: tuple[str, ...] = DEFAULT_QUERY_TYPES
    max_concurrent_requests: int = 8
    requests_per_second: float = 5.0
    max_batch_size: int = 10000
    max_search_results: int = 1000
    timeout_s: float = 10.0
    max_response_bytes: int = 10_000_000


@record
class Servers:
    all: str | None = None
    fallback: str | None = None
    search: str | None = None
    domains: dict[str, str] = field(default_factory=dict)
    ip: dict[str, str] = field(default_factory=dict)
    autnum: dict[str, str] = field(default_factory=dict)
    entity: dict[str, str] = field(default_factory=dict)


@record
class Tls:
    ca_bundle: str | None = None
    certificate_pinning: bool = False
    pins: dict[str, tuple[str, ...]] = field(default_factory=dict)


@record
class CacheSettings:
    enabled: bool = True
    ttl_s: int = 3600
    negative_ttl_s: int = 300
    max_size_mb: int = 256


@record
class AuditSettings:
    enabled: bool = True
    hash_queries: bool = False
    retention_days: int = 400
    fail_open: bool = False
    syslog: bool = False


@record
class KeySettings:
    rotation_days: int = 90


@record
class TeamSettings:
    """``[tenants.X.team]``: a team backend on Redis (or Valkey) shared by every machine
    of the tenant. ``backend`` is the URL without its password; ``password`` (from the
    URL) is never shown, recorded or part of the policy fingerprint."""

    backend: str
    cache: bool = True
    rate_limits: bool = True
    audit_stream: bool = False
    prefix: str = "rdapctl"
    allow_private: bool = False
    required: bool = False
    password: str | None = field(default=None, repr=False, compare=False)


@record
class Tenant:
    name: str = DEFAULT_TENANT
    display_name: str | None = None
    isolation: Isolation = "strict"
    data_residency: tuple[str, ...] = ()
    unknown_region: Literal["deny", "allow"] = "deny"
    purpose: str | None = None
    legal_basis: str | None = None
    business_criticality: Criticality = "medium"
    compliance: Compliance = field(default_factory=Compliance)
    security: Security = field(default_factory=Security)
    servers: Servers = field(default_factory=Servers)
    regions: dict[str, str] = field(default_factory=dict)
    tls: Tls = field(default_factory=Tls)
    cache: CacheSettings = field(default_factory=CacheSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    # A team backend (None: everything stays on this machine).
    team: TeamSettings | None = None

    def to_dict(self) -> dict[str, Any]:
        return as_dict(self)

    def fingerprint(self) -> str:
        """SHA-256 (hex, first 16 bytes) of the canonical effective policy.

        Cosmetic fields (display name) are left out so renaming a team does not
        invalidate its cache or log a policy change.
        """
        memo: str | None = self.__dict__.get("_fingerprint")
        if memo is None:
            data = self.to_dict()
            data.pop("display_name", None)
            # Where the shared state lives is not policy (and holds a password).
            data.pop("team", None)
            canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=list)
            memo = hashlib.sha256(canonical.encode()).hexdigest()[:32]
            # Memoised beside the fields (as functools.cached_property does): the tenant
            # is immutable, and the cache, the audit and the session each ask for it.
            self.__dict__["_fingerprint"] = memo
        return memo

    @property
    def effective_cache_ttl_s(self) -> int:
        return effective_ttl(self, self.cache.ttl_s)

    @property
    def effective_negative_ttl_s(self) -> int:
        return effective_ttl(self, self.cache.negative_ttl_s)


def require_query_type(tenant: Tenant, query_type: str) -> None:
    """The one check of ``security.allowed_query_types`` (lookups, searches, checks):
    PolicyDeniedError (exit 4) before anything is sent when ``query_type`` is not in it."""
    if query_type not in tenant.security.allowed_query_types:
        raise PolicyDeniedError(
            f"tenant {tenant.name!r} may not run {query_type} queries",
            hint=f"add {query_type!r} to security.allowed_query_types in the tenant profile",
        )


GDPR_TTL_CAP_S = 3600
DEVELOPMENT_TTL_FLOOR_S = 86400


def effective_ttl(tenant: Tenant, ttl_s: int) -> int:
    """Apply the compliance rules: gdpr/ccpa tenants are capped at one hour,
    development isolation has a floor of 24 hours (the cap wins when both apply)."""
    ttl = ttl_s
    if tenant.isolation == "development":
        ttl = max(ttl, DEVELOPMENT_TTL_FLOOR_S)
    if tenant.compliance.gdpr or tenant.compliance.ccpa:
        ttl = min(ttl, GDPR_TTL_CAP_S)
    return ttl


def default_redact_fields(compliance: Compliance) -> tuple[str, ...]:
    return COMPLIANCE_REDACT_FIELDS if compliance.any else BASE_REDACT_FIELDS


def builtin_default_tenant() -> Tenant:
    """The tenant used when no profiles file exists: every safe default."""
    return Tenant()
