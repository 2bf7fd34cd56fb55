"""HTTP-dates (RFC 9110 section 5.6.7) as epoch seconds: one reading for every header.

``Retry-After`` (``rdapctl.net.client``) and ``Expires`` (``rdapctl.store.cache``) both
read dates here, so that a date one of them takes the other takes too. Whatever a
server sends, :func:`parse_http_date` returns a number or None and never raises: a
malformed date, an out-of-range year, hour or zone offset, a number too large for a
C long. A date without a zone (asctime form, or ``-0000``) is GMT, as HTTP says.
"""

from __future__ import annotations

from datetime import UTC


def parse_http_date(value: str) -> float | None:
    """The instant ``value`` names (epoch seconds), or None when it is no usable date."""
    # Imported here: email.utils is a noticeable share of a cache hit's start-up.
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value.strip())
        if when.tzinfo is None:  # asctime dates carry no zone; HTTP dates are GMT
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
