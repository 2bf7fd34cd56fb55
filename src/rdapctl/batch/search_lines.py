"""Batch ``search:`` lines: one search (``rdapctl search``'s grammar, see
``rdapctl.rdap.search_args``) per line, one envelope (``type: "search"``) per line.

Searches are rare in a batch: lookup lines never reach this module (``jobs.identify``
and ``jobs.answer`` branch once on the prefix), and it is imported at the first search
line. Each search line is its own job (never a repeat of another line: its key holds
its line number, see ``jobs.identify``), so each writes exactly one ``search`` audit
record, through the session's sink like a lookup's (``run_search`` writes it; a line
that does not parse gets one here). A bad line is a usage-error envelope for that
line; the run goes on.

Must not: import typer/rich, print, or touch the output.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rdapctl.app.audit_failure import tolerate_audit_failure
from rdapctl.app.search import SearchOptions, run_search
from rdapctl.batch.input import SEARCH
from rdapctl.core.errors import AuditError, RdapctlError
from rdapctl.core.jsontext import dumps_compact
from rdapctl.policy.audit_events import search_event
from rdapctl.rdap.envelope import exit_code_of, make_envelope, status_for_error
from rdapctl.rdap.search_args import parse_search_line

if TYPE_CHECKING:
    from rdapctl.app.lookup import LookupOptions
    from rdapctl.app.session import TenantSession


def expected_search_query(text: str) -> str:
    """The ``query`` of the envelope a search line gets: its pattern as sent, or the
    line's text (without ``search:``) when it does not parse."""
    try:
        return parse_search_line(text).request.pattern
    except RdapctlError:
        return text


def answer_search(
    session: TenantSession, options: LookupOptions, text: str
) -> tuple[bytes | None, str, int, str | None]:
    """One search line (``text``: without ``search:``) through ``run_search`` (its
    ``--server``, else the batch's; its ``--limit``; the batch's cache mode): the
    envelope serialised for the output (None: interrupted), its status, exit code and
    source."""
    try:
        line = parse_search_line(text)
    except RdapctlError as exc:
        envelope = _bad_line(session, text, exc)
    else:
        search_options = SearchOptions(
            server=line.server or options.server,
            limit=line.limit,
            cache_mode=options.cache_mode,
        )
        envelope = run_search(session, line.request, search_options).envelope
    error = envelope.get("error") or {}
    # Interrupted (a stop while it waited for the rate gate): the line stays unanswered
    # (--resume asks it again), as a lookup's does.
    body = None if error.get("code") == "interrupted" else dumps_compact(envelope).encode()
    return body, envelope["status"], exit_code_of(envelope), envelope.get("source")


def _bad_line(session: TenantSession, text: str, exc: RdapctlError) -> dict[str, Any]:
    """The envelope of a search line that does not parse (as ``rdapctl search -o json``
    gives for bad arguments), after its ``search`` record."""
    started = time.perf_counter()
    envelope = _error_envelope(session, text, exc)
    fields: dict[str, Any] = {
        "query": text,
        "query_type": SEARCH,
        "kind": None,
        "params": [],
        "server_host": None,
        "url_path": None,
        "pages": 0,
        "results": 0,
        "truncated": False,
        "redacted_fields": [],
        "redacted_count": 0,
        "residency": None,
        "requests": 0,
    }
    try:
        # A line that did not parse may hold anything (a name, an e-mail, credentials):
        # recorded as its keyed hash whenever the tenant redacts personal data.
        with session.lookup_scope(lambda: text, personal=True):
            event, fields = search_event(envelope, fields, (time.perf_counter() - started) * 1000)
            session.record(event, fields)
    except AuditError as audit_error:
        if not tolerate_audit_failure(session.tenant, audit_error, "AUDIT RECORD"):
            return _error_envelope(session, text, audit_error)
    return envelope


def _error_envelope(session: TenantSession, text: str, exc: RdapctlError) -> dict[str, Any]:
    envelope = make_envelope(
        query=text,
        query_type=SEARCH,
        tenant=session.tenant.name,
        status=status_for_error(exc),
        source=None,
        error=exc,
    )
    envelope["search"] = None
    envelope["results"] = []
    return envelope
