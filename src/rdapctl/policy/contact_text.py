"""Contacts in free text: e-mail addresses and international phone numbers, found
(``find_pii``) or replaced by placeholders (``mask_contacts``, and the patterns the
redaction walk applies to remarks and notices). Pure: text in, text out.
"""

from __future__ import annotations

import re

EMAIL_PLACEHOLDER = "[email redacted]"
TEL_PLACEHOLDER = "[tel redacted]"

# E-mail addresses, internationalised ones too: a local part of word characters and
# ".%+-" (so "_john@..." and "jöhn@..." count), then a host name whose labels are letters
# and digits of any script, or an address literal ("user@[192.0.2.1]").
EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@"
    r"(?:\[[0-9A-Fa-f:.]+\]|[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)*"
    r"\.[^\W\d_]{2,}(?![\w-]))"
)
# International numbers only: a "+" (or "tel:") then 7..15 digits in groups, separated
# by spaces (no-break ones too), dots, hyphens and dashes, or slashes. National formats
# without a country code are indistinguishable from serials and are not matched. A "+"
# right after a letter is a number only after "tel", "phone" or "fax" ("Tel+1 555 ...").
_SEP = r"[ \u00a0.\-\u2010-\u2015/]"
PHONE_RE = re.compile(
    r"(?:(?<![\w+/=])\+|(?i:(?<=tel)|(?<=phone)|(?<=fax))\+|\btel:\+?)"
    r"\d{1,4}(?:(?:" + _SEP + r"|\s?\(\d{1,4}\)\s?)?\d{1,12}){1,7}"
    r"(?:\s?(?:#|x|ext\.?)\s?\d{1,6})?"
)
# What every match of the patterns above contains (a cheap test before the scan).
EMAIL_MARKS = ("@",)
PHONE_MARKS = ("+", "tel:")


def mask_contacts(text: str) -> str:
    """``text`` with e-mail addresses and international phone numbers replaced by the
    placeholders, also where a URL spells them percent-encoded (the text is then given
    decoded). For server text rdapctl writes down itself, such as URLs in audit records."""
    if not any(m in text for m in ("@", "+", "tel:", "%")):
        return text
    plain = text
    if "%" in text:
        from urllib.parse import unquote

        plain = unquote(text)
    masked, n = substitute(EMAIL_RE, EMAIL_PLACEHOLDER, plain, False)
    # In a URL a number follows "/", "=" or "&" (which free text's pattern does not
    # take as a start): matched in a copy where they are spaces, replaced in place.
    spaced = masked.translate(_URL_SEPARATORS)
    spans = [m.span() for m in PHONE_RE.finditer(spaced) if is_phone(m.group())]
    for start, end in reversed(spans):
        masked = masked[:start] + TEL_PLACEHOLDER + masked[end:]
    return masked if n or spans else text


_URL_SEPARATORS = str.maketrans({"/": " ", "=": " ", "&": " ", "?": " ", ";": " "})


def find_pii(text: str) -> list[str]:
    """E-mail addresses and international phone numbers in ``text``, unique, in order."""
    found: dict[str, None] = {}
    spans: list[tuple[int, int, str]] = []
    for m in EMAIL_RE.finditer(text):
        spans.append((m.start(), m.end(), m.group()))
    for m in PHONE_RE.finditer(text):
        if is_phone(m.group()):
            spans.append((m.start(), m.end(), m.group()))
    for _start, _end, value in sorted(spans):
        found.setdefault(value, None)
    return list(found)


def substitute(
    pattern: re.Pattern[str], placeholder: str, text: str, phone: bool
) -> tuple[str, int]:
    n = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal n
        if phone and not is_phone(m.group()):
            return m.group()
        n += 1
        return placeholder

    return pattern.sub(repl, text), n


def is_phone(candidate: str) -> bool:
    number = re.split(r"#|x|ext", candidate, maxsplit=1)[0]
    digits = sum(1 for ch in number if ch.isdigit())
    return 7 <= digits <= 15
