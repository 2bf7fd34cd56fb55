"""Regenerate the committed shell completion scripts in ``completions/`` from the CLI.

Usage::

    python scripts/gen_completions.py            # rewrite completions/*
    python scripts/gen_completions.py --check    # exit 1 and name the files that drifted

Owns: the mapping from shell to committed file. The script text itself comes from
``rdapctl.cli.completion`` (what ``rdapctl completions show SHELL`` prints), so the
committed files can never say something the CLI does not.
Must not: write anywhere but the target folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rdapctl.cli.completion import SCRIPT_FILE_NAMES, SHELLS, completion_script

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "completions"


def expected_files() -> dict[str, str]:
    """File name -> content, for every supported shell."""
    return {SCRIPT_FILE_NAMES[shell]: completion_script(shell) for shell in SHELLS}


def drifted(folder: Path) -> list[str]:
    """Names of files in ``folder`` that are missing or differ from what the CLI generates."""
    stale = []
    for name, content in expected_files().items():
        path = folder / name
        try:
            current = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current != content:
            stale.append(name)
    return stale


def write(folder: Path) -> list[str]:
    """Write every file that drifted; returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    stale = drifted(folder)
    files = expected_files()
    for name in stale:
        # newline="" keeps LF endings on every platform (the files are compared byte-wise).
        with open(folder / name, "w", encoding="utf-8", newline="") as fh:
            fh.write(files[name])
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="Report drift and exit 1 instead of writing."
    )
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="Folder holding the scripts.")
    args = parser.parse_args(argv)
    if args.check:
        stale = drifted(args.dir)
        for name in stale:
            sys.stderr.write(f"{args.dir / name}: out of date; run scripts/gen_completions.py\n")
        return 1 if stale else 0
    for name in write(args.dir):
        sys.stderr.write(f"wrote {args.dir / name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
