"""The filter language as a table: each expression against fixed tasks, exactly which match."""

from __future__ import annotations

import ast
import contextlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pendulum
import pytest
import simpleeval
from hypothesis import given, settings
from hypothesis import strategies as st

from labtasker.errors import FilterError, UsageError
from labtasker.filters import dates as filter_dates
from labtasker.filters import language as flt
from labtasker.fsqueue import clock

UTC = timezone.utc


def naive(*parts):
    """A datetime without a zone, as a task file may hold (it means UTC)."""
    return datetime(*parts)


NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# Timestamps come in every form a task file may hold: aware, naive (UTC), ISO strings, None.
TASKS = [
    {
        "task_id": "t1", "task_name": "grid-1", "status": "pending",
        "args": {"lr": 0.001, "model": "resnet", "optimizer": {"lr": 0.01, "momentum": 0.9}},
        "metadata": {"tags": ["v1", "experimental"], "group": "A", "note": "baseline run"},
        "summary": {}, "priority": 10, "retries": 0, "max_retries": 5,
        "created_at": datetime(2026, 11, 20, 11, 0, tzinfo=UTC), "start_time": None,
        "worker_id": None, "last_error": None,
    },
    {
        "task_id": "t2", "task_name": "grid-2", "status": "running",
        "args": {"lr": 0.01, "model": "vit"}, "metadata": {"tags": ["v1"], "group": "B"},
        "summary": {"acc": 0.5, "base": 0.45}, "priority": 0, "retries": 0, "max_retries": 3,
        "created_at": "2026-11-20T10:30:00+00:00", "start_time": naive(2026, 11, 20, 11, 0),
        "worker_id": "w1", "last_error": None,
    },
    {
        "task_id": "t3", "task_name": "grid_search", "status": "success",
        "args": {"lr": 0.1, "model": "resnet"}, "metadata": {"tags": ["v1", "urgent"]},
        "summary": {"acc": 0.95, "base": 0.8, "loss": 0.1},
        "priority": 0, "retries": 1, "max_retries": 3,
        "created_at": "2026-11-20T05:00:00Z", "start_time": "2026-11-20T05:30:00Z",
        "worker_id": "w2", "last_error": None,
    },
    {
        "task_id": "t4", "task_name": "debug-run", "status": "failed",
        "args": {"lr": "0.5", "model": "resnet"}, "metadata": {"tags": "v1"},
        "summary": {"acc": 0.91, "base": 0.9}, "priority": 0, "retries": 3, "max_retries": 3,
        "created_at": naive(2026, 11, 18, 12, 0), "start_time": naive(2026, 11, 18, 12, 5),
        "worker_id": "w1", "last_error": "RuntimeError: CUDA out of memory",
    },
    {
        "task_id": "t5", "task_name": None, "status": "cancelled", "args": {}, "metadata": {},
        "priority": 0, "retries": 0, "max_retries": 3,
        "created_at": "2026-11-10T14:00:00+02:00", "worker_id": None,
    },
    {
        "task_id": "t6", "task_name": "grid-3", "status": "pending",
        "args": {"lr": None, "model": "vit", "layers": [64, 128]},
        "metadata": {"tags": ["v2"], "group": "A"}, "summary": {"acc": "n/a"},
        "priority": -5, "retries": 0, "max_retries": 3,
        "created_at": datetime(2026, 11, 20, 12, 55, tzinfo=timezone(timedelta(hours=1))),
        "start_time": None, "worker_id": None, "last_error": None,
    },
]  # fmt: skip
ALL = "t1 t2 t3 t4 t5 t6"


def matching(expr, tasks=TASKS, now=NOW):
    predicate = flt.compile(expr, now=now)
    return " ".join(t["task_id"] for t in tasks if predicate(t))


