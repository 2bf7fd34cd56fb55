"""Validation of tenant profiles files: the schema, the findings, their positions.

Owns: the one description of every profiles key (``PROFILE_SPEC``), from which both
the checks and the shipped JSON Schema derive; turning TOML text into normalised
per-tenant settings plus a list of ``Finding``; locating a key path's line/column in
the TOML text; the compliance rules; rendering findings as text, JSON or GitHub
annotations; building ``rdapctl.policy.tenant.Tenant`` from normalised settings.

Must not: choose a profiles file or a tenant (``rdapctl.profiles.loader`` does), print,
import typer/rich, or import ``idna`` unless a non-ASCII key needs it.

Decisions:

* ``data_residency`` and ``regions`` accept every name in ``rdapctl.policy.tenant.REGIONS``,
  ``global`` included (a server that is deliberately served world-wide).
* ``tls.ca_bundle`` that does not exist is a warning here (the file may be
  provisioned later, e.g. on the production host); the TLS layer fails on use.
  Relative paths are resolved against the profiles file's folder.
* ``redact_fields`` takes lower-case vCard/jCard property names (RFC 6350, plus
  ``contact-uri`` from RFC 8605); anything else is an error.
* An http:// server URL while ``allow_http`` is false is a warning: every request
  to it would be refused at run time.
"""

from __future__ import annotations

import bisect
import contextlib
import difflib
import ipaddress
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from rdapctl.core.records import record
from rdapctl.policy.tenant import (
    ENTITY_ROLES,
    QUERY_TYPES,
    REGIONS,
    TENANT_NAME_PATTERN,
    AuditSettings,
    CacheSettings,
    Compliance,
    KeySettings,
    Security,
    Servers,
    Tenant,
    Tls,
    default_redact_fields,
    is_tenant_name,
)
from rdapctl.profiles.limits import MAX_TENANTS, nesting_problem, read_profile_bytes

Severity = Literal["error", "warning"]
KeyPath = tuple[str | int, ...]
OutputFormat = Literal["text", "json", "github"]

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
GDPR_MAX_CONFIGURED_TTL_S = 86_400
MAX_ASN = 4_294_967_295
TENANT_NAME_EXPECTED = (
    "a name matching [a-z0-9][a-z0-9_-]{0,62} "
    "(lower-case letters, digits, '_' or '-', at most 63 characters)"
)


@record
class Finding:
    """One problem in a profiles file; ``line``/``column`` are 1-based, None when unknown."""

    file: str
    line: int | None
    column: int | None
    key_path: str
    message: str
    severity: Severity = "error"
    expected: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Invalid:
    """Marker for a value that failed its check (kept out of normalised output)."""


INVALID = _Invalid()


