"""The two HTTP clients against the same hostile bytes: they must agree.

Every direct lookup goes through ``rdapctl.net.direct.StdlibHttpClient`` (our own HTTP/1.1
framing), every proxied one through ``rdapctl.net.proxied.RdapHttpClient`` (httpx and
h11). RDAP servers are untrusted, so what one client takes as an answer the other must
take as the same answer, and what one refuses the other must refuse the same way:

- ``test_clients_agree_on_generated_answers`` and ``..._redirects``: a raw-socket
  server (one for the module, its script changed per example) sends what a hostile
  server can vary: interim 1xx answers, the status line, redirects with odd
  ``Location`` values (relative, other schemes, credentials, IPv4 in octal, hex and
  integer spellings, IPv6, IDN, bad ports), Content-Type, Content-Encoding (with
  matching or corrupt bodies), the framing (Content-Length right, wrong, repeated;
  chunked; neither) and the body (JSON objects, other JSON values, NaN and 1e999,
  deep nesting, lone surrogates, invalid UTF-8, nothing);
- ``test_clients_agree_on_generated_request_urls``: URLs with one part (or all) odd:
  scheme, separator, credentials, host spelling, port, path (spaces, controls,
  non-ASCII text).

Every example is asked by both clients (no retries, a sleep that only records, short
timeouts; any name resolves to 127.0.0.1) and the outcomes compared: the status,
body, final URL and redirects of an answer, or the error's class, code and
the answer it came with; plus the requests the server saw (path and Host) and the
retry waits. An exception that is not an ``RdapctlError`` fails the test as it is.

The disagreements this found (each fixed) keep a minimal reproduction at the end.
"""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Callable, Iterator
from ipaddress import ip_network
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rdapctl.core.errors import RdapctlError
from rdapctl.net.direct import StdlibHttpClient
from rdapctl.net.guard import NetworkPolicy
from rdapctl.net.proxied import RdapHttpClient
from rdapctl.policy.limits import RetryPolicy
from tests.rawserver import Answer, RawServer, Request, Step

LIMIT = 20_000  # max_response_bytes of both clients
CLIENTS = (StdlibHttpClient, RdapHttpClient)
Client = StdlibHttpClient | RdapHttpClient
START = "/start"  # the path the scripted answer is served at; every other path echoes


class Stage:
    """The module's server: the scripted answer at ``START``, and an echo (a JSON object
    naming the path and Host it was asked with) for every other request, so that
    redirects followed show where they led."""

    def __init__(self) -> None:
        self.steps: list[Step] | Answer = []
        self.server = RawServer(self.script)
        self.port = self.server.port
        self.policy = NetworkPolicy(
            allow_http=True,
            allowed_networks=(ip_network("127.0.0.1/32"),),
            allowed_ports=(443, self.port),
        )

    def script(self, request: Request) -> Any:
        if request.path == START:
            return self.steps
        return [echo(request)]

    def url(self, path: str = START) -> str:
        return self.server.url(path)


def echo(request: Request) -> bytes:
    body = {"objectClassName": "echo", "path": request.path, "host": request.headers.get("host")}
    data = json.dumps(body).encode()
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/rdap+json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + data


@pytest.fixture(scope="module")
def stage() -> Iterator[Stage]:
    stage = Stage()
    try:
        yield stage
    finally:
        stage.server.close()


