"""`@frozen`: the core's value classes, frozen dataclasses made at under half the cost.

`dataclasses.dataclass(frozen=True)` compiles six methods from generated source for every class (`exec`, ~1 ms a
class on this project's machines), and derives a docstring from `inspect.signature`; the core defines ~150 such
classes, so a command line paid ~100 ms of its start-up for them (issue 15). Here the dataclass machinery makes
`__init__` only; `__eq__`, `__hash__` and `__repr__` are plain functions over the fields, and on Python 3.11 and
3.12 the frozen `__setattr__`/`__delattr__` are closures over the class instead of two more compiled functions
(3.13 compiles a class's methods in one go). All behave exactly as the generated ones (tests/unit/test_values.py
compares them).

A `@frozen` class is a dataclass like any other (`dataclasses.fields`, `replace`, `asdict`, `__match_args__`), and a
method the class defines itself is kept, as `dataclass` keeps it. A class without a docstring gets its name.
"""

from __future__ import annotations

import dataclasses
import operator
import reprlib
import sys
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T", bound=type)


@overload
def frozen(cls: T, /) -> T: ...
@overload
def frozen(*, slots: bool = False, kw_only: bool = False) -> Callable[[T], T]: ...


@dataclass_transform(frozen_default=True)
def frozen(cls: T | None = None, /, *, slots: bool = False, kw_only: bool = False) -> T | Callable[[T], T]:
    """`@frozen` or `@frozen(slots=True)`: as `@dataclass(frozen=True)` (or with those options)."""

    def make(cls: T) -> T:
        if not cls.__doc__:
            cls.__doc__ = cls.__name__  # dataclass would build one from inspect.signature (a sixth of its cost)
        made: T = _dataclass(cls, slots=slots, kw_only=kw_only)
        fields = dataclasses.fields(made)
        compared = _key(tuple(f.name for f in fields if f.compare))
        hashed = _key(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))
        # What the class wrote itself stays, as with dataclass: its own namespace, not what it inherits. (Python
        # gives a class that defines __eq__ `__hash__ = None`: not a hash the class wrote.)
        own = cls.__dict__
        own_hash = own.get("__hash__", dataclasses.MISSING)
        wrote_hash = own_hash is not dataclasses.MISSING and not (own_hash is None and "__eq__" in own)
        methods = {"__eq__": _eq(compared), "__repr__": _repr(tuple(f.name for f in fields if f.repr))}
        if not wrote_hash:
            methods["__hash__"] = _hash(hashed)
        for name, method in methods.items():
            if name == "__hash__" or name not in own:
                method.__qualname__ = f"{made.__qualname__}.{name}"
                setattr(made, name, method)
        return made

    return make if cls is None else make(cls)


def _dataclass(cls: T, *, slots: bool, kw_only: bool) -> T:
    """`dataclass(frozen=True, repr=False, eq=False)`, its frozen attribute methods made by `_frozen_attributes`
    where this Python compiles them one by one (3.11, 3.12: `_frozen_get_del_attr(cls, fields, globals)`)."""
    compiled = getattr(dataclasses, "_frozen_get_del_attr", None)
    if sys.version_info >= (3, 13) or compiled is None:
        return dataclasses.dataclass(cls, frozen=True, repr=False, eq=False, slots=slots, kw_only=kw_only)
    # Only while this class is made (a frozen dataclass another thread makes meanwhile gets the closures too:
    # they behave as the compiled ones).
    dataclasses._frozen_get_del_attr = _frozen_attributes
    try:
        return dataclasses.dataclass(cls, frozen=True, repr=False, eq=False, slots=slots, kw_only=kw_only)
    finally:
        dataclasses._frozen_get_del_attr = compiled


def _frozen_attributes(cls: type, fields: list[dataclasses.Field[Any]], _globals: object) -> tuple[Callable[..., None],
                                                                                                   Callable[..., None]]:
    """The frozen `__setattr__` and `__delattr__` that dataclasses 3.11/3.12 compile from source, as closures: the
    same test (`type(self) is cls or name in fields`), the same errors, the same fallback to the base class."""
    names = tuple(f.name for f in fields)

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __setattr__, __delattr__


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The fields' values as a tuple, as the generated methods compare and hash them."""
    if not names:
        return lambda _: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda obj: (one(obj),)
    return operator.attrgetter(*names)


def _eq(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _hash(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))

    return __hash__


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__
