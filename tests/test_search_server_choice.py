"""Where a search goes (``policy.server_choice.choose_search_server``): --server, the
tenant's servers.search, servers.all, the bootstrap for a literal TLD or object tag,
else exit 8 with a hint. Against the embedded IANA registries (real files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdapctl.core.errors import ExitCode, NoServerError
from rdapctl.policy.server_choice import choose_search_server
from rdapctl.policy.tenant import Servers, Tenant
from rdapctl.rdap.bootstrap import Bootstrap
from rdapctl.rdap.search import make_search
from rdapctl.store.bootstrap_files import open_bootstrap


@pytest.fixture
def bootstrap(tmp_path: Path) -> Bootstrap:
    return open_bootstrap(tmp_path / "no-updates")


def test_explicit_server_wins(bootstrap: Bootstrap) -> None:
    tenant = Tenant(servers=Servers(search="https://search.example/", all="https://all.example/"))
    choice = choose_search_server(
        make_search("domains", "name", "exa*.com"), tenant, bootstrap, "https://given.example"
    )
    assert choice.base_url == "https://given.example/"


def test_servers_search_then_servers_all(bootstrap: Bootstrap) -> None:
    request = make_search("nameservers", "ip", "192.0.2.1")
    both = Tenant(servers=Servers(search="https://search.example", all="https://all.example/"))
    assert choose_search_server(request, both, bootstrap).base_url == "https://search.example/"
    mirror = Tenant(servers=Servers(all="https://all.example/"))
    assert choose_search_server(request, mirror, bootstrap).base_url == "https://all.example/"


def test_a_literal_tld_finds_its_registry(bootstrap: Bootstrap) -> None:
    """domains --name with a literal TLD goes where a lookup of that TLD would."""
    choice = choose_search_server(make_search("domains", "name", "exa*.com"), Tenant(), bootstrap)
    assert choice.base_url == "https://rdap.verisign.com/com/v1/"
    assert "com" in choice.reason


def test_a_tenant_override_of_the_tld_is_used(bootstrap: Bootstrap) -> None:
    tenant = Tenant(servers=Servers(domains={"com": "https://mirror.example/com/"}))
    choice = choose_search_server(make_search("domains", "name", "exa*.com"), tenant, bootstrap)
    assert choice.base_url == "https://mirror.example/com/"


def test_an_object_tag_finds_its_registry(bootstrap: Bootstrap) -> None:
    request = make_search("entities", "handle", "ABC*-ARIN")
    choice = choose_search_server(request, Tenant(), bootstrap)
    assert choice.base_url.startswith("https://rdap.arin.net/")


@pytest.mark.parametrize(
    ("kind", "param", "pattern", "reverse"),
    [
        ("domains", "name", "exa*.c*", False),  # the TLD is a pattern
        ("domains", "name", "example*", False),  # no TLD at all
        ("domains", "nsLdhName", "ns1.example.com", False),  # names a server, not the domain
        ("entities", "handle", "ABC*", False),  # no object tag
        ("entities", "fn", "ACME*", False),
        ("domains", "handle", "ABC-ARIN", True),  # reverse searches have no registry
    ],
)
def test_no_server_is_exit_8_with_a_hint(
    bootstrap: Bootstrap, kind: str, param: str, pattern: str, reverse: bool
) -> None:
    request = make_search(kind, param, pattern, reverse=reverse)
    with pytest.raises(NoServerError) as caught:
        choose_search_server(request, Tenant(), bootstrap)
    assert caught.value.exit_code == ExitCode.NO_SERVER
    assert caught.value.hint is not None
    assert "--server" in caught.value.hint and "servers.search" in caught.value.hint
