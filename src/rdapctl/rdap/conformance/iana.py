"""The IANA registries the conformance checks compare values with, as data.

Source: IANA "Registration Data Access Protocol (RDAP) JSON Values" registry
(https://www.iana.org/assignments/rdap-json-values), established by RFC 7483 section
10.2 and kept by RFC 9083 section 10.2, with the later registrations (RFC 8056 EPP
status mapping, the ICANN gTLD profile's event action and remark type, RFC 9537's
redaction methods). Read 2026-12; the registry only grows, so a value missing here is
reported as not registered (an error, or a warning for notice and remark types), never
silently dropped.

Must not: import anything, or hold anything but data.
"""

from __future__ import annotations

from rdapctl.rdap.answer import ENTITY_ROLES

# "status" (RFC 9083 section 10.2.2; RFC 8056 section 2 for the EPP mapped values).
STATUS_VALUES: frozenset[str] = frozenset(
    {
        "validated",
        "renew prohibited",
        "update prohibited",
        "transfer prohibited",
        "delete prohibited",
        "proxy",
        "private",
        "removed",
        "obscured",
        "associated",
        "active",
        "inactive",
        "locked",
        "pending create",
        "pending renew",
        "pending transfer",
        "pending update",
        "pending delete",
        "add period",
        "auto renew period",
        "client delete prohibited",
        "client hold",
        "client renew prohibited",
        "client transfer prohibited",
        "client update prohibited",
        "pending restore",
        "redemption period",
        "renew period",
        "server delete prohibited",
        "server renew prohibited",
        "server transfer prohibited",
        "server update prohibited",
        "server hold",
        "transfer period",
        "administrative",
        "reserved",
    }
)

# The RDAP status values an EPP domain status maps to (RFC 8056 section 2), the only
# ones the ICANN gTLD RDAP Response Profile (section 2.6.1) allows for a domain.
EPP_DOMAIN_STATUS_VALUES: frozenset[str] = frozenset(
    {
        "active",
        "inactive",
        "add period",
        "auto renew period",
        "client delete prohibited",
        "client hold",
        "client renew prohibited",
        "client transfer prohibited",
        "client update prohibited",
        "pending create",
        "pending delete",
        "pending renew",
        "pending restore",
        "pending transfer",
        "pending update",
        "redemption period",
        "renew period",
        "server delete prohibited",
        "server hold",
        "server renew prohibited",
        "server transfer prohibited",
        "server update prohibited",
        "transfer period",
    }
)

# "event action" (RFC 9083 section 10.2.3; "last update of RDAP database" registered
# for the ICANN profile, "registrar expiration" and "enum validation expiration" later).
EVENT_ACTIONS: frozenset[str] = frozenset(
    {
        "registration",
        "reregistration",
        "last changed",
        "expiration",
        "deletion",
        "reinstantiation",
        "transfer",
        "locked",
        "unlocked",
        "last update of RDAP database",
        "registrar expiration",
        "enum validation expiration",
    }
)

# "role" (RFC 9083 section 10.2.4): the list the profiles schema offers too.
ROLES: frozenset[str] = frozenset(ENTITY_ROLES)

# "notice or remark type" (RFC 9083 section 10.2.1; the last one registered for the
# ICANN gTLD profile).
NOTICE_TYPES: frozenset[str] = frozenset(
    {
        "result set truncated due to authorization",
        "result set truncated due to excessive load",
        "result set truncated due to unexplainable reasons",
        "object truncated due to authorization",
        "object truncated due to excessive load",
        "object truncated due to unexplainable reasons",
        "object redacted due to authorization",
    }
)

# Redaction methods (RFC 9537 sections 3 and 4.2; "removal" when "method" is absent).
REDACTION_METHODS: frozenset[str] = frozenset(
    {"removal", "emptyValue", "partialValue", "replacementValue"}
)
