"""HTTP/1.1 on one socket: a GET written out, its response read back and framed.

Not ``http.client``, which parses every header block with the ``email`` package (the
costliest part of a lookup's HTTP work; see benchmarks/README.md): RDAP needs only a
status, a few headers and a bounded body, so this reads exactly that:

- the status line (``HTTP/x.y``, as h11: versions below 1.1 read as HTTP/1.0; interim
  1xx responses skipped, however many (the caller's deadline bounds them), ``101``
  final) and the header block (at most ``MAX_HEAD_BYTES``; names
  must be tokens and are lower-cased, repeated headers joined with ", ", obsolete
  line folding unfolded; bare LF line ends accepted, a bare CR, NUL, VT or FF refused);
- the body framed by ``Transfer-Encoding: chunked``, ``Content-Length`` or the end
  of the connection (RFC 9112 section 6.3), never more than ``limit`` bytes kept
  (``BodyTooLarge`` as soon as it is exceeded, or when a declared length does);
  any other transfer coding, a bad or conflicting length, a malformed chunk and
  trailer fields past ``MAX_HEAD_BYTES`` are ``ProtocolError``;
- whether the connection can carry another request (``keep_alive``): HTTP/1.1 without
  a ``close`` token in Connection, one framing header (not both), nothing read past
  the response; never after a body that ended with the connection, nor after a 101.

These rules are h11's (``tests/test_http1_differential.py`` checks them against it on
generated hostile responses); where this is stricter, that test says why.

An optional ``deadline`` bounds the whole response, however slowly it drips in.

Must not: resolve, connect, decide what may be fetched (``rdapctl.net.direct`` and the
guard do), or retry. Raises ``ProtocolError`` for what the server got wrong,
``Disconnected`` when the peer closed before a status line (a kept-alive connection
the server dropped), ``TimeoutError`` past the deadline, and lets
``OSError``/``TimeoutError`` of the socket through.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Callable, Mapping

from rdapctl.core.records import record

MAX_HEAD_BYTES = 64 * 1024  # one header block: the head, or the trailer fields
_RECV = 256 * 1024
_NO_BODY = frozenset({204, 304})
_LENGTH_DIGITS = 20  # as h11 (and int() raises ValueError past 4300 digits)
# The blank line that ends a header block (CRLF or bare LF line ends, as h11).
_BLANK = re.compile(rb"\n\r?\n")
_STATUS = re.compile(r"HTTP/([0-9]\.[0-9]) ([0-9]{3})(?: .*)?")
_NAME_CHARS = r"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_FIELD_NAME = re.compile(_NAME_CHARS + ":")
# A line that is not plainly "name:..." (a bad one, or an obsolete fold).
_ODD_LINE = re.compile(r"\n(?!" + _NAME_CHARS + ":)")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;[^\n]*)?[ \t]*")


class ProtocolError(Exception):
    """The server's answer is not valid HTTP/1.x."""


class Disconnected(ConnectionError):
    """The peer closed the connection before sending a status line."""


class BodyTooLarge(Exception):
    """The body is (or is declared to be) larger than the limit."""


@record
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