USAGE_DOCUMENT = [
    ("args.lr > 0.01", "t3"),
    ('task_name == "grid_search"', "t3"),
    ('"v1" in list(metadata.tags)', "t1 t2 t3"),
    ('created_at >= date("3 hours ago")', "t1 t2 t6"),
    ('args.lr > 0.01 and "v1" in list(metadata.tags)', "t3"),
    ('regex(task_name, "^grid-.*")', "t1 t2 t6"),
    ("summary.acc > 0.9", "t3 t4"),
    ('status == "failed" or status == "pending"', "t1 t4 t6"),
    ('status == "failed" and args.model == "resnet"', "t4"),
    ('args.model == "resnet"', "t1 t3 t4"),
    ("args.lr > 0.05", "t3"),
    ('"urgent" in list(metadata.tags)', "t3"),
    ('created_at < date("10 minutes ago")', "t1 t2 t3 t4 t5"),
    ('regex(task_name, "^debug-.*")', "t4"),
    ('metadata.group == "A"', "t1 t6"),
    ('created_at >= date("7 days ago")', "t1 t2 t3 t4 t6"),
    ("priority == 10", "t1"),
    ("priority > 0", "t1"),
    ("priority >= 0", "t1 t2 t3 t4 t5"),
    ("priority < 0", "t6"),
    ("priority <= 0", "t2 t3 t4 t5 t6"),
]

ORIGINAL_ALSO = [
    ('status in ["failed", "cancelled"]', "t4 t5"),
    ("priority in [1, 10]", "t1"),
    ("priority in (1, 10)", "t1"),
    ('"optimizer" in dict(args)', "t1"),
    ('"lr" in dict(args)', "t1 t2 t3 t4 t6"),
    ("exists(args.lr)", "t1 t2 t3 t4 t6"),  # t6's lr is null: the key is there
    ("exists(args.lr, True)", "t1 t2 t3 t4 t6"),
    ("exists(args.lr, False)", "t5"),
    ('exists("args.lr")', "t1 t2 t3 t4 t6"),
    ('exists("args.optimizer.lr", False)', "t2 t3 t4 t5 t6"),
    ("exists(summary)", "t1 t2 t3 t4 t6"),
    ("exists(args.optimizer.momentum)", "t1"),
    ("args['optimizer']['lr'] == 0.01", "t1"),
    ('args["optimizer"].lr == 0.01', "t1"),
    ("args.optimizer.lr == 0.01", "t1"),
    ("args.optimizer.momentum >= 0.9", "t1"),
    ('metadata.tags[0] == "v1"', "t1 t2 t3"),
    ('metadata.tags[-1] == "urgent"', "t3"),
    ("args.layers[1] == 128", "t6"),
    ('args["layers"][0] < 100', "t6"),
    ("summary.acc - summary.base > 0.1", "t3"),
    ("summary.acc > summary.base", "t2 t3 t4"),
    ("summary.acc * 2 > 1.8", "t3 t4"),
    ("(summary.acc + summary.base) / 2 >= 0.875", "t3 t4"),
    ("priority + 1 > 5", "t1"),
    ("-priority > 0", "t6"),
    ("retries >= max_retries", "t4"),
    ('regex(task_name, "(?i)^GRID")', "t1 t2 t3 t6"),
    ('regex(last_error, "out of memory")', "t4"),
    ('regex(task_name, "grid")', "t1 t2 t3 t6"),
    ('created_at < date("2026-11-15")', "t5"),
    ('created_at > date("2026-11-20T11:00:00+00:00")', "t6"),
    ('created_at >= date("2026-11-20T11:00:00Z")', "t1 t6"),
    ('created_at == date("2026-11-20T12:00:00+01:00")', "t1"),
    ('created_at == date("2026-11-18T12:00:00Z")', "t4"),
    ('start_time > date("2026-11-20T10:00:00Z")', "t2"),
    ("start_time > created_at", "t2 t3 t4"),
    ('created_at >= date("1 day ago")', "t1 t2 t3 t6"),
    ('created_at < date("a week ago")', "t5"),
    ('task_id == "t3"', "t3"),
]

BEYOND_ORIGINAL = [
    ('status != "pending"', "t2 t3 t4 t5"),
    ("args.lr != 0.1", "t1 t2 t4"),
    ("not (args.lr == 0.1)", "t1 t2 t4 t5 t6"),
    ("not (args.lr > 0.01)", "t1 t2 t4 t5 t6"),
    ("not args.lr > 0.01", "t1 t2 t4 t5 t6"),
    ('"v1" not in list(metadata.tags)', "t6"),
    ('not ("v1" in list(metadata.tags))', "t4 t5 t6"),
    ('status not in ["pending", "running"]', "t3 t4 t5"),
    ("not exists(args.lr)", "t5"),
    ("worker_id == None", "t1 t5 t6"),
    ("worker_id is None", "t1 t5 t6"),
    ("None == worker_id", "t1 t5 t6"),
    ("worker_id != None", "t2 t3 t4"),
    ("worker_id is not None", "t2 t3 t4"),
    ("args.lr == null", "t5 t6"),
    ("start_time == None", "t1 t5 t6"),
    ("not not exists(args.lr)", "t1 t2 t3 t4 t6"),
]

