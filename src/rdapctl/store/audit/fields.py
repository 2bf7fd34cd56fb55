"""What goes into an audit record: events, the fixed fields, the caller's fields.

Owns: the event names (and which are critical), the fields every record of a
process shares (:class:`AuditContext`: who, where, which policy, why), the rules for
the fields a caller passes (:class:`FieldRules`: no reserved names, contacts masked,
the query hashed), timestamps, record ids and the JSON encoding of a record.
Must not: write anything, or let the key or personal data into a record: the caller
chooses event fields, and a record holding the key is refused when it is written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from rdapctl.core.errors import AuditError
from rdapctl.core.records import record
from rdapctl.policy.tenant import Tenant
from rdapctl.store.audit.format import GAP_ACCEPTED, KEYRING_REPLACED, AuditKeys, derive_keys

EVENTS: frozenset[str] = frozenset(
    {
        "lookup",
        "search",
        "check",
        "policy_denied",
        "ssrf_blocked",
        "residency_violation",
        "rate_limited",
        "cache_integrity_failure",
        "cache_clear",
        "cache_purge",
        "key_rotation",
        "bootstrap_update",
        "audit_prune",
        "audit_repair",
        "policy_changed",
        "team_backend_unavailable",
        KEYRING_REPLACED,
        GAP_ACCEPTED,
    }
)
# "audit_write_failure" is never a record (the write failed); it exists for syslog.
CRITICAL_EVENTS: frozenset[str] = frozenset(
    {"ssrf_blocked", "residency_violation", "cache_integrity_failure", "audit_write_failure"}
)
NOT_SPECIFIED = "not_specified"
# Fields the writer sets on every record: a caller may not pass them.
PER_RECORD = frozenset({"schema", "ts", "id", "event", "pid", "prev", "prev_file", "mac"})
# Record fields that can hold server-chosen text (URLs, reasons, messages): their
# contacts are masked for tenants that redact them (see FieldRules.prepare).
_SERVER_TEXT = ("url_path", "url", "referrals", "reason", "message", "location")


def is_critical(event: str) -> bool:
    """Whether ``event`` must also reach syslog (when enabled) and a stderr warning."""
    return event in CRITICAL_EVENTS


def hash_query(audit_key: bytes, query: str) -> str:
    """Keyed hash (HMAC-SHA256 hex) of a query, stable per tenant key.

    The query is hashed exactly as given: pass the normalised form (e.g. the
    lower-cased A-label) so equal queries correlate in a SIEM.
    """
    return keyed_query_hash(derive_keys(audit_key).query, query)


def keyed_query_hash(query_key: bytes, query: str) -> str:
    """:func:`hash_query` with the query-hash key already derived."""
    return hmac.new(query_key, query.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def format_ts(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-11-27T15:49:27.123Z``."""
    secs, ms = divmod(round(epoch * 1000), 1000)
    t = time.gmtime(secs)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ms:03d}Z"
    )


def _actor() -> str:
    # The account of the effective uid, not $USER/$LOGNAME (which anyone can set).
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        # No passwd entry (some containers): the uid still attributes.
        return f"uid:{os.geteuid()}"


def _host() -> str:
    # os.uname() is what socket.gethostname() returns on POSIX, without importing socket.
    try:
        return os.uname().nodename or "unknown"
    except OSError:
        return "unknown"


def _or_not_specified(value: object) -> object:
    if value is None:
        return NOT_SPECIFIED
    if isinstance(value, tuple):
        return list(value)
    return value