def any_name_is_local(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def build(cls: type[Client], policy: NetworkPolicy, waits: list[float]) -> Client:
    return cls(
        policy,
        env={},
        resolver=any_name_is_local,
        connect_timeout=1.0,
        timeout_s=2.0,
        max_response_bytes=LIMIT,
        retry=RetryPolicy(max_retries=0, max_wait_s=2, backoff_s=0.01),
        sleep=waits.append,
    )


def outcome(cls: type[Client], stage: Stage, url: str) -> tuple[Any, ...]:
    """What ``cls`` made of asking ``url``, and what the server saw it ask."""
    waits: list[float] = []
    seen = len(stage.server.requests)
    client = build(cls, stage.policy, waits)
    try:
        got = client.get(url)
    except RdapctlError as exc:  # anything else is a crash: the test fails with it
        result: tuple[Any, ...] = ("refused", type(exc).__name__, exc.code, exc.answer)
    else:
        result = ("answered", got.status, got.body, got.url, got.redirects)
    finally:
        client.close()
    asked = [(r.path, r.headers.get("host")) for r in stage.server.requests[seen:]]
    return (*result, waits, asked)


def assert_agree(stage: Stage, url: str) -> tuple[Any, ...]:
    direct, proxied = (outcome(cls, stage, url) for cls in CLIENTS)
    assert direct == proxied, f"stdlib: {direct!r}\n  httpx: {proxied!r}"
    return direct


# -- generated answers --------------------------------------------------------------------

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3)
    ),
    max_leaves=6,
)
JSON_OBJECTS = st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4)
NOT_JSON = [
    *(b"NaN", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e999}'),
    *(b'{"a": -1e999}', b"[1E400]", b'{"a": 1e308}', b'{"a": 1, "a": 2}'),
    *(b"", b"   ", b"{", b'{"a": 1} x', b'{"a": 1}{"b": 2}', b"\x00", b"<html>hi</html>"),
    *(b"null", b'"a string"', b"[]", b"[{}]", b"true", b"12"),
]
ODD_TEXT = [
    *(b'{"a": "\\ud800"}', b'{"\\udc00x": 1}', b'{"a": "\xed\xa0\x80"}', b'{"a": "\xff\xfe"}'),
    *(b'\xef\xbb\xbf{"a": 1}', b'{"a": "\\ud83d\\ude00"}', b'{"a": "caf\xc3\xa9"}'),
    *(b'{"a": "\\u0000\\u001b[31m"}', b'{"a": "\\ud800\\ud800"}', b'{"a": ["\\udfff"]}'),
]


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["object"] * 4 + ["value", "not json", "odd text", "deep"]))
    if kind == "object":
        return json.dumps(draw(JSON_OBJECTS), ensure_ascii=draw(st.booleans())).encode()
    if kind == "value":  # arrays, strings, numbers, null: not an RDAP answer
        return json.dumps(draw(JSON_VALUES), ensure_ascii=draw(st.booleans())).encode()
    if kind == "not json":
        return draw(st.sampled_from(NOT_JSON) | st.binary(max_size=12))
    if kind == "odd text":
        return draw(st.sampled_from(ODD_TEXT))
    depth = draw(st.sampled_from([50, 99, 100, 101, 1_000, 5_000]))
    if draw(st.booleans()):
        return b'{"x": ' + b"[" * depth + b"]" * depth + b"}"
    return b'{"x": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


# Content-Encoding header values (each a list: one header line per value) and what they
# do to the body; the body is made to match, or not.
CODINGS: dict[str, tuple[list[bytes], Callable[[bytes], bytes]]] = {
    "none": ([], lambda b: b),
    "identity": ([b"identity"], lambda b: b),
    "empty": ([b""], lambda b: b),
    "gzip": ([b"gzip"], gzip.compress),
    "x-gzip": ([b"x-gzip"], gzip.compress),
    "GZIP": ([b"GZIP"], gzip.compress),
    "deflate": ([b"deflate"], zlib.compress),
    "raw deflate": ([b"deflate"], raw_deflate),
    "identity, gzip": ([b"identity, gzip"], gzip.compress),
    "two headers": ([b"identity", b"gzip"], gzip.compress),
    "gzip twice": ([b"gzip, gzip"], lambda b: gzip.compress(gzip.compress(b))),
    "br": ([b"br"], lambda b: b"\x1b" + b),
    "zstd": ([b"zstd"], lambda b: b),
    "garbage": ([b"x-\xe9t\xe9"], lambda b: b),
    "corrupt gzip": ([b"gzip"], lambda b: gzip.compress(b)[:10] + b"\x00" + gzip.compress(b)[11:]),
    "truncated gzip": ([b"gzip"], lambda b: gzip.compress(b)[:-6]),
    "padded gzip": ([b"gzip"], lambda b: gzip.compress(b) + b"junk"),
    "plain as gzip": ([b"gzip"], lambda b: b),
    "plain as deflate": ([b"deflate"], lambda b: b),
}
CONTENT_TYPES = [
    *([b"application/rdap+json"] * 8 + [b"application/json"] * 4),
    *(b"application/json; charset=utf-8", b"APPLICATION/RDAP+JSON", b"application/json;"),
    *(b" application/rdap+json ", b"", b"text/html", b"text/json", b"application/problem+json"),
    *(b"application/jsonx", b"application/json\xe9", b"application/rdap+json, text/html"),
]
ANSWER_STATUSES = st.one_of(
    *[st.sampled_from([200] * 8 + [201, 203, 204, 206, 299])] * 3,
    st.sampled_from([300, 304, 305, 400, 404, 410, 418, 429, 500, 503, 599, 600, 999]),
    st.integers(100, 999),
)
REDIRECT_STATUSES = st.sampled_from([302, 301, 303, 307, 308])
INTERIM = [
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 102 Processing\r\n\r\n",
    b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
    b"HTTP/1.1 199 Whatever\r\nX-Note: 1\r\n\r\n",
    b"HTTP/1.0 100 Continue\r\n\r\n",
]
INTERIM_COUNTS = st.sampled_from([0] * 6 + [1, 1, 2, 3])
REASONS = [b" OK", b" OK", b"", b" ", b" Whatever it is", b" caf\xe9", b" tab\there"]

