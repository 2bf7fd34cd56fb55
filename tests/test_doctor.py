"""``rdapctl doctor``: the tenant isolation check, seen from the command line."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.app.doctor.bootstrap_age import BOOTSTRAP_MAX_AGE_DAYS
from rdapctl.app.doctor.run import run_doctor
from rdapctl.cli import app
from rdapctl.store.paths import StatePaths
from tests.support import load_fixture, loopback_profiles

runner = CliRunner()
AUTNUM = load_fixture("autnum/arin-as63311.json")
PLANTED_EMAIL = "jane.planted@example.org"


def other_tenant(port: int, redact: bool = True) -> str:
    return f"""
[tenants.other]
[tenants.other.security]
allow_http = true
allow_private_ips = ["127.0.0.1/32"]
allowed_ports = [{port}]
redact_pii = {"true" if redact else "false"}
"""


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    loopback_profiles(rdapctl_home, httpserver.port, extra=other_tenant(httpserver.port))
    httpserver.expect_request("/autnum/63311").respond_with_json(AUTNUM)
    return httpserver


def lookup(server: HTTPServer, tenant: str = "lab") -> None:
    result = runner.invoke(
        app, ["lookup", "AS63311", "-t", tenant, "--server", server.url_for("/"), "-o", "json"]
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def used(lab: HTTPServer) -> HTTPServer:
    """Both tenants have looked something up: keys, cache and audit exist."""
    lookup(lab, "lab")
    lookup(lab, "other")
    return lab


def doctor(*args: str) -> tuple[int, dict[str, Any], str]:
    result = runner.invoke(app, ["doctor", "--format", "json", *args])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout), result.output


def check(doc: dict[str, Any], tenant: str | None, name: str) -> dict[str, Any]:
    found = [c for c in doc["checks"] if c["tenant"] == tenant and c["check"] == name]
    assert len(found) == 1, (tenant, name, doc["checks"])
    return found[0]


def failed(doc: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(c["tenant"], c["check"]) for c in doc["checks"] if c["status"] == "fail"]


def home_paths() -> StatePaths:
    return StatePaths.from_env(os.environ)


def test_clean_home_after_lookups_passes_with_a_stable_json_document(used: HTTPServer) -> None:
    """After real lookups every check passes (warnings allowed) and the JSON is stable."""
    code, doc, _ = doctor()
    assert code == 0, failed(doc)
    assert doc["ok"] is True
    assert doc["exit_code"] == 0
    assert set(doc) == {"schema", "ok", "exit_code", "checks"}
    for c in doc["checks"]:
        assert set(c) == {"tenant", "check", "status", "message", "fixed"}
        assert c["status"] in ("pass", "warn")
        assert c["fixed"] is False
    for tenant in ("lab", "other"):
        for name in ("permissions", "keyring", "keys_not_shared", "cache", "audit_chain", "pii"):
            assert check(doc, tenant, name)["status"] == "pass", (tenant, name)
    assert "1 entry open" in check(doc, "lab", "cache")["message"]
    assert check(doc, None, "profiles")["status"] in ("pass", "warn")


def test_without_a_master_key_keys_are_only_a_warning(used: HTTPServer) -> None:
    """No master key: master_key and keys_wrapped warn, yet doctor exits 0."""
    code, doc, _ = doctor()
    assert code == 0
    assert check(doc, None, "master_key")["status"] == "warn"
    assert check(doc, "lab", "keys_wrapped")["status"] == "warn"
    assert "unwrapped" in check(doc, "lab", "keys_wrapped")["message"]


def test_with_a_master_key_the_keys_are_reported_wrapped(
    lab: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With RDAPCTL_MASTER_KEY set before the first lookup, keys_wrapped passes."""
    monkeypatch.setenv("RDAPCTL_MASTER_KEY", base64.b64encode(bytes(range(32))).decode())
    lookup(lab)
    code, doc, _ = doctor("-t", "lab")
    assert code == 0
    assert check(doc, None, "master_key")["status"] == "pass"
    assert check(doc, "lab", "keys_wrapped")["status"] == "pass"


