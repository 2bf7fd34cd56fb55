"""The proxied path's httpx transport: every request checked, then routed to a proxy.

:class:`GuardedTransport` applies the guard's URL rules to every request it is handed
(``rdapctl.net.guard.check_target``), then sends it directly or through the proxy
that HTTP(S)_PROXY / NO_PROXY name (``rdapctl.net.proxy_env``), over httpcore pools
whose connections ``rdapctl.net.proxied_backend`` makes. The proxy is trusted (the
user configured it) and not address-checked; the target still is (its host resolved,
every address checked), though the proxy resolves it again when it connects, so
DNS-rebinding protection for proxied requests is the proxy's job.

httpx builds its own pools and takes no network backend, so :class:`PoolTransport`
adapts an httpcore pool to httpx's public transport interface (httpcore's errors
mapped to httpx's, as httpx's own transport does).

Must not: decide policy, read ``os.environ``, retry, or show proxy credentials.
"""

from __future__ import annotations

import contextlib
import typing
from collections.abc import Iterator, Mapping
from types import TracebackType

import httpcore
import httpx

from rdapctl.core.errors import ConfigError
from rdapctl.net.connect import (
    LazySSLContext,
    ResolveError,
    Resolver,
    build_ssl_context,
    check_ca_bundle,
    resolve_checked,
    system_resolver,
)
from rdapctl.net.guard import NetworkPolicy, check_target
from rdapctl.net.proxied_backend import Deadline, GuardedBackend
from rdapctl.net.proxy_env import ProxyConfig

# httpcore's errors and the httpx errors they become, each before its base class, so
# that the first match is the most specific (as httpx maps them).
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore's errors raised as httpx's (anything else, the guard's refusals
    included, passes unchanged)."""
    try:
        yield
    except Exception as exc:
        for source, target in _HTTPX_ERRORS:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise


class _BodyStream(httpx.SyncByteStream):
    """An httpcore response body as an httpx stream."""

    def __init__(self, inner: typing.Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class PoolTransport(httpx.BaseTransport):
    """An httpcore connection pool (direct or through a proxy) as an httpx transport."""

    def __init__(self, pool: httpcore.ConnectionPool | httpcore.HTTPProxy) -> None:
        self._pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, typing.Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_BodyStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that enforces a NetworkPolicy on every request and connection."""

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        env: Mapping[str, str],
        resolver: Resolver | None = None,
        connect_timeout: float = 10.0,
        deadline: Deadline | None = None,
    ) -> None:
        self._policy = policy
        deadline = deadline or Deadline()
        self._resolver = resolver or system_resolver
        self._proxy_config = ProxyConfig(env)
        check_ca_bundle(policy)
        ssl_context = LazySSLContext(lambda: build_ssl_context(policy, env))
        pool_kwargs: dict[str, typing.Any] = {
            "ssl_context": ssl_context,
            "max_connections": 100,
            "max_keepalive_connections": 20,
            "keepalive_expiry": 5.0,
        }
        direct_backend = GuardedBackend(
            policy,
            self._resolver,
            connect_timeout=connect_timeout,
            check_addresses=True,
            deadline=deadline,
        )
        self._direct = PoolTransport(
            httpcore.ConnectionPool(network_backend=direct_backend, **pool_kwargs)
        )
        # One pool per configured proxy, built once: keep-alive to the proxy is reused.
        proxy_backend = GuardedBackend(
            policy,
            self._resolver,
            connect_timeout=connect_timeout,
            check_addresses=False,
            deadline=deadline,
        )
        self._proxied: dict[str, PoolTransport] = {}
        for scheme, url in self._proxy_config.urls.items():
            self._proxied[scheme] = PoolTransport(_proxy_pool(url, proxy_backend, pool_kwargs))

    def __repr__(self) -> str:
        # Proxy URLs may hold credentials: show only which schemes are proxied.
        return f"<GuardedTransport proxied={sorted(self._proxied)}>"

    def _route(self, scheme: str, host: str) -> PoolTransport | None:
        proxied = self._proxied.get(scheme)
        if proxied is None or self._proxy_config.bypass(host):
            return None
        return proxied

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        # raw_host is the ASCII (A-label) form, what a resolver expects; url.host would
        # decode "xn--" labels and raise on one that is not valid IDNA.
        host = url.raw_host.decode("ascii")
        target = check_target(url.scheme, host, url.port, bool(url.userinfo), self._policy)
        proxied = self._route(url.scheme, host)
        if proxied is None:
            return self._direct.handle_request(request)
        try:
            resolve_checked(host, target.port, self._policy, self._resolver)
        except ResolveError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        return proxied.handle_request(request)

    def close(self) -> None:
        self._direct.close()
        for transport in self._proxied.values():
            transport.close()

    def __enter__(self) -> GuardedTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()


def _proxy_pool(
    url: str, backend: GuardedBackend, pool_kwargs: dict[str, typing.Any]
) -> httpcore.HTTPProxy:
    try:
        scheme = httpx.URL(url).scheme
    except httpx.InvalidURL:
        scheme = ""
    if scheme not in ("http", "https"):
        raise ConfigError(
            "the proxy in HTTPS_PROXY/HTTP_PROXY/ALL_PROXY is not an http(s) URL",
            hint="use http://host:port or https://host:port",
        )
    proxy = httpx.Proxy(url=url)
    return httpcore.HTTPProxy(
        proxy_url=httpcore.URL(
            scheme=proxy.url.raw_scheme,
            host=proxy.url.raw_host,
            port=proxy.url.port,
            target=proxy.url.raw_path,
        ),
        proxy_auth=proxy.raw_auth,
        proxy_headers=proxy.headers.raw,
        proxy_ssl_context=proxy.ssl_context,
        network_backend=backend,
        **pool_kwargs,
    )


def build_transport(
    policy: NetworkPolicy,
    *,
    env: Mapping[str, str],
    resolver: Resolver | None = None,
    connect_timeout: float = 10.0,
    deadline: Deadline | None = None,
) -> GuardedTransport:
    """The transport to hand to ``httpx.Client(transport=...)``.

    ``env`` supplies the proxy and SSL_CERT_* variables (the process environment is
    never read here); ``resolver`` maps (host, port) to IP strings and defaults to
    getaddrinfo; ``connect_timeout`` applies when a request sets none; ``deadline``
    bounds every operation of the request in progress.
    """
    return GuardedTransport(
        policy, env=env, resolver=resolver, connect_timeout=connect_timeout, deadline=deadline
    )
