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


def invoke_bytes(
    *args: str, env: dict[str, str] | None = None
) -> tuple[int, bytes, bytes, BaseException | None]:
    """:func:`invoke` with stdout and stderr as the bytes written (not decoded with
    replacement, not CRLF-normalised), and the exception that escaped the command
    (None, or the SystemExit that carried the exit code)."""
    result = runner.invoke(app, list(args), env=env)
    escaped = result.exception
    if isinstance(escaped, SystemExit):
        escaped = None
    return result.exit_code, result.stdout_bytes, result.stderr_bytes, escaped


def lookup_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    """``rdapctl lookup ARGS -o json``: exit code, the one JSON document on stdout, stderr."""
    code, out, err = invoke("lookup", *args, "-o", "json", env=env)
    return code, json.loads(out), err


def audit_records(home: Path, tenant: str = "lab") -> list[dict[str, Any]]:
    """Every record of the tenant's audit trail, oldest first."""
    records: list[dict[str, Any]] = []
    folder = home / "audit" / tenant
    for day in sorted(folder.glob("*.jsonl")):
        for line in day.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                records.append(json.loads(line))
    return records


def lookup_records(home: Path, tenant: str = "lab") -> list[dict[str, Any]]:
    return [r for r in audit_records(home, tenant) if r.get("event") == "lookup"]


# Unicode categories a terminal must never get raw from server text: controls, format
# characters (bidi, zero-width, tags), lone surrogates, line and paragraph separators.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def terminal_unsafe(text: str, *, allowed: str = "\n") -> list[str]:
    """The characters of ``text`` that may not reach a terminal raw (``UNSAFE``, and
    every control, format, surrogate and separator character), ``allowed`` excepted;
    as ``U+XXXX``, sorted."""
    import unicodedata

    found = {
        ch
        for ch in text
        if ch not in allowed
        and (UNSAFE.match(ch) or unicodedata.category(ch) in _HIDDEN_CATEGORIES)
    }
    return sorted(f"U+{ord(ch):04X}" for ch in found)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is beyond the range of a double")
    return value


def strict_json(text: str) -> Any:
    """``text`` as one RFC 8259 JSON document: no NaN/Infinity (nor a number that only
    parses as one, 1e999), valid Unicode (no lone surrogate, raw or escaped, so it can
    be written as UTF-8). Raises ValueError otherwise."""
    text.encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
    value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    # An escaped lone surrogate ("\\ud800") parses, but is not Unicode text either.
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            node.encode("utf-8")
        elif isinstance(node, dict):
            for key, item in node.items():
                key.encode("utf-8")
                stack.append(item)
        elif isinstance(node, list):
            stack.extend(node)
    return value
