"""Profiles validation: every broken sample is reported at the right place, rules,
strict mode, output formats, and agreement between the validator and the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rdapctl.profiles.findings import Finding, format_findings, has_errors
from rdapctl.profiles.loader import profiles_schema
from rdapctl.profiles.positions import locate_keys
from rdapctl.profiles.schema import PROFILE_SPEC, build_schema
from rdapctl.profiles.spec import Map, Table
from rdapctl.profiles.validation import validate_file, validate_text

PROFILES = Path(__file__).parent / "fixtures" / "profiles"
BROKEN = PROFILES / "broken"
REPO_ROOT = Path(__file__).parent.parent

# file, line, column, key path, fragment of the message
BROKEN_CASES: list[tuple[str, int | None, int | None, str, str]] = [
    ("syntax_error.toml", 3, 11, "", "TOML syntax error"),
    ("unknown_top_key.toml", 2, 1, "tenant", "unknown key 'tenant'"),
    ("unknown_tenant_key.toml", 3, 1, "tenants.acme.isolaton", "did you mean 'isolation'"),
    ("unknown_security_key.toml", 6, 1, "tenants.acme.security.timeout", "unknown key"),
    ("unknown_cache_key_dotted.toml", 3, 7, "tenants.acme.cache.ttl", "unknown key 'ttl'"),
    ("unknown_key_inline_table.toml", 2, 27, "tenants.acme.audit.rotate", "unknown key"),
    ("wrong_type_bool.toml", 2, 1, "tenants.acme.security.redact_pii", "expected a boolean"),
    ("wrong_type_int_float.toml", 2, 1, "tenants.acme.cache.ttl_s", "expected an integer"),
    ("max_batch_bool.toml", 2, 1, "tenants.acme.security.max_batch_size", "got a boolean"),
    ("out_of_range_timeout.toml", 6, 1, "tenants.acme-eu.security.timeout_s", "out of range"),
    ("out_of_range_port.toml", 4, 5, "tenants.acme.security.allowed_ports[1]", "70000"),
    ("zero_rps.toml", 2, 1, "tenants.acme.security.requests_per_second", "out of range"),
    ("bad_enum_isolation.toml", 2, 1, "tenants.acme.isolation", "'paranoid'"),
    ("bad_region.toml", 2, 29, "tenants.acme.data_residency[1]", "'mars'"),
    ("bad_region_host_map.toml", 3, 1, 'tenants.acme.regions."rdap.example"', "'antarctica'"),
    (
        "bad_cidr_host_bits.toml",
        5,
        36,
        "tenants.acme.security.allow_private_ips[1]",
        "host bits set",
    ),
    ("bad_cidr_server_key.toml", 2, 1, 'tenants.acme.servers.ip."192.0.2.0/33"', "not a valid"),
    ("bad_tenant_name.toml", 1, 10, "tenants.Acme", "invalid tenant name"),
    ("bad_tenant_name_traversal.toml", 1, 10, 'tenants."../evil"', "invalid tenant name"),
    ("bad_url_scheme.toml", 2, 1, "tenants.acme.servers.fallback", "not an http(s) URL"),
    ("bad_url_credentials.toml", 2, 1, "tenants.acme.servers.domains.com", "credentials"),
    ("bad_autnum_range.toml", 2, 1, "tenants.acme.servers.autnum.64512-64496", "empty range"),
    ("bad_autnum_too_big.toml", 2, 1, "tenants.acme.servers.autnum.4294967296", "largest"),
    ("bad_entity_tag.toml", 2, 1, "tenants.acme.servers.entity.RIPE-NCC", "object tag"),
    ("bad_pin.toml", 5, 23, 'tenants.acme.tls.pins."rdap.example.net"[0]', "not 32"),
    ("bad_redact_field.toml", 2, 24, "tenants.acme.security.redact_fields[1]", "'EMAIL'"),
    ("bad_query_type.toml", 2, 34, "tenants.acme.security.allowed_query_types[1]", "'whois'"),
    ("default_tenant_undefined.toml", 1, 1, "default_tenant", "names no tenant"),
    ("gdpr_ttl_too_long.toml", 6, 1, "tenants.acme-eu.cache.ttl_s", "24 hours"),
    ("tenants_not_a_table.toml", 2, 1, "tenants", "expected a table"),
    ("not_utf8.toml", None, None, "", "not valid UTF-8"),
]


def test_every_broken_fixture_has_a_case() -> None:
    """Each file in fixtures/profiles/broken is covered by the table (and vice versa)."""
    on_disk = {p.name for p in BROKEN.glob("*.toml")}
    assert on_disk == {case[0] for case in BROKEN_CASES}
    assert len(on_disk) >= 20


@pytest.mark.parametrize(("name", "line", "column", "key_path", "fragment"), BROKEN_CASES)
def test_broken_profile_reports_error_at_key(
    name: str, line: int | None, column: int | None, key_path: str, fragment: str
) -> None:
    """A broken file yields exactly one error naming the file, line, column and key path."""
    path = BROKEN / name
    findings = validate_file(path, strict=False)
    errors = [f for f in findings if f.severity == "error"]
    assert len(errors) == 1, format_findings(findings)
    error = errors[0]
    assert error.file == str(path)
    assert (error.line, error.column) == (line, column)
    assert error.key_path == key_path
    assert fragment in error.message
    assert has_errors(findings)


def test_errors_carry_what_would_be_valid() -> None:
    """Range and enum errors say what would have been accepted."""
    [timeout] = validate_file(BROKEN / "out_of_range_timeout.toml", strict=False)
    assert timeout.expected == "a number greater than 0 and at most 300"
    [cidr] = validate_file(BROKEN / "bad_cidr_host_bits.toml", strict=False)
    assert cidr.expected == "the network address 10.0.0.0/8"


def test_all_findings_are_collected_in_file_order() -> None:
    """Several problems in one file are all reported, sorted by line."""
    text = (
        "[tenants.a]\n"
        "isolation = 'nope'\n"
        "bogus = 1\n"
        "[tenants.a.cache]\n"
        "ttl_s = -1\n"
        "[tenants.BAD]\n"
        "[tenants.b.security]\n"
        "timeout_s = 'x'\n"
    )
    findings = validate_text(text, "p.toml")
    assert [(f.line, f.key_path) for f in findings] == [
        (2, "tenants.a.isolation"),
        (3, "tenants.a.bogus"),
        (5, "tenants.a.cache.ttl_s"),
        (6, "tenants.BAD"),
        (8, "tenants.b.security.timeout_s"),
    ]


def test_credentials_in_a_url_are_never_echoed() -> None:
    """A URL with a password is rejected without repeating the password anywhere."""
    findings = validate_file(BROKEN / "bad_url_credentials.toml")
    for fmt in ("text", "json", "github"):
        assert "hunter2" not in format_findings(findings, fmt)


RISKY = [
    (
        "[tenants.a.security]\nallow_private_ips = true\n",
        "tenants.a.security.allow_private_ips",
        "strict isolation",
    ),
    (
        "[tenants.a]\nisolation = 'standard'\nsecurity.allow_http = true\n",
        "tenants.a.security.allow_http",
        "plain http",
    ),
    (
        "[tenants.a]\ncompliance.gdpr = true\nsecurity.redact_pii = false\n",
        "tenants.a.security.redact_pii",
        "redaction is off",
    ),
    (
        "[tenants.a]\ncompliance.ccpa = true\nsecurity.redact_pii = false\n"
        "compliance.do_not_sell = true\n",
        "tenants.a.security.redact_pii",
        "redaction is off",
    ),
    (
        "[tenants.a.tls]\ncertificate_pinning = true\n",
        "tenants.a.tls.certificate_pinning",
        "no pins",
    ),
    ("[tenants.a.compliance]\nccpa = true\n", "tenants.a.compliance.ccpa", "do_not_sell"),
    (
        "[tenants.a.compliance]\nccpa = true\ndo_not_sell = false\n",
        "tenants.a.compliance.do_not_sell",
        "do_not_sell",
    ),
    (
        "[tenants.a.tls]\nca_bundle = 'missing-ca.pem'\n",
        "tenants.a.tls.ca_bundle",
        "does not exist",
    ),
    (
        "[tenants.a.servers]\nfallback = 'http://rdap.example/'\n",
        "tenants.a.servers.fallback",
        "allow_http is false",
    ),
    (
        "[tenants.a.servers]\nsearch = 'http://rdap.example/'\n",
        "tenants.a.servers.search",
        "allow_http is false",
    ),
    (
        "[tenants.a]\ncompliance.gdpr = true\n"
        "security.allowed_query_types = ['domain', 'search', 'reverse_search']\n",
        "tenants.a.security.allowed_query_types",
        "reverse_search",
    ),
]


def test_reverse_search_with_a_purpose_is_no_finding(tmp_path: Path) -> None:
    """A gdpr tenant that states its purpose may allow reverse searches; a tenant that
    does not allow them is not warned."""
    text = (
        "[tenants.a]\npurpose = 'abuse investigations'\ncompliance.gdpr = true\n"
        "security.allowed_query_types = ['search', 'reverse_search']\n"
    )
    assert validate_text(text, "p.toml", strict=True, base_dir=tmp_path) == []
    plain = "[tenants.a]\ncompliance.gdpr = true\n"
    assert validate_text(plain, "p.toml", strict=True, base_dir=tmp_path) == []


def test_default_tenant_allows_search_but_not_reverse_search() -> None:
    """The built-in default allows the RFC 9082 searches; RFC 9536 reverse searches (by a
    person's name, handle or e-mail) must be listed explicitly."""
    from rdapctl.policy.tenant import builtin_default_tenant

    allowed = builtin_default_tenant().security.allowed_query_types
    assert "search" in allowed
    assert "reverse_search" not in allowed


@pytest.mark.parametrize(("text", "key_path", "fragment"), RISKY)
def test_risky_setting_is_a_warning_and_an_error_under_strict(
    text: str, key_path: str, fragment: str, tmp_path: Path
) -> None:
    """Risky settings warn (exit OK) by default and become errors with --strict."""
    [warning] = validate_text(text, "p.toml", base_dir=tmp_path)
    assert (warning.severity, warning.key_path) == ("warning", key_path)
    assert fragment in warning.message
    assert not has_errors([warning])
    [strict] = validate_text(text, "p.toml", strict=True, base_dir=tmp_path)
    assert strict.severity == "error"
    assert has_errors([strict])


def test_existing_ca_bundle_relative_to_the_file_is_fine(tmp_path: Path) -> None:
    """A relative ca_bundle is looked up next to the profiles file."""
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    profile = tmp_path / "profiles.toml"
    profile.write_text("[tenants.a.tls]\nca_bundle = 'ca.pem'\n", encoding="utf-8")
    assert validate_file(profile, strict=True) == []


def test_gdpr_ttl_of_exactly_24_hours_is_accepted() -> None:
    """The gdpr limit is inclusive: 86400 seconds is allowed."""
    text = "[tenants.a]\ncompliance.gdpr = true\ncache.ttl_s = 86400\n"
    assert validate_text(text, "p.toml", strict=True) == []


@pytest.mark.parametrize("name", ["../evil", "A", "-x", "x" * 64, "", "a.b", "a b", "é"], ids=repr)
def test_invalid_tenant_names_are_rejected(name: str) -> None:
    """Tenant names that could not be a safe folder name are errors."""
    text = f"[tenants.{json.dumps(name)}]\n"
    [finding] = validate_text(text, "p.toml")
    assert finding.severity == "error"
    assert "invalid tenant name" in finding.message


@pytest.mark.parametrize("name", ["a", "0", "acme-eu", "a_b", "x" * 63])
def test_valid_tenant_names_are_accepted(name: str) -> None:
    """Names matching the pattern, up to 63 characters, are fine."""
    assert validate_text(f"[tenants.{name}]\n", "p.toml", strict=True) == []


def test_syntax_error_at_end_of_document_has_a_position() -> None:
    """An unterminated table header still points at a line."""
    [finding] = validate_text("a = 1\n[tenants", "p.toml")
    assert finding.line == 2
    assert finding.key_path == ""


def test_unreadable_path_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    """A missing file or a directory is reported as a finding."""
    [missing] = validate_file(tmp_path / "nope.toml")
    assert missing.message == "file not found"
    [directory] = validate_file(tmp_path)
    assert "directory" in directory.message


# --- output formats ------------------------------------------------------------

SAMPLE = [
    Finding("p.toml", 3, 1, "tenants.a.isolation", "unknown value 'x'", "error", "one of: a, b"),
    Finding("p.toml", 7, None, "tenants.a.security.allow_http", "plain http", "warning", None),
    Finding("p.toml", None, None, "", "file is not valid UTF-8", "error", None),
]


def test_text_format_lines_and_summary() -> None:
    """Text output is FILE:LINE:COL: severity: key: message (expected ...) plus a summary."""
    assert format_findings(SAMPLE, "text").splitlines() == [
        "p.toml:3:1: error: tenants.a.isolation: unknown value 'x' (expected one of: a, b)",
        "p.toml:7: warning: tenants.a.security.allow_http: plain http",
        "p.toml: error: file is not valid UTF-8",
        "2 errors, 1 warning",
    ]


def test_text_format_without_findings_says_so() -> None:
    """An empty result prints a clear all-good line."""
    assert format_findings([], "text") == "no problems found"


def test_github_format_annotations() -> None:
    """GitHub output uses ::error/::warning workflow commands with file, line and col."""
    lines = format_findings(SAMPLE, "github").splitlines()
    assert lines == [
        "::error file=p.toml,line=3,col=1::tenants.a.isolation: unknown value 'x' "
        "(expected one of: a, b)",
        "::warning file=p.toml,line=7::tenants.a.security.allow_http: plain http",
        "::error file=p.toml::file is not valid UTF-8",
    ]


def test_github_format_escapes_property_separators() -> None:
    """Commas, colons and newlines in file names or messages cannot break the annotation."""
    finding = Finding("a,b:c.toml", 1, 1, "k", "line1\nline2 100%", "error", None)
    assert format_findings([finding], "github") == (
        "::error file=a%2Cb%3Ac.toml,line=1,col=1::k: line1%0Aline2 100%25"
    )


def test_json_format_is_a_list_with_stable_keys() -> None:
    """JSON output is a list of objects with a fixed set of keys."""
    data = json.loads(format_findings(SAMPLE, "json"))
    assert [list(item) for item in data] == [
        ["file", "line", "column", "key_path", "message", "severity", "expected"]
    ] * 3
    assert data[0]["line"] == 3
    assert data[2]["line"] is None
    assert json.loads(format_findings([], "json")) == []


# --- locator ---------------------------------------------------------------------


def test_locator_handles_quoted_dotted_inline_and_multiline_values() -> None:
    """Key positions are found through quoting, dotted keys, inline tables and strings."""
    text = (
        "# comment [not.a.table]\n"
        'title = """multi\n[fake.header]\n"""\n'
        "[ tenants . 'acme' ]\n"
        'a.b = { c = "x,y", "d.e" = [1, {f = 2}] }\n'
        "[[list]]\n"
        "x = 1\n"
        "[[list]]\n"
        "x = 2\n"
    )
    pos = locate_keys(text)
    assert pos[("title",)] == (2, 1)
    assert ("fake",) not in pos
    assert pos[("tenants", "acme")] == (5, 13)
    assert pos[("tenants", "acme", "a", "b")] == (6, 3)
    assert pos[("tenants", "acme", "a", "b", "d.e", 1, "f")] == (6, 33)
    assert pos[("list", 1, "x")] == (10, 1)


# --- schema agreement and the shipped example --------------------------------------


def _spec_paths(spec: object, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    if isinstance(spec, Table):
        for key, sub in spec.fields.items():
            out.add((*prefix, key))
            out |= _spec_paths(sub, (*prefix, key))
    elif isinstance(spec, Map):
        out |= _spec_paths(spec.value, (*prefix, "*"))
    return out


def _schema_paths(schema: dict, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for key, sub in schema.get("properties", {}).items():
        out.add((*prefix, key))
        out |= _schema_paths(sub, (*prefix, key))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        out |= _schema_paths(extra, (*prefix, "*"))
    return out


def test_shipped_schema_matches_the_validator() -> None:
    """The JSON Schema file is exactly what the validator's spec describes."""
    assert profiles_schema() == build_schema()


def test_schema_and_validator_know_the_same_keys() -> None:
    """Every key the validator accepts is in the schema and vice versa."""
    schema = profiles_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    paths = _schema_paths(schema)
    assert paths == _spec_paths(PROFILE_SPEC)
    assert ("tenants", "*", "security", "timeout_s") in paths
    assert ("tenants", "*", "keys", "rotation_days") in paths


def test_schema_forbids_unknown_keys_in_every_section() -> None:
    """Each fixed-key table in the schema sets additionalProperties to false."""

    def tables(schema: dict) -> list[dict]:
        found = [schema] if "properties" in schema else []
        for sub in schema.get("properties", {}).values():
            found += tables(sub)
        if isinstance(schema.get("additionalProperties"), dict):
            found += tables(schema["additionalProperties"])
        return found

    found = tables(profiles_schema())
    # top level, tenant, and its eight fixed-key sections
    assert len(found) == 10
    assert all(t["additionalProperties"] is False for t in found)


def test_example_profiles_file_is_valid_under_strict() -> None:
    """profiles.example.toml at the repo root validates with no findings at all."""
    findings = validate_file(REPO_ROOT / "profiles.example.toml", strict=True)
    assert findings == [], format_findings(findings)


def test_example_profiles_file_uses_every_key() -> None:
    """The example mentions every key the schema defines (set or commented)."""
    text = (REPO_ROOT / "profiles.example.toml").read_text(encoding="utf-8")
    leaves = {path[-1] for path in _spec_paths(PROFILE_SPEC) if path[-1] != "*"}
    missing = sorted(key for key in leaves if key not in text)
    assert missing == []


@pytest.mark.parametrize("name", ["minimal.toml", "empty.toml", "normalised.toml"])
def test_valid_fixtures_have_no_findings(name: str) -> None:
    """The valid samples pass strict validation."""
    assert validate_file(PROFILES / "valid" / name, strict=True) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://user:s3cr3t@rdap.example:99999/",
        "ftp://user:s3cr3t@rdap.example/",
        "https://user:s3cr3t@rdap.example/?q=1",
    ],
)
def test_invalid_url_with_credentials_is_masked(url: str) -> None:
    """Whatever else is wrong with a URL, its password is never shown."""
    [finding] = validate_text(f"[tenants.a.servers]\nall = {json.dumps(url)}\n", "p.toml")
    assert finding.severity == "error"
    assert "s3cr3t" not in finding.message
