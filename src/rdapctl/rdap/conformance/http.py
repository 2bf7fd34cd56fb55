"""RFC 7480 checks of the HTTP exchange: media type, CORS, https, redirects, and the
RFC 9083 error object of an HTTP error.

Each check runs only when the answer record carries what it needs (headers, URL,
status): an answer read from a file without its headers gets no media type finding.

Must not: import anything beyond this package and the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from rdapctl.rdap.conformance.registry import Findings, quoted
from rdapctl.rdap.conformance.walk import is_integer

# More redirects than this for one answer is reported (a bootstrap redirector, then
# the registry's own move to its canonical URL, then one more is already a lot).
MAX_REDIRECTS = 3
_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,64}")


def check_http(
    body: Any,
    http_status: int | None,
    headers: Mapping[str, str] | None,
    url: str | None,
    redirects: int,
    out: Findings,
) -> None:
    if headers is not None:
        _check_headers(headers, out)
    if url is not None:
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError:
            scheme = ""
        if scheme != "https":
            out.add("rfc7480.https", "", "the answer did not come over https")
    if redirects > MAX_REDIRECTS:
        out.add(
            "rfc7480.redirects",
            "",
            f"the answer took {redirects} redirects (more than {MAX_REDIRECTS})",
        )
    if http_status is not None:
        _check_error(body, http_status, out)


def _check_headers(headers: Mapping[str, str], out: Findings) -> None:
    value = headers.get("content-type")
    kind = value.split(";", 1)[0].strip().lower() if isinstance(value, str) else None
    shown = quoted(kind) if kind and _MEDIA_TYPE.fullmatch(kind) else "not a media type"
    if kind is None:
        out.add("rfc7480.media-type", "", "the answer has no Content-Type")
    elif kind == "application/json":
        out.add(
            "rfc7480.media-type.rdap",
            "",
            'the answer is "application/json", not "application/rdap+json"',
        )
    elif kind != "application/rdap+json":
        out.add("rfc7480.media-type", "", f"the answer's Content-Type is {shown}, not JSON")
    if "access-control-allow-origin" not in headers:
        out.add("rfc7480.cors", "", "the answer has no Access-Control-Allow-Origin header")


def _check_error(body: Any, http_status: int, out: Findings) -> None:
    code = body.get("errorCode") if isinstance(body, dict) else None
    if http_status >= 400 and not is_integer(code):
        out.add(
            "rfc7480.error-object",
            "",
            f"the HTTP {http_status} answer carries no error object with an errorCode",
        )
    elif is_integer(code) and code != http_status:
        out.add(
            "rfc7480.error-code",
            "/errorCode",
            f"errorCode {quoted(code)} is not the HTTP status {http_status}",
        )
