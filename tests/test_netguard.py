"""The network guard's decisions: URL rules, literal host spellings, address categories."""

from __future__ import annotations

import sys
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from rdapctl.core.errors import ConfigError, ExitCode, NetworkGuardError, UsageError
from rdapctl.net.guard import (
    NetworkPolicy,
    blocked_reason,
    check_addresses,
    check_url,
    explain,
    parse_literal_host,
)
from rdapctl.policy.tenant import Security, Tenant, Tls

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"

DEFAULT = NetworkPolicy()
HTTP = NetworkPolicy(allow_http=True)
PRIVATE_ALL = NetworkPolicy(allow_private=True)
LOOPBACK_ONLY = NetworkPolicy.from_tenant(
    Tenant(security=Security(allow_private_ips=("127.0.0.1/32", "fd00::/8")))
)
TEN_NET = NetworkPolicy.from_tenant(Tenant(security=Security(allow_private_ips=("10.0.0.0/8",))))
PORTS = NetworkPolicy(allowed_ports=(443, 8443))


def decide(url: str, addresses: list[str], policy: NetworkPolicy) -> NetworkGuardError | None:
    """What the transport would decide: URL rules, then every address (or the literal)."""
    try:
        target = check_url(url, policy)
        check_addresses(target.host, [target.address] if target.address else addresses, policy)
    except NetworkGuardError as exc:
        return exc
    return None


