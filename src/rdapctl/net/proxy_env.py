"""Which proxy a request goes through, read from a passed-in environment mapping.

:func:`proxy_configured` picks the client: without HTTP(S)_PROXY / ALL_PROXY every
lookup goes through the direct client (``rdapctl.net.direct``), with one through the
proxied client (``rdapctl.net.proxied``). :class:`ProxyConfig` is the proxied
transport's routing: the proxy URL per scheme and the NO_PROXY exceptions, read like
curl and httpx read them.

Pure: never reads ``os.environ`` (the runtime passes its environment), no sockets.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from rdapctl.net.guard import normalise_hostname

_PROXY_VARS = ("https_proxy", "http_proxy", "all_proxy")


def proxy_configured(env: Mapping[str, str]) -> bool:
    """Whether the environment names a proxy (then the proxied client is used)."""
    return any(env.get(n, "").strip() or env.get(n.upper(), "").strip() for n in _PROXY_VARS)


class ProxyConfig:
    """HTTP(S)_PROXY / ALL_PROXY / NO_PROXY read from a mapping, like curl and httpx."""

    def __init__(self, env: Mapping[str, str]) -> None:
        def first(*names: str) -> str | None:
            for name in names:
                value = env.get(name, "").strip()
                if value:
                    return value
            return None

        # Under CGI, HTTP_PROXY can be set by a request header (httpoxy): ignore it.
        cgi = "REQUEST_METHOD" in env
        http_names = ("http_proxy",) if cgi else ("http_proxy", "HTTP_PROXY")
        self.urls: dict[str, str] = {}
        for scheme, names in (("https", ("https_proxy", "HTTPS_PROXY")), ("http", http_names)):
            value = first(*names, "all_proxy", "ALL_PROXY")
            if value:
                self.urls[scheme] = value if "://" in value else f"http://{value}"
        raw_no = first("no_proxy", "NO_PROXY") or ""
        self.no_proxy = [e.strip().lower() for e in raw_no.split(",") if e.strip()]

    def bypass(self, host: str) -> bool:
        """Whether NO_PROXY says ``host`` is reached directly."""
        host = normalise_hostname(host)
        literal = _ip_or_none(host)
        for entry in self.no_proxy:
            if entry == "*":
                return True
            if "/" in entry:  # a CIDR, as curl >= 7.86 accepts
                try:
                    if literal is not None and literal in ip_network(entry, strict=False):
                        return True
                except ValueError:
                    pass
                continue
            name = normalise_hostname(entry.lstrip("*").lstrip("."))
            if name.count(":") == 1:  # host:port; the port is not matched
                name = name.split(":", 1)[0]
            if host == name or host.endswith("." + name):
                return True
        return False


def _ip_or_none(host: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(host)
    except ValueError:
        return None