TYPES_AND_FUNCTIONS = [
    ("args.lr > 0.1", ""),  # t4's "0.5" is a string: no error, no match
    ('args.lr == "0.5"', "t4"),
    ('args.lr > "0"', "t4"),
    ("summary.acc >= 0", "t2 t3 t4"),  # t6's "n/a" never compares with a number
    ('task_name < "h"', "t1 t2 t3 t4 t6"),
    ('"grid" in task_name', "t1 t2 t3 t6"),
    ("64 in args.layers", "t6"),
    ("args.layers == [64, 128]", "t6"),
    ('args.optimizer == {"lr": 0.01, "momentum": 0.9}', "t1"),
    ("summary == {}", "t1"),
    ("len(metadata.tags) == 2", "t1 t3 t4"),  # t4's tags is the string "v1"
    ('lower(task_name) == "debug-run"', "t4"),
    ('upper(args.model) == "VIT"', "t2 t6"),
    ("float(args.lr) > 0.1", "t4"),
    ('str(priority) == "10"', "t1"),
    ("int(summary.acc * 10) == 9", "t3 t4"),
    ("abs(priority) == 5", "t6"),
    ("min(summary.acc, summary.base) > 0.85", "t4"),
    ("max(priority, 1) == 1", "t2 t3 t4 t5 t6"),
    ("max(args.layers) == 128", "t6"),
    ("0.001 <= args.lr < 0.1", "t1 t2"),
    ('status == "pending" and (priority > 0 or args.model == "vit")', "t1 t6"),
    ('args.model in ["vit", "resnet"] and summary.acc >= 0.5', "t2 t3 t4"),
    ("summary.acc / 0 > 1", ""),  # division by zero on a task: missing, not an error
    ('date(start_time) >= date("2026-11-20")', "t2 t3"),
    ("(args.lr or 0) < 0.005", "t1 t5 t6"),  # and/or inside a comparison give values
]


@pytest.mark.parametrize(
    ("expr", "expected"), USAGE_DOCUMENT + ORIGINAL_ALSO + BEYOND_ORIGINAL + TYPES_AND_FUNCTIONS
)
def test_expression_matches_exactly(expr, expected):
    assert matching(expr) == expected


DICT_FILTERS = [
    ({"args.lr": 0.1}, "t3"),
    ({"args.model": "resnet", "status": "failed"}, "t4"),
    ({"metadata.tags": "v1"}, "t1 t2 t3 t4"),  # a list field matches any of its items
    ({"args.lr": {"$gt": 0.01}}, "t3"),
    ({"args.lr": {"$gte": 0.01, "$lt": 0.1}}, "t2"),
    ({"args.lr": {"$lte": 0.01}}, "t1 t2"),
    ({"status": {"$in": ["failed", "cancelled"]}}, "t4 t5"),
    ({"status": {"$nin": ["failed", "cancelled"]}}, "t1 t2 t3 t6"),
    ({"args.lr": {"$ne": 0.1}}, "t1 t2 t4 t5 t6"),  # MongoDB: $ne also matches the missing
    ({"args.lr": {"$eq": 0.1}}, "t3"),
    ({"args.lr": {"$exists": True}}, "t1 t2 t3 t4 t6"),  # MongoDB: a null value exists
    ({"args.lr": {"$exists": False}}, "t5"),
    ({"task_name": {"$regex": "^grid-"}}, "t1 t2 t6"),
    ({"task_name": {"$regex": "^GRID", "$options": "i"}}, "t1 t2 t3 t6"),
    ({"task_name": {"$regex": re.compile("run$")}}, "t4"),
    ({"$or": [{"status": "failed"}, {"priority": {"$gt": 5}}]}, "t1 t4"),
    ({"$and": [{"args.model": "vit"}, {"status": "pending"}]}, "t6"),
    ({"worker_id": None}, "t1 t5 t6"),
    ({"created_at": {"$gte": datetime(2026, 11, 20, 9, tzinfo=UTC)}}, "t1 t2 t6"),
    ({"created_at": {"$lt": naive(2026, 11, 15)}}, "t5"),
    ({"_id": "t2"}, "t2"),
    ({"task_id": {"$in": ["t2", "t5"]}}, "t2 t5"),
    ({"metadata.tags": {"$in": ["urgent", "v2"]}}, "t3 t6"),
    ({"args.layers.1": 128}, "t6"),
    ({"args.optimizer": {"lr": 0.01, "momentum": 0.9}}, "t1"),
    ({}, ALL),
]


