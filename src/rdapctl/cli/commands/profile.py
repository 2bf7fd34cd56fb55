"""``rdapctl profile validate|list|show|init|schema``.

Profiles files hold free text (display names, purposes, URLs). ``profile list`` passes
each value through :func:`rdapctl.core.termtext.visible` and gives rich ``Text`` cells only;
``profile show`` (TOML) writes every invisible or controlling character as a TOML
``\\uXXXX`` escape, so the document stays loadable and means the same. JSON output is
escaped by the encoder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rdapctl.cli.commands import exits
from rdapctl.cli.options import FormatOpt, ProfilesOpt, ValidateFormatOpt

if TYPE_CHECKING:
    from rdapctl.app.runtime import Runtime
    from rdapctl.profiles.loader import ProfilesFile

# As rdapctl.core.termtext: controls, format characters (bidi, zero-width, tags), surrogates
# and line/paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

app = typer.Typer(
    help="Tenant profiles: validate, list, show, init, schema.", rich_markup_mode=None
)


@app.command("validate")
@exits
def profile_validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Profiles files to check (default: the one rdapctl would use)."),
    ] = None,
    fmt: ValidateFormatOpt = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    profiles: ProfilesOpt = None,
) -> int:
    """Check profiles files; exit 0 when valid, 3 otherwise (made for CI)."""
    from rdapctl.cli.context import make_runtime
    from rdapctl.core.errors import ConfigError, ExitCode, UsageError
    from rdapctl.core.termtext import visible
    from rdapctl.profiles.findings import format_findings, has_errors
    from rdapctl.profiles.loader import find_profiles_file
    from rdapctl.profiles.validation import validate_file

    files = files or []
    runtime = None
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
        env = runtime.env if runtime is not None else make_runtime("profile validate").env
        findings.extend(validate_file(path, strict=strict, env=env))
    text = format_findings(findings, fmt)  # type: ignore[arg-type]
    if fmt == "text":
        text = visible(text)  # findings quote values of the file
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return int(ExitCode.CONFIG) if has_errors(findings) else 0


@app.command("list")
@exits
def profile_list(profiles: ProfilesOpt = None, output: FormatOpt = None) -> int:
    """List tenants: name, display name, isolation, residency."""
    from rdapctl.cli.output import choose_format, console, print_json
    from rdapctl.core.termtext import visible

    out = choose_format(output)
    _, loaded = _load(profiles, "profile list")
    rows: list[dict[str, Any]] = []
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
        print_json(
            {"schema": 1, "profiles": str(loaded.path) if loaded.path else None, "tenants": rows}
        )
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


@app.command("show")
@exits
def profile_show(
    name: Annotated[str | None, typer.Argument(help="Tenant (default: the selected one).")] = None,
    profiles: ProfilesOpt = None,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="toml or json.", autocompletion=lambda: ["toml", "json"]
        ),
    ] = "toml",
) -> int:
    """Show a tenant's effective settings after defaults (incl. effective cache TTL)."""
    from rdapctl.core.errors import UsageError
    from rdapctl.profiles.loader import render_tenant, select_tenant

    if output not in ("toml", "json"):
        raise UsageError(f"unknown output format {output!r}", hint="one of: toml, json")
    runtime, loaded = _load(profiles, "profile show")
    tenant = select_tenant(loaded, name, runtime.env)
    text = render_tenant(tenant, output)  # type: ignore[arg-type]
    if output == "toml":
        text = _toml_visible(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


@app.command("init")
@exits
def profile_init(
    path: Annotated[
        Path | None, typer.Argument(help="Where to write (default: the profiles file location).")
    ] = None,
    tenant: Annotated[str, typer.Option("--tenant", help="Name of the first tenant.")] = "default",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> int:
    """Write a commented starter profiles file (never overwrites without --force)."""
    from rdapctl.cli.context import make_runtime
    from rdapctl.core import diagnostics
    from rdapctl.policy.tenant import check_tenant_name
    from rdapctl.profiles.loader import write_starter

    runtime = make_runtime("profile init")
    check_tenant_name(tenant)
    written = write_starter(
        path or runtime.paths.profiles_file, tenant, force, in_state=path is None
    )
    diagnostics.note(f"wrote {written} (tenant {tenant!r})")
    return 0


@app.command("schema")
@exits
def profile_schema() -> int:
    """Print the JSON Schema of the profiles file (for editors and CI)."""
    from rdapctl.cli.output import print_json
    from rdapctl.profiles.loader import profiles_schema

    print_json(profiles_schema(), compact=False)
    return 0


def _load(profiles: Path | None, command: str) -> tuple[Runtime, ProfilesFile]:
    from rdapctl.cli.context import make_runtime
    from rdapctl.core import diagnostics
    from rdapctl.profiles.loader import find_profiles_file, load_profiles

    runtime = make_runtime(command)
    loaded = load_profiles(find_profiles_file(profiles, runtime.env, runtime.paths))
    for finding in loaded.warnings:
        diagnostics.warning(f"{finding.key_path}: {finding.message}")
    return runtime, loaded


def _toml_visible(text: str) -> str:
    """``text`` with every hidden character (see _HIDDEN) other than newline and tab
    written as a ``\\uXXXX`` escape. The TOML writer leaves bidi, zero-width and C1
    characters raw inside strings; escaped, they mean the same to a TOML reader and a
    terminal shows them instead of obeying them."""
    import unicodedata

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
