"""Refreshing the IANA bootstrap registries (``rdapctl bootstrap update``).

Conditional GET (ETag / Last-Modified remembered in ``meta.json``); each file is
validated in full before it atomically replaces the previous copy, so a partial
or invalid download never replaces a good one. Requests go through the tenant's
guarded HTTP client like every other request.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rdapctl.core.errors import RdapctlError, UpstreamError
from rdapctl.core.records import record
from rdapctl.net.client import RetryingGetter
from rdapctl.rdap.bootstrap import REGISTRY_NAMES, BootstrapFormatError, parse_registry
from rdapctl.store.paths import ensure_private_dir, write_private_file

IANA_BASE_URL = "https://data.iana.org/rdap/"


@record
class UpdateResult:
    name: str
    outcome: str  # "updated", "not-modified", "failed"
    publication: str | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "registry": self.name,
            "outcome": self.outcome,
            "publication": self.publication,
            "detail": self.detail,
        }


def _read_meta(directory: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def update_bootstrap(
    client: RetryingGetter, directory: Path, base_url: str = IANA_BASE_URL
) -> list[UpdateResult]:
    """Fetch every registry; returns one result per registry (failures included)."""
    ensure_private_dir(directory)
    meta = _read_meta(directory)
    base = base_url if base_url.endswith("/") else base_url + "/"
    results = []
    for name in REGISTRY_NAMES:
        known = meta.get(name, {}) if (directory / f"{name}.json").exists() else {}
        try:
            result, fresh_meta = _update_one(client, directory, base, name, known)
        except RdapctlError as exc:
            results.append(UpdateResult(name, "failed", None, exc.message))
            continue
        meta[name] = fresh_meta
        results.append(result)
    write_private_file(directory / "meta.json", json.dumps(meta, indent=2).encode())
    return results


def _update_one(
    client: RetryingGetter, directory: Path, base: str, name: str, known: dict[str, str]
) -> tuple[UpdateResult, dict[str, str]]:
    headers = {}
    if known.get("etag"):
        headers["If-None-Match"] = known["etag"]
    if known.get("last_modified"):
        headers["If-Modified-Since"] = known["last_modified"]
    response = client.get(base + f"{name}.json", headers=headers)
    if response.status == 304:
        return UpdateResult(name, "not-modified", known.get("publication")), known
    if response.status != 200:
        raise UpstreamError(f"HTTP {response.status} for {name}.json")
    try:
        publication, _ = parse_registry(name, response.body)
    except BootstrapFormatError as exc:
        raise UpstreamError(f"invalid registry: {exc}") from exc
    data = json.dumps(response.body, ensure_ascii=False, indent=1).encode()
    write_private_file(directory / f"{name}.json", data)
    fresh = {"publication": publication}
    if response.headers.get("etag"):
        fresh["etag"] = response.headers["etag"]
    if response.headers.get("last-modified"):
        fresh["last_modified"] = response.headers["last-modified"]
    return UpdateResult(name, "updated", publication), fresh
