"""Helpers shared by tests (fixtures on disk)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
RDAP_FIXTURES = FIXTURES / "rdap"


def load_fixture(relpath: str) -> object:
    return json.loads((RDAP_FIXTURES / relpath).read_text(encoding="utf-8"))


def all_fixture_files() -> list[Path]:
    return sorted(p for p in RDAP_FIXTURES.rglob("*.json"))


def loopback_profiles(home: Path, port: int, *, tenant: str = "lab", extra: str = "") -> Path:
    """A profiles file whose tenant may talk to the test server on 127.0.0.1:port.

    ``extra`` is appended verbatim (more tables for this or other tenants).
    """
    home.mkdir(parents=True, exist_ok=True)
    path = home / "profiles.toml"
    path.write_text(
        f"""default_tenant = "{tenant}"

[tenants.{tenant}]
isolation = "standard"

[tenants.{tenant}.security]
allow_http = true
allow_private_ips = ["127.0.0.1/32"]
allowed_ports = [{port}]
{extra}
""",
        encoding="utf-8",
    )
    return path


# Audit tests: a fixed audit key and a clock starting on a known UTC day.
KEY = bytes(range(32))
DAY0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC).timestamp()
DAY_S = 86400.0


class StepClock:
    """A clock that advances by ``step`` seconds on every reading."""

    def __init__(self, start: float = DAY0, step: float = 0.25) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        value = self.now
        self.now += self.step
        return value
