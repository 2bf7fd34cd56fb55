"""The search command's arguments as words: one grammar for ``rdapctl search KIND
--OPTION VALUE ...`` and for batch ``search:`` lines (``search:domains --ns-name
ns1.example.net``), so that both accept exactly the same searches.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from rdapctl.core.errors import UsageError
from rdapctl.core.records import record
from rdapctl.rdap.search import SEARCH_KINDS, SearchRequest, make_search

# Forward search options of each kind → RFC 9082 parameter.
FORWARD_OPTIONS: dict[str, dict[str, str]] = {
    "domains": {"--name": "name", "--ns-name": "nsLdhName", "--ns-ip": "nsIp"},
    "nameservers": {"--name": "name", "--ip": "ip"},
    "entities": {"--fn": "fn", "--handle": "handle"},
    "ips": {},
    "autnums": {},
}
# Reverse search options (every kind) → RFC 9536 property of the related entity.
REVERSE_OPTIONS: dict[str, str] = {
    "--entity-handle": "handle",
    "--entity-fn": "fn",
    "--entity-email": "email",
}
_VALUE_OPTIONS = ("--role", "--sort", "--field-set", "--limit", "--server")
_FLAG_OPTIONS = ("--total", "--unicode")


@record
class SearchLine:
    """A search given as words, with the options that are not part of the request."""

    request: SearchRequest
    limit: int | None = None
    server: str | None = None


def search_request(
    kind: str,
    given: Mapping[str, str | None],
    *,
    role: str | None = None,
    sort: str | None = None,
    count: bool = False,
    field_set: str | None = None,
    unicode: bool = False,
) -> SearchRequest:
    """The request of ``kind`` from its search options (``given``: option → value,
    None when absent); exactly one must be set."""
    if kind not in SEARCH_KINDS:
        raise UsageError(f"unknown search {kind!r}", hint=f"one of: {', '.join(SEARCH_KINDS)}")
    chosen = [(opt, value) for opt, value in given.items() if value is not None]
    allowed = [*FORWARD_OPTIONS[kind], *REVERSE_OPTIONS]
    if not chosen:
        raise UsageError(f"search {kind} needs one of {', '.join(allowed)}")
    if len(chosen) > 1:
        given_names = " and ".join(opt for opt, _ in chosen)
        raise UsageError(
            f"search {kind} takes only one of {', '.join(allowed)} ({given_names} given)"
        )
    option, value = chosen[0]
    assert value is not None
    if option in REVERSE_OPTIONS:
        param, reverse = REVERSE_OPTIONS[option], True
    elif option in FORWARD_OPTIONS[kind]:
        param, reverse = FORWARD_OPTIONS[kind][option], False
    else:
        raise UsageError(
            f"search {kind} does not take {option}", hint=f"one of: {', '.join(allowed)}"
        )
    return make_search(
        kind,
        param,
        value,
        reverse=reverse,
        role=role,
        sort=sort,
        count=count,
        field_set=field_set,
        unicode=unicode,
    )


def parse_search_line(text: str) -> SearchLine:
    """``domains --ns-name ns1.example.net [--limit N] ...`` (a batch line without its
    ``search:`` prefix) as a search; UsageError says what is wrong."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"cannot read the search {text!r}: {exc}") from None
    if not words:
        raise UsageError("empty search", hint="e.g. search:domains --ns-name ns1.example.net")
    kind, rest = words[0], words[1:]  # as the command takes it: lower case
    if kind not in SEARCH_KINDS:
        raise UsageError(f"unknown search {words[0]!r}", hint=f"one of: {', '.join(SEARCH_KINDS)}")
    given: dict[str, str | None] = {}
    values: dict[str, str] = {}
    flags: set[str] = set()
    search_options = {*FORWARD_OPTIONS[kind], *REVERSE_OPTIONS}
    i = 0
    while i < len(rest):
        word = rest[i]
        option, eq, inline = word.partition("=")
        if option in _FLAG_OPTIONS and not eq:
            flags.add(option)
            i += 1
            continue
        if option not in search_options and option not in _VALUE_OPTIONS:
            raise UsageError(f"search {kind} does not take {word!r}")
        if eq:
            value = inline
        elif i + 1 < len(rest):
            value = rest[i + 1]
            i += 1
        else:
            raise UsageError(f"{option} needs a value")
        i += 1
        if option in given or option in values:
            raise UsageError(f"{option} is given twice")
        if option in search_options:
            given[option] = value
        else:
            values[option] = value
    limit = None
    if "--limit" in values:
        try:
            limit = int(values["--limit"])
        except ValueError:
            raise UsageError(f"--limit {values['--limit']!r} is not a number") from None
    request = search_request(
        kind,
        given,
        role=values.get("--role"),
        sort=values.get("--sort"),
        count="--total" in flags,
        field_set=values.get("--field-set"),
        unicode="--unicode" in flags,
    )
    return SearchLine(request, limit=limit, server=values.get("--server"))
