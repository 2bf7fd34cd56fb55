"""RDAP searches, pure: what the user asked for as an RFC 9082 search or RFC 9536 reverse
search (with RFC 8977 paging and sorting and RFC 8982 field sets), its URL path, and
what one page of results says (the results, the next page, the total, truncation).

Nothing here sends a request or trusts a server: every reading of a page tolerates any
JSON shape and answers None, False or an empty list for what is not there or not
well formed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote, unquote, urljoin, urlsplit

from rdapctl.core.errors import UsageError
from rdapctl.core.hostnames import to_a_labels
from rdapctl.core.records import record

SearchKind = Literal["domains", "nameservers", "entities", "ips", "autnums"]
SEARCH_KINDS: tuple[str, ...] = ("domains", "nameservers", "entities", "ips", "autnums")
# The results array of each kind (RFC 9083 section 8; ips and autnums: RFC 9910).
RESULTS_MEMBER: dict[str, str] = {
    "domains": "domainSearchResults",
    "nameservers": "nameserverSearchResults",
    "entities": "entitySearchResults",
    "ips": "ipSearchResults",
    "autnums": "autnumSearchResults",
}
# RFC 9082 section 3.2: the searches of each kind, by the parameter they send.
FORWARD_PARAMETERS: dict[str, tuple[str, ...]] = {
    "domains": ("name", "nsLdhName", "nsIp"),
    "nameservers": ("name", "ip"),
    "entities": ("fn", "handle"),
}
# RFC 9536: the properties of the related entity a reverse search may use.
REVERSE_PROPERTIES: tuple[str, ...] = ("handle", "fn", "email")
# The rdapConformance identifiers of the features a search can use.
FEATURES: tuple[str, ...] = ("paging", "sorting", "subsetting", "reverse_search")
# The longest pattern sent (a domain name is at most 253 characters).
MAX_PATTERN_CHARS = 255
_LABEL_CHARS = re.compile(r"[a-z0-9*-]+")
_SORT_ITEM = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}(?::[ad])?")
_FIELD_SET = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_ROLE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
_VERSION = re.compile(r"[0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1
# Lone surrogates: bytes of an argument that were not UTF-8 (surrogateescape).
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# What a query string may carry unencoded: "*" is the RFC 9082 wildcard (some servers
# do not decode %2A), ":" appears in IPv6 addresses and sort orders, "," between sorts.
_SAFE = "*:,"


@record
class SearchRequest:
    """One search as it is sent. ``param`` is the RFC 9082 parameter (``name``,
    ``nsLdhName``, ``nsIp``, ``ip``, ``fn``, ``handle``) or, for a reverse search, the
    RFC 9536 property of the related entity (``handle``, ``fn``, ``email``)."""

    kind: SearchKind
    param: str
    pattern: str
    reverse: bool = False
    role: str | None = None
    sort: str | None = None
    count: bool = False
    field_set: str | None = None

    @property
    def query_type(self) -> str:
        """The ``allowed_query_types`` entry this search needs."""
        return "reverse_search" if self.reverse else "search"

    @property
    def personal(self) -> bool:
        """Whether the pattern names a person (a full name or an e-mail address): the
        audit trail then keeps its keyed hash when the tenant redacts personal data."""
        return self.param in ("fn", "email")

    @property
    def parameters(self) -> dict[str, str]:
        """Every query parameter sent, in order (name → value)."""
        params = {self.param: self.pattern}
        if self.role is not None:
            params["role"] = self.role
        if self.sort is not None:
            params["sort"] = self.sort
        if self.count:
            params["count"] = "true"
        if self.field_set is not None:
            params["fieldSet"] = self.field_set
        return params

    @property
    def path(self) -> str:
        """The path and query string relative to a server's base URL."""
        head = f"{self.kind}/reverse_search/entity" if self.reverse else self.kind
        query = "&".join(f"{k}={quote(v, safe=_SAFE)}" for k, v in self.parameters.items())
        return f"{head}?{query}"

    @property
    def features(self) -> tuple[str, ...]:
        """The rdapConformance identifiers of the extensions this search relies on."""
        used = []
        if self.count:
            used.append("paging")
        if self.sort is not None:
            used.append("sorting")
        if self.field_set is not None:
            used.append("subsetting")
        if self.reverse:
            used.append("reverse_search")
        return tuple(used)

    @property
    def tld(self) -> str | None:
        """The literal top-level label of a ``domains?name=`` pattern (no wildcard), as
        an A-label: bootstrap registries list A-labels, and a ``--unicode`` pattern
        holds U-labels."""
        if self.reverse or self.kind != "domains" or self.param != "name":
            return None
        last = self.pattern.rsplit(".", 1)[-1]
        if "." not in self.pattern or "*" in last or not last:
            return None
        try:
            return to_a_labels(last).lower()
        except ValueError:
            return None

    @property
    def object_tag(self) -> str | None:
        """The literal RFC 8521 object tag of an ``entities?handle=`` pattern."""
        if self.reverse or self.kind != "entities" or self.param != "handle":
            return None
        _, sep, tag = self.pattern.rpartition("-")
        if not sep or not tag or "*" in tag or not tag.isalnum():
            return None
        return tag.upper()

    def describe(self) -> str:
        """What the user asked, as one line (``domains nsLdhName=ns1.example.net``)."""
        where = " reverse_search" if self.reverse else ""
        return f"{self.kind}{where} {self.param}={self.pattern}"


