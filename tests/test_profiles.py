"""Profiles: where the file is found, which tenant is chosen, loading errors,
`profile show` rendering and the `profile init` starter file."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from rdapctl.core.errors import ConfigError, ExitCode
from rdapctl.policy.tenant import COMPLIANCE_REDACT_FIELDS, Tenant, builtin_default_tenant
from rdapctl.profiles.loader import (
    ProfilesFile,
    find_profiles_file,
    load_profiles,
    read_tenant_names_fast,
    render_tenant,
    select_tenant,
    starter_profiles_toml,
    tenant_to_dict,
    tenant_to_toml,
    write_starter,
)
from rdapctl.profiles.validation import validate_text
from rdapctl.store.paths import StatePaths

FIXTURES = Path(__file__).parent / "fixtures" / "profiles"
REPO_ROOT = Path(__file__).parent.parent

TWO_TENANTS = """\
default_tenant = "beta"

[tenants.alpha]
isolation = "standard"

[tenants.beta]
compliance.gdpr = true
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _paths(config_dir: Path) -> StatePaths:
    return StatePaths(config_dir=config_dir, cache_dir=config_dir, data_dir=config_dir)


# --- finding the file ----------------------------------------------------------------


def test_explicit_path_wins_over_everything(tmp_path: Path) -> None:
    """--profiles beats $RDAPCTL_PROFILES, $RDAPCTL_HOME and the config dir."""
    explicit = _write(tmp_path / "explicit.toml", "")
    from_env = _write(tmp_path / "env.toml", "")
    home = tmp_path / "home"
    _write(home / "profiles.toml", "")
    env = {"RDAPCTL_PROFILES": str(from_env), "RDAPCTL_HOME": str(home)}
    assert find_profiles_file(explicit, env, _paths(home)) == explicit


def test_env_profiles_wins_over_home(tmp_path: Path) -> None:
    """$RDAPCTL_PROFILES beats $RDAPCTL_HOME/profiles.toml."""
    from_env = _write(tmp_path / "env.toml", "")
    home = tmp_path / "home"
    _write(home / "profiles.toml", "")
    env = {"RDAPCTL_PROFILES": str(from_env), "RDAPCTL_HOME": str(home)}
    assert find_profiles_file(None, env, _paths(home)) == from_env


def test_home_wins_over_config_dir(tmp_path: Path) -> None:
    """$RDAPCTL_HOME/profiles.toml beats the user config dir."""
    home_file = _write(tmp_path / "home" / "profiles.toml", "")
    _write(tmp_path / "config" / "profiles.toml", "")
    env = {"RDAPCTL_HOME": str(tmp_path / "home")}
    assert find_profiles_file(None, env, _paths(tmp_path / "config")) == home_file


def test_home_set_isolates_from_config_dir(tmp_path: Path) -> None:
    """With RDAPCTL_HOME set and no file there, the user config dir is not read."""
    _write(tmp_path / "config" / "profiles.toml", "")
    env = {"RDAPCTL_HOME": str(tmp_path / "home")}
    assert find_profiles_file(None, env, _paths(tmp_path / "config")) is None


def test_config_dir_used_without_home(tmp_path: Path) -> None:
    """Without RDAPCTL_HOME the file in the user config dir is used."""
    config_file = _write(tmp_path / "config" / "profiles.toml", "")
    assert find_profiles_file(None, {}, _paths(tmp_path / "config")) == config_file


def test_no_file_anywhere_gives_none(tmp_path: Path) -> None:
    """No profiles file at all means the built-in profile."""
    assert find_profiles_file(None, {}, _paths(tmp_path / "config")) is None


@pytest.mark.parametrize("source", ["explicit", "env"])
def test_missing_explicit_or_env_path_is_config_error(tmp_path: Path, source: str) -> None:
    """A named profiles file that does not exist is exit code 3 with a hint."""
    missing = tmp_path / "nope.toml"
    explicit = missing if source == "explicit" else None
    env = {"RDAPCTL_PROFILES": str(missing)} if source == "env" else {}
    with pytest.raises(ConfigError) as info:
        find_profiles_file(explicit, env, _paths(tmp_path))
    assert info.value.exit_code == ExitCode.CONFIG
    assert "does not exist" in info.value.message
    assert info.value.hint


