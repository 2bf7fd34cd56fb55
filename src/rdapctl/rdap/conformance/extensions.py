"""rdapConformance and what it declares: RFC 9083 section 4.1, the members of
registered extensions (RFC 9537 ``redacted``, RFC 8977 paging and sorting, RFC 8982
subsetting, RFC 9536 reverse search) and the shape of each.

Must not: import anything beyond this package and the standard library.
"""

from __future__ import annotations

from typing import Any

from rdapctl.rdap.conformance import iana
from rdapctl.rdap.conformance.jsonpath import jsonpath_error
from rdapctl.rdap.conformance.registry import Findings, pointer, quoted, type_name
from rdapctl.rdap.conformance.walk import is_integer, results_class

# Top-level members of RFC 9083 (every object class, error and help answers).
CORE_MEMBERS: frozenset[str] = frozenset(
    [
        "rdapConformance",
        "notices",
        "objectClassName",
        "handle",
        "ldhName",
        "unicodeName",
        "variants",
        "nameservers",
        "secureDNS",
        "entities",
        "status",
        "publicIds",
        "remarks",
        "links",
        "port43",
        "events",
        "network",
        "lang",
        "asEventActor",
        "vcardArray",
        "roles",
        "networks",
        "autnums",
        "startAddress",
        "endAddress",
        "ipVersion",
        "name",
        "type",
        "country",
        "parentHandle",
        "startAutnum",
        "endAutnum",
        "ipAddresses",
        "errorCode",
        "title",
        "description",
    ]
)
# Members of registered extensions, and the identifier each needs in rdapConformance.
EXTENSION_MEMBERS: dict[str, str] = {
    "redacted": "redacted",
    "paging_metadata": "paging",
    "sorting_metadata": "sorting",
    "subsetting_metadata": "subsetting",
    "reverse_search_properties": "reverse_search",
    "reverse_search_properties_mapping": "reverse_search",
}
_PATHS = ("prePath", "postPath", "replacementPath")


def declared(body: dict[str, Any]) -> list[str] | None:
    """The rdapConformance strings; None when there is no array."""
    values = body.get("rdapConformance")
    if not isinstance(values, list):
        return None
    return [value for value in values if isinstance(value, str)]


def _declares(names: list[str], identifier: str) -> bool:
    """Whether ``identifier`` is declared, as itself or versioned (``paging_1``)."""
    return any(
        name == identifier
        or (name.startswith(identifier + "_") and name[len(identifier) + 1 :].isdigit())
        for name in names
    )


def _prefixes(names: list[str]) -> set[str]:
    found: set[str] = set()
    for name in names:
        found.add(name)
        found.add(name.split("_", 1)[0])
    return found


def check_conformance(body: dict[str, Any], out: Findings) -> None:
    """rfc9083.conformance.*, rfc9083.member.unknown and rfc9537.redacted.declared."""
    names = declared(body)
    if "rdapConformance" not in body:
        out.add("rfc9083.conformance.missing", "", "the answer has no rdapConformance")
    elif names is not None and "rdap_level_0" not in names:
        out.add(
            "rfc9083.conformance.level0",
            "/rdapConformance",
            f"rdapConformance {quoted(names)} does not contain rdap_level_0",
        )
    where = "/rdapConformance" if isinstance(body.get("rdapConformance"), list) else ""
    prefixes = _prefixes(names or [])
    for member in body:
        identifier = EXTENSION_MEMBERS.get(member)
        if identifier is not None:
            if not _declares(names or [], identifier):
                check_id = (
                    "rfc9537.redacted.declared"
                    if identifier == "redacted"
                    else "rfc9083.conformance.extension"
                )
                out.add(
                    check_id,
                    where,
                    f"{member} appears but rdapConformance does not declare {quoted(identifier)}",
                )
        elif (
            member not in CORE_MEMBERS
            and results_class(member) is None
            and not any(member.startswith(prefix + "_") for prefix in prefixes)
        ):
            out.add(
                "rfc9083.member.unknown",
                pointer("", member),
                "a top-level member that is neither RDAP's nor prefixed by a declared extension",
            )


def check_nested_conformance(obj: dict[str, Any], where: str, out: Findings) -> None:
    if "rdapConformance" in obj:
        out.add(
            "rfc9083.conformance.nested",
            pointer(where, "rdapConformance"),
            "rdapConformance in an object that is not the topmost one",
        )


def check_redacted(body: dict[str, Any], out: Findings) -> None:
    """RFC 9537: each entry of the topmost ``redacted`` array."""
    entries = body.get("redacted")
    if entries is None:
        return
    if not isinstance(entries, list):
        out.add(
            "rfc9537.redacted.shape", "/redacted", f"redacted is {type_name(entries)}, not an array"
        )
        return
    for index, entry in enumerate(entries):
        at = pointer("/redacted", index)
        if not isinstance(entry, dict):
            out.add("rfc9537.redacted.shape", at, f"the entry is {type_name(entry)}, not an object")
            continue
        name = entry.get("name")
        if not isinstance(name, dict):
            out.add("rfc9537.redacted.name", at, "the entry has no name object")
        elif not any(isinstance(name.get(key), str) for key in ("type", "description")):
            out.add(
                "rfc9537.redacted.name",
                pointer(at, "name"),
                "the name has no type or description string",
            )
        if "method" in entry:
            method = entry["method"]
            if not (isinstance(method, str) and method in iana.REDACTION_METHODS):
                out.add(
                    "rfc9537.redacted.method",
                    pointer(at, "method"),
                    f"method {quoted(method)} is not removal, emptyValue, partialValue or "
                    "replacementValue",
                )
        language = entry.get("pathLang", "jsonpath")
        if language != "jsonpath":
            continue  # another path language: RFC 9537 section 4.2 leaves it to its spec
        for member in _PATHS:
            if member not in entry:
                continue
            path = entry[member]
            if not isinstance(path, str):
                out.add("rfc9537.redacted.path", pointer(at, member), f"{member} is not a string")
                continue
            error = jsonpath_error(path)
            if error is not None:
                out.add(
                    "rfc9537.redacted.path",
                    pointer(at, member),
                    f"{member} is not RFC 9535 JSONPath ({error})",
                )


