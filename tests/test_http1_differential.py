"""rdapctl.net.http1.Reader against h11 on generated (often hostile) response byte streams.

We keep our own HTTP/1.1 response reader (it is faster than h11; see
benchmarks/README.md), so h11 is the oracle here: the same bytes go to both, ours through a fake
socket that hands them out in random recv() pieces, and both must agree on the status,
the headers, the body and whether the connection can be reused, or both must refuse.

Where ours deliberately differs, ``expected`` says so, one rule and one reason each;
everything else is h11's word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rdapctl.net.http1 import (
    MAX_HEAD_BYTES,
    BodyTooLarge,
    Disconnected,
    ProtocolError,
    Reader,
    Response,
)

# -- the two parsers ------------------------------------------------------------------


class PieceSocket:
    """A socket stand-in handing ``data`` out in the pieces ``cuts`` makes, then b""
    (the peer closed). Records how much was handed out."""

    def __init__(self, data: bytes, cuts: list[int]) -> None:
        bounds = sorted({c for c in cuts if 0 < c < len(data)})
        starts = [0, *bounds]
        ends = [*bounds, len(data)]
        self._pieces = [data[a:b] for a, b in zip(starts, ends, strict=True) if b > a]
        self._timeout: float | None = None
        self.consumed = 0

    def recv(self, size: int) -> bytes:
        if not self._pieces:
            return b""
        piece = self._pieces[0]
        out, rest = piece[:size], piece[size:]
        if rest:
            self._pieces[0] = rest
        else:
            self._pieces.pop(0)
        self.consumed += len(out)
        return out

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout


@dataclass
class H11Answer:
    """What h11 made of a stream it accepted."""

    interim: list[h11.InformationalResponse]
    final: h11.Response | h11.InformationalResponse
    body: bytes
    reusable: bool  # both sides DONE after EndOfMessage: start_next_cycle() works
    consumed: int  # bytes of the stream the exchange took


def h11_read(data: bytes, method: str) -> H11Answer | None:
    """h11's reading of ``data`` as the answer to ``method /``; None: refused (an
    error, or a message the stream ends before completing)."""
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
    # The Upgrade offer only lets h11 hand over a 101's head (it refuses an unasked
    # switch); it changes nothing else in how h11 reads a response.
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "a"), ("Upgrade", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    interim: list[h11.InformationalResponse] = []
    final: h11.Response | h11.InformationalResponse | None = None
    body = bytearray()
    closed = False
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return None
        if event is h11.NEED_DATA:
            if closed:
                return None
            conn.receive_data(b"")
            closed = True
        elif isinstance(event, h11.InformationalResponse):
            if event.status_code == 101:
                final = event
                break
            interim.append(event)
        elif isinstance(event, h11.Response):
            final = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
        else:  # ConnectionClosed before the message ended
            return None
    assert final is not None
    # A body that ended with the connection (closed) leaves nothing to reuse.
    reusable = conn.our_state is h11.DONE and conn.their_state is h11.DONE and not closed
    if reusable:
        conn.start_next_cycle()  # proves it: raises when h11 would not reuse
    return H11Answer(interim, final, bytes(body), reusable, len(data) - len(conn.trailing_data[0]))


def joined(headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """h11's header list as ours keeps it: repeated names joined with ", "."""
    out: dict[bytes, bytes] = {}
    for name, value in headers:
        out[name] = out[name] + b", " + value if name in out else value
    return out


# -- what ours must do ----------------------------------------------------------------


@dataclass
class Expected:
    refused: bool = False
    too_large: bool = False
    status: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""
    keep_alive: bool = False
    consumed: int = 0


REFUSED = Expected(refused=True)


def expected(data: bytes, method: str, limit: int) -> Expected:
    """h11's answer, with each of our deliberate differences applied (one line why)."""
    answer = h11_read(data, method)
    if answer is None:
        return REFUSED
    headers = joined(list(answer.final.headers))
    chunked = b"transfer-encoding" in headers
    if answer.final.status_code == 101:
        # We never offer an upgrade (h11 refuses an unasked one): ours returns the 101
        # as final, with no body and no reuse, since nothing after it is HTTP/1.1.
        return Expected(status=101, headers=headers, consumed=answer.consumed)
    # The limit is our policy, not HTTP's.
    if len(answer.body) > limit:
        return Expected(too_large=True)
    # Both framings at once may be smuggling (RFC 9112 6.3): ours never reuses that.
    keep_alive = answer.reusable and not (chunked and b"content-length" in headers)
    return Expected(
        status=answer.final.status_code,
        headers=headers,
        body=answer.body,
        keep_alive=keep_alive,
        consumed=answer.consumed,
    )


