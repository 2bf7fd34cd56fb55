"""The records the tenant cache takes and returns."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from rdapctl.core.records import record


@record
class CacheRequest:
    """What identifies a cached answer (with the tenant's policy fingerprint)."""

    query_type: str
    query: str
    server: str | None = None
    follow_referrals: bool = True


@record
class InspectedEntry:
    """One stored entry as a read-only scan sees it: its value, or why it does not open.

    ``ref`` is the start of the HMAC cache key: it names the entry in a report
    without revealing the query.
    """

    position: int
    ref: str
    value: dict[str, Any] | None = field(default=None, repr=False)
    problem: str | None = None
    gone: bool = False  # sealed under a key the keyring cannot open (retired, or foreign)
    expired: bool = False
    key_id: str | None = None


@record
class CachedEntry:
    """A fresh entry. ``value`` is None only when the caller asked for the head alone
    and the entry has one (``head``); ``plain`` is always the value's JSON text."""

    value: dict[str, Any] | None
    stored_at: float
    expires_at: float
    age_s: float
    key_id: str
    # The stored JSON text of ``value`` (batch splices it instead of re-encoding).
    plain: bytes | None = field(default=None, repr=False, compare=False)
    head: dict[str, Any] | None = field(default=None, repr=False, compare=False)