ALLOWED = None
CASES: list[tuple[str, list[str], NetworkPolicy, str | None]] = [
    # public hosts
    ("https://rdap.example/domain/x", [PUBLIC_V4], DEFAULT, ALLOWED),
    ("https://rdap.example/", [PUBLIC_V6], DEFAULT, ALLOWED),
    ("https://rdap.example/", [PUBLIC_V4, PUBLIC_V6], DEFAULT, ALLOWED),
    (f"https://{PUBLIC_V4}/", [], DEFAULT, ALLOWED),
    (f"https://[{PUBLIC_V6}]/", [], DEFAULT, ALLOWED),
    # scheme, credentials, ports
    ("http://rdap.example/", [PUBLIC_V4], DEFAULT, "plain http"),
    ("http://rdap.example/", [PUBLIC_V4], HTTP, ALLOWED),
    ("ftp://rdap.example/", [PUBLIC_V4], HTTP, "scheme 'ftp'"),
    ("file:///etc/passwd", [], HTTP, "scheme 'file'"),
    ("https://user:secret@rdap.example/", [PUBLIC_V4], DEFAULT, "credentials"),
    ("https://user@rdap.example/", [PUBLIC_V4], DEFAULT, "credentials"),
    ("https://rdap.example:8443/", [PUBLIC_V4], DEFAULT, "port 8443"),
    ("https://rdap.example:8443/", [PUBLIC_V4], PORTS, ALLOWED),
    ("https://rdap.example:443/", [PUBLIC_V4], DEFAULT, ALLOWED),
    ("https://rdap.example:80/", [PUBLIC_V4], HTTP, ALLOWED),
    ("http://rdap.example:8080/", [PUBLIC_V4], HTTP, "port 8080"),
    # resolved addresses, every category
    ("https://rdap.example/", ["127.0.0.1"], DEFAULT, "loopback"),
    ("https://rdap.example/", ["127.255.0.9"], DEFAULT, "loopback"),
    ("https://rdap.example/", ["::1"], DEFAULT, "loopback"),
    ("https://rdap.example/", ["10.0.0.5"], DEFAULT, "private (RFC 1918)"),
    ("https://rdap.example/", ["172.16.3.4"], DEFAULT, "private (RFC 1918)"),
    ("https://rdap.example/", ["192.168.1.1"], DEFAULT, "private (RFC 1918)"),
    ("https://rdap.example/", ["fd12:3456::1"], DEFAULT, "unique local"),
    ("https://rdap.example/", ["169.254.169.254"], DEFAULT, "metadata"),
    ("https://rdap.example/", ["169.254.10.1"], DEFAULT, "link-local"),
    ("https://rdap.example/", ["fe80::1"], DEFAULT, "link-local"),
    ("https://rdap.example/", ["100.64.0.1"], DEFAULT, "shared address space"),
    ("https://rdap.example/", ["0.0.0.0"], DEFAULT, "unspecified"),
    ("https://rdap.example/", ["::"], DEFAULT, "unspecified"),
    ("https://rdap.example/", ["0.1.2.3"], DEFAULT, "this network"),
    ("https://rdap.example/", ["224.0.0.1"], DEFAULT, "multicast"),
    ("https://rdap.example/", ["ff02::1"], DEFAULT, "multicast"),
    ("https://rdap.example/", ["255.255.255.255"], DEFAULT, "broadcast"),
    ("https://rdap.example/", ["240.0.0.1"], DEFAULT, "reserved"),
    ("https://rdap.example/", ["192.0.2.1"], DEFAULT, "documentation"),
    ("https://rdap.example/", ["198.51.100.7"], DEFAULT, "documentation"),
    ("https://rdap.example/", ["203.0.113.9"], DEFAULT, "documentation"),
    ("https://rdap.example/", ["2001:db8::1"], DEFAULT, "documentation"),
    ("https://rdap.example/", ["198.18.0.1"], DEFAULT, "benchmarking"),
    ("https://rdap.example/", ["2001:2::1"], DEFAULT, "benchmarking"),
    ("https://rdap.example/", ["192.0.0.8"], DEFAULT, "IETF protocol assignments"),
    # one public and one private answer: blocked (either order)
    ("https://rdap.example/", [PUBLIC_V4, "10.0.0.5"], DEFAULT, "10.0.0.5 of rdap.example"),
    ("https://rdap.example/", ["::1", PUBLIC_V4], DEFAULT, "loopback"),
    # IPv6 forms that embed an IPv4 address
    ("https://rdap.example/", ["::ffff:10.0.0.1"], DEFAULT, "IPv4-mapped (10.0.0.1"),
    ("https://rdap.example/", ["::ffff:169.254.169.254"], DEFAULT, "metadata"),
    ("https://rdap.example/", ["::7f00:1"], DEFAULT, "IPv4-compatible (127.0.0.1"),
    ("https://rdap.example/", ["64:ff9b::a9fe:a9fe"], DEFAULT, "NAT64 (169.254.169.254"),
    ("https://rdap.example/", ["64:ff9b:1:7f00:0:100::"], DEFAULT, "NAT64 (127.0.0.1"),
    ("https://rdap.example/", ["2002:c0a8:101::1"], DEFAULT, "6to4 (192.168.1.1"),
    ("https://rdap.example/", ["64:ff9b::5db8:d822"], DEFAULT, ALLOWED),
    ("https://rdap.example/", ["2002:5db8:d822::1"], DEFAULT, ALLOWED),
    ("https://rdap.example/", ["::ffff:93.184.216.34"], DEFAULT, ALLOWED),
    # literal hosts in every spelling
    ("https://127.0.0.1/", [], DEFAULT, "127.0.0.1 is loopback"),
    ("https://2130706433/", [], DEFAULT, "127.0.0.1 of 2130706433 is loopback"),
    ("https://0177.0.0.1/", [], DEFAULT, "127.0.0.1 of 0177.0.0.1 is loopback"),
    ("https://0x7f.1/", [], DEFAULT, "127.0.0.1 of 0x7f.1 is loopback"),
    ("https://127.1/", [], DEFAULT, "loopback"),
    ("https://0x7f000001/", [], DEFAULT, "loopback"),
    ("https://0X7F.0.0.1/", [], DEFAULT, "loopback"),
    ("https://127.0.0.1./", [], DEFAULT, "loopback"),
    ("https://0xa9.0xfe.0xa9.0xfe/", [], DEFAULT, "metadata"),
    ("https://012.0.0.1/", [], DEFAULT, "private (RFC 1918)"),
    ("https://0/", [], DEFAULT, "unspecified"),
    ("https://[::ffff:127.0.0.1]/", [], DEFAULT, "IPv4-mapped (127.0.0.1: loopback)"),
    ("https://[::ffff:7f00:1]/", [], DEFAULT, "IPv4-mapped (127.0.0.1: loopback)"),
    ("https://[::1]/", [], DEFAULT, "loopback"),
    ("https://[fe80::1%25eth0]/", [], DEFAULT, "link-local"),
    ("https://127。0。0。1/", [], DEFAULT, "loopback"),
    ("https://1.2.3.256/", [], DEFAULT, "not a valid one"),
    ("https://1.2.3.4.5/", [], DEFAULT, "not a valid one"),
    ("https://08.0.0.1/", [], DEFAULT, "not a valid one"),
    # allow_private_ips: true, and as a list of CIDRs (inside and outside)
    ("https://rdap.example/", ["10.0.0.5"], PRIVATE_ALL, ALLOWED),
    ("https://127.0.0.1/", [], PRIVATE_ALL, ALLOWED),
    ("https://rdap.example/", ["127.0.0.1"], LOOPBACK_ONLY, ALLOWED),
    ("https://127.1/", [], LOOPBACK_ONLY, ALLOWED),
    ("https://[::ffff:127.0.0.1]/", [], LOOPBACK_ONLY, ALLOWED),
    ("https://rdap.example/", ["127.0.0.2"], LOOPBACK_ONLY, "127.0.0.2 of rdap.example"),
    ("https://rdap.example/", ["fd00::5"], LOOPBACK_ONLY, ALLOWED),
    ("https://rdap.example/", ["fc00::5"], LOOPBACK_ONLY, "unique local"),
    ("https://rdap.example/", ["10.200.1.1"], TEN_NET, ALLOWED),
    ("https://rdap.example/", ["10.200.1.1", "192.168.0.1"], TEN_NET, "192.168.0.1"),
    ("https://rdap.example/", ["169.254.169.254"], TEN_NET, "metadata"),
]


