"""Is a string a well-formed RFC 9535 JSONPath query? Syntax and well-typedness, no
evaluation.

RFC 9537 redaction entries name the members they redact with JSONPath (``prePath``,
``postPath``, ``replacementPath``); a path that does not parse points nowhere. This is
the grammar of RFC 9535 (section 2 and its appendix A) with its type rules for the five
standard function extensions (section 2.4): ``length``, ``count``, ``match``,
``search``, ``value``. Integers are the I-JSON range (section 2.1). Nesting deeper
than ``MAX_NESTING`` brackets or parentheses is refused, so no input can exhaust the
stack. ``match``/``search`` patterns are not checked as I-Regexp: RFC 9535 makes a bad
pattern a false match, not a syntax error.

Must not: import anything beyond the standard library.
"""

from __future__ import annotations

MAX_NESTING = 64
_MAX_INT = 2**53 - 1
_BLANK = " \t\n\r"
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
_ESCAPABLE = "bfnrt/\\"
# function name -> (parameter types, result type); V value, N nodes, L logical.
_FUNCTIONS: dict[str, tuple[str, str]] = {
    "length": ("V", "V"),
    "count": ("N", "V"),
    "match": ("VV", "L"),
    "search": ("VV", "L"),
    "value": ("N", "V"),
}
# What an expression is: a literal, a query (singular or not), a function (by result
# type), or a logical expression.
_LITERAL, _SINGULAR, _QUERY, _LOGICAL = "literal", "singular", "query", "logical"


class _Invalid(Exception):
    pass


def is_valid(path: str) -> bool:
    """Whether ``path`` is a well-formed, well-typed RFC 9535 JSONPath query."""
    return jsonpath_error(path) is None


def jsonpath_error(path: str) -> str | None:
    """None for a valid query; otherwise the character offset and what is wrong."""
    parser = _Parser(path)
    try:
        parser.query("$")
        if parser.pos != len(path):
            parser.fail("unexpected text after the query")
    except _Invalid as exc:
        return str(exc)
    return None


