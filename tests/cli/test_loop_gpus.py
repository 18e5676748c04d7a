"""`labtasker loop --gpus`: one real worker process per GPU group, tested without GPUs by an explicit list."""

from __future__ import annotations

import collections
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labtasker import api
from labtasker.cli import gpus
from labtasker.errors import UsageError
from labtasker.fsqueue.store import FsQueue
from tests.cli.conftest import Lt, labtasker_bin
from tests.conftest import queue_env

SHOW = "import os, sys, time; print('x=%s cvd=%s' % (sys.argv[1], os.environ['CUDA_VISIBLE_DEVICES'])); time.sleep(0.3)"


def loop(project: Path, tmp_path: Path, *argv: str) -> subprocess.Popen[str]:
    exe = labtasker_bin(tmp_path) / "labtasker"
    return subprocess.Popen(
        [str(exe), "loop", *argv],
        cwd=project,
        env=queue_env(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ran_on(out: str) -> dict[str, tuple[str, str]]:
    """x -> (the prefix's GPUs, the job's CUDA_VISIBLE_DEVICES) from the relayed output."""
    found = re.findall(r"^\[gpu ([\d,]+)\] x=(\d+) cvd=([\d,]+)$", out, flags=re.MULTILINE)
    return {x: (prefix, cvd) for prefix, x, cvd in found}


def test_one_worker_per_gpu_each_with_its_own_devices(project: Path, tmp_path: Path) -> None:
    ids = [api.submit_task(args={"x": i}).task_id for i in range(8)]
    proc = loop(project, tmp_path, "--gpus", "0,1,2", "--", sys.executable, "-c", SHOW, "%(x)")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    seen = ran_on(out)
    assert sorted(seen, key=int) == [str(i) for i in range(8)]  # each task exactly once
    assert all(prefix == cvd for prefix, cvd in seen.values())  # the prefix names the job's GPU
    assert set(collections.Counter(cvd for _, cvd in seen.values())) == {"0", "1", "2"}  # all 3 worked
    assert [api.get_task(i).status for i in ids] == ["success"] * 8
    assert "labtasker: started 3 workers: gpu 0; gpu 1; gpu 2" in err
    assert "labtasker: workers finished: gpu 0: ok; gpu 1: ok; gpu 2: ok" in err
    assert re.search(r"^\[gpu 1\] labtasker: loop finished: \d+ done, 0 failed$", err, flags=re.MULTILINE)
    assert len(api.ls_workers().content) == 3  # three workers, three ids


def test_gpus_per_task_gives_each_worker_a_group(project: Path, tmp_path: Path) -> None:
    for i in range(4):
        api.submit_task(args={"x": i})
    script = tmp_path / "job.sh"
    script.write_text('echo "x=%(x) cvd=$CUDA_VISIBLE_DEVICES"\nsleep 0.3\n')
    proc = loop(project, tmp_path, "--gpus", "0,1,2,3", "--gpus-per-task", "2", "--script-path", str(script))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    seen = ran_on(out)
    assert len(seen) == 4 and {cvd for _, cvd in seen.values()} <= {"0,1", "2,3"}
    assert all(prefix == cvd for prefix, cvd in seen.values())


def test_ctrl_c_stops_every_worker_and_puts_their_tasks_back(project: Path, tmp_path: Path) -> None:
    ids = [api.submit_task(args={"x": i}).task_id for i in range(3)]
    marks = tmp_path / "marks"
    marks.mkdir()
    job = f"import pathlib, sys, time; pathlib.Path({str(marks)!r}, sys.argv[1]).touch(); time.sleep(60)"
    proc = loop(project, tmp_path, "--gpus", "0,1", "--", sys.executable, "-c", job, "%(x)")
    deadline = time.monotonic() + 60
    while len(list(marks.iterdir())) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "workers finished: gpu 0: exit 130; gpu 1: exit 130" in err
    assert err.count("back in pending, no retry counted") >= 2
    tasks = [api.get_task(i) for i in ids]
    assert [(t.status, t.retries) for t in tasks] == [("pending", 0)] * 3
    assert FsQueue(api.context().queue.path).names("running") == []


def test_exit_status_summarises_the_workers(project: Path, tmp_path: Path) -> None:
    """The worker on GPU 1 fails every run and gives up (exit 1); GPU 0 finishes the rest."""
    for i in range(8):
        api.submit_task(args={"x": i}, max_retries=1)
    job = "import os, sys, time; time.sleep(0.5); sys.exit(os.environ['CUDA_VISIBLE_DEVICES'] == '1')"
    proc = loop(
        project, tmp_path, "--gpus", "0,1", "--retry-backoff", "0", "--", sys.executable, "-c", job, "%(x)"
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "labtasker: workers finished: gpu 0: ok; gpu 1: exit 1" in err
    assert "[gpu 1] labtasker:" in err and "marked crashed" in err
    assert len(api.ls_tasks(status="failed").content) == 3
    assert len(api.ls_tasks(status="success").content) == 5


def test_bad_gpu_lists_are_exit_2_before_any_worker(lt: Lt, project: Path) -> None:
    api.submit_task(args={"x": 1})
    for argv, message in (
        (["--gpus", "0,1,2", "--gpus-per-task", "2"], "--gpus-per-task 2 does not divide 3 GPUs"),
        (["--gpus", "0,0"], "a GPU is listed twice"),
        (["--gpus", ","], "give GPU indices"),
        (["--gpus", "x"], "'x' is not a GPU index or id"),
        (["--gpus", "gpu0"], "'gpu0' is not a GPU index or id"),
        (["--gpus-per-task", "2"], "--gpus"),
    ):
        ran = lt("loop", *argv, "--", "true", "%(x)")
        assert ran.code == 2, (argv, ran.err)
        assert message in ran.err and "Traceback" not in ran.err
    assert api.get_task(api.ls_tasks().content[0].task_id).status == "pending"


def test_gpu_ids_are_indices_or_nvidia_uuids() -> None:
    """What CUDA_VISIBLE_DEVICES takes: indices, GPU-... and MIG-... ids; a typo is refused."""
    uuid = "GPU-8c4a1f2e-3b5d-4e6f-9a0b-1c2d3e4f5a6b"
    mig = "MIG-GPU-8c4a1f2e-3b5d-4e6f-9a0b-1c2d3e4f5a6b/1/0"
    assert gpus.parse_gpus(f"0, 3,{uuid},{mig}") == ["0", "3", uuid, mig]
    for typo in ("x", "cuda:0", "1.5", "-1"):
        with pytest.raises(UsageError, match="is not a GPU index or id"):
            gpus.parse_gpus(typo)


def test_all_prefers_the_allocation_then_nvidia_smi() -> None:
    smi = "GPU 0: NVIDIA A100 (UUID: GPU-1)\nGPU 1: NVIDIA A100 (UUID: GPU-2)\n"
    assert gpus.parse_gpus("all", {"CUDA_VISIBLE_DEVICES": "2,3"}, lambda: smi) == ["2", "3"]
    assert gpus.parse_gpus("all", {}, lambda: smi) == ["0", "1"]
    with pytest.raises(UsageError, match="no GPU found"):
        gpus.parse_gpus("all", {}, lambda: None)
    with pytest.raises(UsageError, match="CUDA_VISIBLE_DEVICES is empty"):
        gpus.parse_gpus("all", {"CUDA_VISIBLE_DEVICES": ""}, lambda: smi)


def test_worker_lines_drop_gpus_and_get_their_own_worker_id() -> None:
    raw = ["--gpus=0,1", "--worker-id", "w", "--gpus-per-task", "1", "-q", "--", "echo", "--gpus", "%(x)"]
    argv = gpus.worker_argv(raw, ["1"])
    assert argv[3:] == ["loop", "--worker-id", "w-gpu1", "-q", "--", "echo", "--gpus", "%(x)"]
    assert gpus.worker_argv([], ["0"], cmd="echo %(x)")[3:] == ["loop", "--cmd", "echo %(x)"]
