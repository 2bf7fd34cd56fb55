"""Immutable record classes that cost little to define.

``@record`` gives the plain value classes used here the contract of a frozen
dataclass (typed fields with defaults, frozen, ``==``/hash/repr, keyword or
positional construction) without ``@dataclass``'s generated methods: those are
compiled with ``exec`` per class, and rdapctl is a short-lived CLI that pays class
creation on every invocation. The fields are collected by ``dataclasses`` itself
(with every generated method switched off), so ``dataclasses.fields``, ``replace``,
``asdict`` and ``is_dataclass`` work through public API only; the methods are
shared generic functions.

As with dataclasses, a mutable default (a list, dict, set or any unhashable value)
and a required field after a defaulted one are refused with a TypeError when the
class is created: use ``dataclasses.field(default_factory=list)`` for the first,
reorder for the second.

What it does not support, because nothing here needs it: ``InitVar``,
``ClassVar`` fields, ``__post_init__``, inheritance between records, ``kw_only``.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")
_MISSING = dataclasses.MISSING


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen record of its annotated fields (see module docstring)."""
    _build(cls)
    for method in (__setattr__, __delattr__, __hash__):
        setattr(cls, method.__name__, method)
    return cls


@dataclass_transform(field_specifiers=(dataclasses.field,))
def mutable_record(cls: type[T]) -> type[T]:
    """Like :func:`record`, but fields may be reassigned (and instances are unhashable)."""
    _build(cls)
    cls.__hash__ = None  # type: ignore[assignment]
    return cls


def _build(cls: type[Any]) -> None:
    _check_fields(cls)
    if not cls.__doc__:
        # dataclasses would build a docstring from the signature, which costs more
        # than the rest of the class.
        cls.__doc__ = cls.__name__
    # Only the field bookkeeping: no generated method, so nothing is compiled.
    dataclasses.dataclass(init=False, repr=False, eq=False, match_args=False)(cls)
    fields: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(cls)}
    names = tuple(fields)
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    for name, spec in fields.items():
        if spec.default_factory is not _MISSING:
            factories[name] = spec.default_factory
        elif spec.default is not _MISSING:
            defaults[name] = spec.default
        if name in cls.__dict__:  # values live in each instance's dict
            delattr(cls, name)
    setattr(cls, "__match_args__", names)  # noqa: B010 (mypy types it as read-only)
    cls._record_names = names
    # field(repr=False) keeps secrets out of reprs; hash/compare=False leave a field out.
    cls._record_shown = tuple(n for n in names if fields[n].repr)
    cls._record_compared = tuple(n for n in names if fields[n].compare)
    cls._record_hashed = tuple(
        n for n in names if (fields[n].compare if fields[n].hash is None else fields[n].hash)
    )
    cls._record_defaults = defaults
    cls._record_factories = factories
    for method in (__init__, __repr__, __eq__):
        setattr(cls, method.__name__, method)


def _check_fields(cls: type[Any]) -> None:
    """TypeError for a mutable default, or a required field after a defaulted one."""
    defaulted: str | None = None
    for name in inspect.get_annotations(cls):
        value = cls.__dict__.get(name, _MISSING)
        has_factory = False
        if isinstance(value, dataclasses.Field):
            has_factory = value.default_factory is not _MISSING
            value = value.default
        if value is not _MISSING and type(value).__hash__ is None:
            raise TypeError(
                f"{cls.__name__}.{name}: mutable default {type(value).__name__} would be "
                f"shared by every instance; use field(default_factory={type(value).__name__})"
            )
        if value is not _MISSING or has_factory:
            defaulted = name
        elif defaulted is not None:
            raise TypeError(
                f"{cls.__name__}.{name}: required field after field {defaulted!r} with a "
                "default; put required fields first"
            )


def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
    # Straight into the instance dict: records are built on every lookup's hot path,
    # and this is a few times faster than object.__setattr__ per field.
    cls = type(self)
    names = cls._record_names
    values = self.__dict__
    if args:
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, {len(args)} given")
        values.update(zip(names, args, strict=False))
    if kwargs:
        fields = cls.__dataclass_fields__
        for key in kwargs:
            if key not in fields:
                raise TypeError(f"{cls.__name__}() got an unexpected argument {key!r}")
            if key in values:
                raise TypeError(f"{cls.__name__}() got multiple values for {key!r}")
        values.update(kwargs)
    if len(values) < len(names):
        if values:
            for name, default in cls._record_defaults.items():
                if name not in values:
                    values[name] = default
        else:  # no arguments at all (a lookup's trace): one dict update
            values.update(cls._record_defaults)
        for name, make in cls._record_factories.items():
            if name not in values:
                values[name] = make()
        if len(values) < len(names):
            missing = next(n for n in names if n not in values)
            raise TypeError(f"{cls.__name__}() missing required argument {missing!r}")


def __repr__(self: Any) -> str:
    inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in type(self)._record_shown)
    return f"{type(self).__qualname__}({inner})"


def __eq__(self: Any, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    names: tuple[str, ...] = getattr(self.__class__, "_record_compared")  # noqa: B009
    return all(getattr(self, n) == getattr(other, n) for n in names)


def __hash__(self: Any) -> int:
    return hash(tuple(getattr(self, n) for n in type(self)._record_hashed))


def __setattr__(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def __delattr__(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