class _Report:
    """Collects raw findings by key path while a document is checked."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.items: list[tuple[KeyPath, str, Severity, str | None]] = []

    def error(self, path: KeyPath, message: str, expected: str | None = None) -> _Invalid:
        self.items.append((path, message, "error", expected))
        return INVALID

    def warn(self, path: KeyPath, message: str, expected: str | None = None) -> None:
        self.items.append((path, message, "warning", expected))


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


# ---------------------------------------------------------------------------
# Specs: each checks and normalises one value and describes itself as JSON Schema.


class Spec:
    doc: str = ""

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def _with_doc(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.doc:
            return {"description": self.doc, **schema}
        return schema


class Bool(Spec):
    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        if not isinstance(value, bool):
            return report.error(
                path, f"expected a boolean, got {_type_name(value)}", "true or false"
            )
        return value

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "boolean"})


class Str(Spec):
    def __init__(self, doc: str = "", *, min_length: int = 0) -> None:
        self.doc = doc
        self.min_length = min_length

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        if not isinstance(value, str):
            return report.error(path, f"expected a string, got {_type_name(value)}", "a string")
        if len(value) < self.min_length:
            return report.error(path, "must not be empty", "a non-empty string")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.min_length:
            out["minLength"] = self.min_length
        return self._with_doc(out)


class Enum(Spec):
    def __init__(self, choices: Iterable[str], doc: str = "") -> None:
        self.choices = tuple(choices)
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        expected = "one of: " + ", ".join(self.choices)
        if not isinstance(value, str):
            return report.error(path, f"expected a string, got {_type_name(value)}", expected)
        if value not in self.choices:
            return report.error(path, f"unknown value {value!r}", expected)
        return value

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "string", "enum": list(self.choices)})


class Int(Spec):
    def __init__(self, lo: int, hi: int, doc: str = "") -> None:
        self.lo, self.hi, self.doc = lo, hi, doc

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        expected = f"an integer from {self.lo:,} to {self.hi:,}".replace(",", "_")
        if isinstance(value, bool) or not isinstance(value, int):
            return report.error(path, f"expected an integer, got {_type_name(value)}", expected)
        if not self.lo <= value <= self.hi:
            return report.error(path, f"{value} is out of range", expected)
        return value

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "integer", "minimum": self.lo, "maximum": self.hi})


class Float(Spec):
    """A number in (0, hi]; TOML integers are accepted and converted."""

    def __init__(self, hi: float, doc: str = "") -> None:
        self.hi, self.doc = hi, doc

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        expected = f"a number greater than 0 and at most {self.hi:g}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return report.error(path, f"expected a number, got {_type_name(value)}", expected)
        # nan fails both comparisons, so it is rejected here as well.
        if not 0 < value <= self.hi:
            return report.error(path, f"{value} is out of range", expected)
        return float(value)

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "number", "exclusiveMinimum": 0, "maximum": self.hi})


class List(Spec):
    def __init__(self, item: Spec, doc: str = "") -> None:
        self.item, self.doc = item, doc

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        if not isinstance(value, list):
            return report.error(path, f"expected an array, got {_type_name(value)}", "an array")
        out = [self.item.check(v, (*path, i), report) for i, v in enumerate(value)]
        if any(v is INVALID for v in out):
            return INVALID
        return tuple(out)

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "array", "items": self.item.schema()})


def _check_network(text: str) -> tuple[str | None, str | None, str | None]:
    """(normalised CIDR, error message, expected) for a CIDR string."""
    try:
        return str(ipaddress.ip_network(text, strict=True)), None, None
    except ValueError:
        pass
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None, f"{text!r} is not a valid CIDR", "an IPv4 or IPv6 network such as 10.0.0.0/8"
    return None, f"{text!r} has host bits set", f"the network address {net}"


class Cidr(Spec):
    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        if not isinstance(value, str):
            return report.error(
                path, f"expected a CIDR string, got {_type_name(value)}", "a CIDR string"
            )
        net, message, expected = _check_network(value)
        if net is None:
            return report.error(path, message or "invalid CIDR", expected)
        return net

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "string", "pattern": CIDR_PATTERN})


CIDR_PATTERN = r"^[0-9A-Fa-f:.]+/[0-9]{1,3}$"


class PrivateIps(Spec):
    """``allow_private_ips``: true, false, or a list of CIDRs."""

    def __init__(self, doc: str = "") -> None:
        self.doc = doc
        self.item = Cidr()

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, list):
            return List(self.item).check(value, path, report)
        return report.error(
            path,
            f"expected a boolean or an array of CIDRs, got {_type_name(value)}",
            'true, false or an array of CIDRs such as ["10.0.0.0/8"]',
        )

    def schema(self) -> dict[str, Any]:
        return self._with_doc(
            {"oneOf": [{"type": "boolean"}, {"type": "array", "items": self.item.schema()}]}
        )


URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]+"
_USERINFO_RE = re.compile(r"(?<=://)[^/?#]*@")


def _safe_url(value: str) -> str:
    """The URL for messages, with any user:password@ part masked."""
    return repr(_USERINFO_RE.sub("***@", value))


class Url(Spec):
    """An RDAP base URL; normalised to lower-case scheme/host and a trailing '/'."""

    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        expected = "an http:// or https:// base URL such as https://rdap.example/"
        if not isinstance(value, str):
            return report.error(path, f"expected a URL string, got {_type_name(value)}", expected)
        from urllib.parse import urlsplit, urlunsplit

        try:
            parts = urlsplit(value.strip())
            port = parts.port
        except ValueError:
            return report.error(path, f"{_safe_url(value)} is not a valid URL", expected)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return report.error(
                path, f"{_safe_url(value)} is not an http(s) URL with a host", expected
            )
        if parts.username is not None or parts.password is not None:
            # Never echo the value: it holds credentials.
            return report.error(path, "URL must not contain credentials", expected)
        if parts.query or parts.fragment:
            return report.error(path, f"{_safe_url(value)} has a query or fragment", expected)
        netloc = parts.hostname.lower()
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if port is not None:
            netloc = f"{netloc}:{port}"
        url_path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return urlunsplit((parts.scheme.lower(), netloc, url_path, "", ""))

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "string", "pattern": URL_PATTERN})


PIN_PATTERN = r"^sha256/[A-Za-z0-9+/]{43}=$"


class Pin(Spec):
    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        expected = "sha256/ followed by the base64 of a 32-byte SPKI hash (44 characters)"
        if not isinstance(value, str):
            return report.error(path, f"expected a string, got {_type_name(value)}", expected)
        import base64
        import binascii

        if not value.startswith("sha256/"):
            return report.error(path, "pin must start with 'sha256/'", expected)
        try:
            raw = base64.b64decode(value[len("sha256/") :], validate=True)
        except (binascii.Error, ValueError):
            return report.error(path, "pin is not valid base64", expected)
        if len(raw) != 32:
            return report.error(path, f"pin decodes to {len(raw)} bytes, not 32", expected)
        return value

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "string", "pattern": PIN_PATTERN})


# Key normalisers: return (normalised key, None) or (None, (message, expected)).
KeyResult = tuple[str | None, tuple[str, str] | None]


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
    net, message, expected = _check_network(key)
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


class Map(Spec):
    """A table with free-form keys, each normalised by ``key``, and values of one spec."""

    def __init__(
        self,
        key: Callable[[str], KeyResult],
        key_schema: dict[str, Any],
        value: Spec,
        doc: str = "",
    ) -> None:
        self.key, self.key_schema, self.value, self.doc = key, key_schema, value, doc

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        if not isinstance(value, dict):
            return report.error(path, f"expected a table, got {_type_name(value)}", "a table")
        out: dict[str, Any] = {}
        for raw_key, raw_value in value.items():
            key, problem = self.key(raw_key)
            checked = self.value.check(raw_value, (*path, raw_key), report)
            if problem is not None:
                report.error((*path, raw_key), problem[0], problem[1])
            elif key in out:
                report.error((*path, raw_key), f"duplicate key after normalisation: {key!r}")
            elif checked is not INVALID:
                out[key] = checked
        # Keep the good entries so the rest of the document can still be checked.
        return out

    def schema(self) -> dict[str, Any]:
        return self._with_doc(
            {
                "type": "object",
                "propertyNames": self.key_schema,
                "additionalProperties": self.value.schema(),
            }
        )


class Table(Spec):
    """A table with a fixed set of keys; unknown keys are errors."""

    def __init__(self, fields: dict[str, Spec], doc: str = "") -> None:
        self.fields, self.doc = fields, doc

    def check(self, value: object, path: KeyPath, report: _Report) -> Any:
        if not isinstance(value, dict):
            return report.error(path, f"expected a table, got {_type_name(value)}", "a table")
        out: dict[str, Any] = {}
        for key, raw in value.items():
            spec = self.fields.get(key)
            if spec is None:
                close = difflib.get_close_matches(key, list(self.fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                report.error(
                    (*path, key),
                    f"unknown key {key!r}{hint}",
                    "one of: " + ", ".join(self.fields),
                )
                continue
            checked = spec.check(raw, (*path, key), report)
            if checked is not INVALID:
                out[key] = checked
        return out

    def schema(self) -> dict[str, Any]:
        return self._with_doc(
            {
                "type": "object",
                "additionalProperties": False,
                "properties": {k: s.schema() for k, s in self.fields.items()},
            }
        )


_HOST_KEY_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1}

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
                "allowed_query_types": List(Enum(QUERY_TYPES), "Query types this tenant may run."),
                "max_concurrent_requests": Int(1, 256, "Parallel requests in a batch."),
                "requests_per_second": Float(
                    100_000,
                    "Rate limit per registry host (requests/second), shared by every"
                    " rdapctl process of the tenant.",
                ),
                "max_batch_size": Int(1, 10_000_000, "Most queries accepted in one batch."),
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


# ---------------------------------------------------------------------------
# Building Tenant objects from normalised settings.


def build_tenant(name: str, settings: Mapping[str, Any], base_dir: Path | None = None) -> Tenant:
    """A ``Tenant`` from one tenant's normalised settings (as produced by ``analyse_text``)."""
    top = {k: v for k, v in settings.items() if not isinstance(v, dict) or k == "regions"}
    compliance = Compliance(**settings.get("compliance", {}))
    security = dict(settings.get("security", {}))
    security.setdefault("redact_fields", default_redact_fields(compliance))
    tls = dict(settings.get("tls", {}))
    if tls.get("ca_bundle") is not None:
        tls["ca_bundle"] = str(resolve_ca_bundle(tls["ca_bundle"], base_dir))
    return Tenant(
        name=name,
        **top,
        compliance=compliance,
        security=Security(**security),
        servers=Servers(**settings.get("servers", {})),
        tls=Tls(**tls),
        cache=CacheSettings(**settings.get("cache", {})),
        audit=AuditSettings(**settings.get("audit", {})),
        keys=KeySettings(**settings.get("keys", {})),
    )


