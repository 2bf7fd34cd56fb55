"""The guarded transport against real servers on 127.0.0.1 (no traffic leaves the machine)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from pytest_httpserver import HTTPServer

from rdapctl.connect import Resolver, spki_pin
from rdapctl.errors import ConfigError, ExitCode, NetworkGuardError
from rdapctl.netguard import NetworkPolicy
from rdapctl.transport import build_transport


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
    server.stop()


@pytest.fixture
def httpserver(local_server: HTTPServer) -> Iterator[HTTPServer]:
    """The module's server with no expectations or log left from other tests."""
    local_server.clear()
    yield local_server
    local_server.clear()


def client_for(
    policy: NetworkPolicy,
    resolver: Resolver | None = None,
    env: dict[str, str] | None = None,
) -> httpx.Client:
    """The client the lead's http module builds around the transport."""
    transport = build_transport(policy, env=env or {}, resolver=resolver)
    return httpx.Client(transport=transport, follow_redirects=True, timeout=5.0)


def test_loopback_is_blocked_by_default_and_nothing_reaches_the_server(
    httpserver: HTTPServer,
) -> None:
    """Without allow_private_ips a request to 127.0.0.1 is refused before connecting."""
    httpserver.expect_request("/domain/x").respond_with_json({"ok": True})
    policy = local_policy(httpserver.port, allowed_networks=())
    with client_for(policy) as client, pytest.raises(NetworkGuardError) as info:
        client.get(httpserver.url_for("/domain/x"))
    assert "address 127.0.0.1 is loopback" in info.value.message
    assert "security.allow_private_ips" in (info.value.hint or "")
    assert info.value.exit_code == ExitCode.DENIED
    assert httpserver.log == []


def test_https_only_by_default(httpserver: HTTPServer) -> None:
    """Plain http is refused unless security.allow_http is set."""
    policy = local_policy(httpserver.port, allow_http=False)
    with client_for(policy) as client, pytest.raises(NetworkGuardError) as info:
        client.get(httpserver.url_for("/"))
    assert "plain http" in info.value.message
    assert "security.allow_http" in (info.value.hint or "")
    assert httpserver.log == []


def test_server_port_must_be_allowed(httpserver: HTTPServer) -> None:
    """A port outside security.allowed_ports is refused."""
    policy = local_policy(httpserver.port, allowed_ports=(443,))
    with client_for(policy) as client, pytest.raises(NetworkGuardError) as info:
        client.get(httpserver.url_for("/"))
    assert f"port {httpserver.port}" in info.value.message
    assert "security.allowed_ports" in (info.value.hint or "")


def test_allowed_cidr_http_and_port_let_the_request_through(httpserver: HTTPServer) -> None:
    """With 127.0.0.1/32 allowed, http allowed and the port listed, the lookup works."""
    httpserver.expect_request("/domain/x").respond_with_json({"objectClassName": "domain"})
    with client_for(local_policy(httpserver.port)) as client:
        response = client.get(httpserver.url_for("/domain/x"))
    assert response.status_code == 200
    assert response.json() == {"objectClassName": "domain"}


def test_connection_goes_to_the_checked_address(httpserver: HTTPServer) -> None:
    """A name is resolved by the injected resolver and the checked address is dialled."""
    httpserver.expect_request("/x").respond_with_data("hello")
    resolver = CountingResolver({"rdap.test": [["127.0.0.1"]]})
    with client_for(local_policy(httpserver.port), resolver) as client:
        response = client.get(f"http://rdap.test:{httpserver.port}/x")
    assert response.text == "hello"
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
        body = b"ok"
        self.send_response(200)
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
    keepalive_server: tuple[int, list[str]],
) -> None:
    """Several requests over one kept-alive connection need one resolution."""
    port, connections = keepalive_server
    resolver = CountingResolver({"rdap.test": [["127.0.0.1"]]})
    with client_for(local_policy(port), resolver) as client:
        for _ in range(5):
            assert client.get(f"http://rdap.test:{port}/x").status_code == 200
    assert resolver.calls == ["rdap.test"]
    assert connections == ["127.0.0.1"]


def test_rebinding_answer_is_checked_on_the_next_connection(httpserver: HTTPServer) -> None:
    """A resolver that answers differently later is caught when its answer would be used."""
    httpserver.expect_request("/x").respond_with_data("ok", headers={"Connection": "close"})
    resolver = CountingResolver({"rdap.test": [["127.0.0.1"], ["169.254.169.254"]]})
    url = f"http://rdap.test:{httpserver.port}/x"
    with client_for(local_policy(httpserver.port), resolver) as client:
        assert client.get(url).status_code == 200
        with pytest.raises(NetworkGuardError, match="metadata"):
            client.get(url)
    assert resolver.calls == ["rdap.test", "rdap.test"]
    assert len(httpserver.log) == 1


