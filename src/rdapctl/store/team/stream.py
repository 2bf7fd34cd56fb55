"""The team audit stream: each audit record also ``XADD``ed to ``PREFIX:audit:TENANT``.

The local trail stays the record of each machine (chained and MAC'd, see
``rdapctl.store.audit``); the stream collects the records of every machine of the
tenant. An entry holds the record's exact line (MAC included), sealed with AES-256-GCM
under the tenant's active data key (``k``: the key id; associated data: tenant and key
id), so no query, identity or personal data is in clear in Redis.
:func:`verify_stream` checks every entry's MAC (the audit key) and, per host, that each
record's ``prev`` is the hash of a record of that host in the stream (a record written
while the backend was away is a gap).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rdapctl.core.records import record
from rdapctl.store.audit.fields import encode_record
from rdapctl.store.audit.format import GENESIS, derive_keys, line_hash, parse_line
from rdapctl.store.crypto import Aead, DecryptionError, derive_subkey

if TYPE_CHECKING:
    from rdapctl.store.keys.keyring import Keyring
    from rdapctl.store.team.backend import TeamBackend

_ENCODE = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode
# Entries kept in the stream (approximately; XADD MAXLEN ~).
MAX_ENTRIES = 1_000_000


STREAM_KEY_ID = "audit-stream-v1"


def stream_aead(keyring: Keyring) -> Aead:
    """The cipher of stream entries: a key derived from the audit key, used for
    nothing else (the record MACs use another derivation of it)."""
    return Aead(derive_subkey(keyring.audit_key(), "rdapctl/audit-stream-seal/v1"))


def _aad(tenant: str, key_id: str) -> bytes:
    return b"rdapctl-audit-stream/v1\x00" + tenant.encode() + b"\x00" + key_id.encode()


def record_line(rec: Mapping[str, Any]) -> bytes:
    """The exact line (with ``\\n``) the trail wrote for sealed record ``rec``."""
    body = encode_record(_ENCODE, {k: v for k, v in rec.items() if k != "mac"})
    return body[:-1] + b',"mac":"' + str(rec["mac"]).encode() + b'"}\n'


class AuditStream:
    """Appends a tenant's sealed audit records to its stream."""

    def __init__(self, team: TeamBackend, keyring: Keyring) -> None:
        self._team = team
        self._keyring = keyring

    def append(self, records: list[dict[str, Any]]) -> None:
        """XADD each record (nothing when the backend is unavailable)."""
        if not records:
            return
        team, tenant = self._team, self._team.tenant
        aead = stream_aead(self._keyring)
        aad = _aad(tenant, STREAM_KEY_ID)
        entries = [{"k": STREAM_KEY_ID, "v": aead.seal(record_line(rec), aad)} for rec in records]

        def add(client: Any) -> None:
            pipe = client.pipeline(transaction=False)
            for entry in entries:
                pipe.xadd(team.stream_key, entry, maxlen=MAX_ENTRIES, approximate=True)
            pipe.execute()

        team.call(add, None)


@record
class StreamReport:
    """What ``audit verify --stream`` found."""

    records: int
    hosts: int
    bad_macs: int
    unreadable: int
    gaps: int
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not (self.bad_macs or self.unreadable or self.gaps)


def verify_stream(team: TeamBackend, keyring: Keyring) -> StreamReport:
    """Read the whole stream and check it (TeamUnavailable-style failures propagate
    through ``team.call``: an unreachable backend reads as an empty stream)."""
    tenant = team.tenant
    record_key = derive_keys(keyring.audit_key()).record
    aead = stream_aead(keyring)
    entries: list[tuple[Any, dict[Any, Any]]] = team.call(lambda c: c.xrange(team.stream_key), [])
    problems: list[str] = []
    bad = unreadable = 0
    by_host: dict[str, list[tuple[str, str]]] = {}
    for entry_id, entry in entries:
        ref = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        kid = entry.get(b"k", b"").decode("ascii", "replace")
        try:
            if kid != STREAM_KEY_ID:
                raise DecryptionError("unknown key")
            line = aead.open(entry.get(b"v", b""), _aad(tenant, kid))
        except DecryptionError:
            unreadable += 1
            problems.append(f"{ref}: cannot be opened (altered, or not written by rdapctl)")
            continue
        rec, mac_ok = parse_line(line, record_key)
        if rec is None or not mac_ok:
            bad += 1
            problems.append(f"{ref}: MAC does not verify")
            continue
        host = str(rec.get("host", ""))
        by_host.setdefault(host, []).append((line_hash(line), str(rec.get("prev", ""))))
    gaps = 0
    for host, items in by_host.items():
        hashes = {h for h, _prev in items}
        # The first record of a host in the stream may follow records written before
        # audit_stream was on: its predecessor may be missing. Any other's may not (the
        # records are added under the trail lock, so in chain order).
        missing = sum(1 for _h, prev in items[1:] if prev != GENESIS and prev not in hashes)
        if missing:
            problems.append(f"host {host}: {missing} records whose predecessor is missing")
        gaps += missing
    return StreamReport(
        len(entries) - unreadable - bad, len(by_host), bad, unreadable, gaps, tuple(problems)
    )
