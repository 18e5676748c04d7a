"""``labtasker loop --wait`` and ``run_loop(wait=True)``: idle loops wake on new tasks, not by polling."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

import labtasker
from labtasker import config
from labtasker.fsqueue.store import FsQueue
from labtasker.worker import required, runner
from tests.leases.conftest import BIN, Procs, finished, state, wait_for


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads CPU time from /proc")
def test_loop_wait_wakes_on_a_new_task_and_idles_cheaply(project: Path, queue: FsQueue, procs: Procs) -> None:
    # default lease settings: sweeps every 5 s, so only a file event can wake the loop sooner
    loop = procs.start(
        project,
        [
            str(BIN / "labtasker"),
            "loop",
            "--wait",
            "--",
            sys.executable,
            "-c",
            "import sys; print('ran', sys.argv[1])",
            "%(x)",
        ],
        name="loop",
    )
    wait_for(lambda: os.listdir(queue.path / "workers"), "the loop to start")
    time.sleep(0.5)  # let it settle into waiting
    before = _cpu_seconds(loop.pid)
    time.sleep(1.5)
    assert _cpu_seconds(loop.pid) - before < 0.15  # idle, not polling
    submitted = time.monotonic()
    tid = labtasker.submit_task(args={"x": 7}).task_id
    wait_for(lambda: state(queue, tid) == "done", "the waiting loop to run the new task", timeout=10)
    assert time.monotonic() - submitted < 2.0  # woken by the event, well before its next sweep
    assert "ran 7" in procs.text("loop", "out")
    loop.send_signal(signal.SIGINT)
    assert finished(loop, timeout=10) == 130


def test_run_loop_wait_in_python(project: Path, queue: FsQueue) -> None:
    (project / ".labtasker" / "config.toml").write_text(
        config.render("default", loop={"heartbeat_interval": 5}), encoding="utf-8"
    )
    seen: list[int] = []

    def job(run: runner.Run) -> None:
        if run.task.args["x"] == 0:
            raise runner.StopLoop  # the way to end a waiting loop from inside
        seen.append(run.task.args["x"])

    def loop() -> None:
        with pytest.raises(runner.StopLoop):
            labtasker.api.run_loop(job, required.build_tree(["x"]), wait=True)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        wait_for(lambda: os.listdir(queue.path / "workers"), "the loop to start")
        for x in (1, 2):
            labtasker.submit_task(args={"x": x})
            wait_for(lambda x=x: x in seen, f"task {x} to run", timeout=10)
    finally:
        stop = labtasker.submit_task(args={"x": 0}, priority=-1).task_id
        thread.join(10)
    assert seen == [1, 2]
    assert not thread.is_alive()
    assert state(queue, stop) == "pending"  # a stopped loop gives its task back
