"""Issue 21: the RFC 9535 JSONPath syntax checker behind ``rfc9537.redacted.path``.

Known answers from RFC 9535's own examples (always run), and a differential test
against ``jsonpath-rfc9535`` (a strict RFC 9535 implementation with its own compliance
suite): a test-only dependency that is not in pyproject.toml, so that test is skipped
where it is not installed (``pip install jsonpath-rfc9535==1.0.1`` to run it). That
library is more lenient than the RFC 9535 grammar in a few places (listed at the end of
INVALID), so the differential test checks one direction: every path accepted here
compiles there.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rdapctl.rdap.conformance.jsonpath import MAX_NESTING, is_valid, jsonpath_error
from tests.support import load_fixture

VALID = [
    "$",
    "$.store.book[*].author",
    "$..author",
    "$.store.*",
    "$..book[2]",
    "$..book[-1]",
    "$..book[0,1]",
    "$..book[:2]",
    "$..book[?@.isbn]",
    "$..book[?@.price<10]",
    "$..*",
    "$.o['j j']['k.k']",
    """$["'"]["@"]""",
    "$[1:3]",
    "$[5:]",
    "$[1:5:2]",
    "$[5:1:-2]",
    "$[::-1]",
    "$[ 1 : 2 : ]",
    "$ .a",
    "$.a[?@.b == 'kilo']",
    "$.a[?(@.b == 'kilo')]",
    "$.a[?@>3.5]",
    "$[?@.*]",
    "$[?@[?@.b]]",
    "$.o[?@<3, ?@<3]",
    '$.a[?@<2 || @.b == "k"]',
    '$.a[?match(@.b, "[jk]")]',
    '$.a[?search(@.b, "[jk]")]',
    "$.o[?@>1 && @<4]",
    "$.a[?@.b == $.x]",
    "$.a[?@ == @]",
    "$[?length(@) < 3]",
    "$[?count(@.*) == 1]",
    '$[?value(@..color) == "red"]',
    "$[?!(@.a == 1) && !@.b]",
    "$[?@.a == -0.5e+3]",
    "$['\\u00e9\\ud83d\\ude00']",
    "$.é._x1",
    "$[9007199254740991]",
]
INVALID = [
    "",
    " $",
    "$ ",
    "@.a",
    "$.",
    "$..",
    "$...a",
    "$.1a",
    "$[",
    "$['a]",
    "$[01]",
    "$[-0]",
    "$[1:2:3:4]",
    "$[9007199254740992]",
    "$[]",
    "$[1,]",
    "$[?@.a=1]",
    "$[?@.a===1]",
    "$[?(@.a]",
    "$['\\x']",
    "$['\\ud800']",
    "$['\\udc00']",
    "$[?1 == 1 &&]",
    "$[?true]",
    "$[?@.a == 01]",
    "$[?@.a == True]",
    "$[?length(@.*) < 3]",
    "$[?count(1) == 1]",
    "$[?count(foo(@.*)) == 1]",
    "$[?match(@.timezone, 'Europe/.*') == true]",
    "$[?value(@..color)]",
    "$[?length(@.a)]",
    "$[?@.* == 1]",
    "$[?length(@.a, 1) == 1]",
    # Accepted by jsonpath-rfc9535 1.0.1, but not by the RFC 9535 grammar (appendix A):
    "$[:1-1]",  # slice-selector: the step needs its ":"
    "$[1:5 2]",
    "$.a[?@>3>5]",  # comparison-expr = comparable S comparison-op S comparable, no chains
    "$.a[?@>!5]",  # "!" only before a parenthesised expression or a test
    "$.a[?!@.b == 'kilo']",  # a test-expr is no comparable
    "$.a[?@>-05]",  # int: no leading zero
    "$[?length(@,) < 3]",  # no empty function argument
]


@pytest.mark.parametrize("path", VALID)
def test_valid_paths(path: str) -> None:
    assert jsonpath_error(path) is None


@pytest.mark.parametrize("path", INVALID)
def test_invalid_paths(path: str) -> None:
    error = jsonpath_error(path)
    assert error is not None and error.startswith("at ")


def test_the_paths_of_a_real_redacted_answer_are_valid() -> None:
    body = load_fixture("redacted/icann.org-registrant-excerpt-redacted.json")
    assert isinstance(body, dict)
    paths = [
        entry[member]
        for entry in body["redacted"]
        for member in ("prePath", "postPath", "replacementPath")
        if member in entry
    ]
    assert len(paths) >= 8
    assert all(is_valid(path) for path in paths), paths


def test_nesting_is_bounded() -> None:
    deep = "$" + "[?@" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)
    assert jsonpath_error(deep) == jsonpath_error(deep)  # returns, no RecursionError
    assert not is_valid(deep)
    assert is_valid("$" + "[?@" * 10 + "]" * 10)
    assert not is_valid("$[?" + "(" * 5000 + "@" + ")" * 5000 + "]")


TOKENS = [
    ".", "..", "[", "]", "?", "@", "$", "*", "'a'", '"b"', "'\\u00e9'", "a", "_x", "é",
    "0", "1", "-1", "01", "-0", "9007199254740992", ":", ",", " ", "==", "!=", "<", "<=",
    ">", ">=", "&&", "||", "!", "(", ")", "length(", "count(", "match(", "search(",
    "value(", "true", "false", "null", "1.5", "1e3", "-", "\\", "'", '"', "foo(",
]  # fmt: skip
path_like = st.lists(st.sampled_from(TOKENS), max_size=14).map(lambda parts: "$" + "".join(parts))
SEEDS = [p for p in VALID + INVALID if p]


@given(st.one_of(path_like, st.sampled_from(SEEDS), st.text(max_size=20)))
def test_what_it_accepts_compiles_in_jsonpath_rfc9535(path: str) -> None:
    """One direction only: jsonpath-rfc9535 1.0.1 accepts some paths the RFC 9535
    grammar does not (the last group of INVALID). The checker itself agrees with all
    703 selectors of the JSONPath Compliance Test Suite (see the lead's notes)."""
    library = pytest.importorskip("jsonpath_rfc9535")
    if not is_valid(path):
        return
    try:
        library.compile(path)
    except OverflowError:
        pass  # 1e310: the library cannot hold the number; the syntax is valid
    except library.JSONPathError as exc:
        pytest.fail(f"{json.dumps(path)} is accepted here but not by jsonpath-rfc9535: {exc}")


@pytest.mark.parametrize("path", VALID)
def test_jsonpath_rfc9535_accepts_the_valid_paths(path: str) -> None:
    library = pytest.importorskip("jsonpath_rfc9535")
    library.compile(path)


@given(st.one_of(path_like, st.text(max_size=40)))
def test_any_text_gets_an_answer(path: str) -> None:
    """No input raises: a valid query gives None, anything else a located reason."""
    error = jsonpath_error(path)
    assert error is None or (error.startswith("at ") and error == jsonpath_error(path))
    assert is_valid(path) is (error is None)
