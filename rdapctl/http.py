"""RDAP over HTTP (RFC 7480): the rules every client follows, and the httpx client.

Owns (in ``RetryingGetter``, shared with the stdlib client in ``rdapctl.fasthttp``):
request headers, timeouts, redirects (at most 5 hops), the response size limit (stop
reading past it), 429/503 ``Retry-After`` and bounded exponential backoff, JSON
decoding. ``RdapHttpClient`` is the httpx adapter, used for proxied requests: it maps
every httpx exception to the rdapctl error tree, and its connections go through the
guarded transport (``rdapctl.transport``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any, Protocol, Self

from rdapctl import __version__
from rdapctl.errors import RateLimitedError, UpstreamError
from rdapctl.records import factory, mutable_record, record

if TYPE_CHECKING:
    import httpx

USER_AGENT = f"rdapctl/{__version__}"
ACCEPT = "application/rdap+json, application/json;q=0.9"
MAX_REDIRECTS = 5


@record
class RetryPolicy:
    """How patient to be. ``business_criticality`` picks one (critical retries longest)."""

    max_retries: int
    max_wait_s: float
    backoff_s: float


RETRY_BY_CRITICALITY: dict[str, RetryPolicy] = {
    "critical": RetryPolicy(max_retries=4, max_wait_s=30.0, backoff_s=0.5),
    "high": RetryPolicy(max_retries=3, max_wait_s=15.0, backoff_s=0.5),
    "medium": RetryPolicy(max_retries=2, max_wait_s=10.0, backoff_s=0.25),
    "low": RetryPolicy(max_retries=0, max_wait_s=2.0, backoff_s=0.25),
}
MAX_BACKOFF_S = 8.0
# delta-seconds, ASCII digits only ("²".isdigit() is True); repeats of a header sent twice.
_DELTA_SECONDS = re.compile(r"([0-9]{1,10})(?:\s*,\s*[0-9]{1,10})*", re.ASCII)


class RequestGate(Protocol):
    """Admission control around each request attempt (batch: per-host limits).

    ``acquire`` blocks until ``url`` may be requested and returns the function that
    releases the slot; ``retry_after`` tells the gate a server asked to wait, so it
    can slow that host for everyone instead of this caller sleeping alone; a host
    asked to wait longer than a caller's patience fails that caller at once.
    """

    def acquire(self, url: str) -> Callable[[], None]: ...

    def retry_after(self, url: str, wait_s: float) -> None: ...

    def blocked_s(self, url: str) -> float:
        """Seconds until the host of ``url`` may be asked again (0: now)."""
        ...

    def pause(self, seconds: float) -> None:
        """Sleep between attempts; raises InterruptedRunError when the run stops."""
        ...


@mutable_record
class HttpResponse:
    url: str
    status: int
    headers: dict[str, str]
    body: Any
    redirects: list[str] = factory(list)
    attempts: int = 1


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    seconds = _DELTA_SECONDS.fullmatch(value)  # also "120, 120": a header sent twice
    if seconds is not None:
        return float(seconds.group(1))
    try:
        import email.utils  # only for HTTP-date Retry-After values

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # asctime dates carry no zone; HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class RetryingGetter:
    """The rules every RDAP GET follows, whatever carries it: admission through the
    gate, 429/503/5xx with ``Retry-After`` and bounded backoff, the size limit
    message, JSON decoding. Subclasses supply ``_get_once`` (one attempt, redirects
    followed, raising ``_RetryableError`` for a connection that may work next time).
    """

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        max_response_bytes: int = 10_000_000,
        retry: RetryPolicy = RETRY_BY_CRITICALITY["medium"],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        gate: RequestGate | None = None,
    ) -> None:
        self._gate = gate
        self.max_response_bytes = max_response_bytes
        self.retry = retry
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._clock = clock

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get_once(self, url: str, headers: Mapping[str, str] | None) -> HttpResponse:
        raise NotImplementedError

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """Fetch ``url``; 2xx, 3xx left over and 4xx answers are returned, the rest
        retried or raised."""
        attempt = 0
        while True:
            attempt += 1
            self._check_not_blocked(url)
            try:
                response = self._get_gated(url, headers)
            except _RetryableError as exc:
                if attempt > self.retry.max_retries:
                    raise exc.final from None
                self._pause(self._backoff(attempt))
                continue
            status = response.status
            if status in (429, 503) or status >= 500:
                wait = parse_retry_after(response.headers.get("retry-after"), self._clock())
                final = self._status_error(response, wait)
                if wait is not None and self._gate is not None:
                    # The gate makes the next acquire for the host that answered wait, for
                    # every caller, even when this one gives up: the server asked.
                    self._gate.retry_after(response.url, wait)
                if attempt > self.retry.max_retries:
                    raise final
                if wait is None:
                    wait = self._backoff(attempt)
                elif wait > self.retry.max_wait_s:
                    raise final
                elif self._gate is not None and _same_host(response.url, url):
                    continue  # the next acquire waits (a redirect's target is not gated)
                self._pause(wait)
                continue
            response.attempts = attempt
            return response

    def _check_not_blocked(self, url: str) -> None:
        """A host that asked (by Retry-After) to be left alone for longer than this
        tenant waits fails the lookup at once, without another request; checked for
        the URL asked and for each redirect hop."""
        if self._gate is None:
            return
        blocked = self._gate.blocked_s(url)
        if blocked > self.retry.max_wait_s:
            raise RateLimitedError(
                f"{_host(url)} asked to be left alone for {blocked:.0f}s more (Retry-After); "
                f"this tenant waits at most {self.retry.max_wait_s:g}s",
                hint="retry later (batch: --resume), or raise business_criticality",
            )

    def _pause(self, seconds: float) -> None:
        # A batch run's gate ends the wait when the run is asked to stop.
        if self._gate is not None:
            self._gate.pause(seconds)
        else:
            self._sleep(seconds)

    def _get_gated(self, url: str, headers: Mapping[str, str] | None) -> HttpResponse:
        if self._gate is None:
            return self._get_once(url, headers)
        release = self._gate.acquire(url)
        try:
            return self._get_once(url, headers)
        finally:
            release()

    def _backoff(self, attempt: int) -> float:
        return min(MAX_BACKOFF_S, self.retry.backoff_s * (2 ** (attempt - 1)))

    def _status_error(self, response: HttpResponse, wait: float | None) -> Exception:
        host = _host(response.url)
        after = f" (Retry-After {wait:.0f}s)" if wait is not None else ""
        if response.status == 429:
            return RateLimitedError(
                f"{host} is rate limiting requests (HTTP 429){after}",
                hint="wait and retry, or lower security.requests_per_second",
            )
        return UpstreamError(f"{host} answered HTTP {response.status}{after}", code="http_error")

    @staticmethod
    def _decode(body: bytes, headers: dict[str, str], url: str, status: int) -> Any:
        if not body.strip():
            if status >= 300:
                return None
            raise UpstreamError(f"{_host(url)} returned an empty body", code="malformed_response")
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            if status >= 400:
                return None
            ctype = headers.get("content-type", "none")
            raise UpstreamError(
                f"{_host(url)} returned a non-JSON body (content-type: {ctype})",
                code="malformed_response",
            ) from exc


class RdapHttpClient(RetryingGetter):
    """GET RDAP JSON documents through httpx. Not thread-safe; one per thread or task."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 10.0,
        max_response_bytes: int = 10_000_000,
        retry: RetryPolicy = RETRY_BY_CRITICALITY["medium"],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        gate: RequestGate | None = None,
    ) -> None:
        import httpx

        super().__init__(
            timeout_s=timeout_s,
            max_response_bytes=max_response_bytes,
            retry=retry,
            sleep=sleep,
            clock=clock,
            gate=gate,
        )
        self._httpx = httpx
        self._client = httpx.Client(
            transport=transport,
            # Proxies and CA bundles come from the transport, built from the
            # environment the runtime was given, so the guard sees every hop.
            trust_env=False,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            timeout=httpx.Timeout(timeout_s),
            headers={"Accept": ACCEPT, "User-Agent": USER_AGENT},
            # Each redirect hop too: a target host that asked to wait is not asked again.
            event_hooks={"request": [self._check_hop]} if gate is not None else None,
        )

    def _check_hop(self, request: httpx.Request) -> None:
        self._check_not_blocked(str(request.url))

    def close(self) -> None:
        self._client.close()

    def _get_once(self, url: str, headers: Mapping[str, str] | None) -> HttpResponse:
        httpx = self._httpx
        try:
            with self._client.stream("GET", url, headers=headers) as resp:
                body = self._read_limited(resp)
                redirects = [str(r.url) for r in resp.history]
                headers = {k.lower(): v for k, v in resp.headers.items()}
                final_url = str(resp.url)
                status = resp.status_code
        except httpx.TooManyRedirects as exc:
            raise UpstreamError(
                f"more than {MAX_REDIRECTS} redirects fetching {url}", code="too_many_redirects"
            ) from exc
        except httpx.TimeoutException as exc:
            kind = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for"
            raise UpstreamError(
                f"timed out after {self.timeout_s:g}s {kind} {_host(url)}",
                code="timeout",
                hint="raise security.timeout_s in the tenant profile if the server is slow",
            ) from exc
        except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
            raise _RetryableError(
                UpstreamError(
                    f"could not reach {_host(url)}: {_describe(exc)}", code="network_error"
                )
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"HTTP error talking to {_host(url)}: {_describe(exc)}", code="network_error"
            ) from exc
        return HttpResponse(
            url=final_url,
            status=status,
            headers=headers,
            body=self._decode(body, headers, final_url, status),
            redirects=redirects,
        )

    def _read_limited(self, resp: httpx.Response) -> bytes:
        limit = self.max_response_bytes
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large(str(resp.url), limit)
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise _too_large(str(resp.url), limit)
            chunks.append(chunk)
        return b"".join(chunks)


class _RetryableError(Exception):
    def __init__(self, final: UpstreamError) -> None:
        super().__init__(final.message)
        self.final = final


def _too_large(url: str, limit: int) -> UpstreamError:
    return UpstreamError(
        f"response from {_host(url)} is larger than {limit} bytes; stopped reading",
        code="response_too_large",
        hint="raise security.max_response_bytes in the tenant profile",
    )


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


def _same_host(a: str, b: str) -> bool:
    """Whether two URLs go to one host and port (what the request gate counts by)."""
    from rdapctl.ratelimit import host_key

    return host_key(a) == host_key(b)


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
