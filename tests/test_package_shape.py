"""The shape of what ships: the installed package is what the tests import, every module
stays small, and no module reaches into a dependency's private names."""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest

import rdapctl

PACKAGE = Path(rdapctl.__file__).resolve().parent
CHECKOUT = Path(__file__).resolve().parent.parent
MAX_LINES = 500


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.skipif(
    os.environ.get("RDAPCTL_TEST_INSTALLED") != "1", reason="CI sets RDAPCTL_TEST_INSTALLED=1"
)
def test_the_tests_import_the_installed_package_not_the_checkout() -> None:
    """CI installs the wheel; a test run that imported the source tree would prove
    nothing about what users get."""
    assert not PACKAGE.is_relative_to(CHECKOUT), PACKAGE
    assert "site-packages" in PACKAGE.parts


def test_the_package_ships_its_data_files() -> None:
    """Bootstrap files and JSON Schemas are package data: a wheel without them breaks
    lookups offline and ``rdapctl schema``."""
    data = PACKAGE / "data"
    for name in ("asn", "dns", "ipv4", "ipv6", "object-tags"):
        assert (data / "bootstrap" / f"{name}.json").is_file(), name
    assert list(data.rglob("*.schema.json")), "no JSON Schema shipped"
    assert (PACKAGE / "py.typed").is_file()


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_500_lines(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"


def _private_uses(tree: ast.AST) -> list[str]:
    """Names of other packages' private modules or members this module uses: imports
    of ``_name`` from a dependency, and ``module._name`` on a module imported by name."""
    imported_modules: dict[str, str] = {}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "rdapctl":
                    imported_modules[alias.asname or alias.name.split(".")[0]] = alias.name
                    if any(_private(part) for part in alias.name.split(".")):
                        found.append(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "rdapctl":
                continue
            if any(_private(part) for part in node.module.split(".")):
                found.append(node.module)
            found.extend(f"{node.module}.{a.name}" for a in node.names if _private(a.name))
            for alias in node.names:
                imported_modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported_modules
        ):
            found.append(f"{imported_modules[node.value.id]}.{node.attr}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_names_of_dependencies_or_the_standard_library(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert _private_uses(tree) == []


def test_the_private_name_check_finds_what_it_is_for() -> None:
    """The check above is only worth something if it catches the shapes it names."""
    source = (
        "import dataclasses\nfrom cryptography.hazmat.bindings import _rust\n"
        "from diskcache import core\nx = dataclasses._FIELD\ny = core._disk\n"
        "import sys\nz = sys._getframe\nok = dataclasses.field\n"
    )
    assert sorted(_private_uses(ast.parse(source))) == [
        "cryptography.hazmat.bindings._rust",
        "dataclasses._FIELD",
        "diskcache.core._disk",
        "sys._getframe",
    ]


def test_the_package_imports_without_the_checkout_on_the_path() -> None:
    """``python -c 'import rdapctl.cli'`` from another directory works (no reliance on
    the working directory)."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", "import rdapctl.cli, rdapctl.core.errors; print('ok')"],
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == "ok", result.stderr
