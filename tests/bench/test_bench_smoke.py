"""The benchmark runs end to end at a tiny size, so it never rots (docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FIGURES = (
    "raw `rename`", "raw write + fsync + rename + fsync(dir)", "Python `submit_task`",
    "Python `submit_tasks` (bulk)", "`labtasker task submit --from-file` (bulk)", "claim",
    "no-op `@labtasker.loop()`, 1 worker", "no-op `@labtasker.loop()`, 4 processes",
    "peak memory of a no-op loop", "`ls_tasks` in one process", "`ls_tasks` in a fresh process",
    "`FsQueue.count()`", "filter: compile once", "bare `python -c pass`", "`labtasker task submit -- --x=1`",
    "`labtasker task ls -q`", "`labtasker task count`",
)  # fmt: skip


@pytest.mark.slow
def test_the_quick_benchmark_prints_every_figure_and_leaves_nothing_behind(tmp_path: Path) -> None:
    own = tmp_path / "users-own-project" / ".labtasker"  # a queue the benchmark must not touch
    own.mkdir(parents=True)
    (own / "config.toml").write_text('queue_name = "mine"\n')
    env = {**os.environ, "LABTASKER_ROOT": str(own), "LABTASKER_QUEUE_DIR": str(own / "queues" / "mine")}
    scratch = tmp_path / "scratch"
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--quick",
            "--sizes",
            "30,60",
            "--repeat",
            "1",
            "--dir",
            str(scratch),
            "--json",
            str(out),
            "-q",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert "| figure | tasks | result |" in done.stdout and "- filesystem:" in done.stdout
    rows = json.loads(out.read_text())["rows"]
    for figure in FIGURES:
        assert any(r["figure"].startswith(figure) for r in rows), f"no row for {figure}"
    assert all(r["value"] is None or r["value"] > 0 for r in rows)
    assert sorted(p.name for p in own.rglob("*")) == ["config.toml"]
    # a rate's target is not judged on a quick run's few tasks (start-up weighs in), and says so
    loops = [r for r in rows if r["figure"].startswith("no-op `@labtasker.loop()`, 1 worker")]
    assert loops and all(r["met"] is None for r in loops)
    assert "not below 10^3 tasks" in done.stdout
    assert list(scratch.iterdir()) == []  # the scratch queues are removed


def test_a_bad_size_list_is_one_clear_line() -> None:
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--sizes", "ten"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--sizes" in done.stderr and "Traceback" not in done.stderr


def test_a_rate_target_is_judged_from_a_thousand_tasks() -> None:
    from bench.table import Row, judged, render

    assert (judged(999, False), judged(1000, False), judged(10**4, True)) == (None, False, True)
    rows = [Row("loop", 200, "1 /s", "", ">= 0.3", judged(200, False)), Row("raw", 200, "2 /s")]
    table = render(rows).splitlines()
    assert table[2].endswith("| >= 0.3 | not below 10^3 tasks |") and table[3].endswith("|  |  |  |")
