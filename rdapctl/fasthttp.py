"""The direct HTTP path: keep-alive HTTP/1.1 connections behind the guard.

httpx costs several times the CPU of the stdlib per request (what limits a batch
run on a small machine) and its import alone costs more than the whole urllib-based
baseline a single lookup is measured against, so every direct connection uses this
client and httpx is kept for proxies. It keeps one keep-alive connection per
(scheme, host, port), speaks HTTP/1.1 through ``rdapctl.http1`` (``http.client``'s
header parsing was most of its cost), and owns only the connections: every rule
about WHAT may be fetched and how patiently comes from the shared code:

- ``rdapctl.netguard.check_target`` on every URL, each redirect hop included (at
  most ``rdapctl.http.MAX_REDIRECTS``, followed here);
- ``rdapctl.connect.resolve_checked`` once per connection, and the socket is
  connected to one of the addresses that were checked (no second resolution, so DNS
  rebinding cannot swap it); a reconnection after keep-alive ends goes through the
  guard too;
- TLS with ``rdapctl.connect.build_ssl_context`` and SNI/verification on the host
  name, then the tenant's SPKI pins (``rdapctl.connect.spki_pin``);
- retries, ``Retry-After``, the gate, JSON decoding: ``rdapctl.http.RetryingGetter``.

Proxies are not handled here: with HTTP(S)_PROXY/ALL_PROXY set the session uses the
httpx client (see ``proxy_configured``). Must not: decide policy, read os.environ,
or import httpx (``rdapctl.connect`` holds what both clients share).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from rdapctl.errors import NetworkGuardError, UpstreamError
from rdapctl.hostnames import to_a_labels
from rdapctl.http import (
    ACCEPT,
    MAX_REDIRECTS,
    USER_AGENT,
    HttpResponse,
    RetryingGetter,
    _RetryableError,
    _too_large,
)
from rdapctl.http1 import BodyTooLarge, Disconnected, ProtocolError, Reader, request_bytes
from rdapctl.netguard import NetworkPolicy, ParsedTarget, check_target

Resolver = Callable[[str, int], list[str]]
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PROXY_VARS = ("https_proxy", "http_proxy", "all_proxy")
_TARGETS_MAX = 1024  # remembered URL checks per client (a few hosts in practice)
MAX_CONNECTIONS = 32  # open keep-alive connections per client (one client per thread)


def proxy_configured(env: Mapping[str, str]) -> bool:
    """Whether the environment names a proxy (then the httpx transport is used)."""
    return any(env.get(n, "").strip() or env.get(n.upper(), "").strip() for n in _PROXY_VARS)


class _Connection:
    """One keep-alive connection; every (re)connection is made by the guarded opener."""

    def __init__(self, host: str, header_host: str, opener: Callable[[], socket.socket]) -> None:
        self.host = host
        self.header_host = header_host  # the Host header value
        self._opener = opener
        self.sock: socket.socket | None = None
        self.reader: Reader | None = None

    def open(self) -> None:
        self.sock = self._opener()
        self.reader = Reader(self.sock)

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
        super().__init__(**kwargs)
        self._policy = policy
        self._env = env
        self._resolver = resolver
        self._connect_timeout = connect_timeout
        self._ssl: ssl.SSLContext | None = None
        self._conns: dict[tuple[str, str, int], _Connection] = {}
        # check_target is pure in its arguments and this client's policy: a batch asks
        # the same few hosts thousands of times. Only passing targets are kept.
        self._targets: dict[tuple[str, str, int | None, bool], ParsedTarget] = {}

    def __repr__(self) -> str:
        return f"<StdlibHttpClient hosts={len(self._conns)}>"

    def close(self) -> None:
        conns, self._conns = self._conns, {}
        for conn in conns.values():
            conn.close()

    # -- connections ------------------------------------------------------------------

    def _open_socket(self, scheme: str, host: str, port: int) -> socket.socket:
        from rdapctl.connect import ResolveError, resolve_checked, system_resolver

        try:
            addresses = resolve_checked(host, port, self._policy, self._resolver or system_resolver)
        except ResolveError as exc:
            raise _RetryableError(
                UpstreamError(f"could not reach {host}: {exc}", code="network_error")
            ) from None
        last: OSError | None = None
        for address in addresses:
            try:
                sock = socket.create_connection((address, port), timeout=self._connect_timeout)
            except OSError as exc:
                last = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.timeout_s)
            if scheme == "https":
                sock = self._start_tls(sock, host)
            return sock
        if isinstance(last, TimeoutError):
            raise UpstreamError(
                f"timed out after {self._connect_timeout:g}s connecting to {host}",
                code="timeout",
                hint="raise security.timeout_s in the tenant profile if the server is slow",
            )
        raise _RetryableError(
            UpstreamError(f"could not reach {host}: {_describe(last)}", code="network_error")
        )

    def _start_tls(self, sock: socket.socket, host: str) -> socket.socket:
        from rdapctl.connect import build_ssl_context, check_pins

        if self._ssl is None:
            self._ssl = build_ssl_context(self._policy, self._env)
        try:
            tls = self._ssl.wrap_socket(sock, server_hostname=host)
        except ssl.SSLError as exc:
            sock.close()
            raise UpstreamError(
                f"TLS with {host} failed: {_describe(exc)}", code="network_error"
            ) from None
        except OSError as exc:
            sock.close()
            raise _RetryableError(
                UpstreamError(f"could not reach {host}: {_describe(exc)}", code="network_error")
            ) from None
        try:
            check_pins(self._policy, host, tls)
        except NetworkGuardError:
            tls.close()
            raise
        return tls

    def _connection(self, scheme: str, host: str, port: int) -> tuple[_Connection, bool]:
        key = (scheme, host, port)
        conns = self._conns
        conn = conns.pop(key, None)
        if conn is not None:
            conns[key] = conn  # the most recently used goes last
            if conn.sock is not None:
                return conn, True
        else:
            default = 443 if scheme == "https" else 80
            header_host = host if port == default else f"{host}:{port}"
            if ":" in host:  # an IPv6 literal
                header_host = f"[{host}]" if port == default else f"[{host}]:{port}"
            conn = conns[key] = _Connection(
                host, header_host, lambda: self._open_socket(scheme, host, port)
            )
            if len(conns) > MAX_CONNECTIONS:
                # Referrals can reach hundreds of registrar hosts: keep the recent few.
                conns.pop(next(iter(conns))).close()
        conn.open()
        return conn, False

    # -- one attempt -------------------------------------------------------------------

    def _get_once(self, url: str, headers: Mapping[str, str] | None) -> HttpResponse:
        current = url
        redirects: list[str] = []
        while True:
            status, got, body = self._fetch(current, headers)
            location = got.get("location")
            if status in _REDIRECTS and location:
                if len(redirects) >= MAX_REDIRECTS:
                    raise UpstreamError(
                        f"more than {MAX_REDIRECTS} redirects fetching {url}",
                        code="too_many_redirects",
                    )
                redirects.append(current)
                current = urljoin(current, location.strip())
                self._check_not_blocked(current)  # a redirect to a host asked to wait
                continue
            return HttpResponse(
                url=current,
                status=status,
                headers=got,
                body=self._decode(body, got, current, status),
                redirects=redirects,
            )

    def _fetch(
        self, url: str, headers: Mapping[str, str] | None
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise NetworkGuardError("the URL has an invalid port") from None
        host = parts.hostname or ""
        asked = (parts.scheme, host, port, "@" in parts.netloc)
        target = self._targets.get(asked)
        if target is None:
            target = check_target(*asked, self._policy)
            if len(self._targets) >= _TARGETS_MAX:
                self._targets.clear()
            self._targets[asked] = target
        if not host.isascii():
            try:
                host = to_a_labels(host)
            except ValueError:
                raise NetworkGuardError("the URL's host is not a valid domain name") from None
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        send = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
        if headers:
            send.update(headers)
        # A kept-alive connection the server closed meanwhile fails on first use;
        # that is not the server being down: try once more on a fresh connection.
        for _ in range(2):
            conn, reused = self._connection(target.scheme, host, target.port)
            try:
                return self._exchange(conn, path, send, url)
            except (Disconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                if not reused:
                    raise _RetryableError(
                        UpstreamError(
                            f"could not reach {host}: {_describe(exc)}", code="network_error"
                        )
                    ) from None
        raise AssertionError("unreachable")

    def _exchange(
        self, conn: _Connection, path: str, send: dict[str, str], url: str
    ) -> tuple[int, dict[str, str], bytes]:
        limit = self.max_response_bytes
        sock, reader = conn.sock, conn.reader
        assert sock is not None and reader is not None
        try:
            sock.sendall(request_bytes(path, conn.header_host, send))
            resp = reader.response(limit)
        except BodyTooLarge:
            conn.close()
            raise _too_large(url, limit) from None
        except ValueError as exc:  # a header value that would break the request
            raise UpstreamError(f"cannot request {url}: {exc}", code="network_error") from None
        except TimeoutError:
            conn.close()
            raise UpstreamError(
                f"timed out after {self.timeout_s:g}s waiting for {conn.host}",
                code="timeout",
                hint="raise security.timeout_s in the tenant profile if the server is slow",
            ) from None
        except (Disconnected, BrokenPipeError, ConnectionResetError):
            raise
        except (ProtocolError, OSError) as exc:
            conn.close()
            raise _RetryableError(
                UpstreamError(
                    f"could not reach {conn.host}: {_describe(exc)}", code="network_error"
                )
            ) from None
        if not resp.keep_alive:
            conn.close()
        return resp.status, resp.headers, resp.body


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no address to connect to"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
