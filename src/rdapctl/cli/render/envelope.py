"""The text view of one lookup envelope: header, policy line, abuse contact, the
answer, each referral and errors (``render_envelope``, the package's entry point).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from rdapctl.cli.render.layout import indented
from rdapctl.cli.render.objects import classify, response_view
from rdapctl.cli.render.values import (
    LABEL_STYLE,
    MAX_ABUSE_VALUES,
    age_text,
    as_dict,
    as_list,
    join,
    strs,
    text_of,
)

if TYPE_CHECKING:
    from rich.console import Console


_STATUS_STYLE = {"ok": "green", "not_found": "yellow", "denied": "red", "error": "red"}


def _header(console: Console, env: dict[str, Any]) -> None:
    query = text_of(env.get("query")) or "(no query)"
    status = text_of(env.get("status")) or "unknown"
    text = Text.assemble((query, "bold"))
    qtype = text_of(env.get("type"))
    if qtype:
        text.append(f" ({qtype})")
    text.append("  ")
    text.append(status, style=_STATUS_STYLE.get(status, "bold"))
    for label, value in (
        ("tenant", text_of(env.get("tenant"))),
        ("server", text_of(env.get("server"))),
    ):
        if value:
            text.append(f" · {label} {value}", style="dim")
    source = text_of(env.get("source"))
    if source:
        age = age_text(env.get("age_s")) if source == "cache" else ""
        text.append(f" · {source}{f', {age}' if age else ''}", style="dim")
    console.print(text)

    policy = as_dict(env.get("policy"))
    parts = []
    fields = strs(policy.get("redacted_fields"))
    count = policy.get("redacted_count")
    if fields or (isinstance(count, int) and not isinstance(count, bool) and count > 0):
        n = count if isinstance(count, int) and not isinstance(count, bool) else len(fields)
        parts.append(f"redacted {n:,} field(s)" + (f" ({join(fields)})" if fields else ""))
    residency = as_dict(policy.get("residency"))
    if residency:
        region, action = text_of(residency.get("region")), text_of(residency.get("action"))
        parts.append(f"residency {region or '?'}: {action or '?'}")
    if parts:
        console.print(Text("policy: " + " · ".join(parts), style="dim"))


# Answers for which the envelope's abuse contact is shown.
_ABUSE_KINDS = frozenset({"domain", "ip", "autnum"})


def _abuse(console: Console, env: dict[str, Any]) -> None:
    """The abuse contact rdapctl found in the (policy-applied) answer, on one line:
    e-mail addresses, then phone numbers, then where they came from. Nothing when it
    found none, or the envelope predates the field."""
    abuse = env.get("abuse")
    if not isinstance(abuse, dict):
        return
    resp = env.get("response")
    kind = classify(resp) if isinstance(resp, dict) and resp else ""
    if kind not in _ABUSE_KINDS and text_of(env.get("type")).lower() not in _ABUSE_KINDS:
        return
    values = [join(strs(abuse.get(key)), " · ", MAX_ABUSE_VALUES) for key in ("email", "phone")]
    shown = " · ".join(v for v in values if v)
    if not shown:
        return
    text = Text.assemble(("abuse contact", LABEL_STYLE), "  ", shown)
    source = text_of(abuse.get("source"), 100)
    if source:
        text.append(f"  ({source})", style="dim")
    console.print(text)


def _error(console: Console, err: Any, indent: int = 0) -> None:
    if err is None:
        return
    d = as_dict(err)
    code = text_of(d.get("code")) if d else ""
    message = text_of(d.get("message")) if d else text_of(err)
    text = Text("error", style="bold red")
    if code:
        text.append(f" [{code}]", style="red")
    text.append(f": {message or '(no message)'}")
    indented(console, text, indent)
    hint = text_of(d.get("hint"))
    if hint:
        indented(console, Text.assemble(("hint: ", "bold"), hint), indent + 2)


def render_envelope(envelope: dict[str, Any], console: Console) -> None:
    """Print the readable view of one lookup envelope on ``console``; never raises on data."""
    env = as_dict(envelope)
    if not env:
        console.print(Text("(empty lookup result)", style="dim"))
        return
    _header(console, env)
    _abuse(console, env)
    resp = env.get("response")
    if resp is not None:
        console.rule(style="dim")
        response_view(console, resp)

    for i, item in enumerate(as_list(env.get("referrals")), 1):
        ref = as_dict(item)
        title = Text.assemble((f"Referral {i}", "bold"), " ", text_of(ref.get("url")))
        status = text_of(ref.get("status"))
        if status:
            title.append(f" ({status})", style=_STATUS_STYLE.get(status, ""))
        console.rule(title, style="dim", align="left")
        if ref.get("response") is not None:
            response_view(console, ref.get("response"))
        _error(console, ref.get("error"))

    if env.get("error") is not None:
        console.rule(style="dim")
        _error(console, env.get("error"))