def test_one_private_answer_among_public_ones_blocks(httpserver: HTTPServer) -> None:
    """Every resolved address is checked, not only the first."""
    resolver = CountingResolver({"rdap.test": [["127.0.0.1", "10.0.0.5"]]})
    with client_for(local_policy(httpserver.port), resolver) as client:
        with pytest.raises(NetworkGuardError, match=r"10\.0\.0\.5 of rdap\.test is private"):
            client.get(f"http://rdap.test:{httpserver.port}/x")
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://10.0.0.1/secret", "10.0.0.1 is private (RFC 1918)"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://0x7f.1:22/", "port 22"),
        ("http://rdap.test:{port}/x", "10.9.9.9 of rdap.test is private"),
        ("http://user:pw@127.0.0.1:{port}/x", "credentials"),
    ],
)
def test_redirect_to_a_blocked_target_is_refused(
    httpserver: HTTPServer, location: str, expected: str
) -> None:
    """Each redirect hop httpx follows goes through the guard again."""
    httpserver.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": location.format(port=httpserver.port)}
    )
    resolver = CountingResolver({"rdap.test": [["10.9.9.9"]]})
    with client_for(local_policy(httpserver.port), resolver) as client:
        with pytest.raises(NetworkGuardError) as info:
            client.get(httpserver.url_for("/start"))
    assert expected in info.value.message
    assert "pw" not in info.value.message
    assert [req.path for req, _ in httpserver.log] == ["/start"]


def test_redirect_to_an_allowed_target_is_followed(httpserver: HTTPServer) -> None:
    """Allowed hops are followed as usual."""
    httpserver.expect_request("/start").respond_with_data(
        "", status=301, headers={"Location": "/final"}
    )
    httpserver.expect_request("/final").respond_with_data("done")
    with client_for(local_policy(httpserver.port)) as client:
        response = client.get(httpserver.url_for("/start"))
    assert response.text == "done"
    assert len(response.history) == 1


def test_credentials_in_the_url_are_refused(httpserver: HTTPServer) -> None:
    """user:password@ in a request URL is refused and never sent."""
    with client_for(local_policy(httpserver.port)) as client, pytest.raises(NetworkGuardError):
        client.get(f"http://admin:hunter2@127.0.0.1:{httpserver.port}/")
    assert httpserver.log == []


def test_resolution_failure_is_a_connect_error(httpserver: HTTPServer) -> None:
    """A name that does not resolve is a network failure, not a guard refusal."""

    def failing(host: str, port: int) -> list[str]:
        raise OSError("name not known")

    with client_for(local_policy(httpserver.port), failing) as client:
        with pytest.raises(httpx.ConnectError, match=r"could not resolve nowhere\.test"):
            client.get(f"http://nowhere.test:{httpserver.port}/")


# --- proxies -----------------------------------------------------------------


@pytest.fixture
def proxy_server() -> Iterator[HTTPServer]:
    """A second local server standing in for the user's forward proxy."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


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
    """A local HTTPS server with a freshly generated self-signed certificate."""
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
    server.stop()


@pytest.fixture
def tls(tls_server: TlsServer) -> Iterator[TlsServer]:
    tls_server.server.clear()
    tls_server.server.expect_request("/domain/x").respond_with_data("secure")
    yield tls_server
    tls_server.server.clear()


def tls_policy(tls: TlsServer, **changes: object) -> NetworkPolicy:
    base = local_policy(tls.server.port, allow_http=False, ca_bundle=str(tls.cert_pem))
    return replace(base, **changes)  # type: ignore[arg-type]


TLS_RESOLVER = {"rdap.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]}


def test_spki_pin_matches_the_certificates_public_key(tls: TlsServer) -> None:
    """spki_pin hashes the DER SubjectPublicKeyInfo the way HPKP-style pins do."""
    der = ssl.PEM_cert_to_DER_cert(tls.cert_pem.read_text())
    assert spki_pin(der) == tls.pin


def test_ca_bundle_is_trusted_and_the_host_name_is_verified(tls: TlsServer) -> None:
    """The tenant's CA bundle makes the self-signed server verify under its name."""
    resolver = CountingResolver(TLS_RESOLVER)
    with client_for(tls_policy(tls), resolver) as client:
        response = client.get(f"https://rdap.test:{tls.server.port}/domain/x")
    assert response.text == "secure"


def test_without_the_ca_bundle_verification_fails(tls: TlsServer) -> None:
    """The self-signed certificate is not trusted unless the tenant adds it."""
    resolver = CountingResolver(TLS_RESOLVER)
    with client_for(tls_policy(tls, ca_bundle=None), resolver) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(f"https://rdap.test:{tls.server.port}/domain/x")


def test_ssl_cert_file_from_the_env_mapping_is_trusted(tls: TlsServer) -> None:
    """SSL_CERT_FILE in the passed environment adds trust like the tenant bundle does."""
    resolver = CountingResolver(TLS_RESOLVER)
    env = {"SSL_CERT_FILE": str(tls.cert_pem)}
    with client_for(tls_policy(tls, ca_bundle=None), resolver, env) as client:
        assert client.get(f"https://rdap.test:{tls.server.port}/domain/x").text == "secure"


