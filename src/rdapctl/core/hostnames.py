"""Host and domain names as they go on the wire: IDNA 2008 A-labels, the form httpx
sends and reports answers by, so that both HTTP clients reach (and the rate gate
counts) one host for one name, and a query name is asked as it is registered.
Python's own "idna" codec is IDNA 2003, which maps "ß" to "ss": another domain.

Must not: import ``idna`` for ASCII hosts (nearly all of them)."""

from __future__ import annotations


def to_a_labels(host: str) -> str:
    """``host`` in A-labels (UTS 46 mapping, as query names are); ASCII hosts as they
    are. ValueError for a host that has no A-label form."""
    if host.isascii():
        return host
    import idna

    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise ValueError("not a valid internationalised host name") from None


def to_u_labels(name: str) -> str:
    """``name`` with each A-label (``xn--``) as its U-label; ValueError for an A-label
    that does not decode under IDNA 2008."""
    if "xn--" not in name.lower():
        return name.lower()
    import idna

    try:
        return str(idna.decode(name))
    except (idna.IDNAError, UnicodeError):
        raise ValueError("not a valid internationalised host name") from None


def host_of(url: str) -> str:
    """The host of ``url`` for messages (the start of the URL itself when it has none)."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).hostname or url[:100]
    except ValueError:
        return url[:100]
