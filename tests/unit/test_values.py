"""`bot.values.frozen` behaves as `dataclasses.dataclass(frozen=True)`: each shape of class below is made both ways
from the same body, and every observable behaviour is compared."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from bot.values import frozen


def _both(body: Callable[[], type], **options: Any) -> tuple[type, type]:
    """The class `body()` returns, made with @frozen and with @dataclass(frozen=True) (each from a fresh body)."""
    return frozen(**options)(body()), dataclasses.dataclass(frozen=True, **options)(body())


def plain() -> type:
    class Point:
        x: int
        y: str = "a"
        tags: tuple[str, ...] = ()
    return Point


def with_field_options() -> type:
    class Card:
        id: int
        secret: str = dataclasses.field(default="s", repr=False)
        seen: int = dataclasses.field(default=0, compare=False)
        note: str = dataclasses.field(default="", hash=False)
        items: list[int] = dataclasses.field(default_factory=list, hash=False)
    return Card


def empty() -> type:
    class Nothing:
        pass
    return Nothing


def one_field() -> type:
    class Ref:
        id: int
    return Ref


def own_methods() -> type:
    class Secret:
        value: str

        def __repr__(self) -> str:
            return "Secret(<hidden>)"
    return Secret


def own_eq() -> type:
    class Loose:
        a: int
        b: int = 0

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Loose) and other.a == self.a
    return Loose


def unhashable() -> type:
    class NoHash:
        a: int
        __hash__ = None  # type: ignore[assignment]
    return NoHash


SHAPES = [plain, with_field_options, empty, one_field, own_methods, own_eq, unhashable]
ARGS: dict[Callable[[], type], list[tuple[Any, ...]]] = {
    plain: [(1,), (1, "a"), (1, "b"), (2, "a", ("t",)), (1, "a", ())],
    with_field_options: [(1,), (1, "x"), (1, "s", 5), (1, "s", 0, "n"), (2,)],
    empty: [()],
    one_field: [(1,), (2,), (True,)],
    own_methods: [("a",), ("b",)],
    own_eq: [(1, 2), (1, 3), (2, 2)],
    unhashable: [(1,), (2,)],
}


def _outcome(f: Callable[[], Any]) -> Any:
    try:
        return ("value", f())
    except Exception as e:  # the kind of failure and its message are what is compared
        return ("raises", type(e).__name__, str(e))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.__name__)
@pytest.mark.parametrize("options", [{}, {"slots": True}, {"kw_only": True}], ids=["plain", "slots", "kw_only"])
def test_same_behaviour_as_a_frozen_dataclass(shape: Callable[[], type], options: dict[str, Any]) -> None:
    ours, theirs = _both(shape, **options)
    names = [f.name for f in dataclasses.fields(theirs)]
    assert [f.name for f in dataclasses.fields(ours)] == names
    assert getattr(ours, "__match_args__", ()) == getattr(theirs, "__match_args__", ())

    def make(cls: type, args: tuple[Any, ...]) -> Any:
        return cls(**dict(zip(names, args, strict=False))) if options.get("kw_only") else cls(*args)

    cases = ARGS[shape]
    for args in cases:
        a, b = make(ours, args), make(theirs, args)
        assert repr(a) == repr(b)
        assert _outcome(lambda a=a: hash(a)) == _outcome(lambda b=b: hash(b))
        assert dataclasses.asdict(a) == dataclasses.asdict(b)
        assert dataclasses.astuple(a) == dataclasses.astuple(b)
        for name in [*names, "other"]:
            assert _outcome(lambda a=a, n=name: setattr(a, n, 1)) == _outcome(lambda b=b, n=name: setattr(b, n, 1))
            assert _outcome(lambda a=a, n=name: delattr(a, n)) == _outcome(lambda b=b, n=name: delattr(b, n))
        if names:
            changed = {names[0]: args[0] if args else None}
            assert repr(dataclasses.replace(a, **changed)) == repr(dataclasses.replace(b, **changed))
        assert (copy.deepcopy(a) == a) == (copy.deepcopy(b) == b) and type(copy.copy(a)) is ours
        if not options.get("slots"):  # a class made in a function is not picklable by name either way
            assert _outcome(lambda a=a: pickle.dumps(a)) == _outcome(lambda b=b: pickle.dumps(b))
        for other_args in cases:
            x, y = make(ours, other_args), make(theirs, other_args)
            assert (a == x) == (b == y) and (a != x) == (b != y)
            assert (a == (args or None)) == (b == (args or None))  # another type: NotImplemented, then identity


def test_a_subclass_compares_on_its_own_fields_and_class() -> None:
    @frozen
    class Base:
        problem: str
        usage: str = ""

    @frozen
    class Unavailable(Base):
        problem: str = "down"

    assert Unavailable() == Unavailable("down") and hash(Unavailable()) == hash(Unavailable("down"))
    assert Unavailable() != Base("down")  # another class: not equal, as with dataclass
    assert repr(Unavailable()) == "test_a_subclass_compares_on_its_own_fields_and_class.<locals>.Unavailable(" \
                                  "problem='down', usage='')"


def test_a_subclass_is_frozen_on_its_own_and_its_bases_fields() -> None:
    @frozen
    class Base:
        a: int

    @frozen
    class Child(Base):
        b: int = 0

    child = Child(1)
    for name in ("a", "b", "other"):
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot assign to field '{name}'"):
            setattr(child, name, 2)
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot delete field '{name}'"):
            delattr(child, name)
    assert Child.__setattr__.__qualname__.endswith("Child.__setattr__")
    assert (child.a, child.b) == (1, 0)


def test_a_recursive_value_is_shown_with_an_ellipsis() -> None:
    @frozen
    class Box:
        items: list[Any]

    box = Box([])
    box.items.append(box)
    assert repr(box).endswith("Box(items=[...])")


def test_a_class_without_a_docstring_gets_its_name_and_one_with_keeps_it() -> None:
    @frozen
    class Bare:
        a: int

    @frozen
    class Told:
        """What it is."""

        a: int

    assert Bare.__doc__ == "Bare" and Told.__doc__ == "What it is."
