"""The stable, versioned JSON envelope every lookup produces (``-o json``, batch JSONL).

Pure: builds dicts. The JSON Schema is ``rdapctl/data/schemas/envelope.schema.json``; the
README documents every field. Bump ``SCHEMA_VERSION`` on any incompatible change.
"""

from __future__ import annotations

from typing import Any, Literal

from rdapctl.core.errors import ExitCode, RdapctlError
from rdapctl.core.jsontext import dumps_compact

SCHEMA_VERSION = 1
Status = Literal["ok", "not_found", "denied", "error"]
ENVELOPE_STATUSES: frozenset[str] = frozenset(Status.__args__)  # type: ignore[attr-defined]
# The statuses of a query that was answered (batch: exit 0, not asked again on resume).
ANSWERED_STATUSES: frozenset[str] = frozenset({"ok", "not_found"})


def status_for_error(error: RdapctlError) -> Status:
    if error.exit_code == ExitCode.NOT_FOUND:
        return "not_found"
    if error.exit_code == ExitCode.DENIED:
        return "denied"
    return "error"


def error_fields(error: RdapctlError) -> dict[str, Any]:
    out: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.hint:
        out["hint"] = error.hint
    out["exit_code"] = int(error.exit_code)
    return out


def make_envelope(
    *,
    query: str,
    query_type: str | None,
    tenant: str | None,
    status: Status,
    source: Literal["network", "cache"] | None = "network",
    server: str | None = None,
    url: str | None = None,
    response: Any = None,
    referrals: list[dict[str, Any]] | None = None,
    error: RdapctlError | None = None,
    age_s: float | None = None,
    http_status: int | None = None,
    policy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "query": query,
        "type": query_type,
        "tenant": tenant,
        "status": status,
        "source": source,
        "age_s": None if age_s is None else round(age_s, 3),
        "server": server,
        "url": url,
        "http_status": http_status,
        "response": response,
        "referrals": referrals or [],
        "policy": policy,
        "error": error_fields(error) if error is not None else None,
    }


def envelope_head(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope without its RDAP bodies (``response`` null, referrals without
    theirs): every field a cache hit needs to be audited and counted, at a tenth of the
    size."""
    head = dict(envelope)
    head["response"] = None
    head["referrals"] = [
        {k: v for k, v in ref.items() if k != "response"} for ref in envelope.get("referrals") or ()
    ]
    return head


# Around the body in the compact text of an envelope without referrals. Only scalars
# come before "response", and only our policy and error objects after "referrals";
# a quote inside a JSON string is escaped, so neither marker can occur in a value.
_RESPONSE_AT = b',"response":'
_NO_REFERRALS_AT = b',"referrals":[],"policy":'


def envelope_head_text(envelope: dict[str, Any], text: bytes | None = None) -> bytes:
    """Compact JSON of :func:`envelope_head`; cut out of ``text`` (the envelope's own
    compact JSON) when it has no referrals, instead of building and encoding it."""
    if text is not None and not envelope.get("referrals"):
        start = text.find(_RESPONSE_AT)
        end = text.rfind(_NO_REFERRALS_AT)
        if 0 < start < end:
            return b"".join((text[:start], b',"response":null', text[end:]))
    head = envelope_head(envelope)
    return dumps_compact(head).encode("utf-8")


def exit_code_of(envelope: dict[str, Any]) -> int:
    """The process exit code an envelope stands for."""
    if envelope["status"] == "ok":
        return int(ExitCode.OK)
    if envelope["status"] == "not_found":
        return int(ExitCode.NOT_FOUND)
    error = envelope.get("error") or {}
    return int(error.get("exit_code", ExitCode.INTERNAL))


# The HTTP status class of each exit code, for ``-o rdap`` error objects of lookups
# that ended without an HTTP error status of their own.
_STATUS_OF_EXIT = {
    ExitCode.USAGE: 400,
    ExitCode.DENIED: 403,
    ExitCode.RATE_LIMITED: 429,
    ExitCode.NOT_FOUND: 404,
    ExitCode.UPSTREAM: 502,
    ExitCode.NO_SERVER: 404,
}


def rdap_error_object(envelope: dict[str, Any]) -> dict[str, Any]:
    """An RFC 9083 error object for ``-o rdap`` when there is no RDAP object to print:
    the server's own error object when it sent one, else one whose ``errorCode`` is the
    HTTP error status that ended the lookup, or the class of its exit code (400 usage,
    403 denied, 404 not found or no server, 429 rate limited, 502 upstream, 500 else)."""
    response = envelope.get("response")
    code = response.get("errorCode") if isinstance(response, dict) else None
    if isinstance(code, int) and not isinstance(code, bool):  # RFC 9083: a number
        return response  # type: ignore[return-value]
    error = envelope.get("error") or {}
    status = envelope.get("http_status")
    if isinstance(status, int) and 400 <= status <= 599:
        code = status
    else:
        code = _STATUS_OF_EXIT.get(exit_code_of(envelope), 500)  # type: ignore[call-overload]
    description = [error.get("message", "lookup failed")]
    if error.get("hint"):
        description.append(error["hint"])
    return {
        "rdapConformance": ["rdap_level_0"],
        "errorCode": code,
        "title": error.get("code", envelope["status"]),
        "description": description,
    }
