"""`labtasker slurm submit` against a real single-node Slurm (see conftest.py).

The time-limit job is submitted before the other tests run (Slurm's shortest
limit is one minute, checked about every 30 s) and checked last, so the module
takes about as long as that one job.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.slurm.conftest import Project, squeue_states

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def by_args(project: Project) -> dict[str, dict]:
    return {json.dumps(t["args"], sort_keys=True): t for t in project.tasks()}


def history(project: Project, task_id: str) -> list[dict]:
    out = project.lt("task", "history", task_id, "--fmt", "jsonl").out
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def timed_job(slurm_cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, str]]:
    """One worker with a one-minute limit: a task whose eta_max cannot fit, then one that outlives it."""
    project = Project(tmp_path_factory.mktemp("time-limit"))
    project.python(
        "import labtasker\n"
        "labtasker.submit_task(task_name='too-long', args={'seconds': 1}, task_timeout=120, priority=5)\n"
        "labtasker.submit_task(task_name='outlives', args={'seconds': 600})\n"
    )
    job = project.submit("--workers", "1", "--time", "1", "--", "sleep", "%(seconds)")
    yield project, job
    subprocess.run(["scancel", job], capture_output=True)


@pytest.fixture(autouse=True)
def _time_limit_first(timed_job: tuple[Project, str]) -> None:
    """Every test of this module starts the time-limit job's clock (the first one does)."""


def test_twenty_tasks_run_on_two_array_elements(make_project) -> None:
    project = make_project()
    project.python("import labtasker\nfor i in range(20): labtasker.submit_task(args={'i': i})")
    job = project.submit("--workers", "2", "--cmd", "sleep 0.3; echo task %(i)")

    def all_done() -> bool:
        return [t["status"] for t in project.tasks()] == ["success"] * 20

    wait_for(all_done, "20 tasks to succeed", timeout=90, every=0.2)
    workers = {t["worker_id"] for t in project.tasks()}
    assert {w.split(".")[0] for w in workers} == {f"slurm-{job}_0", f"slurm-{job}_1"}
    host = subprocess.run(["hostname", "-s"], capture_output=True, text=True).stdout.strip()
    assert all(w.endswith(f".{host}") for w in workers)
    script = next((project.path / ".labtasker" / "slurm").glob("*/job.sbatch")).read_text()
    assert "#SBATCH --array=0-1" in script
    (row,) = json.loads(project.lt("slurm", "status", "--fmt", "json").out)
    assert (row["job_id"], row["done"], row["failed"], row["workers_seen"]) == (job, 20, 0, 2)
    table = project.lt("slurm", "status").out
    assert job in table and "DONE" in table


def test_scancel_of_one_element_puts_its_task_back_for_the_other(make_project) -> None:
    project = make_project()
    project.python("import labtasker\nfor i in range(2): labtasker.submit_task(args={'i': i})")
    job = project.submit("--workers", "2", "--cmd", "sleep 5; echo task %(i)")

    def both_running() -> list[dict]:
        running = [t for t in project.tasks() if t["status"] == "running"]
        return running if len(running) == 2 else []

    running = wait_for(both_running, "both workers to run a task", timeout=30, every=0.2)
    victim = next(t for t in running if t["worker_id"].startswith(f"slurm-{job}_0."))
    time.sleep(0.5)  # mid-task
    cancelled = time.monotonic()
    subprocess.run(["scancel", f"{job}_0"], check=True)

    def back() -> dict | None:
        task = next(t for t in project.tasks() if t["task_id"] == victim["task_id"])
        return task if task["worker_id"] != victim["worker_id"] or task["status"] == "pending" else None

    task = wait_for(back, "the cancelled worker's task to come back", timeout=10, every=0.1)
    took = time.monotonic() - cancelled
    assert took < 5  # KillWait: back before Slurm would SIGKILL the worker
    assert task["status"] in ("pending", "running") and task["retries"] == 0

    wait_for(
        lambda: all(t["status"] == "success" for t in project.tasks()),
        "both tasks to succeed",
        timeout=30,
        every=0.2,
    )
    task = next(t for t in project.tasks() if t["task_id"] == victim["task_id"])
    assert task["worker_id"].startswith(f"slurm-{job}_1.") and task["retries"] == 0
    runs = history(project, victim["task_id"])
    stopped = [r for r in runs if r.get("status") == "interrupted"]
    assert len(stopped) == 1 and stopped[0]["worker_id"] == victim["worker_id"]
    assert "SIGTERM" in project.slurm_log(job, 0)
    print(f"scancel -> task back in {took:.2f}s")


