"""The proxied client: RDAP lookups when HTTP(S)_PROXY / ALL_PROXY names a proxy.

Every direct lookup goes through ``rdapctl.net.direct``; this client carries only the
proxied ones (``rdapctl.net.proxy_env.proxy_configured`` picks), over httpx and the
guarded transport of ``rdapctl.net.proxied_transport``. Both clients take their
request rules from ``rdapctl.net.client.RetryingGetter`` (redirects, retries, budget,
body decoding), so the same answer gets the same outcome on both paths.

Imports httpx (and through the transport httpcore) at the top: import it lazily, so
that ``rdapctl --version`` and direct lookups never load them.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Mapping

import httpx

from rdapctl.core.errors import UpstreamError
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
from rdapctl.net.connect import Resolver
from rdapctl.net.guard import NetworkPolicy
from rdapctl.net.proxied_backend import Deadline
from rdapctl.net.proxied_transport import build_transport
from rdapctl.net.urls import Target


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
