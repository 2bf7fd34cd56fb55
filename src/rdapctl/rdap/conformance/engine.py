"""Run the conformance checks on one answer: ``run_checks(answer, profile)``.

Pure and total: whatever the body is (any JSON value, any shape), the result is a list
of findings sorted by severity, then pointer, then id; nothing is raised. Every
finding's pointer resolves in the body (or is "", the whole answer) and its id is in
``registry.CHECKS``.

Must not: import anything beyond ``rdapctl.core``, this package, ``idna`` and the
standard library; send anything anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from rdapctl.core.records import record
from rdapctl.rdap.answer import EXPECTED_CLASS
from rdapctl.rdap.conformance import common, extensions, http, icann, jcard, names, walk
from rdapctl.rdap.conformance.registry import (
    CHECKS,
    PROFILES,
    Finding,
    Findings,
    in_profile,
    pointer,
    sorted_findings,
    type_name,
)

QueryType = Literal["domain", "ip", "autnum", "entity", "nameserver", "help", "search"]
QUERY_TYPES: tuple[str, ...] = ("domain", "ip", "autnum", "entity", "nameserver", "help", "search")


@record
class Answer:
    """What was received, as the server sent it (before any redaction).

    ``query`` is what was asked (``192.0.2.1``, ``2001:db8::/32``, ``AS64496``), for the
    "queried address inside the network" checks; ``headers`` has lower-case names, and
    None (with ``url`` and ``http_status``) skips the HTTP checks, as for an answer read
    from a file."""

    body: Any
    query_type: str
    query: str = ""
    http_status: int | None = None
    headers: Mapping[str, str] | None = None
    url: str | None = None
    redirects: int = 0


def run_checks(answer: Answer, profile: str = "all") -> list[Finding]:
    """The findings of every check of ``profile`` (``rfc``, ``icann-gtld`` or ``all``)
    on ``answer``, sorted by severity, pointer and id. ValueError for an unknown
    profile (a caller's mistake; nothing in the answer can raise)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown conformance profile {profile!r}")
    out = Findings()
    http.check_http(
        answer.body, answer.http_status, answer.headers, answer.url, answer.redirects, out
    )
    body = answer.body
    if not isinstance(body, dict):
        out.add("rfc9083.body.object", "", f"the answer is {type_name(body)}, not a JSON object")
    else:
        _check_body(body, answer, out)
    kept = [f for f in out.items if in_profile(CHECKS[f.id], profile)]
    return sorted_findings(_unique(kept))


def _unique(items: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for item in items:
        key = (item.id, item.pointer, item.message)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _is_error(body: dict[str, Any], answer: Answer) -> bool:
    return "errorCode" in body or (answer.http_status is not None and answer.http_status >= 400)


def _check_body(body: dict[str, Any], answer: Answer, out: Findings) -> None:
    query_type = answer.query_type
    error = _is_error(body, answer)
    top_expected = None if error else EXPECTED_CLASS.get(query_type)
    extensions.check_conformance(body, out)
    extensions.check_redacted(body, out)
    extensions.check_metadata(body, out)
    notices = body.get("notices")
    if isinstance(notices, list):
        common.check_notices(notices, "/notices", out)
    if query_type == "search" and not error:
        _check_search_results(body, out)
    for node in walk.nodes(body, top_expected):
        walk.check_member_types(node, out)
        common.check_node(node, out)
        if not node.top:
            extensions.check_nested_conformance(node.obj, node.pointer, out)
        kind = node.kind
        if kind in ("domain", "nameserver"):
            names.check_names(node, out)
        elif kind == "ip network":
            names.check_network(node, answer.query if query_type == "ip" else None, out)
        elif kind == "autnum":
            names.check_autnum(node, answer.query if query_type == "autnum" else None, out)
        elif kind == "entity":
            jcard.check_jcard(node, out)
    if top_expected is not None:
        common.check_self_link(walk.Node("", body, top_expected, True), out)
    if not error:
        icann.check_icann(body, query_type, out)


def _check_search_results(body: dict[str, Any], out: Findings) -> None:
    arrays = [member for member in body if walk.results_class(member) is not None]
    if not arrays:
        out.add("rfc9083.search.results", "", "the search answer has no results array")
    for member in arrays:
        value = body[member]
        if not isinstance(value, list):
            out.add(
                "rfc9083.search.results",
                pointer("", member),
                f"{member} is {type_name(value)}, not an array",
            )
            continue
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                out.add(
                    "rfc9083.search.results",
                    pointer("", member, index),
                    f"a result is {type_name(item)}, not an object",
                )
