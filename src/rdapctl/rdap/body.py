"""An answer's bytes as a JSON document: media type, content coding, strict decoding.

Everything here reads bytes a server chose, so it refuses rather than guesses:

- media type (RFC 7480 section 4.2): ``application/rdap+json`` or ``application/json``
  with any parameters; a missing Content-Type is tried as JSON; anything else is
  ``bad_content_type``;
- content coding: ``identity``, or ``gzip``/``deflate`` (sent although rdapctl asks for
  ``identity``) inflated in bounded steps that stop at the size limit; anything else is
  ``bad_content_encoding``;
- JSON as RFC 8259 defines it: ``NaN``, ``Infinity`` and numbers beyond the float range
  are ``bad_json``, and so is nesting deeper than ``MAX_DEPTH`` (no RecursionError
  further down); text is UTF-8, with invalid bytes and lone surrogates (escaped or raw)
  replaced by U+FFFD, so every string can be printed and stored.

Must not: import anything beyond the standard library, or know about RDAP objects.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 100
JSON_MEDIA_TYPES = frozenset({"application/rdap+json", "application/json"})
_BOM = b"\xef\xbb\xbf"
# A \\u escape of a surrogate (a lone one survives json decoding as a str).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_INFLATE_STEP = 256 * 1024


class BodyError(ValueError):
    """The body cannot be used; ``code`` names why (an envelope ``error.code``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def media_type(headers: Mapping[str, str]) -> str | None:
    """The Content-Type without parameters, lower case; None when there is none."""
    value = headers.get("content-type")
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def check_media_type(headers: Mapping[str, str]) -> None:
    """Refuse a body whose Content-Type is neither RDAP JSON nor JSON."""
    kind = media_type(headers)
    if kind is not None and kind not in JSON_MEDIA_TYPES:
        raise BodyError(
            "bad_content_type",
            f"the answer is {_quoted(kind)}, not application/rdap+json",
        )


def decode_content(body: bytes, headers: Mapping[str, str], limit: int) -> bytes:
    """``body`` with its Content-Encoding undone; at most ``limit`` bytes come out
    (``response_too_large`` past that), inflated a bounded step at a time."""
    value = headers.get("content-encoding")
    if value is None:
        return body
    codings = [c.strip().lower() for c in value.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return body
    if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise BodyError(
            "bad_content_encoding", f"the answer is encoded as {_quoted(value.strip())}"
        )
    return _inflate(body, codings[0], limit)


def _inflate(body: bytes, coding: str, limit: int) -> bytes:
    import zlib

    # gzip: the gzip wrapper; deflate: the zlib wrapper (RFC 9110), else raw deflate.
    wbits = 16 + zlib.MAX_WBITS if coding != "deflate" else zlib.MAX_WBITS
    if coding == "deflate" and body[:1] and (body[0] & 0x0F) != 8:
        wbits = -zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    parts: list[bytes] = []
    size = 0
    data = body
    try:
        while True:
            out = inflater.decompress(data, _INFLATE_STEP)
            size += len(out)
            if size > limit:
                raise BodyError(
                    "response_too_large",
                    f"the answer inflates to more than {limit} bytes; stopped inflating",
                )
            parts.append(out)
            data = inflater.unconsumed_tail
            if inflater.eof or not (data or out):  # done, or no input and no progress
                break
    except zlib.error:
        raise BodyError("bad_content_encoding", f"the {coding} body is corrupt") from None
    if not inflater.eof or inflater.unused_data:
        raise BodyError("bad_content_encoding", f"the {coding} body is truncated or padded")
    return b"".join(parts)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (RFC 8259)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number beyond the range of a double")
    return value


def _double_int(text: str) -> int:
    # 309 digits and more may pass the largest double (1.8e308): such a number is refused
    # as the same number written as a float would be.
    value = int(text)
    if len(text) > 308 and abs(value) > _MAX_DOUBLE:
        raise ValueError("a number beyond the range of a double")
    return value


_MAX_DOUBLE = int(sys.float_info.max)
_DECODER = json.JSONDecoder(
    parse_float=_finite_float, parse_int=_double_int, parse_constant=_refuse_constant
)


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body`` (RFC 8259 only; see the module docstring)."""
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    text = body.decode("utf-8", "replace")
    if not text.strip():
        raise BodyError("bad_json", "the answer's body is empty")
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise BodyError("bad_json", f"the answer nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise BodyError("bad_json", f"the answer is not valid JSON: {_first_line(exc)}") from None
    deep = text.count("[") + text.count("{") > MAX_DEPTH
    surrogates = "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None
    if deep or surrogates:
        value = _checked_tree(value, surrogates)
    return value


def parse_json_object(body: bytes) -> dict[str, Any]:
    """:func:`parse_json` of a body that must hold a JSON object (an RDAP answer)."""
    value = parse_json(body)
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a value")
        if value is None:
            kind = "null"
        elif isinstance(value, int | float) and not isinstance(value, bool):
            kind = "a number"
        raise BodyError("bad_json", f"the answer is {kind}, not a JSON object")
    return value


def _checked_tree(root: Any, scrub: bool) -> Any:
    """Refuse nesting past MAX_DEPTH; with ``scrub``, replace lone surrogates in every
    string and key by U+FFFD (in place; the tree was just parsed and is ours)."""
    fixed_root = _fix(root) if scrub and isinstance(root, str) else root
    stack: list[tuple[Any, int]] = [(fixed_root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BodyError("bad_json", f"the answer nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            if scrub and any(_SURROGATE.search(k) for k in node):
                items = list(node.items())
                node.clear()
                node.update((_fix(k), v) for k, v in items)
            for key, value in node.items():
                if isinstance(value, dict | list):
                    stack.append((value, depth + 1))
                elif scrub and isinstance(value, str):
                    node[key] = _fix(value)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, dict | list):
                    stack.append((value, depth + 1))
                elif scrub and isinstance(value, str):
                    node[i] = _fix(value)
    return fixed_root


def _fix(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def _first_line(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0][:200]


def _quoted(text: str) -> str:
    return json.dumps(text[:80])