def test_tenants_without_state_pass_and_doctor_creates_none(lab: HTTPServer) -> None:
    """A fresh home: each tenant has "no state yet" and no key, cache or audit appears."""
    home = home_paths().data_dir
    before = sorted(p.name for p in home.iterdir())
    code, doc, _ = doctor()
    assert code == 0
    for tenant in ("lab", "other"):
        state = check(doc, tenant, "state")
        assert (state["status"], state["message"]) == ("pass", "no state yet")
    assert sorted(p.name for p in home.iterdir()) == before == ["profiles.toml"]


def test_a_world_readable_cache_file_fails_and_fix_repairs_it(used: HTTPServer) -> None:
    """A 0644 cache.db fails with exit 9; --fix chmods it 0600, says so, and exits 0."""
    db = home_paths().tenant_cache_dir("lab") / "cache.db"
    db.chmod(0o644)
    code, doc, _ = doctor()
    assert code == 9
    perm = check(doc, "lab", "permissions")
    assert perm["status"] == "fail"
    assert "cache/lab/cache.db (0644)" in perm["message"]
    assert check(doc, "other", "permissions")["status"] == "pass"

    code, doc, _ = doctor("--fix")
    assert code == 0
    perm = check(doc, "lab", "permissions")
    assert (perm["status"], perm["fixed"]) == ("pass", True)
    assert "cache/lab/cache.db 0644 -> 0600" in perm["message"]
    assert stat.S_IMODE(db.stat().st_mode) == 0o600

    code, doc, _ = doctor()
    assert code == 0
    assert check(doc, "lab", "permissions")["fixed"] is False


def test_fix_tightens_an_open_audit_folder(used: HTTPServer) -> None:
    """A 0755 audit folder fails with the audit exit code (10) until --fix makes it 0700."""
    folder = home_paths().tenant_audit_dir("other")
    folder.chmod(0o755)
    code, doc, _ = doctor()
    assert code == 10
    assert check(doc, "other", "permissions")["status"] == "fail"
    assert doctor("--fix")[0] == 0
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_keyring_copied_over_another_tenants_fails_with_exit_9(used: HTTPServer) -> None:
    """Two tenants sharing keys: exit 9, both named, and no key material printed."""
    paths = home_paths()
    shutil.copyfile(paths.keyring_file("lab"), paths.keyring_file("other"))
    code, doc, output = doctor()
    assert code == 9
    assert check(doc, "lab", "keys_not_shared")["status"] == "fail"
    assert "tenant other" in check(doc, "lab", "keys_not_shared")["message"]
    assert check(doc, "other", "keys_not_shared")["status"] == "fail"
    assert check(doc, "other", "keyring")["status"] == "fail"
    ring = json.loads(paths.keyring_file("lab").read_text())
    for key in ring["keys"]:
        assert key["material"] not in output
        assert base64.b64decode(key["material"]).hex() not in output


def test_with_t_only_that_tenant_is_checked_but_sharing_still_seen(used: HTTPServer) -> None:
    """-t other checks only other, yet a key it shares with lab is still found."""
    paths = home_paths()
    code, doc, _ = doctor("-t", "other")
    assert code == 0
    assert {c["tenant"] for c in doc["checks"]} == {None, "other"}
    shutil.copyfile(paths.keyring_file("other"), paths.keyring_file("lab"))
    code, doc, _ = doctor("-t", "other")
    assert code == 9
    assert "tenant lab" in check(doc, "other", "keys_not_shared")["message"]


def test_an_edited_audit_line_fails_with_exit_10(used: HTTPServer) -> None:
    """Changing one byte of an audit record breaks its MAC: exit 10, file:line named."""
    folder = home_paths().tenant_audit_dir("lab")
    day = next(folder.glob("*.jsonl"))
    text = day.read_text()
    edited, n = re.subn(r'"pid":\d+', '"pid":1', text, count=1)
    assert n == 1
    day.write_text(edited)
    code, doc, _ = doctor()
    assert code == 10
    audit = check(doc, "lab", "audit_chain")
    assert audit["status"] == "fail"
    assert f"{day.name}:1" in audit["message"]
    assert check(doc, "other", "audit_chain")["status"] == "pass"


