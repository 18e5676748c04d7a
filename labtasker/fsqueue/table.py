"""Parsed documents as a table: one column per field, and each row pickled on its own.

What the listing cache keeps of a directory (``cache.py`` decides when a
table may be trusted; this module only holds one). A table is made of
segments: a cold listing parses the files of a directory in several
processes, each of which packs its own part (``pack``), and the parts are
joined (``Table.from_parts``) without decoding a single value, so the
process that lists only decodes the columns it reads.
"""

from __future__ import annotations

import bisect
import copy
import gc
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

Doc = dict[str, Any]
Key = bytes  # inode, size, mtime_ns and ctime_ns of a file, packed: cheap to make and compare
KEY = struct.Struct("<QQqq")
BATCH = 32  # rows pickled together: a pickle of one row costs three times as much per row


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
    blobs: dict[str, bytes]  # one pickled tuple per field, ABSENT where a row lacks it
    rows: list[bytes]  # the rows' values in ``fields`` order, ``BATCH`` rows to a pickled list


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
    blobs = {field: dumps(col) for field, col in zip(fields, columns, strict=True)}
    return Part(names, b"".join(keys), fields, blobs, _batches(values))


def _batches(values: list[tuple[Any, ...]]) -> list[bytes]:
    return [dumps(values[at : at + BATCH]) for at in range(0, len(values), BATCH)]