def test_env_home_is_the_state_paths_profiles_file(rdapctl_home: Path) -> None:
    """With the real environment, $RDAPCTL_HOME/profiles.toml is StatePaths.profiles_file."""
    env = {"RDAPCTL_HOME": str(rdapctl_home)}
    paths = StatePaths.from_env(env)
    _write(paths.profiles_file, "")
    assert find_profiles_file(None, env, paths) == rdapctl_home / "profiles.toml"


# --- loading -----------------------------------------------------------------------


def test_no_file_gives_builtin_default_tenant() -> None:
    """A new user with no profiles file gets the built-in safe default tenant."""
    profiles = load_profiles(None)
    assert profiles.tenant_names == ["default"]
    assert select_tenant(profiles, None, {}) == builtin_default_tenant()


def test_load_error_message_points_at_file_line_and_key() -> None:
    """The first error becomes a one-line ConfigError FILE:LINE:COL: key: problem."""
    path = FIXTURES / "broken" / "out_of_range_timeout.toml"
    with pytest.raises(ConfigError) as info:
        load_profiles(path)
    assert info.value.message == (
        f"{path}:6:1: tenants.acme-eu.security.timeout_s: 301 is out of range"
    )
    assert "rdapctl profile validate" in (info.value.hint or "")
    assert info.value.exit_code == ExitCode.CONFIG


def test_load_error_counts_further_errors(tmp_path: Path) -> None:
    """When several errors exist the message says how many more there are."""
    path = _write(tmp_path / "p.toml", "[tenants.a]\nx = 1\ny = 2\nz = 3\n")
    with pytest.raises(ConfigError, match=r"p\.toml:2:1: tenants\.a\.x: .*\(and 2 more\)$"):
        load_profiles(path)


def test_load_syntax_error_is_config_error() -> None:
    """A TOML syntax error is a ConfigError with its position, never a traceback."""
    path = FIXTURES / "broken" / "syntax_error.toml"
    with pytest.raises(ConfigError, match=r"syntax_error\.toml:3:11: TOML syntax error"):
        load_profiles(path)


def test_load_keeps_warnings_for_the_caller(tmp_path: Path) -> None:
    """Risky settings load fine; the warnings are handed back to be shown."""
    path = _write(tmp_path / "p.toml", "[tenants.a.security]\nallow_http = true\n")
    profiles = load_profiles(path)
    assert profiles.get("a").security.allow_http is True
    assert [w.key_path for w in profiles.warnings] == ["tenants.a.security.allow_http"]


def test_loaded_tenant_has_normalised_values_and_defaults() -> None:
    """Keys are normalised (URLs, IDN, CIDRs, tags) and lists become tuples."""
    profiles = load_profiles(FIXTURES / "valid" / "normalised.toml")
    tenant = profiles.get("intl")
    assert tenant.servers.all == "https://rdap.example.net:8443/rdap/"
    assert tenant.servers.domains == {
        "co.uk": "https://rdap.nominet.uk/uk/",
        "xn--p1ai": "https://rdap.tcinet.ru/",
    }
    assert tenant.servers.ip == {"2001:db8::/32": "https://rdap.example.net/"}
    assert tenant.servers.entity == {"ARIN": "https://rdap.arin.net/registry/"}
    assert tenant.regions == {"rdap.nominet.uk": "europe"}
    assert tenant.security.allow_private_ips == ("192.168.0.0/16",)
    assert tenant.security.allowed_ports == (443, 8443)
    assert tenant.security.requests_per_second == 3.0
    assert isinstance(tenant.security.requests_per_second, float)
    # pdpl is a compliance regime, so org is redacted by default too.
    assert tenant.security.redact_fields == COMPLIANCE_REDACT_FIELDS
    assert tenant.cache == builtin_default_tenant().cache


def test_ca_bundle_is_resolved_next_to_the_profiles_file(tmp_path: Path) -> None:
    """A relative ca_bundle becomes an absolute path beside the profiles file."""
    path = _write(tmp_path / "conf" / "p.toml", "[tenants.a.tls]\nca_bundle = 'ca.pem'\n")
    tenant = load_profiles(path).get("a")
    assert tenant.tls.ca_bundle == str(tmp_path / "conf" / "ca.pem")


