"""The RDAP HTTP client against a real server on 127.0.0.1 (RFC 7480 behaviour)."""

from __future__ import annotations

import functools
import gzip
import json
import tempfile
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from rdapctl import __version__
from rdapctl.core.errors import ExitCode, RateLimitedError, UpstreamError
from rdapctl.net.client import parse_retry_after
from rdapctl.net.direct import StdlibHttpClient
from rdapctl.net.guard import NetworkPolicy
from rdapctl.net.proxied import RdapHttpClient
from rdapctl.policy.limits import RETRY_BY_CRITICALITY, RetryPolicy
from tests.rawserver import RawServer, Step, response
from tests.rawserver import Request as RawRequest
from tests.support import load_fixture, stop_server

DOMAIN = load_fixture("domain-gtld-registry/verisign-com-google.com-2022-05.json")


class SleepRecorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


# Both clients share these rules: httpx (used through proxies) and the stdlib
# keep-alive client (every direct connection). Every test runs against both.
OPEN_POLICY = NetworkPolicy(
    allow_http=True, allow_private=True, allowed_ports=tuple(range(1, 65536))
)


@pytest.fixture(params=["stdlib", "httpx"])
def make(request: pytest.FixtureRequest) -> Callable[..., Any]:
    def build(policy: NetworkPolicy = OPEN_POLICY, **kwargs: Any) -> Any:
        cls = RdapHttpClient if request.param == "httpx" else StdlibHttpClient
        return cls(policy, env={}, **kwargs)

    return build


@pytest.fixture
def client(make: Callable[..., Any], sleeps: SleepRecorder) -> Iterator[Any]:
    c = make(timeout_s=2.0, max_response_bytes=100_000, sleep=sleeps)
    yield c
    c.close()


def test_sends_rdap_headers_and_decodes_json(httpserver: HTTPServer, client: Any) -> None:
    """Accept asks for application/rdap+json; User-Agent names rdapctl and its version."""
    httpserver.expect_request(
        "/domain/google.com",
        headers={"User-Agent": f"rdapctl/{__version__}"},
    ).respond_with_json(DOMAIN, content_type="application/rdap+json")
    response = client.get(httpserver.url_for("/domain/google.com"))
    assert response.status == 200
    assert response.body["ldhName"].lower() == "google.com"
    request, _ = httpserver.log[0]
    assert "application/rdap+json" in request.headers["Accept"]


def test_follows_redirects_and_reports_them(httpserver: HTTPServer, client: Any) -> None:
    """Redirects are followed; the final URL and the hops are reported."""
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_json(DOMAIN)
    response = client.get(httpserver.url_for("/a"))
    assert response.url.endswith("/b")
    assert response.redirects == [httpserver.url_for("/a")]


def test_redirect_loop_stops_after_five_hops(httpserver: HTTPServer, client: Any) -> None:
    """More than five redirects is an upstream error, not an endless loop."""
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"}
    )
    with pytest.raises(UpstreamError) as info:
        client.get(httpserver.url_for("/loop"))
    assert info.value.code == "too_many_redirects"
    assert len(httpserver.log) == 6


def test_404_is_returned_with_its_error_object(httpserver: HTTPServer, client: Any) -> None:
    """An RDAP 404 is an answer, not an exception: the caller shows the error object."""
    body = load_fixture("error/ripe-404-error.json")
    httpserver.expect_request("/entity/X").respond_with_json(body, status=404)
    response = client.get(httpserver.url_for("/entity/X"))
    assert response.status == 404
    assert response.body["errorCode"] == 404


def test_429_honours_retry_after_then_succeeds(
    httpserver: HTTPServer, client: Any, sleeps: SleepRecorder
) -> None:
    """429 with Retry-After waits that long, then retries."""
    httpserver.expect_ordered_request("/d").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "3"}
    )
    httpserver.expect_ordered_request("/d").respond_with_json(DOMAIN)
    response = client.get(httpserver.url_for("/d"))
    assert response.status == 200
    assert sleeps.waits == [3.0]
    assert len(httpserver.log) == 2  # two attempts


def test_429_past_the_retry_budget_is_rate_limited(httpserver: HTTPServer, client: Any) -> None:
    """A server that keeps answering 429 ends the lookup with exit 5."""
    httpserver.expect_request("/d").respond_with_data(
        "no", status=429, headers={"Retry-After": "1"}
    )
    with pytest.raises(RateLimitedError) as info:
        client.get(httpserver.url_for("/d"))
    assert info.value.exit_code == ExitCode.RATE_LIMITED
    assert len(httpserver.log) == 1 + RETRY_BY_CRITICALITY["medium"].max_retries


