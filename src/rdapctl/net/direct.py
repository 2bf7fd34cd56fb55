"""The direct client: every RDAP lookup that does not go through a proxy.

Keep-alive HTTP/1.1 on the standard library (httpx is neither imported nor used here:
it is slower to import and per request; see benchmarks/README.md). It keeps one
connection per (scheme, host, port), speaks HTTP/1.1 through ``rdapctl.net.http1``
(differential-tested against h11), and owns only the connections; every rule about
WHAT may be fetched, how patiently and how the answer is read comes from
``rdapctl.net.client.RetryingGetter``:

- each connection resolves its host once with ``rdapctl.net.connect.resolve_checked``
  and connects to one of the addresses that were checked (no second resolution, so
  DNS rebinding cannot swap it); a reconnection goes through the guard too;
- TLS with ``rdapctl.net.connect.build_ssl_context``, SNI and verification on the host
  name, then the tenant's SPKI pins (``rdapctl.net.connect.check_pins``);
- every step of a request (connect, TLS, sending, interim answers, headers, body,
  trailers) ends by the request's deadline.

Proxies are not handled here: with HTTP(S)_PROXY/ALL_PROXY set the session uses
``rdapctl.net.proxied`` (see ``rdapctl.net.proxy_env.proxy_configured``). Must not: decide
policy, read os.environ, or import httpx (``rdapctl.net.connect`` holds what both
clients share).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Any

from rdapctl.core.errors import NetworkGuardError, UpstreamError
from rdapctl.net.client import (
    ACCEPT,
    USER_AGENT,
    RawAnswer,
    RetryableError,
    RetryingGetter,
    describe,
    timed_out,
    too_large,
)
from rdapctl.net.connect import (
    ResolveError,
    Resolver,
    build_ssl_context,
    check_ca_bundle,
    check_pins,
    resolve_checked,
    system_resolver,
)
from rdapctl.net.guard import NetworkPolicy
from rdapctl.net.http1 import BodyTooLarge, Disconnected, ProtocolError, Reader, request_bytes
from rdapctl.net.urls import Target

MAX_CONNECTIONS = 32  # open keep-alive connections per client (one client per thread)


class _Connection:
    """One keep-alive connection; every (re)connection is made by the guarded opener."""

    def __init__(self, opener: Callable[[float], socket.socket], monotonic: Callable[[], float]):
        self._opener = opener
        self._monotonic = monotonic
        self.sock: socket.socket | None = None
        self.reader: Reader | None = None

    def open(self, deadline: float) -> None:
        self.sock = self._opener(deadline)
        self.reader = Reader(self.sock, clock=self._monotonic)

    def close(self) -> None:
        sock, self.sock, self.reader = self.sock, None, None
        if sock is not None:
            sock.close()


class StdlibHttpClient(RetryingGetter):
    """GET RDAP JSON over keep-alive HTTP/1.1 connections. One per thread."""

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        env: Mapping[str, str],
        resolver: Resolver | None = None,
        connect_timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(policy, **kwargs)
        check_ca_bundle(policy)
        self._env = env
        self._resolver = resolver
        self._connect_timeout = connect_timeout
        self._ssl: ssl.SSLContext | None = None
        self._conns: dict[tuple[str, str, int], _Connection] = {}

    def __repr__(self) -> str:
        return f"<StdlibHttpClient hosts={len(self._conns)}>"

    def close(self) -> None:
        conns, self._conns = self._conns, {}
        for conn in conns.values():
            conn.close()

    # -- connections ------------------------------------------------------------------

    def _left(self, deadline: float, host: str, what: str = "connecting to") -> float:
        """Seconds until ``deadline``; the request has timed out when none are left."""
        left = deadline - self._monotonic()
        if left <= 0:
            raise timed_out(host, self.timeout_s, what)
        return left

    def _open_socket(self, scheme: str, host: str, port: int, deadline: float) -> socket.socket:
        try:
            addresses = resolve_checked(host, port, self._policy, self._resolver or system_resolver)
        except ResolveError as exc:
            raise RetryableError(
                UpstreamError(f"could not reach {host}: {exc}", code="network_error")
            ) from None
        last: OSError | None = None
        for address in addresses:
            timeout = min(self._connect_timeout, self._left(deadline, host))
            try:
                sock = socket.create_connection((address, port), timeout=timeout)
            except OSError as exc:
                last = exc
                continue
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if scheme == "https":
                    sock.settimeout(self._left(deadline, host))
                    sock = self._start_tls(sock, host)
            except BaseException:
                sock.close()  # never leave a connected socket behind an error
                raise
            return sock
        if isinstance(last, TimeoutError):
            raise timed_out(host, self._connect_timeout, "connecting to")
        raise RetryableError(
            UpstreamError(f"could not reach {host}: {describe(last)}", code="network_error")
        )

    def _start_tls(self, sock: socket.socket, host: str) -> socket.socket:
        if self._ssl is None:
            self._ssl = build_ssl_context(self._policy, self._env)
        try:
            tls = self._ssl.wrap_socket(sock, server_hostname=host)
        except TimeoutError:
            sock.close()
            raise timed_out(host, self.timeout_s, "in the TLS handshake with") from None
        except ssl.SSLError as exc:
            sock.close()
            raise UpstreamError(
                f"TLS with {host} failed: {describe(exc)}", code="network_error"
            ) from None
        except OSError as exc:
            sock.close()
            raise RetryableError(
                UpstreamError(f"could not reach {host}: {describe(exc)}", code="network_error")
            ) from None
        try:
            check_pins(self._policy, host, tls)
        except NetworkGuardError:
            tls.close()
            raise
        return tls

    def _connection(self, target: Target) -> tuple[_Connection, bool]:
        key = (target.scheme, target.host, target.port)
        conns = self._conns
        conn = conns.pop(key, None)
        if conn is not None:
            conns[key] = conn  # the most recently used goes last
            if conn.sock is not None:
                return conn, True
        else:
            scheme, host, port = key
            conn = conns[key] = _Connection(
                lambda deadline: self._open_socket(scheme, host, port, deadline), self._monotonic
            )
            if len(conns) > MAX_CONNECTIONS:
                # Referrals can reach hundreds of registrar hosts: keep the recent few.
                conns.pop(next(iter(conns))).close()
        return conn, False

    # -- one request ---------------------------------------------------------------------

    def _exchange(self, target: Target, headers: Mapping[str, str], deadline: float) -> RawAnswer:
        send = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
        send.update(headers)
        # A kept-alive connection the server closed meanwhile fails on first use;
        # that is not the server being down: try once more on a fresh connection.
        for _ in range(2):
            conn, reused = self._connection(target)
            if not reused:
                conn.open(deadline)
            try:
                return self._roundtrip(conn, target, send, deadline)
            except (Disconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                if not reused:
                    raise RetryableError(
                        UpstreamError(
                            f"could not reach {target.host}: {describe(exc)}",
                            code="network_error",
                        )
                    ) from None
        raise AssertionError("unreachable")

    def _roundtrip(
        self, conn: _Connection, target: Target, send: dict[str, str], deadline: float
    ) -> RawAnswer:
        limit = self.max_response_bytes
        sock, reader = conn.sock, conn.reader
        assert sock is not None and reader is not None
        try:
            data = request_bytes(target.path, target.header_host, send)
        except ValueError as exc:  # a header value that would break the request
            raise UpstreamError(f"cannot request {target.host}: {exc}", code="bad_url") from None
        try:
            sock.settimeout(self._left(deadline, target.host, "waiting for"))
            self._note_sent()
            sock.sendall(data)
            resp = reader.response(limit, deadline=deadline)
        except BodyTooLarge:
            conn.close()
            raise too_large(target.url, limit) from None
        except TimeoutError:
            conn.close()
            raise timed_out(target.host, self.timeout_s, "waiting for") from None
        except UpstreamError:
            conn.close()
            raise
        except (Disconnected, BrokenPipeError, ConnectionResetError):
            raise
        except (ProtocolError, OSError) as exc:
            conn.close()
            raise RetryableError(
                UpstreamError(
                    f"could not reach {target.host}: {describe(exc)}", code="network_error"
                )
            ) from None
        if not resp.keep_alive:
            conn.close()
        if resp.status < 200:  # a 101 nobody asked for: the connection is not HTTP now
            raise RetryableError(
                UpstreamError(
                    f"could not reach {target.host}: an unexpected HTTP {resp.status}",
                    code="network_error",
                )
            )
        return RawAnswer(resp.status, resp.headers, resp.body)
