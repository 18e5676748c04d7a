"""A generated sweep with seeds, finished through the public API, and the checked-in sample queue."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labtasker import api
from tests.cli.conftest import lt, shell

__all__ = ["lt", "shell"]  # the CLI fixtures, shared

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_queue"
BASE = {0.001: 0.80, 0.01: 0.90, 0.1: 0.70}
SHIFT = {"mlp": 0.0, "cnn": 0.05}


def accuracy(lr: float, model: str, seed: int) -> float:
    """Each (lr, model) over seeds 0, 1, 2: mean base + shift + 0.01, sample std 0.01."""
    return round(BASE[lr] + SHIFT[model] + seed * 0.01, 6)


def finish_sweep() -> list[str]:
    """Submit 3 lr x 2 models x 3 seeds, run them all to success with an accuracy and a loss."""
    ids = []
    for lr in BASE:
        for model in SHIFT:
            for seed in range(3):
                ids.append(
                    api.submit_task(task_name="sweep", args={"lr": lr, "model": model, "seed": seed}).task_id
                )
    while True:
        got = api.fetch_task(worker_id=None, start_heartbeat=False).task
        if got is None:
            return ids
        acc = accuracy(got.args["lr"], got.args["model"], got.args["seed"])
        api.report_task_status(got.task_id, "success", {"acc": acc, "loss": round(1 - acc, 6)})


@pytest.fixture
def sweep(project: Path) -> list[str]:
    """The ids of a finished sweep in the project's queue."""
    return finish_sweep()


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of sample_queue/ (tests may not change the checked-in one)."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "copy" / "sample_queue"))
