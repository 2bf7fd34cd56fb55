"""``rdapctl profile validate|list|show|init|schema`` and ``rdapctl schema``.

Profiles files hold free text (display names, purposes, URLs). ``profile list`` passes
each value through :func:`rdapctl.core.termtext.visible` and gives rich ``Text`` cells only;
``profile show`` (TOML) writes every invisible or controlling character as a TOML
``\\uXXXX`` escape, so the document stays loadable and means the same. JSON output is
escaped by the encoder.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from importlib import resources
from pathlib import Path

from rdapctl.cli.context import make_runtime
from rdapctl.cli.output import choose_format, console, print_json
from rdapctl.core import diagnostics
from rdapctl.core.errors import ConfigError, ExitCode, UsageError
from rdapctl.core.termtext import visible

# As rdapctl.core.termtext: controls, format characters (bidi, zero-width, tags), surrogates
# and line/paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def validate(files: list[Path], *, fmt: str, strict: bool, profiles: Path | None) -> int:
    from rdapctl.profiles.loader import find_profiles_file
    from rdapctl.profiles.validation import format_findings, has_errors, validate_file

    if fmt not in ("text", "json", "github"):
        raise UsageError(f"unknown format {fmt!r}", hint="one of: text, json, github")
    if not files:
        runtime = make_runtime("profile validate")
        found = find_profiles_file(profiles, runtime.env, runtime.paths)
        if found is None:
            raise ConfigError(
                "no profiles file to validate",
                hint="pass FILE, --profiles PATH, or create one with `rdapctl profile init`",
            )
        files = [found]
    findings = []
    for path in files:
        findings.extend(validate_file(path, strict=strict))
    text = format_findings(findings, fmt)  # type: ignore[arg-type]
    if fmt == "text":
        text = visible(text)  # findings quote values of the file
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return int(ExitCode.CONFIG) if has_errors(findings) else 0


def _load(profiles: Path | None, command: str):  # type: ignore[no-untyped-def]
    from rdapctl.profiles.loader import find_profiles_file, load_profiles

    runtime = make_runtime(command)
    loaded = load_profiles(find_profiles_file(profiles, runtime.env, runtime.paths))
    for finding in loaded.warnings:
        diagnostics.warning(f"{finding.key_path}: {finding.message}")
    return runtime, loaded


def list_tenants(*, profiles: Path | None, fmt: str | None) -> int:
    out = choose_format(fmt)
    _, loaded = _load(profiles, "profile list")
    rows = []
    for name in loaded.tenant_names:
        tenant = loaded.get(name)
        rows.append(
            {
                "tenant": name,
                "display_name": tenant.display_name,
                "isolation": tenant.isolation,
                "data_residency": list(tenant.data_residency),
                "default": name == (loaded.default_tenant or "default"),
            }
        )
    if out == "json":
        print_json({"profiles": str(loaded.path) if loaded.path else None, "tenants": rows})
        return 0
    from rich.table import Table
    from rich.text import Text

    table = Table("tenant", "display name", "isolation", "residency")
    for row in rows:
        mark = " (default)" if row["default"] else ""
        residency = ", ".join(row["data_residency"]) or "any"
        cells = (row["tenant"] + mark, row["display_name"] or "", row["isolation"], residency)
        table.add_row(*(Text(visible(str(cell), one_line=True)) for cell in cells))
    console().print(table)
    return 0


def show(name: str | None, *, profiles: Path | None, fmt: str) -> int:
    from rdapctl.profiles.loader import render_tenant, select_tenant

    if fmt not in ("toml", "json"):
        raise UsageError(f"unknown output format {fmt!r}", hint="one of: toml, json")
    runtime, loaded = _load(profiles, "profile show")
    tenant = select_tenant(loaded, name, runtime.env)
    text = render_tenant(tenant, fmt)  # type: ignore[arg-type]
    if fmt == "toml":
        text = _toml_visible(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _toml_visible(text: str) -> str:
    """``text`` with every hidden character (see _HIDDEN) other than newline and tab
    written as a ``\\uXXXX`` escape. The TOML writer leaves bidi, zero-width and C1
    characters raw inside strings; escaped, they mean the same to a TOML reader and a
    terminal shows them instead of obeying them."""
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        if ch in "\n\t" or ch.isprintable() or unicodedata.category(ch) not in _HIDDEN:
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def init(path: Path | None, *, tenant: str, force: bool) -> int:
    from rdapctl.profiles.loader import check_tenant_name, write_starter

    runtime = make_runtime("profile init")
    check_tenant_name(tenant)
    written = write_starter(
        path or runtime.paths.profiles_file, tenant, force, in_state=path is None
    )
    diagnostics.note(f"wrote {written} (tenant {tenant!r})")
    return 0


def schema() -> int:
    from rdapctl.profiles.loader import profiles_schema

    print_json(profiles_schema(), compact=False)
    return 0


def print_packaged_json(name: str) -> int:
    text = (resources.files("rdapctl") / "data" / name).read_text(encoding="utf-8")
    print_json(json.loads(text), compact=False)
    return 0
