"""Every recorded registry answer, under three tenants: no contact of a person survives
in any output, cache read-back or audit file, and organisations in exempt roles keep
theirs exactly when the tenant exempts them (issue 17).

The entities are classified here independently of rdapctl's own code: exempt when all
their roles are registrar or abuse and no card says ``kind: individual``. A value
counts only when it appears nowhere in the answer but in the cards it is classified by
(so a name a registry repeats in free text, or a mailbox shared by an exempt and a
non-exempt entity, proves nothing either way).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rdapctl.cli.render.envelope import render_envelope
from tests.hostile import audit_records, invoke, lab_profiles
from tests.rawserver import RawServer, Request, response
from tests.support import RDAP_FIXTURES, all_fixture_files

EXEMPT_ROLES = {"registrar", "abuse"}
FIXTURES = [p.relative_to(RDAP_FIXTURES).as_posix() for p in all_fixture_files()]


def _entities(node: Any) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("vcardArray"), list):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _props(entity: dict[str, Any]) -> list[list[Any]]:
    card = entity["vcardArray"]
    rows = card[1] if len(card) > 1 and isinstance(card[1], list) else []
    return [p for p in rows if isinstance(p, list) and len(p) >= 4 and isinstance(p[0], str)]


def _exempt(entity: dict[str, Any]) -> bool:
    roles = entity.get("roles")
    if not isinstance(roles, list) or not roles:
        return False
    if not all(isinstance(r, str) and r.lower() in EXEMPT_ROLES for r in roles):
        return False
    kinds = [p[3] for p in _props(entity) if p[0].lower() == "kind"]
    return "individual" not in [k.lower() for k in kinds if isinstance(k, str)]


def _values(entity: dict[str, Any]) -> set[str]:
    """The e-mail addresses, phone numbers and names of one entity's jCard."""
    found: set[str] = set()
    for prop in _props(entity):
        name, value = prop[0].rpartition(".")[2].lower(), prop[3]
        if not isinstance(value, str) or len(value.strip()) < 6:
            continue
        value = value.strip()
        if name in ("email", "fn"):
            found.add(value)
        elif name == "tel":
            found.add(value.removeprefix("tel:"))
        elif name == "contact-uri" and value.lower().startswith("mailto:"):
            found.add(value[7:])
    return found


def classify(raw: Any) -> tuple[set[str], set[str]]:
    """(values of persons and non-exempt entities, values of exempt organisations)."""
    persons: dict[str, int] = {}
    organisations: dict[str, int] = {}
    for entity in _entities(raw):
        target = organisations if _exempt(entity) else persons
        for value in _values(entity):
            target[value] = target.get(value, 0) + 1
    text = json.dumps(raw, ensure_ascii=False)

    def only_there(values: dict[str, int]) -> set[str]:
        return {
            v for v, n in values.items() if text.count(json.dumps(v, ensure_ascii=False)[1:-1]) == n
        }

    return only_there(persons) - set(organisations), only_there(organisations) - set(persons)


TENANTS = {
    "default": "",
    "gdpr": "",
    "none-exempt": "redaction_exempt_roles = []",
}


@pytest.fixture(scope="module")
def answers() -> dict[str, bytes]:
    return {f"/fx/{i}": (RDAP_FIXTURES / rel).read_bytes() for i, rel in enumerate(FIXTURES)}


def _serve(answers: dict[str, bytes]) -> RawServer:
    def script(req: Request) -> list[bytes]:
        body = answers[req.path]
        code = json.loads(body or b"null")
        status = "200 OK"
        if isinstance(code, dict) and isinstance(code.get("errorCode"), int):
            status = f"{code['errorCode']} Error"
        return [response(body, status=status)]

    return RawServer(script)


def test_there_are_answers_on_both_sides() -> None:
    """Guard: the sweep below really covers persons and exempt organisations."""
    persons = organisations = 0
    for rel in FIXTURES:
        secret, kept = classify(json.loads((RDAP_FIXTURES / rel).read_bytes() or b"null"))
        persons += bool(secret)
        organisations += bool(kept)
    assert persons >= 40
    assert organisations >= 20


@pytest.mark.parametrize("tenant", list(TENANTS))
def test_no_person_survives_and_organisations_keep_theirs(
    answers: dict[str, bytes], rdapctl_home: Path, tmp_path: Path, tenant: str
) -> None:
    with _serve(answers) as server:
        top = "[tenants.lab.compliance]\ngdpr = true" if tenant == "gdpr" else ""
        lab_profiles(rdapctl_home, server.port, extra=TENANTS[tenant])
        if top:
            path = rdapctl_home / "profiles.toml"
            path.write_text(path.read_text() + "\n" + top + "\n")
        source = tmp_path / "in.txt"
        source.write_text("".join(f"url:{server.url(p)}\n" for p in answers))
        out = tmp_path / "network.jsonl"
        code, _, err = invoke("batch", str(source), "--output", str(out), "--no-progress")
        assert code in (0, 6, 7), err  # 404s and a 501 among the fixtures
        cached = tmp_path / "cache.jsonl"
        code, _, err = invoke(
            "batch", str(source), "--output", str(cached), "--no-progress", "--offline"
        )
        assert code in (0, 6, 7), err  # 404s and a 501 among the fixtures
    audit = json.dumps(audit_records(rdapctl_home))
    by_line = {json.loads(x)["line"]: x for x in out.read_text().splitlines()}
    from_cache = {json.loads(x)["line"]: x for x in cached.read_text().splitlines()}
    assert len(by_line) == len(from_cache) == len(FIXTURES)
    kept_seen = 0
    for line, rel in enumerate(FIXTURES, start=1):
        raw = json.loads((RDAP_FIXTURES / rel).read_bytes() or b"null")
        secret, kept = classify(raw)
        envelope = json.loads(by_line[line])
        view = io.StringIO()
        render_envelope(envelope, Console(file=view, width=100, force_terminal=False))
        outputs = {
            "json": json.dumps(envelope, ensure_ascii=False),
            "cache": from_cache[line],
            "text": view.getvalue(),
        }
        for where, text in outputs.items():
            leaked = sorted(v for v in secret if v in text)
            assert leaked == [], (rel, where, leaked)
            if tenant == "none-exempt":
                leaked = sorted(v for v in kept if v in text)
                assert leaked == [], (rel, where, leaked)
        if tenant != "none-exempt" and envelope["status"] == "ok":
            missing = sorted(v for v in kept if v not in outputs["json"])
            assert missing == [], (rel, missing)
            kept_seen += len(kept)
        assert not any(v in audit for v in secret | kept), rel
    if tenant != "none-exempt":
        assert kept_seen >= 20
