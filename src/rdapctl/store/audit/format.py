"""The on-disk format of a tenant's audit trail: lines, MACs, the chain, the keys.

Owns: the line format (what ``prev`` hashes, what ``mac`` covers), the file names,
the key derivation and reading day files. The checkpoint is in
``rdapctl.store.audit.checkpoint``, verification in ``rdapctl.store.audit.verify``.
Must not: write, truncate or delete anything (``rdapctl.store.audit.trail`` does),
import typer or rich, or put key material into any message, repr or result.

Format (schema 1), one tenant's folder ``StatePaths.tenant_audit_dir(tenant)``:

* ``YYYY-MM-DD.jsonl``: one record per line, UTF-8, ``\\n``-terminated. A record is
  ``json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
  with ``,"mac":"<64 hex>"`` spliced in before the closing brace, so ``mac`` is
  always the last member.
* ``mac`` = HMAC-SHA256(record key, B) where B is the exact bytes of the line
  without its ``\\n`` and without the final ``,"mac":"…"`` member, i.e. the
  serialised record minus ``mac``, byte for byte as written (no re-serialisation,
  so any edited byte, even whitespace, breaks it).
* ``prev`` = SHA-256 hex of the previous record's whole line *including* its
  ``\\n``, across day files in name order; :data:`GENESIS` for the first record.
  The first record written to a new day file also carries ``prev_file`` (the
  name of the file holding the previous record), so a deleted day file is named.
* ``checkpoint.json``: the head of the chain (``head`` hash, record ``count`` in the
  surviving files, last ``file`` and its ``size``, last ``ts``, last ``policy``)
  with ``mac`` = HMAC-SHA256(record key, canonical sorted compact JSON without
  ``mac``). Rewritten atomically after each append batch.
* ``audit_prune`` records carry ``anchor`` (hash of the last removed record, i.e.
  the ``prev`` of the first surviving one) and ``pruned_files``.
* ``keyring_replaced`` (``keys init --replace-lost``) starts a segment under a new key;
  its ``prev``/``old_head`` pins the hash chain of the records before it, whose MACs
  can no longer be checked (a ``lost_key_segment`` warning).
* ``audit_gap_accepted`` (``audit repair --accept-loss``) records a loss a person
  accepted: ``old_count``/``old_head`` (the checkpoint), ``new_count``/``new_head``
  (the files), ``reason``; verify reports it as an ``accepted_gap`` warning.

The record key and the query-hash key are derived from the tenant's 32-byte audit
key with HMAC-SHA256 and fixed labels, so neither use exposes the other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterator
from dataclasses import field
from pathlib import Path
from typing import Any

from rdapctl.core.errors import AuditError
from rdapctl.core.records import mutable_record, record
from rdapctl.store.ownership import read_private

SCHEMA = 1
GENESIS = "0" * 64
CHECKPOINT_NAME = "checkpoint.json"
LOCK_NAME = ".lock"
DAY_FILE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\.jsonl$")
AUDIT_KEY_BYTES = 32

_MAC_PREFIX = b',"mac":"'
_MAC_SUFFIX_LEN = len(_MAC_PREFIX) + 64 + 2  # ,"mac":"<64 hex>"}
_HEX = frozenset(b"0123456789abcdef")

# Events the format gives a meaning to (a new segment, an accepted gap).
KEYRING_REPLACED = "keyring_replaced"
GAP_ACCEPTED = "audit_gap_accepted"


@record
class AuditKeys:
    """Subkeys derived from one tenant's audit key; never shown in reprs."""

    record: bytes = field(repr=False)
    query: bytes = field(repr=False)


def derive_keys(audit_key: bytes) -> AuditKeys:
    """Split the tenant's audit key into the record-MAC key and the query-hash key."""
    if not isinstance(audit_key, bytes | bytearray) or len(audit_key) != AUDIT_KEY_BYTES:
        raise AuditError(
            f"the audit key must be {AUDIT_KEY_BYTES} bytes",
            hint="rotate or restore the tenant keyring",
        )
    key = bytes(audit_key)
    return AuditKeys(
        record=hmac.new(key, b"rdapctl/audit/record-mac/v1", hashlib.sha256).digest(),
        query=hmac.new(key, b"rdapctl/audit/query-hash/v1", hashlib.sha256).digest(),
    )


def mac_hex(key: bytes, data: bytes) -> str:
    return hmac.digest(key, data, "sha256").hex()


def line_hash(line: bytes) -> str:
    """``prev`` value for a record whose full line (with ``\\n``) is ``line``."""
    return hashlib.sha256(line).hexdigest()


def signed_part(body: bytes) -> tuple[bytes, bytes] | None:
    """Split a line (without ``\\n``) into (MAC'd bytes, mac hex); None if not our shape."""
    if len(body) < _MAC_SUFFIX_LEN + 2:
        return None
    suffix = body[-_MAC_SUFFIX_LEN:]
    if not suffix.startswith(_MAC_PREFIX) or not suffix.endswith(b'"}'):
        return None
    mac = suffix[len(_MAC_PREFIX) : len(_MAC_PREFIX) + 64]
    if not _HEX.issuperset(mac):
        return None
    return body[:-_MAC_SUFFIX_LEN] + b"}", mac


def list_day_files(directory: Path) -> list[str]:
    """Names of the day files, oldest first (quarantine files and others are ignored)."""
    try:
        names = [n for n in (e.name for e in _scandir(directory)) if DAY_FILE_RE.match(n)]
    except FileNotFoundError:
        return []
    return sorted(names)


def _scandir(directory: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(directory) as it:
        yield from it


@mutable_record
class Line:
    """One physical line of a day file, as read."""

    file: str
    lineno: int
    offset: int
    raw: bytes  # including the trailing newline when complete
    complete: bool
    record: dict[str, Any] | None
    hash: str
    mac_ok: bool


def parse_line(raw: bytes, key: bytes) -> tuple[dict[str, Any] | None, bool]:
    """(record or None when not a JSON object, whether its MAC verifies)."""
    body = raw[:-1] if raw.endswith(b"\n") else raw
    try:
        record = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, False
    if not isinstance(record, dict):
        return None, False
    split = signed_part(body)
    if split is None:
        return record, False
    signed, mac = split
    return record, hmac.compare_digest(mac_hex(key, signed).encode(), mac)


def read_lines(path: Path, name: str, key: bytes) -> list[Line]:
    """The lines of day file ``path``, read as a state file (no symlink followed, owned
    by us); ConfigError or OSError when it cannot be."""
    data = read_private(path)
    lines: list[Line] = []
    offset = 0
    lineno = 0
    size = len(data)
    while offset < size:
        end = data.find(b"\n", offset)
        complete = end != -1
        stop = end + 1 if complete else size
        raw = data[offset:stop]
        lineno += 1
        record, mac_ok = parse_line(raw, key) if complete else (None, False)
        lines.append(Line(name, lineno, offset, raw, complete, record, line_hash(raw), mac_ok))
        offset = stop
    return lines
