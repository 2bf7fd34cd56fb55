"""The IANA bootstrap registries on disk: the copy ``bootstrap update`` keeps in the
state folder (used when present and valid) and the copy embedded in the package.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from rdapctl.rdap.bootstrap import Bootstrap, Registry, parse_registry
from rdapctl.store.ownership import read_private

# The package ships as plain files (never zipped), so a path relative to this module is
# enough; importlib.resources would add its imports to every lookup's start-up.
EMBEDDED_DIR = Path(__file__).resolve().parent.parent / "data" / "bootstrap"


def _embedded_text(name: str) -> str:
    return (EMBEDDED_DIR / f"{name}.json").read_text(encoding="utf-8")


def load_registry(name: str, updated_dir: Path | None) -> Registry:
    """The updated copy when present and valid, else the embedded one."""
    if updated_dir is not None:
        path = updated_dir / f"{name}.json"
        try:
            publication, services = parse_registry(name, json.loads(read_private(path)))
            return Registry(name, publication, "updated", str(path), services)
        except (OSError, ValueError):
            pass
    publication, services = parse_registry(name, json.loads(_embedded_text(name)))
    return Registry(name, publication, "embedded", f"rdapctl/data/bootstrap/{name}.json", services)


def open_bootstrap(updated_dir: Path | None) -> Bootstrap:
    """Registries read from ``updated_dir`` when valid there, else the embedded ones."""
    return Bootstrap(functools.partial(load_registry, updated_dir=updated_dir))