def resolve_ca_bundle(value: str, base_dir: Path | None) -> Path:
    """``~`` expanded; relative paths are relative to the profiles file's folder."""
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


# ---------------------------------------------------------------------------
# Compliance and consistency rules across keys of one tenant.


def _check_rules(name: str, tenant: Tenant, raw: Mapping[str, Any], report: _Report) -> None:
    base: KeyPath = ("tenants", name)
    sec, comp = tenant.security, tenant.compliance
    if comp.gdpr and tenant.cache.ttl_s > GDPR_MAX_CONFIGURED_TTL_S:
        report.error(
            (*base, "cache", "ttl_s"),
            f"a gdpr tenant may not cache for more than 24 hours (ttl_s = {tenant.cache.ttl_s})",
            f"at most {GDPR_MAX_CONFIGURED_TTL_S}",
        )
    if tenant.isolation == "strict" and sec.allow_private_ips not in (False, ()):
        report.warn(
            (*base, "security", "allow_private_ips"),
            "private addresses are allowed under strict isolation",
            'false, or isolation = "standard"',
        )
    if sec.allow_http:
        report.warn(
            (*base, "security", "allow_http"),
            "plain http is allowed: responses can be read and altered in transit",
            "false",
        )
    if not sec.redact_pii and (comp.gdpr or comp.ccpa):
        report.warn(
            (*base, "security", "redact_pii"),
            "redaction is off for a tenant under gdpr or ccpa",
            "true",
        )
    if tenant.tls.certificate_pinning and not any(tenant.tls.pins.values()):
        report.warn(
            (*base, "tls", "certificate_pinning"),
            "certificate pinning is on but no pins are configured",
            "pins under [tenants.NAME.tls.pins]",
        )
    if comp.ccpa and comp.do_not_sell is not True:
        key = "do_not_sell" if "do_not_sell" in raw.get("compliance", {}) else "ccpa"
        report.warn(
            (*base, "compliance", key),
            "a ccpa tenant should declare do_not_sell = true",
            "do_not_sell = true",
        )
    if tenant.tls.ca_bundle is not None and not Path(tenant.tls.ca_bundle).is_file():
        report.warn(
            (*base, "tls", "ca_bundle"),
            f"CA bundle {raw['tls']['ca_bundle']!r} does not exist (queries will fail)",
            "the path of an existing PEM file",
        )
    if not sec.allow_http:
        servers = raw.get("servers", {})
        for key in ("all", "fallback"):
            if isinstance(servers.get(key), str) and servers[key].lower().startswith("http:"):
                report.warn(
                    (*base, "servers", key),
                    "http:// server while allow_http is false: requests to it will be refused",
                    "an https:// URL",
                )
        for table in ("domains", "ip", "autnum", "entity"):
            entries = servers.get(table)
            if not isinstance(entries, dict):
                continue
            for k, v in entries.items():
                if isinstance(v, str) and v.lower().startswith("http:"):
                    report.warn(
                        (*base, "servers", table, k),
                        "http:// server while allow_http is false: requests to it will be refused",
                        "an https:// URL",
                    )