def test_retry_after_longer_than_patience_fails_at_once(
    httpserver: HTTPServer, client: Any, sleeps: SleepRecorder
) -> None:
    """A Retry-After beyond the bounded wait is not slept through."""
    httpserver.expect_request("/d").respond_with_data(
        "no", status=429, headers={"Retry-After": "3600"}
    )
    with pytest.raises(RateLimitedError):
        client.get(httpserver.url_for("/d"))
    assert sleeps.waits == []


def test_5xx_then_success_backs_off(
    httpserver: HTTPServer, client: Any, sleeps: SleepRecorder
) -> None:
    """5xx answers are retried with exponential backoff."""
    httpserver.expect_ordered_request("/d").respond_with_data("oops", status=502)
    httpserver.expect_ordered_request("/d").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/d").respond_with_json(DOMAIN)
    assert client.get(httpserver.url_for("/d")).status == 200
    assert sleeps.waits == [0.25, 0.5]


def test_persistent_5xx_is_an_upstream_error(
    httpserver: HTTPServer, sleeps: SleepRecorder, make: Callable[..., Any]
) -> None:
    """Low-criticality tenants fail fast: no retries."""
    httpserver.expect_request("/d").respond_with_data("oops", status=500)
    with make(retry=RETRY_BY_CRITICALITY["low"], sleep=sleeps) as c:
        with pytest.raises(UpstreamError) as info:
            c.get(httpserver.url_for("/d"))
    assert info.value.exit_code == ExitCode.UPSTREAM
    assert len(httpserver.log) == 1


def test_oversized_body_is_not_buffered(httpserver: HTTPServer, client: Any) -> None:
    """Past max_response_bytes reading stops, even without a Content-Length."""
    sent = {"chunks": 0}

    def endless(_: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield b'{"objectClassName": "domain", "pad": "'
            for _ in range(10_000):
                sent["chunks"] += 1
                yield b"x" * 10_000
            yield b'"}'

        return Response(body(), content_type="application/rdap+json")

    httpserver.expect_request("/big").respond_with_handler(endless)
    with pytest.raises(UpstreamError) as info:
        client.get(httpserver.url_for("/big"))
    assert info.value.code == "response_too_large"
    assert "max_response_bytes" in (info.value.hint or "")


def test_declared_oversized_body_is_refused(httpserver: HTTPServer, client: Any) -> None:
    """A Content-Length above the limit is refused before reading."""
    httpserver.expect_request("/big").respond_with_data(
        "x" * 200_000, content_type="application/json"
    )
    with pytest.raises(UpstreamError, match="larger than 100000 bytes"):
        client.get(httpserver.url_for("/big"))


def test_an_html_page_is_a_bad_content_type(httpserver: HTTPServer, client: Any) -> None:
    """An HTML page (wrong content type) is reported as such, with the type it was."""
    httpserver.expect_request("/d").respond_with_data("<html>hi</html>", content_type="text/html")
    with pytest.raises(UpstreamError) as info:
        client.get(httpserver.url_for("/d"))
    assert info.value.code == "bad_content_type"
    assert "text/html" in info.value.message
    assert info.value.answer is not None and info.value.answer[1] == 200


@pytest.mark.parametrize(
    "ctype", ["application/json", "application/json; charset=utf-8", "Application/RDAP+JSON"]
)
def test_json_media_types_with_any_parameters_are_accepted(
    httpserver: HTTPServer, client: Any, ctype: str
) -> None:
    """RFC 7480: application/rdap+json, and the application/json many registries send."""
    httpserver.expect_request("/d").respond_with_data(json.dumps(DOMAIN), content_type=ctype)
    assert client.get(httpserver.url_for("/d")).body["objectClassName"] == "domain"


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "text/json"])
def test_json_sent_as_another_media_type_is_refused(
    httpserver: HTTPServer, client: Any, ctype: str
) -> None:
    """A body is what its Content-Type says it is: JSON labelled text/plain is no answer."""
    httpserver.expect_request("/d").respond_with_data(json.dumps(DOMAIN), content_type=ctype)
    with pytest.raises(UpstreamError) as info:
        client.get(httpserver.url_for("/d"))
    assert info.value.code == "bad_content_type"