def make_search(
    kind: str,
    param: str,
    pattern: str,
    *,
    reverse: bool = False,
    role: str | None = None,
    sort: str | None = None,
    count: bool = False,
    field_set: str | None = None,
    unicode: bool = False,
) -> SearchRequest:
    """A checked, normalised search; UsageError (exit 2) says what is wrong with it.

    Domain-name patterns are sent as A-labels (``unicode``: U-labels); ``*`` stays
    where the user put it, as RFC 9082 allows.
    """
    if kind not in SEARCH_KINDS:
        raise UsageError(f"unknown search {kind!r}", hint=f"one of: {', '.join(SEARCH_KINDS)}")
    if reverse:
        if param not in REVERSE_PROPERTIES:
            raise UsageError(f"a reverse search cannot use {param!r}")
    elif param not in FORWARD_PARAMETERS.get(kind, ()):
        raise UsageError(f"{kind} cannot be searched by {param!r}")
    if role is not None and not reverse:
        raise UsageError("--role applies only to reverse searches (--entity-*)")
    text = _checked_text(pattern, param)
    if not reverse and param in ("nsIp", "ip"):
        value = _ip(text)
    elif not reverse and param in ("name", "nsLdhName") and kind != "entities":
        value = domain_pattern(text, unicode=unicode)
    elif param in ("handle", "email"):
        if any(ch.isspace() for ch in text):
            raise UsageError(f"{param} pattern {text!r} holds white space")
        value = text
    else:
        value = " ".join(text.split())  # fn: runs of white space as one space
    return SearchRequest(
        kind=kind,  # type: ignore[arg-type]
        param=param,
        pattern=value,
        reverse=reverse,
        role=_role(role),
        sort=_sort(sort),
        count=count,
        field_set=_field_set(field_set),
    )


def _checked_text(pattern: str, param: str) -> str:
    text = pattern.strip()
    if not text:
        raise UsageError(f"empty {param} pattern")
    if len(text) > MAX_PATTERN_CHARS:
        raise UsageError(f"{param} pattern is longer than {MAX_PATTERN_CHARS} characters")
    if _CONTROL.search(text):
        raise UsageError(f"{param} pattern holds control characters")
    if "\ufffd" in text or _SURROGATE.search(text):
        raise UsageError(f"{param} pattern holds bytes that are not UTF-8")
    return text


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise UsageError(
            f"{text!r} is not an IP address", hint="IP searches take one address, no wildcard"
        ) from None


def domain_pattern(text: str, *, unicode: bool = False) -> str:
    """A domain-name search pattern: lower case, no trailing dot, each label without a
    wildcard as an A-label (or, with ``unicode``, a U-label)."""
    name = text.rstrip(".")
    if not name or ".." in name or any(ch.isspace() for ch in name):
        raise UsageError(f"{text!r} is not a domain name pattern")
    labels = []
    for label in name.split("."):
        if "*" in label:
            if not label.isascii():
                if not unicode:
                    raise UsageError(
                        f"label {label!r} mixes a wildcard with non-ASCII characters",
                        hint="pass --unicode to send it as a U-label",
                    )
                label = label.lower()
                if not all(ch.isalnum() or ch in "*-" for ch in label):
                    raise UsageError(f"{text!r} is not a domain name pattern")
                labels.append(label)
                continue
            label = label.lower()
        else:
            label = _convert_label(label, unicode=unicode, whole=text)
        # "." in a converted label: a full stop UTS 46 maps to "." ("ü．" → "ü.").
        if "." in label or (label.isascii() and not _LABEL_CHARS.fullmatch(label)):
            raise UsageError(f"{text!r} is not a domain name pattern")
        labels.append(label)
    return ".".join(labels)


