"""The network guard, DNS, redirects, TLS trust and pinning against real servers on
127.0.0.1 (no traffic leaves the machine).

Every test about what a lookup may reach runs against both HTTP clients, the stdlib
one used for every direct connection and the httpx one used behind a proxy (the
``make`` fixture), and asserts the same outcome for both: RDAP servers are untrusted,
so neither client may let through what the other refuses. Only the proxy tests and
the tests of the transport object itself (its repr, its configuration errors) use
``build_transport`` directly: proxies exist only on the httpx path.
"""

from __future__ import annotations

import base64
import datetime
import gc
import hashlib
import json
import ssl
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from pytest_httpserver import HTTPServer

from rdapctl.core.errors import ConfigError, ExitCode, NetworkGuardError, UpstreamError
from rdapctl.net.connect import Resolver, spki_pin
from rdapctl.net.direct import StdlibHttpClient
from rdapctl.net.guard import NetworkPolicy
from rdapctl.net.proxied import RdapHttpClient
from rdapctl.net.proxied_transport import build_transport
from rdapctl.policy.limits import RetryPolicy
from tests.support import stop_server

DOMAIN = {"objectClassName": "domain", "ldhName": "example.com"}
SECURE = {"objectClassName": "domain", "ldhName": "secure.example"}
NO_RETRY = RetryPolicy(max_retries=0, max_wait_s=2.0, backoff_s=0.01)


