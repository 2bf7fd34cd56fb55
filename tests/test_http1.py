"""HTTP/1.1 framing (rdapctl.net.http1) against a raw loopback server sending exact bytes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from rdapctl.net.http1 import (
    MAX_HEAD_BYTES,
    BodyTooLarge,
    Disconnected,
    ProtocolError,
    Reader,
    Response,
    request_bytes,
    wire_path,
)


@pytest.fixture
def wire() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(client, server) ends of one real TCP connection on 127.0.0.1."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    client.settimeout(5)
    yield client, server
    client.close()
    server.close()


def _serve(server: socket.socket, *parts: bytes, close: bool = False) -> None:
    # Sent before the client reads: these answers fit in the socket buffers, and no
    # thread can outlive the test.
    for part in parts:
        server.sendall(part)
    if close:
        server.shutdown(socket.SHUT_WR)


def test_content_length_body_and_keep_alive(wire: tuple[socket.socket, socket.socket]) -> None:
    client, server = wire
    _serve(
        server,
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rdap+json\r\n",
        b"Content-Length: 2\r\n\r\n{}",
    )
    resp = Reader(client).response(1000)
    assert (resp.status, resp.body, resp.keep_alive) == (200, b"{}", True)
    assert resp.headers["content-type"] == "application/rdap+json"


def test_chunked_body_split_across_reads(wire: tuple[socket.socket, socket.socket]) -> None:
    client, server = wire
    _serve(
        server,
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{"a"',
        b"\r\n3\r\n:1}\r\n0\r\nTrailer: x\r\n\r\n",
    )
    resp = Reader(client).response(1000)
    assert resp.body == b'{"a":1}' and resp.keep_alive


def test_interim_response_skipped_and_headers_folded_and_joined(
    wire: tuple[socket.socket, socket.socket],
) -> None:
    client, server = wire
    _serve(
        server,
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 404 Not Found\r\nCache-Control: max-age=5\r\nCache-Control: private\r\n"
        b"X-Note: one\r\n two\r\nContent-Length: 0\r\n\r\n",
    )
    resp = Reader(client).response(1000)
    assert resp.status == 404
    assert resp.headers["cache-control"] == "max-age=5, private"
    assert resp.headers["x-note"] == "one two"


def test_http10_body_until_close(wire: tuple[socket.socket, socket.socket]) -> None:
    client, server = wire
    _serve(server, b"HTTP/1.0 200 OK\r\n\r\n[1,", b"2]", close=True)
    resp = Reader(client).response(1000)
    assert resp.body == b"[1,2]" and not resp.keep_alive


def test_limits_stop_reading(wire: tuple[socket.socket, socket.socket]) -> None:
    client, server = wire
    _serve(server, b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
    with pytest.raises(BodyTooLarge):
        Reader(client).response(1000)


def test_chunked_past_the_limit(wire: tuple[socket.socket, socket.socket]) -> None:
    client, server = wire
    _serve(
        server,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"200\r\n"
        + b"x" * 512
        + b"\r\n" * 3,
    )
    with pytest.raises(BodyTooLarge):
        Reader(client).response(100)


def test_closed_before_status_is_a_disconnect(wire: tuple[socket.socket, socket.socket]) -> None:
    client, server = wire
    server.close()
    with pytest.raises(Disconnected):
        Reader(client).response(1000)


@pytest.mark.parametrize(
    "head",
    [
        b"SPDY/3 200 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nx",
    ],
)
def test_malformed_responses_are_protocol_errors(
    wire: tuple[socket.socket, socket.socket], head: bytes
) -> None:
    client, server = wire
    _serve(server, head, close=True)
    with pytest.raises(ProtocolError):
        Reader(client).response(1000)


def test_request_bytes_encode_the_path_and_refuse_header_injection() -> None:
    data = request_bytes(
        "/domain/bücher de", "rdap.example:8443", {"Accept": "application/rdap+json"}
    )
    assert data.startswith(b"GET /domain/b%C3%BCcher%20de HTTP/1.1\r\nHost: rdap.example:8443\r\n")
    assert data.endswith(b"Accept: application/rdap+json\r\n\r\n")
    assert wire_path("/ip/192.0.2.0/24") == "/ip/192.0.2.0/24"
    with pytest.raises(ValueError):
        request_bytes("/", "h", {"If-None-Match": 'x"\r\nEvil: 1'})


# -- a scripted socket and clock (no sleeping) -----------------------------------------


class _Clock:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Stream:
    """A socket stand-in: ``data`` in recv()s of at most ``step`` bytes, each taking
    ``delay`` seconds on ``clock``, then b"" (closed); records every settimeout()."""

    def __init__(
        self, data: bytes, *, step: int = 1 << 20, clock: _Clock | None = None, delay: float = 0.0
    ) -> None:
        self._data = data
        self._step = step
        self._clock = clock
        self._delay = delay
        self.timeout: float | None = 7.0
        self.timeouts: list[float | None] = []
        self.recvs = 0

    def recv(self, size: int) -> bytes:
        self.recvs += 1
        if self._clock is not None:
            self._clock.now += self._delay
        out = self._data[: min(size, self._step)]
        self._data = self._data[len(out) :]
        return out

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.timeouts.append(timeout)

    def gettimeout(self) -> float | None:
        return self.timeout


def _read(data: bytes, limit: int = 1000) -> Response:
    return Reader(_Stream(data)).response(limit)  # type: ignore[arg-type]


OK_EMPTY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


# -- the deadline ------------------------------------------------------------------------


def test_deadline_stops_a_server_dripping_one_byte_at_a_time() -> None:
    clock = _Clock()
    sock = _Stream(OK_EMPTY, step=1, clock=clock, delay=0.25)
    reader = Reader(sock, clock=clock)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        reader.response(1000, deadline=clock.now + 2.0)
    assert sock.recvs == 8  # 2 s of 0.25 s reads, then no time left for another
    # Each recv waits at most the time left; the socket's own timeout comes back after.
    assert sock.timeouts[:3] == [2.0, 1.75, 1.5]
    assert sock.timeout == 7.0


def test_deadline_never_loosens_the_sockets_own_timeout() -> None:
    clock = _Clock()
    sock = _Stream(OK_EMPTY, step=10, clock=clock, delay=0.5)
    resp = Reader(sock, clock=clock).response(1000, deadline=clock.now + 60)  # type: ignore[arg-type]
    assert resp.status == 200 and resp.keep_alive
    assert sock.timeouts[:2] == [7.0, 7.0] and sock.timeouts[-1] == 7.0


def test_deadline_already_past_reads_nothing() -> None:
    clock = _Clock()
    sock = _Stream(OK_EMPTY, clock=clock)
    with pytest.raises(TimeoutError):
        Reader(sock, clock=clock).response(1000, deadline=clock.now)  # type: ignore[arg-type]
    assert sock.recvs == 0


def test_no_deadline_leaves_the_socket_timeout_alone() -> None:
    sock = _Stream(OK_EMPTY)
    assert Reader(sock).response(1000).status == 200  # type: ignore[arg-type]
    assert sock.timeouts == []


# -- endless answers -----------------------------------------------------------------------


def test_interim_responses_are_skipped_however_many_within_the_deadline() -> None:
    """As h11 (the httpx path): no count; the request's deadline bounds them."""
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    assert _read(interim * 1000 + OK_EMPTY).status == 200
    clock = _Clock()
    sock = _Stream(interim * 10_000, step=len(interim), clock=clock, delay=0.01)
    with pytest.raises(TimeoutError):
        Reader(sock, clock=clock).response(1000, deadline=clock.now + 1.0)  # type: ignore[arg-type]
    assert sock.recvs <= 101  # one interim answer a recv, 10 ms each: cut at the deadline