def _convert_label(label: str, *, unicode: bool, whole: str) -> str:
    from rdapctl.core.hostnames import to_u_labels

    try:
        ascii_label = to_a_labels(label) if not label.isascii() else label.lower()
        return to_u_labels(ascii_label) if unicode else ascii_label
    except ValueError:
        raise UsageError(f"{whole!r} is not a valid internationalised domain name") from None


def _role(role: str | None) -> str | None:
    if role is None:
        return None
    if not _ROLE.fullmatch(role):
        raise UsageError(f"{role!r} is not an entity role", hint="e.g. registrant or technical")
    return role.lower()


def _sort(sort: str | None) -> str | None:
    if sort is None:
        return None
    items = [item.strip() for item in sort.split(",")]
    if not all(_SORT_ITEM.fullmatch(item) for item in items):
        raise UsageError(
            f"{sort!r} is not a sort order",
            hint="PROPERTY[:a|:d], e.g. name:a or registrationDate:d",
        )
    return ",".join(items)


def _field_set(name: str | None) -> str | None:
    if name is None:
        return None
    if not _FIELD_SET.fullmatch(name):
        raise UsageError(f"{name!r} is not a field set name", hint="e.g. brief, id or full")
    return name


# -- reading one page ---------------------------------------------------------------


def page_results(body: Any, kind: str) -> list[Any] | None:
    """The results array of a page of ``kind``, or None when there is none.

    The RFC 9083 name first; failing that the one member whose name ends in
    ``SearchResults`` (some registries prefix their own searches, ``arin_..._``).
    """
    if not isinstance(body, dict):
        return None
    found = body.get(RESULTS_MEMBER[kind])
    if isinstance(found, list):
        return found
    others = [
        value
        for key, value in body.items()
        if isinstance(key, str) and key.endswith("SearchResults") and isinstance(value, list)
    ]
    return others[0] if len(others) == 1 else None


def results_member(body: Any, kind: str) -> str:
    """The name of the member :func:`page_results` read (the RFC name when none)."""
    if isinstance(body, dict) and not isinstance(body.get(RESULTS_MEMBER[kind]), list):
        others = [
            key
            for key, value in body.items()
            if isinstance(key, str) and key.endswith("SearchResults") and isinstance(value, list)
        ]
        if len(others) == 1:  # as page_results: two or more are none
            return others[0]
    return RESULTS_MEMBER[kind]


def next_link(body: Any, page_url: str) -> str | None:
    """The absolute URL of the next page (RFC 8977 ``paging_metadata.links``, rel
    ``next``), or None. A relative href is resolved against the page's URL; a fragment
    is dropped (it is never sent: ``?p=2#a`` and ``?p=2#b`` are one page)."""
    paging = body.get("paging_metadata") if isinstance(body, dict) else None
    links = paging.get("links") if isinstance(paging, dict) else None
    if not isinstance(links, list):
        return None
    for link in links:
        if not isinstance(link, dict) or link.get("rel") != "next":
            continue
        href = link.get("href")
        if not isinstance(href, str) or not href.strip() or _CONTROL.search(href):
            return None
        try:
            absolute = urljoin(page_url, href.strip()).partition("#")[0]
            parts = urlsplit(absolute)
        except ValueError:
            return None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        return absolute
    return None


