"""`labtasker.results(...)`: the same table as rows in Python, and a DataFrame when pandas is there."""

from __future__ import annotations

import sys

import pytest

import labtasker
from labtasker.errors import LabtaskerError
from tests.results.conftest import SAMPLE


@pytest.mark.usefixtures("sweep")
def test_rows_of_the_queue_in_use() -> None:
    rows = labtasker.results(over="seed", sort="acc:desc", best=2)
    assert isinstance(rows, labtasker.Results)
    assert [(r["lr"], r["model"], r["n"]) for r in rows] == [(0.01, "cnn", 3), (0.01, "mlp", 3)]
    assert rows[0]["acc_mean"] == pytest.approx(0.96) and rows[0]["acc_std"] == pytest.approx(0.01)
    assert rows.columns[:4] == ["lr", "model", "n", "acc_mean"]
    assert rows.to_markdown().splitlines()[2] == "| 0.01 | cnn   |   3 | 0.96 ± 0.01 | 0.04 ± 0.01 |"


def test_a_folder_and_a_filter() -> None:
    rows = labtasker.results(SAMPLE, extra_filter="args.dropout > 0", metrics=["acc"])
    assert rows == [
        {"dropout": 0.1, "acc": 0.9123, "task_id": "019593e4-7da0-7016-befb-4085cd6f105a"},
        {"dropout": 0.3, "acc": 0.8983, "task_id": "019593e4-7da0-7017-bdc0-34b57c10c31a"},
    ]
    assert rows.to_csv().splitlines()[0] == "dropout,acc,task_id"


@pytest.mark.usefixtures("sweep")
def test_to_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    frame = labtasker.results(over="seed").to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert frame.shape == (6, 8)
    assert frame.groupby("model")["acc_mean"].mean().to_dict() == pytest.approx({"cnn": 0.86, "mlp": 0.81})


@pytest.mark.usefixtures("sweep")
def test_to_dataframe_without_pandas_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(LabtaskerError, match=r"needs pandas: pip install pandas"):
        labtasker.results().to_dataframe()
