"""docs/filters.md is executed: its example tasks, filters, dict filters, sorts and errors.

Conventions of the page: a ```yaml filter-tasks block holds the tasks; in
```filter-examples, ```dict-filter-examples and ```sort-examples blocks each
line is ``left  =>  ids``; in ```filter-errors each line is ``expression  !!  first line``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pendulum
import pytest
import yaml

from labtasker.errors import FilterError
from labtasker.filters import dates as filter_dates
from labtasker.filters import language as flt
from labtasker.filters.field_paths import FIELDS
from labtasker.filters.sorting import parse_sort, sort_docs

PAGE = Path(__file__).resolve().parents[2] / "docs" / "filters.md"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(kind):
    """Non-empty lines of every fenced block whose info string ends with ``kind``."""
    text = PAGE.read_text(encoding="utf-8")
    bodies = [body for info, body in FENCE.findall(text) if info.split()[-1:] == [kind]]
    return [line for body in bodies for line in body.splitlines() if line.strip()]


def pairs(kind, sep="=>"):
    out = []
    for line in blocks(kind):
        left, _, right = line.rpartition(sep)
        out.append((left.strip(), right.strip()))
    return out


TASKS = yaml.safe_load("\n".join(blocks("filter-tasks")))


@pytest.fixture(autouse=True)
def _utc_local_time(monkeypatch):
    """The page's examples assume local time is UTC."""
    monkeypatch.setattr(filter_dates, "_local_zone", lambda: pendulum.timezone("UTC"))


def ids(docs):
    return " ".join(d["task_id"] for d in docs) or "(none)"


def test_page_has_every_kind_of_example():
    assert len(TASKS) == 5
    assert {type(t["created_at"]) for t in TASKS} == {datetime, str}  # aware, naive and text times
    assert len(pairs("filter-examples")) >= 50
    assert len(pairs("dict-filter-examples")) >= 8
    assert len(pairs("sort-examples")) >= 4
    assert len(pairs("filter-errors", "!!")) >= 8


@pytest.mark.parametrize(("expr", "expected"), pairs("filter-examples"))
def test_filter_example(expr, expected):
    predicate = flt.compile(expr, now=NOW)
    assert ids([t for t in TASKS if predicate(t)]) == expected


@pytest.mark.parametrize(("query", "expected"), pairs("dict-filter-examples"))
def test_dict_filter_example(query, expected):
    predicate = flt.compile(json.loads(query), now=NOW)
    assert ids([t for t in TASKS if predicate(t)]) == expected


@pytest.mark.parametrize(("spec", "expected"), pairs("sort-examples"))
def test_sort_example(spec, expected):
    assert ids(sort_docs(TASKS, parse_sort(spec))) == expected


@pytest.mark.parametrize(("expr", "first_line"), pairs("filter-errors", "!!"))
def test_error_example(expr, first_line):
    with pytest.raises(FilterError) as caught:
        flt.compile(expr, now=NOW)
    assert str(caught.value).split("\n")[0] == first_line


def test_page_names_exactly_the_task_fields():
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## Fields", 1)[1].split("\n\n", 2)[1]  # the paragraph after the heading
    assert set(re.findall(r"`([a-z_]+)`", section)) == set(FIELDS)