# Location pieces (including the odd ones that once made the clients disagree: dot
# segments, '"<>{}`' in a path, ASCII "xn--" labels that are no IDNA).
SCHEMES = ["http"] * 6 + ["HTTP", "https", "ftp", "javascript", "file", ""]
USERINFO = [""] * 6 + ["u@", "u:p@", "@", ":@"]
HOSTS = [
    *(["127.0.0.1"] * 4 + ["127.1", "0x7f.1", "0x7F000001", "2130706433", "0177.0.0.1"]),
    *("017700000001", "127.0.0.1.", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::1]", "[::1"),
    *("rdap.test", "RDAP.Test.", "xn--bcher-kva.test", "b\u00fccher.test", "\uff52dap.test"),
    *("a..b", "x" * 64 + ".test", "x" * 63 + ".test", "a_b.test", "-a.test", "localhost"),
    *("10.0.0.1", "169.254.169.254", "1.2.3.4.5", "256.0.0.1", "%31%32%37.0.0.1", ""),
    *("[fe80::1%25eth0]", "[::]", "0", "0x7f.0x0.0.1", "127.0.0.0x1"),
]
PORTS = [
    *([":{port}"] * 6 + [""]),
    *(":0", ":65536", ":99999", ":", ":0{port}", ":+{port}", ":80", ":443", ":-1", ":{port}x"),
]
PATHS = [
    *(["/next"] * 4 + ["", "/", "/a/b?c=d", "/%zz", "/caf\u00e9", "/a b", "/a\tb"]),
    *("?q=1", "/next#frag", "/a;b", "/~u/[x]", "/a|b\\c^d", "/%2e%2e/x", "/next?x=%20"),
]
RELATIVE = [
    *(["/next"] * 3 + ["next", "./next", "../next", "a/../next", "?q=1", "#frag"]),
    *("//127.0.0.1:{port}/next", "//rdap.test:{port}/n", START, "start", "", " "),
    *("  /next  ", "\t/next", "/n\u00e9xt", "http:next", "http:/next", "http:///next"),
    *("\\\\127.0.0.1/next", "/next\x00", "/next%0d%0aX-Evil: 1"),
]


REDIRECTS = (301, 302, 303, 307, 308)
LOCATION_COUNTS = st.sampled_from([1] * 8 + [0, 2])


@st.composite
def locations(draw: st.DrawFn, port: int) -> str:
    if draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(RELATIVE)).format(port=port)
    scheme = draw(st.sampled_from(SCHEMES))
    ports = draw(st.sampled_from(PORTS))
    if scheme.lower() == "https" and "{port}" in ports:
        ports = ""  # TLS to the plain-text server would only wait for the timeout
    sep = draw(st.sampled_from(["://"] * 8 + [":/", ":", ":///"]))
    rest = draw(st.sampled_from(USERINFO)) + draw(st.sampled_from(HOSTS)) + ports
    return (scheme + sep + rest).format(port=port) + draw(st.sampled_from(PATHS))


@st.composite
def chunked(draw: st.DrawFn, body: bytes) -> bytes:
    out = bytearray()
    rest = body
    while rest:
        size = draw(st.integers(1, len(rest)))
        chunk, rest = rest[:size], rest[size:]
        ext = draw(st.sampled_from([b"", b"", b";x=y"]))
        out += b"%x" % size + ext + b"\r\n" + chunk + b"\r\n"
    out += b"0\r\n"
    if draw(st.booleans()):
        out += b"X-Trailer: 1\r\n"
    return bytes(out + b"\r\n")


FRAMINGS = ["length"] * 8 + ["chunked"] * 4 + ["close"] * 2 + ["short", "long", "same twice"]
FRAMINGS += ["list", "conflicting", "both", "bad length"]