def test_slow_server_times_out(
    httpserver: HTTPServer, sleeps: SleepRecorder, make: Callable[..., Any]
) -> None:
    """A server slower than the timeout is exit 7 with a hint about timeout_s."""

    given_up = threading.Event()

    def slow(_: Request) -> Response:
        given_up.wait(5.0)  # answers only once the client has stopped waiting
        return Response(json.dumps(DOMAIN), content_type="application/rdap+json")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    try:
        with make(timeout_s=0.2, sleep=sleeps) as c:
            with pytest.raises(UpstreamError) as info:
                c.get(httpserver.url_for("/slow"))
    finally:
        given_up.set()
    assert info.value.code == "timeout"
    assert "timeout_s" in (info.value.hint or "")


def test_connection_refused_is_retried_then_upstream_error(
    sleeps: SleepRecorder, make: Callable[..., Any]
) -> None:
    """Connection errors back off and retry a bounded number of times."""
    with make(retry=RetryPolicy(2, 1.0, 0.1), sleep=sleeps) as c:
        with pytest.raises(UpstreamError) as info:
            c.get("http://127.0.0.1:9/")
    assert info.value.code == "network_error"
    assert sleeps.waits == [0.1, 0.2]


def test_parse_retry_after_accepts_seconds_and_dates() -> None:
    """Retry-After is delta-seconds or an HTTP date."""
    assert parse_retry_after("120", 0) == 120
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", 30.0) == 30.0
    assert parse_retry_after("soon", 0) is None
    assert parse_retry_after(None, 0) is None


def test_parse_retry_after_reads_odd_headers_without_failing() -> None:
    """A header sent twice is joined by a comma; a byte that is a digit to Python but
    not to HTTP is no number; dates without a zone (asctime) are GMT, whatever TZ is."""
    import os

    assert parse_retry_after("120, 120", 0) == 120
    assert parse_retry_after("\u00b2", 0) is None  # "²": str.isdigit() says yes
    assert parse_retry_after("\u0661\u0662", 0) is None  # Arabic-Indic "12"
    old_tz = os.environ.get("TZ")
    try:
        for zone in ("America/New_York", "Asia/Tokyo", "UTC"):
            os.environ["TZ"] = zone
            time.tzset()
            assert parse_retry_after("Thu Jan  1 00:01:00 1970", 30.0) == 30.0
    finally:
        if old_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old_tz
        time.tzset()


def _wall_clock_gate(wait: Callable[[float], bool] | None = None) -> Any:
    """A batch run's gate: one request at a time per host, no rate, real time;
    ``wait`` as the run's stop event would (default: nobody stops the run)."""
    import threading

    from rdapctl.net.ratelimit import HostGate

    return HostGate(
        Path(tempfile.mkdtemp()),
        max_concurrent=1,
        requests_per_second=0.0,
        clock=time.time,
        wait=wait or threading.Event().wait,
    )


def test_a_stop_ends_the_backoff_between_attempts(
    httpserver: HTTPServer, make: Callable[..., Any]
) -> None:
    """Ctrl-C during a batch run: a lookup backing off after a 503 stops waiting, and
    no further attempt is sent."""
    import threading

    from rdapctl.core.errors import InterruptedRunError

    httpserver.expect_request("/domain/busy.example").respond_with_data("busy", status=503)
    stop = threading.Event()
    stop.set()  # the run was asked to stop while this lookup was in flight
    gate = _wall_clock_gate(stop.wait)
    client = make(retry=RETRY_BY_CRITICALITY["critical"], gate=gate)
    started = time.monotonic()
    try:
        with pytest.raises(InterruptedRunError):
            client.get(httpserver.url_for("/domain/busy.example"))
    finally:
        client.close()
        gate.close()
    asked = [r for r, _ in httpserver.log if r.path == "/domain/busy.example"]
    assert len(asked) == 1
    assert time.monotonic() - started < 2.0