def request_bytes(path: str, host: str, headers: Mapping[str, str]) -> bytes:
    """The bytes of ``GET path`` to ``host`` (a Host header value, port included when
    not the default). Header values with a line break are refused (ValueError)."""
    lines = [f"GET {wire_path(path)} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def wire_path(path: str) -> str:
    """``path`` with white space, control and non-ASCII characters percent-encoded
    (UTF-8), as a request line needs; everything else, '%' included, as it is."""
    if path.isascii() and path.isprintable() and " " not in path:
        return path
    return "".join(
        chr(b) if 0x20 < b < 0x7F else f"%{b:02X}" for b in path.encode("utf-8", "surrogatepass")
    )


class Reader:
    """The receiving side of one connection; keeps what was read past a response.

    ``clock`` is what a ``deadline`` is an instant of (``time.monotonic``); tests pass
    their own to drive it without sleeping.
    """

    def __init__(self, sock: socket.socket, clock: Callable[[], float] = time.monotonic) -> None:
        self._sock = sock
        self._clock = clock
        self._buf = bytearray()
        self._deadline: float | None = None
        self._timeout: float | None = None  # the socket's own timeout, while a deadline runs

    def _fill(self) -> bool:
        """Append what one recv() brings; False at the end of the stream. Under a
        deadline the recv waits at most the time left (or the socket's own timeout
        when that is shorter): a server dripping a byte at a time cannot hold us."""
        if self._deadline is not None:
            left = self._deadline - self._clock()
            if left <= 0:
                raise TimeoutError("the response did not arrive before its deadline")
            own = self._timeout
            self._sock.settimeout(left if own is None or left < own else own)
        data = self._sock.recv(_RECV)
        if not data:
            return False
        self._buf += data
        return True

    def response(self, limit: int, *, deadline: float | None = None) -> Response:
        """Read one whole response to a GET (after any 1xx).

        ``deadline`` (an instant of the reader's clock) bounds the whole read, then
        ``TimeoutError``; the socket's own timeout is put back afterwards, so the next
        request's send is not left with the last few milliseconds.
        """
        if deadline is None:
            return self._response(limit)
        sock = self._sock
        self._timeout = sock.gettimeout()
        self._deadline = deadline
        try:
            return self._response(limit)
        finally:
            self._deadline = None
            with contextlib.suppress(OSError):  # a socket closed meanwhile
                sock.settimeout(self._timeout)

    def _response(self, limit: int) -> Response:
        """The final response after any interim ones, body framed."""
        first = True
        while True:
            status, http10, headers, length = self._head(first)
            first = False
            if status >= 200 or status == 101:
                break
        chunked = "transfer-encoding" in headers  # _head let only "chunked" through
        # An HTTP/1.0 answer that chunks is read as chunked, as h11 does, and never
        # reused (RFC 9112 6.1: its framing is faulty). HTTP/1.0 keep-alive is optional
        # (RFC 9112 9.3) and we never ask for it; both framings at once may be
        # smuggling (RFC 9112 6.3): never reuse those.
        keep_alive = not http10 and not (chunked and length is not None)
        if keep_alive:
            keep_alive = not _closes(headers.get("connection"))
        if status == 101:
            # Nothing after a protocol switch (which we never ask for) is HTTP/1.1.
            return Response(status, headers, b"", False)
        if status in _NO_BODY:
            body = b""
        elif chunked:
            body = self._chunked(limit)
        elif length is not None:
            body = self._sized(length, limit)
        else:
            return Response(status, headers, self._until_close(limit), False)
        # Bytes past the response on a connection we never pipeline on: not ours.
        return Response(status, headers, body, keep_alive and not self._buf)

    def _block(self, first: bool, what: str) -> tuple[str, list[str]]:
        """One header block up to its blank line (the head, or the trailer fields): its
        text and its lines without their line ends (none when the block is empty).
        At most MAX_HEAD_BYTES; a NUL, VT, FF or a CR not ending a line is refused
        (h11 allows none of them in a status line, a name or a value)."""
        buf = self._buf
        start = 0
        while True:
            if buf[:1] == b"\n":
                del buf[:1]
                return "", []
            if buf[:2] == b"\r\n":
                del buf[:2]
                return "", []
            found = _BLANK.search(buf, start)
            if found is not None:
                break
            if len(buf) > MAX_HEAD_BYTES:
                raise ProtocolError(f"{what} are too long")
            start = max(0, len(buf) - 2)  # a blank line may straddle two reads
            if not self._fill():
                if first and not buf:
                    raise Disconnected("the server closed the connection")
                raise ProtocolError(f"the connection ended inside {what}")
        end = found.start() + 1  # the last line's LF included
        if end > MAX_HEAD_BYTES:
            raise ProtocolError(f"{what} are too long")
        text = buf[:end].decode("latin-1")
        del buf[: found.end()]
        if "\x00" in text or "\x0b" in text or "\x0c" in text:
            raise ProtocolError(f"a NUL, VT or FF byte in {what}")
        lines = text.split("\r\n")
        ends = len(lines) - 1
        if ends != text.count("\n") or ends != text.count("\r"):  # not all CRLF
            lf = text.replace("\r\n", "\n")
            if "\r" in lf:
                raise ProtocolError(f"a bare CR in {what}")
            lines = lf.split("\n")
        lines.pop()  # what follows the last line end
        return text, lines

    def _head(self, first: bool) -> tuple[int, bool, dict[str, str], int | None]:
        """(status, HTTP/1.0?, headers, Content-Length) of one status line and head."""
        text, lines = self._block(first, "the response headers")
        line = _STATUS.fullmatch(lines[0]) if lines else None
        if line is None or line[2] < "100":
            raise ProtocolError(f"bad status line {lines[0][:60] if lines else ''!r}")
        headers = _fields(lines, 1, text, text.find("\n"))
        return int(line[2]), line[1] < "1.1", headers, _framing(headers)

    def _sized(self, length: int, limit: int) -> bytes:
        """Exactly ``length`` bytes (a body, or one chunk's data)."""
        if length > limit:
            raise BodyTooLarge
        buf = self._buf
        while len(buf) < length:
            if not self._fill():
                raise ProtocolError("the connection ended inside the response body")
        if len(buf) == length:  # the usual case: one copy, not two
            body = bytes(buf)
            buf.clear()
            return body
        body = bytes(buf[:length])
        del buf[:length]
        return body

    def _chunked(self, limit: int) -> bytes:
        """A chunked body: size lines (1 to 20 hex digits, extensions ignored), data
        each followed by CRLF, then trailer fields (one header block, checked, dropped)."""
        parts: list[bytes] = []
        size = 0
        while True:
            line = self._chunk_line()
            match = _CHUNK_SIZE.fullmatch(line)
            if match is None:
                raise ProtocolError(f"bad chunk size line {line[:20]!r}")
            length = int(match[1], 16)
            if length == 0:
                break
            size += length
            if size > limit:
                raise BodyTooLarge
            parts.append(self._sized(length, limit))
            buf = self._buf
            while len(buf) < 2:
                if not self._fill():
                    raise ProtocolError("the connection ended inside a chunked body")
            if buf[:2] != b"\r\n":
                raise ProtocolError("a chunk is longer than its declared size")
            del buf[:2]
        text, lines = self._block(False, "the trailer fields")
        if lines:
            _framing(_fields(lines, 0, "\n" + text, 0))  # checked as h11 does, then dropped
        return b"".join(parts)

    def _chunk_line(self) -> bytes:
        """A chunk size line, without its CRLF (a bare LF does not end it, as h11)."""
        buf = self._buf
        start = 0
        while True:
            end = buf.find(b"\r\n", start)
            if end >= 0:
                line = bytes(buf[:end])
                del buf[: end + 2]
                return line
            if len(buf) > MAX_HEAD_BYTES:
                raise ProtocolError("a chunk size line is too long")
            start = max(0, len(buf) - 1)
            if not self._fill():
                raise ProtocolError("the connection ended inside a chunked body")

    def _until_close(self, limit: int) -> bytes:
        """A body without framing: everything until the server closes."""
        buf = self._buf
        while self._fill():
            if len(buf) > limit:
                raise BodyTooLarge
        if len(buf) > limit:
            raise BodyTooLarge
        body = bytes(buf)
        buf.clear()
        return body


def _fields(lines: list[str], first: int, text: str, start: int) -> dict[str, str]:
    """The header fields of ``lines[first:]``, which ``text[start:]`` holds, each line
    opened by its LF: names must be tokens and are lower-cased, values lose their
    surrounding spaces and tabs, repeated names are joined with ", "."""
    if _ODD_LINE.search(text, start, len(text) - 1) is None:
        if first:
            lines = lines[first:]
    else:
        lines = _unfold(lines[first:])
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        name = name.lower()
        value = value.strip(" \t")
        old = headers.get(name)
        headers[name] = value if old is None else f"{old}, {value}"
    return headers


def _unfold(lines: list[str]) -> list[str]:
    """The field lines with each continuation (a line opening with a space or tab)
    appended to the one before after one space, as h11 and RFC 9112 5.2 do; any
    other line that is not "token:..." is refused."""
    out: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not out:
                raise ProtocolError("a folded header line without a header")
            out[-1] += " " + line.lstrip(" \t")
        elif _FIELD_NAME.match(line) is None:
            raise ProtocolError(f"bad header line {line[:60]!r}")
        else:
            out.append(line)
    return out


def _framing(headers: dict[str, str]) -> int | None:
    """Check Transfer-Encoding (only "chunked", said once) and Content-Length (one
    length, however often repeated) as h11 does, normalise both in ``headers`` and
    return the declared length."""
    coding = headers.get("transfer-encoding")
    if coding is not None:
        if coding.lower() != "chunked":
            raise ProtocolError(f"unsupported Transfer-Encoding {coding[:40]!r}")
        headers["transfer-encoding"] = "chunked"
    text = headers.get("content-length")
    if text is None:
        return None
    if not (text.isdigit() and text.isascii() and len(text) <= _LENGTH_DIGITS):
        text = headers["content-length"] = _content_length(text)
    return int(text)


def _content_length(value: str) -> str:
    """The one length a list-valued Content-Length says (RFC 9110 8.6: repeated
    headers were joined, and "6, 6" is one length said twice)."""
    values = {v.strip(" \t") for v in value.split(",")}
    if len(values) != 1:
        raise ProtocolError("conflicting Content-Length headers")
    (text,) = values
    if not (text.isascii() and text.isdigit() and len(text) <= _LENGTH_DIGITS):
        raise ProtocolError(f"bad Content-Length {text[:20]!r}")
    return text


def _closes(connection: str | None) -> bool:
    """Whether a Connection header value holds the token "close" (any case)."""
    if connection is None:
        return False
    connection = connection.lower()
    return "close" in connection and any(
        token.strip(" \t") == "close" for token in connection.split(",")
    )
