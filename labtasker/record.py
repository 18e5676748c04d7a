"""Frozen records: a few named fields, set once, compared, hashed and shown by value.

What ``@dataclass(frozen=True)`` gives, without its cost at import: it compiles
six methods for each class, about half a millisecond a class, and the records
of the storage core, the settings and the queue in use are defined by every
command. A subclass names its fields in ``_fields``, in order, and sets them in
its ``__init__`` through ``_init``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Record:
    """Base of a frozen record; ``_fields`` are compared, hashed and shown."""

    _fields: ClassVar[tuple[str, ...]] = ()

    def _init(self, **values: Any) -> None:
        self.__dict__.update(values)

    def _values(self) -> tuple[Any, ...]:
        values = self.__dict__
        return tuple(values[name] for name in self._fields)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        values = self.__dict__
        shown = ", ".join(f"{name}={values[name]!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({shown})"
