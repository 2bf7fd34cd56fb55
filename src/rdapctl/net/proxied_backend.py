"""The proxied path's connections: an httpcore network backend behind the guard.

Owns, for each connection httpcore opens: resolving the host once, asking the guard
about every address (``rdapctl.net.connect.resolve_checked``) and connecting to one
that was checked (so DNS rebinding cannot swap it), TLS with the host name for SNI and
the tenant's SPKI pins after each handshake, and bounding every connect, TLS
handshake, read and write by the request's :class:`Deadline`, so a server dripping
bytes or interim answers cannot hold a request longer.

A connection to the user's proxy (``check_addresses=False``) is made as configured:
the proxy is trusted; TLS pinning still applies. Must not decide policy or retry.
"""

from __future__ import annotations

import ssl
import time
import typing
from collections.abc import Callable, Iterable

import httpcore

from rdapctl.core.errors import NetworkGuardError
from rdapctl.net import connect
from rdapctl.net.connect import LazySSLContext, ResolveError, Resolver, check_pins
from rdapctl.net.guard import NetworkPolicy

_SOCKET_OPTION = typing.Any  # httpcore's SOCKET_OPTION union; not exported publicly


def resolve_checked(host: str, port: int, policy: NetworkPolicy, resolver: Resolver) -> list[str]:
    """``rdapctl.net.connect.resolve_checked`` with httpcore's error, so httpx maps it."""
    try:
        return connect.resolve_checked(host, port, policy, resolver)
    except ResolveError as exc:
        raise httpcore.ConnectError(str(exc)) from exc


class Deadline:
    """When the request in progress must be done (a monotonic instant, None: no
    request); the client sets it, every stream operation is bounded by it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.at: float | None = None
        self._clock = clock
        # Called when request bytes are written (the client counts requests sent).
        self.on_write: Callable[[], None] | None = None

    def clamp(self, timeout: float | None, expired: type[Exception]) -> float | None:
        """``timeout`` cut to the time left; ``expired`` is raised when none is left."""
        if self.at is None:
            return timeout
        left = self.at - self._clock()
        if left <= 0:
            raise expired("the request's deadline passed")
        return left if timeout is None else min(timeout, left)


class _GuardedStream(httpcore.NetworkStream):
    """A stream whose TLS upgrade keeps the host name for SNI and checks the pins, and
    whose every operation ends by the request's deadline."""

    def __init__(
        self, inner: httpcore.NetworkStream, policy: NetworkPolicy, deadline: Deadline
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        timeout = self._deadline.clamp(timeout, httpcore.WriteTimeout)
        if self._deadline.on_write is not None:
            self._deadline.on_write()
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # server_hostname is the URL's host name (httpcore passes the origin host,
        # not the IP we connected to), so SNI and certificate checks use the name.
        if isinstance(ssl_context, LazySSLContext):
            ssl_context = ssl_context.get()
        timeout = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        tls = self._inner.start_tls(ssl_context, server_hostname, timeout)
        ssl_object = tls.get_extra_info("ssl_object")
        try:
            check_pins(self._policy, server_hostname, ssl_object)
        except NetworkGuardError:
            tls.close()
            raise
        return _GuardedStream(tls, self._policy, self._deadline)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore backend: resolve once, check every address, connect to a checked one.

    With ``check_addresses=False`` (the backend of a proxy pool) the connection to
    the user's proxy is made as configured; TLS pinning still applies.
    """

    def __init__(
        self,
        policy: NetworkPolicy,
        resolver: Resolver,
        *,
        check_addresses: bool = True,
        connect_timeout: float = 10.0,
        deadline: Deadline | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._check = check_addresses
        self._connect_timeout = connect_timeout
        self._deadline = deadline or Deadline()
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        if timeout is None:
            timeout = self._connect_timeout  # never hang forever on connect
        deadline = self._deadline
        if not self._check:
            timeout = deadline.clamp(timeout, httpcore.ConnectTimeout)
            stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
            return _GuardedStream(stream, self._policy, deadline)
        addresses = resolve_checked(host, port, self._policy, self._resolver)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    deadline.clamp(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            return _GuardedStream(stream, self._policy, deadline)
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[_SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise NetworkGuardError("unix-socket connections are not allowed")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
