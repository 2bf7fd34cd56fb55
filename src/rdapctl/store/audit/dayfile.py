"""Appending whole lines to the day files of an audit trail.

Owns the system calls of the append path: opening a day file (created 0600, never
through a symlink, refused when another account planted it), one ``os.write`` per
file per chunk, cutting a failed write back, ``fsync`` of the file and, for a new
file, of its folder. Runs under the trail's lock (``rdapctl.store.audit.trail``).
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import suppress
from pathlib import Path

from rdapctl.core.errors import AuditError
from rdapctl.store.ownership import problem_with


class DayFileWriter:
    """Appends whole lines to day files under the lock, one ``os.write`` per file per chunk.

    Lines are buffered until :meth:`sync` (or a change of day file), so a chunk costs one
    system call, not one per record; the buffer only ever holds whole lines, so what
    reaches the file is whole lines too, and a failed write is cut back to the old end.
    Lines holding any of ``forbidden`` (forms of key material) are refused together
    with the rest of the buffer: one search per form per chunk, not per record.
    """

    def __init__(self, directory: Path, forbidden: tuple[bytes, ...] = ()) -> None:
        self._dir = directory
        self._forbidden = forbidden
        self._fd: int | None = None
        self._name: str | None = None
        self._fresh_line = False
        self._created = False
        self._buf: list[bytes] = []
        self._flushed = 0  # bytes of the file on disk (ours included)
        self.size = 0  # the file's size once the buffer is written

    def write(self, name: str, line: bytes) -> None:
        """Buffer ``line`` (whole, with its newline) for day file ``name``."""
        if name != self._name:
            self._open(name)
        if self._fresh_line:
            # After a torn tail the next record starts on its own line, never glued on.
            line = b"\n" + line
            self._fresh_line = False
        self._buf.append(line)
        self.size += len(line)

    def _flush(self) -> None:
        if not self._buf:
            return
        fd = self._fd
        assert fd is not None
        data = b"".join(self._buf)
        self._buf = []
        # No form holds a line break, so none can match across two lines.
        for form in self._forbidden:
            if form in data:
                self._drop_if_new()
                raise AuditError("refused to write an audit record that contains key material")
        try:
            written = os.write(fd, data)
        except OSError:
            self._undo(fd)
            raise
        if written != len(data):
            self._undo(fd)
            raise OSError(errno.ENOSPC, "short write (disk full or file size limit)")
        self._flushed += written

    def _drop_if_new(self) -> None:
        # A refused chunk leaves no trace, not even the empty day file it opened.
        if self._created and self._flushed == 0 and self._name is not None:
            with suppress(OSError):
                os.unlink(self._dir / self._name)
            self._created = False

    def _undo(self, fd: int) -> None:
        # A partial line would read as a torn tail; drop our own bytes, nobody else's.
        self.size = self._flushed
        with suppress(OSError):
            os.ftruncate(fd, self._flushed)

    def _open(self, name: str) -> None:
        self.sync()
        self.close()
        path = self._dir / name
        existed = os.path.lexists(path)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(path, flags, 0o600)
        self._fd, self._name = fd, name
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"{name} is not a regular file")
        if (problem := problem_with(path, st, is_dir=False)) is not None:
            raise problem  # planted by another account: refused (exit 3)
        if st.st_mode & 0o777 != 0o600:
            os.fchmod(fd, 0o600)
        self.size = self._flushed = st.st_size
        self._fresh_line = st.st_size > 0 and os.pread(fd, 1, st.st_size - 1) != b"\n"
        self._created = self._created or not existed

    def sync(self) -> None:
        """Write the buffered lines and make them (and a new file's name) durable."""
        if self._fd is not None:
            self._flush()
            os.fsync(self._fd)
        if self._created:
            fsync_dir(self._dir)  # a new day file must survive a crash as a name too
            self._created = False

    def close(self) -> None:
        """Close the open day file, dropping lines not yet synced."""
        # Lines not yet synced are dropped: the chunk failed and is reported as such.
        self._buf = []
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._name = None


def fsync_dir(directory: Path) -> None:
    """Make the names in ``directory`` (new, renamed or removed files) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
