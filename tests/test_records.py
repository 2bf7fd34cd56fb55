"""@record: the cheap frozen value classes behave like frozen dataclasses."""

from __future__ import annotations

import dataclasses
from dataclasses import field

import pytest

from rdapctl.core.records import mutable_record, record


@record
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()
    extra: dict[str, int] = field(default_factory=dict)


def test_construction_defaults_and_factories() -> None:
    """Positional and keyword arguments, defaults, per-instance factories."""
    p = Point(1, y=2)
    assert (p.x, p.y, p.tags, p.extra) == (1, 2, (), {})
    assert Point(1).extra is not Point(1).extra
    with pytest.raises(TypeError):
        Point()
    with pytest.raises(TypeError):
        Point(1, z=3)
    with pytest.raises(TypeError):
        Point(1, x=1)
    with pytest.raises(TypeError):
        Point(1, 2, (), {}, 5)


def test_construction_without_arguments_uses_every_default() -> None:
    """No arguments at all: defaults, fresh factory values; a required field still raises."""

    @mutable_record
    class Trace:
        source: str = "network"
        count: int = 0
        seen: set[str] = field(default_factory=set)

    a, b = Trace(), Trace()
    assert (a.source, a.count, a.seen) == ("network", 0, set())
    assert a.seen is not b.seen
    with pytest.raises(TypeError, match="missing required argument 'x'"):
        Point()


def test_frozen_eq_hash_repr() -> None:
    """Immutable, compared by value, hashable when the values are, readable repr."""
    a, b = Point(1, 2), Point(1, 2)
    assert a == b
    assert a != Point(2, 2)
    assert hash(Label("x")) == hash(Label("x"))
    assert len({Label("x"), Label("x"), Label("y")}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.x = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del a.y
    assert repr(a) == "Point(x=1, y=2, tags=(), extra={})"


@record
class Label:
    text: str


def test_dataclass_helpers_work() -> None:
    """fields(), replace(), asdict() and is_dataclass() see a record as a dataclass."""
    p = Point(1, 2, ("t",))
    assert dataclasses.is_dataclass(p)
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags", "extra"]
    assert dataclasses.replace(p, y=9) == Point(1, 9, ("t",))
    assert dataclasses.asdict(p) == {"x": 1, "y": 2, "tags": ("t",), "extra": {}}


@record
class Secret:
    key_id: str
    material: bytes = dataclasses.field(default=b"", repr=False)
    note: str = dataclasses.field(default="", compare=False)


def test_repr_false_hides_secrets_and_compare_false_is_ignored() -> None:
    """Fields marked repr=False never appear in repr (key material)."""
    s = Secret("k1", b"\x00secret-bytes")
    assert "secret-bytes" not in repr(s)
    assert repr(s) == "Secret(key_id='k1', note='')"
    assert Secret("k1", b"x", "a") == Secret("k1", b"x", "b")
    assert hash(Secret("k1", b"x", "a")) == hash(Secret("k1", b"x", "b"))


@mutable_record
class Counter:
    count: int = 0


def test_mutable_record_allows_assignment_and_is_unhashable() -> None:
    """mutable_record keeps the constructor and equality but allows updates."""
    c = Counter()
    c.count += 1
    assert c == Counter(1)
    with pytest.raises(TypeError):
        hash(c)


@pytest.mark.parametrize("default", [[], {}, set(), dataclasses.field(default=[])])
def test_a_mutable_default_is_refused_when_the_class_is_made(default: object) -> None:
    """A list, dict or set default would be shared by every instance: a TypeError."""
    with pytest.raises(
        TypeError, match=r"Bad\.items: mutable default .* use field\(default_factory="
    ):
        record(type("Bad", (), {"__annotations__": {"items": "list[int]"}, "items": default}))
    with pytest.raises(TypeError, match="mutable default"):

        @mutable_record
        class AlsoBad:
            seen: set[str] = set()  # noqa: RUF012


def test_a_required_field_after_a_defaulted_one_is_refused() -> None:
    """Field order as dataclasses require it: positional construction stays unambiguous."""
    with pytest.raises(TypeError, match=r"Bad\.y: required field after field 'x'"):

        @record
        class Bad:
            x: int = 0
            y: int

    with pytest.raises(TypeError, match="required field after field 'extra'"):

        @record
        class AfterFactory:
            extra: dict[str, int] = field(default_factory=dict)
            y: int


def test_records_use_public_dataclasses_api_only() -> None:
    """Fields come from dataclasses itself: no private marker is set by hand."""
    import inspect

    from rdapctl.core import records

    assert "_FIELD" not in inspect.getsource(records)
    assert [f.name for f in dataclasses.fields(Secret)] == ["key_id", "material", "note"]


def test_as_dict_matches_dataclasses_asdict() -> None:
    """records.as_dict gives what dataclasses.asdict gives, nested records included."""
    from rdapctl.core.records import as_dict

    @record
    class Inner:
        a: int
        tags: tuple[str, ...] = ()

    @record
    class Outer:
        name: str
        inner: Inner
        many: tuple[Inner, ...] = ()
        extra: dict[str, int] = field(default_factory=dict)

    value = Outer("x", Inner(1, ("t",)), (Inner(2), Inner(3)), {"k": 1})
    assert as_dict(value) == dataclasses.asdict(value)
    assert as_dict(value)["many"] == ({"a": 2, "tags": ()}, {"a": 3, "tags": ()})
