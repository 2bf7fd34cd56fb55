"""Resolving, checking and securing connections: what both HTTP clients share.

Owns: resolving a host once and checking every address with ``rdapctl.net.guard``
(the connection then goes to a checked address), the tenant's TLS trust (system
store, SSL_CERT_FILE / SSL_CERT_DIR from the given environment, ``tls.ca_bundle``),
and SPKI pin checks after each handshake. Used by the direct client
(``rdapctl.net.direct``) and the proxied path's connections (``rdapctl.net.proxied_backend``).

Must not import httpx or httpcore: the stdlib client uses this without them.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from rdapctl.core.errors import ConfigError, NetworkGuardError
from rdapctl.net.guard import HINT_PINS, NetworkPolicy, check_addresses, parse_literal_host

Resolver = Callable[[str, int], list[str]]


class ResolveError(OSError):
    """A host name did not resolve (a network failure, not a policy refusal)."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (getaddrinfo order, without duplicates)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


def spki_pin(der_cert: bytes) -> str:
    """``sha256/<base64>`` of the DER SubjectPublicKeyInfo of a DER certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    cert = x509.load_der_x509_certificate(der_cert)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def check_pins(
    policy: NetworkPolicy, host: str | None, ssl_object: ssl.SSLObject | ssl.SSLSocket | None
) -> None:
    """Refuse a TLS peer whose certificate key matches none of ``host``'s pins.

    Called right after every handshake, by both clients; hosts without pins pass.
    """
    pins = policy.pins_for(host)
    if pins is None:
        return
    der = ssl_object.getpeercert(True) if ssl_object is not None else None
    if (spki_pin(der) if der else None) not in pins:
        raise NetworkGuardError(
            f"the certificate key of {host} matches none of its pins",
            hint=HINT_PINS,
            code="pin_mismatch",
        )


def resolve_checked(host: str, port: int, policy: NetworkPolicy, resolver: Resolver) -> list[str]:
    """Resolve ``host`` once and return its addresses, all of them allowed by ``policy``.

    Raises NetworkGuardError when any address is blocked, ResolveError when the
    name does not resolve.
    """
    literal = parse_literal_host(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = list(resolver(host, port))
        except (OSError, UnicodeError) as exc:  # UnicodeError: a label IDNA refuses
            raise ResolveError(f"could not resolve {host}: {exc}") from exc
        if not addresses:
            raise ResolveError(f"could not resolve {host}: no addresses")
    check_addresses(host, addresses, policy)
    return addresses


class LazySSLContext:
    """Stands in for the SSLContext until the first TLS handshake needs it.

    Plain-http runs and cache hits should not pay for loading the trust store at
    start-up. httpcore only calls
    ``set_alpn_protocols`` on it before handing it to our stream's ``start_tls``.
    """

    def __init__(self, factory: Callable[[], ssl.SSLContext]) -> None:
        self._factory = factory
        self._context: ssl.SSLContext | None = None
        self._alpn: list[str] | None = None

    def set_alpn_protocols(self, protocols: Iterable[str]) -> None:
        self._alpn = list(protocols)
        if self._context is not None:
            self._context.set_alpn_protocols(self._alpn)

    def get(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = self._factory()
            if self._alpn is not None:
                self._context.set_alpn_protocols(self._alpn)
        return self._context


def check_ca_bundle(policy: NetworkPolicy) -> None:
    """Load the tenant's ``tls.ca_bundle`` once when a client is made: a broken bundle
    is a ConfigError then, not only when an https server is first asked."""
    if policy.ca_bundle:
        load_cas(
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), policy.ca_bundle, "cafile", "tls.ca_bundle"
        )


def build_ssl_context(policy: NetworkPolicy, env: Mapping[str, str]) -> ssl.SSLContext:
    """System trust (plus SSL_CERT_FILE / SSL_CERT_DIR from ``env``) plus tls.ca_bundle."""
    ctx = ssl.create_default_context()
    for var, kind in (("SSL_CERT_FILE", "cafile"), ("SSL_CERT_DIR", "capath")):
        value = env.get(var)
        if value:
            load_cas(ctx, value, kind, var)
    if policy.ca_bundle:
        load_cas(ctx, policy.ca_bundle, "cafile", "tls.ca_bundle")
    return ctx


def load_cas(ctx: ssl.SSLContext, location: str, kind: str, setting: str) -> None:
    path = str(Path(location).expanduser())
    try:
        if kind == "cafile":
            ctx.load_verify_locations(cafile=path)
        else:
            ctx.load_verify_locations(capath=path)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
        raise ConfigError(
            f"{setting}: cannot load CA certificates from {path} ({reason})",
            hint=f"point {setting} at a readable PEM file",
        ) from None