def _is_name_first(char: str) -> bool:
    code = ord(char)
    return (
        (char.isascii() and (char.isalpha() or char == "_"))
        or 0x80 <= code <= 0xD7FF
        or 0xE000 <= code <= 0x10FFFF
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    # -- basics --
    def fail(self, what: str) -> None:
        raise _Invalid(f"at {self.pos}: {what}")

    def peek(self, ahead: int = 0) -> str:
        index = self.pos + ahead
        return self.text[index] if index < len(self.text) else ""

    def blank(self) -> None:
        while self.peek() and self.peek() in _BLANK:
            self.pos += 1

    def expect(self, char: str) -> None:
        if self.peek() != char:
            self.fail(f"expected {char!r}")
        self.pos += 1

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.fail("nested too deep")

    # -- queries --
    def query(self, identifier: str) -> bool:
        """Parse ``identifier`` and its segments; whether the query is singular."""
        self.expect(identifier)
        singular = True
        while True:
            start = self.pos
            self.blank()
            char = self.peek()
            if char == "[":
                singular = self.bracketed() and singular
            elif char == "." and self.peek(1) == ".":
                self.pos += 2
                singular = False
                if self.peek() == "[":
                    self.bracketed()
                elif self.peek() == "*":
                    self.pos += 1
                else:
                    self.shorthand()
            elif char == ".":
                self.pos += 1
                if self.peek() == "*":
                    self.pos += 1
                    singular = False
                else:
                    self.shorthand()
            else:
                self.pos = start
                return singular

    def shorthand(self) -> None:
        char = self.peek()
        if not char or not _is_name_first(char):
            self.fail("expected a member name")
        while (char := self.peek()) and (_is_name_first(char) or char in _DIGITS):
            self.pos += 1

    def bracketed(self) -> bool:
        """A bracketed selection; whether it is one name or index selector."""
        self.nest()
        self.expect("[")
        count, singular = 0, True
        while True:
            self.blank()
            singular = self.selector() and singular
            count += 1
            self.blank()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]")
            self.depth -= 1
            return singular and count == 1

    def selector(self) -> bool:
        """One selector; whether it selects at most one node by name or index."""
        char = self.peek()
        if char in ("'", '"'):
            self.string()
            return True
        if char == "*":
            self.pos += 1
            return False
        if char == "?":
            self.pos += 1
            self.blank()
            self.logical(self.expression())
            return False
        start = self.integer(optional=True)
        self.blank()
        if self.peek() != ":":
            if start is None:
                self.fail("expected a selector")
            return True
        self.pos += 1
        self.blank()
        if self.integer(optional=True) is not None:
            self.blank()
        if self.peek() == ":":
            self.pos += 1
            self.blank()
            self.integer(optional=True)
        return False

    def integer(self, optional: bool) -> int | None:
        start = self.pos
        if self.peek() == "-":
            self.pos += 1
        digits = self.pos
        while self.peek() and self.peek() in _DIGITS:
            self.pos += 1
        text = self.text[digits : self.pos]
        if not text:
            if optional and self.pos == start:
                return None
            self.fail("expected an integer")
        if (text[0] == "0" and len(text) > 1) or (text == "0" and digits > start):
            self.fail("an integer with a leading zero, or -0")
        value = int(self.text[start : self.pos])
        if abs(value) > _MAX_INT:
            self.fail("an integer beyond the I-JSON range")
        return value

    def string(self) -> None:
        quote = self.peek()
        self.pos += 1
        while True:
            char = self.peek()
            if not char:
                self.fail("an unterminated string")
            self.pos += 1
            if char == quote:
                return
            if char == "\\":
                self.escape(quote)
            elif ord(char) < 0x20 or 0xD800 <= ord(char) <= 0xDFFF:
                self.fail("a control character or surrogate in a string")

    def escape(self, quote: str) -> None:
        char = self.peek()
        if char == quote or (char and char in _ESCAPABLE):
            self.pos += 1
            return
        if char != "u":
            self.fail("an unknown escape")
        self.pos += 1
        code = self.hex4()
        if 0xDC00 <= code <= 0xDFFF:
            self.fail("a lone low surrogate escape")
        if 0xD800 <= code <= 0xDBFF:
            if self.peek() != "\\" or self.peek(1) != "u":
                self.fail("a high surrogate escape without its low surrogate")
            self.pos += 2
            if not 0xDC00 <= self.hex4() <= 0xDFFF:
                self.fail("a high surrogate escape without its low surrogate")

    def hex4(self) -> int:
        digits = self.text[self.pos : self.pos + 4]
        if len(digits) != 4 or any(d not in _HEX for d in digits):
            self.fail("expected four hex digits")
        self.pos += 4
        return int(digits, 16)

    # -- filter expressions --
    def expression(self) -> str:
        """logical-or-expr, or a bare operand (checked by whoever uses it)."""
        self.nest()
        kind = self.conjunction()
        while True:
            start = self.pos
            self.blank()
            if self.text.startswith("||", self.pos):
                self.pos += 2
                self.blank()
                self.logical(kind)
                self.logical(self.conjunction())
                kind = _LOGICAL
            else:
                self.pos = start
                self.depth -= 1
                return kind

    def conjunction(self) -> str:
        kind = self.basic()
        while True:
            start = self.pos
            self.blank()
            if self.text.startswith("&&", self.pos):
                self.pos += 2
                self.blank()
                self.logical(kind)
                self.logical(self.basic())
                kind = _LOGICAL
            else:
                self.pos = start
                return kind

    def basic(self) -> str:
        char = self.peek()
        if char == "!":
            self.pos += 1
            self.blank()
            if self.peek() == "(":
                self.parenthesised()
            else:
                self.logical(self.operand())
            return _LOGICAL
        if char == "(":
            self.parenthesised()
            return _LOGICAL
        kind = self.operand()
        start = self.pos
        self.blank()
        operator = next(
            (op for op in ("==", "!=", "<=", ">=", "<", ">") if self.text.startswith(op, self.pos)),
            None,
        )
        if operator is None:
            self.pos = start
            return kind
        self.comparable(kind)
        self.pos += len(operator)
        self.blank()
        self.comparable(self.operand())
        return _LOGICAL

    def parenthesised(self) -> None:
        self.expect("(")
        self.blank()
        self.logical(self.expression())
        self.blank()
        self.expect(")")

    def logical(self, kind: str) -> None:
        """``kind`` may stand where a logical expression is due (a test or logical)."""
        if kind not in (_LOGICAL, _SINGULAR, _QUERY, "function:L", "function:N"):
            self.fail("a value where a logical expression is due")

    def comparable(self, kind: str) -> None:
        if kind not in (_LITERAL, _SINGULAR, "function:V"):
            self.fail("a comparison of something that is not a single value")

    def operand(self) -> str:
        """A literal, a query or a function call."""
        char = self.peek()
        if char in ("'", '"'):
            self.string()
            return _LITERAL
        if char == "-" or (char and char in _DIGITS):
            self.number()
            return _LITERAL
        if char in ("@", "$"):
            return _SINGULAR if self.query(char) else _QUERY
        start = self.pos
        while (char := self.peek()) and (
            (char.islower() and char.isascii()) or char in "_0123456789"
        ):
            self.pos += 1
        name = self.text[start : self.pos]
        if self.peek() == "(" and name and name[0].isalpha():
            return self.function(name)
        if name in ("true", "false", "null"):
            return _LITERAL
        self.pos = start
        self.fail("expected a literal, a query or a function")
        return _LITERAL  # not reached

    def number(self) -> None:
        start = self.pos
        if self.peek() == "-":
            self.pos += 1
        digits = self.pos
        while self.peek() and self.peek() in _DIGITS:
            self.pos += 1
        text = self.text[digits : self.pos]
        if not text or (text[0] == "0" and len(text) > 1):
            self.pos = start
            self.fail("a malformed number")
        if self.peek() == ".":
            self.pos += 1
            self.digits()
        if self.peek() in ("e", "E"):
            self.pos += 1
            if self.peek() in ("+", "-"):
                self.pos += 1
            self.digits()

    def digits(self) -> None:
        start = self.pos
        while self.peek() and self.peek() in _DIGITS:
            self.pos += 1
        if self.pos == start:
            self.fail("expected digits")

    def function(self, name: str) -> str:
        if name not in _FUNCTIONS:
            self.fail("an unknown function")
        parameters, result = _FUNCTIONS[name]
        self.nest()
        self.expect("(")
        self.blank()
        arguments: list[str] = []
        if self.peek() != ")":
            while True:
                arguments.append(self.expression())
                self.blank()
                if self.peek() != ",":
                    break
                self.pos += 1
                self.blank()
        self.expect(")")
        self.depth -= 1
        if len(arguments) != len(parameters):
            self.fail(f"{name}() takes {len(parameters)} argument(s)")
        for parameter, kind in zip(parameters, arguments, strict=True):
            if parameter == "V" and kind not in (_LITERAL, _SINGULAR, "function:V"):
                self.fail(f"an argument of {name}() that is not a single value")
            if parameter == "N" and kind not in (_SINGULAR, _QUERY, "function:N"):
                self.fail(f"an argument of {name}() that is not a query")
        return f"function:{result}"
