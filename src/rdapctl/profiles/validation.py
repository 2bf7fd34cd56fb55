"""Validation of tenant profiles files: TOML text in, findings and tenants out.

Owns: turning TOML text into normalised per-tenant settings plus a list of
``Finding``, and building ``rdapctl.policy.tenant.Tenant`` from normalised settings.
The parts: the spec language, ``rdapctl.profiles.spec``; the description of every
key (``PROFILE_SPEC``), ``rdapctl.profiles.schema``; the cross-key rules,
``rdapctl.profiles.rules``; findings and their renderings,
``rdapctl.profiles.findings``; key positions in the text, ``rdapctl.profiles.positions``.

Must not: choose a profiles file or a tenant (``rdapctl.profiles.loader`` does), print,
import typer/rich, or import ``idna`` unless a non-ASCII key needs it.

Decisions:

* ``data_residency`` and ``regions`` accept every name in ``rdapctl.policy.tenant.REGIONS``,
  ``global`` included (a server that is deliberately served world-wide).
* ``tls.ca_bundle`` that does not exist is a warning here (the file may be
  provisioned later, e.g. on the production host); the TLS layer fails on use.
  Relative paths are resolved against the profiles file's folder.
* ``redact_fields`` takes lower-case vCard/jCard property names (RFC 6350, plus
  ``contact-uri`` from RFC 8605); anything else is an error.
* An http:// server URL while ``allow_http`` is false is a warning: every request
  to it would be refused at run time.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rdapctl.core.records import record
from rdapctl.policy.tenant import (
    AuditSettings,
    CacheSettings,
    Compliance,
    KeySettings,
    Security,
    Servers,
    TeamSettings,
    Tenant,
    Tls,
    default_redact_fields,
)
from rdapctl.profiles.findings import Finding, format_key_path, sort_findings
from rdapctl.profiles.limits import MAX_TENANTS, nesting_problem, read_profile_bytes
from rdapctl.profiles.rules import check_rules
from rdapctl.profiles.schema import PROFILE_SPEC
from rdapctl.profiles.spec import Report


def build_tenant(name: str, settings: Mapping[str, Any], base_dir: Path | None = None) -> Tenant:
    """A ``Tenant`` from one tenant's normalised settings (as produced by ``analyse_text``)."""
    top = {k: v for k, v in settings.items() if not isinstance(v, dict) or k == "regions"}
    compliance = Compliance(**settings.get("compliance", {}))
    security = dict(settings.get("security", {}))
    security.setdefault("redact_fields", default_redact_fields(compliance))
    tls = dict(settings.get("tls", {}))
    if tls.get("ca_bundle") is not None:
        tls["ca_bundle"] = str(resolve_ca_bundle(tls["ca_bundle"], base_dir))
    return Tenant(
        name=name,
        **top,
        compliance=compliance,
        security=Security(**security),
        servers=Servers(**settings.get("servers", {})),
        tls=Tls(**tls),
        cache=CacheSettings(**settings.get("cache", {})),
        audit=AuditSettings(**settings.get("audit", {})),
        keys=KeySettings(**settings.get("keys", {})),
        team=build_team(settings.get("team")),
    )


def build_team(settings: Mapping[str, Any] | None) -> TeamSettings | None:
    """The team backend of a tenant (None without one, or without a backend URL, which
    ``rules`` reports): the password is taken out of the URL."""
    if not settings or "backend" not in settings:
        return None
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(settings["backend"])
    password = unquote(parts.password) if parts.password is not None else None
    host = parts.netloc.rpartition("@")[2]
    user = parts.username
    netloc = f"{user}@{host}" if user else host
    backend = urlunsplit((parts.scheme.lower(), netloc, parts.path, "", ""))
    return TeamSettings(**{**settings, "backend": backend, "password": password})


def resolve_ca_bundle(value: str, base_dir: Path | None) -> Path:
    """``~`` expanded; relative paths are relative to the profiles file's folder."""
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


@record
class Analysis:
    """Findings plus, for each well-formed tenant, its built ``Tenant``."""

    findings: list[Finding]
    tenants: dict[str, Tenant]
    default_tenant: str | None


_TOML_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END_RE = re.compile(r"\s*\(at end of document\)\s*$")


def _syntax_finding(exc: tomllib.TOMLDecodeError, text: str, filename: str) -> Finding:
    message = str(exc)
    line: int | None = None
    column: int | None = None
    if m := _TOML_POS_RE.search(message):
        line, column = int(m.group(1)), int(m.group(2))
        message = message[: m.start()]
    elif m := _TOML_END_RE.search(message):
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
        message = message[: m.start()]
    return Finding(filename, line, column, "", f"TOML syntax error: {message}", "error", None)