def check(data: bytes, method: str, limit: int, cuts: list[int]) -> None:
    """Feed ``data`` to both parsers and assert that ours does what ``expected`` says."""
    want = expected(data, method, limit)
    sock = PieceSocket(data, cuts)
    got: Response | None = None
    try:
        got = Reader(sock).response(limit)  # type: ignore[arg-type]
    except BodyTooLarge:
        assert want.refused or want.too_large, f"ours: too large; expected {want}"
    except Disconnected:
        assert want.refused and not data, "Disconnected is only for a silent close"
    except ProtocolError as exc:
        assert want.refused, f"ours refused ({exc}); expected {want}"
    if got is None:
        return
    assert not want.refused and not want.too_large, f"ours accepted {got}; expected {want}"
    assert got.status == want.status
    assert {k.encode("latin-1"): v.encode("latin-1") for k, v in got.headers.items()} == (
        want.headers
    )
    assert got.body == want.body
    # Bytes read past the response on a connection we never pipeline on: ours does not
    # reuse it; otherwise ours must have left the rest of the stream unread.
    assert got.keep_alive == (want.keep_alive and sock.consumed == want.consumed)


# -- generated responses --------------------------------------------------------------
#
# Each test case has one focus, the part made hostile; the rest is drawn from what both
# parsers accept, so that most examples get past the status line.

FOCI = (
    "none",
    "status",
    "fields",
    "length",
    "coding",
    "chunks",
    "trailer",
    "interim",
    "tail",
    "cut",
)
CRLF = b"\r\n"
T = TypeVar("T")


def pick(draw: st.DrawFn, wild: bool, clean: list[T], odd: st.SearchStrategy[T]) -> T:
    """One of ``clean``; when ``wild``, as often something from ``odd``."""
    if wild and draw(st.booleans()):
        return draw(odd)
    return draw(st.sampled_from(clean))


# Valid for both: CRLF or bare LF line ends; obs-text, controls but NUL/CR/VT/FF, and
# inner spaces or tabs in a value or a reason.
EOLS = [CRLF, CRLF, CRLF, b"\n"]
ODD_EOLS = st.sampled_from([b"\r\r\n", b"\r", b"\n\r", b"\r\n\r"])
ODD_BLANKS = st.sampled_from([b"\r\r\n", b" \r\n", b"", b"\r"])
TEXT = [b"caf\xe9", b"\x85nel\xa0", b"\x1cx\x1f", b"\x01\x7f", b"tab\there", b"a  b", b""]
ODD_TEXT = st.one_of(
    st.sampled_from([b"a\x00b", b"a\rb", b"a\x0bb", b"a\x0cb"]), st.binary(max_size=8)
)
VERSIONS = [b"HTTP/1.1"] * 4 + [b"HTTP/1.0"]
ODD_VERSIONS = st.sampled_from(
    [
        *(b"HTTP/1.2", b"HTTP/1.9", b"HTTP/2.0", b"HTTP/0.9", b"http/1.1", b"HTTP/11"),
        *(b"HTTP/1.1 ", b" HTTP/1.1", b"HTTP1.1", b"HTTP/1.x", b"HTTPS/1.1", b"HTTP/1.1\x00"),
    ]
)
CODES = [b"200"] * 4 + [b"404", b"204", b"304", b"500", b"302", b"101", b"600", b"999"]
ODD_CODES = st.one_of(
    st.integers(0, 999).map(lambda n: b"%03d" % n),
    st.sampled_from([b"2x0", b"20", b"2000", b"+20", b" 200", b"\xb2\xb2\xb2", b"-20", b"0x1"]),
)
INTERIM_CODES = [b"100", b"100", b"102", b"103", b"199"]
ODD_INTERIM_CODES = st.sampled_from([b"1x0", b"10", b"099", b"100\t"])
INTERIM_FIELDS = [b"X: 1\r\n"]
ODD_INTERIM_FIELDS = st.sampled_from(
    [b"Content-Length: x\r\n", b"Transfer-Encoding: gzip\r\n", b"Connection: close\r\n"]
)
REASONS = [b"OK", b"OK", b"Not Found", b"Continue", *TEXT]
NAMES = [b"Content-Type", b"X-Note", b"Cache-Control", b"Server", b"x-note", b"x_~!#$%&'*+.^`|"]
ODD_NAMES = st.one_of(
    st.sampled_from([b"Bad Name", b"X(y)", b"", b"X\x80", b"\tX", b"X\x00", b"X\r"]),
    st.binary(min_size=1, max_size=4),
)
COLONS = [b": ", b": ", b":", b":\t", b":  ", b": \t"]
ODD_COLONS = st.sampled_from([b" :", b"\t:", b"::", b" : "])
VALUES = [b"application/rdap+json", b"max-age=5", b"private", b"x, y", *TEXT]
FOLDS = [b" ", b"\t", b"  ", b" \t"]
CONNECTIONS = [b"close", b"Close", b"CLOSE ", b"keep-alive", b"Keep-Alive", b"keep-alive, close"]
CONNECTIONS += [b"upgrade, close", b"closed", b"x-close", b"close,", b" , close", b"close\x1f"]
CONNECTIONS += [b"keep-alive\xa0close", b"te,close", b"clos e"]
LENGTHS = ["{n}"] * 4 + ["0{n}", " {n} ", "{n}, {n}", "{n},{n}"]
ODD_LENGTHS = st.sampled_from(
    [
        *("+{n}", "-{n}", "{n}, {m}", "{n},", "x", "", "0x{n}", "{n}.0", "{m}", "\xb2"),
        *("99999999999999999999", "9" * 25, "9" * 5000),
    ]
)
CODINGS = [b"chunked"] * 3 + [b"Chunked", b"CHUNKED", b" chunked "]
ODD_CODINGS = st.sampled_from(
    [
        *(b"gzip, chunked", b"chunked, gzip", b"identity", b"gzip", b"", b"chunked, chunked"),
        *(b"chunked;q=1", b"chunked\x85"),
    ]
)
SIZES = [b"%x"] * 4 + [b"%X", b"000%x", b"%x;name=value", b'%x;a="b c"', b"%x;", b"%x  ", b"%x\t"]
ODD_SIZES = st.sampled_from(
    [
        *(b"0x%x", b"+%x", b" %x", b"%x ;e", b"00000000000000000000%x", b"%x;a\rb", b"-%x"),
        *(b"%x\n", b"%x_0", b"%x\x0b"),
    ]
)
ODD_CHUNK_ENDS = st.sampled_from([b"\n", b"", b"\r\r\n", b"x\r\n", b"\r"])