def test_an_invalid_profiles_file_fails_with_exit_3(rdapctl_home: Path) -> None:
    """A profiles file that does not validate: exit 3 and the place of the first error."""
    rdapctl_home.mkdir(parents=True)
    (rdapctl_home / "profiles.toml").write_text(
        '[tenants.lab.security]\nallowed_ports = ["https"]\n', encoding="utf-8"
    )
    code, doc, _ = doctor()
    assert code == 3
    assert doc["ok"] is False
    profiles = check(doc, None, "profiles")
    assert profiles["status"] == "fail"
    assert "profiles.toml:2" in profiles["message"]


def test_an_unknown_tenant_is_a_one_line_config_error(lab: HTTPServer) -> None:
    """-t nobody exits 3 with a one-line message naming the known tenants."""
    result = runner.invoke(app, ["doctor", "-t", "nobody", "--format", "json"])
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    assert "known tenants: lab, other" in result.stderr


def plant_in_cache(tenant_name: str, value: dict[str, Any]) -> None:
    from rdapctl.profiles.loader import load_profiles
    from rdapctl.store.cache.entries import CacheRequest
    from rdapctl.store.cache.tenant_cache import TenantCache
    from rdapctl.store.keys.keyring import Keyring

    paths = home_paths()
    tenant = load_profiles(paths.profiles_file).get(tenant_name)
    keyring = Keyring.open(paths, tenant_name, os.environ)
    with TenantCache.open(paths, tenant, keyring) as cache:
        assert cache.put(CacheRequest("domain", "planted.example"), value, 3600)


def test_an_email_in_a_redacting_tenants_cache_fails_without_showing_it(
    used: HTTPServer,
) -> None:
    """An e-mail address stored for a redacting tenant: exit 9, the entry named, not the value."""
    plant_in_cache("lab", {"remarks": [{"description": [f"mail {PLANTED_EMAIL}"]}]})
    code, doc, output = doctor()
    assert code == 9
    pii = check(doc, "lab", "pii")
    assert pii["status"] == "fail"
    assert "1 e-mail address" in pii["message"]
    assert re.search(r"cache entry \d \(ref [0-9a-f]{12}\)", pii["message"])
    assert check(doc, "other", "pii")["status"] == "pass"
    assert "planted" not in output
    text = runner.invoke(app, ["doctor", "--format", "text"]).output
    assert "planted" not in text


def test_a_tenant_that_does_not_redact_may_keep_contacts(
    lab: HTTPServer, rdapctl_home: Path
) -> None:
    """redact_pii = false: the same planted address is no failure."""
    loopback_profiles(rdapctl_home, lab.port, extra=other_tenant(lab.port, redact=False))
    plant_in_cache("other", {"note": PLANTED_EMAIL})
    code, doc, _ = doctor()
    assert code == 0
    assert "does not redact" in check(doc, "other", "pii")["message"]


def test_a_phone_number_in_an_audit_file_is_found_by_place(used: HTTPServer) -> None:
    """A phone number in an audit record fails with exit 10 and names file:line only."""
    from rdapctl.profiles.loader import load_profiles
    from rdapctl.store.audit.log import AuditLog
    from rdapctl.store.keys.keyring import Keyring

    paths = home_paths()
    tenant = load_profiles(paths.profiles_file).get("lab")
    key = Keyring.open(paths, "lab", os.environ).audit_key()
    AuditLog(paths, tenant, key, command="lookup").append("lookup", {"query": "+44 20 7946 0958"})
    code, doc, output = doctor()
    assert code == 10
    pii = check(doc, "lab", "pii")
    assert "1 phone number" in pii["message"]
    assert re.search(r"audit \d{4}-\d\d-\d\d\.jsonl:\d+", pii["message"])
    assert "7946" not in output
    assert check(doc, "lab", "audit_chain")["status"] == "pass"


