"""The RFC 9083 checks every object instance gets: objectClassName, links, notices and
remarks, lang, events, status and roles.

Each function reads only values of the JSON types it expects and skips the rest
(``rfc9083.member.type`` reports those), so one defect gives one finding.

Must not: import anything beyond this package and the standard library.
"""

from __future__ import annotations

import calendar
import re
from typing import Any

from rdapctl.rdap.conformance import iana
from rdapctl.rdap.conformance.registry import Findings, pointer, quoted, type_name
from rdapctl.rdap.conformance.walk import Node

# RFC 3339 section 5.6 date-time (ASCII digits only; "T" in either case).
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))"
)
# RFC 5646 section 2.1 language tags (the shape, not the registry of subtags).
_A, _AN = "[A-Za-z]", "[A-Za-z0-9]"
_LANGTAG = (
    rf"(?:{_A}{{2,3}}(?:-{_A}{{3}}){{0,3}}|{_A}{{4,8}})"  # language and extlang
    rf"(?:-{_A}{{4}})?"  # script
    rf"(?:-(?:{_A}{{2}}|[0-9]{{3}}))?"  # region
    rf"(?:-(?:{_AN}{{5,8}}|[0-9]{_AN}{{3}}))*"  # variants
    rf"(?:-[0-9A-WYZa-wyz](?:-{_AN}{{2,8}})+)*"  # extensions
    rf"(?:-[Xx](?:-{_AN}{{1,8}})+)?"  # private use
)
_BCP47 = re.compile(rf"{_LANGTAG}|[Xx](?:-{_AN}{{1,8}})+")
_GRANDFATHERED = frozenset(
    tag.lower()
    for tag in [
        "en-GB-oed",
        "i-ami",
        "i-bnn",
        "i-default",
        "i-enochian",
        "i-hak",
        "i-klingon",
        "i-lux",
        "i-mingo",
        "i-navajo",
        "i-pwn",
        "i-tao",
        "i-tay",
        "i-tsu",
        "sgn-BE-FR",
        "sgn-BE-NL",
        "sgn-CH-DE",
        "art-lojban",
        "cel-gaulish",
        "no-bok",
        "no-nyn",
        "zh-guoyu",
        "zh-hakka",
        "zh-min",
        "zh-min-nan",
        "zh-xiang",
    ]
)


