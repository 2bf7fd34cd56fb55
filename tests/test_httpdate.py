"""One HTTP-date reading (rdapctl.core.httpdate) for Retry-After and Expires: any text
a server sends gives a number or None, never an exception, and a valid date is read
as ``email.utils.parsedate_to_datetime`` reads it (GMT when it names no zone)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime

from hypothesis import example, given
from hypothesis import strategies as st

from rdapctl.core.httpdate import parse_http_date
from rdapctl.net.client import parse_retry_after
from rdapctl.store.cache.freshness import ttl_from_headers

DATE_CHARS = st.sampled_from(list("0123456789 ,:+-GMTUTMonJanDecSunNov\t")) | st.characters()
DATE_LIKE = st.lists(DATE_CHARS, max_size=40).map("".join)
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@st.composite
def date_shapes(draw: st.DrawFn) -> str:
    """Text shaped like an RFC 5322 date, with any numbers in it (overflows included)."""
    number = st.integers(-(10**25), 10**25).map(str) | st.sampled_from(["0", "00", "9999"])
    zone = st.sampled_from(["GMT", "UT", "-0000", "+0000", "+2400", "-2359", "+9999", "EST", ""])
    return (
        f"{draw(st.sampled_from(WEEKDAYS))}, {draw(number)} {draw(st.sampled_from(MONTHS))} "
        f"{draw(number)} {draw(number)}:{draw(number)}:{draw(number)} {draw(zone)}"
    ).strip()


@given(st.text() | DATE_LIKE | date_shapes())
@example("1 Jan 99999999999999999999999 00:00 GMT")  # OverflowError in the parser
@example("Mon, 01 Jan 10000 00:00:00 GMT")  # year out of range
@example("Mon, 01 Jan 2020 00:00:00 +9999")  # zone offset out of range
@example("Mon, 01 Jan 2020 99:00:00 GMT")
@example("")
def test_any_text_gives_a_number_or_none(text: str) -> None:
    when = parse_http_date(text)
    assert when is None or (isinstance(when, float) and math.isfinite(when))
    # Both callers take whatever it gives without raising.
    parse_retry_after(text, 0.0)
    ttl = ttl_from_headers({"Expires": text}, 3600, 0.0)
    assert ttl is not None and 0 <= ttl <= 3600


@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 30)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
    st.booleans(),
)
def test_valid_dates_agree_with_email_utils(moment: datetime, offset_min: int, gmt: bool) -> None:
    zone = UTC if gmt else timezone(timedelta(minutes=offset_min))
    text = format_datetime(moment.replace(microsecond=0, tzinfo=zone), usegmt=gmt)
    assert parse_http_date(text) == parsedate_to_datetime(text).timestamp()
    assert parse_http_date(f"  {text}\t") == parsedate_to_datetime(text).timestamp()


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 30)))
def test_dates_without_a_zone_are_gmt(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    asctime = moment.strftime("%a %b %d %H:%M:%S %Y")
    expected = parsedate_to_datetime(asctime).replace(tzinfo=UTC).timestamp()
    assert parse_http_date(asctime) == expected
    assert parse_http_date(format_datetime(moment)) == expected  # "-0000": no zone said
