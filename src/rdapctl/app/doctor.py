"""``rdapctl doctor``: the tenant isolation check, as data.

Owns the checks and their verdicts: owner-only permissions of rdapctl's state
(keys, cache, audit, bootstrap folders), one keyring per tenant with no key shared
between tenants, master-key wrapping, audit chains, cache stores readable with their
own keys, the profiles file, the age of the bootstrap registries, and a PII scan of
what redacting tenants stored. ``--fix`` repairs permissions only (chmod 0600 files,
0700 folders, under rdapctl's own state folders).

Must not: import typer or rich (``rdapctl.cli.doctor_cmd`` renders), create state
(no keyring, cache or audit folder comes into being because it was checked), or put
key material, fingerprints or PII values in a result: results name places and
counts.

Decisions:

* A path is owner-only when it grants nothing to group or others (0600 and 0400
  both pass); ``--fix`` sets exactly 0600 / 0700. Symlinks are not followed or
  changed. Bad permissions under ``audit/`` fail with exit 10, elsewhere 9.
* A tenant with no keyring, cache or audit folder has "no state yet": a pass.
* Checks that need a keyring that does not open are skipped with a warning: the
  keyring check already fails for it, and its exit code (9) is the cause.
* Bootstrap age is the newest ``publication`` of the five registries (IANA only
  republishes a registry when it changes: ipv4 last changed in 2019), warned when
  older than :data:`BOOTSTRAP_MAX_AGE_DAYS` (about six months, in which IANA
  usually adds delegations).
* The PII scan looks for e-mail addresses when ``email`` is redacted and for phone
  numbers when ``tel`` is, in decrypted cache entries (PII there: exit 9) and audit
  files, quarantined torn writes included (exit 10).
* State found on disk for a tenant the profiles file does not name is checked too
  (its keys could still be shared), with a warning; its PII policy is unknown.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from rdapctl.core.errors import ConfigError, ExitCode, IntegrityError, RdapctlError, most_serious
from rdapctl.policy.tenant import Tenant, check_tenant_name, is_tenant_name
from rdapctl.store.paths import DIR_MODE, FILE_MODE, StatePaths

Status = Literal["pass", "warn", "fail"]

BOOTSTRAP_MAX_AGE_DAYS = 180
MAX_PLACES_SHOWN = 5
_FIX_HINT = "run `rdapctl doctor --fix`"


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist. ``tenant`` is None for checks of the whole install."""

    tenant: str | None
    check: str
    status: Status
    message: str
    exit_code: int = 0
    fixed: bool = False
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "check": self.check,
            "status": self.status,
            "message": self.message,
            "fixed": self.fixed,
        }


