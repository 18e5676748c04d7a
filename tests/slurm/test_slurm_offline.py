"""`labtasker slurm` and the loop's time limit where no cluster is needed: no Slurm, --dry-run, sizing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import labtasker
from labtasker.slurm import status, timelimit
from labtasker.slurm.script import default_grace
from tests.conftest import queue_env

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def no_slurm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH with a few basic tools but none of Slurm's commands."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("true", "echo", "sh"):
        (bin_dir / tool).symlink_to(f"/bin/{tool}")
    monkeypatch.setenv("PATH", str(bin_dir))


@pytest.mark.parametrize("argv", [["submit", "--workers", "2", "--", "true"], ["status"]])
def test_without_slurm_one_line_and_exit_2(lt, project: Path, no_slurm: None, argv: list[str]) -> None:
    ran = lt("slurm", *argv)
    assert ran.code == 2
    assert ran.err.count("\n") == 1 and "Slurm is not installed here" in ran.err
    assert not (project / ".labtasker" / "slurm").exists()


def test_dry_run_prints_the_script_and_submits_nothing(lt, project: Path, no_slurm: None) -> None:
    ran = lt(
        "slurm", "submit", "--workers", "3", "--gpus-per-worker", "1", "--cpus-per-worker", "4",
        "--mem", "16G", "--time", "2:00:00", "--partition", "gpu", "--sbatch-arg=--qos=low",
        "--eta-max", "1h", "--count-interrupts", "--dry-run", "--", "sh", "train.sh", "--lr", "%(lr)",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0] == "#!/bin/bash"
    for directive in (
        "--array=0-2", "--gres=gpu:1", "--cpus-per-task=4", "--mem=16G", "--time=2:00:00",
        "--partition=gpu", "--qos=low",
    ):  # fmt: skip
        assert f"#SBATCH {directive}" in lines
    assert f"export LABTASKER_ROOT={project / '.labtasker'}" in lines
    loop = lines[-1]
    assert loop.startswith(
        f'exec {sys.executable} -m labtasker loop --worker-id "slurm-${{SLURM_ARRAY_JOB_ID'
    )
    assert "--grace 10 --eta-max 1h --count-interrupts -- sh train.sh --lr '%(lr)'" in loop
    assert not (project / ".labtasker" / "slurm").exists()


def test_workers_auto_counts_the_tasks_the_command_can_run(lt, project: Path, no_slurm: None) -> None:
    for lr in (0.1, 0.2, 0.3):
        labtasker.submit_task(args={"lr": lr, "model": "a" if lr < 0.3 else "b"})
    labtasker.submit_task(args={"other": 1})  # no placeholder of the command fills it

    def array(*argv: str) -> str:
        ran = lt("slurm", "submit", "--dry-run", *argv)
        assert ran.code == 0, ran.err
        return next(line for line in ran.out.splitlines() if line.startswith("#SBATCH --array"))

    assert array("--workers", "auto", "--", "echo", "%(lr)", "%(model)") == "#SBATCH --array=0-2"
    assert array("--workers", "auto", "-f", "args.model == 'b'", "--", "echo", "%(lr)", "%(model)") == (
        "#SBATCH --array=0-0"
    )
    assert array("--workers", "auto", "--max-workers", "2", "--", "echo", "%(lr)", "%(model)") == (
        "#SBATCH --array=0-1"
    )
    ran = lt("slurm", "submit", "--dry-run", "--workers", "auto", "--", "echo", "%(nothing)")
    assert ran.code == 1 and "no pending task this command can run" in ran.err


@pytest.mark.parametrize(
    "argv",
    [
        ["--workers", "0", "--", "true"],
        ["--workers", "many", "--", "true"],
        ["--workers", "2", "--eta-max", "soon", "--", "true"],
        ["--workers", "2"],
        ["--workers", "2", "-f", "args.lr >", "--", "true"],
        ["--workers", "2", "--retry-backoff", "-1", "--", "true"],
        ["--workers", "2", "--script-path", "missing.sh"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(lt, project: Path, argv: list[str]) -> None:
    ran = lt("slurm", "submit", "--dry-run", *argv)
    assert ran.code == 2, ran.out
    assert "Traceback" not in ran.err


def test_loop_in_a_slurm_job_takes_no_task_that_cannot_fit(lt, project: Path, monkeypatch) -> None:
    """SLURM_JOB_END_TIME (as newer Slurm sets it) two minutes away: a 1h task is left alone."""
    long = labtasker.submit_task(task_name="long", args={"x": 1}, task_timeout=3600).task_id
    short = labtasker.submit_task(task_name="short", args={"x": 2}, task_timeout=30).task_id
    unknown = labtasker.submit_task(task_name="unknown", args={"x": 3}).task_id
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    monkeypatch.setenv("SLURM_JOB_END_TIME", str(int(datetime.now(timezone.utc).timestamp()) + 120))
    ran = lt("loop", "--", "true", "%(x)")
    assert ran.code == 0, ran.err
    assert labtasker.get_task(long).status == "pending"
    assert labtasker.get_task(short).status == "success"
    assert labtasker.get_task(unknown).status == "success"  # nothing says it would not fit
    assert f"task {long} left for another worker: its eta_max (60m) does not fit" in ran.err
    # --eta-max is the loop's own, and wins over each task's task_timeout
    labtasker.submit_task(args={"x": 4})
    ran = lt("loop", "--eta-max", "5m", "--", "true", "%(x)")
    assert labtasker.get_task(long).status == "pending"
    assert [t.status for t in labtasker.ls_tasks(status="pending").content] == ["pending"] * 2


def test_outside_slurm_no_deadline(monkeypatch) -> None:
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert timelimit.job_end(os.environ, NOW, lambda job: "5:00") is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45", 45), ("3:04", 184), ("2:03:04", 7384), ("1-02:03:04", 93784), ("1-02", 93600),
        ("UNLIMITED", None), ("NOT_SET", None), ("INVALID", None), ("", None),
    ],
)  # fmt: skip
def test_squeue_time_left(text: str, seconds: float | None) -> None:
    assert timelimit.parse_time_left(text) == seconds


def test_job_end_from_env_or_squeue() -> None:
    env = {"SLURM_JOB_ID": "5"}
    assert timelimit.job_end(env, NOW, lambda job: "10:00") == NOW + timedelta(minutes=10)
    assert timelimit.job_end(env, NOW, lambda job: "UNLIMITED") is None
    assert timelimit.job_end(env, NOW, lambda job: None) is None
    stamp = str(int((NOW + timedelta(hours=1)).timestamp()))
    assert timelimit.job_end(
        {**env, "SLURM_JOB_END_TIME": stamp}, NOW, lambda job: "1:00"
    ) == NOW + timedelta(hours=1)


def test_fits_counts_eta_and_grace() -> None:
    end = NOW + timedelta(seconds=100)
    assert timelimit.fits({"task_timeout": 80}, None, 10, end, NOW)
    assert not timelimit.fits({"task_timeout": 95}, None, 10, end, NOW)
    assert not timelimit.fits({"task_timeout": 10}, 200, 10, end, NOW)  # the loop's eta_max wins
    assert timelimit.fits({}, None, 10, end, NOW)


def test_default_grace_stays_below_kill_wait() -> None:
    assert default_grace(30, 10) == 10
    assert default_grace(5, 10) == 2.5
    assert default_grace(None, 10) == 10


def test_status_summary_joins_slurm_and_queue() -> None:
    found = status.Ours(
        worker_status={"slurm-7_0.n1": "active", "slurm-7_1.n2": "exited", "slurm-8_0.n1": "active"},
    )
    found.running.update({"slurm-7_0.n1": 1})
    found.done.update({"slurm-7_0.n1": 4, "slurm-7_1.n2": 3, "slurm-8_0.n1": 9})
    found.failed.update({"slurm-7_1.n2": 1})
    squeue = [
        {"job": "7_0", "array_job": "7", "array_task": "0", "state": "RUNNING", "node": "n1"},
        {"job": "7_[2-4%2]", "array_job": "7", "array_task": "[2-4%2]", "state": "PENDING", "node": ""},
    ]
    row = status.summarize({"job_id": "7", "workers": 5}, squeue, [], found)
    assert row["slurm"] == {"PENDING": 3, "RUNNING": 1}
    assert (row["workers_seen"], row["workers_alive"], row["running"], row["done"], row["failed"]) == (
        2,
        1,
        1,
        7,
        1,
    )
    assert row["nodes"] == ["n1", "n2"]
    gone = status.summarize({"job_id": "8"}, [], [{"job": "8_0", "state": "CANCELLED by 0"}], found)
    assert gone["slurm"] == {"CANCELLED": 1} and gone["done"] == 9 and gone["nodes"] == ["n1"]
    assert status.slurm_text({}) == "-"


def _loop_running_sleep(project: Path) -> tuple[str, subprocess.Popen[str], int, float]:
    """A task, a `labtasker loop -- sleep 30` running it, the command's pid, and a deadline that bounds a hang."""
    task_id = labtasker.submit_task(args={"x": 1}).task_id
    loop = subprocess.Popen(
        [sys.executable, "-m", "labtasker", "loop", "--", "sleep", "30"],
        cwd=project, env=queue_env(project), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # Wait for the command itself: a child seen between fork and exec has no process group yet.
    deadline = time.monotonic() + 60
    while labtasker.get_task(task_id).status != "running" or not _command_of(loop.pid, "sleep"):
        if time.monotonic() > deadline:
            loop.kill()
            raise AssertionError("the loop did not start its command")
        time.sleep(0.1)
    return task_id, loop, _command_of(loop.pid, "sleep"), deadline


@pytest.mark.slow
def test_command_and_loop_signalled_together_is_still_a_stop(project: Path) -> None:
    """Slurm with proctrack/cgroup sends SIGTERM to every process of the job, the command too."""
    task_id, loop, command, deadline = _loop_running_sleep(project)
    try:
        # Slurm signals both at once; here the loop is paused so that, however loaded the machine, it
        # wakes to both its command's death (the worse order: the command first) and its own SIGTERM.
        loop.send_signal(signal.SIGSTOP)
        os.killpg(command, signal.SIGTERM)
        while not _dead(command):  # a zombie: the paused loop has not seen it yet
            assert time.monotonic() < deadline + 60, "the command outlived its SIGTERM"
            time.sleep(0.02)
        loop.send_signal(signal.SIGTERM)
        loop.send_signal(signal.SIGCONT)
        _, err = loop.communicate(timeout=60)
    finally:
        loop.kill()
    assert loop.returncode == 143, err
    task = labtasker.get_task(task_id)
    assert (task.status, task.retries) == ("pending", 0)


def test_a_command_killed_a_moment_before_its_loop_is_still_a_stop(project: Path) -> None:
    """Slurm does not signal every process at the same instant: the command may die of its
    SIGTERM, and the loop notice that, before the loop's own SIGTERM arrives."""
    task_id, loop, command, deadline = _loop_running_sleep(project)
    try:
        os.killpg(command, signal.SIGTERM)
        while Path(f"/proc/{command}").exists():  # gone, not a zombie: the loop has seen it die
            assert time.monotonic() < deadline, "the loop did not reap its command"
            time.sleep(0.005)
        loop.send_signal(signal.SIGTERM)
        _, err = loop.communicate(timeout=60)
    finally:
        loop.kill()
    assert loop.returncode == 143, err
    task = labtasker.get_task(task_id)
    assert (task.status, task.retries) == ("pending", 0), err


def _command_of(pid: int, program: str) -> int:
    """The pid of ``pid``'s child once it runs ``program`` (exec'd, so in its own session), or 0."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if Path(argv[0].decode()).name == program and os.getpgid(int(child)) == int(child):
                return int(child)
    except (OSError, IndexError):
        return 0
    return 0


def _dead(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie its parent has not reaped, or gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True
