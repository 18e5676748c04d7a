"""Parsed documents as a table: one column per field, pickled in groups of rows.

What the listing cache keeps of a directory (``cache.py`` decides when a
table may be trusted; this module only holds one). Each column is pickled in
groups of ``GROUP`` rows, so a filter decodes the columns it reads and
nothing else, and showing 100 of 10^5 tasks decodes only their groups. A
table is made of segments: a cold listing parses the files of a directory in
several processes, each of which packs its own part (``pack``), and the
parts are joined (``Table.from_parts``) without decoding a single value.
"""

from __future__ import annotations

import bisect
import copy
import gc
import struct
from array import array
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any, NamedTuple

Doc = dict[str, Any]
Key = bytes  # inode, size, mtime_ns and ctime_ns of a file, packed: cheap to make and compare
KEY = struct.Struct("<QQqq")
GROUP = 32  # rows a pickle of a column holds: fewer cost more per row, more cost more per document shown
Column = tuple[bytes, "array[int]"]  # a column's pickled groups one after the other, and where each ends


class _Absent:
    """A field a document does not have (None is a value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


class Part(NamedTuple):
    """The packed rows of one process's share of a directory, ready to join into a table."""

    names: list[str]
    keys: bytes
    fields: list[str]
    groups: dict[str, Column]  # per field, a pickled tuple of each ``GROUP`` rows' values


def pack(names: list[str], keys: list[Key], docs: list[Doc]) -> Part:
    """A part of these rows: the pickling a cache file needs, done where the rows were parsed."""
    fields: list[str] = []
    seen: set[str] = set()
    shapes: set[tuple[str, ...]] = set()
    for doc in docs:
        shape = tuple(doc)
        if shape not in shapes:  # most documents of a directory have the same fields
            shapes.add(shape)
            fields += [field for field in shape if field not in seen]
            seen.update(shape)
    whole = tuple(fields)
    values = [  # a document with every field, in order: its values are its row
        tuple(doc.values()) if tuple(doc) == whole else tuple([doc.get(field, ABSENT) for field in fields])
        for doc in docs
    ]
    columns = list(zip(*values, strict=True)) if fields else []
    groups = {field: _joined(_grouped(col, 0, len(col))) for field, col in zip(fields, columns, strict=True)}
    return Part(names, b"".join(keys), fields, groups)