@pytest.mark.parametrize(("url", "addresses", "policy", "expected"), CASES)
def test_guard_decides_each_url_and_address(
    url: str, addresses: list[str], policy: NetworkPolicy, expected: str | None
) -> None:
    """Each URL/answer combination is allowed, or refused naming the rule that blocked it."""
    error = decide(url, addresses, policy)
    if expected is None:
        assert error is None, error and error.message
    else:
        assert error is not None, f"{url} {addresses} should be blocked"
        assert expected in error.message
        assert error.exit_code == ExitCode.DENIED
        assert error.code == "ssrf_blocked"


def test_battery_has_at_least_forty_cases() -> None:
    """The table stays broad enough to cover every category and spelling."""
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1.258", "10.1.1.2"),
        ("0x7f000001", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
        ("::1", "::1"),
    ],
)
def test_literal_spellings_normalise_like_inet_aton(spelling: str, address: str) -> None:
    """Numeric host spellings are read as the address a resolver would connect to."""
    assert parse_literal_host(spelling) == ip_address(address)


@pytest.mark.parametrize("name", ["rdap.example", "rdap.example.", "127.0.0.1.nip.io", "1e3", "x"])
def test_host_names_are_not_literals(name: str) -> None:
    """Host names (even ones starting with digits) are left for the resolver."""
    assert parse_literal_host(name) is None


def test_hints_name_the_profile_key_that_would_allow_it() -> None:
    """Every refusal tells the user which tenant setting to change."""
    hints = {
        "https://rdap.example/": ["10.0.0.1"],
        "http://rdap.example/": [PUBLIC_V4],
        "https://rdap.example:8443/": [PUBLIC_V4],
    }
    found = []
    for url, addresses in hints.items():
        error = decide(url, addresses, DEFAULT)
        assert error is not None and error.hint
        found.append(error.hint)
    assert "security.allow_private_ips" in found[0]
    assert "security.allow_http" in found[1]
    assert "security.allowed_ports" in found[2]


def test_credentials_never_appear_in_the_message() -> None:
    """A URL with a password is refused without echoing the password."""
    error = decide("https://admin:hunter2@rdap.example/", [PUBLIC_V4], DEFAULT)
    assert error is not None
    assert "hunter2" not in error.message
    assert "hunter2" not in (error.hint or "")


