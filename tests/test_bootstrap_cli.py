"""``rdapctl bootstrap update|status|show`` against a local IANA mirror on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from rdapctl.cli import app
from tests.support import FIXTURES, loopback_profiles

runner = CliRunner()
NAMES = ("dns", "ipv4", "ipv6", "asn", "object-tags")


def serve_registries(server: HTTPServer, *, broken: str | None = None) -> None:
    for name in NAMES:
        body = (FIXTURES / "bootstrap" / f"{name}.json").read_bytes()
        if name == broken:
            body = body[: len(body) // 2]  # a partial download

        def handler(request: Request, body: bytes = body, name: str = name) -> Response:
            etag = f'"{name}-v1"'
            if request.headers.get("If-None-Match") == etag:
                return Response(status=304, headers={"ETag": etag})
            return Response(body, content_type="application/json", headers={"ETag": etag})

        server.expect_request(f"/rdap/{name}.json").respond_with_handler(handler)


@pytest.fixture
def mirror(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(rdapctl_home, httpserver.port)
    return httpserver


def update(server: HTTPServer) -> tuple[int, dict]:
    result = runner.invoke(
        app, ["bootstrap", "update", "--source", server.url_for("/rdap/"), "-o", "json"]
    )
    return result.exit_code, json.loads(result.stdout)


def status() -> dict[str, str]:
    result = runner.invoke(app, ["bootstrap", "status", "-o", "json"])
    return {r["registry"]: r["source"] for r in json.loads(result.stdout)["registries"]}


def test_update_then_conditional_get(mirror: HTTPServer, rdapctl_home: Path) -> None:
    """The first update stores all five; the second sends If-None-Match and gets 304."""
    assert set(status().values()) == {"embedded"}
    serve_registries(mirror)
    code, report = update(mirror)
    assert code == 0
    assert {r["outcome"] for r in report["registries"]} == {"updated"}
    assert set(status().values()) == {"updated"}
    code, report = update(mirror)
    assert code == 0
    assert {r["outcome"] for r in report["registries"]} == {"not-modified"}
    assert any(req.headers.get("If-None-Match") for req, _ in mirror.log)
    events = [
        json.loads(line)["event"]
        for day in (rdapctl_home / "audit" / "lab").glob("*.jsonl")
        for line in day.read_text().splitlines()
    ]
    assert events.count("bootstrap_update") == 2


def test_partial_download_never_replaces_a_good_copy(
    mirror: HTTPServer, rdapctl_home: Path
) -> None:
    """A truncated registry is refused (exit 7); the previous copy stays in use."""
    serve_registries(mirror)
    update(mirror)
    good = (rdapctl_home / "bootstrap" / "dns.json").read_bytes()
    mirror.clear()
    serve_registries(mirror, broken="dns")
    (rdapctl_home / "bootstrap" / "meta.json").unlink()  # force full downloads
    code, report = update(mirror)
    assert code == 7
    outcomes = {r["registry"]: r["outcome"] for r in report["registries"]}
    assert outcomes["dns"] == "failed"
    assert (rdapctl_home / "bootstrap" / "dns.json").read_bytes() == good


def test_update_passes_the_network_guard(httpserver: HTTPServer) -> None:
    """The default tenant may not fetch from a loopback http mirror: every registry fails."""
    serve_registries(httpserver)
    result = runner.invoke(
        app, ["bootstrap", "update", "--source", httpserver.url_for("/rdap/"), "-o", "json"]
    )
    assert result.exit_code == 7
    assert len(httpserver.log) == 0
    assert all(r["outcome"] == "failed" for r in json.loads(result.stdout)["registries"])


def test_show_explains_the_choice() -> None:
    """bootstrap show names the server and the rule that picked it."""
    result = runner.invoke(app, ["bootstrap", "show", "AS3333", "-o", "json"])
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["servers"][0] == "https://rdap.db.ripe.net/"
    assert "asn" in shown["reason"]
    assert runner.invoke(app, ["bootstrap", "show", "example.invalid"]).exit_code == 8
