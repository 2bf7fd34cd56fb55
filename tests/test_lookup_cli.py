"""``rdapctl lookup`` end to end against a real RDAP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.cli import app
from tests.support import RDAP_FIXTURES, all_fixture_files, load_fixture, loopback_profiles

runner = CliRunner()


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(rdapctl_home, httpserver.port)
    return httpserver


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def lookup_json(*args: str) -> tuple[int, dict, str]:
    code, out, err = invoke("lookup", *args, "-o", "json")
    return code, json.loads(out), err


@pytest.mark.parametrize(
    ("query", "extra", "path", "fixture"),
    [
        (
            "google.com",
            [],
            "/domain/google.com",
            "domain-gtld-registry/verisign-com-google.com-2022-05.json",
        ),
        ("8.8.8.8", [], "/ip/8.8.8.8", "ip-network/arin-ip-8.8.8.8-2021.json"),
        (
            "2001:4860:4860::8888",
            [],
            "/ip/2001:4860:4860::8888",
            "ip-network/arin-ip6-2001-4860-4860--8888.json",
        ),
        ("193.0.0.0/21", [], "/ip/193.0.0.0/21", "ip-network/ripe-ip-193.0.0.0.json"),
        ("AS63311", [], "/autnum/63311", "autnum/arin-as63311.json"),
        (
            "ARIN-HOSTMASTER",
            ["--type", "entity"],
            "/entity/ARIN-HOSTMASTER",
            "entity/arin-entity-ARIN-HOSTMASTER.json",
        ),
        (
            "ns1.nic.fr",
            ["--type", "nameserver"],
            "/nameserver/ns1.nic.fr",
            "nameserver/afnic-ns1.nic.fr.json",
        ),
        ("help", [], "/help", "help/afnic-help.json"),
        (
            "152.112.149.in-addr.arpa",
            [],
            "/domain/152.112.149.in-addr.arpa",
            "domain-reverse/arin-reverse-152.112.149.in-addr.arpa.json",
        ),
    ],
)
def test_lookup_of_every_type(
    lab: HTTPServer, query: str, extra: list[str], path: str, fixture: str
) -> None:
    """Each query type reaches the right RDAP path and comes back as an ok envelope."""
    lab.expect_request(path).respond_with_json(
        load_fixture(fixture), content_type="application/rdap+json"
    )
    code, env, _ = lookup_json(query, *extra, "--server", lab.url_for("/"))
    assert code == 0
    assert env["status"] == "ok"
    assert env["source"] == "network"
    assert env["url"] == lab.url_for(path)
    assert env["schema"] == 1
    assert env["error"] is None


def test_not_found_exits_6_with_error_object(lab: HTTPServer) -> None:
    """RDAP 404 → exit 6; JSON says not_found; -o rdap prints the server's error object."""
    body = load_fixture("error/rdaporg-404-domain-test.fr.json")
    lab.expect_request("/domain/nope.com").respond_with_json(body, status=404)
    code, env, _ = lookup_json("nope.com", "--server", lab.url_for("/"))
    assert code == 6
    assert env["status"] == "not_found"
    assert env["error"]["code"] == "not_found"
    code, out, _ = invoke(
        "lookup", "nope.com", "--server", lab.url_for("/"), "-o", "rdap", "--no-cache"
    )
    assert code == 6
    assert json.loads(out)["errorCode"] == 404


def test_rdap_output_is_the_object_only(lab: HTTPServer) -> None:
    """-o rdap prints only the (policy-applied) RDAP object, for jq."""
    lab.expect_request("/autnum/63311").respond_with_json(load_fixture("autnum/arin-as63311.json"))
    code, out, _ = invoke("lookup", "AS63311", "--server", lab.url_for("/"), "-o", "rdap")
    assert code == 0
    obj = json.loads(out)
    assert obj["objectClassName"] == "autnum"
    assert "redacted" in obj["rdapConformance"]


def test_unparseable_query_exits_2_with_valid_json(lab: HTTPServer) -> None:
    """Even a usage error leaves valid JSON on stdout in -o json mode."""
    code, env, err = lookup_json("not a query")
    assert code == 2
    assert env["status"] == "error"
    assert env["error"]["code"] == "usage_error"
    assert "accepted forms" in err


def test_rdap_error_output_for_usage_error(lab: HTTPServer) -> None:
    """-o rdap prints an RFC 9083-shaped error object when there is no RDAP object."""
    code, out, _ = invoke("lookup", "not a query", "-o", "rdap")
    assert code == 2
    obj = json.loads(out)
    assert set(obj) >= {"errorCode", "title", "description"}


def test_no_server_exits_8(lab: HTTPServer) -> None:
    """A TLD with no RDAP service exits 8 with a hint about --server."""
    code, env, err = lookup_json("example.invalid")
    assert code == 8
    assert env["error"]["code"] == "no_server"
    assert "--server" in err


def test_default_tenant_blocks_loopback_http(httpserver: HTTPServer) -> None:
    """With no profile, the safe defaults refuse http:// and loopback (exit 4, denied)."""
    code, env, err = lookup_json("example.com", "--server", httpserver.url_for("/"))
    assert code == 4
    assert env["status"] == "denied"
    assert "allow_http" in err or "allow_private_ips" in err
    assert len(httpserver.log) == 0


def _registry_with_referral(href: str) -> dict:
    obj = load_fixture("domain-gtld-registry/verisign-com-google.com-2022-05.json")
    assert isinstance(obj, dict)
    obj = dict(obj)
    obj["links"] = [
        {
            "rel": "self",
            "href": "https://rdap.verisign.com/com/v1/domain/GOOGLE.COM",
            "type": "application/rdap+json",
        },
        {"rel": "related", "href": href, "type": "application/rdap+json"},
    ]
    return obj


