"""Helpers shared by tests (fixtures on disk, the text view rendered to a string)."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def render_text(env: Any, *, color: bool = False) -> str:
    """The text view of envelope ``env`` as a 100-column terminal (or a pipe) shows it."""
    from rich.console import Console

    from rdapctl.cli.render.envelope import render_envelope

    console = Console(
        file=io.StringIO(),
        width=100,
        force_terminal=color,
        color_system="standard" if color else None,
    )
    render_envelope(env, console)
    return console.file.getvalue()  # type: ignore[attr-defined]


def stop_server(server: Any) -> None:
    """Stop a pytest-httpserver ``HTTPServer`` without waiting out its poll interval.

    ``stop()`` asks the serving loop to end, which it notices only when its select()
    returns: every half second, or at once when a connection arrives. So each stop
    used to cost up to 0.5 s; connecting (and closing) until the loop has ended
    wakes it instead."""
    import socket
    import threading

    host, port = server.host, server.port
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    while stopper.is_alive():
        with contextlib.suppress(OSError):
            socket.create_connection((host, port), timeout=0.5).close()
        stopper.join(0.01)
