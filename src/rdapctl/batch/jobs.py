"""A batch job and its result: what lookup threads and worker processes share.

A job is one distinct query (input lines that are the same lookup share its key);
:func:`answer` runs it through the lookup pipeline and serialises the envelope once,
for the output and (in worker processes) the cache. A ``search:`` line is a job of its
own, answered by ``rdapctl.batch.search_lines``. Results travel back to the run
as :class:`JobResult`, or as its fields in a plain tuple across a process pipe.
"""

from __future__ import annotations

import json
import queue
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from rdapctl.app.lookup import LookupOptions, run_lookup_plain
from rdapctl.batch.input import SEARCH, InputQuery
from rdapctl.core.errors import RdapctlError
from rdapctl.core.jsontext import dumps_compact
from rdapctl.rdap.envelope import exit_code_of
from rdapctl.rdap.query import Query, parse_query

if TYPE_CHECKING:
    from rdapctl.app.session import TenantSession

# What a worker gets for one query: (dedupe key, input text, forced type, the query as
# parsed by the parent for the key (None: it did not parse, the lookup reports why; or
# a search: line, forced type "search", which the worker parses)).
Job = tuple[tuple[str, ...], str, "str | None", "Query | None"]


@dataclass(slots=True)
class JobResult:
    key: tuple[str, ...]
    body: bytes | None  # the serialised envelope without "line"; None: interrupted
    status: str
    code: int
    source: str | None
    audit: dict[str, Any]


class EnvelopeAttacher(Protocol):
    """Where :func:`answer` hands the bytes it serialised an envelope to (the cache
    writes of a worker process, see ``rdapctl.batch.collectors.CacheWrites``)."""

    def attach(self, envelope: dict[str, Any], body: bytes) -> None: ...


def not_started(job: Job) -> JobResult:
    """The result of a job no thread ran: its lines stay unanswered (--resume)."""
    return JobResult(job[0], None, "error", 0, None, {})


def identify(query: InputQuery) -> Job:
    """The job for an input line; its key is what makes two lines the same lookup
    (normalised, so AS1 == as1). A ``search:`` line is a search, never the same as
    another line (``rdapctl.batch.search_lines``)."""
    if query.forced_type == SEARCH:  # the one branch on it in the parent
        # Keyed by its line: a repeat would share one result and one audit record.
        return (SEARCH, str(query.line)), query.text, SEARCH, None
    try:
        parsed = parse_query(query.text, query.forced_type)
    except RdapctlError:
        return ("raw", query.forced_type or "", query.text), query.text, query.forced_type, None
    return (parsed.type, parsed.value), query.text, query.forced_type, parsed


def expected_query(query: InputQuery) -> str:
    """The ``query`` a result of this input line holds (the parsed value, or the text
    as given when it does not parse; of a search line, its pattern)."""
    if query.forced_type == SEARCH:
        from rdapctl.batch.search_lines import expected_search_query

        return expected_search_query(query.text)
    parsed = identify(query)[3]
    return parsed.value if parsed is not None else query.text


def audit_summary(envelope: dict[str, Any]) -> dict[str, Any]:
    """The fields of a ``lookup`` record for a repeated query answered without a fetch."""
    url = envelope.get("url")
    parts = urlsplit(url) if url else None
    policy = envelope.get("policy") or {}
    return {
        "query": envelope.get("query"),
        "query_type": envelope.get("type"),
        "server_host": parts.hostname if parts else None,
        "url_path": parts.path if parts else None,
        "http_status": envelope.get("http_status"),
        "redacted_fields": list(policy.get("redacted_fields") or []),
        "redacted_count": int(policy.get("redacted_count") or 0),
        "residency": policy.get("residency"),
        "referrals": [],
        "status": envelope["status"],
        "exit_code": exit_code_of(envelope),
    }


def answer(
    session: TenantSession,
    options: LookupOptions,
    job: Job,
    writes: EnvelopeAttacher | None = None,
) -> JobResult:
    """One query through ``run_lookup``, serialised once for output (and the cache);
    a ``search:`` line through ``run_search`` (``rdapctl.batch.search_lines``)."""
    key, text, forced_type, parsed = job
    if forced_type != options.forced_type:
        if forced_type == SEARCH:  # a search: line (only typed lines get here)
            from rdapctl.batch.search_lines import answer_search

            body, status, code, source = answer_search(session, options, text)
            return JobResult(key, body, status, code, source, {"status": status, "exit_code": code})
        options = LookupOptions(
            forced_type=forced_type,
            referrals=options.referrals,
            cache_mode=options.cache_mode,
            check=options.check,
        )
    envelope, plain, recorded = run_lookup_plain(session, text, options, parsed=parsed)
    error = envelope.get("error") or {}
    if error.get("code") == "interrupted":
        body = None
    else:
        body = None
        if plain is not None and envelope.get("source") == "cache":
            body = splice_cache_hit(plain, envelope.get("age_s"))
            if body is None:  # laid out otherwise: the envelope may be a head, use the text
                full = json.loads(plain)
                full.update(source="cache", age_s=envelope.get("age_s"))
                body = dumps_compact(full).encode("utf-8")
        if body is None:
            body = dumps_compact(envelope).encode("utf-8")
            if writes is not None:
                writes.attach(envelope, body)
    # What the lookup record said, for records of its repeats (see BatchRun.record_duplicate).
    audit = recorded if recorded is not None else audit_summary(envelope)
    return JobResult(
        key, body, envelope["status"], audit["exit_code"], envelope.get("source"), audit
    )


def next_job(jobs: queue.SimpleQueue[Any], session: TenantSession) -> Any:
    """The next job of a lookup thread; before waiting for one, the thread's session
    lets go of what it holds (see ``TenantSession.idle``)."""
    try:
        return jobs.get_nowait()
    except queue.Empty:
        session.idle()
        return jobs.get()


# How every stored envelope reads between "status" and "server" (make_envelope's order;
# only strings and numbers come before it, so the first match is the top-level key).
_STORED_SOURCE = b',"source":"network","age_s":null,"server":'


def splice_cache_hit(plain: bytes, age_s: object) -> bytes | None:
    """The stored envelope text with the hit's ``source`` and ``age_s``: the bytes that
    encoding the hit's envelope would give, without decoding and encoding ~KBs again.
    None when the text is not laid out as expected (the caller encodes instead)."""
    at = plain.find(b',"source":')
    if at < 0 or not plain.startswith(_STORED_SOURCE, at) or type(age_s) is not float:
        return None
    return b"".join(
        (
            plain[:at],
            b',"source":"cache","age_s":',
            repr(age_s).encode(),
            b',"server":',
            plain[at + len(_STORED_SOURCE) :],
        )
    )
