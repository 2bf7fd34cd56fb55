"""Data residency: which region an RDAP server's data lives in, and what a tenant's
residency policy does about it.

Owns the region tables (RIRs, NIRs, gTLD back-ends, every ISO 3166-1 country),
``region_for`` (server URL -> region, with the reason), ``decide`` (tenant policy ->
allow / deny / anonymise / warn) and ``anonymise_record``.

Pure: values in, values out. It must not do I/O, resolve names, talk to the
network, read the clock, or import httpx / typer / rich.

Region choices (documented here because they are policy, not geography trivia):

* Regions follow the inhabited place a ccTLD's country is in, not the RIR that
  numbers it, with these decisions:
  - north-america is US, CA, GL, BM and PM only; Mexico, Central America and the
    whole Caribbean (including PR and VI) are latin-america.
  - middle-east is the Gulf, the Levant, Iraq, Iran, Israel, Yemen and Turkey
    (TR: most of its territory is in Western Asia, and treating it as middle-east
    is the conservative choice for a europe-only tenant). Egypt is africa.
  - Cyprus (EU member) and the Caucasus (AM, AZ, GE: Council of Europe, RIPE NCC
    service region) are europe; Russia and Belarus are europe.
  - Territories without a permanent population follow the state that runs them:
    BV, TF, GS, IO -> europe, HM -> asia-pacific, UM -> north-america. AQ -> global.
* A domain query's ccTLD decides (the registry of .fr is in Europe whatever host
  serves it). A *server host's* ccTLD is only trusted for ccTLDs that are not sold
  as generic names (.io, .co, .tv ...), unless the host is plainly the registry's
  own (``nic.<cc>``, ``registry.<cc>``, ``cctld.<cc>``).
* Anything not recognised is ``global``, which tenants treat per ``unknown_region``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from rdapctl.core.errors import ConfigError, PolicyDeniedError, UsageError
from rdapctl.core.records import record
from rdapctl.policy.tenant import REGIONS, Tenant

Action = Literal["allow", "deny", "anonymise", "warn"]

NA = "north-america"
EU = "europe"
AP = "asia-pacific"
ME = "middle-east"
LA = "latin-america"
AF = "africa"
GLOBAL = "global"

_REGION_COUNTRIES: dict[str, str] = {
    NA: "US CA GL BM PM UM",
    LA: (
        "MX BZ GT SV HN NI CR PA "
        "AG AI AW BB BL BQ BS CU CW DM DO GD GP HT JM KN KY LC MF MQ MS PR SX TC TT VC VG VI "
        "AR BO BR CL CO EC FK GF GY PE PY SR UY VE"
    ),
    EU: (
        "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT "
        "JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA "
        "AM AZ GE BV TF GS IO"
    ),
    ME: "AE BH IL IQ IR JO KW LB OM PS QA SA SY TR YE",
    AF: (
        "DZ AO BJ BW BF BI CV CM CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR "
        "LY MG MW ML MR MU YT MA MZ NA NE NG RE RW SH ST SN SC SL SO ZA SS SD TZ TG TN UG EH "
        "ZM ZW"
    ),
    AP: (
        "AF KZ KG TJ TM UZ PK IN BD LK NP BT MV CN HK MO TW JP KR KP MN BN KH ID LA MM MY PH "
        "SG TH TL VN AU NZ PG FJ SB VU NC PF WS TO TV KI NR MH FM PW CK NU TK WF PN NF CX CC "
        "HM GU AS MP"
    ),
    GLOBAL: "AQ",
}

# ISO 3166-1 alpha-2 code -> region (all 249 assigned codes).
COUNTRY_REGIONS: dict[str, str] = {
    code: region for region, codes in _REGION_COUNTRIES.items() for code in codes.split()
}

# ccTLDs that are not ISO 3166-1 alpha-2 codes: exceptionally reserved or legacy.
_EXTRA_CCTLDS: dict[str, str] = {"uk": "GB", "eu": "EU", "ac": "SH", "su": "RU"}
_EXTRA_REGIONS: dict[str, str] = {"EU": EU}

# Internationalised ccTLDs (A-label -> country), the ones in the root zone we know of.
IDN_CCTLDS: dict[str, str] = {
    "xn--p1ai": "RU",
    "xn--90ais": "BY",
    "xn--j1amh": "UA",
    "xn--d1alf": "MK",
    "xn--90a3ac": "RS",
    "xn--node": "GE",
    "xn--y9a3aq": "AM",
    "xn--80ao21a": "KZ",
    "xn--l1acc": "MN",
    "xn--90ae": "BG",
    "xn--qxam": "GR",
    "xn--qxa6a": "EU",
    "xn--e1a4c": "EU",
    "xn--fiqs8s": "CN",
    "xn--fiqz9s": "CN",
    "xn--j6w193g": "HK",
    "xn--kprw13d": "TW",
    "xn--kpry57d": "TW",
    "xn--mix891f": "MO",
    "xn--3e0b707e": "KR",
    "xn--yfro4i67o": "SG",
    "xn--clchc0ea0b2g2a9gcd": "SG",
    "xn--o3cw4h": "TH",
    "xn--wgbh1c": "EG",
    "xn--mgbaam7a8h": "AE",
    "xn--mgberp4a5d4ar": "SA",
    "xn--mgbx4cd0ab": "MY",
    "xn--mgba3a4f16a": "IR",
    "xn--mgbayh7gpa": "JO",
    "xn--ygbi2ammx": "PS",
    "xn--wgbl6a": "QA",
    "xn--mgbc0a9azcg": "MA",
    "xn--lgbbat1ad8j": "DZ",
    "xn--pgbs0dh": "TN",
    "xn--mgbtx2b": "IQ",
    "xn--mgb9awbf": "OM",
    "xn--ogbpf8fl": "SY",
    "xn--mgbpl2fh": "SD",
    "xn--mgbai9azgqp6j": "PK",
    "xn--mgbah1a3hjkrd": "MR",
    "xn--mgbcpq6gpa1a": "BH",
    "xn--mgb2ddes": "YE",
    "xn--4dbrk0ce": "IL",
    "xn--54b7fta0cc": "BD",
    "xn--fzc2c9e2c": "LK",
    "xn--xkc2al3hye2a": "LK",
    "xn--h2brj9c": "IN",
    "xn--mgbbh1a71e": "IN",
    "xn--mgbbh1a": "IN",
    "xn--mgbgu82a": "IN",
    "xn--xkc2dl3a5ee0h": "IN",
    "xn--fpcrj9c3d": "IN",
    "xn--gecrj9c": "IN",
    "xn--s9brj9c": "IN",
    "xn--45brj9c": "IN",
    "xn--2scrj9c": "IN",
    "xn--3hcrj9c": "IN",
    "xn--rvc1e0am3e": "IN",
    "xn--h2breg3eve": "IN",
    "xn--h2brj9c8c": "IN",
    "xn--45br5cyl": "IN",
}

# Two-letter TLDs widely sold as generic names: a random host under them says
# nothing about where it runs.
GENERIC_USE_CCTLDS: frozenset[str] = frozenset(
    [
        "ac",
        "ag",
        "ai",
        "am",
        "bz",
        "cc",
        "cd",
        "co",
        "fm",
        "gg",
        "gl",
        "io",
        "la",
        "ly",
        "me",
        "ms",
        "mu",
        "nu",
        "sc",
        "sh",
        "so",
        "tk",
        "to",
        "tv",
        "vc",
        "ws",
    ]
)
_REGISTRY_LABELS: frozenset[str] = frozenset({"nic", "registry", "cctld"})

# (host suffix, region, reason). Matched on label boundaries, longest suffix first.
KNOWN_HOSTS: tuple[tuple[str, str, str], ...] = (
    # Regional Internet Registries.
    ("arin.net", NA, "RIR ARIN"),
    ("ripe.net", EU, "RIR RIPE NCC"),
    ("apnic.net", AP, "RIR APNIC"),
    ("lacnic.net", LA, "RIR LACNIC"),
    ("afrinic.net", AF, "RIR AFRINIC"),
    # National Internet Registries.
    ("registro.br", LA, "NIR NIC.br"),
    ("nic.br", LA, "NIR NIC.br"),
    ("nic.mx", LA, "NIR NIC Mexico"),
    ("nic.ad.jp", AP, "NIR JPNIC"),
    ("jpnic.net", AP, "NIR JPNIC"),
    ("krnic.or.kr", AP, "NIR KRNIC"),
    ("kisa.or.kr", AP, "NIR KRNIC"),
    ("twnic.tw", AP, "NIR TWNIC"),
    ("twnic.net.tw", AP, "NIR TWNIC"),
    ("cnnic.cn", AP, "NIR CNNIC"),
    ("cnnic.net.cn", AP, "NIR CNNIC"),
    ("ngtld.cn", AP, "NIR CNNIC"),
    ("idnic.net", AP, "NIR IDNIC"),
    ("vnnic.vn", AP, "NIR VNNIC"),
    ("irinn.in", AP, "NIR IRINN"),
    # IANA serves the root and .int for the whole world.
    ("iana.org", GLOBAL, "IANA"),
    # gTLD registry back-ends (hosts from the IANA bootstrap file).
    ("verisign.com", NA, "gTLD back-end Verisign"),
    ("verisign-grs.com", NA, "gTLD back-end Verisign"),
    ("identitydigital.services", NA, "gTLD back-end Identity Digital"),
    ("identity.digital", NA, "gTLD back-end Identity Digital"),
    ("donuts.co", NA, "gTLD back-end Identity Digital (Donuts)"),
    ("afilias.net", NA, "gTLD back-end Identity Digital (Afilias)"),
    ("afilias-srs.net", NA, "gTLD back-end Identity Digital (Afilias)"),
    ("afilias.info", NA, "gTLD back-end Identity Digital (Afilias)"),
    ("registry.godaddy", NA, "gTLD back-end GoDaddy Registry"),
    ("neustar.biz", NA, "gTLD back-end GoDaddy Registry (Neustar)"),
    ("registry.neustar", NA, "gTLD back-end GoDaddy Registry (Neustar)"),
    ("publicinterestregistry.org", NA, "gTLD back-end PIR"),
    ("publicinterestregistry.net", NA, "gTLD back-end PIR"),
    ("pir.org", NA, "gTLD back-end PIR"),
    ("registry.google", NA, "gTLD back-end Google Registry"),
    ("tucowsregistry.net", NA, "gTLD back-end Tucows"),
    ("fury.ca", NA, "gTLD back-end CIRA Fury"),
    ("centralnic.com", EU, "gTLD back-end CentralNic"),
    ("centralnicregistry.com", EU, "gTLD back-end CentralNic"),
    ("centralnic.net", EU, "gTLD back-end CentralNic"),
    ("nominet.uk", EU, "gTLD back-end Nominet"),
    ("nominet.org.uk", EU, "gTLD back-end Nominet"),
    ("zdnsgtld.com", AP, "gTLD back-end ZDNS"),
    ("zdns.cn", AP, "gTLD back-end ZDNS"),
    ("gmoregistry.net", AP, "gTLD back-end GMO Registry"),
    ("teleinfo.cn", AP, "gTLD back-end Teleinfo"),
)
_KNOWN_BY_SUFFIX = sorted(KNOWN_HOSTS, key=lambda row: -len(row[0]))


@record
class RegionInfo:
    """Where a server's data lives, and why we think so (shown to the user)."""

    region: str
    reason: str