@pytest.mark.parametrize(("query", "expected"), DICT_FILTERS, ids=[str(q) for q, _ in DICT_FILTERS])
def test_dict_filter_matches_exactly(query, expected):
    assert matching(query) == expected


# The same queries written as text, as a command line's -f gives them: JSON or Python literals.
DICT_TEXT = [
    ('{"metadata.group": "A"}', "t1 t6"),
    ('{"_id": "t2"}', "t2"),
    ('{"args.lr": {"$gt": 0.01}}', "t3"),
    ('{"$or": [{"status": "failed"}, {"priority": {"$gt": 5}}]}', "t1 t4"),
    ('{"worker_id": null}', "t1 t5 t6"),
    ("{'worker_id': None, 'status': {'$in': ['pending']}}", "t1 t6"),
    ('  {"args.model": "vit"}\n', "t2 t6"),
    ("{}", ALL),
]


@pytest.mark.parametrize(("text", "expected"), DICT_TEXT)
def test_dict_written_as_text_is_the_same_query_as_the_dict(text, expected):
    assert matching(text) == expected


# Expressions that test nothing about a task would match all of them (or none):
# refused, so that `task update -f ...` can never reach every task by mistake.
NOT_CONDITIONS = [
    ("true", "a constant is not a condition", 0),
    ("True", "a constant is not a condition", 0),
    ("false", "a constant is not a condition", 0),
    ("1", "a constant is not a condition", 0),
    ('"pending"', "a constant is not a condition", 0),
    ("1 + 1 == 2", "a constant is not a condition", 0),
    ("args.lr", "args.lr is a field, not a condition", 0),
    ("status", "status is a field, not a condition", 0),
    ("args.lr or priority", "args.lr is a field, not a condition", 0),
    ('status == "failed" and args.lr', "args.lr is a field, not a condition", 23),
    ("not args.lr", "args.lr is a field, not a condition", 4),
    ("summary.acc * 2", "a value, not a condition", 0),
    ("len(metadata.tags)", "a value, not a condition", 0),
    ("[1, 2]", "a constant is not a condition", 0),
    ('status == "x" or {"a": 1}', "a dict is not a condition", 17),
    ('{"args.lr": args.x}', "a dict query takes literal values only", 0),
]


@pytest.mark.parametrize(("expr", "problem", "column"), NOT_CONDITIONS)
def test_expression_that_is_not_a_condition_is_refused(expr, problem, column):
    with pytest.raises(FilterError) as caught:
        flt.compile(expr, now=NOW)
    assert problem in str(caught.value).split("\n")[0]
    assert caught.value.position == column
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("empty", [None, "", "   ", "\n"])
def test_no_filter_accepts_everything(empty):
    assert matching(empty) == ALL


def test_expression_may_span_lines():
    assert matching('args.lr > 0.001\n    and status == "running"') == "t2"


# --- errors ---------------------------------------------------------------------

