"""Tenant profiles: finding the profiles file, loading it, choosing a tenant,
rendering a tenant's effective settings, and writing a commented starter file.

Owns: the file-location precedence, the tenant-selection precedence, and the
``profile show`` / ``profile init`` / ``profile schema`` cores. Validation itself
lives in ``rdapctl.profiles.validation`` (imported lazily so shell completion via
``read_tenant_names_fast`` stays cheap).

Must not: import typer/rich, print, or keep state between calls.

Decisions:

* Profiles file: explicit path > ``$RDAPCTL_PROFILES`` > ``$RDAPCTL_HOME/profiles.toml``
  > ``profiles.toml`` in the user config dir. When ``RDAPCTL_HOME`` is set the user
  config dir is never consulted: that variable exists to isolate state.
  An explicit or ``$RDAPCTL_PROFILES`` path that does not exist is a ConfigError.
* Tenant: explicit > ``$RDAPCTL_TENANT`` > the file's ``default_tenant`` > ``default``.
  The built-in ``default`` tenant (every safe default) exists only when there is no
  profiles file or the file defines no tenants. A file that defines tenants but no
  ``default`` and no ``default_tenant`` is an error when nothing is selected: silently
  falling back to built-in policy would bypass the organisation's own.
* Invalid tenant names given on the command line or in the environment are a
  ConfigError (exit 3), like unknown ones; they are never used as folder names.
* ``profile init`` writes the file 0600: profiles reveal internal infrastructure
  (server URLs, pins, residency), so they are treated like other rdapctl state.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rdapctl.core.errors import ConfigError
from rdapctl.core.records import record
from rdapctl.policy.tenant import (
    DEFAULT_TENANT,
    Tenant,
    builtin_default_tenant,
    check_tenant_name,
    is_tenant_name,
)

if TYPE_CHECKING:
    from rdapctl.profiles.findings import Finding
    from rdapctl.store.paths import StatePaths

VALIDATE_HINT = "run `rdapctl profile validate` to list every problem"


@record
class ProfilesFile:
    """A loaded, valid profiles file (``path`` is None for the built-in profile)."""

    path: Path | None = None
    tenants: Mapping[str, Tenant] = field(default_factory=dict)
    default_tenant: str | None = None
    warnings: tuple[Finding, ...] = ()

    @property
    def tenant_names(self) -> list[str]:
        """Names a user may select, sorted (``default`` when the built-in applies)."""
        if not self.tenants:
            return [DEFAULT_TENANT]
        return sorted(self.tenants)

    def get(self, name: str) -> Tenant:
        """The tenant called ``name``; ConfigError listing the known ones otherwise."""
        check_tenant_name(name)
        if not self.tenants and name == DEFAULT_TENANT:
            return builtin_default_tenant()
        tenant = self.tenants.get(name)
        if tenant is None:
            where = f" in {self.path}" if self.path else ""
            raise ConfigError(
                f"unknown tenant {name!r}{where}; known tenants: {', '.join(self.tenant_names)}",
                hint="pass --tenant with one of the known tenants, or add it to the profiles file",
                code="unknown_tenant",
            )
        return tenant


def find_profiles_file(
    explicit: Path | None, env: Mapping[str, str], paths: StatePaths
) -> Path | None:
    """The profiles file to use, or None when there is none (built-in default)."""
    if explicit is not None:
        return _must_exist(Path(explicit).expanduser(), "--profiles")
    if from_env := env.get("RDAPCTL_PROFILES"):
        return _must_exist(Path(from_env).expanduser(), "RDAPCTL_PROFILES")
    if home := env.get("RDAPCTL_HOME"):
        candidate = Path(home).expanduser() / "profiles.toml"
    else:
        candidate = paths.profiles_file
    # In a state folder: used only when the folder and the file are ours (exit 3).
    from rdapctl.store.ownership import check_dir, check_file

    check_dir(candidate.parent)
    return candidate if check_file(candidate, follow_own_link=True) is not None else None


def _must_exist(path: Path, source: str) -> Path:
    if not path.exists():
        raise ConfigError(
            f"profiles file {str(path)!r} (from {source}) does not exist",
            hint="create it with `rdapctl profile init PATH`, or fix the path",
            code="profiles_not_found",
        )
    if path.is_dir():
        raise ConfigError(
            f"profiles file {str(path)!r} (from {source}) is a directory",
            hint="point it at a .toml file",
        )
    return path


def load_profiles(path: Path | None) -> ProfilesFile:
    """Load and validate ``path``; the first error (in file order) is a ConfigError
    ``FILE:LINE:COL: key.path: what is wrong``. None gives the built-in profile."""
    if path is None:
        return ProfilesFile()
    from rdapctl.profiles.validation import analyse_text, read_profiles_text

    text, problem = read_profiles_text(path)
    if text is None:
        raise ConfigError(f"{path}: {problem}", hint="check the --profiles / RDAPCTL_PROFILES path")
    analysis = analyse_text(text, str(path), strict=False, base_dir=path.parent)
    errors = [f for f in analysis.findings if f.severity == "error"]
    if errors:
        first = errors[0]
        where = str(path)
        if first.line is not None:
            where += f":{first.line}" + (f":{first.column}" if first.column is not None else "")
        what = f"{first.key_path}: {first.message}" if first.key_path else first.message
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(
            f"{where}: {what}{more}",
            hint=VALIDATE_HINT.replace("validate`", f"validate {path}`"),
            code="invalid_profiles",
        )
    warnings = tuple(f for f in analysis.findings if f.severity == "warning")
    return ProfilesFile(path, analysis.tenants, analysis.default_tenant, warnings)


def select_tenant(profiles: ProfilesFile, explicit: str | None, env: Mapping[str, str]) -> Tenant:
    """Explicit > $RDAPCTL_TENANT > default_tenant > ``default`` (see module doc)."""
    name = explicit or env.get("RDAPCTL_TENANT") or profiles.default_tenant
    if name:
        return profiles.get(name)
    if not profiles.tenants or DEFAULT_TENANT in profiles.tenants:
        return profiles.get(DEFAULT_TENANT)
    raise ConfigError(
        f"no tenant selected and {profiles.path} has no default_tenant; "
        f"known tenants: {', '.join(profiles.tenant_names)}",
        hint="pass --tenant NAME, set RDAPCTL_TENANT, or set default_tenant in the profiles file",
        code="no_tenant_selected",
    )


def read_tenant_names_fast(path: Path | None) -> list[str]:
    """Tenant names for shell completion: only tomllib, never raises.

    No file (or one without tenants) gives ``["default"]``; an unreadable or
    broken file gives ``[]``.
    """
    if path is None:
        return [DEFAULT_TENANT]
    from rdapctl.profiles.limits import nesting_problem, read_profile_bytes

    raw, problem = read_profile_bytes(path)
    if raw is None:
        return [DEFAULT_TENANT] if problem == "file not found" else []
    try:
        text = raw.decode("utf-8")
        if nesting_problem(text) is not None:
            return []
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError):
        return []
    tenants = data.get("tenants")
    if not isinstance(tenants, dict):
        return [DEFAULT_TENANT] if tenants is None else []
    names = sorted(n for n in tenants if is_tenant_name(n))
    return names or ([] if tenants else [DEFAULT_TENANT])


# ---------------------------------------------------------------------------
# profile show


def tenant_to_dict(tenant: Tenant) -> dict[str, Any]:
    """Effective settings after defaults, plus the derived TTLs and the policy fingerprint.

    Tuples become lists; ``None`` is kept (JSON shows it as null)."""
    data: dict[str, Any] = _plain(tenant.to_dict())
    team = data.pop("team", None)
    if team is not None:
        team.pop("password", None)  # never shown (the backend URL is without it)
        data["team"] = team
    data["effective_cache_ttl_s"] = tenant.effective_cache_ttl_s
    data["effective_negative_ttl_s"] = tenant.effective_negative_ttl_s
    data["policy_fingerprint"] = tenant.fingerprint()
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


_DERIVED = ("effective_cache_ttl_s", "effective_negative_ttl_s", "policy_fingerprint")


def tenant_to_toml(tenant: Tenant) -> str:
    """The tenant as a loadable profiles document (``[tenants.NAME]``), derived
    values as comments above it. Unset optional values (None) are left out."""
    import tomli_w

    data = tenant_to_dict(tenant)
    header = [f"# {key} = {data.pop(key)!r}".replace("'", '"') for key in _DERIVED]
    name = data.pop("name")
    body = tomli_w.dumps({"tenants": {name: _drop_none(data)}})
    return "\n".join([f"# Effective settings of tenant {name!r}.", *header, "", body])


def render_tenant(tenant: Tenant, fmt: Literal["toml", "json"]) -> str:
    if fmt == "json":
        import json

        return json.dumps({"schema": 1, **tenant_to_dict(tenant)}, indent=2, sort_keys=False)
    return tenant_to_toml(tenant)


# ---------------------------------------------------------------------------
# profile schema


def profiles_schema() -> dict[str, Any]:
    """The shipped JSON Schema (draft 2020-12) of profiles files."""
    import json
    from importlib import resources

    text = (
        resources.files("rdapctl").joinpath("data/schemas/profiles.schema.json").read_text("utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


# ---------------------------------------------------------------------------
# profile init

_SECTION_DOCS: dict[str, str] = {
    "compliance": "Regulatory regimes; gdpr/ccpa cap the cache TTL at one hour.",
    "security": "Network and data-protection policy (SSRF guard, redaction, limits).",
    "servers": "Server overrides; the IANA bootstrap is used when these are absent.",
    "regions": "Host -> region, used to enforce data_residency.",
    "tls": "TLS trust: custom CA bundle and SPKI pinning.",
    "cache": "Encrypted response cache.",
    "audit": "Tamper-evident audit log.",
    "keys": "Per-tenant key management.",
}

_COMMENTED_EXAMPLES: dict[str, list[str]] = {
    "servers": [
        "# [tenants.{name}.servers]",
        '# all = "https://rdap.internal.example/"     # send every query here',
        '# fallback = "https://rdap.example.net/"     # when bootstrap knows no server',
        '# search = "https://rdap.example.net/"       # where searches go by default',
        '# domains = { "co.uk" = "https://rdap.nominet.uk/uk/" }',
        '# ip = { "192.0.2.0/24" = "https://rdap.example.net/" }',
        '# autnum = { "64496-64511" = "https://rdap.example.net/" }',
        '# entity = { ARIN = "https://rdap.arin.net/registry/" }',
    ],
    "regions": [
        "# [tenants.{name}.regions]",
        '# "rdap.denic.de" = "europe"',
    ],
    "tls_extra": [
        '# ca_bundle = "/etc/ssl/certs/corp-ca.pem"   # relative paths: from this file',
        "# [tenants.{name}.tls.pins]",
        '# "rdap.example.net" = ["sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]',
    ],
}


def _starter_data(tenant: str) -> dict[str, Any]:
    from rdapctl.policy.tenant import (
        BASE_REDACT_FIELDS,
        DEFAULT_QUERY_TYPES,
        AuditSettings,
        CacheSettings,
        KeySettings,
        Security,
    )

    sec = Security()
    cache = CacheSettings()
    audit = AuditSettings()
    return {
        "default_tenant": tenant,
        "tenants": {
            tenant: {
                "display_name": tenant,
                "isolation": "strict",
                "data_residency": [],
                "unknown_region": "deny",
                "business_criticality": "medium",
                "compliance": {"gdpr": False, "ccpa": False, "pdpl": False},
                "security": {
                    "redact_pii": sec.redact_pii,
                    "redact_fields": list(BASE_REDACT_FIELDS),
                    "redaction_exempt_roles": list(sec.redaction_exempt_roles),
                    "allow_http": sec.allow_http,
                    "allow_private_ips": False,
                    "allowed_ports": list(sec.allowed_ports),
                    "follow_referrals": sec.follow_referrals,
                    "allowed_query_types": list(DEFAULT_QUERY_TYPES),
                    "max_concurrent_requests": sec.max_concurrent_requests,
                    "requests_per_second": sec.requests_per_second,
                    "max_batch_size": sec.max_batch_size,
                    "max_search_results": sec.max_search_results,
                    "timeout_s": sec.timeout_s,
                    "max_response_bytes": sec.max_response_bytes,
                },
                "tls": {"certificate_pinning": False},
                "cache": {
                    "enabled": cache.enabled,
                    "ttl_s": cache.ttl_s,
                    "negative_ttl_s": cache.negative_ttl_s,
                    "max_size_mb": cache.max_size_mb,
                },
                "audit": {
                    "enabled": audit.enabled,
                    "hash_queries": audit.hash_queries,
                    "retention_days": audit.retention_days,
                    "fail_open": audit.fail_open,
                    "syslog": audit.syslog,
                },
                "keys": {"rotation_days": KeySettings().rotation_days},
            }
        },
    }


_HEADER_RE = re.compile(r"^\[(?P<path>[^\]]+)\]\s*$")
_KEY_RE = re.compile(r"^(?P<key>[A-Za-z0-9_-]+) = ")


def starter_profiles_toml(tenant: str) -> str:
    """A commented starter profiles file for one tenant; valid for ``load_profiles``.

    The data is written by tomli-w, then a comment line explaining each key (taken
    from the schema's descriptions) is inserted above it."""
    import tomli_w

    from rdapctl.profiles.schema import PROFILE_SPEC, TENANT_SPEC
    from rdapctl.profiles.spec import Spec, Table

    check_tenant_name(tenant)
    body = tomli_w.dumps(_starter_data(tenant))
    out = [
        "# rdapctl tenant profiles. Every key is optional; unknown keys are errors.",
        "# Check this file with: rdapctl profile validate --strict",
        "# Full reference: rdapctl profile schema, and profiles.example.toml.",
        "",
    ]
    section: Spec = PROFILE_SPEC
    section_name = ""
    for line in body.splitlines():
        if m := _HEADER_RE.match(line):
            parts = m.group("path").split(".")
            section_name = parts[-1] if len(parts) > 2 else ""
            section = TENANT_SPEC
            if section_name:
                section = TENANT_SPEC.fields[section_name]
                out.append(f"# {_SECTION_DOCS[section_name]}")
            else:
                out.append(f"# Tenant {tenant!r}: {TENANT_SPEC.doc}")
            out.append(line)
            continue
        if (m := _KEY_RE.match(line)) and isinstance(section, Table):
            spec = section.fields.get(m.group("key"))
            if spec is not None and spec.doc:
                out.append(f"# {spec.doc}")
        out.append(line)
        if section_name == "tls" and line.startswith("certificate_pinning"):
            out.extend(s.replace("{name}", tenant) for s in _COMMENTED_EXAMPLES["tls_extra"])
    for key in ("servers", "regions"):
        out.extend(["", f"# {_SECTION_DOCS[key]}"])
        out.extend(s.replace("{name}", tenant) for s in _COMMENTED_EXAMPLES[key])
    return "\n".join(out) + "\n"


def write_starter(path: Path, tenant: str, force: bool = False, *, in_state: bool = False) -> Path:
    """Write the starter file to ``path`` (0600); never overwrites unless ``force``.

    ``in_state``: ``path`` is the default profiles file in rdapctl's config folder,
    which must then be ours (see :mod:`rdapctl.store.ownership`)."""
    text = starter_profiles_toml(tenant)
    path = Path(path).expanduser()
    if path.is_dir():
        raise ConfigError(f"{path} is a directory", hint="give a file path such as profiles.toml")
    if path.exists() and not force:
        raise ConfigError(
            f"{path} already exists; not overwriting it",
            hint="pass --force to replace it",
            code="profiles_exists",
        )
    if in_state:
        from rdapctl.store.ownership import check_file
        from rdapctl.store.paths import ensure_private_dir

        ensure_private_dir(path.parent)
        check_file(path, follow_own_link=True)
    else:
        # New parent folders may be rdapctl's own state folder: keep them owner-only.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    from rdapctl.store.paths import write_replacing

    # An unpredictable name, created exclusively (0600, no symlink followed), renamed over.
    write_replacing(path, text.encode("utf-8"))
    return path
