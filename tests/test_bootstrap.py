"""Bootstrap matching (RFC 9224 / RFC 8521) and server selection with tenant overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rdapctl.core.errors import ExitCode, NoServerError
from rdapctl.policy.server_choice import choose_server
from rdapctl.policy.tenant import Servers, Tenant
from rdapctl.rdap.bootstrap import Bootstrap, query_url
from rdapctl.rdap.query import parse_query
from rdapctl.store.bootstrap_files import open_bootstrap


@pytest.fixture
def boot(tmp_path: Path) -> Bootstrap:
    return open_bootstrap(tmp_path / "no-updates")


@pytest.mark.parametrize(
    ("raw", "server"),
    [
        ("example.com", "https://rdap.verisign.com/com/v1/"),
        ("nic.fr", "https://rdap.nic.fr/"),
        ("8.8.8.8", "https://rdap.arin.net/registry/"),
        ("193.0.0.1", "https://rdap.db.ripe.net/"),
        ("1.1.1.1", "https://rdap.apnic.net/"),
        ("2001:4860::1", "https://rdap.arin.net/registry/"),
        ("AS3333", "https://rdap.db.ripe.net/"),
        ("AS15169", "https://rdap.arin.net/registry/"),
        ("ORG-XY1-RIPE", "https://rdap.db.ripe.net/"),
        ("ABC123-ARIN", "https://rdap.arin.net/registry/"),
        ("152.112.149.in-addr.arpa", "https://rdap.arin.net/registry/"),
    ],
)
def test_embedded_bootstrap_finds_the_registry(boot: Bootstrap, raw: str, server: str) -> None:
    """The embedded registries answer the first lookup with no download."""
    choice = choose_server(parse_query(raw), Tenant(), boot)
    assert choice.base_url == server
    assert choice.reason


def test_https_is_preferred(boot: Bootstrap) -> None:
    """When a registry lists http and https base URLs, https comes first."""
    choice = choose_server(parse_query("AS36864"), Tenant(), boot)
    assert choice.servers[0].startswith("https://")
    assert any(s.startswith("http://") for s in choice.servers[1:])


def test_longest_ip_prefix_wins(tmp_path: Path) -> None:
    """A more specific prefix beats a covering one."""
    updated = tmp_path / "boot"
    updated.mkdir()
    doc = {
        "version": "1.0",
        "publication": "2030-01-01T00:00:00Z",
        "services": [
            [["10.0.0.0/8"], ["https://wide.example/"]],
            [["10.1.0.0/16"], ["https://narrow.example/"]],
        ],
    }
    (updated / "ipv4.json").write_text(json.dumps(doc))
    boot = open_bootstrap(updated)
    assert (
        choose_server(parse_query("10.1.2.3"), Tenant(), boot).base_url == "https://narrow.example/"
    )
    assert (
        choose_server(parse_query("10.2.2.3"), Tenant(), boot).base_url == "https://wide.example/"
    )
    assert boot.registry("ipv4").source == "updated"
    assert boot.registry("dns").source == "embedded"


def test_invalid_updated_copy_falls_back_to_embedded(tmp_path: Path) -> None:
    """A broken updated file never breaks lookups: the embedded copy is used."""
    updated = tmp_path / "boot"
    updated.mkdir()
    (updated / "dns.json").write_text('{"services": [')
    boot = open_bootstrap(updated)
    assert boot.registry("dns").source == "embedded"


def test_no_server_exits_8_with_hint(boot: Bootstrap) -> None:
    """A TLD nobody serves is exit 8 with a --server hint."""
    with pytest.raises(NoServerError) as info:
        choose_server(parse_query("example.invalid"), Tenant(), boot)
    assert info.value.exit_code == ExitCode.NO_SERVER
    assert "--server" in (info.value.hint or "")


def test_tenant_overrides_beat_bootstrap(boot: Bootstrap) -> None:
    """servers.* overrides are consulted before IANA; fallback only when IANA knows nothing."""
    tenant = Tenant(
        servers=Servers(
            fallback="https://fallback.example",
            domains={"co.uk": "https://couk.example/", "com": "https://mirror.example/com/"},
            ip={"10.0.0.0/8": "https://internal.example/"},
            autnum={"64496-64511": "https://internal.example/"},
            entity={"EXAMPLE": "https://entity.example/"},
        )
    )
    pick = lambda raw: choose_server(parse_query(raw), tenant, boot).base_url  # noqa: E731
    assert pick("example.com") == "https://mirror.example/com/"
    assert pick("bbc.co.uk") == "https://couk.example/"
    assert pick("10.9.9.9") == "https://internal.example/"
    assert pick("AS64500") == "https://internal.example/"
    assert pick("X1-EXAMPLE") == "https://entity.example/"
    assert pick("example.invalid") == "https://fallback.example/"
    assert pick("nic.fr") == "https://rdap.nic.fr/"


def test_servers_all_and_explicit_server(boot: Bootstrap) -> None:
    """--server beats everything; servers.all sends every query to the mirror."""
    mirror = Tenant(servers=Servers(all="https://mirror.example"))
    q = parse_query("example.com")
    assert choose_server(q, mirror, boot).base_url == "https://mirror.example/"
    explicit = choose_server(q, mirror, boot, "https://cli.example/rdap")
    assert query_url(explicit, q) == "https://cli.example/rdap/domain/example.com"


def test_url_query_carries_its_server(boot: Bootstrap) -> None:
    """A full RDAP URL is fetched as is."""
    q = parse_query("https://rdap.example/domain/x.com")
    assert query_url(choose_server(q, Tenant(), boot), q) == "https://rdap.example/domain/x.com"


# The matchers as they first were: a scan of the registry per query. The indexed ones
# must give the same choice (URLs and reason) for every query.
def _scan_domain(boot: Bootstrap, name: str) -> tuple[tuple[str, ...], str] | None:
    from rdapctl.rdap.bootstrap import _prefer_https

    table = {k.lower(): urls for keys, urls in boot.registry("dns").services for k in keys}
    labels = name.split(".")
    for i in range(len(labels)):
        suffix = ".".join(labels[i:])
        if suffix in table:
            return _prefer_https(
                table[suffix]
            ), f"IANA dns registry: longest matching suffix .{suffix}"
    return None


def _scan_ip(boot: Bootstrap, raw: str) -> tuple[tuple[str, ...], str] | None:
    import ipaddress

    from rdapctl.rdap.bootstrap import _prefer_https

    network = ipaddress.ip_network(raw, strict=False)
    name = "ipv4" if network.version == 4 else "ipv6"
    index = [
        (ipaddress.ip_network(k, strict=False), urls)
        for keys, urls in boot.registry(name).services
        for k in keys
    ]
    index.sort(key=lambda item: item[0].prefixlen, reverse=True)
    for candidate, urls in index:
        if candidate.version == network.version and network.subnet_of(candidate):  # type: ignore[arg-type]
            return _prefer_https(urls), f"IANA {name} registry: longest matching prefix {candidate}"
    return None


def _scan_asn(boot: Bootstrap, asn: int) -> tuple[tuple[str, ...], str] | None:
    from rdapctl.rdap.bootstrap import _prefer_https

    for keys, urls in boot.registry("asn").services:
        for key in keys:
            low, _, high = key.partition("-")
            if int(low) <= asn <= int(high or low):
                return _prefer_https(urls), f"IANA asn registry: range {key}"
    return None


def _found(choice: object) -> tuple[tuple[str, ...], str] | None:
    return None if choice is None else (choice.servers, choice.reason)  # type: ignore[attr-defined]


def test_indexed_matching_gives_what_a_registry_scan_gives(boot: Bootstrap) -> None:
    """Every TLD, every IP prefix's first and last address and a few either side, every
    ASN range's ends and neighbours, and networks wider than a prefix: same answer."""
    import ipaddress
    import random

    tlds = [k for keys, _ in boot.registry("dns").services for k in keys]
    for tld in tlds:
        for name in (tld.lower(), f"example.{tld.lower()}", f"a.b.{tld.lower()}"):
            assert _found(boot._match_domain(name)) == _scan_domain(boot, name), name
    assert boot._match_domain("example.invalid") is None

    rng = random.Random(6)
    queries: list[str] = []
    for name in ("ipv4", "ipv6"):
        for keys, _ in boot.registry(name).services:
            for key in keys:
                net = ipaddress.ip_network(key, strict=False)
                first, last = int(net.network_address), int(net.broadcast_address)
                for value in (first - 1, first, last, last + 1):
                    if 0 <= value < 2**net.max_prefixlen:
                        address = (
                            ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
                        )
                        queries.append(str(address(value)))
                if net.prefixlen > 4:
                    queries.append(str(net.supernet(new_prefix=net.prefixlen - 4)))
                queries.append(str(net))
    queries += [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(500)]
    queries += [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(500)]
    queries += ["0.0.0.0/0", "::/0", "2001::/16"]
    for raw in queries:
        network = ipaddress.ip_network(raw, strict=False)
        assert _found(boot._match_ip(network)) == _scan_ip(boot, raw), raw

    for keys, _ in boot.registry("asn").services:
        for key in keys:
            low, _, high = key.partition("-")
            for asn in (int(low) - 1, int(low), int(high or low), int(high or low) + 1):
                assert _found(boot._match_asn(asn)) == _scan_asn(boot, asn), asn