@dataclass(frozen=True)
class DoctorReport:
    checks: list[CheckResult]

    @property
    def exit_code(self) -> int:
        return most_serious([c.exit_code for c in self.checks if c.status == "fail"])

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON document of ``doctor --format json``."""
        return {
            "schema": 1,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "checks": [c.as_dict() for c in self.checks],
        }


def _pass(tenant: str | None, check: str, message: str, *, fixed: bool = False) -> CheckResult:
    return CheckResult(tenant, check, "pass", message, fixed=fixed)


def _warn(tenant: str | None, check: str, message: str, hint: str | None = None) -> CheckResult:
    return CheckResult(tenant, check, "warn", message, hint=hint)


def _fail(
    tenant: str | None, check: str, message: str, code: int, hint: str | None = None
) -> CheckResult:
    return CheckResult(tenant, check, "fail", message, exit_code=int(code), hint=hint)


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _places(places: list[str]) -> str:
    shown = ", ".join(places[:MAX_PLACES_SHOWN])
    more = len(places) - MAX_PLACES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


# --------------------------------------------------------------------------- tenants


@dataclass(frozen=True)
class _Target:
    name: str
    tenant: Tenant
    in_profiles: bool


def tenants_on_disk(paths: StatePaths) -> set[str]:
    """Names of tenants with a keyring, cache store or audit folder."""
    names: set[str] = set()
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        names.update(p.stem for p in paths.keys_dir.glob("*.json"))
    for root in (paths.cache_root, paths.audit_root):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            names.update(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    return {n for n in names if is_tenant_name(n)}


def _profiles_check(
    explicit: Path | None, env: Mapping[str, str], paths: StatePaths
) -> tuple[CheckResult, Any]:
    """The profiles check and the loaded ProfilesFile (None when it does not load)."""
    from rdapctl.profiles.loader import ProfilesFile, find_profiles_file, load_profiles
    from rdapctl.profiles.validation import validate_file

    try:
        path = find_profiles_file(explicit, env, paths)
    except ConfigError as exc:
        return _fail(None, "profiles", exc.message, ExitCode.CONFIG, exc.hint), None
    if path is None:
        msg = "no profiles file: the built-in default tenant applies"
        return _pass(None, "profiles", msg), ProfilesFile()
    findings = validate_file(path)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    if errors:
        first = errors[0]
        where = first.file + (f":{first.line}" if first.line is not None else "")
        what = f"{first.key_path}: {first.message}" if first.key_path else first.message
        msg = f"{_plural(len(errors), 'error')} in the profiles file; first: {where}: {what}"
        hint = f"run `rdapctl profile validate {path}` to list every problem"
        return _fail(None, "profiles", msg, ExitCode.CONFIG, hint), None
    try:
        loaded = load_profiles(path)
    except ConfigError as exc:
        return _fail(None, "profiles", exc.message, ExitCode.CONFIG, exc.hint), None
    names = ", ".join(loaded.tenant_names)
    if warnings:
        msg = f"{path} validates with {_plural(len(warnings), 'warning')} (tenants: {names})"
        return _warn(None, "profiles", msg, f"run `rdapctl profile validate {path}`"), loaded
    return _pass(None, "profiles", f"{path} validates (tenants: {names})"), loaded


def _targets(
    loaded: Any, only: str | None, paths: StatePaths, env: Mapping[str, str]
) -> list[_Target]:
    from rdapctl.profiles.loader import select_tenant

    if loaded is None:
        # The profiles file does not load: still check what is on disk, with defaults.
        names = [check_tenant_name(only)] if only else sorted(tenants_on_disk(paths))
        return [_Target(n, Tenant(name=n), in_profiles=False) for n in names]
    if only is not None:
        chosen = select_tenant(loaded, only, env)  # ConfigError for an unknown tenant
        return [_Target(chosen.name, chosen, in_profiles=True)]
    named = list(loaded.tenant_names)
    targets = [_Target(n, loaded.get(n), in_profiles=True) for n in named]
    orphans = sorted(tenants_on_disk(paths) - set(named))
    targets += [_Target(n, Tenant(name=n), in_profiles=False) for n in orphans]
    return targets


# --------------------------------------------------------------------------- permissions


@dataclass
class _PermScan:
    checked: int = 0
    bad: list[tuple[Path, int, bool]] = field(default_factory=list)  # path, mode, is_dir
    # Paths rdapctl must not trust (another owner, a symlink): never changed by --fix.
    untrusted: list[tuple[Path, str]] = field(default_factory=list)  # path, why


def _walk(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """``root`` and everything below it, without following symlinks."""
    try:
        st = root.lstat()
    except FileNotFoundError:
        return
    yield root, st
    if not stat.S_ISDIR(st.st_mode):
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            try:
                yield path, path.lstat()
            except FileNotFoundError:
                continue  # removed while we looked (a lock, a temp file)


def _owner_of(paths: StatePaths, path: Path) -> str | None:
    """The tenant a state path belongs to, or None for shared folders."""
    for root in (paths.cache_root, paths.audit_root):
        if root in path.parents:
            first = path.relative_to(root).parts[0]
            # cache/.<tenant>.lock and cache/<tenant>.damaged-<stamp> belong to the tenant.
            name = first.lstrip(".").removesuffix(".lock").split(".damaged-")[0]
            return name if is_tenant_name(name) else None
    if path.parent == paths.keys_dir:
        name = path.name.lstrip(".").split(".")[0]
        return name if is_tenant_name(name) else None
    return None


def _scan_permissions(paths: StatePaths) -> dict[str | None, _PermScan]:
    """Modes and owners of every state path: the state folders themselves, then all
    below keys/, cache/, audit/, bootstrap/ and ratelimit/."""
    scans: dict[str | None, _PermScan] = {}
    euid = os.geteuid()
    for top in dict.fromkeys((paths.config_dir, paths.cache_dir, paths.data_dir)):
        # The state folders themselves: rdapctl refuses them when another account owns
        # them or may write to them (a mode --fix can tighten, an owner it cannot).
        try:
            st = top.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            with contextlib.suppress(OSError):
                st = top.stat() if st.st_uid in (euid, 0) else st
        if stat.S_ISDIR(st.st_mode) and st.st_uid == euid and not st.st_mode & 0o022:
            continue
        shared = scans.setdefault(None, _PermScan())
        if not stat.S_ISDIR(st.st_mode):
            shared.untrusted.append((top, "not a folder, or a link another account owns"))
        elif st.st_uid != euid:
            shared.untrusted.append((top, f"owned by uid {st.st_uid}"))
        elif st.st_mode & 0o022:
            shared.bad.append((top, st.st_mode & 0o777, True))
    roots = (
        paths.keys_dir,
        paths.cache_root,
        paths.audit_root,
        paths.bootstrap_dir,
        paths.ratelimit_root,
    )
    for root in dict.fromkeys(roots):
        for path, st in _walk(root):
            scan = scans.setdefault(_owner_of(paths, path), _PermScan())
            if stat.S_ISLNK(st.st_mode):
                # Never followed, never changed; rdapctl refuses to use it.
                scan.untrusted.append((path, "a symbolic link"))
                continue
            if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                continue  # specials: never followed, never chmod-ed
            if st.st_uid != euid:
                scan.untrusted.append((path, f"owned by uid {st.st_uid}"))
                continue
            scan.checked += 1
            if st.st_mode & 0o077:
                scan.bad.append((path, st.st_mode & 0o777, stat.S_ISDIR(st.st_mode)))
    return scans


def _shown(paths: StatePaths, p: Path) -> str:
    for base in (paths.data_dir, paths.cache_dir):
        if base in p.parents:
            return str(p.relative_to(base))
    return str(p)


def _permissions_result(
    tenant: str | None, scan: _PermScan, paths: StatePaths, fix: bool
) -> CheckResult:
    def shown(p: Path) -> str:
        return _shown(paths, p)

    if not scan.bad:
        return _pass(tenant, "permissions", f"{_plural(scan.checked, 'path')} are owner-only")
    codes = {
        ExitCode.AUDIT if paths.audit_root in (p, *p.parents) else ExitCode.INTEGRITY
        for p, _m, _d in scan.bad
    }
    if fix:
        changed = []
        for path, mode, is_dir in scan.bad:
            target = DIR_MODE if is_dir else FILE_MODE
            try:
                os.chmod(path, target, follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                msg = f"cannot chmod {shown(path)}: {exc.strerror}"
                return _fail(tenant, "permissions", msg, most_serious(codes))
            changed.append(f"{shown(path)} {mode:04o} -> {target:04o}")
        return _pass(tenant, "permissions", f"fixed: {_places(changed)}", fixed=True)
    listed = _places([f"{shown(p)} ({m:04o})" for p, m, _d in scan.bad])
    msg = f"{_plural(len(scan.bad), 'path')} not owner-only: {listed}"
    return _fail(tenant, "permissions", msg, most_serious(codes), _FIX_HINT)


def _ownership_result(tenant: str | None, scan: _PermScan, paths: StatePaths) -> CheckResult | None:
    """A failure (exit 3) listing state paths rdapctl refuses to use (another owner, a
    symlink), or None. Never fixed: whoever planted them may have planted more (a
    keyring, a forged audit trail), so a person must look first."""
    if not scan.untrusted:
        return None
    listed = _places([f"{_shown(paths, p)} ({why})" for p, why in scan.untrusted])
    msg = f"{_plural(len(scan.untrusted), 'path')} not yours: {listed}"
    hint = (
        "rdapctl refuses to use them: check what they hold, then remove them or "
        f"`chown {os.geteuid()}` them (as root), or set RDAPCTL_HOME to a folder of "
        "your own (--fix never changes ownership)"
    )
    return _fail(tenant, "ownership", msg, ExitCode.CONFIG, hint)


# --------------------------------------------------------------------------- keys


def _master_key_check(env: Mapping[str, str]) -> tuple[CheckResult, bool]:
    from rdapctl.store.keys.master import master_key_from_env

    try:
        master = master_key_from_env(env)
    except ConfigError as exc:
        return _fail(None, "master_key", exc.message, ExitCode.CONFIG, exc.hint), False
    if master is None:
        msg = "no master key is set: keyrings are stored unwrapped"
        hint = "set RDAPCTL_MASTER_KEY or RDAPCTL_MASTER_KEY_FILE (32 random bytes, base64)"
        return _warn(None, "master_key", msg, hint), True
    source = "RDAPCTL_MASTER_KEY" if env.get("RDAPCTL_MASTER_KEY") else "RDAPCTL_MASTER_KEY_FILE"
    return _pass(None, "master_key", f"a master key is set ({source})"), True


def _key_tokens(paths: StatePaths, name: str, keyring: Any) -> set[str]:
    """What identifies this tenant's keys: ids, stored and raw-material fingerprints."""
    from rdapctl.store.keys.keyfile import stored_fingerprints

    stored = stored_fingerprints(paths.keyring_file(name))
    tokens = {f"id:{kid}" for kid in stored} | {f"stored:{fp}" for fp in stored.values()}
    if keyring is not None:
        tokens |= {f"raw:{fp}" for fp in keyring.fingerprints().values()}
    return tokens