ERRORS = [
    ("arg.lr > 0.1", "unknown name 'arg' (did you mean args?)", 0),
    ("summry.acc > 0.9", "did you mean summary?", 0),
    ("lr > 0.1", "did you mean args.lr?", 0),
    ("Status == 'failed'", "did you mean status?", 0),
    ('status = "failed"', "use '==' to compare, not '='", 7),
    ('args.lr > 0.1 && status == "x"', "use 'and'", 14),
    ("args.a || args.b", "use 'or'", 7),
    ("!exists(args.lr)", "use 'not'", 0),
    ("args.a & args.b", "use 'and'", 0),
    ("~args.a", "use 'not'", 0),
    ("args.lr >", "invalid syntax", 9),
    ("(args.lr > 1", "never closed", 0),
    ("args.lr >> 1", "not supported", 0),
    ("regex(task_name, args.pattern)", "pattern as a string literal", 17),
    ('regex(task_name, "[")', "bad regular expression", 17),
    ('regex(task_name, pattern="x")', "positional arguments only", 17),
    ('date("not a date")', "date() cannot read 'not a date'", 5),
    ("date(3)", "date() takes a string", 5),
    ("date()", "date() takes 1 argument, not 0", 0),
    ("min()", "min() takes 1 to 32 arguments", 0),
    ("exists(1)", "exists() takes a field path", 7),
    ("exists(list(args))", "exists() takes a field path", 7),
    ("args[1:2]", "slices are not supported", 5),
    ("args[args.key]", "index must be a string or integer literal", 5),
    ("args[1.5]", "index must be a string or integer literal", 5),
    ("args.x if args.y else 1", "'x if c else y' is not supported", 0),
    ("status is 'x'", "'is' only works with None", 0),
    ("foo(1)", "unknown function 'foo'", 0),
    ("regx(task_name, 'a')", "unknown function 'regx' (did you mean regex?)", 0),
    ("args(1)", "'args' is a field, not a function", 0),
    ("regex == 1", "regex is a function", 0),
    ("b'x' == args.x", "bytes literals are not supported", 0),
    ("args.x == 1j", "complex literals are not supported", 10),
    ('"%d" % priority', "string formatting with '%' is not allowed", 0),
    ("1 / 0 > args.x", "division by zero", 0),
    ('"a" + 1 == args.x', "can only concatenate str", 0),
    ("args.__class__", "attribute access is not allowed", 4),
    ("args['__class__']", "'__' keys are not allowed", 5),
    ("{**args} == 1", "'**' is not allowed", 0),
    ("[*args] == 1", "'*' unpacking is not allowed", 1),
]


@pytest.mark.parametrize(("expr", "problem", "column"), ERRORS)
def test_bad_expression_is_three_lines_naming_problem_expression_and_position(expr, problem, column):
    with pytest.raises(FilterError) as caught:
        flt.compile(expr, now=NOW)
    lines = str(caught.value).split("\n")
    assert len(lines) == 3
    assert lines[0].startswith("invalid filter: ")
    assert problem in lines[0]
    assert lines[1] == "  " + expr
    assert re.fullmatch(r" *\^+", lines[2])
    assert lines[2].index("^") - 2 == column
    assert caught.value.position == column
    assert caught.value.expression == expr


