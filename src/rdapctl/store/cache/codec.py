"""Cache keys and the sealed envelope of a stored value.

A cache key is HMAC-SHA256 (the tenant's ``index`` key) of the canonical request plus
the tenant's policy fingerprint, so queried names never reach the disk and a policy
change makes old entries unreachable. A value is sealed with AES-256-GCM under the
tenant's active ``data`` key; the associated data binds tenant, cache key, key id and
the clear envelope header, so an entry moved to another tenant, key or slot fails to
open.

Envelope: ``"RC" | version | flags | len(key id) | key id | stored_at, expires_at
(two big-endian doubles) | sealed body``. Version 1's body is the value's JSON text;
version 2's is a small JSON "head" line, then the value's JSON text (a batch cache
hit decodes only the head). Flag 1: the body is zlib-compressed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rdapctl.core.errors import RdapctlError
from rdapctl.core.jsontext import dumps_compact

if TYPE_CHECKING:
    from rdapctl.policy.tenant import Tenant
    from rdapctl.store.cache.entries import CacheRequest
    from rdapctl.store.crypto import Aead
    from rdapctl.store.keys.keyring import Keyring

MAGIC = b"RC"
VERSION = 1
VERSION_HEAD = 2
FLAG_ZLIB = 0x01
TIMES = struct.Struct(">dd")
_AD_PREFIX = b"rdapctl-cache/v1\x00"
# zlib only pays when it shrinks the value noticeably; tiny values are stored as is.
_COMPRESS_MIN_BYTES = 512
# A small zlib window and memLevel: cheaper to set up for a few-KB envelope, same size;
# zlib.decompress reads the window size from the stream header, so either way opens.
_ZLIB_WBITS = 13
_ZLIB_MEMLEVEL = 6
# What a read returns for a row rdapctl did not write (another mode, a filename, a value
# that is not bytes): not an envelope, so it is rejected and deleted like any damage.
FOREIGN = b"\x00a row rdapctl did not write"
# A JSON string literal as json.dumps(..., ensure_ascii=False) writes it.
_quote_json = json.encoder.encode_basestring
_decode_json = json.JSONDecoder().decode


class RejectedEntry(Exception):
    """A stored value that does not open; ``gone``: sealed under a key the keyring no
    longer has (retired or foreign), rather than damaged or tampered with."""

    def __init__(self, reason: str, *, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone


def to_json(value: Mapping[str, Any]) -> bytes:
    """The compact JSON text of a value to cache; RdapctlError if it is not JSON."""
    try:
        return dumps_compact(value).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise RdapctlError(f"cannot cache a value that is not JSON: {exc}") from None


def decode(plain: bytes) -> dict[str, Any]:
    """A stored JSON object; RejectedEntry if the text is not one."""
    try:
        # rdapctl stored UTF-8 (json.loads would first sniff for UTF-16 and -32).
        value = _decode_json(plain.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        raise RejectedEntry("cache entry does not decode") from None
    if not isinstance(value, dict):
        raise RejectedEntry("cache entry does not decode to an object")
    return value


def key_id_of(blob: object) -> str | None:
    """The key id in an envelope's clear header, if it has a readable one."""
    if not isinstance(blob, bytes) or len(blob) < 5 or len(blob) < 5 + blob[4]:
        return None
    try:
        return blob[5 : 5 + blob[4]].decode("ascii")
    except UnicodeDecodeError:
        return None


def stored_at_of(blob: object) -> float | None:
    """The store time in an envelope's clear header (None: not an envelope)."""
    if isinstance(blob, bytes) and len(blob) >= 5 and blob[:2] == MAGIC:
        start = 5 + blob[4]
        if len(blob) >= start + TIMES.size:
            stored_at: float = TIMES.unpack(blob[start : start + TIMES.size])[0]
            return stored_at
    return None