@st.composite
def answers(draw: st.DrawFn, port: int, redirect: bool) -> bytes:
    """One scripted answer: interim answers, a status line, headers, a body; a redirect
    (with Location lines, mostly), or any other status."""
    out = b"".join(draw(st.sampled_from(INTERIM)) for _ in range(draw(INTERIM_COUNTS)))
    status = draw(REDIRECT_STATUSES if redirect else ANSWER_STATUSES)
    version = draw(st.sampled_from([b"HTTP/1.1"] * 4 + [b"HTTP/1.0"]))
    lines = [version + b" %d" % status + draw(st.sampled_from(REASONS))]
    fields: list[bytes] = []
    if redirect or draw(st.sampled_from([False] * 9 + [True])):
        values = [draw(locations(port)).encode() for _ in range(draw(LOCATION_COUNTS))]
        fields += [b"Location: " + value for value in values]
    for _ in range(draw(st.sampled_from([1] * 6 + [0, 2]))):
        fields.append(b"Content-Type: " + draw(st.sampled_from(CONTENT_TYPES)))
    if status in (429, 503) and draw(st.booleans()):
        fields.append(b"Retry-After: " + draw(st.sampled_from([b"0", b"1", b"3600", b"soon"])))
    if redirect and draw(st.booleans()):
        plain = b""
    elif draw(st.sampled_from([False] * 15 + [True])):
        plain = b'{"pad": "' + b"x" * LIMIT + b'"}'  # past max_response_bytes
    else:
        plain = draw(bodies())
    values, encode = CODINGS[draw(st.sampled_from(["none"] * 6 + sorted(CODINGS)))]
    body = encode(plain)
    fields += [b"Content-Encoding: " + value for value in values]
    framing = draw(st.sampled_from(FRAMINGS))
    n = len(body)
    if framing in ("chunked", "both"):
        fields.append(b"Transfer-Encoding: chunked")
    length = {
        "length": b"%d" % n,
        "both": b"%d" % n,
        "short": b"%d" % max(0, n - 1),
        "long": b"%d" % (n + 3),
        "list": b"%d, %d" % (n, n),
        "bad length": draw(st.sampled_from([b"+%d" % n, b"%d.0" % n, b"0x%x" % n, b""])),
    }.get(framing)
    if length is not None:
        fields.append(b"Content-Length: " + length)
    if framing in ("same twice", "conflicting"):
        fields.append(b"Content-Length: %d" % n)
        fields.append(b"Content-Length: %d" % (n + (framing == "conflicting")))
    if draw(st.booleans()):
        fields.append(b"X-Note: " + draw(st.sampled_from([b"a", b"caf\xe9", b"x, y", b""])))
    # Always: each answer ends its connection (reuse is tested on its own below).
    fields.append(b"Connection: close")
    fields = draw(st.permutations(fields))
    lines += fields
    eol = draw(st.sampled_from([b"\r\n"] * 5 + [b"\n"]))
    if framing in ("chunked", "both"):
        body = draw(chunked(body))
    return out + eol.join(lines) + eol + eol + body


@given(data=st.data())
def test_clients_agree_on_generated_answers(stage: Stage, data: st.DataObject) -> None:
    """Whatever the server sends, both clients end with the same answer or error."""
    stage.steps = [data.draw(answers(stage.port, redirect=False), label="answer")]
    assert_agree(stage, stage.url())


@given(data=st.data())
def test_clients_agree_on_generated_redirects(stage: Stage, data: st.DataObject) -> None:
    """Whatever a redirect says, both clients follow it, or refuse it, alike."""
    stage.steps = [data.draw(answers(stage.port, redirect=True), label="answer")]
    assert_agree(stage, stage.url())


# -- generated request URLs -----------------------------------------------------------------

IDN_LABELS = st.text(
    alphabet="ab-_1\u00e4\u00f6\u00fc\u00df\u00e9\u03c3\uff41\u3002\uff0e\u2603\u0661",
    min_size=1,
    max_size=8,
)
PATH_TEXT = st.one_of(
    *[st.text(alphabet="ab/%?#&=;,'()*!$+:@[]|\\^~_-.0\u00e9\u20ac\U0001f600", max_size=10)] * 3,
    st.text(alphabet="ab/.% \t\n\x00\x7f\u00e9\u200b\ud800\x85\xa0", max_size=10),
)


