"""A table of documents gives back exactly the documents it was made of, however it was made."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from labtasker.fsqueue import table
from labtasker.fsqueue.table import Row, Table, build_table, pack

HEADER = ("test", 1)
FIELDS = ["task_id", "status", "args", "summary", "created_at", "extra"]
values = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.just(datetime(2026, 12, 6, 4, 0, tzinfo=timezone.utc)),
)
documents = st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, values))
parts_of_docs = st.lists(st.lists(documents, max_size=3 * table.GROUP + 5), min_size=1, max_size=4)


def key(i: int) -> bytes:
    return table.KEY.pack(i, i, i, i)


def made_of(parts: list[list[dict[str, Any]]]) -> tuple[Table, list[dict[str, Any]]]:
    """A table joined from one packed part per list, and the documents it should hold, in order."""
    packed, docs, i = [], [], 0
    for part in parts:
        names = [f"{i + j:06}.yaml" for j in range(len(part))]
        packed.append(pack(names, [key(i + j) for j in range(len(part))], part))
        docs += part
        i += len(part)
    return Table.from_parts(packed), docs


def column(docs: list[dict[str, Any]], field: str) -> tuple[Any, ...]:
    return tuple(doc.get(field, table.ABSENT) for doc in docs)


@settings(max_examples=60, deadline=None)
@given(parts_of_docs)
def test_a_table_joined_from_parts_holds_each_document_row_by_row_and_column_by_column(
    parts: list[list[dict[str, Any]]],
) -> None:
    joined, docs = made_of(parts)
    assert [joined.doc(i) for i in range(len(docs))] == docs
    assert [dict(Row(joined, i)) for i in reversed(range(len(docs)))] == docs[::-1]
    assert joined.keys == b"".join(key(i) for i in range(len(docs)))
    for field in joined.fields:
        assert joined.column(field) == column(docs, field)
    assert [joined.doc(i) for i in range(len(docs))] == docs  # the same once every column is decoded


@settings(max_examples=60, deadline=None)
@given(parts_of_docs, st.sets(st.sampled_from(FIELDS)))
def test_a_cache_file_of_a_table_gives_back_the_same_table(
    parts: list[list[dict[str, Any]]], decoded: set[str]
) -> None:
    """Whichever columns were decoded before it was written, and however it was built."""
    joined, docs = made_of(parts)
    for field in decoded:
        joined.column(field)
    rows = [(f"{i:06}.yaml", key(i), doc) for i, doc in enumerate(docs)]
    for made in (joined, build_table(rows, None)):
        again = Table.loads(pickle.loads(pickle.dumps(made.packed(HEADER))), HEADER)
        assert again is not None
        assert [again.doc(i) for i in range(len(docs))] == docs
        assert again.names == tuple(f"{i:06}.yaml" for i in range(len(docs)))


def test_a_cache_file_of_another_shape_is_refused() -> None:
    joined, _ = made_of([[{"task_id": str(i), "n": i} for i in range(40)], [{"task_id": "x"}] * 7])
    good = joined.packed(HEADER)
    assert Table.loads(good, HEADER) is not None
    assert Table.loads(good, ("other", 1)) is None
    data, ends = good["groups"]["n"]
    short = dict(good, groups=dict(good["groups"], n=(data, ends[:-1])))
    assert Table.loads(short, HEADER) is None  # a group missing: the rows would not line up
    cut = dict(good, groups=dict(good["groups"], n=(data[:-1], ends)))
    assert Table.loads(cut, HEADER) is None  # the last group cut short
    shifted = dict(good, segments=[(0, 0), (30, 1)])
    assert Table.loads(shifted, HEADER) is None  # segments that do not split the rows
    fewer = dict(good, names=good["names"].rsplit("\0", 1)[0])
    assert Table.loads(fewer, HEADER) is None  # names and keys that do not match


@settings(max_examples=40, deadline=None)
@given(parts_of_docs, parts_of_docs, st.lists(documents, max_size=5), st.randoms(use_true_random=False))
def test_fields_of_views_of_several_tables_and_plain_documents_read_as_get(
    first: list[list[dict[str, Any]]],
    second: list[list[dict[str, Any]]],
    plain: list[dict[str, Any]],
    rnd: Any,
) -> None:
    """What a listing sorts by: read by columns, it is what each document's ``get`` gives."""
    a, a_docs = made_of(first)
    b, b_docs = made_of(second)
    mixed: list[Any] = (
        [Row(a, i) for i in range(len(a_docs))] + [Row(b, i) for i in range(len(b_docs))] + plain
    )
    rnd.shuffle(mixed)
    fields = ("task_id", "args", "created_at", "missing")
    assert table.fields_of(mixed, fields) == [[doc.get(field) for doc in mixed] for field in fields]