class EntryCodec:
    """Cache keys and envelopes of one tenant, with the tenant's keyring."""

    def __init__(self, tenant: Tenant, keyring: Keyring, compress: bool) -> None:
        self._keyring = keyring
        self._compress = compress
        fingerprint = tenant.fingerprint()
        self._key_head = f'["rdapctl-cache-key/v1",{_quote_json(tenant.name)},'
        self._key_tail = f"{_quote_json(fingerprint)}]"
        self._tenant_bytes = tenant.name.encode()
        # One cipher object per key id: building AESGCM is a measurable share of a hit.
        self._aeads: dict[str, Aead] = {}
        self._index_mac: tuple[bytes, hmac.HMAC] | None = None

    def cache_key(self, req: CacheRequest) -> bytes:
        """HMAC of the canonical request and policy fingerprint (what is stored on disk)."""
        # The compact JSON array ["rdapctl-cache-key/v1", tenant, type, query, server,
        # follow, fingerprint], assembled from its constant ends (one per lookup).
        quote = _quote_json
        canonical = "".join(
            (
                self._key_head,
                quote(req.query_type),
                ",",
                quote(req.query),
                ",",
                quote(req.server or ""),
                ",true," if req.follow_referrals else ",false,",
                self._key_tail,
            )
        ).encode("utf-8")
        key = self._keyring.index_key()
        keyed = self._index_mac
        if keyed is None or keyed[0] is not key:  # first use, or the keyring changed it
            keyed = self._index_mac = (key, hmac.new(key, digestmod=hashlib.sha256))
        signer = keyed[1].copy()  # hmac_sha256(key, canonical) without new key pads
        signer.update(canonical)
        return signer.digest()

    def _aad(self, cache_key: bytes, header: bytes) -> bytes:
        return _AD_PREFIX + self._tenant_bytes + b"\x00" + cache_key + b"\x00" + header

    def _aead(self, key_id: str) -> Aead | None:
        # Ask the keyring every time: a key retired since it was memoised must stop working.
        material = self._keyring.data_key(key_id)
        if material is None:
            self._aeads.pop(key_id, None)
            return None
        aead = self._aeads.get(key_id)
        if aead is None:
            from rdapctl.store.crypto import Aead

            aead = self._aeads[key_id] = Aead(material)
        return aead

    def seal(
        self,
        cache_key: bytes,
        value: Mapping[str, Any],
        now: float,
        ttl_s: int,
        head: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The envelope of ``value`` (and its ``head``) stored at ``now`` for ``ttl_s``."""
        plain = to_json(value)
        return self.seal_plain(
            cache_key, plain, now, ttl_s, None if head is None else to_json(head)
        )

    def seal_plain(
        self, cache_key: bytes, plain: bytes, now: float, ttl_s: int, head: bytes | None = None
    ) -> bytes:
        """``plain``: the value's JSON text; ``head``: the JSON text of its head (version
        2), which compact JSON keeps free of line breaks, so one ends where the other starts."""
        version = VERSION
        if head is not None:
            version = VERSION_HEAD
            plain = head + b"\n" + plain
        flags = 0
        if self._compress and len(plain) >= _COMPRESS_MIN_BYTES:
            packer = zlib.compressobj(1, zlib.DEFLATED, _ZLIB_WBITS, _ZLIB_MEMLEVEL)
            packed = packer.compress(plain) + packer.flush()
            if len(packed) < len(plain):
                plain, flags = packed, FLAG_ZLIB
        key_id, _ = self._keyring.active_data_key()
        aead = self._aead(key_id)
        assert aead is not None
        kid = key_id.encode("ascii")
        header = MAGIC + bytes((version, flags, len(kid))) + kid + TIMES.pack(now, now + ttl_s)
        return header + aead.seal(plain, self._aad(cache_key, header))

    def open(self, cache_key: bytes, blob: object) -> tuple[dict[str, Any], float, float, str]:
        """Decode a stored value: (value, stored_at, expires_at, key id); RejectedEntry
        with a reason when it does not open."""
        plain, _head, stored_at, expires_at, key_id = self.open_plain(cache_key, blob)
        return decode(plain), stored_at, expires_at, key_id

    def open_plain(
        self, cache_key: bytes, blob: object
    ) -> tuple[bytes, bytes | None, float, float, str]:
        """Authenticate and decompress a stored value to its JSON text (not yet parsed)
        and its head's JSON text (None: a version 1 entry, which has none)."""
        from rdapctl.store.crypto import DecryptionError

        if not isinstance(blob, bytes) or len(blob) < 5 or blob[:2] != MAGIC:
            if blob is FOREIGN:
                raise RejectedEntry("cache entry was not stored inline by rdapctl (a planted row)")
            raise RejectedEntry("cache entry is not a valid envelope")
        version = blob[2]
        if version not in (VERSION, VERSION_HEAD):
            raise RejectedEntry("cache entry has an unknown format version")
        flags, kid_len = blob[3], blob[4]
        end = 5 + kid_len + TIMES.size
        if len(blob) < end:
            raise RejectedEntry("cache entry is truncated")
        try:
            key_id = blob[5 : 5 + kid_len].decode("ascii")
        except UnicodeDecodeError:
            raise RejectedEntry("cache entry has a malformed key id") from None
        stored_at, expires_at = TIMES.unpack(blob[5 + kid_len : end])
        aead = self._aead(key_id)
        if aead is None:
            raise RejectedEntry(
                "cache entry is sealed under a key that is gone or retired", gone=True
            )
        header = blob[:end]
        try:
            plain = aead.open(blob[end:], self._aad(cache_key, header))
        except DecryptionError:
            raise RejectedEntry("cache entry failed authentication (tampered or damaged)") from None
        if flags & FLAG_ZLIB:
            try:
                plain = zlib.decompress(plain)
            except zlib.error:
                raise RejectedEntry("cache entry does not decode") from None
        head = None
        if version == VERSION_HEAD:
            cut = plain.find(b"\n")
            if cut < 0:
                raise RejectedEntry("cache entry does not decode")
            head, plain = plain[:cut], plain[cut + 1 :]
        return plain, head, stored_at, expires_at, key_id
