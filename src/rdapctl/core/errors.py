"""The one exception tree of rdapctl, and the exit code each error maps to.

::

    RdapctlError (1, internal)
    ├── UsageError (2)             bad arguments, unparseable query
    ├── ConfigError (3)            invalid profiles file, unknown tenant
    ├── PolicyDeniedError (4)      query type, network guard, residency, pinning, batch size
    │   └── NetworkGuardError (4)  an outgoing connection the tenant's network policy forbids
    ├── RateLimitedError (5)       the server kept answering 429/503 past the retry budget
    ├── NotFoundError (6)          RDAP 404
    ├── UpstreamError (7)          network failure, timeout, 5xx, malformed or unusable answer,
    │                              offline miss
    ├── NoServerError (8)          no RDAP server is known for the query
    ├── IntegrityError (9)         cache or key integrity failure, wrong master key
    ├── AuditError (10)            audit record could not be written, or verification failed
    └── InterruptedRunError (130)    SIGINT / SIGTERM

Every error carries a one-line ``message`` and an optional ``hint`` (what to change
to make it work), and a stable machine ``code`` used in the JSON envelope. An error
that came with a server's answer also carries that answer (``answer``: its URL, HTTP
status and decoded error body), so the envelope can show what the server said.
Messages must never contain key material or response personal data.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Exit codes; documented in the README and pinned by tests."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    CONFIG = 3
    DENIED = 4
    RATE_LIMITED = 5
    NOT_FOUND = 6
    UPSTREAM = 7
    NO_SERVER = 8
    INTEGRITY = 9
    AUDIT = 10
    CHECK_FAILED = 11
    INTERRUPTED = 130


class RdapctlError(Exception):
    """Base of every error rdapctl reports to the user."""

    exit_code: ExitCode = ExitCode.INTERNAL
    code: str = "internal_error"

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code
        # The answer this error came with: (url, http status, decoded body or None).
        self.answer: tuple[str, int, Any] | None = None

    def with_answer(self, url: str, status: int, body: Any = None) -> RdapctlError:
        """This error, marked as coming with the server's answer ``status`` at ``url``."""
        self.answer = (url, status, body)
        return self

    def __str__(self) -> str:
        return self.message


class UsageError(RdapctlError):
    exit_code = ExitCode.USAGE
    code = "usage_error"


class ConfigError(RdapctlError):
    exit_code = ExitCode.CONFIG
    code = "config_error"


class PolicyDeniedError(RdapctlError):
    exit_code = ExitCode.DENIED
    code = "policy_denied"


class NetworkGuardError(PolicyDeniedError):
    code = "ssrf_blocked"


class RateLimitedError(RdapctlError):
    exit_code = ExitCode.RATE_LIMITED
    code = "rate_limited"


class NotFoundError(RdapctlError):
    exit_code = ExitCode.NOT_FOUND
    code = "not_found"


class UpstreamError(RdapctlError):
    exit_code = ExitCode.UPSTREAM
    code = "upstream_error"


class NoServerError(RdapctlError):
    exit_code = ExitCode.NO_SERVER
    code = "no_server"


class IntegrityError(RdapctlError):
    exit_code = ExitCode.INTEGRITY
    code = "integrity_error"


class AuditError(RdapctlError):
    exit_code = ExitCode.AUDIT
    code = "audit_error"


class InterruptedRunError(RdapctlError):
    exit_code = ExitCode.INTERRUPTED
    code = "interrupted"


# Order used when several failures happen (batch): the most serious wins.
SEVERITY: tuple[ExitCode, ...] = (
    ExitCode.INTERRUPTED,
    ExitCode.AUDIT,
    ExitCode.INTEGRITY,
    ExitCode.CONFIG,
    ExitCode.INTERNAL,
    ExitCode.DENIED,
    ExitCode.UPSTREAM,
    ExitCode.RATE_LIMITED,
    ExitCode.NO_SERVER,
    ExitCode.USAGE,
    ExitCode.NOT_FOUND,
    ExitCode.OK,
)


def most_serious(codes: list[int] | set[int]) -> int:
    """The exit code that wins when several outcomes are combined (see SEVERITY)."""
    present = set(codes)
    for code in SEVERITY:
        if code in present:
            return int(code)
    return int(ExitCode.OK)
