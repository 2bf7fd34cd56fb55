"""The RFC 9083 checks of what an object is named and numbered by: domain and
nameserver names (LDH and IDNA 2008), IP network ranges, autnum ranges, and whether
the answered object contains what was queried.

Addresses and names are never quoted: an address can be personal data.

Must not: import anything beyond ``rdapctl.core``, this package, ``idna`` and the
standard library.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Any

from rdapctl.core.hostnames import to_u_labels
from rdapctl.rdap.conformance.registry import Findings, pointer, quoted
from rdapctl.rdap.conformance.walk import Node

_LDH_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_MAX_AUTNUM = 2**32 - 1
_IP_VERSIONS = {"v4": 4, "v6": 6}
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def ldh_problem(name: str) -> str | None:
    """Why ``name`` is no ldhName (RFC 9083 section 3: LDH labels and A-labels); None
    when it is one."""
    if name == ".":
        return None
    bare = name[:-1] if name.endswith(".") else name
    if not bare or len(bare) > 253:
        return "ldhName is empty or longer than 253 characters"
    for label in bare.split("."):
        if not _LDH_LABEL.fullmatch(label):
            return "ldhName has a label that is not letters, digits and inner hyphens"
        if label[:4].lower() == "xn--":
            try:
                to_u_labels(label)
            except ValueError:
                return "ldhName has an A-label that is not valid under IDNA 2008"
    return None


def check_names(node: Node, out: Findings) -> None:
    """rfc9083.ldh.name and rfc9083.ldh.unicode for a domain or nameserver."""
    ldh, unicode = node.obj.get("ldhName"), node.obj.get("unicodeName")
    if not isinstance(ldh, str):
        return
    problem = ldh_problem(ldh)
    if problem is not None:
        out.add("rfc9083.ldh.name", pointer(node.pointer, "ldhName"), problem)
        return
    if not isinstance(unicode, str):
        return
    try:
        expected = to_u_labels(ldh.rstrip(".") or ".")
    except ValueError:
        return
    given = unicodedata.normalize("NFC", unicode).rstrip(".") or "."
    if given != expected and given.lower() != expected:
        out.add(
            "rfc9083.ldh.unicode",
            pointer(node.pointer, "unicodeName"),
            "unicodeName is not the U-label form of ldhName under IDNA 2008",
        )


def _address(value: Any) -> IpAddress | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def check_network(node: Node, query: str | None, out: Findings) -> None:
    """rfc9083.ip.version, .range and (topmost object) .query for an IP network."""
    obj = node.obj
    version = obj.get("ipVersion")
    wanted = _IP_VERSIONS.get(version) if isinstance(version, str) else None
    if isinstance(version, str) and wanted is None:
        out.add(
            "rfc9083.ip.version",
            pointer(node.pointer, "ipVersion"),
            f'ipVersion is {quoted(version)}, not "v4" or "v6"',
        )
    ends: list[IpAddress] = []
    for member in ("startAddress", "endAddress"):
        value = obj.get(member)
        if not isinstance(value, str):
            continue
        address = _address(value)
        where = pointer(node.pointer, member)
        if address is None:
            out.add("rfc9083.ip.version", where, f"{member} is not an IP address")
        elif wanted is not None and address.version != wanted:
            out.add("rfc9083.ip.version", where, f"{member} is not an IPv{wanted} address")
        else:
            ends.append(address)
    same = len(ends) == 2 and ends[0].version == ends[1].version
    if same and int(ends[0]) > int(ends[1]):
        out.add(
            "rfc9083.ip.range",
            pointer(node.pointer, "startAddress"),
            "startAddress is after endAddress",
        )
        return
    if node.top and query and same:
        _check_queried_address(node, query, ends[0], ends[1], out)


def _check_queried_address(
    node: Node, query: str, start: IpAddress, end: IpAddress, out: Findings
) -> None:
    try:
        queried = ipaddress.ip_network(query.strip(), strict=False)
    except ValueError:
        return
    first, last = queried.network_address, queried.broadcast_address
    inside = int(start) <= int(first) and int(last) <= int(end)
    if first.version != start.version or not inside:
        out.add(
            "rfc9083.ip.query",
            node.pointer,
            "the network's range does not contain the queried address",
        )


def check_autnum(node: Node, query: str | None, out: Findings) -> None:
    """rfc9083.autnum.range and (topmost object) rfc9083.autnum.query."""
    start, end = node.obj.get("startAutnum"), node.obj.get("endAutnum")
    numbers: list[int] = []
    for member, value in (("startAutnum", start), ("endAutnum", end)):
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if not 0 <= value <= _MAX_AUTNUM:
            out.add(
                "rfc9083.autnum.range",
                pointer(node.pointer, member),
                f"{member} {quoted(value)} is not a 32-bit AS number",
            )
        else:
            numbers.append(value)
    if len(numbers) != 2:
        return
    if numbers[0] > numbers[1]:
        out.add(
            "rfc9083.autnum.range",
            pointer(node.pointer, "startAutnum"),
            f"startAutnum {numbers[0]} is greater than endAutnum {numbers[1]}",
        )
        return
    if node.top and query:
        text = query.strip()
        if text[:2].lower() == "as":
            text = text[2:]
        if (
            0 < len(text) <= 10
            and text.isascii()
            and text.isdigit()
            and not numbers[0] <= int(text) <= numbers[1]
        ):
            out.add(
                "rfc9083.autnum.query",
                node.pointer,
                f"the range {numbers[0]}-{numbers[1]} does not contain the queried AS{int(text)}",
            )