def test_example_file_loads_all_tenants() -> None:
    """The documented example loads, with its default tenant."""
    profiles = load_profiles(REPO_ROOT / "profiles.example.toml")
    assert profiles.tenant_names == ["acme-eu", "dev", "research"]
    tenant = select_tenant(profiles, None, {})
    assert tenant.name == "acme-eu"
    assert tenant.compliance.gdpr
    assert tenant.effective_cache_ttl_s <= 3600
    assert profiles.get("dev").effective_cache_ttl_s == 86400


# --- choosing a tenant ---------------------------------------------------------------


@pytest.fixture
def two(tmp_path: Path) -> ProfilesFile:
    return load_profiles(_write(tmp_path / "p.toml", TWO_TENANTS))


def test_explicit_tenant_wins(two: ProfilesFile) -> None:
    """-t/--tenant beats $RDAPCTL_TENANT and default_tenant."""
    assert select_tenant(two, "alpha", {"RDAPCTL_TENANT": "beta"}).name == "alpha"


def test_env_tenant_wins_over_default_tenant(two: ProfilesFile) -> None:
    """$RDAPCTL_TENANT beats the file's default_tenant."""
    assert select_tenant(two, None, {"RDAPCTL_TENANT": "alpha"}).name == "alpha"


def test_default_tenant_from_file(two: ProfilesFile) -> None:
    """Without -t or the env var, the file's default_tenant is used."""
    assert select_tenant(two, None, {}).name == "beta"


def test_unknown_tenant_lists_known_ones(two: ProfilesFile) -> None:
    """Asking for a tenant the file does not define names the ones it does."""
    with pytest.raises(ConfigError) as info:
        select_tenant(two, "gamma", {})
    assert info.value.exit_code == ExitCode.CONFIG
    assert "unknown tenant 'gamma'" in info.value.message
    assert "known tenants: alpha, beta" in info.value.message


def test_file_with_tenants_has_no_implicit_default(tmp_path: Path) -> None:
    """A file defining tenants but no default_tenant refuses to guess."""
    profiles = load_profiles(_write(tmp_path / "p.toml", "[tenants.alpha]\n[tenants.beta]\n"))
    with pytest.raises(ConfigError, match=r"no tenant selected.*known tenants: alpha, beta"):
        select_tenant(profiles, None, {})
    with pytest.raises(ConfigError, match="unknown tenant 'default'"):
        select_tenant(profiles, "default", {})


def test_file_defining_default_uses_it(tmp_path: Path) -> None:
    """A tenant literally named default is chosen when nothing is selected."""
    profiles = load_profiles(_write(tmp_path / "p.toml", "[tenants.default]\ncache.ttl_s = 5\n"))
    assert select_tenant(profiles, None, {}).cache.ttl_s == 5


def test_file_without_tenants_uses_builtin_default(tmp_path: Path) -> None:
    """An empty profiles file behaves like no file: the built-in default applies."""
    profiles = load_profiles(_write(tmp_path / "p.toml", "# nothing yet\n"))
    assert select_tenant(profiles, None, {}) == builtin_default_tenant()
    with pytest.raises(ConfigError, match="known tenants: default"):
        select_tenant(profiles, "acme", {})


@pytest.mark.parametrize("name", ["../evil", "A", "-x", "x" * 64, "a/b", ""])
def test_selecting_an_invalid_tenant_name_is_config_error(two: ProfilesFile, name: str) -> None:
    """Tenant names from the command line or env must match the pattern."""
    with pytest.raises(ConfigError, match="invalid tenant name"):
        two.get(name)
    if name:
        with pytest.raises(ConfigError, match="invalid tenant name"):
            select_tenant(two, None, {"RDAPCTL_TENANT": name})


# --- completion --------------------------------------------------------------------


def test_fast_tenant_names(tmp_path: Path) -> None:
    """Completion reads tenant names; no file gives default; broken files give none."""
    assert read_tenant_names_fast(_write(tmp_path / "a.toml", TWO_TENANTS)) == ["alpha", "beta"]
    assert read_tenant_names_fast(None) == ["default"]
    assert read_tenant_names_fast(tmp_path / "missing.toml") == ["default"]
    assert read_tenant_names_fast(_write(tmp_path / "b.toml", "[[[")) == []
    assert read_tenant_names_fast(tmp_path) == []
    bad_names = _write(tmp_path / "c.toml", '[tenants."../x"]\n[tenants.ok]\n')
    assert read_tenant_names_fast(bad_names) == ["ok"]


