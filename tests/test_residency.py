"""Data residency: server regions, the tenant policy matrix, anonymised records."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from rdapctl.core.errors import ConfigError, ExitCode, PolicyDeniedError, UsageError
from rdapctl.policy.contact_text import find_pii
from rdapctl.policy.residency import (
    COUNTRY_REGIONS,
    RegionInfo,
    anonymise_record,
    canonical_json,
    decide,
    region_for,
    residency_refusal,
)
from rdapctl.policy.tenant import REGIONS, Tenant
from tests.support import all_fixture_files, load_fixture

BOOTSTRAP_DNS = Path(__file__).parent.parent / "src" / "rdapctl" / "data" / "bootstrap" / "dns.json"


# --- region_for -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "region", "reason"),
    [
        ("https://rdap.arin.net/registry/", "north-america", "RIR ARIN"),
        ("https://rdap.db.ripe.net/", "europe", "RIR RIPE NCC"),
        ("https://rdap.apnic.net/", "asia-pacific", "RIR APNIC"),
        ("https://rdap.lacnic.net/rdap/", "latin-america", "RIR LACNIC"),
        ("https://rdap.afrinic.net/rdap/", "africa", "RIR AFRINIC"),
        ("https://rdap.registro.br/", "latin-america", "NIR NIC.br"),
        ("https://rdap.verisign.com/com/v1/", "north-america", "gTLD back-end Verisign"),
        ("https://tld-rdap.verisign.com/name/v1/", "north-america", "gTLD back-end Verisign"),
        ("https://rdap.centralnic.com/xyz/", "europe", "gTLD back-end CentralNic"),
        ("https://rdap.zdnsgtld.com/top/", "asia-pacific", "gTLD back-end ZDNS"),
        ("https://pubapi.registry.google/rdap/", "north-america", "gTLD back-end Google Registry"),
        ("https://rdap.iana.org/", "global", "IANA"),
    ],
)
def test_region_for_known_registry_hosts(url: str, region: str, reason: str) -> None:
    """RIRs, NIRs and the big gTLD back-ends are placed by host, with the reason named."""
    assert region_for(url) == RegionInfo(region, reason)


@pytest.mark.parametrize(
    ("tld", "region", "country"),
    [
        ("fr", "europe", "FR"),
        ("DE", "europe", "DE"),
        (".jp", "asia-pacific", "JP"),
        ("br", "latin-america", "BR"),
        ("mx", "latin-america", "MX"),
        ("za", "africa", "ZA"),
        ("ae", "middle-east", "AE"),
        ("tr", "middle-east", "TR"),
        ("us", "north-america", "US"),
        ("ca", "north-america", "CA"),
        ("uk", "europe", "GB"),
        ("eu", "europe", "EU"),
        ("рф", "europe", "RU"),
        ("xn--p1ai", "europe", "RU"),
        ("xn--fiqs8s", "asia-pacific", "CN"),
        ("pr", "latin-america", "PR"),
    ],
)
def test_query_cctld_decides_whatever_the_host(tld: str, region: str, country: str) -> None:
    """The ccTLD of the queried domain sets the region even when the host says otherwise."""
    info = region_for("https://rdap.verisign.com/x/", query_tld=tld)
    assert info.region == region
    assert info.reason.startswith("ccTLD .") and info.reason.endswith(f"({country})")


def test_query_gtld_falls_back_to_the_server_host() -> None:
    """A gTLD query (.com) says nothing about location: the host decides."""
    assert region_for("https://rdap.verisign.com/com/v1/", query_tld="com").region == (
        "north-america"
    )


def test_query_tld_accepts_a_whole_domain_name() -> None:
    """Passing the full domain instead of the TLD still finds its ccTLD."""
    assert region_for("https://rdap.example.net/", query_tld="afnic.fr.").region == "europe"


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://rdap.nic.fr/", "europe"),
        ("https://rdap.sidn.nl/", "europe"),
        ("https://rdap.kenic.or.ke/", "africa"),
        ("https://rdap.sgnic.sg/", "asia-pacific"),
        ("https://rdap.registry.ec/", "latin-america"),
        ("https://rdap.nic.io/", "europe"),
    ],
)
def test_cctld_registry_host_is_placed_by_its_country(url: str, region: str) -> None:
    """A host under a country code (rdap.nic.fr) is placed in that country's region."""
    info = region_for(url)
    assert info.region == region
    assert info.reason.startswith("ccTLD host .")


@pytest.mark.parametrize("url", ["https://rdap.example.io/", "https://whois.startup.co/x"])
def test_generic_use_cctld_host_is_not_trusted(url: str) -> None:
    """Hosts under .io/.co that are not the registry's own say nothing about location."""
    assert region_for(url) == RegionInfo("global", "unknown host")