def _sharing_results(targets: list[_Target], tokens: dict[str, set[str]]) -> dict[str, CheckResult]:
    out: dict[str, CheckResult] = {}
    for t in targets:
        mine = tokens.get(t.name)
        if mine is None:
            continue
        others = sorted(o for o, theirs in tokens.items() if o != t.name and mine & theirs)
        if others:
            msg = f"shares key material with tenant {', '.join(others)}"
            hint = "give each tenant its own keyring: move the copied keyring file away"
            out[t.name] = _fail(t.name, "keys_not_shared", msg, ExitCode.INTEGRITY, hint)
        else:
            out[t.name] = _pass(t.name, "keys_not_shared", "no key is shared with another tenant")
    return out


# --------------------------------------------------------------------------- audit, cache, PII


def _audit_check(
    target: _Target, keyring: Any, paths: StatePaths, clock: Callable[[], float]
) -> CheckResult:
    from rdapctl.store.audit.log import AuditLog

    name = target.name
    started = keyring is not None and keyring.audit_started
    if not paths.tenant_audit_dir(name).is_dir() and not started:
        return _pass(name, "audit_chain", "no audit records yet")
    if keyring is None:
        return _warn(name, "audit_chain", "not verified: the tenant's keyring does not open")
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
        return _fail(name, "audit_chain", exc.message, ExitCode.CONFIG, exc.hint)
    except RdapctlError as exc:
        return _fail(name, "audit_chain", exc.message, ExitCode.AUDIT, exc.hint)
    if not report.ok:
        first = report.problems[0] if report.problems else None
        msg = f"the chain does not verify: {_plural(len(report.problems), 'problem')}"
        if first is not None:
            msg += f"; first at {first.location}: {first.kind}"
        hint = f"run `rdapctl audit verify -t {name}` for every place"
        return _fail(name, "audit_chain", msg, ExitCode.AUDIT, hint)
    summary = (
        f"the chain verifies: {_plural(report.records, 'record')}"
        f" in {_plural(report.files, 'file')}"
    )
    if report.warnings:
        return _warn(
            name,
            "audit_chain",
            f"{summary}, with {_plural(len(report.warnings), 'warning')}",
            f"run `rdapctl audit repair -t {name}`",
        )
    return _pass(name, "audit_chain", summary)


