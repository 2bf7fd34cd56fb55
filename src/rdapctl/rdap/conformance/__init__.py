"""RDAP conformance checks (issue 21): a registry of checks with stable ids, and a pure
engine that runs them on one answer.

    from rdapctl.rdap.conformance import Answer, run_checks, all_checks
    findings = run_checks(Answer(body, "domain", query="example.com",
                                 http_status=200, headers=headers, url=url), "all")

Layer: rdap (imports only ``rdapctl.core``, ``rdapctl.rdap``, ``idna`` and the
standard library). See ``registry`` for the checks, ``engine`` for the run.
"""

from __future__ import annotations

from rdapctl.rdap.conformance.engine import QUERY_TYPES, Answer, run_checks
from rdapctl.rdap.conformance.registry import (
    CHECKS,
    PROFILES,
    SEVERITIES,
    Check,
    Finding,
    all_checks,
)

__all__ = [
    "CHECKS",
    "PROFILES",
    "QUERY_TYPES",
    "SEVERITIES",
    "Answer",
    "Check",
    "Finding",
    "all_checks",
    "run_checks",
]
