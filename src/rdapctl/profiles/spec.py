"""The profiles spec language: value checkers (``Bool``, ``Int``, ``Url``, ``Table``,
``Map``, ...) that each check and normalise one value, report what is wrong at its
key path, and describe themselves as JSON Schema. The profiles file's own spec,
built from these, is ``rdapctl.profiles.schema.PROFILE_SPEC``.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rdapctl.profiles.findings import KeyPath, Severity


class _Invalid:
    """Marker for a value that failed its check (kept out of normalised output)."""


INVALID = _Invalid()


class Report:
    """Collects raw findings by key path while a document is checked."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.items: list[tuple[KeyPath, str, Severity, str | None]] = []

    def error(self, path: KeyPath, message: str, expected: str | None = None) -> _Invalid:
        self.items.append((path, message, "error", expected))
        return INVALID

    def warn(self, path: KeyPath, message: str, expected: str | None = None) -> None:
        self.items.append((path, message, "warning", expected))


def type_name(value: object) -> str:
    """How a message names the TOML type of ``value`` ("an integer", "a table")."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


class Spec:
    """A checker of one value: ``check`` normalises it (or reports and returns
    ``INVALID``), ``schema`` describes it as JSON Schema, ``doc`` says what it is for."""

    doc: str = ""

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def _with_doc(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.doc:
            return {"description": self.doc, **schema}
        return schema


class Bool(Spec):
    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        if not isinstance(value, bool):
            return report.error(
                path, f"expected a boolean, got {type_name(value)}", "true or false"
            )
        return value

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "boolean"})


class Str(Spec):
    def __init__(self, doc: str = "", *, min_length: int = 0) -> None:
        self.doc = doc
        self.min_length = min_length

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        if not isinstance(value, str):
            return report.error(path, f"expected a string, got {type_name(value)}", "a string")
        if len(value) < self.min_length:
            return report.error(path, "must not be empty", "a non-empty string")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.min_length:
            out["minLength"] = self.min_length
        return self._with_doc(out)


class Enum(Spec):
    def __init__(self, choices: Iterable[str], doc: str = "") -> None:
        self.choices = tuple(choices)
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        expected = "one of: " + ", ".join(self.choices)
        if not isinstance(value, str):
            return report.error(path, f"expected a string, got {type_name(value)}", expected)
        if value not in self.choices:
            return report.error(path, f"unknown value {value!r}", expected)
        return value

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "string", "enum": list(self.choices)})


class Int(Spec):
    def __init__(self, lo: int, hi: int, doc: str = "") -> None:
        self.lo, self.hi, self.doc = lo, hi, doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        expected = f"an integer from {self.lo:,} to {self.hi:,}".replace(",", "_")
        if isinstance(value, bool) or not isinstance(value, int):
            return report.error(path, f"expected an integer, got {type_name(value)}", expected)
        if not self.lo <= value <= self.hi:
            return report.error(path, f"{value} is out of range", expected)
        return value

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "integer", "minimum": self.lo, "maximum": self.hi})


class Float(Spec):
    """A number in (0, hi]; TOML integers are accepted and converted."""

    def __init__(self, hi: float, doc: str = "") -> None:
        self.hi, self.doc = hi, doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        expected = f"a number greater than 0 and at most {self.hi:g}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return report.error(path, f"expected a number, got {type_name(value)}", expected)
        # nan fails both comparisons, so it is rejected here as well.
        if not 0 < value <= self.hi:
            return report.error(path, f"{value} is out of range", expected)
        return float(value)

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "number", "exclusiveMinimum": 0, "maximum": self.hi})


class List(Spec):
    def __init__(self, item: Spec, doc: str = "") -> None:
        self.item, self.doc = item, doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        if not isinstance(value, list):
            return report.error(path, f"expected an array, got {type_name(value)}", "an array")
        out = [self.item.check(v, (*path, i), report) for i, v in enumerate(value)]
        if any(v is INVALID for v in out):
            return INVALID
        return tuple(out)

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "array", "items": self.item.schema()})


def check_network(text: str) -> tuple[str | None, str | None, str | None]:
    """(normalised CIDR, error message, expected) for a CIDR string."""
    try:
        return str(ipaddress.ip_network(text, strict=True)), None, None
    except ValueError:
        pass
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None, f"{text!r} is not a valid CIDR", "an IPv4 or IPv6 network such as 10.0.0.0/8"
    return None, f"{text!r} has host bits set", f"the network address {net}"


class Cidr(Spec):
    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        if not isinstance(value, str):
            return report.error(
                path, f"expected a CIDR string, got {type_name(value)}", "a CIDR string"
            )
        net, message, expected = check_network(value)
        if net is None:
            return report.error(path, message or "invalid CIDR", expected)
        return net

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "string", "pattern": CIDR_PATTERN})


CIDR_PATTERN = r"^[0-9A-Fa-f:.]+/[0-9]{1,3}$"


class PrivateIps(Spec):
    """``allow_private_ips``: true, false, or a list of CIDRs."""

    def __init__(self, doc: str = "") -> None:
        self.doc = doc
        self.item = Cidr()

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, list):
            return List(self.item).check(value, path, report)
        return report.error(
            path,
            f"expected a boolean or an array of CIDRs, got {type_name(value)}",
            'true, false or an array of CIDRs such as ["10.0.0.0/8"]',
        )

    def schema(self) -> dict[str, Any]:
        return self._with_doc(
            {"oneOf": [{"type": "boolean"}, {"type": "array", "items": self.item.schema()}]}
        )


URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]+"
_USERINFO_RE = re.compile(r"(?<=://)[^/?#]*@")


def _safe_url(value: str) -> str:
    """The URL for messages, with any user:password@ part masked."""
    return repr(_USERINFO_RE.sub("***@", value))


class Url(Spec):
    """An RDAP base URL; normalised to lower-case scheme/host and a trailing '/'."""

    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        expected = "an http:// or https:// base URL such as https://rdap.example/"
        if not isinstance(value, str):
            return report.error(path, f"expected a URL string, got {type_name(value)}", expected)
        from urllib.parse import urlsplit, urlunsplit

        try:
            parts = urlsplit(value.strip())
            port = parts.port
        except ValueError:
            return report.error(path, f"{_safe_url(value)} is not a valid URL", expected)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return report.error(
                path, f"{_safe_url(value)} is not an http(s) URL with a host", expected
            )
        if parts.username is not None or parts.password is not None:
            # Never echo the value: it holds credentials.
            return report.error(path, "URL must not contain credentials", expected)
        if parts.query or parts.fragment:
            return report.error(path, f"{_safe_url(value)} has a query or fragment", expected)
        netloc = parts.hostname.lower()
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if port is not None:
            netloc = f"{netloc}:{port}"
        url_path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return urlunsplit((parts.scheme.lower(), netloc, url_path, "", ""))

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "string", "pattern": URL_PATTERN})


PIN_PATTERN = r"^sha256/[A-Za-z0-9+/]{43}=$"


class Pin(Spec):
    def __init__(self, doc: str = "") -> None:
        self.doc = doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        expected = "sha256/ followed by the base64 of a 32-byte SPKI hash (44 characters)"
        if not isinstance(value, str):
            return report.error(path, f"expected a string, got {type_name(value)}", expected)
        import base64
        import binascii

        if not value.startswith("sha256/"):
            return report.error(path, "pin must start with 'sha256/'", expected)
        try:
            raw = base64.b64decode(value[len("sha256/") :], validate=True)
        except (binascii.Error, ValueError):
            return report.error(path, "pin is not valid base64", expected)
        if len(raw) != 32:
            return report.error(path, f"pin decodes to {len(raw)} bytes, not 32", expected)
        return value

    def schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "string", "pattern": PIN_PATTERN})


# Key normalisers: return (normalised key, None) or (None, (message, expected)).
KeyResult = tuple[str | None, tuple[str, str] | None]


class Map(Spec):
    """A table with free-form keys, each normalised by ``key``, and values of one spec."""

    def __init__(
        self,
        key: Callable[[str], KeyResult],
        key_schema: dict[str, Any],
        value: Spec,
        doc: str = "",
    ) -> None:
        self.key, self.key_schema, self.value, self.doc = key, key_schema, value, doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        if not isinstance(value, dict):
            return report.error(path, f"expected a table, got {type_name(value)}", "a table")
        out: dict[str, Any] = {}
        for raw_key, raw_value in value.items():
            key, problem = self.key(raw_key)
            checked = self.value.check(raw_value, (*path, raw_key), report)
            if problem is not None:
                report.error((*path, raw_key), problem[0], problem[1])
            elif key in out:
                report.error((*path, raw_key), f"duplicate key after normalisation: {key!r}")
            elif checked is not INVALID and key is not None:
                out[key] = checked
        # Keep the good entries so the rest of the document can still be checked.
        return out

    def schema(self) -> dict[str, Any]:
        return self._with_doc(
            {
                "type": "object",
                "propertyNames": self.key_schema,
                "additionalProperties": self.value.schema(),
            }
        )


class Table(Spec):
    """A table with a fixed set of keys; unknown keys are errors."""

    def __init__(self, fields: dict[str, Spec], doc: str = "") -> None:
        self.fields, self.doc = fields, doc

    def check(self, value: object, path: KeyPath, report: Report) -> Any:
        if not isinstance(value, dict):
            return report.error(path, f"expected a table, got {type_name(value)}", "a table")
        out: dict[str, Any] = {}
        for key, raw in value.items():
            spec = self.fields.get(key)
            if spec is None:
                close = difflib.get_close_matches(key, list(self.fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                report.error(
                    (*path, key),
                    f"unknown key {key!r}{hint}",
                    "one of: " + ", ".join(self.fields),
                )
                continue
            checked = spec.check(raw, (*path, key), report)
            if checked is not INVALID:
                out[key] = checked
        return out

    def schema(self) -> dict[str, Any]:
        return self._with_doc(
            {
                "type": "object",
                "additionalProperties": False,
                "properties": {k: s.schema() for k, s in self.fields.items()},
            }
        )