@dataclass
class _PiiFinds:
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


def _cache_check(
    target: _Target,
    keyring: Any,
    paths: StatePaths,
    clock: Callable[[], float],
    pii: _PiiFinds | None,
    pii_kinds: tuple[bool, bool],
) -> CheckResult:
    from rdapctl.store.cache import TenantCache

    name = target.name
    directory = paths.tenant_cache_dir(name)
    if not os.path.lexists(directory):
        return _pass(name, "cache", "no cache store yet")
    if directory.is_symlink() or not directory.is_dir():
        msg = "the cache store is not a folder of its own (a symlink or a file)"
        return _fail(name, "cache", msg, ExitCode.INTEGRITY)
    if keyring is None:
        if pii is not None:
            pii.cache_unscanned = True
        return _warn(name, "cache", "not read: the tenant's keyring does not open")
    if not (directory / "cache.db").is_file():
        return _pass(name, "cache", "the cache store is empty")
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
        return _fail(name, "cache", exc.message, ExitCode.INTEGRITY, exc.hint)
    if broken:
        msg = f"{_plural(len(broken), 'entry', 'entries')} fail integrity: {_places(broken)}"
        hint = f"run `rdapctl cache purge -t {name}` to delete them"
        return _fail(name, "cache", msg, ExitCode.INTEGRITY, hint)
    summary = f"{_plural(readable, 'entry', 'entries')} open with the tenant's keys"
    if gone:
        msg = f"{summary}; {gone} sealed under retired keys"
        return _warn(name, "cache", msg, f"run `rdapctl cache purge -t {name}`")
    return _pass(name, "cache", summary)


