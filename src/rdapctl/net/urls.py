"""URLs as both HTTP clients send them: one set of rules for every URL asked, each
redirect's ``Location`` and each referral's ``href``.

A URL is refused (ValueError) when it holds spaces or control characters, cannot be
split, names an invalid port, a bracketed host that is not IPv6, an IPv6 zone, or a host
that is no valid host name (labels of letters, digits, ``-`` and ``_``; "xn--" labels
must be valid IDNA). The network guard's URL rules (``rdapctl.net.guard.check_target``:
scheme, credentials, port, literal addresses) apply to every URL. What passes is sent in
one wire form by both clients: a literal address in its canonical spelling, a host name
in A-labels, dot segments resolved and the characters the WHATWG percent-encode sets
name percent-encoded (as httpx does), so that both send the same bytes.

Pure: no sockets, no DNS, no httpx.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from rdapctl.core.errors import NetworkGuardError, UpstreamError
from rdapctl.core.hostnames import host_of, to_a_labels
from rdapctl.core.records import record
from rdapctl.net.guard import NetworkPolicy, check_addresses, check_target

MAX_URL_CHARS = 8192
# A host name as DNS takes it: labels of letters, digits, '-' and '_' (A-labels).
_LABEL = re.compile(r"[a-z0-9_-]{1,63}", re.ASCII)


@record
class Target:
    """A URL that passed the URL rules, in the form the clients send it."""

    url: str  # the URL to hand to a URL-taking client (canonical host)
    scheme: str
    host: str  # A-labels, or the canonical literal address
    port: int
    path: str  # path and query, as the request line carries them
    header_host: str  # the Host header value


def request_target(
    url: str, policy: NetworkPolicy, origins: dict[tuple[str, str], Origin] | None = None
) -> Target:
    """``url`` checked by the URL rules and the network guard, in its wire form.

    ``origins``: a memo of the verdicts on scheme and authority (the caller's, for one
    ``policy``), so that a client asking one server for many names checks its host once.
    ValueError: the URL cannot be parsed (the caller names whose URL it was);
    NetworkGuardError: the guard refuses it (scheme, credentials, port, address).
    """
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"the URL is longer than {MAX_URL_CHARS} characters")
    if not url.isprintable() or " " in url:
        # urlsplit would silently drop tabs and line breaks.
        raise ValueError("the URL holds spaces or control characters")
    parts = urlsplit(url)  # ValueError: e.g. an unclosed IPv6 bracket
    key = (parts.scheme, parts.netloc)
    origin = origins.get(key) if origins is not None else None
    if origin is None:
        origin = _origin(parts.scheme, parts.netloc, parts.hostname, parts.port, policy)
        if origins is not None:
            if len(origins) >= 256:
                origins.clear()
            origins[key] = origin
    scheme, host, port, header_host = origin
    path = _percent_encoded(_without_dot_segments(parts.path or "/"), _PATH_KEEP)
    if parts.query:
        path += "?" + _percent_encoded(parts.query, _QUERY_KEEP)
    wire_url = f"{scheme}://{header_host}{path}"
    return Target(wire_url, scheme, host, port, path, header_host)


# scheme, host (A-labels or canonical literal), port, Host header value
Origin = tuple[str, str, int, str]


def _origin(
    scheme: str, netloc: str, hostname: str | None, port: int | None, policy: NetworkPolicy
) -> Origin:
    """The URL rules and the guard's verdict on a URL's scheme and authority."""
    raw_host = hostname or ""
    target = check_target(scheme, raw_host, port, "@" in netloc, policy)
    if target.address is None and "[" in netloc.rpartition("@")[2]:
        raise ValueError("the URL's host is a bracketed literal that is not IPv6")
    if target.address is not None:
        if "%" in raw_host:
            raise ValueError("IPv6 zone identifiers are not allowed in URLs")
        # Refused here, before any gate or budget: no state is made for such a host.
        check_addresses(raw_host, [target.address], policy)
        host = str(target.address)
        shown = f"[{host}]" if target.address.version == 6 else host
    else:
        host = _host_name(raw_host)
        shown = host
    default = 443 if target.scheme == "https" else 80
    header_host = shown if target.port == default else f"{shown}:{target.port}"
    return target.scheme, host, target.port, header_host


# What a path or a query may carry as it is (the WHATWG percent-encode sets, which
# httpx applies too): everything else is sent percent-encoded as UTF-8.
_PATH_KEEP = "".join(chr(i) for i in range(0x21, 0x7F) if chr(i) not in '"#<>?`{}')
_QUERY_KEEP = "".join(chr(i) for i in range(0x21, 0x7F) if chr(i) not in '"#<>')


def _percent_encoded(text: str, keep: str) -> str:
    if not text.strip(keep):  # the usual case: nothing to encode
        return text
    return "".join(
        ch if ch in keep else "".join(f"%{b:02X}" for b in ch.encode("utf-8")) for ch in text
    )


def _without_dot_segments(path: str) -> str:
    """``path`` with "." and ".." segments resolved (RFC 3986 section 5.2.4)."""
    if "." not in path:
        return path
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    out: list[str] = []
    for segment in segments:
        if segment == ".":
            continue
        if segment == "..":
            if out and out != [""]:
                out.pop()
            continue
        out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")  # "/a/.." names the folder "/"
    return "/".join(out) or "/"


def _host_name(host: str) -> str:
    """``host`` as DNS takes it (A-labels); ValueError when it is no valid host name."""
    name = to_a_labels(host)  # ValueError when it has no A-label form
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    if len(name) > 254 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError("the URL's host is not a valid host name")
    if "xn--" in name:
        import idna

        for label in labels:
            if label.startswith("xn--"):
                try:
                    idna.decode(label)
                except (idna.IDNAError, UnicodeError):
                    raise ValueError(f"the host label {label!r} is not a valid A-label") from None
    return name


# Every http(s) URL passes this policy's guard; used to check a URL's syntax alone.
ANY_HTTP_URL = NetworkPolicy(allow_http=True, allow_private=True, any_port=True)


def resolve_location(current: str, location: str) -> str:
    """The absolute URL a redirect's ``Location`` names; UpstreamError ``bad_redirect``
    when it is not a usable http(s) URL. The guard's verdict is left to the request."""
    value = location.strip()
    try:
        if not value:
            raise ValueError("the Location header is empty")
        if not value.isascii():  # RFC 9110: a URI reference (header bytes are latin-1 here)
            raise ValueError("the Location header is not an ASCII URI")
        target = urljoin(current, value)
        if not urlsplit(target).hostname:  # file:///x, https:///: nowhere to go
            raise ValueError("the redirect names no host")
        request_target(target, ANY_HTTP_URL)
    except ValueError as exc:
        raise UpstreamError(
            f"{host_of(current)} redirected to an unusable URL ({exc})", code="bad_redirect"
        ) from None
    except NetworkGuardError:
        pass  # a URL, refused or not by the tenant's guard: that is decided per hop
    return target