def has_userinfo(url: str) -> bool:
    """Whether ``url`` carries user information (``user:pass@``): paging does not send
    credentials a server wrote into its own link."""
    try:
        parts = urlsplit(url)
        return parts.username is not None or parts.password is not None
    except ValueError:
        return True


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs share scheme, host and port (paging must not leave a server)."""
    try:
        pa, pb = urlsplit(a), urlsplit(b)
        return (pa.scheme.lower(), pa.hostname, _port(pa.scheme, pa.port)) == (
            pb.scheme.lower(),
            pb.hostname,
            _port(pb.scheme, pb.port),
        )
    except ValueError:
        return False


def page_key(url: str) -> str:
    """``url`` as paging compares pages: scheme and host in lower case, no default
    port, no fragment, percent-escapes decoded, no empty query parameters; two
    spellings of one page (``HTTP://Host:443/x?a=%2A&``) are the same page."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = (parts.hostname or "").lower()
        scheme = parts.scheme.lower()
    except ValueError:
        return url
    if port is not None and port != _port(scheme, None):
        host = f"{host}:{port}"
    query = "&".join(p for p in unquote(parts.query).split("&") if p)
    return f"{scheme}://{host}{unquote(parts.path) or '/'}?{query}"


def _port(scheme: str, port: int | None) -> int:
    if port is not None:
        return port
    return 443 if scheme.lower() == "https" else 80


def total_count(body: Any) -> int | None:
    """RFC 8977 ``paging_metadata.totalCount`` when it is a non-negative integer."""
    paging = body.get("paging_metadata") if isinstance(body, dict) else None
    total = paging.get("totalCount") if isinstance(paging, dict) else None
    if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
        return total
    return None


def says_truncated(body: Any) -> bool:
    """Whether the server says it left results out: a notice or remark of an RFC 9083
    "result set truncated due to ..." type, or a ``searchResultsTruncated`` member."""
    if not isinstance(body, dict):
        return False
    if body.get("searchResultsTruncated") is True:
        return True
    for member in ("notices", "remarks"):
        items = body.get(member)
        if not isinstance(items, list):
            continue
        for item in items:
            kind = item.get("type") if isinstance(item, dict) else None
            if isinstance(kind, str) and kind.strip().lower().startswith("result set truncated"):
                return True
    return False


def declared(body: Any) -> frozenset[str]:
    """The rdapConformance identifiers a body declares (strings only)."""
    values = body.get("rdapConformance") if isinstance(body, dict) else None
    if not isinstance(values, list):
        return frozenset()
    return frozenset(v for v in values if isinstance(v, str))


def undeclared_features(request: SearchRequest, body: Any) -> list[str]:
    """The features ``request`` uses that the server's answer does not declare. An
    identifier counts when declared bare or with a version suffix (``paging_0``)."""
    names = declared(body)
    return [feature for feature in request.features if not _declares(names, feature)]


def _declares(names: frozenset[str], feature: str) -> bool:
    # A version suffix is ASCII digits: str.isdigit() also takes "٣" and "²".
    return feature in names or any(
        n.startswith(feature + "_") and _VERSION.fullmatch(n[len(feature) + 1 :]) for n in names
    )


def capabilities(help_body: Any) -> dict[str, Any]:
    """What a server's ``help`` answer declares about searching: each feature declared
    or not, RFC 9536 reverse search properties, RFC 8982 field sets and RFC 8977 sorts.
    Only well-formed entries are kept; text is kept as the server sent it (callers
    make it safe to show)."""
    names = declared(help_body)
    body: Mapping[str, Any] = help_body if isinstance(help_body, dict) else {}
    features = {feature: _declares(names, feature) for feature in FEATURES}
    properties = []
    for item in _list(body.get("reverse_search_properties")):
        entry = {
            key: item.get(key)
            for key in ("searchableResourceType", "relatedResourceType", "property")
            if isinstance(item.get(key), str)
        }
        if "property" in entry:
            properties.append(entry)
    subsetting = body.get("subsetting_metadata")
    field_sets = []
    for item in _list(
        subsetting.get("availableFieldSets") if isinstance(subsetting, dict) else None
    ):
        if isinstance(item.get("name"), str):
            field_sets.append(
                {
                    "name": item["name"],
                    "default": item.get("default") is True,
                    "description": item.get("description")
                    if isinstance(item.get("description"), str)
                    else None,
                }
            )
    sorting = body.get("sorting_metadata")
    sorts = [
        item["property"]
        for item in _list(sorting.get("availableSorts") if isinstance(sorting, dict) else None)
        if isinstance(item.get("property"), str)
    ]
    return {
        "conformance": sorted(names),
        "features": features,
        "reverse_search_properties": properties,
        "field_sets": field_sets,
        "sorts": sorts,
    }


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
