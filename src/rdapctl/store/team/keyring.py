"""The tenant keyring shared through the team backend: :class:`TeamKeyring`.

The keyring is kept in Redis (``PREFIX:keyring:TENANT``) as a keyring document wrapped
under the master key (the same format as ``keys/<tenant>.json``, so the key material is
never in clear there), and mirrored in the local keyring file, which keeps this
machine's own "audit trail started" mark. Every load pulls the shared keys (so a key
rotated on another machine is read here: readers keep old key ids until they are
retired), every save pushes them with an atomic compare-and-set: a keyring changed on
another machine meanwhile is never overwritten (ConfigError, run the command again).

While the backend is unavailable the local file is used as it is.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rdapctl.core.errors import ConfigError
from rdapctl.store.keys.keyfile import (
    StoredKey,
    keyring_lock,
    read_keyring_file,
    write_keyring_file,
)
from rdapctl.store.keys.keyring import Keyring
from rdapctl.store.keys.master import master_key_from_env
from rdapctl.store.paths import StatePaths, ensure_private_dir, write_private_file

if TYPE_CHECKING:
    from pathlib import Path

    from rdapctl.store.team.backend import TeamBackend

# Set the shared keyring to ARGV[2] when it still is ARGV[1] ("" = absent): 1, else 0.
CAS_SCRIPT = """
local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


def _temp_path(paths: StatePaths, tenant: str) -> Path:
    ensure_private_dir(paths.keys_dir)
    return paths.keys_dir / f".{tenant}.team-{os.urandom(8).hex()}.json"


def shared_document(paths: StatePaths, tenant: str, master: bytes, keys: list[StoredKey]) -> bytes:
    """The keyring document kept in Redis: wrapped keys, no machine's audit mark."""
    tmp = _temp_path(paths, tenant)
    try:
        write_keyring_file(tmp, tenant, master, keys, None)
        return tmp.read_bytes()
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def open_document(paths: StatePaths, tenant: str, master: bytes, doc: bytes) -> list[StoredKey]:
    """The keys of a shared keyring document (IntegrityError: damaged, or another
    master key)."""
    tmp = _temp_path(paths, tenant)
    try:
        write_private_file(tmp, doc)
        return read_keyring_file(tmp, tenant, master).keys
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _signature(keys: list[StoredKey]) -> list[tuple[str, str, bytes]]:
    return sorted((k.id, k.status, k.material or b"") for k in keys)


def _audit_ids(keys: list[StoredKey]) -> set[str]:
    return {k.id for k in keys if k.purpose in ("audit", "index")}


class TeamKeyring(Keyring):
    """A :class:`Keyring` whose keys are the team backend's (see the module docstring).
    Made by :func:`open_team_keyring`."""

    _team: ClassVar[TeamBackend]
    _remote_seen: bytes | None = None

    def _pull(self) -> bytes | None:
        team = self._team
        doc: Any = team.call(lambda c: c.get(team.keyring_key), None)
        return doc if isinstance(doc, bytes) else None

    def _load(self) -> list[StoredKey]:
        keys = super()._load()
        doc = self._pull()
        if doc is None or self._master is None:
            return keys
        self._remote_seen = doc
        shared = open_document(self.paths, self.tenant, self._master, doc)
        if _signature(shared) == _signature(keys):
            return keys
        if not _audit_ids(shared) == _audit_ids(keys):
            raise ConfigError(
                f"the keyring of tenant {self.tenant} on this machine is not the team's"
                " (other index and audit keys)",
                hint=f"move {self.path} aside to use the team keyring (entries cached under"
                " this machine's keys become unreadable), or `rdapctl keys import` the"
                " team's backup",
                code="team_keyring_conflict",
            )
        # Another machine rotated or retired: take its keys, keep this machine's mark.
        write_keyring_file(self.path, self.tenant, self._master, shared, self._audit_started)
        return shared

    def _save(self) -> None:
        super()._save()
        if self._master is None:
            return
        team = self._team
        doc = shared_document(self.paths, self.tenant, self._master, self._keys)
        expected = self._remote_seen or b""

        def swap(client: Any) -> int:
            return int(client.eval(CAS_SCRIPT, 1, team.keyring_key, expected, doc))

        done = team.call(swap, -1)
        if done == 0:
            raise ConfigError(
                f"the team keyring of tenant {self.tenant} changed on another machine"
                " meanwhile; nothing was overwritten",
                hint="run the command again",
                code="team_keyring_conflict",
            )
        if done == 1:
            self._remote_seen = doc