def test_filter_error_is_a_usage_error_with_exit_code_2():
    with pytest.raises(FilterError) as caught:
        flt.compile("args.lr >")
    assert isinstance(caught.value, UsageError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.exit_code == 2


def test_caret_of_a_long_expression_stays_under_the_problem():
    expr = " or ".join(f'args.k{i} == "v{i}"' for i in range(20)) + " or unknwn == 1"
    with pytest.raises(FilterError) as caught:
        flt.compile(expr)
    _, shown, caret = str(caught.value).split("\n")
    assert len(shown) < 100
    assert shown[caret.index("^") :].startswith("unknwn")


def test_caret_counts_characters_not_bytes():
    with pytest.raises(FilterError) as caught:
        flt.compile('args.name == "été" and bogus > 1')
    _, shown, caret = str(caught.value).split("\n")
    assert shown[caret.index("^") :].startswith("bogus")


DICT_ERRORS = [
    ({"args.lr": {"$gtt": 1}}, "unknown operator '$gtt' (did you mean $gt?)"),
    ({"arg.lr": 1}, "unknown field 'arg' (did you mean args?)"),
    ({"$nor": [{"status": "x"}]}, "unknown operator '$nor'"),
    ({"status": {"$in": "failed"}}, "$in takes a list"),
    ({"task_name": {"$regex": "("}}, "bad regular expression"),
    ({"task_name": {"$regex": "a", "$options": "q"}}, "$options from 'imsx'"),
    ({"task_name": {"$options": "i"}}, "$options only goes with $regex"),
    ({"$and": {}}, "$and takes a non-empty list"),
    ({"$or": [1]}, "expected a dict"),
]


@pytest.mark.parametrize(("query", "problem"), DICT_ERRORS, ids=[str(q) for q, _ in DICT_ERRORS])
def test_bad_dict_filter_names_the_problem(query, problem):
    with pytest.raises(FilterError) as caught:
        flt.compile(query)
    first, *rest = str(caught.value).split("\n")
    assert problem in first
    assert len(rest) == 1


@pytest.mark.parametrize("bad", [5, 1.5, ["args.lr > 1"], b"args.lr > 1"])
def test_filter_of_another_type_is_refused(bad):
    with pytest.raises(FilterError, match="expected a string or a dict"):
        flt.compile(bad)


# --- dates and the clock --------------------------------------------------------------


@pytest.fixture
def paris(monkeypatch):
    """Read dates without a zone as Paris time (UTC+1 in November)."""
    monkeypatch.setattr(filter_dates, "_local_zone", lambda: pendulum.timezone("Europe/Paris"))


DATES = [
    ("3 hours ago", datetime(2026, 11, 20, 9, 0, tzinfo=UTC)),
    ("10 minutes ago", datetime(2026, 11, 20, 11, 50, tzinfo=UTC)),
    ("7 days ago", datetime(2026, 11, 13, 12, 0, tzinfo=UTC)),
    ("1 week ago", datetime(2026, 11, 13, 12, 0, tzinfo=UTC)),
    ("an hour ago", datetime(2026, 11, 20, 11, 0, tzinfo=UTC)),
    ("1h30m ago", datetime(2026, 11, 20, 10, 30, tzinfo=UTC)),
    ("2 days, 3 hours ago", datetime(2026, 11, 18, 9, 0, tzinfo=UTC)),
    ("1.5 hours ago", datetime(2026, 11, 20, 10, 30, tzinfo=UTC)),
    ("30 seconds ago", datetime(2026, 11, 20, 11, 59, 30, tzinfo=UTC)),
    ("9 months ago", datetime(2026, 2, 20, 12, 0, tzinfo=UTC)),
    ("1 year ago", datetime(2025, 11, 20, 12, 0, tzinfo=UTC)),
    ("in 2 days", datetime(2026, 11, 22, 12, 0, tzinfo=UTC)),
    ("now", NOW),
    ("today", datetime(2026, 11, 19, 23, 0, tzinfo=UTC)),  # midnight in Paris
    ("yesterday", datetime(2026, 11, 18, 23, 0, tzinfo=UTC)),
    ("2026-11-20", datetime(2026, 11, 19, 23, 0, tzinfo=UTC)),
    ("2026-11-20 11:25", datetime(2026, 11, 20, 10, 25, tzinfo=UTC)),
    ("Nov 20 11:25", datetime(2026, 11, 20, 10, 25, tzinfo=UTC)),  # the year is now's
    ("20 November 2025", datetime(2025, 11, 19, 23, 0, tzinfo=UTC)),
    ("2026-11-20T11:25:00+05:00", datetime(2026, 11, 20, 6, 25, tzinfo=UTC)),
    ("2026-11-20T11:25:00Z", datetime(2026, 11, 20, 11, 25, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "moment"), DATES)
def test_date_reads_relative_and_absolute_times(paris, text, moment):
    assert flt.parse_date(text, NOW) == moment
    docs = [{"task_id": "x", "created_at": moment}]
    assert matching(f'created_at == date("{text}")', docs) == "x"


@pytest.mark.parametrize("text", ["", "soon", "3 parsecs ago", "ago", "in", "2026-13-45", "P3D"])
def test_unreadable_date_is_refused_at_compile_time(text):
    with pytest.raises(FilterError, match="date"):
        flt.compile(f'created_at > date("{text}")', now=NOW)


def test_zone_names_are_utc_or_an_error_never_a_guess(paris):
    assert flt.parse_date("Nov 20 11:25 UTC", NOW) == datetime(2026, 11, 20, 11, 25, tzinfo=UTC)
    with pytest.raises(FilterError, match="unknown time zone 'PST'"):
        flt.compile('created_at > date("Nov 20 11:25 PST")', now=NOW)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=25) | st.from_regex(r"[0-9a-zA-Z :+\-.,T]{0,20}", fullmatch=True))
def test_parse_date_fails_only_with_value_error(text):
    with contextlib.suppress(ValueError):
        assert flt.parse_date(text, NOW).tzinfo is UTC


def test_date_of_a_field_reads_it_per_task():
    docs = [
        {"task_id": "a", "args": {"when": "2026-11-19"}},
        {"task_id": "b", "args": {"when": "junk"}},
    ]
    assert matching('date(args.when) < date("2026-11-20T00:00:00Z")', docs) == "a"


def test_given_now_means_the_clock_is_never_read(monkeypatch):
    def no_clock():
        raise AssertionError("the clock was read")

    monkeypatch.setattr(clock, "now", no_clock)
    assert matching('created_at >= date("3 hours ago")') == "t1 t2 t6"


