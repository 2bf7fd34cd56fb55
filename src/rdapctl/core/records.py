"""Immutable record classes that cost little to define.

``@record`` gives the plain value classes used here the contract of a frozen
dataclass (typed fields with defaults, frozen, ``==``/hash/repr, keyword or
positional construction) without ``@dataclass``'s generated methods: those are
compiled with ``exec`` per class, and rdapctl is a short-lived CLI that pays class
creation on every invocation. ``dataclasses.fields``, ``replace``,
``asdict`` and ``is_dataclass`` work (the Field objects are made by ``dataclasses``
itself, through its public API, the first time one of them asks); the methods are
shared generic functions.

As with dataclasses, a mutable default (a list, dict, set or any unhashable value)
and a required field after a defaulted one are refused with a TypeError when the
class is created: use ``dataclasses.field(default_factory=list)`` for the first,
reorder for the second.

What it does not support, because nothing here needs it: ``InitVar``,
``ClassVar`` fields, ``__post_init__``, inheritance between records, ``kw_only``.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from collections.abc import Callable, Mapping
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


def as_dict(value: object) -> dict[str, Any]:
    """A record as a dict, the records inside it too, recursively: what
    ``dataclasses.asdict`` gives, without making the records' dataclass Fields."""
    plain = _plain(value)
    if not isinstance(plain, dict):
        raise TypeError(f"as_dict() takes a record, not {type(value).__name__}")
    return plain


def _plain(value: Any) -> Any:
    names = getattr(type(value), "_record_names", None)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*(_plain(v) for v in value))
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_plain(k), _plain(v)) for k, v in value.items())
    return copy.deepcopy(value)


def _build(cls: type[Any]) -> None:
    annotations = inspect.get_annotations(cls)
    _check_fields(cls, annotations)
    names = tuple(annotations)
    specs: dict[str, Any] = {}  # what the class body gave: a value or a dataclasses.Field
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    shown, compared, hashed = [], [], []
    for name in names:
        spec = cls.__dict__.get(name, _MISSING)
        if spec is not _MISSING:
            specs[name] = spec
            delattr(cls, name)  # values live in each instance's dict
        if isinstance(spec, dataclasses.Field):
            if spec.default_factory is not _MISSING:
                factories[name] = spec.default_factory
            elif spec.default is not _MISSING:
                defaults[name] = spec.default
            # field(repr=False) keeps secrets out of reprs; compare/hash=False leave a
            # field out of == and hash.
            show, compare = spec.repr, spec.compare
            hash_ = compare if spec.hash is None else spec.hash
        else:
            if spec is not _MISSING:
                defaults[name] = spec
            show = compare = hash_ = True
        if show:
            shown.append(name)
        if compare:
            compared.append(name)
        if hash_:
            hashed.append(name)
    setattr(cls, "__match_args__", names)  # noqa: B010 (mypy types it as read-only)
    cls._record_names = names
    cls._record_name_set = frozenset(names)
    cls._record_shown = tuple(shown)
    cls._record_compared = tuple(compared)
    cls._record_hashed = tuple(hashed)
    cls._record_defaults = defaults
    cls._record_factories = factories
    cls._record_annotations = annotations
    cls._record_specs = specs
    # dataclasses.fields/replace/asdict/is_dataclass work: the Field objects are made
    # by dataclasses itself, on first use (no lookup path needs them, and making them
    # for every class would double the cost of defining the records).
    cls.__dataclass_fields__ = _DataclassFields()
    for method in (__init__, __repr__, __eq__):
        setattr(cls, method.__name__, method)


class _DataclassFields:
    """``__dataclass_fields__`` of a record, built by ``dataclasses`` when first read."""

    def __get__(self, instance: Any, owner: type[Any]) -> dict[str, dataclasses.Field[Any]]:
        namespace: dict[str, Any] = {
            "__annotations__": dict(owner._record_annotations),
            "__module__": owner.__module__,
            "__doc__": owner.__name__,  # dataclasses would build one from the signature
            **{name: copy.copy(spec) for name, spec in owner._record_specs.items()},
        }
        shadow: type[Any] = dataclasses.dataclass(
            init=False, repr=False, eq=False, match_args=False
        )(type(owner.__name__, (), namespace))
        fields: dict[str, dataclasses.Field[Any]] = shadow.__dataclass_fields__
        owner.__dataclass_fields__ = fields  # from now on a plain class attribute
        return fields


def _check_fields(cls: type[Any], annotations: Mapping[str, Any]) -> None:
    """TypeError for a mutable default, or a required field after a defaulted one."""
    defaulted: str | None = None
    for name in annotations:
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
        known = cls._record_name_set
        for key in kwargs:
            if key not in known:
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
