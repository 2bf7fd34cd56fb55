"""Tenant policy applied to real lookups: redaction in every output, residency, query types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.cli import app
from tests.support import RDAP_FIXTURES, all_fixture_files, load_fixture, loopback_profiles

runner = CliRunner()


def jcard_contacts(node: Any) -> set[str]:
    """Every email and tel value in any jCard of an RDAP document."""
    found: set[str] = set()
    if isinstance(node, dict):
        card = node.get("vcardArray")
        if isinstance(card, list) and len(card) > 1 and isinstance(card[1], list):
            for prop in card[1]:
                if (
                    isinstance(prop, list)
                    and len(prop) >= 4
                    and str(prop[0]).lower() in ("email", "tel")
                ):
                    value = prop[3]
                    if isinstance(value, str) and len(value) > 5:
                        found.add(value.removeprefix("tel:").removeprefix("mailto:"))
        for value in node.values():
            found |= jcard_contacts(value)
    elif isinstance(node, list):
        for value in node:
            found |= jcard_contacts(value)
    return found


WITH_CONTACTS = [
    p.relative_to(RDAP_FIXTURES).as_posix()
    for p in all_fixture_files()
    if jcard_contacts(json.loads(p.read_bytes() or b"null"))
]


def test_there_are_fixtures_with_contacts() -> None:
    """Guard: the redaction sweep below really covers many fixtures."""
    assert len(WITH_CONTACTS) >= 40


def _residency_profile(home: Path, port: int, isolation: str) -> None:
    loopback_profiles(
        home,
        port,
        extra="""
[tenants.lab.regions]
"127.0.0.1" = "north-america"
""",
    )
    text = (home / "profiles.toml").read_text()
    text = text.replace(
        'isolation = "standard"', f'isolation = "{isolation}"\ndata_residency = ["europe"]'
    )
    (home / "profiles.toml").write_text(text)


def test_strict_residency_refuses_before_sending(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """strict isolation + a server outside data_residency → exit 4, nothing sent."""
    _residency_profile(rdapctl_home, httpserver.port, "strict")
    result = runner.invoke(
        app, ["lookup", "AS1", "--server", httpserver.url_for("/"), "-o", "json"]
    )
    assert result.exit_code == 4
    env = json.loads(result.stdout)
    assert env["status"] == "denied"
    assert "residency" in env["error"]["message"]
    assert len(httpserver.log) == 0


def test_standard_residency_returns_an_anonymised_record(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """standard isolation sends, but shows only class, handle, hash and reason."""
    _residency_profile(rdapctl_home, httpserver.port, "standard")
    httpserver.expect_request("/autnum/63311").respond_with_json(
        load_fixture("autnum/arin-as63311.json")
    )
    result = runner.invoke(
        app, ["lookup", "AS63311", "--server", httpserver.url_for("/"), "-o", "json"]
    )
    assert result.exit_code == 0
    response = json.loads(result.stdout)["response"]
    assert response["objectClassName"] == "autnum"
    assert "sha256" in response
    assert "entities" not in response


def test_development_residency_warns_and_allows(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    """development isolation returns the data with a warning on stderr."""
    _residency_profile(rdapctl_home, httpserver.port, "development")
    httpserver.expect_request("/autnum/63311").respond_with_json(
        load_fixture("autnum/arin-as63311.json")
    )
    result = runner.invoke(
        app, ["lookup", "AS63311", "--server", httpserver.url_for("/"), "-o", "json"]
    )
    assert result.exit_code == 0
    assert "entities" in json.loads(result.stdout)["response"]
    assert "residency" in result.stderr


def test_query_type_not_allowed_is_denied(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    """allowed_query_types is enforced before anything is sent."""
    loopback_profiles(rdapctl_home, httpserver.port, extra='allowed_query_types = ["domain"]')
    result = runner.invoke(
        app, ["lookup", "AS1", "--server", httpserver.url_for("/"), "-o", "json"]
    )
    assert result.exit_code == 4
    assert json.loads(result.stdout)["status"] == "denied"
    assert len(httpserver.log) == 0


def test_redaction_off_keeps_contacts(httpserver: HTTPServer, rdapctl_home: Path) -> None:
    """A tenant with redact_pii = false sees the data as received."""
    loopback_profiles(rdapctl_home, httpserver.port, extra="redact_pii = false")
    httpserver.expect_request("/autnum/63311").respond_with_json(
        load_fixture("autnum/arin-as63311.json")
    )
    result = runner.invoke(
        app, ["lookup", "AS63311", "--server", httpserver.url_for("/"), "-o", "json"]
    )
    assert "@" in json.dumps(json.loads(result.stdout)["response"]["entities"])


def test_redirect_to_a_blocked_address_is_denied(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """Every redirect hop passes the network guard."""
    loopback_profiles(rdapctl_home, httpserver.port)
    httpserver.expect_request("/autnum/1").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    result = runner.invoke(
        app, ["lookup", "AS1", "--server", httpserver.url_for("/"), "-o", "json"]
    )
    assert result.exit_code == 4
    env = json.loads(result.stdout)
    assert env["error"]["code"] == "ssrf_blocked"
    assert "ssrf_blocked" in result.stderr
