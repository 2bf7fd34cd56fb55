"""A doctor check's verdict (:class:`CheckResult`), the checklist (:class:`DoctorReport`),
and the wording shared by every check."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from rdapctl.core.errors import most_serious

Status = Literal["pass", "warn", "fail"]
MAX_PLACES_SHOWN = 5


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


def passed(tenant: str | None, check: str, message: str, *, fixed: bool = False) -> CheckResult:
    return CheckResult(tenant, check, "pass", message, fixed=fixed)


def warned(tenant: str | None, check: str, message: str, hint: str | None = None) -> CheckResult:
    return CheckResult(tenant, check, "warn", message, hint=hint)


def failed(
    tenant: str | None, check: str, message: str, code: int, hint: str | None = None
) -> CheckResult:
    return CheckResult(tenant, check, "fail", message, exit_code=int(code), hint=hint)


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def places(places: list[str]) -> str:
    shown = ", ".join(places[:MAX_PLACES_SHOWN])
    more = len(places) - MAX_PLACES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def statuses(results: Iterable[CheckResult]) -> dict[str, int]:
    """How many checks passed, warned and failed."""
    counts = {"pass": 0, "warn": 0, "fail": 0}
    for r in results:
        counts[r.status] += 1
    return counts
