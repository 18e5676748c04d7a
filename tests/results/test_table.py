"""The pure results table: which columns, which rows, grouped means and stds, sorting, best K."""

from __future__ import annotations

import math

import pytest

from labtasker.errors import UsageError
from labtasker.sweep import formats, source, table
from labtasker.sweep.table import Stat
from tests.results.conftest import SAMPLE


def doc(task_id: str, summary: dict | None = None, **args: object) -> dict:
    return {"task_id": task_id, "args": args, "summary": summary or {}}


@pytest.fixture
def grid() -> list[dict]:
    return source.load(source.open_queue(SAMPLE), "success", 'task_name == "grid_search"')


def test_columns_are_the_args_that_vary_and_the_numeric_metrics(grid: list[dict]) -> None:
    built = table.build(grid)
    assert built.args == ("lr", "model", "seed")
    assert built.metrics == ("acc", "loss", "epochs")
    assert len(built.rows) == 11


def test_an_arg_missing_from_some_tasks_varies() -> None:
    docs = [doc("1", {"acc": 1}, lr=0.1, model="a"), doc("2", {"acc": 2}, lr=0.1, model="a", dropout=0.2)]
    assert table.build(docs).args == ("dropout",)
    # a missing value sorts last, as in `task ls --sort`
    assert table.build(docs).records(ids=False) == [{"dropout": 0.2, "acc": 2}, {"dropout": None, "acc": 1}]


def test_nothing_varies_shows_every_arg_and_nested_args_are_flat() -> None:
    docs = [
        doc("1", {"eval": {"acc": 0.5}, "note": "ok", "labtasker_exception": {"x": 1}}, optim={"lr": 0.1})
    ]
    built = table.build(docs)
    assert (built.args, built.metrics) == (("optim.lr",), ("eval.acc",))
    assert table.build(docs, metrics="note,summary.eval.acc").metrics == ("note", "eval.acc")


def test_bools_are_not_metrics() -> None:
    assert table.build([doc("1", {"ok": True, "acc": 1})]).metrics == ("acc",)


def test_over_seed_gives_mean_sample_std_and_n(grid: list[dict]) -> None:
    built = table.build(grid, over="seed", sort="acc:desc")
    assert built.args == ("lr", "model")
    first, *_, last = built.records(ids=False)
    assert first["lr"] == 0.01 and first["model"] == "resnet18" and first["n"] == 2
    assert first["acc_mean"] == pytest.approx((0.9193 + 0.9133) / 2)
    assert first["acc_std"] == pytest.approx(math.sqrt(2 * 0.003**2))
    assert (last["lr"], last["n"]) == (0.1, 3)
    assert last["acc_mean"] == pytest.approx(0.7853)
    assert last["acc_std"] == pytest.approx(0.006)


def test_stat_of_one_value_has_no_std_and_skips_missing_values() -> None:
    assert table.stat([0.5]) == Stat(0.5, None, 1)
    assert table.stat([None, "x", float("nan")]) == Stat(None, None, 0)
    assert table.stat([1, 2, 3, None]) == Stat(2.0, 1.0, 3)


def test_sort_by_a_metric_name_or_its_path_and_best_k(grid: list[dict]) -> None:
    short = table.build(grid, sort="loss:asc,acc:desc", best=3)
    long = table.build(grid, sort=["summary.loss:asc", "summary.acc:desc"], best=3)
    assert short == long
    assert [r.value("acc") for r in short.rows] == [0.9161, 0.9101, 0.9193]


def test_default_order_is_by_the_args(grid: list[dict]) -> None:
    rows = table.build(grid).rows
    assert [(r.args["lr"], r.args["model"], r.args["seed"]) for r in rows[:3]] == [
        (0.001, "resnet18", 0),
        (0.001, "resnet18", 1),
        (0.001, "vit_s", 0),
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"metrics": "f1"}, "no task in the selection has a metric 'f1' (there are: acc, loss, epochs)"),
        ({"over": "epoch"}, "no task in the selection has an arg 'epoch' (there are: lr, model, seed)"),
        ({"best": 2}, "--best needs --sort"),
        ({"sort": "acc:up"}, "the direction must be asc or desc"),
    ],
)
def test_mistakes_are_one_clear_message(grid: list[dict], options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        table.build(grid, **options)


def test_an_empty_selection_is_an_empty_table() -> None:
    built = table.build([])
    assert (built.args, built.metrics, built.rows) == ((), (), ())


def test_an_arg_named_n_keeps_its_column_beside_the_group_count() -> None:
    docs = [
        {"task_id": f"t{i}", "status": "success", "args": {"n": n, "seed": seed}, "summary": {"acc": acc}}
        for i, (n, seed, acc) in enumerate([(1, 0, 0.5), (1, 1, 0.7), (2, 0, 0.9), (2, 1, 0.9), (2, 2, 0.6)])
    ]
    built = table.build(docs, over="seed", sort="n:asc")
    assert built.count_name == "n_runs"
    records = built.records(ids=False)
    assert [(r["n"], r["n_runs"]) for r in records] == [(1, 2), (2, 3)]
    assert formats.headers(built) == ["n", "n_runs", "acc"]
