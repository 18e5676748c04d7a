"""Sorting by field paths: parse_sort, sort_docs, and the shared get_path."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labtasker.errors import FilterError
from labtasker.filters import language as flt
from labtasker.filters.field_paths import MISSING, get_path
from labtasker.filters.sorting import SortKey, parse_sort, sort_docs
from labtasker.fsqueue import documents as model

UTC = timezone.utc


def naive(*parts):
    """A datetime without a zone, as a task file may hold (it means UTC)."""
    return datetime(*parts)


# --- get_path ------------------------------------------------------------------

DOC = {
    "args": {"optimizer": {"lr": 0.01}, "layers": [64, 128], "none": None, 3: "int key"},
    "metadata": {"tags": ["v1", "v2"]},
    "task_name": None,
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("args.optimizer.lr", 0.01),
        (("args", "optimizer", "lr"), 0.01),
        ("args.layers.1", 128),
        (("args", "layers", 1), 128),
        (("args", "layers", -1), 128),
        ("args.layers.-2", 64),
        ("args.3", "int key"),
        ("metadata.tags.0", "v1"),
        ("task_name", None),
        ("args.none", None),
        ("args.none.deeper", MISSING),
        ("args.optimizer.lr.deeper", MISSING),
        ("args.layers.2", MISSING),
        ("args.layers.x", MISSING),
        ("args.missing", MISSING),
        ("summary.acc", MISSING),
        ("metadata.tags.0.0", MISSING),  # strings are not indexed
    ],
)
def test_get_path(path, value):
    assert get_path(DOC, path) == value or (value is MISSING and get_path(DOC, path) is MISSING)


def test_missing_is_falsy_and_only_itself():
    assert not MISSING
    assert MISSING != None  # noqa: E711
    assert repr(MISSING) == "MISSING"


# --- parse_sort ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "keys"),
    [
        (None, []),
        ([], []),
        ("created_at", ["created_at:asc"]),
        ("created_at:desc", ["created_at:desc"]),
        ("summary.acc:DESC", ["summary.acc:desc"]),
        (["summary.acc:desc", "created_at"], ["summary.acc:desc", "created_at:asc"]),
        ("priority:desc,created_at:asc", ["priority:desc", "created_at:asc"]),
        (("summary.acc", -1), ["summary.acc:desc"]),
        ([("summary.acc", -1), ("created_at", 1)], ["summary.acc:desc", "created_at:asc"]),
        ([["summary.acc", "desc"]], ["summary.acc:desc"]),
        (("args.a:desc", "created_at"), ["args.a:desc", "created_at:asc"]),
        ([SortKey(("args", "lr"), True)], ["args.lr:desc"]),
        ("args.optimizer.lr:asc", ["args.optimizer.lr:asc"]),
    ],
)
def test_parse_sort(spec, keys):
    assert [str(key) for key in parse_sort(spec)] == keys


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("summary.acc:dsc", "direction must be asc or desc"),
        ("sumary.acc", "did you mean summary?"),
        ("acc:desc", "unknown sort field 'acc'"),
        (":desc", "empty sort field"),
        ("args..lr", "empty or '__' key"),
        (("summary.acc", 2), "direction must be asc or desc"),
        (("summary.acc", True), "direction must be asc or desc"),
        ([5], "invalid sort"),
        (5, "invalid sort"),
    ],
)
def test_bad_sort_is_a_filter_error(spec, problem):
    with pytest.raises(FilterError, match="invalid sort") as caught:
        parse_sort(spec)
    assert problem in str(caught.value)


# --- sort_docs ------------------------------------------------------------------


def ids(docs):
    return " ".join(d["task_id"] for d in docs)


TASKS = [
    {
        "task_id": "a",
        "summary": {"acc": 0.5},
        "priority": 1,
        "created_at": "2026-11-20T10:00:00+05:00",
    },
    {
        "task_id": "b",
        "summary": {"acc": 0.9},
        "priority": 1,
        "created_at": naive(2026, 11, 20, 6, 0),
    },
    {"task_id": "c", "summary": {}, "priority": 2, "created_at": None},
    {
        "task_id": "d",
        "summary": {"acc": 0.7},
        "priority": 2,
        "created_at": datetime(2026, 11, 20, 4, 0, tzinfo=UTC),
    },
    {"task_id": "e", "summary": {"acc": None}, "priority": 1},
    {"task_id": "f", "summary": {"acc": 0.7}, "priority": 0, "created_at": "2026-11-20T05:30:00Z"},
]


@pytest.mark.parametrize(
    ("spec", "order"),
    [
        ("summary.acc", "a d f b c e"),  # missing (c) and null (e) last, in input order
        ("summary.acc:desc", "b d f a c e"),  # ties (d, f) keep input order, missing still last
        (["priority:desc", "summary.acc:desc"], "d c b a e f"),
        ([("priority", -1), ("summary.acc", 1)], "d c a b e f"),
        ("created_at", "d a f b c e"),  # a is 05:00Z, b naive 06:00 is UTC, f 05:30Z
        ("created_at:desc", "b f a d c e"),
        ([], "a b c d e f"),
    ],
)
def test_sort_docs(spec, order):
    assert ids(sort_docs(TASKS, parse_sort(spec))) == order
    assert ids(sort_docs(TASKS, spec)) == order  # a raw spec is parsed on the way


def test_sort_does_not_touch_its_input():
    docs = list(TASKS)
    sort_docs(docs, parse_sort("summary.acc:desc"))
    assert docs == TASKS


MIXED = [
    {"task_id": "str", "args": {"v": "abc"}},
    {"task_id": "int", "args": {"v": 3}},
    {"task_id": "list", "args": {"v": [1, "x"]}},
    {"task_id": "dict", "args": {"v": {"b": 1, "a": 2}}},
    {"task_id": "float", "args": {"v": 2.5}},
    {"task_id": "nan", "args": {"v": math.nan}},
    {"task_id": "bool", "args": {"v": True}},
    {"task_id": "date", "args": {"v": date(2026, 1, 1)}},
    {
        "task_id": "aware",
        "args": {"v": datetime(2025, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2)))},
    },
    {"task_id": "none", "args": {"v": None}},
    {"task_id": "gone", "args": {}},
]


def test_mixed_types_sort_deterministically_without_raising():
    asc = ids(sort_docs(MIXED, "args.v"))
    assert asc == "bool float int nan date aware str list dict none gone"
    desc = ids(sort_docs(MIXED, "args.v:desc"))
    assert desc == "dict list str aware date nan int float bool none gone"
    assert ids(sort_docs(list(reversed(MIXED)), "args.v")).split()[:-2] == asc.split()[:-2]


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4) | st.datetimes()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2),
    max_leaves=4,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.just(MISSING), values), max_size=12), st.booleans())
def test_any_values_sort_with_missing_last(vals, descending):
    docs = [{"task_id": str(i), "args": {} if v is MISSING else {"v": v}} for i, v in enumerate(vals)]
    out = sort_docs(docs, [("args.v", -1 if descending else 1)])
    assert sorted(d["task_id"] for d in out) == sorted(d["task_id"] for d in docs)
    present = [get_path(d, "args.v") not in (None, MISSING) for d in out]
    assert present == sorted(present, reverse=True)


def test_sorting_100000_tasks_is_quick():
    docs = [{"task_id": str(i), "summary": {"acc": (i * 7919) % 1000 / 1000}} for i in range(100_000)]
    out = sort_docs(docs, "summary.acc:desc")
    assert out[0]["summary"]["acc"] == 0.999
    assert out[-1]["summary"]["acc"] == 0.0


# --- field names come from the task model ---------------------------------------------


@pytest.mark.parametrize("name", model.TASK_FIELDS)
def test_every_task_field_can_be_filtered_and_sorted_on(name):
    doc = {"task_id": "t1", name: 1}
    assert flt.compile(f"{name} == 1")(doc)
    assert flt.compile({name: 1})(doc)
    assert parse_sort(f"{name}:desc") == (SortKey((name,), descending=True),)


@pytest.mark.parametrize(
    "module", ["filters.field_paths", "fsqueue.documents", "filters.language", "filters.sorting"]
)
def test_field_paths_import_first_without_a_cycle(module):
    """field_paths reads the documents' field list; each side imports cleanly on its own."""
    code = f"import labtasker.{module}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
