"""The command line's modules: truthful exports, and command modules that stay cheap to
import (``--help`` and TAB completion import them all)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import rdapctl.cli
from rdapctl.cli import LAZY_GROUPS


def _cli_modules() -> list[str]:
    names = ["rdapctl.cli"]
    for info in pkgutil.walk_packages(rdapctl.cli.__path__, "rdapctl.cli."):
        names.append(info.name)
    return names


def test_star_import_of_the_cli_works() -> None:
    namespace: dict[str, object] = {}
    exec("from rdapctl.cli import *", namespace)
    assert {"app", "main"} <= set(namespace)


def test_every_all_in_the_cli_names_what_its_module_defines() -> None:
    for name in _cli_modules():
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            continue
        missing = [item for item in exported if not hasattr(module, item)]
        assert not missing, f"{name}.__all__ names undefined {missing}"


def test_every_command_module_has_an_app() -> None:
    for name, module_name in LAZY_GROUPS.items():
        module = importlib.import_module(module_name)
        assert hasattr(module, "app"), name


def test_command_modules_import_no_core_at_the_top() -> None:
    """Listing the commands loads every command module: the core stays unloaded."""
    code = (
        "import importlib, sys\n"
        "from rdapctl.cli import LAZY_GROUPS\n"
        "for module in LAZY_GROUPS.values():\n"
        "    importlib.import_module(module)\n"
        "heavy = ('httpx', 'rich', 'cryptography', 'diskcache', 'rdapctl.app', 'rdapctl.store',"
        " 'rdapctl.net', 'rdapctl.batch', 'rdapctl.profiles')\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