def test_unparseable_url_is_a_usage_error_without_credentials() -> None:
    """A URL with an impossible port is bad input, reported without its password."""
    with pytest.raises(UsageError) as info:
        check_url("https://me:hunter2@rdap.example:99999/", DEFAULT)
    assert "hunter2" not in info.value.message


def test_default_port_is_used_when_none_is_given() -> None:
    """https without a port means 443, http means 80."""
    assert check_url("https://rdap.example/x", DEFAULT).port == 443
    assert check_url("http://rdap.example/x", HTTP).port == 80


def test_explain_gives_a_verdict_per_address() -> None:
    """The dry run lists each resolved address with the rule that applied."""
    verdicts = explain("https://rdap.example/", [PUBLIC_V4, "10.0.0.5"], TEN_NET)
    assert [v.allowed for v in verdicts] == [True, True]
    assert verdicts[0].category is None
    assert "10.0.0.0/8" in verdicts[1].rule
    blocked = explain("https://rdap.example/", ["169.254.169.254"], TEN_NET)
    assert not blocked[0].allowed
    assert "metadata" in blocked[0].rule
    assert "security.allow_private_ips" in (blocked[0].hint or "")


def test_explain_uses_the_literal_address_of_the_url() -> None:
    """For a numeric host the dry run judges the address the URL denotes."""
    (only,) = explain("https://0x7f.1/", ["8.8.8.8"], DEFAULT)
    assert only.address == "127.0.0.1"
    assert not only.allowed


def test_explain_refuses_url_level_violations() -> None:
    """When the URL itself is refused there is no address to judge."""
    with pytest.raises(NetworkGuardError, match="plain http"):
        explain("http://rdap.example/", [PUBLIC_V4], DEFAULT)


def test_resolver_garbage_is_blocked() -> None:
    """A resolver answer that is not an address is refused rather than trusted."""
    with pytest.raises(NetworkGuardError, match="not an IP address"):
        check_addresses("rdap.example", ["not-an-ip"], DEFAULT)


def test_no_addresses_is_refused() -> None:
    """An empty answer cannot be connected to safely."""
    with pytest.raises(NetworkGuardError):
        check_addresses("rdap.example", [], DEFAULT)


def test_blocked_reason_is_none_for_public_addresses() -> None:
    """Public unicast addresses have no blocking category."""
    assert blocked_reason(IPv4Address(PUBLIC_V4)) is None
    assert blocked_reason(IPv6Address(PUBLIC_V6)) is None


def test_policy_from_tenant_reads_security_and_tls() -> None:
    """The policy mirrors the tenant's security and tls settings."""
    pin = "sha256/" + "A" * 43 + "="
    tenant = Tenant(
        security=Security(allow_http=True, allowed_ports=(443, 8443), allow_private_ips=True),
        tls=Tls(ca_bundle="/tmp/ca.pem", certificate_pinning=True, pins={"RDAP.Example.": (pin,)}),
    )
    policy = NetworkPolicy.from_tenant(tenant)
    assert policy.allow_http and policy.allow_private
    assert policy.effective_ports == {80, 443, 8443}
    assert policy.ca_bundle == "/tmp/ca.pem"
    assert policy.pins_for("rdap.example") == (pin,)
    assert policy.pins_for("other.example") is None


@pytest.mark.parametrize(
    "tenant",
    [
        Tenant(security=Security(allow_private_ips=("not-a-cidr",))),
        Tenant(tls=Tls(certificate_pinning=True, pins={"rdap.example": ("md5/abc",)})),
        Tenant(tls=Tls(certificate_pinning=True, pins={"rdap.example": ("sha256/short",)})),
    ],
)
def test_malformed_policy_values_are_config_errors(tenant: Tenant) -> None:
    """A bad CIDR or pin in the profile is a configuration error, not a crash."""
    with pytest.raises(ConfigError) as info:
        NetworkPolicy.from_tenant(tenant)
    assert info.value.exit_code == ExitCode.CONFIG


def test_netguard_does_not_import_httpx() -> None:
    """The guard is pure: importing it pulls in no HTTP stack."""
    import subprocess

    code = "import rdapctl.net.guard, sys; print('httpx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