def test_fast_tenant_names_import_nothing_heavy(tmp_path: Path) -> None:
    """Shell completion must not import the validator, idna or tomli-w."""
    path = _write(tmp_path / "p.toml", TWO_TENANTS)
    code = (
        "import sys; from rdapctl.profiles.loader import read_tenant_names_fast as f;"
        f"print(f(__import__('pathlib').Path({str(path)!r})));"
        "bad = {'rdapctl.profiles.validation', 'idna', 'tomli_w', 'typer', 'rich', 'httpx'};"
        "print(sorted(bad & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["['alpha', 'beta']", "[]"]


# --- profile show ----------------------------------------------------------------


def test_tenant_to_dict_has_effective_values_and_fingerprint(two: ProfilesFile) -> None:
    """show includes effective TTLs (after compliance caps) and the policy fingerprint."""
    beta = two.get("beta")
    data = tenant_to_dict(beta)
    assert data["name"] == "beta"
    assert data["effective_cache_ttl_s"] == beta.effective_cache_ttl_s
    assert data["effective_negative_ttl_s"] == beta.effective_negative_ttl_s
    assert data["policy_fingerprint"] == beta.fingerprint()
    assert data["security"]["allowed_ports"] == [443]
    assert data["compliance"]["do_not_sell"] is None
    json.dumps(data)


def test_show_toml_is_a_loadable_profile(tmp_path: Path) -> None:
    """The TOML rendering loads back to the very same tenant."""
    for name in ("acme-eu", "research", "dev"):
        tenant = load_profiles(REPO_ROOT / "profiles.example.toml").get(name)
        text = tenant_to_toml(tenant)
        assert tenant.fingerprint() in text
        again = load_profiles(_write(tmp_path / f"{name}.toml", text)).get(name)
        assert again == tenant


def test_render_tenant_json_and_toml(two: ProfilesFile) -> None:
    """render_tenant gives parseable JSON and TOML."""
    alpha = two.get("alpha")
    assert json.loads(render_tenant(alpha, "json"))["isolation"] == "standard"
    assert tomllib.loads(render_tenant(alpha, "toml"))["tenants"]["alpha"]["isolation"] == (
        "standard"
    )


# --- profile init ----------------------------------------------------------------


def test_starter_file_round_trips_to_safe_defaults(tmp_path: Path) -> None:
    """The starter validates cleanly under strict and loads to the default policy."""
    text = starter_profiles_toml("acme")
    assert validate_text(text, "starter.toml", strict=True) == []
    profiles = load_profiles(_write(tmp_path / "p.toml", text))
    tenant = select_tenant(profiles, None, {})
    assert tenant == Tenant(name="acme", display_name="acme")
    assert tenant.fingerprint() == replace(builtin_default_tenant(), name="acme").fingerprint()


def test_starter_file_explains_every_key() -> None:
    """Every key line in the starter has a comment line right above it."""
    lines = starter_profiles_toml("acme").splitlines()
    for i, line in enumerate(lines):
        if " = " in line and not line.startswith(("#", " ")):
            assert lines[i - 1].startswith("#"), line


def test_write_starter_creates_private_file_and_never_overwrites(tmp_path: Path) -> None:
    """init writes a 0600 file, refuses to overwrite, and replaces it with force."""
    path = tmp_path / "new" / "profiles.toml"
    assert write_starter(path, "acme") == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("# mine\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="already exists") as info:
        write_starter(path, "acme")
    assert "--force" in (info.value.hint or "")
    assert path.read_text(encoding="utf-8") == "# mine\n"
    write_starter(path, "other", force=True)
    assert load_profiles(path).tenant_names == ["other"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["profiles.toml"]


def test_write_starter_rejects_bad_tenant_name(tmp_path: Path) -> None:
    """init --tenant with an invalid name fails before writing anything."""
    with pytest.raises(ConfigError, match="invalid tenant name"):
        write_starter(tmp_path / "p.toml", "../evil")
    assert not (tmp_path / "p.toml").exists()
