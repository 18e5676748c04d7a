"""The README's first command: the quickstart sweep runs end to end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_quickstart_runs_the_sweep(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABTASKER_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    if shutil.which("labtasker", path=env["PATH"]) is None:
        pytest.fail("the labtasker command is not installed: run pip install -e . first")
    res = subprocess.run(
        ["bash", str(REPO / "examples" / "quickstart.sh"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "loop finished: 6 done, 0 failed" in res.stderr
    best = res.stdout.split("# best runs:")[1].splitlines()
    assert "TASK_ID" in best[1] and '"acc": 1.0' in best[2]  # sorted by accuracy, best first
    answer = (
        res.stdout.split("# the sweep's answer, args against metrics:")[1]
        .split("# the queue")[0]
        .splitlines()
    )
    assert answer[1].split()[:3] == ["lr", "model", "acc"], answer  # the args that vary, then the metric
    assert len([line for line in answer if line.strip() and line.split()[0][0].isdigit()]) == 6, answer
    assert len(os.listdir(tmp_path / ".labtasker" / "queues" / "default" / "done")) == 6