def test_overlapping_asn_ranges_and_repeated_prefixes_keep_registry_order(
    tmp_path: Path,
) -> None:
    """A registry file IANA would not publish still matches as its order says."""
    updated = tmp_path / "boot"
    updated.mkdir()

    def write(name: str, services: list[object]) -> None:
        doc = {"version": "1.0", "publication": "2030-01-01T00:00:00Z", "services": services}
        (updated / f"{name}.json").write_text(json.dumps(doc))

    write(
        "asn",
        [
            [["100-200"], ["https://first.example/"]],
            [["150-300"], ["https://second.example/"]],
        ],
    )
    write(
        "ipv4",
        [
            [["10.0.0.0/8"], ["https://first.example/"]],
            [["10.0.0.0/8"], ["https://second.example/"]],
        ],
    )
    boot = open_bootstrap(updated)
    pick = lambda raw: choose_server(parse_query(raw), Tenant(), boot).base_url  # noqa: E731
    assert pick("AS160") == "https://first.example/"
    assert pick("AS250") == "https://second.example/"
    assert pick("10.1.2.3") == "https://first.example/"
    with pytest.raises(NoServerError):
        pick("AS99")


def test_threads_matching_at_once_on_a_fresh_bootstrap_all_find_their_server(
    tmp_path: Path,
) -> None:
    """Batch lookup threads hit the first match together: none may see an index that
    is still being built (a batch once answered 1 line in 150 with "no server")."""
    import sys
    import threading

    queries = [parse_query(q) for q in ("example.com", "1.1.1.1", "2001:4860::1", "AS3333")]

    def work(boot: Bootstrap, start: threading.Barrier, misses: list[str]) -> None:
        start.wait()
        for _ in range(50):
            misses.extend(q.value for q in queries if boot.match(q) is None)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the GIL over as often as possible
    try:
        for _ in range(5):
            boot, start, misses = open_bootstrap(tmp_path / "none"), threading.Barrier(8), []
            threads = [threading.Thread(target=work, args=(boot, start, misses)) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert misses == []
    finally:
        sys.setswitchinterval(switch)


def test_ip_overrides_pick_the_longest_prefix_then_the_first_listed(boot: Bootstrap) -> None:
    """servers.ip: the most specific prefix holding the address wins; between equal
    prefixes the one listed first; a bad key is skipped; other versions never match."""
    tenant = Tenant(
        servers=Servers(
            ip={
                "not-a-prefix": "https://bad.example/",
                "10.0.0.0/8": "https://wide.example/",
                "10.1.0.0/16": "https://narrow.example/",
                "10.1.0.0/255.255.0.0": "https://same-but-later.example/",
                "2001:db8::/32": "https://v6.example/",
            }
        )
    )
    pick = lambda raw: choose_server(parse_query(raw), tenant, boot).base_url  # noqa: E731
    assert pick("10.1.2.3") == "https://narrow.example/"
    assert pick("10.2.0.1") == "https://wide.example/"
    assert pick("2001:db8::1") == "https://v6.example/"
    assert pick("8.8.8.8") == "https://rdap.arin.net/registry/"
