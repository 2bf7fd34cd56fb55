"""HTTP/1.1 on one socket: a GET written out, its response read back and framed.

``http.client`` parses every response's headers with the ``email`` package, which
cost more CPU than the rest of a batch lookup's HTTP work together; RDAP needs only
a status, a few headers and a bounded body, so this reads exactly that:

- the status line (HTTP/1.0 and 1.1; interim 1xx responses are skipped) and the
  header block (at most ``MAX_HEAD_BYTES``; names lower-cased, repeated headers
  joined with ", ", obsolete line folding unfolded; bare LF line ends accepted);
- the body framed by ``Transfer-Encoding: chunked``, ``Content-Length`` or the end
  of the connection (RFC 9112 section 6.3), never more than ``limit`` bytes kept
  (``BodyTooLarge`` as soon as it is exceeded, or when a declared length does);
- whether the connection can carry another request (``keep_alive``).

Must not: resolve, connect, decide what may be fetched (``rdapctl.fasthttp`` and the
guard do), or retry. Raises ``ProtocolError`` for what the server got wrong,
``Disconnected`` when the peer closed before a status line (a kept-alive connection
the server dropped), and lets ``OSError``/``TimeoutError`` of the socket through.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

from rdapctl.records import record

MAX_HEAD_BYTES = 64 * 1024
_RECV = 256 * 1024
_NO_BODY = frozenset({204, 304})


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
    """The receiving side of one connection; keeps what was read past a response."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()

    def _fill(self) -> bool:
        data = self._sock.recv(_RECV)
        if not data:
            return False
        self._buf += data
        return True

    def response(self, limit: int, head_only: bool = False) -> Response:
        """Read one whole response (after any 1xx); ``head_only``: a HEAD request's."""
        first = True
        while True:
            status, version, headers = self._head(first)
            first = False
            if 100 <= status < 200 and status != 101:
                continue
            break
        connection = headers.get("connection", "").lower()
        keep_alive = (
            "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
        )
        if head_only or status in _NO_BODY or 100 <= status < 200:
            return Response(status, headers, b"", keep_alive)
        coding = headers.get("transfer-encoding")
        if coding is not None:
            if coding.lower().rsplit(",", 1)[-1].strip() != "chunked":
                # RFC 9112 6.3: the body then ends with the connection.
                return Response(status, headers, self._until_close(limit), False)
            body = self._chunked(limit)
        elif "content-length" in headers:
            body = self._sized(_content_length(headers["content-length"]), limit)
        else:
            return Response(status, headers, self._until_close(limit), False)
        # Bytes past the response on a connection we never pipeline on: not ours.
        return Response(status, headers, body, keep_alive and not self._buf)

    def _head(self, first: bool) -> tuple[int, str, dict[str, str]]:
        buf = self._buf
        while True:
            end, sep = buf.find(b"\r\n\r\n"), 4
            if end < 0:
                end, sep = buf.find(b"\n\n"), 2
            if end >= 0:
                break
            if len(buf) > MAX_HEAD_BYTES:
                raise ProtocolError("the response headers are too long")
            if not self._fill():
                if first and not buf:
                    raise Disconnected("the server closed the connection")
                raise ProtocolError("the connection ended inside the response headers")
        if end > MAX_HEAD_BYTES:
            raise ProtocolError("the response headers are too long")
        lines = bytes(buf[:end]).decode("latin-1").split("\n")
        del buf[: end + sep]
        status_line = lines[0].rstrip("\r")
        parts = status_line.split(" ", 2)
        version = parts[0]
        if len(parts) < 2 or version not in ("HTTP/1.1", "HTTP/1.0"):
            raise ProtocolError(f"bad status line {status_line[:60]!r}")
        code = parts[1]
        if len(code) != 3 or not code.isdigit():
            raise ProtocolError(f"bad status line {status_line[:60]!r}")
        headers: dict[str, str] = {}
        last: str | None = None
        for raw in lines[1:]:
            line = raw.rstrip("\r")
            if line[:1] in (" ", "\t"):
                if last is None:
                    raise ProtocolError("a folded header line without a header")
                headers[last] = f"{headers[last]} {line.strip()}"
                continue
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise ProtocolError(f"bad header line {line[:60]!r}")
            last = name.lower()
            value = value.strip()
            headers[last] = f"{headers[last]}, {value}" if last in headers else value
        return int(code), version, headers

    def _sized(self, length: int, limit: int) -> bytes:
        if length > limit:
            raise BodyTooLarge
        buf = self._buf
        while len(buf) < length:
            if not self._fill():
                raise ProtocolError("the connection ended inside the response body")
        body = bytes(buf[:length])
        del buf[:length]
        return body

    def _line(self) -> bytes:
        buf = self._buf
        while True:
            end = buf.find(b"\n")
            if end >= 0:
                line = bytes(buf[:end]).rstrip(b"\r")
                del buf[: end + 1]
                return line
            if len(buf) > MAX_HEAD_BYTES:
                raise ProtocolError("a chunk header is too long")
            if not self._fill():
                raise ProtocolError("the connection ended inside a chunked body")

    def _chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            text = self._line().split(b";", 1)[0].strip()
            try:
                length = int(text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {text[:20]!r}") from None
            if length < 0:
                raise ProtocolError("bad chunk size")
            if length == 0:
                while self._line():  # trailer fields, up to the empty line
                    pass
                return b"".join(parts)
            size += length
            if size > limit:
                raise BodyTooLarge
            parts.append(self._sized(length, limit))
            if self._line():
                raise ProtocolError("a chunk is longer than its declared size")

    def _until_close(self, limit: int) -> bytes:
        buf = self._buf
        while self._fill():
            if len(buf) > limit:
                raise BodyTooLarge
        if len(buf) > limit:
            raise BodyTooLarge
        body = bytes(buf)
        buf.clear()
        return body


def _content_length(value: str) -> int:
    # Repeated headers were joined: "6, 6" is one length said twice (RFC 9110 8.6).
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        raise ProtocolError("conflicting Content-Length headers")
    (text,) = values
    if not (text.isascii() and text.isdigit()):
        raise ProtocolError(f"bad Content-Length {text[:20]!r}")
    return int(text)
