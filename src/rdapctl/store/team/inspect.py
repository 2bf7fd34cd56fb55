"""What ``doctor`` checks in a team backend: every key under the tenant's names holds
what rdapctl puts there, and nothing in clear (read-only: nothing is written)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from rdapctl.store.cache.codec import MAGIC

if TYPE_CHECKING:
    from rdapctl.store.team.backend import TeamBackend

_HEX64 = re.compile(rb"[0-9a-f]{64}")
_HEX32 = re.compile(rb"[0-9a-f]{32}")
SCAN_COUNT = 1000


def is_sealed(value: bytes) -> bool:
    """Not readable text: a sealed value (not a JSON document, no run of letters).

    Whether it parses, not how it starts: a ciphertext begins with a random nonce, whose
    first byte is ``{`` or ``[`` one time in 128."""
    try:
        json.loads(value)
    except ValueError:  # UnicodeDecodeError too
        pass
    else:
        return False
    return re.search(rb"[A-Za-z0-9._@-]{24,}", value) is None


def clear_text_findings(team: TeamBackend, client: Any) -> tuple[int, list[str]]:
    """(keys scanned, what is wrong) for every key of the tenant under the prefix."""
    prefix = team.settings.prefix.encode()
    tenant = team.tenant.encode()
    problems: list[str] = []
    scanned = 0
    pattern = f"{team.settings.prefix}:*:{team.tenant}*"
    for name in client.scan_iter(match=pattern, count=SCAN_COUNT):
        parts = name.split(b":")
        if len(parts) < 3 or parts[0] != prefix or parts[2] != tenant:
            continue
        scanned += 1
        kind = parts[1]
        shown = f"{kind.decode('ascii', 'replace')} key"
        if kind == b"cache":
            value = client.get(name) or b""
            if len(parts) != 4 or not _HEX64.fullmatch(parts[3]):
                problems.append(f"{shown} with a name that is not an HMAC")
            elif not value.startswith(MAGIC) or not is_sealed(value[2:]):
                problems.append(f"{shown} whose value is not a sealed entry")
        elif kind == b"keyring":
            try:
                doc = json.loads(client.get(name) or b"")
            except ValueError:
                doc = None
            if not (isinstance(doc, dict) and doc.get("wrapped") is True):
                problems.append("keyring not wrapped under the master key")
        elif kind == b"rate":
            value = client.get(name) or b""
            if len(parts) != 4 or not _HEX32.fullmatch(parts[3]) or len(value) != 16:
                problems.append(f"{shown} that is not a rate-limit state")
        elif kind == b"audit":
            for _entry_id, fields in client.xrange(name):
                if set(fields) != {b"k", b"v"} or not is_sealed(fields[b"v"]):
                    problems.append("audit stream entry not sealed")
                    break
        elif kind == b"stats":
            values = client.hgetall(name)
            if not set(values) <= {b"hits", b"misses"}:
                problems.append(f"{shown} with unknown fields")
        else:
            problems.append(f"unknown key kind {kind[:20].decode('ascii', 'replace')!r}")
    return scanned, problems