def test_referral_chain_is_followed_to_depth_two(lab: HTTPServer) -> None:
    """Registry → registrar → reseller: both referrals shown; never deeper than 2."""
    registrar = dict(load_fixture("domain-registrar/markmonitor-google.com.json"))  # type: ignore[arg-type]
    registrar["links"] = [
        {
            "rel": "related",
            "href": lab.url_for("/reseller/google.com"),
            "type": "application/rdap+json",
        }
    ]
    reseller = dict(registrar)
    reseller["links"] = [
        {
            "rel": "related",
            "href": lab.url_for("/deeper/google.com"),
            "type": "application/rdap+json",
        }
    ]
    lab.expect_request("/domain/google.com").respond_with_json(
        _registry_with_referral(lab.url_for("/registrar/google.com"))
    )
    lab.expect_request("/registrar/google.com").respond_with_json(registrar)
    lab.expect_request("/reseller/google.com").respond_with_json(reseller)
    code, env, _ = lookup_json("google.com", "--server", lab.url_for("/"))
    assert code == 0
    assert [r["url"] for r in env["referrals"]] == [
        lab.url_for("/registrar/google.com"),
        lab.url_for("/reseller/google.com"),
    ]
    assert [r["status"] for r in env["referrals"]] == ["ok", "ok"]
    assert all("/deeper/" not in req.path for req, _ in lab.log)
    # Referral answers are redacted too: only exempt entities (the registrar and its
    # abuse desk) keep an e-mail address.
    for entity in env["referrals"][0]["response"].get("entities", []):
        roles = set(entity.get("roles", []))
        if not roles <= {"registrar", "abuse"}:
            assert "@" not in json.dumps(entity.get("vcardArray"))


def test_referral_loop_fetches_each_url_once(lab: HTTPServer) -> None:
    """A referral pointing back at the registry is not fetched again."""
    registrar = dict(load_fixture("domain-registrar/markmonitor-google.com.json"))  # type: ignore[arg-type]
    registrar["links"] = [
        {
            "rel": "related",
            "href": lab.url_for("/domain/google.com"),
            "type": "application/rdap+json",
        }
    ]
    lab.expect_request("/domain/google.com").respond_with_json(
        _registry_with_referral(lab.url_for("/registrar/google.com"))
    )
    lab.expect_request("/registrar/google.com").respond_with_json(registrar)
    code, env, _ = lookup_json("google.com", "--server", lab.url_for("/"))
    assert code == 0
    assert len(env["referrals"]) == 1
    assert [req.path for req, _ in lab.log].count("/domain/google.com") == 1


def test_failed_referral_never_fails_the_lookup(lab: HTTPServer) -> None:
    """The registry answer is shown and the referral's error reported."""
    lab.expect_request("/domain/google.com").respond_with_json(
        _registry_with_referral(lab.url_for("/registrar/google.com"))
    )
    lab.expect_request("/registrar/google.com").respond_with_data("boom", status=500)
    code, env, err = lookup_json("google.com", "--server", lab.url_for("/"))
    assert code == 0
    assert env["status"] == "ok"
    assert env["referrals"][0]["status"] == "error"
    assert "referral" in err


def test_no_referral_flag(lab: HTTPServer) -> None:
    """--no-referral stops at the registry."""
    lab.expect_request("/domain/google.com").respond_with_json(
        _registry_with_referral(lab.url_for("/registrar/google.com"))
    )
    code, env, _ = lookup_json("google.com", "--server", lab.url_for("/"), "--no-referral")
    assert code == 0
    assert env["referrals"] == []
    assert len(lab.log) == 1


FIXTURES = [p.relative_to(RDAP_FIXTURES).as_posix() for p in all_fixture_files()]


@pytest.mark.parametrize("fixture", FIXTURES)
def test_every_fixture_renders_in_every_format(lab: HTTPServer, fixture: str) -> None:
    """Real, sometimes broken, registry answers never crash any output format."""
    body = (RDAP_FIXTURES / fixture).read_bytes()
    status = 404 if fixture.startswith("error/") and "501" not in fixture else 200
    lab.expect_request(f"/fx/{fixture}").respond_with_data(
        body, status=status, content_type="application/rdap+json"
    )
    url = lab.url_for(f"/fx/{fixture}")
    for fmt in ("json", "rdap", "text"):
        result = runner.invoke(app, ["lookup", url, "-o", fmt, "--no-cache"])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        assert "Traceback" not in result.stderr
        assert result.exit_code in (0, 6, 7), (fmt, result.stderr)
        if fmt != "text":
            json.loads(result.stdout)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "rdapctl", *args],
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
    )


def test_subprocess_keeps_stdout_clean(lab: HTTPServer) -> None:
    """A real process: JSON on stdout, diagnostics on stderr, exit code as documented."""
    lab.expect_request("/domain/nope.com").respond_with_json(
        {"errorCode": 404, "title": "Not Found"}, status=404
    )
    proc = run_cli("lookup", "nope.com", "--server", lab.url_for("/"))
    assert proc.returncode == 6
    assert json.loads(proc.stdout)["status"] == "not_found"
    assert "rdapctl: error" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_subprocess_usage_error_and_version() -> None:
    """python -m rdapctl works; a bad option is exit 2."""
    assert run_cli("--version").stdout.startswith("rdapctl ")
    assert run_cli("lookup", "--bogus").returncode == 2


def test_cli_entry_does_not_import_heavy_modules() -> None:
    """--version/--help/completion pay only for Typer: no httpx, rich, cryptography, diskcache."""
    code = (
        "import sys, rdapctl.cli; "
        "print(','.join(m for m in ('httpx','rich','cryptography','diskcache') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
