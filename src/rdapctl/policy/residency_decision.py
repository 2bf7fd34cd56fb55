"""The residency decision for each server a lookup asks, as envelopes and audit
records carry it, memoised per tenant (it depends only on the server's host and the
query's TLD). The refusal of strict isolation: ``rdapctl.policy.residency.residency_refusal``."""

from __future__ import annotations

from rdapctl.core.records import record
from rdapctl.policy.tenant import Tenant

_MEMO_MAX = 4096


@record
class Residency:
    """The residency decision for one server, as recorded in envelopes and audit."""

    region: str
    action: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"region": self.region, "action": self.action, "reason": self.reason}


class ResidencyDecisions:
    """One tenant's residency decisions, by (server netloc, query TLD)."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant
        self._memo: dict[tuple[str, str | None], Residency] = {}

    def for_url(self, url: str, query_tld: str | None) -> Residency:
        """The decision for the server of ``url`` (no consequences drawn)."""
        parts = url.split("/", 3)
        netloc = parts[2] if len(parts) > 2 and parts[1] == "" else None
        memo = self._memo
        residency = memo.get((netloc, query_tld)) if netloc is not None else None
        if residency is None:
            from rdapctl.policy.residency import decide, region_for

            tenant = self._tenant
            decision = decide(
                tenant, region_for(url, query_tld=query_tld, overrides=tenant.regions)
            )
            residency = Residency(decision.region, decision.action, decision.reason)
            if netloc is not None:
                if len(memo) >= _MEMO_MAX:
                    memo.clear()
                memo[(netloc, query_tld)] = residency
        return residency
