"""Keys: the master key, each tenant's keyring and its wrapping, and no key material
shared between tenants. Results name places and counts, never key material."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rdapctl.app.doctor.results import (
    CheckResult,
    failed,
    passed,
    plural,
    warned,
)
from rdapctl.app.doctor.targets import Target
from rdapctl.core.errors import ConfigError, ExitCode, RdapctlError
from rdapctl.store.paths import StatePaths


def master_key_check(env: Mapping[str, str]) -> tuple[CheckResult, bool]:
    from rdapctl.store.keys.master import master_key_from_env

    try:
        master = master_key_from_env(env)
    except ConfigError as exc:
        return failed(None, "master_key", exc.message, ExitCode.CONFIG, exc.hint), False
    if master is None:
        msg = "no master key is set: keyrings are stored unwrapped"
        hint = "set RDAPCTL_MASTER_KEY or RDAPCTL_MASTER_KEY_FILE (32 random bytes, base64)"
        return warned(None, "master_key", msg, hint), True
    source = "RDAPCTL_MASTER_KEY" if env.get("RDAPCTL_MASTER_KEY") else "RDAPCTL_MASTER_KEY_FILE"
    return passed(None, "master_key", f"a master key is set ({source})"), True


def key_tokens(paths: StatePaths, name: str, keyring: Any) -> set[str]:
    """What identifies this tenant's keys: ids, stored and raw-material fingerprints."""
    from rdapctl.store.keys.keyfile import stored_fingerprints

    stored = stored_fingerprints(paths.keyring_file(name))
    tokens = {f"id:{kid}" for kid in stored} | {f"stored:{fp}" for fp in stored.values()}
    if keyring is not None:
        tokens |= {f"raw:{fp}" for fp in keyring.fingerprints().values()}
    return tokens


def sharing_results(targets: list[Target], tokens: dict[str, set[str]]) -> dict[str, CheckResult]:
    out: dict[str, CheckResult] = {}
    for t in targets:
        mine = tokens.get(t.name)
        if mine is None:
            continue
        others = sorted(o for o, theirs in tokens.items() if o != t.name and mine & theirs)
        if others:
            msg = f"shares key material with tenant {', '.join(others)}"
            hint = "give each tenant its own keyring: move the copied keyring file away"
            out[t.name] = failed(t.name, "keys_not_shared", msg, ExitCode.INTEGRITY, hint)
        else:
            out[t.name] = passed(t.name, "keys_not_shared", "no key is shared with another tenant")
    return out


def open_keyring(
    target: Target, paths: StatePaths, env: Mapping[str, str], clock: Callable[[], float]
) -> tuple[Any, CheckResult, CheckResult | None]:
    """(keyring or None, the keyring check, the wrapping check when it opened)."""
    from rdapctl.store.keys.keyring import Keyring

    name = target.name
    try:
        keyring = Keyring.load(paths, name, env, clock)
    except RdapctlError as exc:
        code = exc.exit_code if exc.exit_code == ExitCode.CONFIG else ExitCode.INTEGRITY
        return None, failed(name, "keyring", exc.message, code, exc.hint), None
    if keyring is None:
        msg = "has cache or audit data but no keyring: they cannot be read or verified"
        hint = (
            f"restore the keyring with `rdapctl keys import -t {name} BACKUP`, or start a new"
            f" one with `rdapctl keys init -t {name} --replace-lost`"
        )
        return None, failed(name, "keyring", msg, ExitCode.INTEGRITY, hint), None
    purposes = sorted({k.purpose for k in keyring.status()})
    msg = f"own keyring opens ({plural(len(keyring.status()), 'key')}: {', '.join(purposes)})"
    ok = passed(name, "keyring", msg)
    if keyring.stored_wrapped:
        return keyring, ok, passed(name, "keys_wrapped", "keys are wrapped by the master key")
    if keyring.wrapped:
        wrap = warned(
            name,
            "keys_wrapped",
            "keys are stored unwrapped; they are wrapped at the next command that uses them",
        )
    else:
        wrap = warned(
            name,
            "keys_wrapped",
            "keys are stored unwrapped (no master key)",
            "set RDAPCTL_MASTER_KEY or RDAPCTL_MASTER_KEY_FILE",
        )
    return keyring, ok, wrap


def try_load_keyring(
    paths: StatePaths, name: str, env: Mapping[str, str], clock: Callable[[], float]
) -> Any:
    from rdapctl.store.keys.keyring import Keyring

    try:
        return Keyring.load(paths, name, env, clock)
    except RdapctlError:
        return None