def _audit_files(directory: Path) -> list[Path]:
    try:
        return sorted(
            p
            for p in directory.iterdir()
            if p.name.endswith(".jsonl") or ".jsonl.quarantine-" in p.name
        )
    except (FileNotFoundError, NotADirectoryError):
        return []


def _scan_audit_pii(directory: Path, pii: _PiiFinds, emails: bool, phones: bool) -> str | None:
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


def _pii_result(target: _Target, pii: _PiiFinds, kinds: tuple[bool, bool]) -> CheckResult:
    name = target.name
    what = " or ".join(
        w for w, on in zip(("e-mail address", "phone number"), kinds, strict=True) if on
    )
    if not pii.places and pii.cache_unscanned:
        msg = f"no {what} found in the audit files; the cache could not be scanned"
        return _warn(name, "pii", msg)
    if not pii.places:
        return _pass(name, "pii", f"no {what} found in the cache or audit files")
    counts = []
    if pii.emails:
        counts.append(_plural(pii.emails, "e-mail address", "e-mail addresses"))
    if pii.phones:
        counts.append(_plural(pii.phones, "phone number"))
    msg = f"{' and '.join(counts)} found despite redact_pii, in {_places(pii.places)}"
    hint = f"clear the cache (`rdapctl cache clear -t {name}`) and find how the value got in"
    return _fail(name, "pii", msg, most_serious(pii.codes), hint)


# --------------------------------------------------------------------------- bootstrap


