"""Compliance and consistency rules across the keys of one tenant: what each key's
own check cannot see (a gdpr tenant's cache lifetime, plain http under strict
policy, pinning without pins, ...). Mostly warnings; ``--strict`` makes them errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rdapctl.policy.tenant import Tenant
from rdapctl.profiles.findings import KeyPath
from rdapctl.profiles.spec import Report

GDPR_MAX_CONFIGURED_TTL_S = 86_400


def check_rules(name: str, tenant: Tenant, raw: Mapping[str, Any], report: Report) -> None:
    base: KeyPath = ("tenants", name)
    sec, comp = tenant.security, tenant.compliance
    if comp.gdpr and tenant.cache.ttl_s > GDPR_MAX_CONFIGURED_TTL_S:
        report.error(
            (*base, "cache", "ttl_s"),
            f"a gdpr tenant may not cache for more than 24 hours (ttl_s = {tenant.cache.ttl_s})",
            f"at most {GDPR_MAX_CONFIGURED_TTL_S}",
        )
    if "reverse_search" in sec.allowed_query_types and comp.gdpr and not tenant.purpose:
        report.warn(
            (*base, "security", "allowed_query_types"),
            "a gdpr tenant allows reverse_search (looking people up by personal data)"
            " without a purpose",
            'purpose = "..." saying why the tenant needs it (GDPR Art. 5(1)(b))',
        )
    if tenant.isolation == "strict" and sec.allow_private_ips not in (False, ()):
        report.warn(
            (*base, "security", "allow_private_ips"),
            "private addresses are allowed under strict isolation",
            'false, or isolation = "standard"',
        )
    if sec.allow_http:
        report.warn(
            (*base, "security", "allow_http"),
            "plain http is allowed: responses can be read and altered in transit",
            "false",
        )
    if not sec.redact_pii and (comp.gdpr or comp.ccpa):
        report.warn(
            (*base, "security", "redact_pii"),
            "redaction is off for a tenant under gdpr or ccpa",
            "true",
        )
    if tenant.tls.certificate_pinning and not any(tenant.tls.pins.values()):
        report.warn(
            (*base, "tls", "certificate_pinning"),
            "certificate pinning is on but no pins are configured",
            "pins under [tenants.NAME.tls.pins]",
        )
    if comp.ccpa and comp.do_not_sell is not True:
        key = "do_not_sell" if "do_not_sell" in raw.get("compliance", {}) else "ccpa"
        report.warn(
            (*base, "compliance", key),
            "a ccpa tenant should declare do_not_sell = true",
            "do_not_sell = true",
        )
    if tenant.tls.ca_bundle is not None and not Path(tenant.tls.ca_bundle).is_file():
        report.warn(
            (*base, "tls", "ca_bundle"),
            f"CA bundle {raw['tls']['ca_bundle']!r} does not exist (queries will fail)",
            "the path of an existing PEM file",
        )
    team = raw.get("team")
    if isinstance(team, dict) and "backend" not in team:
        report.error(
            (*base, "team"),
            "a team table needs a backend",
            'backend = "redis://host:6379/0" (or rediss:// for TLS)',
        )
    if not sec.allow_http:
        servers = raw.get("servers", {})
        for key in ("all", "fallback", "search"):
            if isinstance(servers.get(key), str) and servers[key].lower().startswith("http:"):
                report.warn(
                    (*base, "servers", key),
                    "http:// server while allow_http is false: requests to it will be refused",
                    "an https:// URL",
                )
        for table in ("domains", "ip", "autnum", "entity"):
            entries = servers.get(table)
            if not isinstance(entries, dict):
                continue
            for k, v in entries.items():
                if isinstance(v, str) and v.lower().startswith("http:"):
                    report.warn(
                        (*base, "servers", table, k),
                        "http:// server while allow_http is false: requests to it will be refused",
                        "an https:// URL",
                    )