def base_fields(tenant: Tenant, command: str) -> dict[str, Any]:
    """The fields every record of this process shares (compute once per process).

    ``command`` is the subcommand name (``"lookup"``, ``"batch"``), never argv: a
    command line can hold the query, which ``hash_queries`` must keep out.
    """
    from rdapctl import __version__

    c = tenant.compliance
    fields: dict[str, Any] = {
        "tenant": tenant.name,
        "actor": _actor(),
        "host": _host(),
        "rdapctl": __version__,
        "command": command,
        "policy": tenant.fingerprint(),
        "business_criticality": tenant.business_criticality,
        "purpose": _or_not_specified(tenant.purpose),
        "legal_basis": _or_not_specified(tenant.legal_basis),
        "data_categories": _or_not_specified(c.data_categories),
        "recipients": _or_not_specified(c.recipients),
        "transfers": _or_not_specified(c.transfers),
        "retention_days": tenant.audit.retention_days,
    }
    if c.ccpa:
        fields["do_not_sell"] = _or_not_specified(c.do_not_sell)
    return fields


@record
class AuditContext:
    """Per-process constant record fields for one tenant."""

    tenant: str
    policy: str
    fields: Mapping[str, Any]

    @classmethod
    def build(cls, tenant: Tenant, command: str) -> AuditContext:
        fields = base_fields(tenant, command)
        return cls(tenant.name, fields["policy"], MappingProxyType(fields))


class FieldRules:
    """The rules for the fields a caller passes with an event, for one tenant."""

    def __init__(self, tenant: Tenant, context: AuditContext, keys: AuditKeys) -> None:
        self._reserved = PER_RECORD | context.fields.keys()
        security = tenant.security
        self._masks_contacts = security.redact_pii and bool(
            {"email", "tel"} & {str(f).strip().lower() for f in security.redact_fields}
        )
        self._hash_queries = tenant.audit.hash_queries
        # A query that names a person (``query_personal``) is hashed whenever the tenant
        # redacts personal data: the trail must not hold what the answers may not.
        self._redacts = security.redact_pii and bool(security.redact_fields)
        self._query_key = keys.query

    def prepare(self, event: str, fields: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """(event, fields to record): AuditError for an unknown event or a reserved field."""
        if event not in EVENTS:
            raise AuditError(f"unknown audit event {event!r}")
        clash = self._reserved & fields.keys()
        if clash:
            raise AuditError(f"audit field(s) {', '.join(sorted(clash))} are reserved")
        out = dict(fields)
        if self._masks_contacts:
            # Server-chosen URLs and messages can carry a person's contacts ("never
            # logged: personal data from responses"); the query is the user's own.
            from rdapctl.policy.contact_text import mask_contacts

            for key in _SERVER_TEXT:
                value = out.get(key)
                if isinstance(value, str):
                    out[key] = mask_contacts(value)
                elif isinstance(value, list):
                    out[key] = [mask_contacts(v) if isinstance(v, str) else v for v in value]
        query = out.get("query")
        personal = out.pop("query_personal", False) is True
        if isinstance(query, str) and (self._hash_queries or (personal and self._redacts)):
            # Every field, not just "query": URL paths, referral URLs, reasons and
            # messages can all spell the query out (rdapctl.store.audit.scrub).
            from rdapctl.store.audit.scrub import scrub_record

            token = keyed_query_hash(self._query_key, query)
            out = scrub_record(out, query, token)
            out["query"] = token
            out["query_hashed"] = True
        return event, out


def encode_record(encode: Callable[[Any], str], rec: Mapping[str, Any]) -> bytes:
    """The UTF-8 JSON of ``rec`` by ``encode``; AuditError when it is not serialisable."""
    try:
        text = encode(rec)
    except (TypeError, ValueError, RecursionError) as exc:
        raise AuditError(f"audit record is not serialisable: {exc.__class__.__name__}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be UTF-8; escaped JSON keeps the record intact.
        return json.dumps(rec, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def random_uuid() -> str:
    """``str(uuid.uuid4())`` without building a UUID object (one per audit record)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def key_forms(key: bytes, keys: AuditKeys) -> tuple[bytes, ...]:
    """The spellings of the audit key and its subkeys that must never reach a record."""
    forms: list[bytes] = []
    for k in (key, keys.record, keys.query):
        forms += [
            k.hex().encode(),
            k.hex().upper().encode(),
            base64.b64encode(k).rstrip(b"="),
            base64.urlsafe_b64encode(k).rstrip(b"="),
        ]
    return tuple(forms)
