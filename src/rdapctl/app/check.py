"""``rdapctl check``: conformance findings for one RDAP answer, fetched for a tenant or
read from a file.

A live check asks like a lookup (query type allowed, server choice, residency before
sending, the network guard, residency and the rate gate on every hop) but never from
the cache, and runs the checks on the answer as the server sent it, before any
redaction: findings name members by JSON Pointer and never quote personal data, so
nothing the policy would remove reaches the report. One ``check`` audit record per
check. A saved answer (``--file``) is checked with no tenant, no network, no record.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdapctl.core.errors import ConfigError, RdapctlError, UsageError
from rdapctl.core.records import record
from rdapctl.rdap.conformance import PROFILES, SEVERITIES, Answer, Finding, run_checks

if TYPE_CHECKING:
    from rdapctl.app.session import TenantSession
    from rdapctl.net.client import HttpResponse
    from rdapctl.rdap.bootstrap import Bootstrap
    from rdapctl.rdap.query import Query

# A saved answer larger than this is not read (the largest real answers are ~2 MB).
MAX_FILE_BYTES = 50_000_000
FAIL_ON = ("error", "warning", "never")


@record
class CheckOptions:
    forced_type: str | None = None
    server: str | None = None
    profile: str | None = None  # None: chosen from the server (icann-gtld for gTLDs)


def summary(findings: list[Finding]) -> dict[str, int]:
    """How many findings of each severity."""
    counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        counts[finding.severity] += 1
    return counts


def failed(findings: list[Finding], fail_on: str) -> bool:
    """Whether a finding at or above ``fail_on`` (error, warning, never) exists."""
    if fail_on == "never":
        return False
    worst = SEVERITIES.index(fail_on)
    return any(SEVERITIES.index(f.severity) <= worst for f in findings)


def check_profile(profile: str | None) -> str | None:
    """``profile`` when it names one (UsageError otherwise); None stays None."""
    if profile is not None and profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}", hint=f"one of: {', '.join(PROFILES)}")
    return profile


def auto_profile(bootstrap: Bootstrap, query_type: str, tld: str | None) -> str:
    """``all`` (rfc and icann-gtld) for a domain or name server under a gTLD: a TLD the
    IANA bootstrap lists that is not a two-letter ccTLD (whichever server answered: the
    registry, a registrar, a mirror); ``rfc`` otherwise (ccTLDs, RIRs, entities)."""
    if (
        query_type not in ("domain", "nameserver")
        or tld is None
        or len(tld) <= 2
        or tld.startswith("xn--")  # IDN ccTLDs cannot be told from IDN gTLDs here
        or tld == "arpa"
    ):
        return "rfc"
    from rdapctl.rdap.query import Query

    stand_in = Query("domain", f"x.{tld}", f"x.{tld}", f"domain/x.{tld}")
    return "all" if bootstrap.match(stand_in) is not None else "rfc"


def answer_tld(query: Query, url: str) -> str | None:
    """The TLD of the name the answer is about: the query's, or for a full URL the last
    label of the name its path ends in."""
    if query.type != "url":
        return query.tld
    from urllib.parse import unquote, urlsplit

    try:
        name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]).lower().rstrip(".")
    except ValueError:
        return None
    tld = name.rsplit(".", 1)[-1] if "." in name else ""
    return tld if tld.isascii() and tld.replace("-", "").isalnum() else None


def report(
    *,
    query: str,
    query_type: str | None,
    url: str | None,
    http_status: int | None,
    profile: str,
    findings: list[Finding],
    error: RdapctlError | None = None,
) -> dict[str, Any]:
    """The ``-o json`` document of a check (schema ``check``)."""
    from rdapctl.rdap.envelope import SCHEMA_VERSION, error_fields

    return {
        "schema": SCHEMA_VERSION,
        "query": query,
        "type": query_type,
        "url": url,
        "http_status": http_status,
        "profile": profile,
        "findings": [
            {
                "id": f.id,
                "severity": f.severity,
                "pointer": f.pointer,
                "message": f.message,
                "reference": f.reference,
            }
            for f in findings
        ],
        "summary": summary(findings),
        "error": error_fields(error) if error is not None else None,
    }


def findings_of(
    body: Any,
    query_type: str,
    query: str,
    *,
    http_status: int | None,
    headers: dict[str, str] | None,
    url: str | None,
    redirects: int,
    profile: str,
) -> list[Finding]:
    """The findings of ``profile`` on one answer as it was received."""
    answer = Answer(
        body,
        query_type,
        query=query,
        http_status=http_status,
        headers=headers,
        url=url,
        redirects=redirects,
    )
    return run_checks(answer, profile)


def lookup_checks(
    bootstrap: Bootstrap, query: Query, response: HttpResponse, profile: str
) -> dict[str, Any]:
    """``lookup --check``: the envelope's ``checks`` member for the answer ``response``
    (before any policy), with ``profile`` "auto" chosen from the server."""
    from rdapctl.rdap.answer import expected_type

    kind = _answer_type(query.type, response.url, expected_type(query.type, response.url))
    tld = answer_tld(query, response.url)
    chosen = auto_profile(bootstrap, kind, tld) if profile == "auto" else profile
    findings = findings_of(
        response.body,
        kind,
        query.value,
        http_status=response.status,
        headers=response.headers,
        url=response.url,
        redirects=len(response.redirects),
        profile=chosen,
    )
    full = report(
        query=query.value,
        query_type=kind,
        url=response.url,
        http_status=response.status,
        profile=chosen,
        findings=findings,
    )
    return {"profile": chosen, "findings": full["findings"], "summary": full["summary"]}


def check_live(session: TenantSession, raw: str, options: CheckOptions) -> dict[str, Any]:
    """Fetch ``raw`` for the session's tenant and check the answer (an HTTP error
    answer too); the report, after its ``check`` audit record is written. RdapctlError
    when the check could not start or no answer came."""
    import time

    from rdapctl.app.fetch import check_given_url, fetch
    from rdapctl.app.lookup_policy import check_residency, record_policy_event
    from rdapctl.app.lookup_trace import LookupTrace, url_host_and_path
    from rdapctl.policy.limits import lookup_budget
    from rdapctl.policy.server_choice import choose_server
    from rdapctl.policy.tenant import require_query_type
    from rdapctl.rdap.answer import expected_type
    from rdapctl.rdap.bootstrap import query_url
    from rdapctl.rdap.query import parse_query

    started = time.perf_counter()
    tenant = session.tenant
    query = parse_query(raw, options.forced_type)
    trace = LookupTrace(query=query, budget=lookup_budget(tenant, session.runtime.monotonic()))
    profile = check_profile(options.profile)
    fields: dict[str, Any] = {"query": query.value, "query_type": query.type}
    answer: tuple[str, int, Any, dict[str, str] | None, int] | None = None
    failure: RdapctlError | None = None
    with session.lookup_scope(lambda: query.value):
        try:
            require_query_type(tenant, query.type)
            trace.choice = choose_server(query, tenant, session.bootstrap, options.server)
            trace.url = query_url(trace.choice, query)
            if options.server is not None or query.type == "url":
                check_given_url(trace.url)
            check_residency(session, trace.url, query.tld)
            response, _ = fetch(session, trace.url, query.tld, trace)
            answer = (
                response.url,
                response.status,
                response.body,
                response.headers,
                len(response.redirects),
            )
        except RdapctlError as exc:
            if exc.answer is not None and exc.answer[1] >= 400:
                # An HTTP error that ended the request is an answer to check too (its
                # headers are not kept: no media type or CORS finding for it).
                answer = (exc.answer[0], exc.answer[1], exc.answer[2], None, 0)
            else:
                failure = exc
        host, path = url_host_and_path(answer[0] if answer else trace.url or "", None, None)
        fields.update(
            server_host=host,
            url_path=path,
            http_status=answer[1] if answer else None,
            requests=trace.budget.sent if trace.budget else 0,
        )
        if failure is not None or answer is None:
            assert failure is not None
            record_policy_event(session, failure, dict(fields))
            _record(session, fields, failure, None, profile or "rfc", started)
            raise failure
    url, status, body, headers, redirects = answer
    kind = _answer_type(query.type, url, expected_type(query.type, url))
    chosen = profile or auto_profile(session.bootstrap, kind, answer_tld(query, url))
    findings = findings_of(
        body,
        kind,
        query.value,
        http_status=status,
        headers=headers,
        url=url,
        redirects=redirects,
        profile=chosen,
    )
    with session.lookup_scope(lambda: query.value):
        _record(session, fields, None, findings, chosen, started)
    return report(
        query=query.value,
        query_type=kind,
        url=url,
        http_status=status,
        profile=chosen,
        findings=findings,
    )


def _answer_type(query_type: str, url: str, expected: str | None) -> str:
    """What the answer should be: the lookup the query (or its URL's path) names, a
    search for a search URL, else the query type as it is."""
    if expected is not None:
        return expected
    from urllib.parse import urlsplit

    from rdapctl.rdap.search import SEARCH_KINDS

    try:
        segments = [s for s in urlsplit(url).path.split("/") if s]
    except ValueError:
        segments = []
    if any(segment in SEARCH_KINDS for segment in segments[-3:]):
        return "search"
    return query_type


def _record(
    session: TenantSession,
    fields: dict[str, Any],
    error: RdapctlError | None,
    findings: list[Finding] | None,
    profile: str,
    started: float,
) -> None:
    """The ``check`` audit record: where, which profile, how many findings of each
    severity and their ids (never their messages)."""
    import time

    fields = dict(fields)
    fields.update(
        profile=profile,
        status="error" if error is not None else "ok",
        error_code=error.code if error is not None else None,
        findings=summary(findings or []),
        finding_ids=sorted({f.id for f in findings or []}),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
    from rdapctl.app.audit_failure import tolerate_audit_failure
    from rdapctl.core.errors import AuditError

    try:
        session.record("check", fields)
    except AuditError as exc:
        # As for a lookup: nothing is shown that was not recorded, unless fail_open.
        if not tolerate_audit_failure(session.tenant, exc, "AUDIT RECORD"):
            raise


def check_file(
    path: Path,
    query_type: str,
    *,
    query: str = "",
    headers_path: Path | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """Check a saved answer (and its saved headers); the report."""
    from rdapctl.rdap.body import BodyError, parse_json
    from rdapctl.rdap.conformance import QUERY_TYPES

    if query_type not in QUERY_TYPES:
        raise UsageError(
            f"--file needs --type, one of: {', '.join(QUERY_TYPES)}",
        )
    body_bytes = _read(path, "answer")
    try:
        body = parse_json(body_bytes)
    except BodyError as exc:
        raise ConfigError(f"{path} is not JSON: {exc.message}", code="bad_json") from None
    status, headers = None, None
    if headers_path is not None:
        status, headers = parse_headers(_read(headers_path, "headers"))
    chosen = check_profile(profile) or "rfc"
    findings = findings_of(
        body,
        query_type,
        query,
        http_status=status,
        headers=headers,
        url=None,
        redirects=0,
        profile=chosen,
    )
    return report(
        query=query or str(path),
        query_type=query_type,
        url=None,
        http_status=status,
        profile=chosen,
        findings=findings,
    )


def parse_headers(data: bytes) -> tuple[int | None, dict[str, str]]:
    """A saved header block (``curl -D``): an optional status line, then ``Name: value``
    lines; names lower-cased, repeats joined with ", " (the last block after redirects)."""
    text = data.decode("utf-8", "replace")
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    status: int | None = None
    headers: dict[str, str] = {}
    for line in (blocks[-1] if blocks else "").split("\n"):
        if not line.strip():
            continue
        if line.startswith("HTTP/"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isascii() and parts[1].isdigit():
                status = int(parts[1])
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            continue
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return status, headers


def _read(path: Path, what: str) -> bytes:
    """The file's bytes, at most ``MAX_FILE_BYTES`` (a device or a pipe has no size to
    check first: the read itself is bounded)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"the {what} file {path} is larger than {MAX_FILE_BYTES:,} bytes")
    return data