@record
class ResidencyDecision:
    """What the tenant's residency policy does with one lookup."""

    action: Action
    region: str
    reason: str

    @property
    def sends_request(self) -> bool:
        return self.action != "deny"


def country_for_tld(tld: str) -> str | None:
    """The country (ISO 3166-1 alpha-2, or EU) of a ccTLD, or None for a gTLD/unknown."""
    label = _normalise_tld(tld)
    if label is None:
        return None
    if label in IDN_CCTLDS:
        return IDN_CCTLDS[label]
    if label in _EXTRA_CCTLDS:
        return _EXTRA_CCTLDS[label]
    code = label.upper()
    if len(code) == 2 and code in COUNTRY_REGIONS:
        return code
    return None


def region_for_country(code: str) -> str:
    """Region of an ISO 3166-1 alpha-2 code (or EU); ``global`` when unknown."""
    upper = code.upper()
    return _EXTRA_REGIONS.get(upper) or COUNTRY_REGIONS.get(upper, GLOBAL)


def region_for(
    server_url: str,
    *,
    query_tld: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> RegionInfo:
    """The region of the RDAP server at ``server_url``.

    Precedence: tenant override (exact host) > the query's ccTLD > known RIR / NIR /
    back-end host > the host's own ccTLD > ``global``.
    """
    host = _host_of(server_url)
    if overrides:
        for raw_host, region in overrides.items():
            if _clean_host(str(raw_host)) == host:
                if region not in REGIONS:
                    raise ConfigError(
                        f"regions override for {host!r} names unknown region {region!r}",
                        hint=f"use one of: {', '.join(REGIONS)}",
                    )
                return RegionInfo(region, "tenant regions override")

    if query_tld:
        country = country_for_tld(query_tld)
        if country is not None:
            label = _normalise_tld(query_tld)
            return RegionInfo(region_for_country(country), f"ccTLD .{label} ({country})")

    if _is_ip_literal(host):
        return RegionInfo(GLOBAL, "unknown host (IP address)")

    for suffix, region, reason in _KNOWN_BY_SUFFIX:
        if host == suffix or host.endswith("." + suffix):
            return RegionInfo(region, reason)

    labels = host.split(".")
    tld = labels[-1]
    country = country_for_tld(tld)
    if country is not None and len(labels) >= 2:
        trusted = tld not in GENERIC_USE_CCTLDS or labels[-2] in _REGISTRY_LABELS
        if trusted:
            return RegionInfo(region_for_country(country), f"ccTLD host .{tld} ({country})")
    return RegionInfo(GLOBAL, "unknown host")


def decide(tenant: Tenant, region: RegionInfo) -> ResidencyDecision:
    """Apply ``tenant``'s data residency to a server in ``region``.

    A region listed in ``data_residency`` is allowed, even ``global``. An unlisted
    ``global`` is allowed only when ``unknown_region = "allow"``; otherwise it is
    outside, and ``isolation`` picks the consequence: strict refuses before sending,
    standard sends but replaces the result (anonymise), development warns.
    """
    allowed = tenant.data_residency
    where = f"{region.region} ({region.reason})"
    if not allowed:
        return ResidencyDecision("allow", region.region, "tenant has no data residency rule")
    if region.region in allowed:
        return ResidencyDecision("allow", region.region, f"server region {where} is allowed")
    if region.region == GLOBAL:
        if tenant.unknown_region == "allow":
            return ResidencyDecision(
                "allow", region.region, f"server region {where} allowed by unknown_region"
            )
        if tenant.unknown_region != "deny":
            raise ConfigError(
                f"tenant {tenant.name!r} has unknown_region {tenant.unknown_region!r}",
                hint='use "allow" or "deny"',
            )
    outside = f"server region {where} is outside data_residency [{', '.join(allowed)}]"
    if tenant.isolation == "strict":
        return ResidencyDecision("deny", region.region, f"{outside}; strict isolation refuses")
    if tenant.isolation == "standard":
        return ResidencyDecision(
            "anonymise", region.region, f"{outside}; standard isolation anonymises the result"
        )
    if tenant.isolation == "development":
        return ResidencyDecision("warn", region.region, f"{outside}; allowed in development")
    raise ConfigError(
        f"tenant {tenant.name!r} has unknown isolation {tenant.isolation!r}",
        hint="use strict, standard or development",
    )


def residency_refusal(reason: str) -> PolicyDeniedError:
    """The one refusal of a query by data residency, for a ``deny`` decision's
    ``reason``: raised before anything is sent (exit 4, code ``residency_violation``,
    like the audit event recorded for it)."""
    return PolicyDeniedError(
        f"data residency: {reason}",
        code="residency_violation",
        hint="add the region to data_residency in the tenant profile "
        "(or set regions.<host> if the server's region is known)",
    )


def anonymise_record(obj: Any, reason: str) -> dict[str, Any]:
    """Replace an RDAP object with a stub that proves what was received, not what it said.

    Keeps ``objectClassName`` and ``handle`` (when they are strings) and the SHA-256 of
    the canonical JSON of the original, so an auditor holding the original can match it.
    """
    canonical = canonical_json(obj)
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for key in ("objectClassName", "handle"):
            value = obj.get(key)
            if isinstance(value, str):
                out[key] = value
    out["sha256"] = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    out["rdapctl_residency"] = {"anonymised": True, "reason": reason}
    return out


def canonical_json(obj: Any) -> str:
    """``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``,
    computed without recursion so no nesting depth or cycle can make it fail.

    Values JSON cannot carry become their ``repr``; a cycle becomes ``null``.
    """
    parts: list[str] = []
    # Work items: ("v", value, ancestors) to encode a value, ("s", text) to emit text.
    stack: list[tuple[Any, ...]] = [("v", obj, frozenset())]
    while stack:
        item = stack.pop()
        if item[0] == "s":
            parts.append(item[1])
            continue
        value, ancestors = item[1], item[2]
        if isinstance(value, dict | list | tuple):
            if id(value) in ancestors:
                parts.append("null")
                continue
            inner = ancestors | {id(value)}
            todo: list[tuple[Any, ...]] = []
            if isinstance(value, dict):
                pairs = sorted((_json_key(k), v) for k, v in value.items())
                todo.append(("s", "{"))
                for n, (key, child) in enumerate(pairs):
                    sep = "," if n else ""
                    todo.append(("s", sep + json.dumps(key, ensure_ascii=False) + ":"))
                    todo.append(("v", child, inner))
                todo.append(("s", "}"))
            else:
                todo.append(("s", "["))
                for n, child in enumerate(value):
                    if n:
                        todo.append(("s", ","))
                    todo.append(("v", child, inner))
                todo.append(("s", "]"))
            stack.extend(reversed(todo))
        else:
            parts.append(json.dumps(value, ensure_ascii=False, default=repr))
    return "".join(parts)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    return json.dumps(key) if isinstance(key, bool | int | float) or key is None else str(key)


def _normalise_tld(tld: str) -> str | None:
    label = tld.strip().rstrip(".").rsplit(".", 1)[-1].lower()
    if not label:
        return None
    if not label.isascii():
        try:
            label = label.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return label


def _clean_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


def _host_of(server_url: str) -> str:
    text = server_url.strip()
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        host = None
    if not host:
        raise UsageError(
            f"cannot tell the host of RDAP server URL {server_url[:200]!r}",
            hint="server URLs look like https://rdap.example.net/",
        )
    return _clean_host(host)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