# ---------------------------------------------------------------------------
# Analysis entry points.


@record
class Analysis:
    """Findings plus, for each well-formed tenant, its built ``Tenant``."""

    findings: list[Finding]
    tenants: dict[str, Tenant]
    default_tenant: str | None


_TOML_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END_RE = re.compile(r"\s*\(at end of document\)\s*$")


def _syntax_finding(exc: tomllib.TOMLDecodeError, text: str, filename: str) -> Finding:
    message = str(exc)
    line: int | None = None
    column: int | None = None
    if m := _TOML_POS_RE.search(message):
        line, column = int(m.group(1)), int(m.group(2))
        message = message[: m.start()]
    elif m := _TOML_END_RE.search(message):
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
        message = message[: m.start()]
    return Finding(filename, line, column, "", f"TOML syntax error: {message}", "error", None)


def analyse_text(
    text: str, filename: str, *, strict: bool = False, base_dir: Path | None = None
) -> Analysis:
    """Check a whole profiles document; collect every finding, build what is valid."""
    base = base_dir if base_dir is not None else Path(filename).parent
    # Checked before tomllib, which recurses per level (a RecursionError, not a finding).
    deep = nesting_problem(text)
    if deep is not None:
        finding = Finding(
            filename, deep.line, deep.column, "", deep.message, "error", deep.expected
        )
        return Analysis([finding], {}, None)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return Analysis([_syntax_finding(exc, text, filename)], {}, None)
    many = data.get("tenants")
    if isinstance(many, dict) and len(many) > MAX_TENANTS:
        # Each tenant costs kilobytes once built: a file of tiny tables must not cost gigabytes.
        message = f"{len(many)} tenants in one file; at most {MAX_TENANTS} are allowed"
        line, column = _first_line_of(text, "tenants")
        finding = Finding(
            filename, line, column, "tenants", message, "error", "split the tenants over files"
        )
        return Analysis([finding], {}, None)
    report = _Report(base)
    doc = PROFILE_SPEC.check(data, (), report)
    tenants: dict[str, Tenant] = {}
    raw_tenants = data.get("tenants")
    normalised = doc.get("tenants") if isinstance(doc, dict) else None
    if isinstance(normalised, dict) and isinstance(raw_tenants, dict):
        for name, settings in normalised.items():
            before = len(report.items)
            tenant = build_tenant(name, settings, base)
            _check_rules(name, tenant, raw_tenants.get(name, {}), report)
            tenant_errors = any(sev == "error" for _, _, sev, _ in report.items[before:])
            if not tenant_errors:
                tenants[name] = tenant
    default = data.get("default_tenant")
    tenants_usable = raw_tenants is None or isinstance(raw_tenants, dict)
    if isinstance(default, str) and tenants_usable and default not in tenants:
        known = sorted(raw_tenants) if isinstance(raw_tenants, dict) else []
        if default not in known:
            report.error(
                ("default_tenant",),
                f"default_tenant {default!r} names no tenant defined in this file",
                "one of: " + ", ".join(known) if known else "define [tenants." + default + "]",
            )
    findings = _place(report, text, filename, strict=strict)
    return Analysis(findings, tenants, default if isinstance(default, str) else None)