@pytest.mark.parametrize(
    "url",
    ["https://rdap.example.net/", "https://rdap.nic.somebrand/", "https://192.0.2.10/rdap/"],
)
def test_unknown_host_is_global(url: str) -> None:
    """A host we cannot place is global (the tenant's unknown_region then applies)."""
    info = region_for(url)
    assert info.region == "global"
    assert info.reason.startswith("unknown host")


def test_tenant_override_wins_over_everything() -> None:
    """tenant.regions (exact host, any case) beats the RIR table and the query ccTLD."""
    overrides = {"RDAP.ARIN.NET": "europe"}
    info = region_for("https://rdap.arin.net:443/registry/", query_tld="us", overrides=overrides)
    assert info == RegionInfo("europe", "tenant regions override")


def test_tenant_override_is_exact_host_only() -> None:
    """An override for one host does not leak to its subdomains."""
    info = region_for("https://rdap.db.ripe.net/", overrides={"ripe.net": "africa"})
    assert info.region == "europe"


def test_tenant_override_with_unknown_region_is_a_config_error() -> None:
    """A misspelt region in the tenant's [regions] table is reported, with the valid names."""
    with pytest.raises(ConfigError) as err:
        region_for("https://rdap.arin.net/", overrides={"rdap.arin.net": "mars"})
    assert err.value.exit_code == ExitCode.CONFIG
    assert "europe" in (err.value.hint or "")


@pytest.mark.parametrize("url", ["", "   ", "https://", "https://[::1/"])
def test_server_url_without_host_is_a_usage_error(url: str) -> None:
    """A server URL with no host is reported as an error, never a traceback."""
    with pytest.raises(UsageError):
        region_for(url)


def test_country_table_covers_every_iso_code_with_a_valid_region() -> None:
    """All 249 ISO 3166-1 alpha-2 codes are mapped, each to one of tenant.REGIONS."""
    assert len(COUNTRY_REGIONS) == 249
    assert set(COUNTRY_REGIONS.values()) <= set(REGIONS)
    assert all(len(code) == 2 and code.isupper() for code in COUNTRY_REGIONS)


def test_every_bootstrap_host_gets_a_region_and_big_back_ends_are_known() -> None:
    """Each server in the IANA bootstrap file is placed; hosts serving 10+ TLDs mostly known."""
    data = json.loads(BOOTSTRAP_DNS.read_text(encoding="utf-8"))
    served: dict[str, int] = {}
    for tlds, urls in data["services"]:
        for url in urls:
            info = region_for(url)
            assert info.region in REGIONS
            host = urlparse(url).hostname or ""
            served[host] = served.get(host, 0) + len(tlds)
    big = [host for host, n in served.items() if n >= 10]
    unknown = [host for host in big if region_for(f"https://{host}/").region == "global"]
    assert len(unknown) <= 2, unknown


# --- decide ------------------------------------------------------------------------------

EU_ONLY = ("europe",)
INSIDE = RegionInfo("europe", "RIR RIPE NCC")
OUTSIDE = RegionInfo("north-america", "RIR ARIN")
GLOBAL = RegionInfo("global", "unknown host")

MATRIX: list[tuple[str, tuple[str, ...], str, RegionInfo, str]] = [
    # isolation, data_residency, unknown_region, server region, expected action
    *[
        (iso, (), unk, reg, "allow")
        for iso in ("strict", "standard", "development")
        for unk in ("allow", "deny")
        for reg in (INSIDE, OUTSIDE, GLOBAL)
    ],
    *[
        (iso, EU_ONLY, unk, INSIDE, "allow")
        for iso in ("strict", "standard", "development")
        for unk in ("allow", "deny")
    ],
    ("strict", EU_ONLY, "allow", OUTSIDE, "deny"),
    ("strict", EU_ONLY, "deny", OUTSIDE, "deny"),
    ("standard", EU_ONLY, "allow", OUTSIDE, "anonymise"),
    ("standard", EU_ONLY, "deny", OUTSIDE, "anonymise"),
    ("development", EU_ONLY, "allow", OUTSIDE, "warn"),
    ("development", EU_ONLY, "deny", OUTSIDE, "warn"),
    ("strict", EU_ONLY, "allow", GLOBAL, "allow"),
    ("strict", EU_ONLY, "deny", GLOBAL, "deny"),
    ("standard", EU_ONLY, "allow", GLOBAL, "allow"),
    ("standard", EU_ONLY, "deny", GLOBAL, "anonymise"),
    ("development", EU_ONLY, "allow", GLOBAL, "allow"),
    ("development", EU_ONLY, "deny", GLOBAL, "warn"),
    # Listing "global" explicitly allows it even when unknown_region is deny.
    ("strict", ("europe", "global"), "deny", GLOBAL, "allow"),
]