def test_url_checks_remembered_per_client_still_refuse_other_urls(
    httpserver: HTTPServer, make: Callable[..., Any]
) -> None:
    """A client remembers the URL checks it passed (per scheme, host, port and
    credentials); a refused port or credentials on the same host are still refused."""
    from rdapctl.core.errors import NetworkGuardError

    policy = NetworkPolicy(allow_http=True, allow_private=True, allowed_ports=(httpserver.port,))
    httpserver.expect_request("/domain/remembered.example").respond_with_json(
        DOMAIN, content_type="application/rdap+json"
    )
    client = make(policy, timeout_s=2.0, max_response_bytes=100_000)
    try:
        url = httpserver.url_for("/domain/remembered.example")
        assert client.get(url).status == 200
        assert client.get(url).status == 200  # answered with the remembered check
        other_port = httpserver.port + 1 if httpserver.port < 65535 else httpserver.port - 1
        with pytest.raises(NetworkGuardError, match="port"):
            client.get(f"http://127.0.0.1:{other_port}/domain/google.com")
        with pytest.raises(NetworkGuardError, match="credentials"):
            client.get(f"http://user:secret@127.0.0.1:{httpserver.port}/domain/google.com")
    finally:
        client.close()
    asked = [r for r, _ in httpserver.log if r.path == "/domain/remembered.example"]
    assert len(asked) == 2


def test_a_retry_after_from_a_redirect_target_is_waited_out(
    httpserver: HTTPServer, make: Callable[..., Any]
) -> None:
    """The gate waits for the host it is asked about; a 429 from the host a redirect
    led to is waited out by the lookup itself, instead of asking again at once."""
    target = HTTPServer(host="127.0.0.1", port=0)
    target.start()
    try:
        target.expect_ordered_request("/domain/hop.example").respond_with_data(
            "slow down", status=429, headers={"Retry-After": "1"}
        )
        target.expect_ordered_request("/domain/hop.example").respond_with_json(
            DOMAIN, content_type="application/rdap+json"
        )
        httpserver.expect_request("/domain/hop.example").respond_with_data(
            "", status=302, headers={"Location": target.url_for("/domain/hop.example")}
        )
        gate = _wall_clock_gate()
        client = make(gate=gate)
        started = time.monotonic()
        try:
            response = client.get(httpserver.url_for("/domain/hop.example"))
        finally:
            client.close()
            gate.close()
        assert response.status == 200
        assert len(target.log) == 2
        assert time.monotonic() - started >= 0.9  # the server's second was waited out
    finally:
        target.clear()
        stop_server(target)


def test_a_redirect_to_a_host_asked_to_wait_is_not_followed(
    httpserver: HTTPServer, make: Callable[..., Any]
) -> None:
    """A redirect target that asked (Retry-After) to be left alone longer than the
    tenant waits is not asked again by later lookups led to it by a redirect."""
    target = HTTPServer(host="127.0.0.1", port=0)
    target.start()
    try:
        target.expect_request("/domain/hop.example").respond_with_data(
            "go away", status=429, headers={"Retry-After": "3600"}
        )
        for name in ("hop.example", "next.example"):
            httpserver.expect_request(f"/domain/{name}").respond_with_data(
                "", status=302, headers={"Location": target.url_for(f"/domain/{name}")}
            )
        gate = _wall_clock_gate()
        client = make(gate=gate, retry=RETRY_BY_CRITICALITY["low"])
        try:
            with pytest.raises(RateLimitedError, match="HTTP 429"):
                client.get(httpserver.url_for("/domain/hop.example"))
            with pytest.raises(RateLimitedError, match="left alone"):
                client.get(httpserver.url_for("/domain/next.example"))
        finally:
            client.close()
            gate.close()
        assert [r.path for r, _ in target.log] == ["/domain/hop.example"]
        assert len(httpserver.log) == 2  # the origin is not blocked: it was asked
    finally:
        target.clear()
        stop_server(target)


# -- content coding, size and deadline against raw bytes (tests.rawserver) ---------------


class Scripted:
    """A raw-socket server answering every request with the steps last set."""

    def __init__(self, server: RawServer) -> None:
        self.server = server
        self.steps: list[Step] = []

    def serve(self, *steps: Step) -> str:
        """Answer with ``steps`` from now on; the URL to ask."""
        self.steps = list(steps)
        return self.server.url("/domain/example.com")

    @property
    def requests(self) -> list[RawRequest]:
        return self.server.requests


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    holder: list[Scripted] = []
    with RawServer(lambda request: list(holder[0].steps)) as server:
        holder.append(Scripted(server))
        yield holder[0]


DOMAIN_BYTES = json.dumps(DOMAIN).encode()


