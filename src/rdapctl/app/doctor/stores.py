"""The tenant's stores read back: the audit chain verifies, cache entries open with the
tenant's keys, and (for redacting tenants) no e-mail address or phone number is found
in what was stored."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdapctl.app.doctor.results import (
    CheckResult,
    failed,
    passed,
    places,
    plural,
    warned,
)
from rdapctl.app.doctor.targets import Target
from rdapctl.core.errors import ConfigError, ExitCode, IntegrityError, RdapctlError, most_serious
from rdapctl.store.paths import StatePaths


def audit_check(
    target: Target, keyring: Any, paths: StatePaths, clock: Callable[[], float]
) -> CheckResult:
    from rdapctl.store.audit.log import AuditLog

    name = target.name
    started = keyring is not None and keyring.audit_started
    if not paths.tenant_audit_dir(name).is_dir() and not started:
        return passed(name, "audit_chain", "no audit records yet")
    if keyring is None:
        return warned(name, "audit_chain", "not verified: the tenant's keyring does not open")
    log = AuditLog(
        paths,
        target.tenant,
        keyring.audit_key(),
        command="doctor",
        clock=clock,
        trail_started=keyring.audit_started,
    )
    try:
        report = log.verify()
    except ConfigError as exc:  # a state file rdapctl refuses to use (ownership)
        return failed(name, "audit_chain", exc.message, ExitCode.CONFIG, exc.hint)
    except RdapctlError as exc:
        return failed(name, "audit_chain", exc.message, ExitCode.AUDIT, exc.hint)
    if not report.ok:
        first = report.problems[0] if report.problems else None
        msg = f"the chain does not verify: {plural(len(report.problems), 'problem')}"
        if first is not None:
            msg += f"; first at {first.location}: {first.kind}"
        hint = f"run `rdapctl audit verify -t {name}` for every place"
        return failed(name, "audit_chain", msg, ExitCode.AUDIT, hint)
    summary = (
        f"the chain verifies: {plural(report.records, 'record')} in {plural(report.files, 'file')}"
    )
    if report.warnings:
        return warned(
            name,
            "audit_chain",
            f"{summary}, with {plural(len(report.warnings), 'warning')}",
            f"run `rdapctl audit repair -t {name}`",
        )
    return passed(name, "audit_chain", summary)


@dataclass
class PiiFinds:
    emails: int = 0
    phones: int = 0
    places: list[str] = field(default_factory=list)
    codes: set[int] = field(default_factory=set)
    cache_unscanned: bool = False

    def scan(self, text: str, place: str, code: int, emails: bool, phones: bool) -> None:
        from rdapctl.policy.contact_text import find_pii

        e = p = 0
        for value in find_pii(text):
            if "@" in value:
                e += emails
            else:
                p += phones
        if e or p:
            self.emails += e
            self.phones += p
            self.places.append(place)
            self.codes.add(code)


def cache_check(
    target: Target,
    keyring: Any,
    paths: StatePaths,
    clock: Callable[[], float],
    pii: PiiFinds | None,
    pii_kinds: tuple[bool, bool],
) -> CheckResult:
    from rdapctl.store.cache.tenant_cache import TenantCache

    name = target.name
    directory = paths.tenant_cache_dir(name)
    if not os.path.lexists(directory):
        return passed(name, "cache", "no cache store yet")
    if directory.is_symlink() or not directory.is_dir():
        msg = "the cache store is not a folder of its own (a symlink or a file)"
        return failed(name, "cache", msg, ExitCode.INTEGRITY)
    if keyring is None:
        if pii is not None:
            pii.cache_unscanned = True
        return warned(name, "cache", "not read: the tenant's keyring does not open")
    if not (directory / "cache.db").is_file():
        return passed(name, "cache", "the cache store is empty")
    view = TenantCache.inspect(paths, target.tenant, keyring, clock=clock)
    known_ids = {k.id for k in keyring.status()}
    readable = gone = 0
    broken: list[str] = []
    try:
        for entry in view.iter_entries():
            place = f"entry {entry.position} (ref {entry.ref})"
            if entry.value is not None:
                readable += 1
                if pii is not None:
                    # Exempt entities (registrars, abuse desks) keep their contacts on
                    # purpose: only what the policy should have removed is looked for.
                    from rdapctl.policy.redaction import without_exempt_contacts

                    roles = target.tenant.security.redaction_exempt_roles
                    kept = without_exempt_contacts(entry.value, roles)
                    text = json.dumps(kept, ensure_ascii=False)
                    pii.scan(text, f"cache {place}", ExitCode.INTEGRITY, *pii_kinds)
            elif entry.gone and entry.key_id in known_ids:
                gone += 1
            elif entry.gone:
                broken.append(
                    f"entry {entry.position} (ref {entry.ref}, a key this tenant never had)"
                )
            else:
                broken.append(place)
    except IntegrityError as exc:
        if pii is not None:
            pii.cache_unscanned = True
        return failed(name, "cache", exc.message, ExitCode.INTEGRITY, exc.hint)
    if broken:
        msg = f"{plural(len(broken), 'entry', 'entries')} fail integrity: {places(broken)}"
        hint = f"run `rdapctl cache purge -t {name}` to delete them"
        return failed(name, "cache", msg, ExitCode.INTEGRITY, hint)
    summary = f"{plural(readable, 'entry', 'entries')} open with the tenant's keys"
    if gone:
        msg = f"{summary}; {gone} sealed under retired keys"
        return warned(name, "cache", msg, f"run `rdapctl cache purge -t {name}`")
    return passed(name, "cache", summary)


def _audit_files(directory: Path) -> list[Path]:
    try:
        return sorted(
            p
            for p in directory.iterdir()
            if p.name.endswith(".jsonl") or ".jsonl.quarantine-" in p.name
        )
    except (FileNotFoundError, NotADirectoryError):
        return []


def scan_audit_pii(directory: Path, pii: PiiFinds, emails: bool, phones: bool) -> str | None:
    """Scan audit files line by line; returns a problem when a file cannot be read."""
    for path in _audit_files(directory):
        try:
            with path.open("rb") as fh:
                for number, raw in enumerate(fh, start=1):
                    text = raw.decode("utf-8", "replace")
                    pii.scan(text, f"audit {path.name}:{number}", ExitCode.AUDIT, emails, phones)
        except OSError as exc:
            return f"cannot read audit file {path.name}: {exc.strerror}"
    return None


def pii_result(target: Target, pii: PiiFinds, kinds: tuple[bool, bool]) -> CheckResult:
    name = target.name
    what = " or ".join(
        w for w, on in zip(("e-mail address", "phone number"), kinds, strict=True) if on
    )
    if not pii.places and pii.cache_unscanned:
        msg = f"no {what} found in the audit files; the cache could not be scanned"
        return warned(name, "pii", msg)
    if not pii.places:
        return passed(name, "pii", f"no {what} found in the cache or audit files")
    counts = []
    if pii.emails:
        counts.append(plural(pii.emails, "e-mail address", "e-mail addresses"))
    if pii.phones:
        counts.append(plural(pii.phones, "phone number"))
    msg = f"{' and '.join(counts)} found despite redact_pii, in {places(pii.places)}"
    hint = f"clear the cache (`rdapctl cache clear -t {name}`) and find how the value got in"
    return failed(name, "pii", msg, most_serious(pii.codes), hint)


def pii_kinds(target: Target) -> tuple[bool, bool] | None:
    """(scan e-mails, scan phones) for a tenant that redacts them, else None."""
    security = target.tenant.security
    if not target.in_profiles or not security.redact_pii:
        return None
    fields = set(security.redact_fields)
    kinds = ("email" in fields, "tel" in fields)
    return kinds if any(kinds) else None
