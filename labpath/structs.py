"""Frozen dataclasses that cost a tenth of `@dataclass(frozen=True)` to define.

A frozen dataclass compiles six generated methods when its module is imported:
about 1 ms each on a slow machine, and a command such as `labpath log` defines
twenty of them before it does any work. `@struct` asks `dataclasses` for the
fields only (no generated code) and gives the class shared methods that read
them, so `dataclasses.fields`, `replace`, `asdict` and `is_dataclass` work as
before, and equality, hashing, repr and immutability behave as a frozen
dataclass's do. Building an instance from keywords or defaults costs a microsecond more
than a dataclass's generated `__init__`; from one positional value per field (how
the journal index makes ten thousand entries) it costs less.
"""

from __future__ import annotations

import dataclasses

_MISSING = dataclasses.MISSING


def _init(self, *args, **kwargs) -> None:
    cls = type(self)
    names = cls.__struct_names__
    if not kwargs and len(args) == len(names):  # a whole row: the bulk case
        self.__dict__.update(zip(names, args))
        return
    spec = cls.__struct_fields__
    if len(args) > len(spec):
        raise TypeError(
            f"{cls.__name__}() takes {len(spec)} positional argument(s) but {len(args)} were given"
        )
    values = self.__dict__
    for i, (name, default, factory) in enumerate(spec):
        if i < len(args):
            if name in kwargs:
                raise TypeError(
                    f"{cls.__name__}() got multiple values for argument '{name}'"
                )
            values[name] = args[i]
        elif name in kwargs:
            values[name] = kwargs.pop(name)
        elif default is not _MISSING:
            values[name] = default
        elif factory is not _MISSING:
            values[name] = factory()
        else:
            raise TypeError(f"{cls.__name__}() missing required argument: '{name}'")
    if kwargs:
        extra = next(iter(kwargs))
        raise TypeError(
            f"{cls.__name__}() got an unexpected keyword argument '{extra}'"
        )


def _values(self) -> tuple:
    values = self.__dict__
    return tuple(values[name] for name, _, _ in type(self).__struct_fields__)


def _eq(self, other):
    if other.__class__ is self.__class__:
        return _values(self) == _values(other)
    return NotImplemented


def _hash(self) -> int:
    return hash(_values(self))


def _repr(self) -> str:
    values = self.__dict__
    shown = ", ".join(
        f"{name}={values[name]!r}" for name, _, _ in type(self).__struct_fields__
    )
    return f"{type(self).__qualname__}({shown})"


def _setattr(self, name, value):
    raise dataclasses.FrozenInstanceError(f"cannot assign to field '{name}'")


def _delattr(self, name):
    raise dataclasses.FrozenInstanceError(f"cannot delete field '{name}'")


def struct(cls):
    """`@dataclass(frozen=True)`, without compiling code per class."""
    if "__slots__" in cls.__dict__:
        raise TypeError(f"@struct does not support __slots__ ({cls.__name__})")
    if not cls.__doc__:  # dataclasses would build one from inspect.signature: slow
        cls.__doc__ = (
            f"{cls.__name__}({', '.join(cls.__dict__.get('__annotations__', ()))})"
        )
    cls = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    cls.__struct_fields__ = tuple(
        (f.name, f.default, f.default_factory) for f in dataclasses.fields(cls)
    )
    cls.__struct_names__ = tuple(name for name, _, _ in cls.__struct_fields__)
    own = [
        name
        for name in (
            "__init__",
            "__repr__",
            "__eq__",
            "__hash__",
            "__setattr__",
            "__delattr__",
        )
        if name in cls.__dict__
    ]
    if own:  # a frozen dataclass would refuse or silently keep these: say so
        raise TypeError(f"@struct makes {', '.join(own)} itself ({cls.__name__})")
    cls.__init__ = _init
    cls.__repr__ = _repr
    cls.__eq__ = _eq
    cls.__hash__ = _hash
    cls.__setattr__ = _setattr
    cls.__delattr__ = _delattr
    return cls