def analyse_text(
    text: str,
    filename: str,
    *,
    strict: bool = False,
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Analysis:
    """Check a whole profiles document; collect every finding, build what is valid.

    ``env``: the environment a command would run in (``profile validate``): a tenant
    with a team backend then needs a master key in it."""
    base = base_dir if base_dir is not None else Path(filename).parent
    # Checked before tomllib, which recurses per level (a RecursionError, not a finding).
    deep = nesting_problem(text)
    if deep is not None:
        finding = Finding(
            filename, deep.line, deep.column, "", deep.message, "error", deep.expected
        )
        return Analysis([finding], {}, None)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return Analysis([_syntax_finding(exc, text, filename)], {}, None)
    many = data.get("tenants")
    if isinstance(many, dict) and len(many) > MAX_TENANTS:
        # Each tenant costs kilobytes once built: a file of tiny tables must not cost gigabytes.
        message = f"{len(many)} tenants in one file; at most {MAX_TENANTS} are allowed"
        from rdapctl.profiles.positions import first_line_of

        line, column = first_line_of(text, "tenants")
        finding = Finding(
            filename, line, column, "tenants", message, "error", "split the tenants over files"
        )
        return Analysis([finding], {}, None)
    report = Report(base)
    doc = PROFILE_SPEC.check(data, (), report)
    tenants: dict[str, Tenant] = {}
    raw_tenants = data.get("tenants")
    normalised = doc.get("tenants") if isinstance(doc, dict) else None
    if isinstance(normalised, dict) and isinstance(raw_tenants, dict):
        for name, settings in normalised.items():
            before = len(report.items)
            tenant = build_tenant(name, settings, base)
            check_rules(name, tenant, raw_tenants.get(name, {}), report)
            if env is not None and tenant.team is not None:
                _check_team_master_key(name, env, report)
            tenant_errors = any(sev == "error" for _, _, sev, _ in report.items[before:])
            if not tenant_errors:
                tenants[name] = tenant
    default = data.get("default_tenant")
    tenants_usable = raw_tenants is None or isinstance(raw_tenants, dict)
    if isinstance(default, str) and tenants_usable and default not in tenants:
        known = sorted(raw_tenants) if isinstance(raw_tenants, dict) else []
        if default not in known:
            report.error(
                ("default_tenant",),
                f"default_tenant {default!r} names no tenant defined in this file",
                "one of: " + ", ".join(known) if known else "define [tenants." + default + "]",
            )
    findings = _place(report, text, filename, strict=strict)
    return Analysis(findings, tenants, default if isinstance(default, str) else None)


def _place(report: Report, text: str, filename: str, *, strict: bool) -> list[Finding]:
    if not report.items:
        return []  # the usual case: no need to scan the text for key positions
    from rdapctl.profiles.positions import locate_keys, position_of

    positions = locate_keys(text)
    out = []
    for path, message, severity, expected in report.items:
        line, column = position_of(positions, path)
        out.append(
            Finding(
                file=filename,
                line=line,
                column=column,
                key_path=format_key_path(path),
                message=message,
                severity="error" if strict else severity,
                expected=expected,
            )
        )
    return sort_findings(out)


def _check_team_master_key(name: str, env: Mapping[str, str], report: Report) -> None:
    from rdapctl.core.errors import ConfigError
    from rdapctl.store.keys.master import MASTER_HINT, master_key_from_env

    try:
        present = master_key_from_env(env) is not None
    except ConfigError as exc:
        report.error(("tenants", name, "team", "backend"), exc.message, MASTER_HINT)
        return
    if not present:
        report.error(
            ("tenants", name, "team", "backend"),
            "a team backend needs a master key (RDAPCTL_MASTER_KEY or RDAPCTL_MASTER_KEY_FILE):"
            " the shared keyring is kept wrapped under it",
            MASTER_HINT,
        )


def validate_text(
    text: str,
    filename: str,
    *,
    strict: bool = False,
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Every finding for a profiles document (``strict`` turns warnings into errors)."""
    return analyse_text(text, filename, strict=strict, base_dir=base_dir, env=env).findings


def read_profiles_text(path: Path) -> tuple[str | None, str | None]:
    """(text, None) or (None, why it cannot be read) — never raises for I/O problems;
    files over the size limit are not read (``rdapctl.profiles.limits``)."""
    data, problem = read_profile_bytes(path)
    if data is None:
        return None, problem
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"file is not valid UTF-8 (byte {exc.start})"


def validate_file(
    path: Path, *, strict: bool = False, env: Mapping[str, str] | None = None
) -> list[Finding]:
    """Every finding for the profiles file at ``path`` (unreadable files give one finding)."""
    text, problem = read_profiles_text(path)
    if text is None:
        return [Finding(str(path), None, None, "", problem or "cannot read file", "error", None)]
    return validate_text(text, str(path), strict=strict, base_dir=path.parent, env=env)
