"""Server text made safe for a terminal: invisible and controlling characters made visible.

Anything a registry sends (an error title, a referral URL, a bootstrap publication
date) may hold ESC/OSC sequences (window titles, OSC 8 links, OSC 52 clipboard
writes), C1 controls, bidi overrides or zero-width characters. Before such text is
printed to a terminal or to stderr it goes through :func:`visible`, which replaces
each of them with an escape a person can read (``\\x1b``, ``\\u202e``). JSON output
keeps the data as sent (the JSON encoder escapes control characters itself).

Must not: import anything beyond the standard library (stderr messages use it on
every run).
"""

from __future__ import annotations

# The categories made visible: controls (Cc), format characters (Cf: bidi controls,
# zero-width characters, tag characters), lone surrogates (Cs), line and paragraph
# separators (Zl, Zp). Other non-printable characters (spaces, private use) are shown.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def visible(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control, format, surrogate and separator character written
    as an escape. Newline and tab stay as they are unless ``one_line`` (then they are
    escaped too, so server text cannot start a line of its own)."""
    if text.isprintable():  # the common case, at C speed
        return text
    import unicodedata

    keep = "" if one_line else "\n\t"
    out: list[str] = []
    for ch in text:
        if ch in keep or ch.isprintable() or unicodedata.category(ch) not in _HIDDEN:
            out.append(ch)
        else:
            out.append(_escape(ch))
    return "".join(out)


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