def test_without_now_the_clock_is_read_once_and_only_for_relative_dates(monkeypatch):
    calls = []
    monkeypatch.setattr(clock, "now", lambda: calls.append(1) or NOW)
    flt.compile("args.lr > 0.01")
    assert calls == []
    predicate = flt.compile('created_at >= date("3 hours ago") or created_at < date("1 day ago")')
    assert calls == [1]
    assert " ".join(t["task_id"] for t in TASKS if predicate(t)) == "t1 t2 t4 t5 t6"
    assert calls == [1]


def test_naive_now_is_utc():
    assert matching('created_at >= date("3 hours ago")', now=NOW.replace(tzinfo=None)) == "t1 t2 t6"


# --- compile once, evaluate cheaply, from any thread ------------------------------


def test_one_compiled_filter_over_100000_tasks_parses_once(monkeypatch):
    counts = {"ast": 0, "re": 0, "pendulum": 0}

    def counting(name, real):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)

        return wrapper

    def walked(*args, **kwargs):
        raise AssertionError("simpleeval walked a tree")

    monkeypatch.setattr(ast, "parse", counting("ast", ast.parse))
    monkeypatch.setattr(re, "compile", counting("re", re.compile))
    monkeypatch.setattr(pendulum, "parse", counting("pendulum", pendulum.parse))
    monkeypatch.setattr(simpleeval.SimpleEval, "eval", walked)
    monkeypatch.setattr(simpleeval.SimpleEval, "_eval", walked)
    expr = 'args.lr > 0.01 and regex(task_name, "^grid") and created_at >= date("2026-11-01T00:00:00Z")'
    predicate = flt.compile(expr, now=NOW)
    after_compile = dict(counts)
    assert after_compile["ast"] == 1
    assert after_compile["re"] >= 1
    assert after_compile["pendulum"] >= 1
    tasks = [TASKS[i % len(TASKS)] for i in range(100_000)]
    assert sum(map(predicate, tasks)) == 16_667  # t3 only: indexes 2, 8, 14, ...
    assert counts == after_compile


def test_time_filter_reports_matches_and_seconds():
    matches, seconds = flt.time_filter("args.lr > 0.01", TASKS * 10, now=NOW)
    assert matches == 10
    assert 0 <= seconds < 5


def test_one_predicate_serves_many_threads():
    predicate = flt.compile('summary.acc > 0.9 or "v2" in list(metadata.tags)', now=NOW)
    tasks = TASKS * 2000
    expected = [predicate(t) for t in tasks]
    start = threading.Barrier(8)

    def run(_):
        start.wait()
        return [predicate(t) for t in tasks]

    with ThreadPoolExecutor(8) as pool:
        assert all(result == expected for result in pool.map(run, range(8)))


# --- never raises on any task ------------------------------------------------------

EXPRESSIONS_FOR_ANY_TASK = [
    "args.x > 0.1",
    "args.x == args.y",
    "args.x != 1",
    "args.x - args.y > 1",
    "args.x * args.y > 1",
    "args.x ** args.y > 1",
    "args.x / args.y >= 0",
    "args.x % 3 == 1",
    '"a" in args.x',
    "args.x in args.y",
    "args.x not in args.y",
    "len(args.x) > 1",
    "min(args.x, args.y) < 1",
    "max(args.x) > 0",
    'regex(args.x, "a")',
    "date(args.x) > created_at",
    "created_at < args.x",
    "int(args.x) > 1 and float(args.y) < 2",
    "lower(args.x) == upper(args.y)",
    "str(args.x) == str(args.y)",
    "abs(args.x) > 1",
    "-args.x < 0",
    "args.x[0] == args.y['k']",
    "list(args.x) == dict(args.y)",
    "not args.x == 1",
]

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.datetimes(timezones=st.none() | st.just(UTC)) | st.dates(),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip
COMPILED = [flt.compile(e, now=NOW) for e in EXPRESSIONS_FOR_ANY_TASK]


@settings(max_examples=150, deadline=None)
@given(x=values, y=values, created=values)
def test_evaluation_never_raises_whatever_the_task_holds(x, y, created):
    task = {"task_id": "t", "args": {"x": x, "y": y}, "created_at": created}
    for predicate in COMPILED:
        assert predicate(task) in (True, False)