class Table:
    """Documents as columns, one per field, decoded when first used; and row by row.

    ``_groups`` holds the columns not decoded yet: per field, the pickles of
    each ``GROUP`` rows one after the other in one bytes, and where each ends
    (an empty one: rows without the field). The rows of each segment (a part,
    or the whole table) start a new group. A few big bytes per field make
    the cache file quick to write and to load.
    """

    def __init__(
        self,
        names: Sequence[str],
        keys: bytes,
        fields: list[str],
        *,
        groups: dict[str, Column] | None = None,
        columns: dict[str, tuple[Any, ...]] | None = None,
        segments: list[tuple[int, int]] | None = None,
    ) -> None:
        # Tuples, not lists: a tuple of plain values drops out of the garbage collector's
        # sight, so a process holding 10^5 documents does not pay for them at every collection.
        self.names = tuple(names)
        self.keys = keys  # KEY records, one per name
        self.fields = fields
        self.index = {name: i for i, name in enumerate(names)}
        self._groups = groups or {}
        self._columns = columns or {}
        self._segments = segments or [(0, 0)]  # (first row, its group)
        self._starts = [start for start, _ in self._segments]
        ends = [*self._starts[1:], len(self.names)]
        self._sizes = [  # the rows of each group
            min(GROUP, end - at)
            for start, end in zip(self._starts, ends, strict=True)
            for at in range(start, end, GROUP)
        ]
        self._last: tuple[int, dict[str, tuple[Any, ...]]] = (-1, {})  # a group's values last decoded

    @classmethod
    def from_parts(cls, parts: list[Part]) -> Table:
        """The parts one after the other, nothing decoded."""
        names: list[str] = []
        fields: list[str] = []
        segments: list[tuple[int, int]] = []
        groups = 0
        for part in parts:
            segments.append((len(names), groups))
            groups += -(-len(part.names) // GROUP)
            names += part.names
            fields += [field for field in part.fields if field not in fields]
        joined: dict[str, Column] = {}
        for field in fields:
            datas: list[bytes] = []
            ends = array("Q")
            size = 0
            for part in parts:
                got = part.groups.get(field)
                if got is None:  # a part without the field: empty groups
                    ends.extend([size] * -(-len(part.names) // GROUP))
                    continue
                data, part_ends = got
                datas.append(data)
                ends.extend(size + end for end in part_ends)
                size += len(data)
            joined[field] = (b"".join(datas), ends)
        keys = b"".join(part.keys for part in parts)
        return cls(names, keys, fields, groups=joined, segments=segments)

    @property
    def pickled(self) -> bool:
        """No column decoded yet: writing the table out is copying bytes."""
        return not self._columns

    def key(self, i: int) -> Key:
        return self.keys[i * KEY.size : (i + 1) * KEY.size]

    def column(self, field: str) -> tuple[Any, ...] | None:
        """The values of ``field`` (ABSENT where a document lacks it), or None for an unknown field."""
        col = self._columns.get(field)
        packed = self._groups.get(field) if col is None else None
        if packed is not None:  # taken once: another thread may decode the same column meanwhile
            with gc_paused():
                values: list[Any] = []
                for group in range(len(self._sizes)):
                    values += self._group(packed, group)
                col = self._columns[field] = tuple(values)
                self._groups.pop(field, None)
        return col

    def _group(self, packed: Column, group: int) -> tuple[Any, ...]:
        data, ends = packed
        start = ends[group - 1] if group else 0
        if start == ends[group]:
            return (ABSENT,) * self._sizes[group]
        return loads(memoryview(data)[start : ends[group]])  # type: ignore[no-any-return]

    def decode_all(self) -> None:
        for field in self.fields:
            self.column(field)

    def doc(self, i: int) -> Doc:
        """Row ``i`` as a new dict (its values shared with the table: copy before changing them)."""
        start, first = self._segments[bisect.bisect_right(self._starts, i) - 1]
        group, at = divmod(i - start, GROUP)
        group += first
        if self._last[0] != group:
            self._last = (group, {})
        decoded = self._last[1]
        out = {}
        for field in self.fields:
            values = decoded.get(field)
            if values is None:
                packed = self._groups.get(field)
                if packed is None:  # decoded as a column
                    value = self._columns[field][i]
                    if value is not ABSENT:
                        out[field] = value
                    continue
                values = decoded[field] = self._group(packed, group)
            value = values[at]
            if value is not ABSENT:
                out[field] = value
        return out

    def packed(self, header: tuple[Any, ...]) -> dict[str, Any]:
        """What the cache file holds: every column pickled in groups."""
        groups = dict(self._groups)
        ends = [*self._starts[1:], len(self.names)]
        for field, col in self._columns.items():
            groups[field] = _joined(
                [
                    blob
                    for start, end in zip(self._starts, ends, strict=True)
                    for blob in _grouped(col, start, end)
                ]
            )
        return {
            "header": header,
            "names": "\0".join(self.names),  # one string (no file name holds a NUL): quick to write and load
            "keys": self.keys,
            "fields": self.fields,
            "groups": groups,
            "segments": self._segments,
        }

    @classmethod
    def unpacked(cls, data: dict[str, Any]) -> Table:
        """A table of packed data, its columns still to decode."""
        names = data["names"].split("\0") if data["names"] else []
        return cls(names, data["keys"], data["fields"], groups=data["groups"], segments=data["segments"])

    @classmethod
    def loads(cls, data: Any, header: tuple[Any, ...]) -> Table | None:
        """The table a cache file holds, or None if it is not one we wrote for ``header``.

        The file's own checksum vouches for its bytes (``cache``); this checks their shape.
        """
        if not isinstance(data, dict) or data.get("header") != header:
            return None
        names, keys, fields = data.get("names"), data.get("keys"), data.get("fields")
        groups, segments = data.get("groups"), data.get("segments")
        if not (
            isinstance(names, str)
            and isinstance(keys, bytes)
            and isinstance(fields, list)
            and isinstance(groups, dict)
            and set(groups) == set(fields)
        ):
            return None
        size = names.count("\0") + 1 if names else 0
        count = _group_count(segments, size)
        if count is None or len(keys) != size * KEY.size:
            return None
        for column in groups.values():
            if not (
                isinstance(column, tuple)
                and len(column) == 2
                and isinstance(column[0], bytes)
                and isinstance(column[1], array)
                and len(column[1]) == count
                and (not count or column[1][-1] == len(column[0]))
            ):
                return None
        return cls.unpacked(data)


def build_table(rows: list[tuple[str, Key, Any]], old: Table | None) -> Table:
    """A table of (name, key, source) rows, sorted by name; a source is a dict or a row index of ``old``."""
    fields = list(old.fields) if old is not None else []
    known = set(fields)
    for _, _, source in rows:
        if isinstance(source, dict):
            for field in source:
                if field not in known:
                    known.add(field)
                    fields.append(field)
    columns = {}
    for field in fields:
        col = old.column(field) if old is not None else None
        columns[field] = tuple(
            [
                source.get(field, ABSENT)
                if isinstance(source, dict)
                else (ABSENT if col is None else col[source])
                for _, _, source in rows
            ]
        )
    keys = b"".join(key for _, key, _ in rows)
    return Table([name for name, _, _ in rows], keys, fields, columns=columns)


class Row(Mapping[str, Any]):
    """One document of a table, read in place (read-only)."""

    __slots__ = ("_i", "_table")

    def __init__(self, table: Table, i: int) -> None:
        self._table = table
        self._i = i

    def get(self, key: str, default: Any = None) -> Any:
        col = self._table._columns.get(key)
        if col is None:
            col = self._table.column(key)  # first use of this field: decode it
            if col is None:
                return default
        value = col[self._i]
        return default if value is ABSENT else value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, ABSENT)
        if value is ABSENT:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, ABSENT) is not ABSENT

    def __iter__(self) -> Iterator[str]:
        return (field for field in self._table.fields if self.get(field, ABSENT) is not ABSENT)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return repr(self._table.doc(self._i))

    def to_dict(self) -> Doc:
        """The document as a new plain dict (its values are shared: copy before changing them)."""
        return self._table.doc(self._i)

    def __copy__(self) -> Doc:
        return self._table.doc(self._i)

    def __deepcopy__(self, memo: dict[int, Any]) -> Doc:
        return copy.deepcopy(self._table.doc(self._i), memo)


def fields_of(docs: Sequence[Mapping[str, Any]], fields: tuple[str, ...]) -> list[list[Any]]:
    """The values of ``fields`` of each document (None where absent), one list per field.

    The views of a table are read column by column (``itemgetter`` over the
    rows of each table), so putting 10^5 views in order does not call
    ``Row.get`` for each field of each one; other mappings by ``get``.
    """
    out: list[list[Any]] = [[None] * len(docs) for _ in fields]
    tables: dict[int, tuple[Table, list[int], list[int]]] = {}  # id -> (table, places, its rows)
    for place, doc in enumerate(docs):
        if type(doc) is Row:
            entry = tables.get(id(doc._table))
            if entry is None:
                entry = tables[id(doc._table)] = (doc._table, [], [])
            entry[1].append(place)
            entry[2].append(doc._i)
        else:
            for values, field in zip(out, fields, strict=True):
                values[place] = doc.get(field)
    for table, places, rows in tables.values():
        pick = itemgetter(*rows, rows[0])  # one more: a tuple even for one row (zip stops at places' end)
        for values, field in zip(out, fields, strict=True):
            col = table.column(field)
            if col is not None:
                for place, value in zip(places, pick(col), strict=False):
                    values[place] = None if value is ABSENT else value
    return out


def _grouped(col: Sequence[Any], start: int, end: int) -> list[bytes]:
    """Rows ``start`` to ``end`` of a column, pickled ``GROUP`` to a blob."""
    return [dumps(tuple(col[at : min(at + GROUP, end)])) for at in range(start, end, GROUP)]


def _joined(blobs: list[bytes]) -> Column:
    """Blobs one after the other, and where each ends."""
    ends = array("Q")
    size = 0
    for blob in blobs:
        size += len(blob)
        ends.append(size)
    return b"".join(blobs), ends


def _group_count(segments: Any, size: int) -> int | None:
    """How many groups segments of ``size`` rows hold, or None if they do not split the rows in order."""
    if not isinstance(segments, list) or not segments:
        return None
    ends = [*(s[0] if isinstance(s, tuple) else -1 for s in segments[1:]), size]
    count = 0
    for segment, end in zip(segments, ends, strict=True):
        if not (isinstance(segment, tuple) and len(segment) == 2 and segment[1] == count):
            return None
        start = segment[0]
        if not (isinstance(start, int) and 0 <= start <= end):
            return None
        count += -(-(end - start) // GROUP)
    return count if segments[0][0] == 0 else None


def dumps(value: Any) -> bytes:
    import _pickle as pickle  # the C module alone: pickle.py costs a listing 1 ms more to import

    return pickle.dumps(value, protocol=5)


def loads(data: bytes | memoryview) -> Any:
    """Unpickle bytes of our own cache file (the caller checked who wrote it)."""
    import _pickle as pickle

    return pickle.loads(data)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Building 10^5 objects would set off full collections that find nothing to free."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
