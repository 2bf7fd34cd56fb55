"""Bootstrap matching (RFC 9224 / RFC 8521) and server selection with tenant overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rdapctl.bootstrap import Bootstrap, choose_server, query_url
from rdapctl.errors import ExitCode, NoServerError
from rdapctl.query import parse_query
from rdapctl.tenant import Servers, Tenant


@pytest.fixture
def boot(tmp_path: Path) -> Bootstrap:
    return Bootstrap(tmp_path / "no-updates")


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
    boot = Bootstrap(updated)
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
    boot = Bootstrap(updated)
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
