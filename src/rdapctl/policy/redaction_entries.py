"""RFC 9537 ``redacted`` entries: reading a response's own (``server_redactions``),
adding rdapctl's to a document, and the JSONPaths that name what was redacted.
Pure: values in, values out.
"""

from __future__ import annotations

import re
from typing import Any

from rdapctl.core.records import record

RDAPCTL_REASON_PREFIX = "Redacted by rdapctl policy of tenant "
_JSONPATH_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# JSONPath suffixes of member names seen (RDAP uses a few dozen): a pure memo, bounded.
_SUFFIXES: dict[str, str] = {}
_SUFFIXES_MAX = 4096


@record
class ServerRedaction:
    """One entry of a response's own RFC 9537 ``redacted`` array."""

    name: str
    path: str | None
    path_kind: str | None  # "prePath", "postPath" or "replacementPath"
    method: str
    reason: str | None
    by_rdapctl: bool = False


def server_redactions(obj: Any) -> list[ServerRedaction]:
    """The RFC 9537 ``redacted`` entries of a response; malformed entries are skipped."""
    if not isinstance(obj, dict):
        return []
    entries = obj.get("redacted")
    if not isinstance(entries, list):
        return []
    out: list[ServerRedaction] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name_obj = entry.get("name")
        name = ""
        if isinstance(name_obj, dict):
            for key in ("type", "description"):
                if isinstance(name_obj.get(key), str) and name_obj[key]:
                    name = name_obj[key]
                    break
        elif isinstance(name_obj, str):
            name = name_obj
        path: str | None = None
        path_kind: str | None = None
        for key in ("prePath", "postPath", "replacementPath", "path"):
            if isinstance(entry.get(key), str) and entry[key]:
                path, path_kind = entry[key], key
                break
        method = entry.get("method")
        reason_obj = entry.get("reason")
        reason: str | None = None
        if isinstance(reason_obj, dict):
            for key in ("description", "type"):
                if isinstance(reason_obj.get(key), str):
                    reason = reason_obj[key]
                    break
        elif isinstance(reason_obj, str):
            reason = reason_obj
        out.append(
            ServerRedaction(
                name=name or "(unnamed)",
                path=path,
                path_kind=path_kind,
                # RFC 9537 section 4.2: "removal" is the default method.
                method=method if isinstance(method, str) and method else "removal",
                reason=reason,
                by_rdapctl=bool(reason and reason.startswith(RDAPCTL_REASON_PREFIX)),
            )
        )
    return out


# A node's place: None for the root, else (the parent's link, member name or index).
Link = tuple[Any, str | int] | None


def link_of(path: str) -> Link:
    """A link standing for an already built JSONPath (its first element)."""
    return (None, _Built(path))


class _Built(str):
    """A JSONPath prefix already built, carried in a link chain as it is."""


def path_of(link: Link) -> str:
    """The JSONPath of the node at ``link``."""
    keys: list[str | int] = []
    while link is not None:
        link, key = link
        if isinstance(key, _Built):
            path = str(key)
            for k in reversed(keys):
                path = f"{path}[{k}]" if isinstance(k, int) else child_path(path, k)
            return path
        keys.append(key)
    path = "$"
    for key in reversed(keys):
        path = f"{path}[{key}]" if isinstance(key, int) else child_path(path, key)
    return path


def child_path(path: str, key: str) -> str:
    """``path`` extended by member ``key`` (dotted, or bracketed when it must be)."""
    suffix = _SUFFIXES.get(key)
    if suffix is None:
        suffix = f".{key}" if _JSONPATH_NAME.match(key) else f"[{quote(key)}]"
        if len(_SUFFIXES) < _SUFFIXES_MAX:
            _SUFFIXES[key] = suffix
    return path + suffix


def quote(text: str) -> str:
    """``text`` as a single-quoted JSONPath string."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def add_entries(out: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    """Append ``entries`` to ``out["redacted"]`` and declare the ``redacted`` extension."""
    existing = out.get("redacted")
    if isinstance(existing, list):
        out["redacted"] = [*existing, *entries]
    elif existing is None:
        out["redacted"] = entries
    else:
        # Keep whatever odd value the server sent rather than dropping server data.
        out["redacted"] = [existing, *entries]
    conformance = out.get("rdapConformance")
    if conformance is None:
        out["rdapConformance"] = ["redacted"]
    elif isinstance(conformance, list) and "redacted" not in conformance:
        out["rdapConformance"] = [*conformance, "redacted"]