@pytest.mark.parametrize(
    ("isolation", "residency", "unknown", "region", "action"),
    MATRIX,
    ids=[f"{m[0]}-{'+'.join(m[1]) or 'any'}-unknown_{m[2]}-{m[3].region}" for m in MATRIX],
)
def test_residency_matrix(
    isolation: Any, residency: tuple[str, ...], unknown: Any, region: RegionInfo, action: str
) -> None:
    """isolation x region inside/outside/global x unknown_region x empty data_residency."""
    tenant = Tenant(
        name="acme", isolation=isolation, data_residency=residency, unknown_region=unknown
    )
    decision = decide(tenant, region)
    assert decision.action == action
    assert decision.region == region.region
    assert decision.sends_request is (action != "deny")
    if action != "allow":
        assert region.reason in decision.reason
        assert "outside data_residency [" in decision.reason


def test_deny_decision_becomes_the_residency_refusal_with_a_hint() -> None:
    """A strict refusal maps to exit code 4 and says how to allow the region."""
    tenant = Tenant(name="acme", data_residency=EU_ONLY, isolation="strict")
    err = residency_refusal(decide(tenant, OUTSIDE).reason)
    assert isinstance(err, PolicyDeniedError)
    assert err.exit_code == ExitCode.DENIED
    assert err.code == "residency_violation"
    assert "north-america" in err.message and "RIR ARIN" in err.message
    assert "data_residency" in (err.hint or "")


def test_unexpected_isolation_is_a_config_error() -> None:
    """A tenant built with an isolation level we do not know is refused, not guessed."""
    tenant = Tenant(name="acme", data_residency=EU_ONLY, isolation="lax")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        decide(tenant, OUTSIDE)


# --- anonymise_record --------------------------------------------------------------------


def _fixtures_with_class() -> list[Path]:
    return [
        p
        for p in all_fixture_files()
        if isinstance(json.loads(p.read_text(encoding="utf-8")), dict)
        and "objectClassName" in json.loads(p.read_text(encoding="utf-8"))
    ][:25]


@pytest.mark.parametrize("path", _fixtures_with_class(), ids=lambda p: p.name)
def test_anonymised_real_record_keeps_only_class_handle_and_hash(path: Path) -> None:
    """A real response becomes class + handle + SHA-256 of its canonical JSON, no PII."""
    original = load_fixture(str(path.relative_to(path.parents[1])))
    assert isinstance(original, dict)
    stub = anonymise_record(original, "outside data residency")
    canonical = json.dumps(original, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert stub["sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert stub["objectClassName"] == original["objectClassName"]
    assert stub.get("handle") == (
        original["handle"] if isinstance(original.get("handle"), str) else None
    )
    assert stub["rdapctl_residency"] == {"anonymised": True, "reason": "outside data residency"}
    assert set(stub) <= {"objectClassName", "handle", "sha256", "rdapctl_residency"}
    assert find_pii(json.dumps(stub)) == []


def test_anonymised_hash_ignores_key_order() -> None:
    """Two equal objects with different member order get the same hash."""
    a = anonymise_record({"handle": "X", "a": [1, {"b": 2, "c": 3}]}, "r")
    b = anonymise_record({"a": [1, {"c": 3, "b": 2}], "handle": "X"}, "r")
    assert a["sha256"] == b["sha256"]


def _deep(levels: int) -> list[Any]:
    root: list[Any] = []
    cur = root
    for _ in range(levels):
        nxt: list[Any] = []
        cur.append(nxt)
        cur = nxt
    return root


def _cycle() -> dict[str, Any]:
    d: dict[str, Any] = {"handle": "LOOP"}
    d["self"] = d
    return d


@pytest.mark.parametrize(
    "odd",
    [
        [],
        [{"objectClassName": "entity"}],
        {},
        {"handle": None, "objectClassName": 7},
        {"handle": ["H"]},
        None,
        "text",
        3.5,
        {1: "int key", "set": {1, 2}},
        _deep(5000),
        _cycle(),
    ],
    ids=[
        "empty-list",
        "list",
        "empty-dict",
        "non-string-class",
        "list-handle",
        "none",
        "string",
        "float",
        "non-json-values",
        "very-deep",
        "cycle",
    ],
)
def test_anonymise_never_crashes_on_odd_input(odd: Any) -> None:
    """Lists, empty or odd objects, deep nesting and cycles all give a valid stub."""
    stub = anonymise_record(odd, "r")
    assert len(stub["sha256"]) == 64
    assert stub["rdapctl_residency"]["anonymised"] is True
    for key in ("objectClassName", "handle"):
        assert key not in stub or isinstance(stub[key], str)
    json.dumps(stub)


def test_canonical_json_matches_json_dumps_on_every_fixture() -> None:
    """The recursion-free canonical form equals json.dumps(sort_keys, compact) on real data."""
    for path in all_fixture_files():
        obj = json.loads(path.read_text(encoding="utf-8"))
        expected = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert canonical_json(obj) == expected, path.name
