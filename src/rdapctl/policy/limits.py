"""What one lookup may spend: patience by ``business_criticality``, requests and time.

Light on purpose (no HTTP or network imports): a cache hit builds its lookup's budget
too, and must not pay for the HTTP machinery it will not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rdapctl.core.records import mutable_record, record

if TYPE_CHECKING:
    from rdapctl.policy.tenant import Tenant

# Requests one lookup may send in all: attempts, redirect hops and referrals.
MAX_REQUESTS = 8


@record
class RetryPolicy:
    """How patient to be. ``business_criticality`` picks one (critical retries longest)."""

    max_retries: int
    max_wait_s: float
    backoff_s: float


RETRY_BY_CRITICALITY: dict[str, RetryPolicy] = {
    "critical": RetryPolicy(max_retries=4, max_wait_s=30.0, backoff_s=0.5),
    "high": RetryPolicy(max_retries=3, max_wait_s=15.0, backoff_s=0.5),
    "medium": RetryPolicy(max_retries=2, max_wait_s=10.0, backoff_s=0.25),
    "low": RetryPolicy(max_retries=0, max_wait_s=2.0, backoff_s=0.25),
}


@mutable_record
class RequestBudget:
    """What one lookup may still spend: requests, and time up to a monotonic deadline
    (None: no overall deadline, each request still bounded by ``timeout_s``)."""

    max_requests: int
    deadline: float | None = None
    deadline_s: float = 0.0  # for messages: the deadline's length
    sent: int = 0

    def left_s(self, now: float) -> float | None:
        return None if self.deadline is None else self.deadline - now


def deadline_s(tenant: Tenant) -> float:
    """How long one lookup may take, requests and retry waits together: three
    requests' worth of ``timeout_s`` plus the longest wait the tenant's
    ``business_criticality`` allows for a ``Retry-After``."""
    retry = RETRY_BY_CRITICALITY[tenant.business_criticality]
    return 3 * tenant.security.timeout_s + retry.max_wait_s


def lookup_budget(tenant: Tenant, now: float) -> RequestBudget:
    """The budget of a lookup starting at ``now`` (a monotonic instant)."""
    limit = deadline_s(tenant)
    return RequestBudget(max_requests=MAX_REQUESTS, deadline=now + limit, deadline_s=limit)
