"""The proxied HTTP path: httpx with a guarded transport, used when a proxy is set.

Direct connections use ``rdapctl.net.direct``; both clients take their request rules
from ``rdapctl.net.client.RetryingGetter`` (redirects, retries, budget, body decoding), their
connection rules from ``rdapctl.net.connect`` and their URL rules from ``rdapctl.net.guard``.

Owns: resolving host names (once per connection), asking ``rdapctl.net.guard``
about every address, connecting to the address that was checked (so DNS
rebinding cannot swap it), TLS with the tenant's extra CA bundle, SPKI pinning
after each handshake, and routing through HTTP(S)_PROXY / NO_PROXY taken from a
passed-in environment mapping.

Every request, including each redirect hop and each referral, goes through
:meth:`GuardedTransport.handle_request`, so the URL rules apply to all of them. Every
read, write, connect and TLS handshake on a connection ends by the request's deadline
(``Deadline``), so a server dripping bytes or interim answers cannot hold it longer.

Proxies: the proxy itself is trusted (the user configured it) and is not
address-checked; the TARGET is still checked (URL rules, and its host resolved
and every address checked). The proxy resolves the name again when it connects,
so DNS-rebinding protection for proxied requests is the proxy's job.

Must not: decide policy (``rdapctl.net.guard`` does), read ``os.environ``, retry,
or log anything that could carry proxy credentials. This module imports httpx and
httpcore at the top; import it lazily so ``rdapctl --version`` stays fast.
"""

from __future__ import annotations

import ssl
import time
import typing
from collections.abc import Callable, Iterable, Mapping
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from types import TracebackType

import httpcore
import httpx

from rdapctl.core.errors import ConfigError, NetworkGuardError, UpstreamError
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
    LazySSLContext,
    ResolveError,
    Resolver,
    build_ssl_context,
    check_pins,
    load_cas,
    system_resolver,
)
from rdapctl.net.connect import resolve_checked as _resolve_checked
from rdapctl.net.guard import (
    NetworkPolicy,
    check_target,
    normalise_hostname,
)
from rdapctl.net.urls import Target

_SOCKET_OPTION = typing.Any  # httpcore's SOCKET_OPTION union; not exported publicly


def resolve_checked(host: str, port: int, policy: NetworkPolicy, resolver: Resolver) -> list[str]:
    """``rdapctl.net.connect.resolve_checked`` with httpcore's error, so httpx maps it."""
    try:
        return _resolve_checked(host, port, policy, resolver)
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


class _ProxyConfig:
    """HTTP(S)_PROXY / ALL_PROXY / NO_PROXY read from a mapping, like curl and httpx."""

    def __init__(self, env: Mapping[str, str]) -> None:
        def first(*names: str) -> str | None:
            for name in names:
                value = env.get(name, "").strip()
                if value:
                    return value
            return None

        # Under CGI, HTTP_PROXY can be set by a request header (httpoxy): ignore it.
        cgi = "REQUEST_METHOD" in env
        http_names = ("http_proxy",) if cgi else ("http_proxy", "HTTP_PROXY")
        self.urls: dict[str, str] = {}
        for scheme, names in (("https", ("https_proxy", "HTTPS_PROXY")), ("http", http_names)):
            value = first(*names, "all_proxy", "ALL_PROXY")
            if value:
                self.urls[scheme] = value if "://" in value else f"http://{value}"
        raw_no = first("no_proxy", "NO_PROXY") or ""
        self.no_proxy = [e.strip().lower() for e in raw_no.split(",") if e.strip()]

    def bypass(self, host: str) -> bool:
        """Whether NO_PROXY says ``host`` is reached directly."""
        host = normalise_hostname(host)
        literal = _ip_or_none(host)
        for entry in self.no_proxy:
            if entry == "*":
                return True
            if "/" in entry:  # a CIDR, as curl >= 7.86 accepts
                try:
                    if literal is not None and literal in ip_network(entry, strict=False):
                        return True
                except ValueError:
                    pass
                continue
            name = normalise_hostname(entry.lstrip("*").lstrip("."))
            if name.count(":") == 1:  # host:port; the port is not matched
                name = name.split(":", 1)[0]
            if host == name or host.endswith("." + name):
                return True
        return False


