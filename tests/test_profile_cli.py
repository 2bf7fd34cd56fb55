"""``rdapctl profile *``, ``policy explain`` and ``schema`` through the CLI."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from rdapctl.cli import app
from tests.support import loopback_profiles

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "profiles.example.toml"
BROKEN = ROOT / "tests" / "fixtures" / "profiles" / "broken"


def test_validate_example_passes_even_strict() -> None:
    """The shipped example validates cleanly (exit 0)."""
    result = runner.invoke(app, ["profile", "validate", str(EXAMPLE), "--strict"])
    assert result.exit_code == 0, result.stdout


def test_validate_broken_file_exits_3_with_github_annotations() -> None:
    """CI gets ::error lines naming file and line."""
    broken = sorted(BROKEN.glob("*.toml"))
    result = runner.invoke(app, ["profile", "validate", *map(str, broken), "--format", "github"])
    assert result.exit_code == 3
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("::error")]
    assert len(lines) >= len(broken)
    assert all("file=" in ln for ln in lines)
    # Every finding has a line, except an undecodable file (no text to point into).
    assert sum("line=" in ln for ln in lines) >= len(broken) - 1


def test_validate_json_is_a_list_of_findings() -> None:
    """--format json prints machine-readable findings."""
    one = sorted(BROKEN.glob("*.toml"))[0]
    result = runner.invoke(app, ["profile", "validate", str(one), "--format", "json"])
    assert result.exit_code == 3
    findings = json.loads(result.stdout)
    assert isinstance(findings, list)
    assert {"file", "line", "key_path", "message", "severity"} <= set(findings[0])


def test_validate_without_any_file_is_a_config_error(rdapctl_home: Path) -> None:
    """Nothing to validate is exit 3 with a hint, not a silent pass."""
    result = runner.invoke(app, ["profile", "validate"])
    assert result.exit_code == 3
    assert "profile init" in result.stderr


def test_list_and_show_effective_settings() -> None:
    """profile list names tenants; profile show gives effective TTLs after compliance rules."""
    result = runner.invoke(app, ["profile", "list", "--profiles", str(EXAMPLE), "-o", "json"])
    assert result.exit_code == 0
    names = [t["tenant"] for t in json.loads(result.stdout)["tenants"]]
    assert "acme-eu" in names
    result = runner.invoke(
        app, ["profile", "show", "acme-eu", "--profiles", str(EXAMPLE), "-o", "json"]
    )
    shown = json.loads(result.stdout)
    assert shown["effective_cache_ttl_s"] <= 3600
    assert shown["policy_fingerprint"]


def test_unknown_tenant_exits_3_listing_known_ones() -> None:
    """A typo in -t is a configuration error that lists the valid names."""
    result = runner.invoke(
        app, ["lookup", "example.com", "-t", "acme-us", "--profiles", str(EXAMPLE), "-o", "json"]
    )
    assert result.exit_code == 3
    assert "acme-eu" in result.stderr


def test_init_writes_a_valid_starter_and_never_overwrites(tmp_path: Path) -> None:
    """profile init writes a commented file that validates; a second run needs --force."""
    target = tmp_path / "p.toml"
    assert runner.invoke(app, ["profile", "init", str(target), "--tenant", "soc"]).exit_code == 0
    assert "#" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert runner.invoke(app, ["profile", "validate", str(target)]).exit_code == 0
    again = runner.invoke(app, ["profile", "init", str(target)])
    assert again.exit_code == 3
    assert "--force" in again.stderr
    assert runner.invoke(app, ["profile", "init", str(target), "--force"]).exit_code == 0


def test_schemas_are_printed() -> None:
    """profile schema and schema envelope print JSON Schemas."""
    prof = json.loads(runner.invoke(app, ["profile", "schema"]).stdout)
    env = json.loads(runner.invoke(app, ["schema", "envelope"]).stdout)
    assert "tenants" in prof["properties"]
    assert env["properties"]["schema"]["const"] == 1


def test_policy_explain_sends_nothing(httpserver, rdapctl_home: Path) -> None:  # type: ignore[no-untyped-def]
    """The dry run reports server, residency, network verdicts and redaction, with no request."""
    loopback_profiles(rdapctl_home, httpserver.port)
    result = runner.invoke(
        app, ["policy", "explain", "example.com", "--server", httpserver.url_for("/"), "-o", "json"]
    )
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["would_send"] is True
    assert report["network"]["addresses"][0]["address"] == "127.0.0.1"
    assert "email" in report["redaction"]["fields"]
    assert len(httpserver.log) == 0


def test_policy_explain_shows_the_blocking_rule(httpserver) -> None:  # type: ignore[no-untyped-def]
    """For the default tenant a loopback http server is refused, naming the profile key."""
    result = runner.invoke(
        app, ["policy", "explain", "AS1", "--server", httpserver.url_for("/"), "-o", "json"]
    )
    report = json.loads(result.stdout)
    assert report["would_send"] is False
    assert "allow_http" in json.dumps(report["network"])
