"""Helpers for tests against hostile servers: a lab tenant, the CLI in-process, the audit
trail read back."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from rdapctl.cli import app

runner = CliRunner()

# Bytes a terminal would act on (C0 other than newline and tab, ESC, DEL, C1, bidi and
# zero-width controls): none may reach stderr raw.
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def lab_profiles(
    home: Path, *ports: int, tenant: str = "lab", extra: str = "", top: str = ""
) -> Path:
    """A tenant that may talk plain http to 127.0.0.1 on ``ports`` (the first port's
    server is ``servers.all``); ``top`` goes in the tenant table, ``extra`` in its
    security table."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "profiles.toml"
    path.write_text(
        f"""default_tenant = "{tenant}"

[tenants.{tenant}]
isolation = "standard"
{top}

[tenants.{tenant}.security]
allow_http = true
allow_private_ips = ["127.0.0.1/32"]
allowed_ports = [{", ".join(str(p) for p in ports)}]
requests_per_second = 1000.0
timeout_s = 2.0
{extra}

[tenants.{tenant}.servers]
all = "http://127.0.0.1:{ports[0]}/"
""",
        encoding="utf-8",
    )
    return path


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def lookup_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    """``rdapctl lookup ARGS -o json``: exit code, the one JSON document on stdout, stderr."""
    code, out, err = invoke("lookup", *args, "-o", "json", env=env)
    return code, json.loads(out), err


def audit_records(home: Path, tenant: str = "lab") -> list[dict[str, Any]]:
    """Every record of the tenant's audit trail, oldest first."""
    records: list[dict[str, Any]] = []
    folder = home / "audit" / tenant
    for day in sorted(folder.glob("*.jsonl")):
        for line in day.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
    return records


def lookup_records(home: Path, tenant: str = "lab") -> list[dict[str, Any]]:
    return [r for r in audit_records(home, tenant) if r.get("event") == "lookup"]
