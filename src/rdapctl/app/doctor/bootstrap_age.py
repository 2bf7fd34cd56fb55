"""The bootstrap registries: present, valid, and not older than
:data:`BOOTSTRAP_MAX_AGE_DAYS`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rdapctl.app.doctor.results import (
    CheckResult,
    failed,
    passed,
    plural,
    warned,
)
from rdapctl.core.errors import ConfigError, ExitCode
from rdapctl.store.paths import StatePaths

BOOTSTRAP_MAX_AGE_DAYS = 180


def bootstrap_check(paths: StatePaths, clock: Callable[[], float]) -> CheckResult:
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
            return failed(None, "bootstrap", exc.message, ExitCode.CONFIG, exc.hint)
        except (OSError, ValueError) as exc:
            msg = f"the embedded {name} registry is missing or invalid ({exc})"
            hint = "reinstall rdapctl, or run `rdapctl bootstrap update`"
            return failed(None, "bootstrap", msg, ExitCode.INTERNAL, hint)
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
        return warned(None, "bootstrap", f"{source} registries present; no publication date")
    age_days = int(max(0.0, clock() - newest.timestamp()) // 86400)
    summary = f"{source} registries, newest published {newest.date().isoformat()}"
    summary += f" ({plural(age_days, 'day')} old)"
    if fallbacks:
        msg = f"{summary}; the updated {', '.join(fallbacks)} copy is invalid (embedded used)"
        return warned(None, "bootstrap", msg, "run `rdapctl bootstrap update`")
    if age_days > BOOTSTRAP_MAX_AGE_DAYS:
        msg = f"{summary}: older than {BOOTSTRAP_MAX_AGE_DAYS} days"
        return warned(None, "bootstrap", msg, "run `rdapctl bootstrap update`")
    return passed(None, "bootstrap", summary)