class Table:
    """Documents as columns, one list per field, decoded when first used; and row by row.

    Columns serve scans (a filter reads one field of every document); the rows,
    each pickled on its own, serve the few documents a listing shows, so
    showing 100 of 10^5 tasks does not decode every column. A column is held
    as blobs, one per segment (an int stands for that many rows without the
    field); rows are pickled ``BATCH`` to a blob, and each segment of rows
    has its own field order and its own blobs (``_segments``).
    """

    def __init__(
        self,
        names: Sequence[str],
        keys: bytes,
        fields: list[str],
        *,
        blobs: dict[str, list[Any]] | None = None,
        columns: dict[str, tuple[Any, ...]] | None = None,
        rows: Sequence[bytes] | None = None,
        segments: list[tuple[int, list[str], int]] | None = None,
    ) -> None:
        # Tuples, not lists: a tuple of plain values drops out of the garbage collector's
        # sight, so a process holding 10^5 documents does not pay for them at every collection.
        self.names = tuple(names)
        self.keys = keys  # KEY records, one per name
        self.fields = fields
        self.index = {name: i for i, name in enumerate(names)}
        self._blobs = blobs or {}
        self._columns = columns or {}
        self._rows = None if rows is None else tuple(rows)
        # (first row, the order of its rows' values, its first blob of rows)
        self._segments = segments or [(0, fields, 0)]
        self._starts = [start for start, _, _ in self._segments]
        self._batch: tuple[int, list[tuple[Any, ...]]] = (-1, [])  # the blob of rows last decoded

    @classmethod
    def from_parts(cls, parts: list[Part]) -> Table:
        """The parts one after the other, nothing decoded."""
        names: list[str] = []
        fields: list[str] = []
        segments: list[tuple[int, list[str], int]] = []
        rows: list[bytes] = []
        for part in parts:
            segments.append((len(names), part.fields, len(rows)))
            names += part.names
            rows += part.rows
            fields += [field for field in part.fields if field not in fields]
        blobs = {field: [part.blobs.get(field, len(part.names)) for part in parts] for field in fields}
        keys = b"".join(part.keys for part in parts)
        return cls(names, keys, fields, blobs=blobs, rows=rows, segments=segments)

    def key(self, i: int) -> Key:
        return self.keys[i * KEY.size : (i + 1) * KEY.size]

    def column(self, field: str) -> tuple[Any, ...] | None:
        """The values of ``field`` (ABSENT where a document lacks it), or None for an unknown field."""
        col = self._columns.get(field)
        if col is None and field in self._blobs:
            with gc_paused():
                parts = [
                    (ABSENT,) * blob if type(blob) is int else loads(blob) for blob in self._blobs[field]
                ]
                col = parts[0] if len(parts) == 1 else tuple(value for part in parts for value in part)
                self._columns[field] = col
                del self._blobs[field]
        return col

    def decode_all(self) -> None:
        for field in self.fields:
            self.column(field)

    def doc(self, i: int) -> Doc:
        """Row ``i`` as a new dict."""
        if self._rows is not None and len(self._columns) < len(self.fields):
            start, fields, first = self._segments[bisect.bisect_right(self._starts, i) - 1]
            at, within = divmod(i - start, BATCH)
            if self._batch[0] != first + at:
                self._batch = (first + at, loads(self._rows[first + at]))
            values = self._batch[1][within]
            return {field: value for field, value in zip(fields, values, strict=False) if value is not ABSENT}
        columns = [(field, self.column(field)) for field in self.fields]
        return {field: col[i] for field, col in columns if col[i] is not ABSENT}  # type: ignore[index]

    def packed(self, header: tuple[Any, ...]) -> dict[str, Any]:
        """What the cache file holds: every column and every row pickled, with checksums."""
        blobs = {field: list(parts) for field, parts in self._blobs.items()}
        for field, col in self._columns.items():
            blobs[field] = [dumps(col)]
        if self._rows is not None:  # rows never change: decoding a column leaves them as they were
            rows, segments = list(self._rows), self._segments
        else:  # a table built of documents: its rows made from the columns, in one field order
            columns = [self.column(field) for field in self.fields]
            rows = _batches(list(zip(*columns, strict=True)))
            segments = [(0, self.fields, 0)]
        sums = {field: _crc(parts) for field, parts in blobs.items()}
        sums[""] = zlib.crc32(b"".join(rows))
        return {
            "header": header,
            "names": list(self.names),
            "keys": self.keys,
            "fields": self.fields,
            "blobs": blobs,
            "rows": rows,
            "segments": segments,
            "sums": sums,
        }

    @classmethod
    def unpacked(cls, data: dict[str, Any]) -> Table:
        """A table of packed data, its columns still to decode."""
        return cls(
            data["names"],
            data["keys"],
            data["fields"],
            blobs=data["blobs"],
            rows=data["rows"],
            segments=data["segments"],
        )

    @classmethod
    def loads(cls, data: Any, header: tuple[Any, ...]) -> Table | None:
        """The table a cache file holds, or None if it is not one we wrote for ``header``."""
        if not isinstance(data, dict) or data.get("header") != header:
            return None
        names, keys, fields = data.get("names"), data.get("keys"), data.get("fields")
        blobs, rows, sums = data.get("blobs"), data.get("rows"), data.get("sums")
        segments = data.get("segments")
        if not (
            isinstance(names, list)
            and isinstance(keys, bytes)
            and isinstance(fields, list)
            and isinstance(blobs, dict)
            and isinstance(rows, list)
            and isinstance(sums, dict)
            and isinstance(segments, list)
            and segments
            and all(isinstance(parts, list) for parts in blobs.values())
            and _batches_fit(segments, len(names), len(rows))
        ):
            return None
        if len(keys) != len(names) * KEY.size or set(blobs) != set(fields):
            return None
        if any(sums.get(field) != _crc(parts) for field, parts in blobs.items()):
            return None
        if sums.get("") != zlib.crc32(b"".join(rows)):
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


def _batches_fit(segments: list[Any], size: int, blobs: int) -> bool:
    """Segments that split ``size`` rows in order, each with its own run of the ``blobs`` of rows."""
    ends = [s[0] for s in segments[1:]] + [size]
    first = 0
    for segment, end in zip(segments, ends, strict=True):
        if not (
            isinstance(segment, tuple)
            and len(segment) == 3
            and isinstance(segment[1], list)
            and segment[2] == first
            and 0 <= segment[0] <= end
        ):
            return False
        first += -(-(end - segment[0]) // BATCH)
    return bool(segments) and segments[0][0] == 0 and first == blobs


def _crc(parts: list[Any]) -> int:
    crc = 0
    for part in parts:
        crc = zlib.crc32(part if type(part) is bytes else str(part).encode(), crc)
    return crc


def dumps(value: Any) -> bytes:
    import pickle  # here, not at the top: most commands never touch a cache file

    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes | memoryview) -> Any:
    """Unpickle bytes of our own cache file (the caller checked who wrote it)."""
    import pickle

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
