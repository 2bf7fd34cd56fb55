"""``rdapctl search capabilities``: what a server says about searching in its ``help``
answer, fetched as a ``help`` lookup (the tenant's whole policy, cache and audit)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rdapctl.core.errors import NoServerError, RdapctlError, UpstreamError
from rdapctl.rdap.search import capabilities

if TYPE_CHECKING:
    from rdapctl.app.session import TenantSession


def fetch_capabilities(session: TenantSession, server: str | None) -> dict[str, Any]:
    """The report of ``server`` (default: the tenant's ``servers.search``, then
    ``servers.all``). Raises the lookup's error when the help answer is not to be had."""
    from rdapctl.app.lookup import LookupOptions, run_lookup
    from rdapctl.policy.server_choice import SEARCH_NO_SERVER_HINT
    from rdapctl.rdap.envelope import SCHEMA_VERSION

    servers = session.tenant.servers
    base = server or servers.search or servers.all
    if not base:
        raise NoServerError(
            "no server to ask for its search capabilities", hint=SEARCH_NO_SERVER_HINT
        )
    envelope = run_lookup(session, "help", LookupOptions(forced_type="help", server=base))
    if envelope["status"] != "ok" or not isinstance(envelope.get("response"), dict):
        error = envelope.get("error") or {}
        raise _error_of(error)
    found = capabilities(envelope["response"])
    return {
        "schema": SCHEMA_VERSION,
        "tenant": session.tenant.name,
        "server": envelope.get("server"),
        "url": envelope.get("url"),
        "source": envelope.get("source"),
        **found,
    }


def _error_of(error: dict[str, Any]) -> RdapctlError:
    """The lookup's error again, as an exception with its exit code."""
    from rdapctl.core.errors import ExitCode

    exc = UpstreamError(
        str(error.get("message") or "the help lookup failed"),
        code=str(error.get("code") or "http_error"),
    )
    if error.get("hint"):
        exc.hint = str(error["hint"])
    code = error.get("exit_code")
    if isinstance(code, int) and code in {int(c) for c in ExitCode}:
        exc.exit_code = ExitCode(code)
    return exc
