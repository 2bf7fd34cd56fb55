"""The shared state of the per-host token buckets on the team backend.

``rdapctl.net.ratelimit.SharedBucket`` keeps, per registry host, the bucket's
theoretical arrival time and a Retry-After "blocked until" (16 bytes). For a team
tenant that state lives in Redis (``PREFIX:rate:TENANT:<sha256(host)>``) instead of a
local file, so every process on every machine of the tenant takes its slots from one
bucket. An update reads the state, applies the bucket's change and writes it back with
an atomic compare-and-set script, again on a conflict. When the backend is
unavailable, :meth:`RateState.update` returns False and the bucket uses its local file.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rdapctl.store.team.backend import TeamBackend

_STATE = struct.Struct(">dd")
# The state outlives runs by at most this long (a Retry-After block is at most an hour).
STATE_TTL_MS = 2 * 3600 * 1000
MAX_CONFLICTS = 64

# Set KEYS[1] to ARGV[2] when it still is ARGV[1] ("" = absent): 1, else 0.
CAS_SCRIPT = """
local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

Change = Callable[[float, float], tuple[float, float]]


def _read_state(raw: object) -> tuple[float, float]:
    """The (tat, blocked) in ``raw``; anything else than two finite numbers (another
    writer's garbage: the backend is shared) reads as a fresh bucket."""
    if isinstance(raw, bytes) and len(raw) == _STATE.size:
        tat, blocked = _STATE.unpack(raw)
        if math.isfinite(tat) and math.isfinite(blocked):
            return tat, blocked
    return 0.0, 0.0


class RateState:
    """The shared (tat, blocked) of each host of one tenant."""

    def __init__(self, team_of: Callable[[], TeamBackend]) -> None:
        """``team_of``: the tenant's backend, made on first use (a gate is built
        before the session that connects)."""
        self._team_of = team_of
        self._script: Any = None

    def update(self, host: str, change: Change) -> bool:
        """Apply ``change`` to the host's shared state atomically; False when the
        backend is unavailable (nothing was changed)."""
        team = self._team_of()
        if not team.available and not team.required:
            return False
        name = team.rate_key(host)

        def run(client: Any) -> bool:
            if self._script is None:
                self._script = client.register_script(CAS_SCRIPT)
            for _ in range(MAX_CONFLICTS):
                raw = client.get(name)
                state = _read_state(raw)
                new = _STATE.pack(*change(*state))
                if self._script(keys=[name], args=[raw or b"", new, STATE_TTL_MS]):
                    return True
            return True  # a storm of writers: this change is dropped, never doubled

        return bool(team.call(run, False))