def _shape(out: Findings, check_id: str, where: str, problems: list[str]) -> None:
    if problems:
        out.add(check_id, where, "; ".join(problems))


def _optional(obj: dict[str, Any], member: str, kind: type, problems: list[str]) -> None:
    """``obj[member]``, when present, is of ``kind`` (booleans are no numbers)."""
    if member not in obj:
        return
    value = obj[member]
    fits = isinstance(value, bool) if kind is bool else isinstance(value, kind)
    if not fits or (kind is not bool and isinstance(value, bool)):
        problems.append(f"{member} is {type_name(value)}")


def check_metadata(body: dict[str, Any], out: Findings) -> None:
    """RFC 8977 paging_metadata and sorting_metadata, RFC 8982 subsetting_metadata,
    RFC 9536 reverse_search_properties and reverse_search_properties_mapping."""
    _check_paging(body, out)
    _check_sorting(body, out)
    _check_subsetting(body, out)
    _check_reverse(body, out)


def _check_paging(body: dict[str, Any], out: Findings) -> None:
    if "paging_metadata" not in body:
        return
    paging, problems = body["paging_metadata"], []
    if not isinstance(paging, dict):
        problems.append(f"paging_metadata is {type_name(paging)}, not an object")
    else:
        for member in ("totalCount", "pageSize", "pageNumber"):
            if member in paging and not (is_integer(paging[member]) and paging[member] >= 0):
                problems.append(f"{member} is not a non-negative integer")
        _optional(paging, "links", list, problems)
    _shape(out, "rfc8977.paging.shape", "/paging_metadata", problems)


def _check_sorting(body: dict[str, Any], out: Findings) -> None:
    if "sorting_metadata" not in body:
        return
    sorting, problems = body["sorting_metadata"], []
    if not isinstance(sorting, dict):
        problems.append(f"sorting_metadata is {type_name(sorting)}, not an object")
    else:
        if "currentSort" not in sorting and "availableSorts" not in sorting:
            problems.append("neither currentSort nor availableSorts")
        _optional(sorting, "currentSort", str, problems)
        sorts = sorting.get("availableSorts", [])
        if not isinstance(sorts, list):
            problems.append(f"availableSorts is {type_name(sorts)}, not an array")
            sorts = []
        for index, item in enumerate(sorts):
            if not (
                isinstance(item, dict)
                and isinstance(item.get("property"), str)
                and isinstance(item.get("default"), bool)
            ):
                problems.append(
                    f"availableSorts item {index} has no property string and default boolean"
                )
            else:
                _optional(item, "jsonPath", str, problems)
                _optional(item, "links", list, problems)
    _shape(out, "rfc8977.sorting.shape", "/sorting_metadata", problems)


def _check_subsetting(body: dict[str, Any], out: Findings) -> None:
    if "subsetting_metadata" not in body:
        return
    subsetting, problems = body["subsetting_metadata"], []
    if not isinstance(subsetting, dict):
        problems.append(f"subsetting_metadata is {type_name(subsetting)}, not an object")
    else:
        if not isinstance(subsetting.get("currentFieldSet"), str):
            problems.append("no currentFieldSet string")
        sets = subsetting.get("availableFieldSets", [])
        if not isinstance(sets, list):
            problems.append(f"availableFieldSets is {type_name(sets)}, not an array")
            sets = []
        for index, item in enumerate(sets):
            if not (
                isinstance(item, dict)
                and isinstance(item.get("name"), str)
                and isinstance(item.get("default"), bool)
            ):
                problems.append(
                    f"availableFieldSets item {index} has no name string and default boolean"
                )
            else:
                _optional(item, "description", str, problems)
                _optional(item, "links", list, problems)
    _shape(out, "rfc8982.subsetting.shape", "/subsetting_metadata", problems)


def _check_reverse(body: dict[str, Any], out: Findings) -> None:
    """RFC 9536: ``reverse_search_properties`` (help answers: what can be searched) and
    ``reverse_search_properties_mapping`` (reverse search answers: each property's
    JSONPath)."""
    _check_reverse_items(
        body,
        "reverse_search_properties",
        ("searchableResourceType", "relatedResourceType", "property"),
        out,
    )
    _check_reverse_items(
        body, "reverse_search_properties_mapping", ("property", "propertyPath"), out
    )


def _check_reverse_items(
    body: dict[str, Any], member: str, strings: tuple[str, ...], out: Findings
) -> None:
    if member not in body:
        return
    items = body[member]
    where = pointer("", member)
    if not isinstance(items, list):
        out.add(
            "rfc9536.reverse-search.shape", where, f"{member} is {type_name(items)}, not an array"
        )
        return
    for index, item in enumerate(items):
        at = pointer(where, index)
        if not isinstance(item, dict) or not all(isinstance(item.get(m), str) for m in strings):
            out.add(
                "rfc9536.reverse-search.shape",
                at,
                f"the entry has no {', '.join(strings)} strings",
            )
        elif "propertyPath" in strings and (error := jsonpath_error(item["propertyPath"])):
            out.add(
                "rfc9536.reverse-search.shape",
                pointer(at, "propertyPath"),
                f"propertyPath is not RFC 9535 JSONPath ({error})",
            )
