"""The envelope printed by lookup and batch matches its shipped JSON Schema (contract test)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from jsonschema import Draft202012Validator
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.cli import app
from tests.support import load_fixture, loopback_profiles

runner = CliRunner()
SCHEMA = json.loads(
    (resources.files("rdapctl") / "data" / "schemas" / "envelope.schema.json").read_text()
)
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check(envelope: dict) -> None:
    VALIDATOR.validate(envelope)
    props = SCHEMA["properties"]
    assert set(SCHEMA["required"]) <= set(envelope)
    assert set(envelope) <= set(props), set(envelope) - set(props)
    assert envelope["schema"] == props["schema"]["const"]
    assert envelope["status"] in props["status"]["enum"]
    assert envelope["type"] in props["type"]["enum"]
    assert envelope["source"] in props["source"]["enum"]
    if envelope["error"] is not None:
        assert set(props["error"]["required"]) <= set(envelope["error"])
    for ref in envelope["referrals"]:
        assert set(props["referrals"]["items"]["required"]) <= set(ref)


def test_lookup_and_batch_envelopes_follow_the_schema(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """ok, not_found, denied and error envelopes, and batch lines, all fit schema 1."""
    loopback_profiles(
        rdapctl_home, httpserver.port, extra='allowed_query_types = ["autnum", "domain"]'
    )
    httpserver.expect_request("/autnum/63311").respond_with_json(
        load_fixture("autnum/arin-as63311.json")
    )
    httpserver.expect_request("/domain/nope.com").respond_with_json({"errorCode": 404}, status=404)
    base = httpserver.url_for("/")
    for args in (["AS63311"], ["AS63311"], ["nope.com"], ["8.8.8.8"], ["not a query"]):
        result = runner.invoke(app, ["lookup", *args, "--server", base, "-o", "json"])
        check(json.loads(result.stdout))
    batch = runner.invoke(
        app, ["batch", "-", "--no-progress"], input="AS63311\nnope.com\n8.8.8.8\n"
    )
    lines = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [line["line"] for line in lines] == [1, 2, 3]
    for line in lines:
        check(line)
