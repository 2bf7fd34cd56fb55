"""Whose state rdapctl trusts: the one place that decides.

rdapctl keeps keys, encrypted caches and audit trails under its state folders
(``StatePaths``). Another local account that owns one of those folders, or may write
into it, can plant a keyring (then read the cache and forge the audit trail) or swap a
file for a symlink. So every state folder and state file rdapctl uses must be owned by
the effective user and not writable by group or others; anything else is refused with
a ConfigError (exit 3) naming the path and the fix.

Cheap by design: a folder we own with no group/other write bit protects what is in it,
so folders are checked on the way in (``rdapctl.store.paths.check_state``,
``ensure_private_dir``)
and files are checked on the descriptor they are opened with (:func:`open_private`,
O_NOFOLLOW + ``fstat``). Folders above the state folders (``/tmp``, ``~``) are not ours
and are not checked; a state folder that is a symlink is followed only when the link
itself is ours (or root's) and its target passes the same check.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from rdapctl.core.errors import ConfigError

CODE = "state_not_private"
_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


def _refuse(path: Path | str, why: str, hint: str) -> ConfigError:
    return ConfigError(f"refusing to use {path}: {why}", hint=hint, code=CODE)


def _other_home_hint() -> str:
    return "or set RDAPCTL_HOME to a folder of your own"


def problem_with(path: Path | str, st: os.stat_result, *, is_dir: bool) -> ConfigError | None:
    """Why ``st`` (of ``path``, symlinks already resolved) is not trusted state, or None.

    Only who may change it counts here: a folder that is a file (or the reverse) of
    our own is a broken state path, reported by the code that uses it (as before)."""
    euid = os.geteuid()
    kind = "folder" if is_dir else "file"
    if st.st_uid != euid:
        return _refuse(
            path,
            f"the {kind} is owned by uid {st.st_uid}, not by you (uid {euid})",
            f"check its contents, then `chown {euid} {path}` as its owner or root, "
            f"{_other_home_hint()}",
        )
    if st.st_mode & _WRITABLE_BY_OTHERS:
        mode = "0700" if is_dir else "0600"
        return _refuse(
            path,
            f"the {kind} is writable by group or others (mode {st.st_mode & 0o777:04o})",
            f"check its contents, then `chmod {mode} {path}`, {_other_home_hint()}",
        )
    return None


def check_dir(path: Path) -> os.stat_result | None:
    """The stat of state folder ``path`` if it is trusted, None when it does not exist;
    ConfigError otherwise. A symlink is followed only when the link is ours or root's."""
    return _trusted_stat(path, is_dir=True, link_owners=(os.geteuid(), 0))


def check_file(path: Path, *, follow_own_link: bool = False) -> os.stat_result | None:
    """The stat of state file ``path`` if it is trusted, None when it does not exist;
    ConfigError otherwise. A symlink is refused, unless ``follow_own_link`` (the
    profiles file, often a link into a dotfiles repository) and the link is ours."""
    owners = (os.geteuid(),) if follow_own_link else ()
    return _trusted_stat(path, is_dir=False, link_owners=owners)


def _trusted_stat(
    path: Path, *, is_dir: bool, link_owners: tuple[int, ...]
) -> os.stat_result | None:
    """What ``path`` is (a symlink followed only when one of ``link_owners`` owns it),
    checked by :func:`problem_with`; None when nothing is there."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        if st.st_uid not in link_owners:
            why = "it is a symbolic link"
            if link_owners:
                why += f" owned by uid {st.st_uid}, not by you"
            raise _refuse(path, why, f"remove the link, {_other_home_hint()}")
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise _refuse(path, "it is a dangling symbolic link", "remove the link") from None
    problem = problem_with(path, st, is_dir=is_dir)
    if problem is not None:
        raise problem
    return st


def open_private(path: Path, flags: int, mode: int = 0o600) -> int:
    """``os.open`` a state file without following a symlink, then check what was opened
    (owner, mode, a regular file); ConfigError when it is not trusted."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(
                path, "it is a symbolic link", f"remove the link, {_other_home_hint()}"
            ) from None
        raise
    try:
        problem = problem_with(path, os.fstat(fd), is_dir=False)
    except BaseException:
        os.close(fd)
        raise
    if problem is not None:
        os.close(fd)
        raise problem
    return fd


def read_private(path: Path) -> bytes:
    """The bytes of state file ``path`` (read as :func:`open_private`); FileNotFoundError
    when it does not exist."""
    fd = open_private(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()