@st.composite
def field_lines(draw: st.DrawFn, wild: bool, names: list[bytes] = NAMES) -> bytes:
    """One header line, its line end included; now and then folded onto two."""
    line = pick(draw, wild, names, ODD_NAMES) + pick(draw, wild, COLONS, ODD_COLONS)
    line += pick(draw, wild, VALUES, ODD_TEXT)
    if draw(st.integers(0, 7)) == 0:  # obsolete line folding
        line += draw(st.sampled_from([b"", b" ", b"\t"])) + pick(draw, wild, EOLS, ODD_EOLS)
        line += draw(st.sampled_from(FOLDS)) + pick(draw, wild, VALUES, ODD_TEXT)
    return line + pick(draw, wild, EOLS, ODD_EOLS)


@st.composite
def heads(draw: st.DrawFn, focus: str, codes: list[bytes], extra: list[bytes]) -> bytes:
    """A status line and header block: a few random fields with ``extra`` mixed in."""
    wild = focus == "status"
    line = pick(draw, wild, VERSIONS, ODD_VERSIONS) + pick(draw, wild, [b" "], st.just(b"  "))
    line += pick(draw, wild, codes, ODD_INTERIM_CODES if codes is INTERIM_CODES else ODD_CODES)
    if draw(st.integers(0, 5)):  # else no reason, nor the space before it
        line += b" " + pick(draw, wild, REASONS, ODD_TEXT)
    fields = draw(st.lists(field_lines(focus == "fields"), max_size=3))
    for item in extra:
        fields.insert(draw(st.integers(0, len(fields))), item)
    blank = pick(draw, focus == "fields", EOLS, ODD_BLANKS)
    return line + pick(draw, wild, EOLS, ODD_EOLS) + b"".join(fields) + blank