class CountingResolver:
    """A resolver with a fixed table that records every lookup."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        # each host maps to successive answers; the last one repeats
        self.table = table
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answers = self.table[host]
        return answers[min(self.calls.count(host), len(answers)) - 1]


def local_policy(port: int, **changes: object) -> NetworkPolicy:
    """http allowed to 127.0.0.1 on the test server's port."""
    from ipaddress import ip_network

    base = NetworkPolicy(
        allow_http=True,
        allowed_networks=(ip_network("127.0.0.1/32"),),
        allowed_ports=(443, port),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def local_server() -> Iterator[HTTPServer]:
    """A plain-http server bound to 127.0.0.1 (not "localhost", which may be ::1 too)."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    stop_server(server)


@pytest.fixture
def httpserver(local_server: HTTPServer) -> Iterator[HTTPServer]:
    """The module's server with no expectations or log left from other tests."""
    local_server.clear()
    yield local_server
    local_server.clear()


Client = StdlibHttpClient | RdapHttpClient
Make = Callable[..., Client]


@pytest.fixture(params=["stdlib", "httpx"])
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    """Builds the client under test (both in turn) with a policy, resolver and
    environment; no retries unless asked, and a sleep that only records (``.waits``)."""
    made: list[Client] = []

    def build(
        policy: NetworkPolicy,
        resolver: Resolver | None = None,
        env: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Client:
        cls = RdapHttpClient if request.param == "httpx" else StdlibHttpClient
        waits: list[float] = []
        kwargs.setdefault("timeout_s", 5.0)
        kwargs.setdefault("retry", NO_RETRY)
        kwargs.setdefault("sleep", waits.append)
        client = cls(policy, env=env or {}, resolver=resolver, **kwargs)
        client.waits = waits  # type: ignore[union-attr]
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def client_for(
    policy: NetworkPolicy,
    resolver: Resolver | None = None,
    env: dict[str, str] | None = None,
) -> httpx.Client:
    """A bare httpx client around the transport: for the proxy tests only."""
    transport = build_transport(policy, env=env or {}, resolver=resolver)
    return httpx.Client(transport=transport, follow_redirects=True, timeout=5.0)


# --- the guard: addresses, schemes, ports, credentials ----------------------------


def test_loopback_is_blocked_by_default_and_nothing_reaches_the_server(
    httpserver: HTTPServer, make: Make
) -> None:
    """Without allow_private_ips a request to 127.0.0.1 is refused before connecting."""
    httpserver.expect_request("/domain/x").respond_with_json(DOMAIN)
    client = make(local_policy(httpserver.port, allowed_networks=()))
    with pytest.raises(NetworkGuardError) as info:
        client.get(httpserver.url_for("/domain/x"))
    assert "address 127.0.0.1 is loopback" in info.value.message
    assert "security.allow_private_ips" in (info.value.hint or "")
    assert info.value.exit_code == ExitCode.DENIED
    assert httpserver.log == []


def test_https_only_by_default(httpserver: HTTPServer, make: Make) -> None:
    """Plain http is refused unless security.allow_http is set."""
    client = make(local_policy(httpserver.port, allow_http=False))
    with pytest.raises(NetworkGuardError) as info:
        client.get(httpserver.url_for("/"))
    assert "plain http" in info.value.message
    assert "security.allow_http" in (info.value.hint or "")
    assert httpserver.log == []


def test_server_port_must_be_allowed(httpserver: HTTPServer, make: Make) -> None:
    """A port outside security.allowed_ports is refused."""
    client = make(local_policy(httpserver.port, allowed_ports=(443,)))
    with pytest.raises(NetworkGuardError) as info:
        client.get(httpserver.url_for("/"))
    assert f"port {httpserver.port}" in info.value.message
    assert "security.allowed_ports" in (info.value.hint or "")
    assert httpserver.log == []


def test_allowed_cidr_http_and_port_let_the_request_through(
    httpserver: HTTPServer, make: Make
) -> None:
    """With 127.0.0.1/32 allowed, http allowed and the port listed, the lookup works."""
    httpserver.expect_request("/domain/x").respond_with_json(DOMAIN)
    response = make(local_policy(httpserver.port)).get(httpserver.url_for("/domain/x"))
    assert response.status == 200
    assert response.body == DOMAIN


def test_credentials_in_the_url_are_refused(httpserver: HTTPServer, make: Make) -> None:
    """user:password@ in a request URL is refused, never sent and never echoed."""
    client = make(local_policy(httpserver.port))
    with pytest.raises(NetworkGuardError) as info:
        client.get(f"http://admin:hunter2@127.0.0.1:{httpserver.port}/")
    assert "credentials" in info.value.message
    assert "hunter2" not in info.value.message
    assert httpserver.log == []


# --- DNS: resolve once, check every answer, dial what was checked -------------------


def test_connection_goes_to_the_checked_address(httpserver: HTTPServer, make: Make) -> None:
    """A name is resolved by the injected resolver and the checked address is dialled;
    the request still names the host."""
    httpserver.expect_request("/x").respond_with_json(DOMAIN)
    resolver = CountingResolver({"rdap.test": [["127.0.0.1"]]})
    response = make(local_policy(httpserver.port), resolver).get(
        f"http://rdap.test:{httpserver.port}/x"
    )
    assert response.body == DOMAIN
    assert resolver.calls == ["rdap.test"]
    request, _ = httpserver.log[0]
    assert request.headers["Host"] == f"rdap.test:{httpserver.port}"


class _KeepAliveHandler(BaseHTTPRequestHandler):
    """Werkzeug's test server closes every connection; this one keeps them alive."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[str]] = []

    def setup(self) -> None:
        super().setup()
        self.connections.append(self.client_address[0])

    def do_GET(self) -> None:
        body = json.dumps(DOMAIN).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rdap+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def keepalive_server() -> Iterator[tuple[int, list[str]]]:
    """A keep-alive HTTP/1.1 server on 127.0.0.1; yields its port and accepted connections."""
    connections: list[str] = []
    handler = type("Handler", (_KeepAliveHandler,), {"connections": connections})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], connections
    server.shutdown()
    server.server_close()
    thread.join()


def test_keep_alive_resolves_once_per_connection(
    keepalive_server: tuple[int, list[str]], make: Make
) -> None:
    """The direct client keeps a connection alive and resolves once per connection; the
    proxied one closes every connection (a connection to a forwarding proxy is shared by
    origins: bytes one sent past its answer must not be read as another's answer), and
    resolves (and checks) again on each."""
    port, connections = keepalive_server
    resolver = CountingResolver({"rdap.test": [["127.0.0.1"]]})
    client = make(local_policy(port), resolver)
    for _ in range(5):
        assert client.get(f"http://rdap.test:{port}/x").body == DOMAIN
    times = 1 if isinstance(client, StdlibHttpClient) else 5
    assert resolver.calls == ["rdap.test"] * times
    assert connections == ["127.0.0.1"] * times


def test_rebinding_answer_is_checked_on_the_next_connection(
    httpserver: HTTPServer, make: Make
) -> None:
    """A resolver that answers differently later is caught when its answer would be used."""
    httpserver.expect_request("/x").respond_with_json(DOMAIN, headers={"Connection": "close"})
    resolver = CountingResolver({"rdap.test": [["127.0.0.1"], ["169.254.169.254"]]})
    url = f"http://rdap.test:{httpserver.port}/x"
    client = make(local_policy(httpserver.port), resolver)
    assert client.get(url).status == 200
    with pytest.raises(NetworkGuardError, match="metadata"):
        client.get(url)
    assert resolver.calls == ["rdap.test", "rdap.test"]
    assert len(httpserver.log) == 1


def test_one_private_answer_among_public_ones_blocks(httpserver: HTTPServer, make: Make) -> None:
    """Every resolved address is checked, not only the first."""
    resolver = CountingResolver({"rdap.test": [["127.0.0.1", "10.0.0.5"]]})
    client = make(local_policy(httpserver.port), resolver)
    with pytest.raises(NetworkGuardError, match=r"10\.0\.0\.5 of rdap\.test is private"):
        client.get(f"http://rdap.test:{httpserver.port}/x")
    assert httpserver.log == []


def test_resolution_failure_is_a_network_error(httpserver: HTTPServer, make: Make) -> None:
    """A name that does not resolve is a network failure (retried like one), not a
    guard refusal."""

    def failing(host: str, port: int) -> list[str]:
        raise OSError("name not known")

    client = make(
        local_policy(httpserver.port), failing, retry=RetryPolicy(1, 1.0, 0.01), timeout_s=2.0
    )
    with pytest.raises(UpstreamError, match=r"could not resolve nowhere\.test") as info:
        client.get(f"http://nowhere.test:{httpserver.port}/")
    assert info.value.code == "network_error"
    assert client.waits == [0.01]  # type: ignore[union-attr]


# --- redirects: every hop through the guard -----------------------------------------


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://10.0.0.1/secret", "10.0.0.1 is private (RFC 1918)"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://0x7f.1:22/", "port 22"),
        ("http://rdap.test:{port}/x", "10.9.9.9 of rdap.test is private"),
        ("http://user:pw@127.0.0.1:{port}/x", "credentials"),
        ("ftp://127.0.0.1:{port}/x", "scheme 'ftp'"),
        ("http://[::1]:{port}/x", "::1 is loopback"),
    ],
)
def test_redirect_to_a_blocked_target_is_refused(
    httpserver: HTTPServer, make: Make, location: str, expected: str
) -> None:
    """Each redirect hop goes through the guard again, and is not requested."""
    httpserver.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": location.format(port=httpserver.port)}
    )
    resolver = CountingResolver({"rdap.test": [["10.9.9.9"]]})
    client = make(local_policy(httpserver.port), resolver)
    with pytest.raises(NetworkGuardError) as info:
        client.get(httpserver.url_for("/start"))
    assert expected in info.value.message
    assert "pw" not in info.value.message
    assert info.value.exit_code == ExitCode.DENIED
    assert [req.path for req, _ in httpserver.log] == ["/start"]


def test_redirect_to_an_allowed_target_is_followed(httpserver: HTTPServer, make: Make) -> None:
    """Allowed hops are followed as usual, and reported."""
    httpserver.expect_request("/start").respond_with_data(
        "", status=301, headers={"Location": "/final"}
    )
    httpserver.expect_request("/final").respond_with_json(DOMAIN)
    response = make(local_policy(httpserver.port)).get(httpserver.url_for("/start"))
    assert response.body == DOMAIN
    assert response.url == httpserver.url_for("/final")
    assert response.redirects == [httpserver.url_for("/start")]


def test_redirect_to_a_name_is_resolved_and_checked(httpserver: HTTPServer, make: Make) -> None:
    """A hop to a host name is resolved by the tenant's resolver and dialled at the
    checked address, with the name in the Host header."""
    port = httpserver.port
    httpserver.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": f"http://rdap.test:{port}/final"}
    )
    httpserver.expect_request("/final").respond_with_json(DOMAIN)
    resolver = CountingResolver({"rdap.test": [["127.0.0.1"]]})
    response = make(local_policy(port), resolver).get(httpserver.url_for("/start"))
    assert response.body == DOMAIN
    assert resolver.calls == ["rdap.test"]
    assert httpserver.log[1][0].headers["Host"] == f"rdap.test:{port}"


# --- proxies -----------------------------------------------------------------


@pytest.fixture
def proxy_server() -> Iterator[HTTPServer]:
    """A second local server standing in for the user's forward proxy."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        stop_server(server)


def test_proxy_is_trusted_but_the_target_is_checked(proxy_server: HTTPServer) -> None:
    """A loopback proxy is used; the target name must still resolve to allowed addresses."""
    proxy_server.expect_request("/domain/x").respond_with_data("via proxy")
    env = {"HTTP_PROXY": f"http://127.0.0.1:{proxy_server.port}"}
    resolver = CountingResolver({"rdap.test": [["93.184.216.34"]], "evil.test": [["10.0.0.7"]]})
    policy = NetworkPolicy(allow_http=True)  # no private addresses at all
    with client_for(policy, resolver, env) as client:
        assert client.get("http://rdap.test/domain/x").text == "via proxy"
        with pytest.raises(NetworkGuardError, match=r"10\.0\.0\.7 of evil\.test"):
            client.get("http://evil.test/domain/x")
        with pytest.raises(NetworkGuardError, match="port 8080"):
            client.get("http://rdap.test:8080/domain/x")
    request, _ = proxy_server.log[0]
    assert request.headers["Host"] == "rdap.test"
    assert len(proxy_server.log) == 1


def test_no_proxy_hosts_are_reached_directly(
    httpserver: HTTPServer, proxy_server: HTTPServer
) -> None:
    """A host listed in NO_PROXY bypasses the proxy (and is guarded as a direct connection)."""
    httpserver.expect_request("/x").respond_with_data("direct")
    env = {"HTTP_PROXY": f"127.0.0.1:{proxy_server.port}", "NO_PROXY": "example.org,.test"}
    resolver = CountingResolver({"rdap.test": [["127.0.0.1"]]})
    with client_for(local_policy(httpserver.port), resolver, env) as client:
        assert client.get(f"http://rdap.test:{httpserver.port}/x").text == "direct"
    assert proxy_server.log == []


def test_proxy_credentials_stay_out_of_the_transport_repr() -> None:
    """The proxy password from the environment never shows in a repr."""
    env = {"HTTPS_PROXY": "http://me:s3cret-pw@127.0.0.1:3128"}
    transport = build_transport(NetworkPolicy(), env=env)
    try:
        assert "s3cret-pw" not in repr(transport)
    finally:
        transport.close()


def test_unsupported_proxy_scheme_is_a_config_error() -> None:
    """A socks proxy (unsupported) is reported as configuration, without a traceback."""
    with pytest.raises(ConfigError) as info:
        build_transport(NetworkPolicy(), env={"HTTPS_PROXY": "socks5://me:pw@127.0.0.1:1080"})
    assert "pw" not in info.value.message


# --- TLS, CA bundle and pinning -------------------------------------------------


class TlsServer:
    def __init__(self, server: HTTPServer, cert_pem: Path, pin: str) -> None:
        self.server = server
        self.cert_pem = cert_pem
        self.pin = pin


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """A local HTTPS server with a freshly generated self-signed certificate for
    rdap.test and other.test."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rdap.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("rdap.test"), x509.DNSName("other.test")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_pem = folder / "cert.pem"
    key_pem = folder / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pin = "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_pem, key_pem)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    yield TlsServer(server, cert_pem, pin)
    server.clear()
    stop_server(server)


@pytest.fixture
def tls(tls_server: TlsServer) -> Iterator[TlsServer]:
    tls_server.server.clear()
    tls_server.server.expect_request("/domain/x").respond_with_json(SECURE)
    yield tls_server
    tls_server.server.clear()


def tls_policy(tls: TlsServer, **changes: object) -> NetworkPolicy:
    base = local_policy(tls.server.port, allow_http=False, ca_bundle=str(tls.cert_pem))
    return replace(base, **changes)  # type: ignore[arg-type]


TLS_RESOLVER = {
    "rdap.test": [["127.0.0.1"]],
    "other.test": [["127.0.0.1"]],
    "wrong.test": [["127.0.0.1"]],
}
WRONG_PIN = "sha256/" + base64.b64encode(b"w" * 32).decode()


def tls_url(tls: TlsServer, host: str = "rdap.test", path: str = "/domain/x") -> str:
    return f"https://{host}:{tls.server.port}{path}"


def test_spki_pin_matches_the_certificates_public_key(tls: TlsServer) -> None:
    """spki_pin hashes the DER SubjectPublicKeyInfo the way HPKP-style pins do."""
    der = ssl.PEM_cert_to_DER_cert(tls.cert_pem.read_text())
    assert spki_pin(der) == tls.pin


def test_ca_bundle_is_trusted_and_the_host_name_is_verified(tls: TlsServer, make: Make) -> None:
    """The tenant's CA bundle makes the self-signed server verify under its name."""
    client = make(tls_policy(tls), CountingResolver(TLS_RESOLVER))
    assert client.get(tls_url(tls)).body == SECURE


def test_without_the_ca_bundle_verification_fails(tls: TlsServer, make: Make) -> None:
    """The self-signed certificate is not trusted unless the tenant adds it."""
    client = make(tls_policy(tls, ca_bundle=None), CountingResolver(TLS_RESOLVER))
    with pytest.raises(UpstreamError, match="CERTIFICATE_VERIFY_FAILED") as info:
        client.get(tls_url(tls))
    assert info.value.code == "network_error"
    assert tls.server.log == []


def test_a_name_the_certificate_does_not_carry_is_refused(tls: TlsServer, make: Make) -> None:
    """Trusting the issuer is not enough: the certificate must name the host asked."""
    client = make(tls_policy(tls), CountingResolver(TLS_RESOLVER))
    with pytest.raises(UpstreamError, match="CERTIFICATE_VERIFY_FAILED") as info:
        client.get(tls_url(tls, "wrong.test"))
    assert info.value.code == "network_error"
    assert tls.server.log == []


def test_a_failed_certificate_check_is_not_retried(
    tls: TlsServer, make: Make, request: pytest.FixtureRequest
) -> None:
    """An untrusted certificate will not become trusted by asking again: it fails the
    lookup at once, without backoff, whatever the retry budget."""
    client = make(
        tls_policy(tls, ca_bundle=None),
        CountingResolver(TLS_RESOLVER),
        retry=RetryPolicy(max_retries=2, max_wait_s=2.0, backoff_s=0.01),
    )
    with pytest.raises(UpstreamError, match="CERTIFICATE_VERIFY_FAILED"):
        client.get(tls_url(tls))
    assert client.waits == []  # type: ignore[union-attr]


def test_ssl_cert_file_from_the_env_mapping_is_trusted(tls: TlsServer, make: Make) -> None:
    """SSL_CERT_FILE in the passed environment adds trust like the tenant bundle does."""
    env = {"SSL_CERT_FILE": str(tls.cert_pem)}
    client = make(tls_policy(tls, ca_bundle=None), CountingResolver(TLS_RESOLVER), env)
    assert client.get(tls_url(tls)).body == SECURE


def test_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    """A tls.ca_bundle that cannot be read is reported as configuration."""
    policy = NetworkPolicy(ca_bundle=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError) as info:
        build_transport(policy, env={})
    assert "tls.ca_bundle" in info.value.message


@contextmanager
def resource_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record the ResourceWarnings (unclosed sockets) of what runs inside, collecting
    garbage at the end so that a leak shows here and not in a later test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        found: list[warnings.WarningMessage] = []
        try:
            yield found
        finally:
            gc.collect()
    found += [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_missing_ca_bundle_fails_an_https_lookup_as_configuration(
    tls: TlsServer, make: Make, tmp_path: Path
) -> None:
    """Whichever client carries it, an https lookup with an unreadable tls.ca_bundle
    is a configuration error (the httpx client says so when built, the stdlib one at
    its first handshake), and nothing is requested."""
    policy = tls_policy(tls, ca_bundle=str(tmp_path / "missing.pem"))
    with resource_warnings():  # the stdlib client leaks a socket here: see below
        with pytest.raises(ConfigError) as info:
            make(policy, CountingResolver(TLS_RESOLVER)).get(tls_url(tls))
        assert "tls.ca_bundle" in info.value.message
        assert info.value.exit_code == ExitCode.CONFIG
        del info
    assert tls.server.log == []


def test_a_failed_tls_set_up_leaves_no_socket_open(
    tls: TlsServer, make: Make, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A lookup that fails before its handshake closes the connection it opened (a
    broken CA bundle is reported when the client is made, before any connection)."""
    policy = tls_policy(tls, ca_bundle=str(tmp_path / "missing.pem"))
    with resource_warnings() as leaks:
        with pytest.raises(ConfigError):
            make(policy, CountingResolver(TLS_RESOLVER)).get(tls_url(tls))
    assert [str(w.message) for w in leaks] == []


def test_missing_ca_bundle_is_reported_alike_for_plain_http(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/domain/x").respond_with_json(DOMAIN)
    policy = local_policy(httpserver.port, ca_bundle=str(tmp_path / "missing.pem"))
    outcomes: list[object] = []
    for cls in (StdlibHttpClient, RdapHttpClient):
        try:
            with cls(policy, env={}, retry=NO_RETRY) as client:
                outcomes.append(client.get(httpserver.url_for("/domain/x")).status)
        except ConfigError as exc:
            outcomes.append(exc.code)
    assert outcomes[0] == outcomes[1]


def test_matching_pin_passes(tls: TlsServer, make: Make) -> None:
    """A pinned host whose key matches one of its pins is reached."""
    other = "sha256/" + base64.b64encode(b"x" * 32).decode()
    policy = tls_policy(tls, certificate_pinning=True, pins={"rdap.test": (other, tls.pin)})
    client = make(policy, CountingResolver(TLS_RESOLVER))
    assert client.get(tls_url(tls)).body == SECURE


def test_wrong_pin_is_refused_before_any_request(tls: TlsServer, make: Make) -> None:
    """A pinned host whose key matches none of its pins is refused (pin_mismatch)."""
    policy = tls_policy(tls, certificate_pinning=True, pins={"rdap.test": (WRONG_PIN,)})
    client = make(policy, CountingResolver(TLS_RESOLVER))
    with pytest.raises(NetworkGuardError) as info:
        client.get(tls_url(tls))
    assert info.value.code == "pin_mismatch"
    assert info.value.exit_code == ExitCode.DENIED
    assert "rdap.test" in info.value.message
    assert tls.server.log == []


def test_a_wrong_pin_is_refused_at_once_whatever_the_retry_budget(
    tls: TlsServer, make: Make
) -> None:
    """A pin mismatch is a policy refusal, not a network failure: never retried."""
    policy = tls_policy(tls, certificate_pinning=True, pins={"rdap.test": (WRONG_PIN,)})
    client = make(policy, CountingResolver(TLS_RESOLVER), retry=RetryPolicy(2, 2.0, 0.01))
    with pytest.raises(NetworkGuardError):
        client.get(tls_url(tls))
    assert client.waits == []  # type: ignore[union-attr]


def test_unpinned_host_passes_when_pinning_is_on(tls: TlsServer, make: Make) -> None:
    """Pinning applies only to hosts listed in tls.pins."""
    policy = tls_policy(tls, certificate_pinning=True, pins={"other.test": (WRONG_PIN,)})
    client = make(policy, CountingResolver(TLS_RESOLVER))
    assert client.get(tls_url(tls)).body == SECURE


def test_pins_are_ignored_when_pinning_is_off(tls: TlsServer, make: Make) -> None:
    """tls.pins only bite with tls.certificate_pinning = true."""
    policy = tls_policy(tls, certificate_pinning=False, pins={"rdap.test": (WRONG_PIN,)})
    client = make(policy, CountingResolver(TLS_RESOLVER))
    assert client.get(tls_url(tls)).body == SECURE


def test_redirect_to_a_host_with_a_wrong_pin_is_refused(tls: TlsServer, make: Make) -> None:
    """Redirect hops pass through the same pinning check."""
    tls.server.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": tls_url(tls, "other.test")}
    )
    policy = tls_policy(
        tls, certificate_pinning=True, pins={"rdap.test": (tls.pin,), "other.test": (WRONG_PIN,)}
    )
    client = make(policy, CountingResolver(TLS_RESOLVER))
    with pytest.raises(NetworkGuardError) as info:
        client.get(tls_url(tls, path="/start"))
    assert info.value.code == "pin_mismatch"
    assert "other.test" in info.value.message
    assert [req.path for req, _ in tls.server.log] == ["/start"]


def test_redirect_from_https_to_plain_http_is_refused(tls: TlsServer, make: Make) -> None:
    """A TLS server cannot downgrade a lookup to plain http the tenant does not allow."""
    tls.server.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": f"http://rdap.test:{tls.server.port}/domain/x"}
    )
    client = make(tls_policy(tls), CountingResolver(TLS_RESOLVER))
    with pytest.raises(NetworkGuardError, match="plain http"):
        client.get(tls_url(tls, path="/start"))
    assert [req.path for req, _ in tls.server.log] == ["/start"]
