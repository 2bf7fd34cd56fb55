"""Keeping a hashed query out of every field of an audit record (``hash_queries``).

A lookup's query reaches its records in more places than the ``query`` field: the URL
path, referral URLs, the reason of a refused request, a server's error message, a
redirect target. :func:`scrub_record` is the one place that hides it: every string
in the record (at any depth) in which the query appears, in any case, as an IDNA
A-label or U-label, or percent-encoded, has each occurrence replaced by the query's
keyed hash, so records of one query still correlate and the rest of a URL stays
readable. Fields whose values come from rdapctl's own fixed vocabulary are left as
they are (a query that happens to read ``ok`` does not turn a status into a hash).
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import quote, unquote, urlsplit

# Top-level fields whose values are names rdapctl chose, never text derived from a query.
VOCABULARY_FIELDS: frozenset[str] = frozenset(
    {
        "status",
        "error_code",
        "query_type",
        "source",
        "redacted_fields",
        "query_hashed",
        "kind",
        "params",
        "profile",
        "finding_ids",
    }
)
# Shorter parts of a URL query are not searched for: they would match everywhere.
_MIN_PART = 3


def query_forms(query: str) -> tuple[str, ...]:
    """The spellings of ``query`` that give it away: as given, without a trailing dot,
    IDNA A-label and U-label forms of a domain name, percent-encoded forms, and for a
    URL query the last segment of its path (the name it asks about)."""
    forms: set[str] = set()

    def add(text: str) -> None:
        text = text.strip()
        if text:
            forms.add(text)
            forms.add(text.rstrip("."))

    add(query)
    for text in list(forms):
        for convert in (_to_unicode, _to_ascii):
            converted = convert(text)
            if converted:
                add(converted)
    if "://" in query:
        try:
            path = urlsplit(query).path
        except ValueError:
            path = ""
        segments = [s for s in path.split("/") if s]
        part = segments[-1] if segments else ""
        if len(part) >= _MIN_PART:
            add(part)
            add(unquote(part))
    for text in list(forms):
        forms.add(quote(text, safe=""))
        forms.add(quote(text, safe="/:@"))
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def _to_unicode(text: str) -> str | None:
    if "xn--" not in text.lower():
        return None
    try:
        import idna

        return str(idna.decode(text.rstrip(".")))
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def _to_ascii(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        import idna

        return str(idna.encode(text.rstrip("."), uts46=True).decode("ascii"))
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


@functools.lru_cache(maxsize=1024)
def _pattern(query: str) -> re.Pattern[str]:
    # Longest first, so a form is replaced whole rather than by a shorter one inside it.
    return re.compile("|".join(re.escape(f) for f in query_forms(query)), re.IGNORECASE)


def scrub_text(text: str, query: str, token: str) -> str:
    """``text`` with every spelling of ``query`` in it replaced by ``token``; text that
    holds the query only once percent-decoded is decoded first, then replaced."""
    pattern = _pattern(query)
    out = pattern.sub(token, text)
    if "%" in out:
        decoded = unquote(out)
        if decoded != out and pattern.search(decoded):
            out = pattern.sub(token, decoded)
    return out


def scrub_value(value: Any, query: str, token: str) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, scalars) with every string scrubbed."""
    if isinstance(value, str):
        return scrub_text(value, query, token)
    if isinstance(value, dict):
        return {
            scrub_text(k, query, token) if isinstance(k, str) else k: scrub_value(v, query, token)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [scrub_value(v, query, token) for v in value]
    return value


def scrub_record(fields: dict[str, Any], query: str, token: str) -> dict[str, Any]:
    """The event fields of one record with ``query`` hidden everywhere (the caller
    replaces the ``query`` field itself with ``token``)."""
    return {
        key: value if key in VOCABULARY_FIELDS else scrub_value(value, query, token)
        for key, value in fields.items()
    }


__all__ = ["VOCABULARY_FIELDS", "query_forms", "scrub_record", "scrub_text", "scrub_value"]