def _bootstrap_check(paths: StatePaths, clock: Callable[[], float]) -> CheckResult:
    from rdapctl.rdap.bootstrap import REGISTRY_NAMES
    from rdapctl.store.bootstrap_files import load_registry

    updated = paths.bootstrap_dir if paths.bootstrap_dir.is_dir() else None
    newest: datetime | None = None
    sources: set[str] = set()
    fallbacks: list[str] = []
    for name in REGISTRY_NAMES:
        try:
            registry = load_registry(name, updated)
        except ConfigError as exc:  # an updated copy rdapctl refuses to use (ownership)
            return _fail(None, "bootstrap", exc.message, ExitCode.CONFIG, exc.hint)
        except (OSError, ValueError) as exc:
            msg = f"the embedded {name} registry is missing or invalid ({exc})"
            hint = "reinstall rdapctl, or run `rdapctl bootstrap update`"
            return _fail(None, "bootstrap", msg, ExitCode.INTERNAL, hint)
        sources.add(registry.source)
        if (
            updated is not None
            and registry.source == "embedded"
            and (updated / f"{name}.json").exists()
        ):
            fallbacks.append(name)
        try:
            published = datetime.fromisoformat(registry.publication.replace("Z", "+00:00"))
        except ValueError:
            continue
        if newest is None or published > newest:
            newest = published
    source = "updated" if sources == {"updated"} else "embedded"
    if sources == {"updated", "embedded"}:
        source = "partly updated"
    if newest is None:
        return _warn(None, "bootstrap", f"{source} registries present; no publication date")
    age_days = int(max(0.0, clock() - newest.timestamp()) // 86400)
    summary = f"{source} registries, newest published {newest.date().isoformat()}"
    summary += f" ({_plural(age_days, 'day')} old)"
    if fallbacks:
        msg = f"{summary}; the updated {', '.join(fallbacks)} copy is invalid (embedded used)"
        return _warn(None, "bootstrap", msg, "run `rdapctl bootstrap update`")
    if age_days > BOOTSTRAP_MAX_AGE_DAYS:
        msg = f"{summary}: older than {BOOTSTRAP_MAX_AGE_DAYS} days"
        return _warn(None, "bootstrap", msg, "run `rdapctl bootstrap update`")
    return _pass(None, "bootstrap", summary)


# --------------------------------------------------------------------------- the run


def _has_state(paths: StatePaths, name: str) -> bool:
    return (
        paths.keyring_file(name).exists()
        or os.path.lexists(paths.tenant_cache_dir(name))
        or os.path.lexists(paths.tenant_audit_dir(name))
    )


def _open_keyring(
    target: _Target, paths: StatePaths, env: Mapping[str, str], clock: Callable[[], float]
) -> tuple[Any, CheckResult, CheckResult | None]:
    """(keyring or None, the keyring check, the wrapping check when it opened)."""
    from rdapctl.store.keys.keyring import Keyring

    name = target.name
    try:
        keyring = Keyring.load(paths, name, env, clock)
    except RdapctlError as exc:
        code = exc.exit_code if exc.exit_code == ExitCode.CONFIG else ExitCode.INTEGRITY
        return None, _fail(name, "keyring", exc.message, code, exc.hint), None
    if keyring is None:
        msg = "has cache or audit data but no keyring: they cannot be read or verified"
        hint = (
            f"restore the keyring with `rdapctl keys import -t {name} BACKUP`, or start a new"
            f" one with `rdapctl keys init -t {name} --replace-lost`"
        )
        return None, _fail(name, "keyring", msg, ExitCode.INTEGRITY, hint), None
    purposes = sorted({k.purpose for k in keyring.status()})
    msg = f"own keyring opens ({_plural(len(keyring.status()), 'key')}: {', '.join(purposes)})"
    ok = _pass(name, "keyring", msg)
    if keyring.stored_wrapped:
        return keyring, ok, _pass(name, "keys_wrapped", "keys are wrapped by the master key")
    if keyring.wrapped:
        wrap = _warn(
            name,
            "keys_wrapped",
            "keys are stored unwrapped; they are wrapped at the next command that uses them",
        )
    else:
        wrap = _warn(
            name,
            "keys_wrapped",
            "keys are stored unwrapped (no master key)",
            "set RDAPCTL_MASTER_KEY or RDAPCTL_MASTER_KEY_FILE",
        )
    return keyring, ok, wrap


def _separate_stores(targets: list[_Target], paths: StatePaths) -> dict[str, str]:
    """Tenants whose cache or audit folder resolves to another tenant's."""
    seen: dict[Path, str] = {}
    clashes: dict[str, str] = {}
    for t in targets:
        for folder in (paths.tenant_cache_dir(t.name), paths.tenant_audit_dir(t.name)):
            if not os.path.lexists(folder):
                continue
            real = folder.resolve()
            other = seen.setdefault(real, t.name)
            if other != t.name:
                clashes[t.name] = other
    return clashes


def run_doctor(
    paths: StatePaths,
    env: Mapping[str, str],
    *,
    profiles: Path | None = None,
    tenant: str | None = None,
    fix: bool = False,
    clock: Callable[[], float],
) -> DoctorReport:
    """Run every check (for ``tenant`` only, when given) and return the checklist.

    ConfigError only when ``tenant`` names no tenant of a valid profiles file; every
    other problem is a failed check in the report.
    """
    results: list[CheckResult] = []
    profiles_result, loaded = _profiles_check(profiles, env, paths)
    results.append(profiles_result)
    results.append(_bootstrap_check(paths, clock))
    master_result, master_ok = _master_key_check(env)
    results.append(master_result)

    targets = _targets(loaded, tenant, paths, env)
    scans = _scan_permissions(paths)
    shared_scan = scans.get(None)
    if shared_scan is not None:
        results.append(_permissions_result(None, shared_scan, paths, fix))
        if (owners := _ownership_result(None, shared_scan, paths)) is not None:
            results.append(owners)

    keyrings: dict[str, Any] = {}
    per_tenant: dict[str, list[CheckResult]] = {}
    for t in targets:
        checks = per_tenant.setdefault(t.name, [])
        if not t.in_profiles and loaded is not None:
            msg = "state on disk for a tenant the profiles file does not name"
            checks.append(_warn(t.name, "state", msg, "remove it, or add the tenant back"))
        if not _has_state(paths, t.name):
            checks.append(_pass(t.name, "state", "no state yet"))
            continue
        if t.name in scans:
            checks.append(_permissions_result(t.name, scans[t.name], paths, fix))
            if (owners := _ownership_result(t.name, scans[t.name], paths)) is not None:
                checks.append(owners)
        if not master_ok:
            keyring = None
            checks.append(_warn(t.name, "keyring", "not opened: the master key is malformed"))
        else:
            keyring, ring_result, wrap_result = _open_keyring(t, paths, env, clock)
            checks.append(ring_result)
            if wrap_result is not None:
                checks.append(wrap_result)
        keyrings[t.name] = keyring

    # Keys of every tenant on disk are compared, even with -t: a copy is shared both ways.
    tokens: dict[str, set[str]] = {}
    checked = set(per_tenant)
    for name in sorted(tenants_on_disk(paths) | set(keyrings)):
        ring = keyrings.get(name)
        if ring is None and name not in checked and master_ok:
            ring = _try_load(paths, name, env, clock)
        tokens[name] = _key_tokens(paths, name, ring)
    everyone = [*targets, *(_Target(n, Tenant(name=n), False) for n in tokens if n not in checked)]
    sharing = _sharing_results(everyone, tokens)
    clashes = _separate_stores(everyone, paths)

    for t in targets:
        checks = per_tenant[t.name]
        if t.name not in keyrings:
            continue  # no state yet
        if t.name in sharing and paths.keyring_file(t.name).exists():
            checks.append(sharing[t.name])
        keyring = keyrings[t.name]
        if t.name in clashes:
            msg = f"its cache or audit folder is the same folder as tenant {clashes[t.name]}'s"
            checks.append(_fail(t.name, "separate_stores", msg, ExitCode.INTEGRITY))
        kinds = _pii_kinds(t)
        pii = _PiiFinds() if kinds is not None else None
        checks.append(_cache_check(t, keyring, paths, clock, pii, kinds or (False, False)))
        checks.append(_audit_check(t, keyring, paths, clock))
        if not t.in_profiles:
            checks.append(_warn(t.name, "pii", "not scanned: the tenant's PII policy is unknown"))
        elif kinds is None or pii is None:
            checks.append(_pass(t.name, "pii", "not scanned: the tenant does not redact PII"))
        else:
            problem = _scan_audit_pii(paths.tenant_audit_dir(t.name), pii, *kinds)
            if problem is not None:
                checks.append(_fail(t.name, "pii", problem, ExitCode.AUDIT))
            else:
                checks.append(_pii_result(t, pii, kinds))

    for t in targets:
        results.extend(per_tenant[t.name])
    return DoctorReport(results)


def _pii_kinds(target: _Target) -> tuple[bool, bool] | None:
    """(scan e-mails, scan phones) for a tenant that redacts them, else None."""
    security = target.tenant.security
    if not target.in_profiles or not security.redact_pii:
        return None
    fields = set(security.redact_fields)
    kinds = ("email" in fields, "tel" in fields)
    return kinds if any(kinds) else None


def _try_load(
    paths: StatePaths, name: str, env: Mapping[str, str], clock: Callable[[], float]
) -> Any:
    from rdapctl.store.keys.keyring import Keyring

    try:
        return Keyring.load(paths, name, env, clock)
    except RdapctlError:
        return None


def statuses(results: Iterable[CheckResult]) -> dict[str, int]:
    """How many checks passed, warned and failed."""
    counts = {"pass": 0, "warn": 0, "fail": 0}
    for r in results:
        counts[r.status] += 1
    return counts
