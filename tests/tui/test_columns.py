"""What the task table shows, without a screen: cells, key args, metrics, ages, sorting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from labtasker.tui import columns as cols

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h00m"), (3 * 3600 + 5 * 60, "3h05m"),
    (86400 * 2 + 3600 * 4, "2d04h"), (-30, "0s"),
])  # fmt: skip
def test_age_is_short(seconds: int, shown: str) -> None:
    assert cols.age(NOW - timedelta(seconds=seconds), NOW) == shown


def test_age_of_a_missing_time_is_empty() -> None:
    assert cols.age(None, NOW) == ""


def test_key_args_are_those_that_differ() -> None:
    docs = [
        {"args": {"lr": 0.1, "model": "vit", "opt": {"name": "adam", "beta": 0.9}}},
        {"args": {"lr": 0.2, "model": "vit", "opt": {"name": "sgd", "beta": 0.9}}},
        {"args": {"dataset": "c100"}},
    ]
    assert cols.key_args(docs) == {"lr", "opt.name"}
    column = cols.args_column(cols.key_args(docs))
    assert [column.cell(d) for d in docs] == ["lr=0.1 opt.name=adam", "lr=0.2 opt.name=sgd", "dataset=c100"]


def test_metrics_are_the_numeric_summary_keys_reported_most() -> None:
    docs = [
        {"summary": {"acc": 0.9, "loss": 0.3, "note": "ok", "labtasker_exception": {"type": "X"}}},
        {"summary": {"acc": 0.8, "flag": True}},
        {"summary": {}},
    ]
    assert cols.pick_metrics(docs) == ["acc", "loss"]


@pytest.mark.parametrize(("value", "shown"), [
    (None, ""), (True, "true"), (0.123456, "0.1235"), (float("nan"), "nan"), ([1, "a"], "[1, a]"),
    ({"a": 1}, "{a: 1}"), (3, "3"),
])  # fmt: skip
def test_cells_are_compact(value: object, shown: str) -> None:
    assert cols.fmt(value) == shown


def test_short_id_keeps_the_random_tail() -> None:
    assert cols.short_id("019593e1-be80-7003-8dbd-06568db8df93") == "…8db8df93"
    assert cols.short_id("abc") == "abc"


def test_sorting_puts_missing_values_last_both_ways() -> None:
    docs = [
        {"summary": {"acc": 0.5}},
        {"summary": {}},
        {"summary": {"acc": 0.9}},
        {"summary": {"acc": "n/a"}},
    ]
    columns = [cols.field_column("summary.acc", "acc", "summary.acc", numeric=True)]
    up = cols.sort_docs(docs, columns, "summary.acc", reverse=False)
    down = cols.sort_docs(docs, columns, "summary.acc", reverse=True)
    assert [d["summary"].get("acc") for d in up] == [0.5, 0.9, "n/a", None]
    assert [d["summary"].get("acc") for d in down] == ["n/a", 0.9, 0.5, None]
    assert cols.sort_docs(docs, columns, "nope", reverse=False) == docs


def test_task_columns_follow_the_documents() -> None:
    docs = [
        {"task_id": "t1", "args": {"lr": 1}, "summary": {"acc": 1.0}, "last_error": "x\nValueError: bad\n"}
    ]
    keys = [c.key for c in cols.task_columns("failed", docs, NOW)]
    assert keys == ["name", "id", "args", "summary.acc", "error", "priority", "retries", "worker", "age"]
    chosen = [c.key for c in cols.task_columns("failed", docs, NOW, metrics=["loss"])]
    assert chosen[3:5] == ["summary.loss", "error"]
    error = cols.task_columns("failed", docs, NOW)[4]
    assert error.cell(docs[0]) == "ValueError: bad"


# How every loop stores a failure now: a mapping, as `labtasker loop` and @labtasker.loop() write it.
STORED_ERROR = {
    "type": "CommandFailed",
    "message": "the command exited with code 1: RuntimeError: loss is nan",
    "traceback": 'Traceback (most recent call last):\n  File "train.py", line 8\nRuntimeError: loss is nan',
}


def test_a_stored_error_shows_its_headline_not_a_python_dict() -> None:
    docs = [{"task_id": "t1", "args": {"lr": 0.1}, "last_error": STORED_ERROR}]
    error = next(c for c in cols.task_columns("failed", docs, NOW) if c.key == "error")
    assert error.cell(docs[0]) == "the command exited with code 1: RuntimeError: loss is nan"[:47] + "…"
    python = {
        "type": "RuntimeError",
        "message": "loss is nan",
        "traceback": "Traceback ...\nRuntimeError: loss is nan",
    }
    assert error.cell({"last_error": python}) == "RuntimeError: loss is nan"


def test_the_error_tab_shows_the_traceback_as_lines() -> None:
    from labtasker.tui.detail import Detail

    shown = Detail("failed", "t1.yaml", doc={"last_error": STORED_ERROR}).error
    assert "{'type'" not in shown and "\\n" not in shown
    assert shown.splitlines()[0] == "Traceback (most recent call last):"
    assert shown.splitlines()[-1] == "RuntimeError: loss is nan"
    assert (
        Detail("failed", "t2.yaml", doc={"last_error": "x\nValueError: bad\n"}).error
        == "x\nValueError: bad\n"
    )