CLEAN_HOSTS = ["127.0.0.1", "rdap.test", "RDAP.Test.", "xn--bcher-kva.test", "b\u00fccher.test"]
CLEAN_HOSTS += ["localhost", "0x7f.1", "127.1", "2130706433", "[::ffff:127.0.0.1]", "a_b.test"]
URL_PARTS = ["scheme", "separator", "userinfo", "host", "port", "path"]


@st.composite
def request_urls(draw: st.DrawFn, port: int) -> str:
    """A URL with one part (or none, or all) drawn from the odd forms, the rest clean."""
    focus = draw(st.sampled_from(["none", *URL_PARTS, "all"]))

    def part(name: str, clean: list[str], odd: st.SearchStrategy[str]) -> str:
        if focus in (name, "all"):
            return draw(odd)
        return draw(st.sampled_from(clean))

    scheme = part("scheme", ["http"], st.sampled_from(SCHEMES))
    sep = part("separator", ["://"], st.sampled_from([":/", ":", ":///", "://"]))
    userinfo = part("userinfo", [""], st.sampled_from(USERINFO))
    idn = IDN_LABELS.map(lambda label: label + ".test")
    host = part("host", CLEAN_HOSTS, st.sampled_from(HOSTS) | idn)
    ports = part("port", [":{port}"], st.sampled_from(PORTS))
    if scheme.lower() == "https" and "{port}" in ports:
        ports = ""  # TLS to the plain-text server would only wait for the timeout
    path = part("path", ["/domain/example.com", "/", "", "/ip/192.0.2.1?x=1"], PATH_TEXT)
    if path and path[0] not in "/?#":
        path = "/" + path
    return scheme + sep + userinfo + host + ports.format(port=port) + path


@given(data=st.data())
def test_clients_agree_on_generated_request_urls(stage: Stage, data: st.DataObject) -> None:
    """A URL one client refuses, the other refuses the same way; one it asks, the other
    asks alike (same path and Host on the wire)."""
    stage.steps = []  # every path but START echoes
    url = data.draw(request_urls(stage.port), label="url")
    assume(START not in url)
    assert_agree(stage, url)


# -- the examples the generators stand for --------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "/next",
        "../next",
        "//rdap.test:{port}/next",
        "http://0x7f.1:{port}/next",
        "http://127.1:{port}/next",
        "http://2130706433:{port}/next",
        "http://[::ffff:127.0.0.1]:{port}/next",
        "http://rdap.test:{port}/next",
        "http://a..b/",
        "http://" + "x" * 64 + ".test/",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:65536/",
        "http://127.0.0.1:99999/",
        "http://u:p@127.0.0.1:{port}/",
        "ftp://127.0.0.1:{port}/",
        "http://[::1]:{port}/",
        "http://10.0.0.1:{port}/",
        "http://b\u00fccher.test:{port}/",
        "http:///next",
        "/a b",
        "",
        START,
    ],
)
def test_clients_agree_on_odd_locations(stage: Stage, location: str) -> None:
    value = location.format(port=stage.port).encode()
    head = b"HTTP/1.1 302 Found\r\nLocation: " + value + b"\r\nContent-Length: 0\r\n"
    stage.steps = [head + b"Connection: close\r\n\r\n"]
    assert_agree(stage, stage.url())


# -- disagreements found and fixed (each a minimal reproduction) ---------------------------


def _one_answer(stage: Stage, steps: list[Step] | Answer) -> None:
    stage.steps = steps
    assert_agree(stage, stage.url())


@pytest.mark.parametrize(
    "location",
    [
        b"http://0177.0.0.1:{port}/next",  # stdlib: follows (127.0.0.1)
        b"http://127.000.000.001:{port}/next",  # stdlib: follows
        b"http://[v1.x]:{port}/next",  # stdlib: follows (as host name v1.x)
        b"http://[::1",  # stdlib: bad_redirect
        b"http://127.0.0.1:{port}x/",  # stdlib: bad_redirect
        b"http://256.0.0.1/",  # stdlib: NetworkGuardError
        b"javascript:alert(1)",  # stdlib: NetworkGuardError; httpx: bad_url
        b"http:next",  # stdlib: follows (http://127.0.0.1:port/next); httpx: bad_url
        # UTF-8 here, but another header's latin-1 byte makes httpx decode every value
        # as latin-1: "b\xc3\xbccher" is no IDNA name (network_error); stdlib: bad_redirect.
        b"http://b\xc3\xbccher.test:{port}/next\r\nX-Note: caf\xe9",
    ],
)
def test_a_location_is_read_by_one_set_of_rules(stage: Stage, location: bytes) -> None:
    value = location.replace(b"{port}", b"%d" % stage.port)
    head = b"HTTP/1.1 302 Found\r\nLocation: " + value + b"\r\nContent-Length: 0\r\n"
    _one_answer(stage, [head + b"Connection: close\r\n\r\n"])