def test_a_cache_entry_moved_from_another_tenant_fails_integrity(used: HTTPServer) -> None:
    """Copying one tenant's cache store into another's: its entries fail to open (exit 9)."""
    paths = home_paths()
    shutil.rmtree(paths.tenant_cache_dir("other"))
    shutil.copytree(paths.tenant_cache_dir("lab"), paths.tenant_cache_dir("other"))
    code, doc, _ = doctor()
    assert code == 9
    cache = check(doc, "other", "cache")
    assert cache["status"] == "fail"
    assert "fail integrity" in cache["message"]
    assert check(doc, "lab", "cache")["status"] == "pass"


def test_text_output_is_a_checklist_grouped_by_tenant(used: HTTPServer) -> None:
    """--format text prints ✓ / ! lines under a heading per tenant and a summary."""
    (home_paths().tenant_cache_dir("lab") / "cache.db").chmod(0o640)
    result = runner.invoke(app, ["doctor", "--format", "text"])
    assert result.exit_code == 9
    lines = result.stdout.splitlines()
    assert "tenant lab" in lines
    assert "tenant other" in lines
    assert any(line.startswith("  ✓ keyring: own keyring opens") for line in lines)
    assert any(line.startswith("  ! master_key:") for line in lines)
    assert any(line.startswith("  ✗ permissions:") for line in lines)
    assert "hint: run `rdapctl doctor --fix`" in result.stdout
    assert re.search(r"\d+ passed, \d+ warnings, 1 failed \(exit 9\)", lines[-1])


def newest_embedded_publication() -> datetime:
    from rdapctl.rdap.bootstrap import REGISTRY_NAMES
    from rdapctl.store.bootstrap_files import load_registry

    return max(
        datetime.fromisoformat(load_registry(n, None).publication.replace("Z", "+00:00"))
        for n in REGISTRY_NAMES
    )


def test_bootstrap_age_is_judged_against_the_injected_clock(rdapctl_home: Path) -> None:
    """The embedded registries pass when recent and warn past the age limit."""
    env = {"RDAPCTL_HOME": str(rdapctl_home)}
    paths = StatePaths.from_env(env)
    newest = newest_embedded_publication()
    fresh = run_doctor(paths, env, clock=lambda: newest.timestamp() + 86400)
    [boot] = [c for c in fresh.checks if c.check == "bootstrap"]
    assert boot.status == "pass"
    assert boot.message == (
        f"embedded registries, newest published {newest.date().isoformat()} (1 day old)"
    )
    late = newest.timestamp() + (BOOTSTRAP_MAX_AGE_DAYS + 1) * 86400
    report = run_doctor(paths, env, clock=lambda: late)
    [boot] = [c for c in report.checks if c.check == "bootstrap"]
    assert boot.status == "warn"
    assert f"older than {BOOTSTRAP_MAX_AGE_DAYS} days" in boot.message
    assert report.exit_code == 0


def test_entries_under_retired_keys_are_a_warning_not_a_failure(used: HTTPServer) -> None:
    """After `keys rotate --retire-old` old entries cannot open: doctor warns, exit 0."""
    result = runner.invoke(app, ["keys", "rotate", "-t", "lab", "--retire-old"])
    assert result.exit_code == 0, result.output
    code, doc, _ = doctor()
    assert code == 0
    cache = check(doc, "lab", "cache")
    assert cache["status"] == "warn"
    assert "1 sealed under retired keys" in cache["message"]


def test_a_wrapped_keyring_without_its_master_key_fails_with_exit_9(
    lab: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys wrapped under a master key that is no longer set: the keyring fails to open."""
    monkeypatch.setenv("RDAPCTL_MASTER_KEY", base64.b64encode(bytes(range(32))).decode())
    lookup(lab)
    monkeypatch.delenv("RDAPCTL_MASTER_KEY")
    code, doc, _ = doctor()
    assert code == 9
    assert "master key is needed" in check(doc, "lab", "keyring")["message"]
    assert check(doc, "lab", "audit_chain")["status"] == "warn"
    assert check(doc, "lab", "pii")["status"] == "warn"