def test_trailer_fields_count_against_max_head_bytes() -> None:
    start = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n"
    line = b"X-Trailer: " + b"y" * 53 + b"\r\n"  # 66 bytes
    fits = line * (MAX_HEAD_BYTES // len(line) - 1)
    assert _read(start + fits + b"\r\n").body == b"ab"
    with pytest.raises(ProtocolError):
        _read(start + fits + line * 2 + b"\r\n")


# -- bugs found by the differential test against h11 ------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        # a CR that does not end a line (the old reader stripped any number of them)
        b"HTTP/1.1 200 OK\r\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Note: a\rb\r\nContent-Length: 0\r\n\r\n",
        # header names must be tokens; NUL, VT and FF appear nowhere in a head
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX(y): x\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Note: a\x00b\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 O\x0bK\r\nContent-Length: 0\r\n\r\n",
        # a status below 100
        b"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n",
        # chunk sizes are 1 to 20 hex digits, then perhaps extensions; int() took more
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nab\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n"
        + b"a" * 16
        + b"\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 2\r\nab\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 ;x\r\nab\r\n0\r\n\r\n",
        # chunk lines and chunk ends are CRLF (bare LF there is a smuggling favourite)
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n",
        # only "chunked", said once: the old reader took gzip-coded chunks as the body
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        # framing fields are checked in every head: bodiless, interim, and trailers
        b"HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\nContent-Length: x\r\n\r\n" + OK_EMPTY,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
        # a huge length: int() of 5000 digits raised ValueError, not a protocol error
        b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
    ],
)
def test_refused_as_h11_refuses(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        _read(data, limit=10**6)


def test_http10_with_transfer_encoding_is_read_as_h11_reads_it_and_never_reused() -> None:
    # RFC 9112 6.1 calls this framing faulty: decoded as h11 (the httpx path) does,
    # and the connection is not kept.
    resp = _read(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n")
    assert (resp.body, resp.keep_alive) == (b"ab", False)


def test_the_first_blank_line_ends_the_head_whatever_the_line_ends() -> None:
    # The old reader looked for CRLFCRLF first, finding one in this body.
    resp = _read(b"HTTP/1.1 200 OK\nContent-Length: 8\n\nX: 1\r\n\r\n")
    assert resp.body == b"X: 1\r\n\r\n"


def test_values_lose_only_spaces_and_tabs_and_folds_join_as_h11_does() -> None:
    resp = _read(
        b"HTTP/1.1 200 OK\r\nX-Note: \xa0caf\xe9\x1f \r\nX-Fold: a \r\n b\r\nY:\r\n\tc\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert resp.headers["x-note"] == "\xa0café\x1f"
    assert resp.headers["x-fold"] == "a  b"
    assert resp.headers["y"] == "c"


def test_minor_versions_above_one_read_as_http11() -> None:
    resp = _read(b"HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    assert (resp.status, resp.body, resp.keep_alive) == (200, b"{}", True)


@pytest.mark.parametrize(
    ("data", "keep_alive"),
    [
        # the token "close", not the substring
        (b"HTTP/1.1 200 OK\r\nConnection: x-close-later\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE \r\nContent-Length: 0\r\n\r\n", False),
        # HTTP/1.0 keep-alive is optional and never asked for (h11 does not reuse either)
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", False),
        # nothing after a protocol switch is HTTP/1.1
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", False),
        # bytes after a bodiless response are not ours
        (b"HTTP/1.1 204 No Content\r\n\r\nstray", False),
        # both framings at once: chunked wins, and the connection is not reused
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nab\r\n0\r\n\r\n",
            False,
        ),
    ],
)
def test_keep_alive_decisions(data: bytes, keep_alive: bool) -> None:
    assert _read(data).keep_alive is keep_alive