@pytest.mark.parametrize("host", ["xn--zz.test", "xn--.test", "xn--ls8h.test", "xn--aa-.test"])
@pytest.mark.parametrize("how", ["asked", "redirected to"])
def test_an_invalid_a_label_is_treated_alike(stage: Stage, host: str, how: str) -> None:
    url = f"http://{host}:{stage.port}/next"
    if how == "asked":
        assert_agree(stage, url)
    else:
        head = b"HTTP/1.1 302 Found\r\nLocation: " + url.encode() + b"\r\n"
        _one_answer(stage, [head + b"Connection: close\r\n\r\n"])


def test_dot_segments_are_sent_alike(stage: Stage) -> None:
    assert_agree(stage, stage.url("/a/../b"))


@pytest.mark.parametrize("path", ['/a"b', "/a<b>", "/a{b}", "/a`b", '/x?q="y"'])
def test_unsafe_path_characters_are_sent_alike(stage: Stage, path: str) -> None:
    assert_agree(stage, stage.url(path))


def test_an_unasked_protocol_switch_is_treated_alike(stage: Stage) -> None:
    _one_answer(stage, [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"])


def test_many_interim_answers_are_treated_alike(stage: Stage) -> None:
    body = b'{"objectClassName": "domain"}'
    final = b"HTTP/1.1 200 OK\r\nContent-Type: application/rdap+json\r\n"
    final += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
    _one_answer(stage, [b"HTTP/1.1 100 Continue\r\n\r\n" * 17 + final])


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/0.9", b"HTTP/3.7"])
def test_other_http_versions_are_treated_alike(stage: Stage, version: bytes) -> None:
    body = b'{"objectClassName": "domain"}'
    head = version + b" 200 OK\r\nContent-Type: application/rdap+json\r\n"
    _one_answer(stage, [head + b"Content-Length: %d\r\n\r\n" % len(body) + body])


def test_chunked_http_1_0_is_treated_alike(stage: Stage) -> None:
    head = b"HTTP/1.0 200 OK\r\nContent-Type: application/rdap+json\r\n"
    head += b"Transfer-Encoding: chunked\r\n\r\n"
    _one_answer(stage, [head + b"2\r\n{}\r\n0\r\n\r\n"])


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
def test_a_bodiless_status_with_a_huge_length_is_treated_alike(stage: Stage, status: bytes) -> None:
    head = b"HTTP/1.1 " + status + b"\r\nContent-Type: application/rdap+json\r\n"
    _one_answer(stage, [head + b"Content-Length: 99999999\r\nConnection: close\r\n\r\n"])


def test_bytes_past_an_answer_are_not_the_next_answer(stage: Stage) -> None:
    smuggled = b'{"smuggled": true}'
    extra = b"HTTP/1.1 200 OK\r\nContent-Type: application/rdap+json\r\n"
    extra += b"Content-Length: %d\r\n\r\n" % len(smuggled) + smuggled
    redirect = b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n"
    _one_answer(stage, Answer([redirect + extra], keep_alive=True))


def test_a_kept_alive_connection_closed_by_the_server_is_treated_alike() -> None:
    body = b'{"objectClassName": "domain"}'
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/rdap+json\r\n"
    ok += b"Content-Length: %d\r\n\r\n" % len(body) + body
    served = threading.local()

    def script(request: Request) -> Answer:
        # The first request on a connection is answered, the second meets a close.
        served.count = getattr(served, "count", 0) + 1
        return Answer([ok], keep_alive=True) if served.count == 1 else Answer([])

    with RawServer(script) as server:
        policy = NetworkPolicy(
            allow_http=True,
            allowed_networks=(ip_network("127.0.0.1/32"),),
            allowed_ports=(server.port,),
        )
        results = []
        for cls in CLIENTS:
            with build(cls, policy, []) as client:
                first = client.get(server.url("/domain/a.example")).body
                try:
                    second: object = client.get(server.url("/domain/b.example")).body
                except RdapctlError as exc:
                    second = exc.code
                results.append((first, second))
    assert results[0] == results[1]