def _first_line_of(text: str, key: str) -> tuple[int | None, int | None]:
    """(line, column) of the first line that starts with ``key`` or ``[key``."""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith((key, f"[{key}")):
            return number, len(line) - len(stripped) + 1
    return None, None


def _place(report: _Report, text: str, filename: str, *, strict: bool) -> list[Finding]:
    positions = locate_keys(text)
    out = []
    for path, message, severity, expected in report.items:
        line, column = _lookup(positions, path)
        out.append(
            Finding(
                file=filename,
                line=line,
                column=column,
                key_path=format_key_path(path),
                message=message,
                severity="error" if strict else severity,
                expected=expected,
            )
        )
    return sort_findings(out)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (f.file, f.line is None, f.line or 0, f.column or 0, f.key_path),
    )


def _lookup(
    positions: Mapping[KeyPath, tuple[int, int]], path: KeyPath
) -> tuple[int | None, int | None]:
    for n in range(len(path), 0, -1):
        if (pos := positions.get(path[:n])) is not None:
            return pos
    return None, None


def validate_text(
    text: str, filename: str, *, strict: bool = False, base_dir: Path | None = None
) -> list[Finding]:
    """Every finding for a profiles document (``strict`` turns warnings into errors)."""
    return analyse_text(text, filename, strict=strict, base_dir=base_dir).findings