@st.composite
def chunked(draw: st.DrawFn, focus: str, body: bytes) -> bytes:
    """``body`` in chunked coding, then trailer fields and the blank line."""
    wild = focus == "chunks"
    out = bytearray()
    rest = body
    while rest:
        size = draw(st.integers(1, len(rest)))
        chunk, rest = rest[:size], rest[size:]
        out += pick(draw, wild, SIZES, ODD_SIZES) % size + CRLF
        out += chunk + pick(draw, wild, [CRLF], ODD_CHUNK_ENDS)
    out += pick(draw, wild, SIZES, ODD_SIZES) % 0 + CRLF
    wild = focus == "trailer"
    names = [*NAMES, b"Content-Length", b"Transfer-Encoding"] if wild else NAMES
    for line in draw(st.lists(field_lines(wild, names), max_size=3 if wild else 1)):
        out += line
    return bytes(out + pick(draw, wild, EOLS, ODD_BLANKS))


@st.composite
def responses(draw: st.DrawFn, focus: str) -> bytes:
    """Interim responses, a final one with its framing and body, then perhaps more;
    ``focus`` names the part made hostile."""
    out = bytearray()
    if focus == "interim":
        count = draw(st.sampled_from([1, 2, 3, 17, 40]))
    else:
        count = draw(st.sampled_from([0, 0, 0, 0, 1]))
    for _ in range(count):
        extra = [pick(draw, focus == "interim", INTERIM_FIELDS, ODD_INTERIM_FIELDS)]
        out += draw(heads(focus, INTERIM_CODES, extra))
    body = draw(st.binary(max_size=40))
    framings = ["length", "chunked", "length", "chunked", "none"]
    if focus in ("length", "coding"):
        framings += ["both", "both"]
    framing = draw(st.sampled_from(framings))
    extra: list[bytes] = []
    if framing in ("length", "both"):
        wild = focus == "length"
        for _ in range(draw(st.sampled_from([1, 1, 1, 2]))):
            form = pick(draw, wild, LENGTHS, ODD_LENGTHS)
            value = form.format(n=len(body), m=len(body) + draw(st.sampled_from([-1, 1, 3])))
            extra.append(b"Content-Length: " + value.encode("latin-1") + CRLF)
    if framing in ("chunked", "both"):
        wild = focus == "coding"
        for _ in range(draw(st.sampled_from([1, 1, 1, 2])) if wild else 1):
            extra.append(b"Transfer-Encoding: " + pick(draw, wild, CODINGS, ODD_CODINGS) + CRLF)
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        extra.append(b"Connection: " + draw(st.sampled_from(CONNECTIONS)) + CRLF)
    out += draw(heads(focus, CODES, extra))
    out += draw(chunked(focus, body)) if framing in ("chunked", "both") else body
    if focus == "tail":
        out += draw(
            st.sampled_from([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b"junk", CRLF])
        )
    data = bytes(out)
    if focus == "cut":  # the peer hangs up early
        data = data[: draw(st.integers(0, len(data)))]
    return data


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A plain good response with a few bytes replaced, inserted or removed."""
    data = bytearray(
        draw(
            st.sampled_from(
                [
                    b"HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nContent-Length: 5\r\n\r\nhello",
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nT: v\r\n\r\n",
                    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 404 Nope\nX: a\n  b\n\nbody",
                ]
            )
        )
    )
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        byte = draw(st.sampled_from(b"\x00\t\n\r :;,0aAfF\x7f\x80\xff"))
        how = draw(st.sampled_from(["replace", "insert", "delete"]))
        if how == "insert" or at == len(data):
            data.insert(at, byte)
        elif how == "replace":
            data[at] = byte
        else:
            del data[at]
    return bytes(data)


METHODS = st.just("GET")  # the only request rdapctl sends
LIMITS = st.sampled_from([10_000] * 5 + [16, 0])
CUTS = st.lists(st.integers(0, 400), max_size=12)


@pytest.mark.parametrize("focus", FOCI)
@given(data=st.data(), method=METHODS, limit=LIMITS, cuts=CUTS)
def test_generated_responses_read_as_h11_reads_them(
    focus: str, data: st.DataObject, method: str, limit: int, cuts: list[int]
) -> None:
    check(data.draw(responses(focus)), method, limit, cuts)


@given(data=mutated(), method=METHODS, cuts=CUTS)
def test_mutated_responses_read_as_h11_reads_them(
    data: bytes, method: str, cuts: list[int]
) -> None:
    check(data, method, 10_000, cuts)


@given(data=st.binary(max_size=60), cuts=CUTS)
def test_noise_after_a_status_line_reads_as_h11_reads_it(data: bytes, cuts: list[int]) -> None:
    check(b"HTTP/1.1 200 OK\r\n" + data, "GET", 10_000, cuts)