def _ip_or_none(host: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(host)
    except ValueError:
        return None


def _guarded_http_transport(pool: httpcore.ConnectionPool) -> httpx.HTTPTransport:
    # httpx offers no network_backend argument: build it as usual (no connections
    # are opened), then swap in our pool so httpx keeps mapping httpcore errors.
    # verify=False only skips building a context that the swapped-out pool would
    # own; our pool verifies with the tenant's context.
    transport = httpx.HTTPTransport(verify=False, trust_env=False)
    transport._pool.close()
    transport._pool = pool
    return transport


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that enforces a NetworkPolicy on every request and connection."""

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        env: Mapping[str, str],
        resolver: Resolver | None = None,
        connect_timeout: float = 10.0,
        limits: httpx.Limits | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self._policy = policy
        deadline = deadline or Deadline()
        self._resolver = resolver or system_resolver
        self._proxy_config = _ProxyConfig(env)
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        if policy.ca_bundle:
            # A broken tenant CA bundle is a configuration error: report it now.
            load_cas(
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), policy.ca_bundle, "cafile", "tls.ca_bundle"
            )
        ssl_context = LazySSLContext(lambda: build_ssl_context(policy, env))
        pool_kwargs: dict[str, typing.Any] = {
            "ssl_context": ssl_context,
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
        }
        direct_backend = GuardedBackend(
            policy,
            self._resolver,
            connect_timeout=connect_timeout,
            check_addresses=True,
            deadline=deadline,
        )
        self._direct = _guarded_http_transport(
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
        self._proxied: dict[str, httpx.HTTPTransport] = {}
        for scheme, url in self._proxy_config.urls.items():
            self._proxied[scheme] = _guarded_http_transport(
                _proxy_pool(url, proxy_backend, pool_kwargs)
            )

    def __repr__(self) -> str:
        # Proxy URLs may hold credentials: show only which schemes are proxied.
        return f"<GuardedTransport proxied={sorted(self._proxied)}>"

    def _route(self, scheme: str, host: str) -> httpx.HTTPTransport | None:
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
        except httpcore.ConnectError as exc:
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
    limits: httpx.Limits | None = None,
    deadline: Deadline | None = None,
) -> httpx.BaseTransport:
    """The transport to hand to ``httpx.Client(transport=...)``.

    ``env`` supplies the proxy and SSL_CERT_* variables (the process environment is
    never read here); ``resolver`` maps (host, port) to IP strings and defaults to
    getaddrinfo; ``connect_timeout`` applies when a request sets none; ``deadline``
    bounds every operation of the request in progress.
    """
    return GuardedTransport(
        policy,
        env=env,
        resolver=resolver,
        connect_timeout=connect_timeout,
        limits=limits,
        deadline=deadline,
    )


class RdapHttpClient(RetryingGetter):
    """GET RDAP JSON through the guarded httpx transport (the proxied path). Not
    thread-safe; one per thread.

    Requests go to the transport itself, not through ``httpx.Client``: the client
    would read every redirect's ``Location`` by its own URL rules, while redirects,
    like everything else a server sends, are read by ``RetryingGetter`` for both paths.
    Every request says ``Connection: close``: a connection to a forwarding proxy is
    shared by origins, and bytes one origin sent past its answer must never be read as
    another's answer.
    """

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        env: Mapping[str, str],
        resolver: Resolver | None = None,
        connect_timeout: float = 10.0,
        **kwargs: typing.Any,
    ) -> None:
        super().__init__(policy, **kwargs)
        self._deadline = Deadline(self._monotonic)
        self._deadline.on_write = self._note_sent
        # Proxies and CA bundles come from the environment the runtime was given.
        self._transport = build_transport(
            policy,
            env=env,
            resolver=resolver,
            connect_timeout=connect_timeout,
            deadline=self._deadline,
        )
        self._timeouts = httpx.Timeout(self.timeout_s).as_dict()

    def close(self) -> None:
        self._transport.close()

    def _exchange(self, target: Target, headers: Mapping[str, str], deadline: float) -> RawAnswer:
        self._deadline.at = deadline
        try:
            request = httpx.Request(
                "GET",
                target.url,
                headers={
                    "Accept": ACCEPT,
                    "User-Agent": USER_AGENT,
                    # Bodies are read raw and inflated within the size limit by the getter.
                    "Accept-Encoding": "identity",
                    "Connection": "close",
                    **headers,
                },
                extensions={"timeout": self._timeouts},
            )
        except (httpx.InvalidURL, ValueError) as exc:  # idna's errors are ValueErrors too
            raise UpstreamError(
                f"cannot request {target.host}: {describe(exc)}", code="bad_url"
            ) from None
        try:
            resp = self._transport.handle_request(request)
            try:
                status = resp.status_code
                body = self._read_raw(resp, target.url)
            finally:
                resp.close()
        except httpx.TimeoutException as exc:
            kind = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for"
            raise timed_out(target.host, self.timeout_s, kind) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            error = UpstreamError(
                f"could not reach {target.host}: {describe(exc)}", code="network_error"
            )
            if _tls_refusal(exc):  # a certificate that does not verify will not next time
                raise error from None
            raise RetryableError(error) from None
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"HTTP error talking to {target.host}: {describe(exc)}", code="network_error"
            ) from None
        finally:
            self._deadline.at = None
        got: dict[str, str] = {}
        for raw_name, raw_value in resp.headers.raw:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1").strip(" \t")
            got[name] = f"{got[name]}, {value}" if name in got else value
        return RawAnswer(status, got, body)

    def _read_raw(self, resp: httpx.Response, url: str) -> bytes:
        limit = self.max_response_bytes
        declared = resp.headers.get("content-length") or ""
        has_body = resp.status_code >= 200 and resp.status_code not in (204, 304)
        if has_body and declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise too_large(url, limit)
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_raw():
            size += len(chunk)
            if size > limit:
                raise too_large(url, limit)
            chunks.append(chunk)
        return b"".join(chunks)


def _tls_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by a TLS handshake the peer failed (certificate)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