def read_profiles_text(path: Path) -> tuple[str | None, str | None]:
    """(text, None) or (None, why it cannot be read) — never raises for I/O problems;
    files over the size limit are not read (``rdapctl.profiles.limits``)."""
    data, problem = read_profile_bytes(path)
    if data is None:
        return None, problem
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"file is not valid UTF-8 (byte {exc.start})"


def validate_file(path: Path, *, strict: bool = False) -> list[Finding]:
    """Every finding for the profiles file at ``path`` (unreadable files give one finding)."""
    text, problem = read_profiles_text(path)
    if text is None:
        return [Finding(str(path), None, None, "", problem or "cannot read file", "error", None)]
    return validate_text(text, str(path), strict=strict, base_dir=path.parent)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


# ---------------------------------------------------------------------------
# Rendering.

_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def format_key_path(path: KeyPath) -> str:
    """``tenants.acme.servers.domains."co.uk"`` — TOML spelling, ``[i]`` for array items."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        seg = part if _BARE_KEY_RE.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        out = f"{out}.{seg}" if out else seg
    return out


def _location(f: Finding) -> str:
    loc = f.file
    if f.line is not None:
        loc += f":{f.line}"
        if f.column is not None:
            loc += f":{f.column}"
    return loc


def _body(f: Finding) -> str:
    text = f"{f.key_path}: {f.message}" if f.key_path else f.message
    if f.expected:
        text += f" (expected {f.expected})"
    return text


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def format_findings(findings: Iterable[Finding], fmt: OutputFormat = "text") -> str:
    """Render findings; text ends with a summary line, json is a list of objects."""
    items = list(findings)
    if fmt == "json":
        return json.dumps([f.to_dict() for f in items], indent=2, ensure_ascii=False)
    if fmt == "github":
        lines = []
        for f in items:
            props = [f"file={_gh_prop(f.file)}"]
            if f.line is not None:
                props.append(f"line={f.line}")
                if f.column is not None:
                    props.append(f"col={f.column}")
            lines.append(f"::{f.severity} {','.join(props)}::{_gh_data(_body(f))}")
        return "\n".join(lines)
    if fmt != "text":
        raise ValueError(f"unknown findings format {fmt!r}")
    lines = [f"{_location(f)}: {f.severity}: {_body(f)}" for f in items]
    errors = sum(f.severity == "error" for f in items)
    warnings = len(items) - errors
    if items:
        lines.append(f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}")
    else:
        lines.append("no problems found")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Locator: tomllib keeps no positions, so re-scan the (already valid) TOML text.


def _is_bare_key_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in "_-")


class _Locator:
    """Best-effort scanner recording where each key path (and array item) starts."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.positions: dict[KeyPath, tuple[int, int]] = {}
        self.aot_counts: dict[KeyPath, int] = {}

    def record(self, path: KeyPath, index: int) -> None:
        line = bisect.bisect_right(self.line_starts, index)
        self.positions.setdefault(path, (line, index - self.line_starts[line - 1] + 1))

    def record_key(self, base: KeyPath, parts: list[str], starts: list[int]) -> KeyPath:
        for k in range(len(parts)):
            self.record((*base, *parts[: k + 1]), starts[k])
        return (*base, *parts)

    def skip_ws(self) -> None:
        while self.i < self.n and self.s[self.i] in " \t":
            self.i += 1

    def skip_blank(self) -> None:
        while self.i < self.n:
            c = self.s[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif c == "#":
                end = self.s.find("\n", self.i)
                self.i = self.n if end < 0 else end
            else:
                return

    def expect(self, token: str) -> None:
        self.skip_ws()
        if not self.s.startswith(token, self.i):
            raise ValueError(f"expected {token!r} at {self.i}")
        self.i += len(token)

    def key(self) -> tuple[list[str], list[int]]:
        parts: list[str] = []
        starts: list[int] = []
        while True:
            self.skip_ws()
            starts.append(self.i)
            c = self.s[self.i] if self.i < self.n else ""
            if c == '"':
                end = self._basic_end(self.i)
                parts.append(tomllib.loads("k = " + self.s[self.i : end])["k"])
                self.i = end
            elif c == "'":
                end = self.s.index("'", self.i + 1)
                parts.append(self.s[self.i + 1 : end])
                self.i = end + 1
            else:
                j = self.i
                while j < self.n and (
                    self.s[j].isascii() and (self.s[j].isalnum() or self.s[j] in "_-")
                ):
                    j += 1
                if j == self.i:
                    raise ValueError(f"no key at {self.i}")
                parts.append(self.s[self.i : j])
                self.i = j
            self.skip_ws()
            if self.i < self.n and self.s[self.i] == ".":
                self.i += 1
                continue
            return parts, starts

    def _basic_end(self, start: int) -> int:
        j = start + 1
        while self.s[j] != '"':
            j += 2 if self.s[j] == "\\" else 1
        return j + 1

    def document(self) -> None:
        current: KeyPath = ()
        while True:
            self.skip_blank()
            if self.i >= self.n:
                return
            if self.s.startswith("[[", self.i):
                self.i += 2
                parts, starts = self.key()
                self.expect("]]")
                path = self.record_key((), parts, starts)
                index = self.aot_counts.get(path, 0)
                self.aot_counts[path] = index + 1
                current = (*path, index)
                self.record(current, starts[0])
            elif self.s[self.i] == "[":
                self.i += 1
                parts, starts = self.key()
                self.expect("]")
                current = self.record_key((), parts, starts)
            else:
                parts, starts = self.key()
                path = self.record_key(current, parts, starts)
                self.expect("=")
                self.skip_ws()
                self.value(path)

    def value(self, path: KeyPath) -> None:
        s, i = self.s, self.i
        if s.startswith('"""', i):
            j = i + 3
            while not s.startswith('"""', j):
                j += 2 if s[j] == "\\" else 1
            self.i = self._extra_quotes(j + 3, '"')
        elif s.startswith("'''", i):
            self.i = self._extra_quotes(s.index("'''", i + 3) + 3, "'")
        elif s[i] == '"':
            self.i = self._basic_end(i)
        elif s[i] == "'":
            self.i = s.index("'", i + 1) + 1
        elif s[i] == "[":
            self.i += 1
            index = 0
            while True:
                self.skip_blank()
                if self.s[self.i] == "]":
                    self.i += 1
                    return
                self.record((*path, index), self.i)
                self.value((*path, index))
                index += 1
                self.skip_blank()
                if self.s[self.i] == ",":
                    self.i += 1
        elif s[i] == "{":
            self.i += 1
            while True:
                self.skip_blank()
                if self.s[self.i] == "}":
                    self.i += 1
                    return
                parts, starts = self.key()
                sub = self.record_key(path, parts, starts)
                self.expect("=")
                self.skip_ws()
                self.value(sub)
                self.skip_blank()
                if self.s[self.i] == ",":
                    self.i += 1
        else:
            while self.i < self.n and self.s[self.i] not in ",]}\r\n#":
                self.i += 1

    def _extra_quotes(self, j: int, quote: str) -> int:
        # A multi-line string may end with up to two quote characters before the delimiter.
        extra = 0
        while extra < 2 and j < self.n and self.s[j] == quote:
            j += 1
            extra += 1
        return j


def locate_keys(text: str) -> dict[KeyPath, tuple[int, int]]:
    """Map each key path (and array item index) in TOML ``text`` to its (line, column)."""
    locator = _Locator(text)
    # Best effort: a position we cannot find only degrades to the parent's position.
    with contextlib.suppress(ValueError, IndexError, tomllib.TOMLDecodeError):
        locator.document()
    return locator.positions
