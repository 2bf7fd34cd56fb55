"""Issue 21: every real answer in ``tests/fixtures/rdap/`` through every profile, the
check registry itself, and golden findings for a handful of answers.

Golden files: ``tests/fixtures/conformance/<name>.json`` hold the findings (profile
"all") of the answers in ``GOLDEN``. After a deliberate change to a check, regenerate
them with ``RDAPCTL_REGEN_GOLDEN=1 pytest tests/test_conformance_fixtures.py`` and
review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from rdapctl.core.records import as_dict
from rdapctl.rdap.conformance import (
    CHECKS,
    PROFILES,
    QUERY_TYPES,
    SEVERITIES,
    Answer,
    Finding,
    all_checks,
    run_checks,
)
from tests.support import FIXTURES, RDAP_FIXTURES, all_fixture_files

GOLDEN_DIR = FIXTURES / "conformance"
REGENERATE = os.environ.get("RDAPCTL_REGEN_GOLDEN") == "1"
# The query type each fixture folder answers.
FOLDER_TYPES = {
    "autnum": "autnum",
    "domain-cctld": "domain",
    "domain-gtld-registry": "domain",
    "domain-registrar": "domain",
    "domain-reverse": "domain",
    "entity": "entity",
    "error": "domain",
    "help": "help",
    "ip-network": "ip",
    "nameserver": "nameserver",
    "odd": "domain",
    "redacted": "domain",
    "search": "search",
}
# golden name -> (fixture, query type, the rest of the answer record)
GOLDEN: dict[str, tuple[str, str, dict[str, Any]]] = {
    "verisign-com-google.com-2022-05": (
        "domain-gtld-registry/verisign-com-google.com-2022-05.json",
        "domain",
        {"query": "google.com"},
    ),
    "markmonitor-google.com": ("domain-registrar/markmonitor-google.com.json", "domain", {}),
    "afnic-fr-afnic.fr": ("domain-cctld/afnic-fr-afnic.fr.json", "domain", {}),
    "registrar-domain-nonconformant-jcard": (
        "odd/registrar-domain-nonconformant-jcard.json",
        "domain",
        {},
    ),
    "ripe-ip-109.40.0.0-vodafone-mobile": (
        "ip-network/ripe-ip-109.40.0.0-vodafone-mobile.json",
        "ip",
        {"query": "109.40.1.1"},
    ),
    "arin-as63311": ("autnum/arin-as63311.json", "autnum", {"query": "AS63311"}),
    "icann.org-registrant-excerpt-redacted": (
        "redacted/icann.org-registrant-excerpt-redacted.json",
        "domain",
        {},
    ),
    "ripe-404-error": (
        "error/ripe-404-error.json",
        "domain",
        {"http_status": 404, "headers": {"content-type": "application/rdap+json"}},
    ),
}


def fixture_id(path: Path) -> str:
    return str(path.relative_to(RDAP_FIXTURES))


def resolves(body: Any, pointer: str) -> bool:
    """Whether the RFC 6901 ``pointer`` names a member of ``body``."""
    if pointer == "":
        return True
    if not pointer.startswith("/"):
        return False
    node = body
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and re.fullmatch(r"0|[1-9][0-9]*", token):
            if int(token) >= len(node):
                return False
            node = node[int(token)]
        else:
            return False
    return True


def assert_well_formed(findings: list[Finding], body: Any) -> None:
    """Every finding: registered, with its check's severity and reference, a pointer that
    resolves; the list sorted by severity, pointer and id."""
    for finding in findings:
        check = CHECKS[finding.id]
        assert finding.severity == check.severity
        assert finding.reference == check.reference
        assert resolves(body, finding.pointer), finding
        assert finding.message and "\n" not in finding.message
    ranks = [(SEVERITIES.index(f.severity), f.pointer, f.id, f.message) for f in findings]
    assert ranks == sorted(ranks)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    return []


def _personal_strings(body: Any) -> set[str]:
    """The values of jCard properties, the lines of descriptions, and every string with
    an "@" (4 characters or more): what a message must never quote."""
    found: set[str] = set()
    stack: list[Any] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            card = node.get("vcardArray")
            if isinstance(card, list) and len(card) == 2 and isinstance(card[1], list):
                for item in card[1]:
                    if isinstance(item, list):
                        found.update(_strings(item[3:]))
            found.update(_strings(node.get("description")))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and "@" in node:
            found.add(node)
    return {text for text in found if len(text) >= 4}


@pytest.mark.parametrize("path", all_fixture_files(), ids=fixture_id)
def test_every_fixture_runs_through_every_profile(path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    natural = FOLDER_TYPES[path.parent.name]
    personal = _personal_strings(body)
    for query_type in QUERY_TYPES:
        by_profile = {}
        for profile in PROFILES:
            findings = run_checks(Answer(body, query_type), profile)
            assert_well_formed(findings, body)
            assert findings == run_checks(Answer(body, query_type), profile)  # deterministic
            by_profile[profile] = set(findings)
            if query_type == natural:
                for finding in findings:
                    assert not any(text in finding.message for text in personal), finding
        assert by_profile["rfc"] | by_profile["icann-gtld"] == by_profile["all"]
        for profile in ("rfc", "icann-gtld"):
            assert all(profile in CHECKS[f.id].profiles for f in by_profile[profile])


def test_a_clean_registry_answer_has_only_the_findings_it_deserves() -> None:
    body = json.loads((RDAP_FIXTURES / GOLDEN["verisign-com-google.com-2022-05"][0]).read_text())
    findings = run_checks(Answer(body, "domain", query="google.com"), "icann-gtld")
    assert findings == []


def test_the_check_list() -> None:
    checks = all_checks()
    ids = [check.id for check in checks]
    assert ids == sorted(set(ids)) == sorted(CHECKS)
    for check in checks:
        assert re.fullmatch(r"(rfc[0-9]{4}|icann)(\.[a-z0-9-]+)+", check.id), check.id
        assert check.severity in SEVERITIES
        assert check.profiles and set(check.profiles) <= {"rfc", "icann-gtld"}
        assert check.reference.startswith(("RFC ", "ICANN ")), check.id
        assert check.title and "\n" not in check.title
    assert {check.id for check in checks if "icann-gtld" in check.profiles} >= {
        "icann.abuse.email",
        "rfc7480.https",
    }


def _golden(name: str) -> dict[str, Any]:
    fixture, query_type, extra = GOLDEN[name]
    body = json.loads((RDAP_FIXTURES / fixture).read_text(encoding="utf-8"))
    findings = run_checks(Answer(body, query_type, **extra), "all")
    return {
        "fixture": fixture,
        "query_type": query_type,
        "answer": extra,
        "profile": "all",
        "findings": [as_dict(finding) for finding in findings],
    }


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_findings(name: str) -> None:
    path = GOLDEN_DIR / f"{name}.json"
    actual = _golden(name)
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected, f"findings changed; regenerate with RDAPCTL_REGEN_GOLDEN=1 ({path})"


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown conformance profile"):
        run_checks(Answer({}, "domain"), "icann")
