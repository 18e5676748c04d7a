"""Sorting task documents by field paths (``-S summary.acc:desc``); pure.

Tasks missing a sort field (absent or null) go last whatever the direction,
values of different types never raise (numbers, then instants, then strings,
then anything else), and top-level timestamps compare as instants.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from labtasker.errors import FilterError
from labtasker.filters.field_paths import FIELDS, Path, as_instant, check_path, is_absent, resolve, split_path


@dataclass(frozen=True)
class SortKey:
    """One sort field and its direction."""

    path: Path
    descending: bool = False

    def __str__(self) -> str:
        return ".".join(map(str, self.path)) + (":desc" if self.descending else ":asc")


SortSpec = tuple[SortKey, ...]
SortItem = str | SortKey | tuple[str, Any]

_DIRECTIONS = {
    "asc": False,
    "ascending": False,
    "1": False,
    "desc": True,
    "descending": True,
    "-1": True,
}


def parse_sort(spec: str | SortItem | Iterable[SortItem] | None, fields: frozenset[str] = FIELDS) -> SortSpec:
    """``["summary.acc:desc", "created_at"]`` or ``[("summary.acc", -1)]`` -> a SortSpec.

    ``fields``: the top-level names a sort may use (``WORKER_FIELDS`` for workers).
    """
    if spec is None:
        return ()
    if isinstance(spec, (str, SortKey)) or _is_pair(spec):
        spec = [spec]  # type: ignore[list-item]
    if not isinstance(spec, Iterable):
        raise FilterError(f"invalid sort: {spec!r}; write 'field:asc', 'field:desc' or ('field', 1 or -1)")
    keys: list[SortKey] = []
    for item in spec:
        if isinstance(item, SortKey):
            keys.append(item)
        elif isinstance(item, str):
            keys.extend(_parse_text(part.strip(), fields) for part in item.split(",") if part.strip())
        elif _is_pair(tuple(item) if isinstance(item, list) else item):
            keys.append(_make_key(item[0], item[1], item, fields))
        else:
            raise FilterError(
                f"invalid sort: {item!r}; write 'field:asc', 'field:desc' or ('field', 1 or -1)"
            )
    return tuple(keys)


def _is_pair(item: Any) -> bool:
    """``("summary.acc", -1)`` or ``("summary.acc", "desc")``: one key, not two fields."""
    if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
        return False
    return isinstance(item[1], int) or str(item[1]).lower() in _DIRECTIONS


def _parse_text(text: str, fields: frozenset[str] = FIELDS) -> SortKey:
    field, sep, direction = text.rpartition(":")
    if not sep:
        field, direction = text, "asc"
    return _make_key(field.strip(), direction.strip(), text, fields)


def _make_key(field: str, direction: Any, shown: Any, fields: frozenset[str] = FIELDS) -> SortKey:
    word = str(direction).lower()
    if isinstance(direction, bool) or word not in _DIRECTIONS:
        wrong = f"the direction must be asc or desc (or 1 / -1), not {direction!r}"
        raise FilterError(f"invalid sort {shown!r}: {wrong}")
    path = split_path(field)
    problem = check_path(path, "sort field", fields)
    if problem:
        raise FilterError(f"invalid sort {shown!r}: {problem}")
    return SortKey(path, _DIRECTIONS[word])


def sort_docs(docs: Iterable[Mapping[str, Any]], spec: SortSpec | Any) -> list[Any]:
    """The documents in ``spec`` order; stable, missing values last in both directions."""
    keys = spec if _is_spec(spec) else parse_sort(spec)
    ordered = list(docs)
    for key in reversed(keys):  # stable sorts, least significant key first
        ranked, missing = [], []
        for doc in ordered:
            value = resolve(doc, key.path)
            if is_absent(value):
                missing.append(doc)
            else:
                ranked.append((rank(value), doc))
        ranked.sort(key=lambda pair: pair[0], reverse=key.descending)  # reverse keeps ties in order
        ordered = [doc for _, doc in ranked] + missing
    return ordered


def _is_spec(spec: Any) -> bool:
    return isinstance(spec, tuple) and all(isinstance(key, SortKey) for key in spec)


def rank(value: Any) -> tuple[Any, ...]:
    """A key that orders any two present values without raising."""
    if isinstance(value, (int, float)):  # bools count as 0 and 1, NaN after every number
        return (0, 1, 0) if isinstance(value, float) and math.isnan(value) else (0, 0, value)
    if isinstance(value, date):
        return (1, 0, as_instant(value))
    if isinstance(value, str):
        return (2, 0, value)
    return (3, 0, _stable_text(value))


def _stable_text(value: Any) -> str:
    """Containers and odd types order by a canonical text (dict keys sorted)."""
    if isinstance(value, Mapping):
        return (
            "{"
            + ", ".join(
                f"{k!r}: {_stable_text(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
            )
            + "}"
        )
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + ", ".join(_stable_text(v) for v in value) + "]"
    return repr(value)