def test_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    """A tls.ca_bundle that cannot be read is reported as configuration."""
    policy = NetworkPolicy(ca_bundle=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError) as info:
        build_transport(policy, env={})
    assert "tls.ca_bundle" in info.value.message


def test_matching_pin_passes(tls: TlsServer) -> None:
    """A pinned host whose key matches one of its pins is reached."""
    policy = tls_policy(
        tls,
        certificate_pinning=True,
        pins={"rdap.test": ("sha256/" + base64.b64encode(b"x" * 32).decode(), tls.pin)},
    )
    with client_for(policy, CountingResolver(TLS_RESOLVER)) as client:
        assert client.get(f"https://rdap.test:{tls.server.port}/domain/x").text == "secure"


def test_wrong_pin_is_refused_before_any_request(tls: TlsServer) -> None:
    """A pinned host whose key matches none of its pins is refused (pin_mismatch)."""
    wrong = "sha256/" + base64.b64encode(b"w" * 32).decode()
    policy = tls_policy(tls, certificate_pinning=True, pins={"rdap.test": (wrong,)})
    with client_for(policy, CountingResolver(TLS_RESOLVER)) as client:
        with pytest.raises(NetworkGuardError) as info:
            client.get(f"https://rdap.test:{tls.server.port}/domain/x")
    assert info.value.code == "pin_mismatch"
    assert info.value.exit_code == ExitCode.DENIED
    assert "rdap.test" in info.value.message
    assert tls.server.log == []


def test_unpinned_host_passes_when_pinning_is_on(tls: TlsServer) -> None:
    """Pinning applies only to hosts listed in tls.pins."""
    wrong = "sha256/" + base64.b64encode(b"w" * 32).decode()
    policy = tls_policy(tls, certificate_pinning=True, pins={"other.test": (wrong,)})
    with client_for(policy, CountingResolver(TLS_RESOLVER)) as client:
        assert client.get(f"https://rdap.test:{tls.server.port}/domain/x").text == "secure"


def test_pins_are_ignored_when_pinning_is_off(tls: TlsServer) -> None:
    """tls.pins only bite with tls.certificate_pinning = true."""
    wrong = "sha256/" + base64.b64encode(b"w" * 32).decode()
    policy = tls_policy(tls, certificate_pinning=False, pins={"rdap.test": (wrong,)})
    with client_for(policy, CountingResolver(TLS_RESOLVER)) as client:
        assert client.get(f"https://rdap.test:{tls.server.port}/domain/x").text == "secure"


def test_redirect_to_a_host_with_a_wrong_pin_is_refused(tls: TlsServer) -> None:
    """Redirect hops pass through the same pinning check."""
    port = tls.server.port
    tls.server.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": f"https://other.test:{port}/domain/x"}
    )
    wrong = "sha256/" + base64.b64encode(b"w" * 32).decode()
    policy = tls_policy(
        tls, certificate_pinning=True, pins={"rdap.test": (tls.pin,), "other.test": (wrong,)}
    )
    with client_for(policy, CountingResolver(TLS_RESOLVER)) as client:
        with pytest.raises(NetworkGuardError) as info:
            client.get(f"https://rdap.test:{port}/start")
    assert info.value.code == "pin_mismatch"
    assert "other.test" in info.value.message
    assert [req.path for req, _ in tls.server.log] == ["/start"]


def test_batch_fast_path_verifies_tls_and_pins(tls: TlsServer) -> None:
    """The stdlib keep-alive client used by batch applies the same CA bundle and pins."""
    from rdapctl.errors import NetworkGuardError as GuardError
    from rdapctl.errors import UpstreamError
    from rdapctl.fasthttp import StdlibHttpClient

    tls.server.expect_request("/domain/y").respond_with_json({"objectClassName": "domain"})
    url = f"https://rdap.test:{tls.server.port}/domain/y"
    good = tls_policy(tls, certificate_pinning=True, pins={"rdap.test": (tls.pin,)})
    client = StdlibHttpClient(good, env={}, resolver=CountingResolver(TLS_RESOLVER))
    try:
        assert client.get(url).body == {"objectClassName": "domain"}
    finally:
        client.close()
    wrong_pin = "sha256/" + base64.b64encode(b"y" * 32).decode()
    bad = tls_policy(tls, certificate_pinning=True, pins={"rdap.test": (wrong_pin,)})
    client = StdlibHttpClient(bad, env={}, resolver=CountingResolver(TLS_RESOLVER))
    try:
        with pytest.raises(GuardError) as info:
            client.get(url)
        assert info.value.code == "pin_mismatch"
    finally:
        client.close()
    untrusted = tls_policy(tls, ca_bundle=None)
    client = StdlibHttpClient(untrusted, env={}, resolver=CountingResolver(TLS_RESOLVER))
    try:
        with pytest.raises(UpstreamError, match="TLS"):
            client.get(url)
    finally:
        client.close()
