"""Every way a lookup can fail prints one valid JSON document in both JSON modes.

Contract: under ``-o json`` stdout is an envelope valid against the shipped JSON Schema
whose ``error.exit_code`` is the process's exit code; under ``-o rdap`` it is an RFC
9083 error object (``errorCode``, ``title``, ``description``) whose ``errorCode`` is the
HTTP error status that ended the lookup, or the class of its exit code. One test case
per error path, from usage errors before any lookup to a bug in rdapctl.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.hostile import invoke, lab_profiles
from tests.rawserver import RawServer, Request, fixture_bytes, response

SCHEMA = json.loads(
    (resources.files("rdapctl") / "data" / "schemas" / "envelope.schema.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
DOMAIN = fixture_bytes("domain-gtld-registry/verisign-com-google.com-2022-05.json")


@pytest.fixture
def lab(rdapctl_home: Path) -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"answer": lambda req: [response(DOMAIN)]}

    def script(req: Request) -> Any:
        return state["answer"](req)

    with RawServer(script) as server:
        lab_profiles(rdapctl_home, server.port)
        state["server"] = server
        state["home"] = rdapctl_home
        yield state


def _edit(lab: dict[str, Any], old: str, new: str) -> None:
    path = lab["home"] / "profiles.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _in_tenant(lab: dict[str, Any], line: str) -> None:
    _edit(lab, 'isolation = "standard"', f'isolation = "standard"\n{line}')


def _in_security(lab: dict[str, Any], line: str) -> None:
    _edit(lab, "timeout_s = 2.0", f"timeout_s = 2.0\n{line}")


Setup = Callable[[dict[str, Any]], list[str]]


def _args(*args: str) -> Setup:
    return lambda lab: list(args)


def _answer(*steps: bytes, status: str | None = None) -> Setup:
    """The server answers every request with ``steps`` (or a body with ``status``);
    a low-criticality tenant, so that 5xx and 429 are not retried."""

    def setup(lab: dict[str, Any]) -> list[str]:
        _in_tenant(lab, 'business_criticality = "low"')
        sent = [response(steps[0], status=status)] if status else list(steps)
        lab["answer"] = lambda req: sent
        return ["example.com"]

    return setup


def _broken_profiles(lab: dict[str, Any]) -> list[str]:
    (lab["home"] / "profiles.toml").write_text("[tenants.x\n")
    return ["example.com"]


def _query_type_denied(lab: dict[str, Any]) -> list[str]:
    _in_security(lab, 'allowed_query_types = ["ip"]')
    return ["example.com"]


def _strict_residency(lab: dict[str, Any]) -> list[str]:
    _in_tenant(lab, 'data_residency = ["europe"]\nunknown_region = "deny"')
    _edit(lab, 'isolation = "standard"', 'isolation = "strict"')
    return ["example.com"]


def _refused_connection(lab: dict[str, Any]) -> list[str]:
    _in_tenant(lab, 'business_criticality = "low"')
    _edit(lab, f"127.0.0.1:{lab['server'].port}/", "127.0.0.1:1/")
    _edit(lab, f"allowed_ports = [{lab['server'].port}]", "allowed_ports = [1]")
    return ["example.com"]


def _no_server(lab: dict[str, Any]) -> list[str]:
    _edit(lab, "all = ", "fallback_unused = ")
    (lab["home"] / "profiles.toml").write_text(
        (lab["home"] / "profiles.toml").read_text().split("[tenants.lab.servers]")[0]
    )
    return ["example.invalid"]


def _wrong_master_key(lab: dict[str, Any]) -> list[str]:
    key = {"RDAPCTL_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    assert invoke("lookup", "example.com", "-o", "json", env=key)[0] == 0
    lab["monkeypatch"].setenv("RDAPCTL_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    return ["other.com"]


def _audit_unwritable(lab: dict[str, Any]) -> list[str]:
    assert invoke("lookup", "example.com", "-o", "json")[0] == 0
    day = lab["home"] / "audit" / "lab" / f"{time.strftime('%Y-%m-%d', time.gmtime())}.jsonl"
    day.unlink()
    day.mkdir()  # writing the day file now fails
    return ["other.com", "--no-cache"]


def _internal_error(lab: dict[str, Any]) -> list[str]:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug")

    lab["monkeypatch"].setattr("rdapctl.policy.redaction.redact_pii", broken)
    return ["example.com"]


AUTNUM = fixture_bytes("autnum/arin-as63311.json")
# name: (set-up returning the lookup's arguments, exit code, error.code, -o rdap errorCode)
CASES: dict[str, tuple[Setup, int, str, int]] = {
    "unparseable query": (_args("not a query"), 2, "usage_error", 400),
    "conflicting flags": (_args("example.com", "--no-cache", "--refresh"), 2, "usage_error", 400),
    "bad --server URL": (_args("example.com", "--server", "http://[::1"), 2, "usage_error", 400),
    "broken profiles": (_broken_profiles, 3, "invalid_profiles", 500),
    "unknown tenant": (_args("example.com", "-t", "nobody"), 3, "unknown_tenant", 500),
    "query type denied": (_query_type_denied, 4, "policy_denied", 403),
    "network guard": (_args("example.com", "--server", "http://10.0.0.1/"), 4, "ssrf_blocked", 403),
    "strict residency": (_strict_residency, 4, "residency_violation", 403),
    "rate limited": (_answer(b'{"title":"slow"}', status="429 Slow Down"), 5, "rate_limited", 429),
    "not found": (_answer(b'{"title":"none"}', status="404 Not Found"), 6, "not_found", 404),
    "server error": (_answer(b"{}", status="500 Oops"), 7, "http_error", 500),
    "client error": (_answer(b"<html>", status="403 Forbidden"), 7, "http_error", 403),
    "bad json": (_answer(response(b'{"a":NaN}')), 7, "bad_json", 502),
    "bad content type": (
        _answer(response(b"<p>", content_type="text/html")),
        7,
        "bad_content_type",
        502,
    ),
    "unexpected object": (_answer(response(AUTNUM)), 7, "unexpected_object", 502),
    "bad redirect": (
        _answer(b"HTTP/1.1 302 Found\r\nLocation: http://[::1\r\n\r\n"),
        7,
        "bad_redirect",
        502,
    ),
    "refused connection": (_refused_connection, 7, "network_error", 502),
    "offline miss": (_args("example.com", "--offline"), 7, "offline_miss", 502),
    "no server": (_no_server, 8, "no_server", 404),
    "wrong master key": (_wrong_master_key, 9, "wrong_master_key", 500),
    "audit not writable": (_audit_unwritable, 10, "audit_error", 500),
    "bug in rdapctl": (_internal_error, 1, "internal_error", 500),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_error_path_prints_one_valid_json_document(
    lab: dict[str, Any], monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    setup, exit_code, code, rdap_code = CASES[case]
    lab["monkeypatch"] = monkeypatch
    monkeypatch.delenv("RDAPCTL_MASTER_KEY", raising=False)
    args = setup(lab)
    got, out, err = invoke("lookup", *args, "-o", "json")
    envelope = json.loads(out, parse_constant=pytest.fail)
    VALIDATOR.validate(envelope)
    assert (got, envelope["error"]["code"]) == (exit_code, code), err
    assert envelope["error"]["exit_code"] == exit_code
    assert "rdapctl: error:" in err
    assert "Traceback" not in err
    got, out, err = invoke("lookup", *args, "-o", "rdap")
    error_object = json.loads(out)
    assert got == exit_code
    assert error_object["errorCode"] == rdap_code
    assert isinstance(error_object["title"], str)
    assert all(isinstance(line, str) for line in error_object["description"])
