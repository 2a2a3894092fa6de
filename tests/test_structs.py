"""@struct behaves as @dataclass(frozen=True) does, where labpath relies on it."""

import copy
import dataclasses
import pickle
from dataclasses import field

import pytest

from labpath.structs import struct


def _shape():
    class Shape:
        name: str
        sides: int = 3
        tags: tuple = field(default_factory=tuple)

        def describe(self) -> str:
            return f"{self.name}/{self.sides}"

    return Shape


def _pair():
    return struct(_shape()), dataclasses.dataclass(frozen=True)(_shape())


@pytest.mark.parametrize(
    "args,kwargs", [(("tri",), {}), (("sq", 4), {}), ((), {"name": "x", "tags": (1,)})]
)
def test_construction_equality_hash_and_repr_match_a_frozen_dataclass(args, kwargs):
    made, real = _pair()
    a, b = made(*args, **kwargs), real(*args, **kwargs)
    assert repr(a) == repr(b)
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    assert a == made(*args, **kwargs) and a != b  # another class is never equal
    assert a.describe() == b.describe()
    assert hash(a) == hash(made(*args, **kwargs)) == hash(b)


def test_defaults_are_fresh_per_instance_and_fields_replace_work():
    made, _ = _pair()
    fresh = struct(
        type(
            "Bag",
            (),
            {
                "__annotations__": {"items": "list"},
                "items": field(default_factory=list),
            },
        )
    )
    assert fresh().items is not fresh().items
    one = made("a")
    assert [f.name for f in dataclasses.fields(made)] == ["name", "sides", "tags"]
    assert dataclasses.is_dataclass(one)
    changed = dataclasses.replace(one, sides=5)
    assert (changed.name, changed.sides, one.sides) == ("a", 5, 3)


def test_instances_are_immutable():
    made, _ = _pair()
    one = made("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.sides = 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        del one.name


@pytest.mark.parametrize(
    "args,kwargs,message",
    [
        ((), {}, "missing required argument: 'name'"),
        (("a", 1, (), 9), {}, "takes 3 positional argument(s) but 4 were given"),
        (("a",), {"name": "b"}, "multiple values for argument 'name'"),
        (("a",), {"colour": "red"}, "unexpected keyword argument 'colour'"),
    ],
)
def test_wrong_arguments_raise_type_error(args, kwargs, message):
    made, _ = _pair()
    with pytest.raises(
        TypeError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        made(*args, **kwargs)


def test_pickle_and_copy_round_trip():
    made = struct(
        type("Kept", (), {"__annotations__": {"a": "int"}, "__module__": __name__})
    )
    globals()["Kept"] = made
    one = made(7)
    assert pickle.loads(pickle.dumps(one)) == one
    assert copy.copy(one) == one and copy.deepcopy(one) == one


def test_a_class_defining_a_generated_method_is_refused():
    with pytest.raises(TypeError, match="__repr__"):
        struct(
            type(
                "Odd", (), {"__annotations__": {"a": "int"}, "__repr__": lambda s: "x"}
            )
        )


def test_a_class_without_a_docstring_gets_its_fields_as_one():
    made = struct(type("Plain", (), {"__annotations__": {"a": "int", "b": "str"}}))
    assert made.__doc__ == "Plain(a, b)"


def test_one_positional_value_per_field_builds_the_same_instance():
    made, real = _pair()
    assert made("a", 4, (1,)) == made(name="a", sides=4, tags=(1,))
    assert repr(made("a", 4, (1,))) == repr(real("a", 4, (1,)))
