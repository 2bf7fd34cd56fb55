"""``rdapctl schema [NAME]``: list the shipped JSON Schemas, or print one.

Every machine-readable output of rdapctl has a JSON Schema (draft 2020-12) shipped in
``rdapctl/data/schemas/NAME.schema.json``; this command is how scripts and editors find
them without knowing where the package is installed. The list is read from that folder
and each schema's ``title`` is its description, so adding a file is all it takes.
"""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Annotated, Any

import typer

from rdapctl.cli.options import FormatOpt

SUFFIX = ".schema.json"

app = typer.Typer(rich_markup_mode=None, add_completion=False)


def _folder() -> Traversable:
    return resources.files("rdapctl").joinpath("data", "schemas")


def schema_names() -> list[str]:
    """The names of the shipped schemas, sorted (``envelope``, ``profiles``, ...)."""
    return sorted(
        entry.name.removesuffix(SUFFIX)
        for entry in _folder().iterdir()
        if entry.name.endswith(SUFFIX) and entry.is_file()
    )


def load_schema(name: str) -> dict[str, Any]:
    """The shipped schema ``name`` as a dict (``name`` must be one of schema_names())."""
    text = _folder().joinpath(name + SUFFIX).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _complete_name(incomplete: str) -> list[str]:
    return [name for name in schema_names() if name.startswith(incomplete)]


@app.command()
def schema(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Schema to print (default: list them all).",
            metavar="NAME",
            autocompletion=_complete_name,
            show_default=False,
        ),
    ] = None,
    output: FormatOpt = None,
) -> None:
    """List the JSON Schemas of rdapctl's JSON outputs and files, or print schema NAME."""
    from rdapctl.cli.output import choose_format, print_json
    from rdapctl.core.errors import UsageError

    fmt = choose_format(output)  # checked even when NAME is given (a schema is always JSON)
    names = schema_names()
    if name is not None:
        if name not in names:
            raise UsageError(f"unknown schema {name!r} (one of: {', '.join(names)})")
        print_json(load_schema(name), compact=False)
        raise typer.Exit(0)
    rows = [{"name": n, "id": (doc := load_schema(n))["$id"], "title": doc["title"]} for n in names]
    if fmt == "json":
        print_json({"schema": 1, "schemas": rows})
        raise typer.Exit(0)
    width = max(len(n) for n in names)
    for row in rows:
        print(f"{row['name']:<{width}}  {row['title']}")
    raise typer.Exit(0)
