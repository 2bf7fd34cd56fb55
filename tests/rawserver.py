"""A hostile HTTP server on 127.0.0.1 for tests: it answers with whatever bytes a test
scripts, including ones no well-behaved server library would send (broken status
lines, endless interim answers, a body dripped a byte at a time).

A script maps each request (method, path, headers) to a list of steps: ``bytes`` are
sent, a ``float`` waits that many seconds (on the server's stop event, so stopping the
server ends every wait at once). The connection is closed after the last step unless
the script returns ``keep_alive=True`` through :class:`Answer`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

from tests.support import RDAP_FIXTURES

Step = bytes | float


class Request:
    """One request the server read."""

    def __init__(self, method: str, path: str, headers: dict[str, str]) -> None:
        self.method = method
        self.path = path
        self.headers = headers

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


class Answer:
    """What to do with one request: steps to send, and whether to read another."""

    def __init__(self, steps: Iterable[Step], keep_alive: bool = False) -> None:
        self.steps = list(steps)
        self.keep_alive = keep_alive


Script = Callable[[Request], Answer | Iterable[Step]]


class RawServer:
    """Serve ``script`` on 127.0.0.1 (a new thread per connection) until closed."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)
        buf = b""
        try:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                request = _parse(head)
                with self._lock:
                    self.requests.append(request)
                answer = self.script(request)
                if not isinstance(answer, Answer):
                    answer = Answer(answer)
                for step in answer.steps:
                    if isinstance(step, float | int) and not isinstance(step, bool):
                        if self._stop.wait(float(step)):
                            return
                    else:
                        conn.sendall(step)
                if not answer.keep_alive:
                    return
        except OSError:
            return
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._accepter.join(5)
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> RawServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _parse(head: bytes) -> Request:
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    path = rest.rpartition(" ")[0]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, path, headers)


def response(
    body: bytes,
    status: str = "200 OK",
    content_type: str = "application/rdap+json",
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """The bytes of a complete, well-framed HTTP/1.1 answer that closes the connection."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def fixture_bytes(relpath: str) -> bytes:
    return (RDAP_FIXTURES / relpath).read_bytes()


def raw_answer(
    status_line: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    version: str = "HTTP/1.1",
) -> bytes:
    """An answer exactly as given: ``{version} {status_line}``, the headers in order (no
    Content-Length or Connection added: framing is the caller's, right or wrong), then
    ``body`` as it is. Header text is sent as latin-1 (as servers do)."""
    head = [f"{version} {status_line}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def chunked(
    body: bytes,
    size: int = 4096,
    *,
    extension: bytes = b"",
    trailers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """``body`` in the chunked transfer coding (RFC 9112 section 7.1): chunks of
    ``size`` bytes, each size line carrying ``extension`` (e.g. ``b";x=y"``), then the
    last chunk and ``trailers``."""
    out = bytearray()
    for start in range(0, len(body), max(1, size)):
        piece = body[start : start + max(1, size)]
        out += f"{len(piece):x}".encode() + extension + b"\r\n" + piece + b"\r\n"
    out += b"0" + extension + b"\r\n"
    for name, value in trailers:
        out += f"{name}: {value}\r\n".encode("latin-1")
    out += b"\r\n"
    return bytes(out)
