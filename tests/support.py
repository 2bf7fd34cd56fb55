"""Helpers shared by tests (fixtures on disk)."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
RDAP_FIXTURES = FIXTURES / "rdap"


def load_fixture(relpath: str) -> object:
    return json.loads((RDAP_FIXTURES / relpath).read_text(encoding="utf-8"))


def all_fixture_files() -> list[Path]:
    return sorted(p for p in RDAP_FIXTURES.rglob("*.json"))