def test_each_worker_sees_its_own_gpu(make_project) -> None:
    project = make_project()
    project.python("import labtasker\nfor i in range(2): labtasker.submit_task(args={'i': i})")
    job = project.submit(
        "--workers", "2", "--gpus-per-worker", "1", "--max-tasks", "1",
        "--cmd", 'echo "$CUDA_VISIBLE_DEVICES" > gpu-%(i).txt; sleep 2',
    )  # fmt: skip
    wait_for(
        lambda: [t["status"] for t in project.tasks()] == ["success"] * 2,
        "both tasks to succeed",
        timeout=60,
        every=0.2,
    )
    seen = {
        t["worker_id"]: (project.path / f"gpu-{t['args']['i']}.txt").read_text().strip()
        for t in project.tasks()
    }
    assert sorted(seen.values()) == ["0", "1"], seen
    assert {w.split(".")[0] for w in seen} == {f"slurm-{job}_0", f"slurm-{job}_1"}
    assert (
        "#SBATCH --gres=gpu:1"
        in next((project.path / ".labtasker" / "slurm").glob("*/job.sbatch")).read_text()
    )


def test_grace_must_be_shorter_than_kill_wait(make_project) -> None:
    project = make_project()
    ran = project.lt("slurm", "submit", "--workers", "1", "--grace", "30", "--", "true", check=False)
    assert ran.code == 2 and ran.err.count("\n") == 1 and "KillWait" in ran.err
    script = project.lt("slurm", "submit", "--workers", "1", "--dry-run", "--", "true").out
    assert "--grace 2.5 " in script  # half of the test cluster's KillWait of 5 s


def test_the_docs_page_runs_as_written(make_project) -> None:
    """docs/slurm.md: its bash blocks, in order, in a project with a train.py, then the sweep ends."""
    page = Path(__file__).resolve().parents[2] / "docs" / "slurm.md"
    blocks = [
        body
        for info, body in re.findall(r"^```(\w+)\n(.*?)^```", page.read_text(), re.M | re.S)
        if info == "bash"
    ]
    assert len(blocks) == 2
    project = make_project("sweep")
    (project.path / "train.py").write_text("import sys, time\ntime.sleep(0.5)\nprint('lr', sys.argv[-1])\n")
    env = {**project.env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    outputs = []
    for i, code in enumerate(blocks):
        if i == 1:  # watching: once the sweep has ended, so the counts are known
            wait_for(
                lambda: [t["status"] for t in project.tasks()] == ["success"] * 4,
                "the sweep",
                timeout=60,
                every=0.2,
            )
        done = subprocess.run(
            ["bash", "-e", "-c", code], cwd=project.path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    job = outputs[0].split()[-1]
    (row,) = [line.split() for line in outputs[1].splitlines() if line.startswith(f"{job} ")]
    assert (row[-4], row[-3], row[-2]) == ("0", "4", "0")  # RUNNING, DONE, FAILED
    for task in project.tasks():
        assert task["worker_id"].startswith(f"slurm-{job}_") and task["worker_id"] in outputs[1]


def test_time_limit_mid_task_is_like_scancel(timed_job: tuple[Project, str]) -> None:
    project, job = timed_job

    wait_for(
        lambda: not squeue_states(job), "the one-minute job to reach its time limit", timeout=150, every=1
    )
    tasks = {t["task_name"]: t for t in project.tasks()}
    outlives, too_long = tasks["outlives"], tasks["too-long"]
    assert (outlives["status"], outlives["retries"]) == ("pending", 0)
    (stopped,) = [r for r in history(project, outlives["task_id"]) if r.get("status") == "interrupted"]
    assert stopped["worker_id"].startswith(f"slurm-{job}_0.")
    # The task whose eta_max (its task_timeout of 2 minutes) could never fit was left alone.
    assert (too_long["status"], too_long["retries"]) == ("pending", 0)
    assert [r for r in history(project, too_long["task_id"]) if r.get("status") == "interrupted"] == []
    log = project.slurm_log(job, 0)
    assert f"task {too_long['task_id']} left for another worker" in log
    assert "SIGTERM" in log
    state = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True).stdout
    assert "JobState=TIMEOUT" in state