def is_rfc3339(text: str) -> bool:
    """Whether ``text`` is an RFC 3339 date-time with a real date and time."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not 1 <= month <= 12:
        return False
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days or hour > 23 or minute > 59 or second > 60:
        return False
    offset_hour, offset_minute = match.group(7), match.group(8)
    return offset_hour is None or (int(offset_hour) <= 23 and int(offset_minute) <= 59)


def is_language_tag(text: str) -> bool:
    """Whether ``text`` has the shape of a BCP 47 language tag."""
    return bool(_BCP47.fullmatch(text)) or text.lower() in _GRANDFATHERED


def check_object_class(node: Node, out: Findings) -> None:
    if node.expected is None:
        return
    name = node.obj.get("objectClassName")
    if name is None:
        out.add(
            "rfc9083.objectclass.missing",
            node.pointer,
            f"the object has no objectClassName (a {quoted(node.expected)} is due here)",
        )
    elif isinstance(name, str) and name != node.expected:
        out.add(
            "rfc9083.objectclass.mismatch",
            pointer(node.pointer, "objectClassName"),
            f"objectClassName is {quoted(name)}, not {quoted(node.expected)}",
        )


def check_self_link(node: Node, out: Findings) -> None:
    links = node.obj.get("links")
    if links is None:
        out.add("rfc9083.links.self", node.pointer, "the object has no links, so no self link")
        return
    if not isinstance(links, list):
        return
    if not any(isinstance(link, dict) and link.get("rel") == "self" for link in links):
        out.add(
            "rfc9083.links.self",
            pointer(node.pointer, "links"),
            'no link has rel "self"',
        )


def check_links(links: list[Any], where: str, out: Findings) -> None:
    for index, link in enumerate(links):
        at = pointer(where, index)
        if not isinstance(link, dict):
            out.add("rfc9083.links.shape", at, f"the link is {type_name(link)}, not an object")
            continue
        if not isinstance(link.get("href"), str):
            out.add("rfc9083.links.shape", at, "the link has no href string")
        missing = [m for m in ("value", "rel") if not isinstance(link.get(m), str)]
        if missing:
            out.add("rfc9083.links.members", at, f"the link has no {' or '.join(missing)} string")


def check_lang(value: Any, where: str, out: Findings) -> None:
    if isinstance(value, str) and not is_language_tag(value):
        out.add("rfc9083.lang", where, "lang is not a BCP 47 language tag")


def check_notices(items: list[Any], where: str, out: Findings) -> None:
    """Notices (topmost object) or remarks (any object): RFC 9083 section 4.3."""
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue  # rfc9083.member.type
        at = pointer(where, index)
        if "title" in item and not isinstance(item["title"], str):
            out.add("rfc9083.notices.shape", pointer(at, "title"), "title is not a string")
        description = item.get("description")
        if description is None:
            out.add("rfc9083.notices.shape", at, "the notice or remark has no description")
        elif not isinstance(description, list):
            out.add(
                "rfc9083.notices.shape",
                pointer(at, "description"),
                f"description is {type_name(description)}, not an array of strings",
            )
        else:
            for line, text in enumerate(description):
                if not isinstance(text, str):
                    out.add(
                        "rfc9083.notices.shape",
                        pointer(at, "description", line),
                        f"a description line is {type_name(text)}, not a string",
                    )
        kind = item.get("type")
        if "type" in item and not isinstance(kind, str):
            out.add("rfc9083.notices.shape", pointer(at, "type"), "type is not a string")
        elif isinstance(kind, str) and kind not in iana.NOTICE_TYPES:
            out.add(
                "rfc9083.notices.type",
                pointer(at, "type"),
                "type is not in the IANA registry of notice and remark types",
            )
        links = item.get("links")
        if "links" in item and not isinstance(links, list):
            out.add("rfc9083.notices.shape", pointer(at, "links"), "links is not an array")
        elif isinstance(links, list):
            check_links(links, pointer(at, "links"), out)
        check_lang(item.get("lang"), pointer(at, "lang"), out)


def check_events(events: list[Any], where: str, out: Findings) -> None:
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            continue  # rfc9083.member.type
        at = pointer(where, index)
        action = event.get("eventAction")
        if not isinstance(action, str):
            out.add("rfc9083.events.action", at, "the event has no eventAction string")
        elif action not in iana.EVENT_ACTIONS:
            out.add(
                "rfc9083.events.action",
                pointer(at, "eventAction"),
                f"eventAction {quoted(action)} is not in the IANA registry",
            )
        date = event.get("eventDate")
        if not isinstance(date, str):
            out.add("rfc9083.events.date", at, "the event has no eventDate string")
        elif not is_rfc3339(date):
            out.add(
                "rfc9083.events.date",
                pointer(at, "eventDate"),
                f"eventDate {quoted(date)} is not an RFC 3339 date-time",
            )
        links = event.get("links")
        if "links" in event and not isinstance(links, list):
            out.add("rfc9083.links.shape", pointer(at, "links"), "links is not an array")
        elif isinstance(links, list):
            check_links(links, pointer(at, "links"), out)


def check_values(
    node: Node, member: str, allowed: frozenset[str], check_id: str, out: Findings
) -> None:
    values = node.obj.get(member)
    if not isinstance(values, list):
        return
    for index, value in enumerate(values):
        if isinstance(value, str) and value not in allowed:
            out.add(
                check_id,
                pointer(node.pointer, member, index),
                f"{member} value {quoted(value)} is not in the IANA registry",
            )


def check_node(node: Node, out: Findings) -> None:
    """The checks every object instance gets."""
    obj = node.obj
    check_object_class(node, out)
    for member in ("links", "remarks", "events", "asEventActor"):
        value = obj.get(member)
        if not isinstance(value, list):
            continue
        where = pointer(node.pointer, member)
        if member == "links":
            check_links(value, where, out)
        elif member == "remarks":
            check_notices(value, where, out)
        else:
            check_events(value, where, out)
    check_lang(obj.get("lang"), pointer(node.pointer, "lang"), out)
    check_values(node, "status", iana.STATUS_VALUES, "rfc9083.status.value", out)
    if node.kind == "entity":
        check_values(node, "roles", iana.ROLES, "rfc9083.roles.value", out)
