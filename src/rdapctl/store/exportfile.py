"""Writing a file the user names outside the state folders (``keys export --output``).

The file is created exclusively with mode 0600 (never through a symlink, never over an
existing file unless ``force``, then via an unpredictable temporary name beside it and
a rename), and the folder it goes in is used as it is: never created, never chmod-ed
(exporting into ``/tmp`` must not lock other accounts out of it).
"""

from __future__ import annotations

import os
from pathlib import Path

from rdapctl.core.errors import ConfigError, UsageError
from rdapctl.store.paths import write_new_file


def refuse_existing(path: Path, *, force: bool) -> None:
    """ConfigError (exit 3) when ``path`` exists (a symlink or folder too) and not ``force``."""
    if os.path.lexists(path) and not force:
        raise ConfigError(
            f"{path} exists; not overwriting it",
            hint="choose a new file, or pass --force to replace it",
            code="output_exists",
        )


def write_export(path: Path, data: bytes, *, force: bool) -> None:
    """Write ``data`` to ``path`` (0600) as described above; exit 3 for an existing file
    without ``force``, exit 2 for a path that cannot be written (missing folder, a
    folder in the way, no permission)."""
    refuse_existing(path, force=force)
    try:
        write_new_file(path, data, replace=force)
    except FileExistsError:
        refuse_existing(path, force=False)  # appeared meanwhile
        raise
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: {exc.strerror or type(exc).__name__}",
            hint="choose a file in an existing folder you may write to",
            code="output_unwritable",
        ) from None
