"""Printing the JSON documents shipped in the package (the JSON Schemas of the lookup
envelope and of profiles files), for ``rdapctl schema`` and ``rdapctl profile schema``."""

from __future__ import annotations

import json
from importlib import resources

from rdapctl.cli.output import print_json


def schema() -> int:
    from rdapctl.profiles.loader import profiles_schema

    print_json(profiles_schema(), compact=False)
    return 0


def print_packaged_json(name: str) -> int:
    text = (resources.files("rdapctl") / "data" / name).read_text(encoding="utf-8")
    print_json(json.loads(text), compact=False)
    return 0
