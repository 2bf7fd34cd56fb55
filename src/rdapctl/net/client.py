"""RDAP over HTTP (RFC 7480): the rules every request follows, whichever client carries it.

Owns (in ``RetryingGetter``, the base of the direct client in ``rdapctl.net.direct`` and
the proxied one in ``rdapctl.net.proxied``):

- URLs: every URL asked and each redirect ``Location`` go through one set of rules
  (``rdapctl.net.urls``), the network guard's URL rules on each hop; what fails to parse
  is ``bad_url`` / ``bad_redirect``;
- redirects (at most ``MAX_REDIRECTS``), each hop gated, checked by the caller's
  ``check_hop`` (residency) and counted against the lookup's ``RequestBudget``;
- time: ``timeout_s`` bounds each whole request (the clients enforce it down to
  every read); a budget's deadline bounds a lookup's requests and retry waits;
- 429/503/5xx with ``Retry-After`` and bounded backoff, through the request gate;
- the body: content coding undone within the size limit, media type and strict JSON
  (``rdapctl.rdap.body``).

Must not: import httpx, open sockets (the subclasses do), or decide policy.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any, Protocol, Self

from rdapctl import __version__
from rdapctl.core.errors import RateLimitedError, RdapctlError, UpstreamError
from rdapctl.core.hostnames import host_of
from rdapctl.core.httpdate import parse_http_date
from rdapctl.core.records import mutable_record, record
from rdapctl.net.guard import NetworkPolicy
from rdapctl.net.urls import Origin, Target, request_target, resolve_location
from rdapctl.policy.limits import RETRY_BY_CRITICALITY, RequestBudget, RetryPolicy
from rdapctl.rdap.body import BodyError, check_media_type, decode_content, parse_json_object

USER_AGENT = f"rdapctl/{__version__}"
ACCEPT = "application/rdap+json, application/json;q=0.9"
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HINT_TIMEOUT = "raise security.timeout_s in the tenant profile if the server is slow"
MAX_BACKOFF_S = 8.0
# delta-seconds, ASCII digits only ("²".isdigit() is True); repeats of a header sent twice.
_DELTA_SECONDS = re.compile(r"([0-9]{1,10})(?:\s*,\s*[0-9]{1,10})*", re.ASCII)


class RequestGate(Protocol):
    """Admission control around each request (per-host concurrency and rate).

    ``acquire`` blocks until ``url`` may be requested and returns the function that
    releases the slot; ``retry_after`` tells the gate a server asked to wait, so it
    can slow that host for everyone instead of this caller sleeping alone; a host
    asked to wait longer than a caller's patience fails that caller at once.
    """

    def acquire(self, url: str, max_wait_s: float | None = None) -> Callable[[], None]: ...

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
    redirects: list[str] = field(default_factory=list)


@record
class RawAnswer:
    """One HTTP answer as a client read it: lower-case headers (repeats joined with
    ", "), the body bytes as sent (content coding not undone)."""

    status: int
    headers: dict[str, str]
    body: bytes


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    seconds = _DELTA_SECONDS.fullmatch(value)  # also "120, 120": a header sent twice
    if seconds is not None:
        return float(seconds.group(1))
    when = parse_http_date(value)
    return None if when is None else max(0.0, when - now)


class RetryingGetter:
    """The rules every RDAP GET follows, whatever carries it (see the module docstring).
    Subclasses supply ``_exchange``: one request to a checked target, no redirects
    followed, raising ``RetryableError`` for a connection that may work next time."""

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        timeout_s: float = 10.0,
        max_response_bytes: int = 10_000_000,
        retry: RetryPolicy = RETRY_BY_CRITICALITY["medium"],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        gate: RequestGate | None = None,
    ) -> None:
        self._policy = policy
        self._gate = gate
        self.max_response_bytes = max_response_bytes
        self.retry = retry
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        # request_target is pure in the URL and this client's policy: a batch asks the
        # same few servers thousands of times. Only passing targets are kept.
        self._origins: dict[tuple[str, str], Origin] = {}
        # The budget of the request in progress, and whether it was counted yet.
        self._sending: RequestBudget | None = None
        self._counted = False

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exchange(self, target: Target, headers: Mapping[str, str], deadline: float) -> RawAnswer:
        """One request to ``target``, finished by ``deadline`` (``self._monotonic``)."""
        raise NotImplementedError

    def get(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        budget: RequestBudget | None = None,
        check_hop: Callable[[str], None] | None = None,
    ) -> HttpResponse:
        """Fetch ``url``: 2xx (a JSON object), 3xx that were not followed and 4xx are
        returned; 429/5xx are retried, then raised with the answer attached."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response, raw = self._follow(url, headers or {}, budget, check_hop)
            except RetryableError as exc:
                if attempt > self.retry.max_retries:
                    raise exc.final from None
                self._pause(self._backoff(attempt), budget, exc.final)
                continue
            status = response.status
            if status == 429 or status >= 500:
                wait = parse_retry_after(response.headers.get("retry-after"), self._clock())
                final = self._status_error(response, raw, wait)
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
                elif self._gate is not None:
                    # Every hop is gated: the next acquire for that host waits it out.
                    self._check_time_left(wait, budget, final)
                    continue
                self._pause(wait, budget, final)
                continue
            response.body = self._body(response, raw)
            return response

    # -- one attempt: the redirect chain ------------------------------------------------

    def _follow(
        self,
        url: str,
        headers: Mapping[str, str],
        budget: RequestBudget | None,
        check_hop: Callable[[str], None] | None,
    ) -> tuple[HttpResponse, RawAnswer]:
        current = url
        redirects: list[str] = []
        while True:
            target = self._target(current)
            if redirects and check_hop is not None:
                check_hop(current)  # after the guard's URL rules: a hop they pass
            self._check_not_blocked(current, budget)
            raw = self._request(current, target, headers, budget)
            if raw.status in REDIRECT_STATUSES:
                location = raw.headers.get("location")
                if location is None:
                    raise UpstreamError(
                        f"{host_of(current)} answered HTTP {raw.status} without a Location",
                        code="bad_redirect",
                    ).with_answer(current, raw.status)
                if len(redirects) >= MAX_REDIRECTS:
                    raise UpstreamError(
                        f"more than {MAX_REDIRECTS} redirects fetching {url}",
                        code="too_many_redirects",
                    ).with_answer(current, raw.status)
                try:
                    following = resolve_location(current, location)
                except UpstreamError as exc:
                    raise exc.with_answer(current, raw.status) from None
                redirects.append(current)
                current = following
                continue
            response = HttpResponse(current, raw.status, raw.headers, None, redirects)
            return response, raw

    def _target(self, url: str) -> Target:
        try:
            return request_target(url, self._policy, self._origins)
        except ValueError as exc:
            raise UpstreamError(f"cannot request {host_of(url)}: {exc}", code="bad_url") from None

    def _request(
        self,
        url: str,
        target: Target,
        headers: Mapping[str, str],
        budget: RequestBudget | None,
    ) -> RawAnswer:
        """One request, admitted by the gate and the budget, bounded in time."""
        release = None
        if self._gate is not None:
            patience = self.retry.max_wait_s
            left = budget.left_s(self._monotonic()) if budget is not None else None
            release = self._gate.acquire(url, patience if left is None else min(patience, left))
        try:
            now = self._monotonic()
            deadline = now + self.timeout_s
            if budget is not None:
                if budget.sent >= budget.max_requests:
                    raise UpstreamError(
                        f"the lookup has sent its {budget.max_requests} requests; "
                        f"not asking {host_of(url)}",
                        code="request_limit",
                    )
                left = budget.left_s(now)
                if left is not None:
                    if left <= 0:
                        raise _deadline_error(budget, url)
                    deadline = min(deadline, now + left)
            self._sending, self._counted = budget, False
            try:
                return self._exchange(target, headers, deadline)
            except UpstreamError as exc:
                if exc.code == "timeout" and budget is not None and deadline < now + self.timeout_s:
                    raise _deadline_error(budget, url) from None
                raise
        finally:
            self._sending = None
            if release is not None:
                release()

    def _note_sent(self) -> None:
        """The request in progress is being written to a server: count it (once) in its
        lookup's budget. Attempts that never reached a server (no connection, a guard
        refusal of the address) are not requests the server saw."""
        if not self._counted:
            self._counted = True
            if self._sending is not None:
                self._sending.sent += 1

    def _check_not_blocked(self, url: str, budget: RequestBudget | None) -> None:
        """A host that asked (by Retry-After) to be left alone for longer than this
        tenant waits, or than the lookup has left, fails at once, without a request;
        checked for the URL asked and for each redirect hop."""
        if self._gate is None:
            return
        blocked = self._gate.blocked_s(url)
        if blocked <= 0:
            return
        left = budget.left_s(self._monotonic()) if budget is not None else None
        if blocked > self.retry.max_wait_s or (left is not None and blocked > left):
            raise RateLimitedError(
                f"{host_of(url)} asked to be left alone for {blocked:.0f}s more "
                f"(Retry-After); this lookup waits at most "
                f"{min(self.retry.max_wait_s, left if left is not None else 1e9):.0f}s",
                hint="retry later (batch: --resume), or raise business_criticality",
            )

    def _check_time_left(
        self, seconds: float, budget: RequestBudget | None, final: RdapctlError
    ) -> None:
        """Raise ``final`` (the error the lookup then ends with) when waiting ``seconds``
        would pass the lookup's deadline."""
        if budget is not None:
            left = budget.left_s(self._monotonic())
            if left is not None and seconds >= left:
                raise final

    def _pause(self, seconds: float, budget: RequestBudget | None, final: RdapctlError) -> None:
        """Wait before the next attempt; a wait that would pass the lookup's deadline
        is not started."""
        self._check_time_left(seconds, budget, final)
        # A batch run's gate ends the wait when the run is asked to stop.
        if self._gate is not None:
            self._gate.pause(seconds)
        else:
            self._sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        return min(MAX_BACKOFF_S, self.retry.backoff_s * 2.0 ** (attempt - 1))

    # -- the answer -----------------------------------------------------------------------

    def _body(self, response: HttpResponse, raw: RawAnswer) -> Any:
        """A 2xx answer's JSON object (refused as unusable otherwise); for others the
        error object the server sent, or None."""
        if not 200 <= raw.status < 300:
            return self._error_body(raw)
        try:
            check_media_type(raw.headers)
            content = decode_content(raw.body, raw.headers, self.max_response_bytes)
            return parse_json_object(content)
        except BodyError as exc:
            error = UpstreamError(f"{host_of(response.url)}: {exc.message}", code=exc.code)
            if exc.code == "response_too_large":
                error.hint = "raise security.max_response_bytes in the tenant profile"
            raise error.with_answer(response.url, raw.status) from None

    def _error_body(self, raw: RawAnswer) -> dict[str, Any] | None:
        """The JSON object of an answer that is not a success, when it carries one."""
        if not raw.body.strip():
            return None
        try:
            check_media_type(raw.headers)
            return parse_json_object(decode_content(raw.body, raw.headers, self.max_response_bytes))
        except BodyError:
            return None

    def _status_error(
        self, response: HttpResponse, raw: RawAnswer, wait: float | None
    ) -> RdapctlError:
        host = host_of(response.url)
        after = f" (Retry-After {wait:.0f}s)" if wait is not None else ""
        error: RdapctlError
        if response.status == 429:
            error = RateLimitedError(
                f"{host} is rate limiting requests (HTTP 429){after}",
                hint="wait and retry, or lower security.requests_per_second",
            )
        else:
            error = UpstreamError(
                f"{host} answered HTTP {response.status}{after}", code="http_error"
            )
        return error.with_answer(response.url, response.status, self._error_body(raw))


class RetryableError(Exception):
    """A failure that may pass on another attempt (a connection that failed); the
    getter retries it within the tenant's patience, then raises ``final``."""

    def __init__(self, final: UpstreamError) -> None:
        super().__init__(final.message)
        self.final = final


def too_large(url: str, limit: int) -> UpstreamError:
    return UpstreamError(
        f"response from {host_of(url)} is larger than {limit} bytes; stopped reading",
        code="response_too_large",
        hint="raise security.max_response_bytes in the tenant profile",
    )


def timed_out(host: str, timeout_s: float, what: str) -> UpstreamError:
    return UpstreamError(
        f"timed out after {timeout_s:g}s {what} {host}", code="timeout", hint=HINT_TIMEOUT
    )


def _deadline_error(budget: RequestBudget, url: str) -> UpstreamError:
    return UpstreamError(
        f"the lookup's deadline of {budget.deadline_s:g}s passed while asking {host_of(url)}",
        code="timeout",
        hint=HINT_TIMEOUT,
    )


def describe(exc: BaseException | None) -> str:
    """The first line of an exception's message, for a one-line error."""
    if exc is None:
        return "no address to connect to"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