def raw_deflate(data: bytes) -> bytes:
    """Deflate without the zlib wrapper, as some servers send "deflate"."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", raw_deflate),
        ("identity, gzip", gzip.compress),
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "identity-then-gzip"],
)
def test_a_compressed_body_sent_although_identity_was_asked_is_decoded(
    scripted: Scripted, client: Any, coding: str, encode: Callable[[bytes], bytes]
) -> None:
    """rdapctl asks for identity; a server that compresses anyway is still understood."""
    url = scripted.serve(response(encode(DOMAIN_BYTES), headers=[("Content-Encoding", coding)]))
    answer = client.get(url)
    assert answer.body == DOMAIN
    assert scripted.requests[-1].headers["accept-encoding"] == "identity"


@functools.cache
def gzip_bomb(inflated: int) -> bytes:
    """A gzip body of a JSON object ``inflated`` bytes long, built a MiB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(b'{"objectClassName": "domain", "pad": "')]
    zeros = b"0" * (1 << 20)
    for _ in range(inflated >> 20):
        parts.append(packer.compress(zeros))
    parts.append(packer.compress(b'"}'))
    parts.append(packer.flush())
    return b"".join(parts)


def test_a_gzip_bomb_is_refused_without_inflating_it(
    scripted: Scripted, make: Callable[..., Any]
) -> None:
    """A few KB that inflate to 32 MiB: refused as too large once the inflated size
    passes max_response_bytes (100 kB here), with memory to match, not the bomb's."""
    inflated = 32 << 20
    bomb = gzip_bomb(inflated)
    assert len(bomb) < 64_000
    # One allowed port: the all-ports OPEN_POLICY makes every guard check build a
    # 65535-port set (4 MiB), which would swamp what is measured here.
    policy = NetworkPolicy(
        allow_http=True, allow_private=True, allowed_ports=(scripted.server.port,)
    )
    with make(policy, max_response_bytes=100_000) as client:
        client.get(scripted.serve(response(DOMAIN_BYTES)))  # warm: imports, connections
        url = scripted.serve(response(bomb, headers=[("Content-Encoding", "gzip")]))
        tracemalloc.start()
        try:
            with pytest.raises(UpstreamError) as info:
                client.get(url)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert info.value.code == "response_too_large"
    assert "max_response_bytes" in (info.value.hint or "")
    assert peak < 2 << 20, f"peak {peak} bytes while refusing a {inflated}-byte bomb"


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, br", "x-mystery"])
def test_a_content_coding_rdapctl_cannot_undo_is_refused(
    scripted: Scripted, client: Any, coding: str
) -> None:
    """Only identity, gzip and deflate are undone; anything else is no answer."""
    url = scripted.serve(
        response(b"\x1b\x00\xf8\xff" + DOMAIN_BYTES, headers=[("Content-Encoding", coding)])
    )
    with pytest.raises(UpstreamError) as info:
        client.get(url)
    assert info.value.code == "bad_content_encoding"
    assert info.value.answer is not None and info.value.answer[1] == 200


def _dripped(data: bytes, pause: float) -> list[Step]:
    """``data`` one byte at a time, ``pause`` seconds apart (on the server's stop event)."""
    steps: list[Step] = []
    for byte in data:
        steps += [bytes([byte]), pause]
    return steps


@pytest.mark.parametrize("part", ["body", "head", "interim answers"])
def test_an_answer_dripped_past_the_timeout_times_out(
    scripted: Scripted, make: Callable[..., Any], sleeps: SleepRecorder, part: str
) -> None:
    """timeout_s bounds the whole request, not each read: an answer that keeps coming a
    byte at a time ends as a timeout at timeout_s (and is not retried)."""
    whole = response(DOMAIN_BYTES)
    head, _, body = whole.partition(b"\r\n\r\n")
    steps: list[Step]
    if part == "body":
        steps = [head + b"\r\n\r\n", *_dripped(body, 0.05)]
    elif part == "head":
        steps = _dripped(whole, 0.05)
    else:
        interim: list[Step] = [b"HTTP/1.1 102 Processing\r\n\r\n", 0.2]
        steps = interim * 20 + [whole]
    url = scripted.serve(*steps)
    with make(timeout_s=0.5, sleep=sleeps) as c:
        started = time.monotonic()
        with pytest.raises(UpstreamError) as info:
            c.get(url)
        elapsed = time.monotonic() - started
    assert info.value.code == "timeout"
    assert "timeout_s" in (info.value.hint or "")
    assert 0.45 <= elapsed < 1.5
    assert sleeps.waits == []
    assert len(scripted.requests) == 1
