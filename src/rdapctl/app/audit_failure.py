"""What happens when an audit record cannot be written: the tenant's
``audit.fail_open`` decides whether what it stands for may still be shown."""

from __future__ import annotations

from rdapctl.core import diagnostics
from rdapctl.core.errors import AuditError
from rdapctl.policy.tenant import Tenant


def tolerate_audit_failure(tenant: Tenant, exc: AuditError, what: str) -> bool:
    """Whether ``tenant`` goes on without the audit ``what`` that failed to write
    (``audit.fail_open``, with a warning). False: what it stands for must not be shown."""
    if not tenant.audit.fail_open:
        return False
    diagnostics.warning(f"{what} NOT WRITTEN (audit.fail_open = true): {exc.message}")
    return True
