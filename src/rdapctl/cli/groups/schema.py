"""``rdapctl schema``: argument declarations only (imported when the group is used)."""

from __future__ import annotations

import typer

app = typer.Typer(help="JSON Schemas shipped with rdapctl.", rich_markup_mode=None)


@app.command("envelope")
def schema_envelope() -> None:
    """Print the JSON Schema of the lookup envelope (-o json, batch JSONL)."""
    from rdapctl.cli.packaged import print_packaged_json

    raise typer.Exit(print_packaged_json("envelope.schema.json"))


@app.command("profiles")
def schema_profiles() -> None:
    """Print the JSON Schema of the profiles file (same as profile schema)."""
    from rdapctl.cli.packaged import schema

    raise typer.Exit(schema())
