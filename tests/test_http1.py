"""HTTP/1.1 framing (rdapctl.http1) against a raw loopback server sending exact bytes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from rdapctl.http1 import (
    BodyTooLarge,
    Disconnected,
    ProtocolError,
    Reader,
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
