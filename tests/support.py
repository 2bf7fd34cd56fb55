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