def open_team_keyring(
    team: TeamBackend,
    paths: StatePaths,
    tenant: str,
    env: Mapping[str, str],
    clock: Callable[[], float],
) -> Keyring:
    """The tenant's keyring, shared through ``team``: the team's when it has one (written
    to this machine first when it has none), else this machine's, made the team's."""
    ring_class: type[TeamKeyring] = type("BoundTeamKeyring", (TeamKeyring,), {"_team": team})
    master = master_key_from_env(env)
    if master is None:
        raise ConfigError(
            f"tenant {tenant} has a team backend, which needs a master key",
            hint="set RDAPCTL_MASTER_KEY or RDAPCTL_MASTER_KEY_FILE (the team keyring is"
            " kept wrapped under it)",
            code="master_key_required",
        )
    path = paths.keyring_file(tenant)
    created = not path.exists()
    if created:
        _adopt_team_keyring(team, paths, tenant, master, replace=False)
    try:
        ring: Keyring = ring_class.open(paths, tenant, env, clock)
    except ConfigError as exc:
        if not (created and exc.code == "team_keyring_conflict"):
            raise
        # Another machine made the team's keyring while this one made its first: this
        # one has sealed nothing yet, so it takes the team's.
        _adopt_team_keyring(team, paths, tenant, master, replace=True)
        ring = ring_class.open(paths, tenant, env, clock)
    if isinstance(ring, TeamKeyring) and ring._remote_seen is None and team.available:
        # The team has no keyring yet: this machine's becomes it.
        with keyring_lock(paths, tenant):
            ring._keys = ring._load()
            if ring._remote_seen is None:
                ring._save()
    return ring


def _adopt_team_keyring(
    team: TeamBackend, paths: StatePaths, tenant: str, master: bytes, *, replace: bool
) -> None:
    """Write the team's keyring as this machine's (when it has none, or ``replace``)."""
    doc: Any = team.call(lambda c: c.get(team.keyring_key), None)
    if not isinstance(doc, bytes):
        return
    keys = open_document(paths, tenant, master, doc)
    path = paths.keyring_file(tenant)
    with keyring_lock(paths, tenant):
        if replace or not path.exists():
            write_keyring_file(path, tenant, master, keys, None)


def team_has_keyring(team: TeamBackend) -> bool:
    """Whether the team backend holds a keyring (False too when it is unavailable)."""
    return bool(team.call(lambda c: c.exists(team.keyring_key), 0))


def publish_keyring(
    team: TeamBackend, paths: StatePaths, tenant: str, env: Mapping[str, str], *, force: bool
) -> bool:
    """Make this machine's keyring the team's (``keys import``, ``keys init``): at once
    when the team has none or the same keys; a different team keyring is replaced only
    with ``force`` (ConfigError otherwise). Returns whether the team's was written."""
    master = master_key_from_env(env)
    if master is None:
        raise ConfigError(f"tenant {tenant} has a team backend, which needs a master key")
    keys = read_keyring_file(paths.keyring_file(tenant), tenant, master).keys
    current: Any = team.call(lambda c: c.get(team.keyring_key), None)
    if isinstance(current, bytes):
        if _signature(open_document(paths, tenant, master, current)) == _signature(keys):
            return False
        if not force:
            raise ConfigError(
                f"the team backend already holds a different keyring of tenant {tenant}",
                hint="use --force to replace it for every machine of the team (entries"
                " cached under its keys become unreadable)",
                code="team_keyring_conflict",
            )
    doc = shared_document(paths, tenant, master, keys)
    written: Any = team.call(lambda c: c.set(team.keyring_key, doc), None)
    if written is None:
        from rdapctl.store.team.backend import TeamUnavailable

        raise TeamUnavailable(
            f"the team backend of tenant {tenant} is unavailable: the keyring was restored on"
            " this machine only",
            hint="run the command again once Redis is reachable",
        )
    return True
