"""labtasker-server serve: waits for its queue, puts back what dead processes held, stops cleanly."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import labtasker
from labtasker import config
from labtasker.fsqueue import layout
from labtasker.fsqueue.store import FsQueue
from tests.leases.conftest import Procs, finished, wait_for

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_it_stops_cleanly_on_sigterm_and_sigint(fast: Path, queue: FsQueue, procs: Procs, sig: int) -> None:
    monitor = procs.monitor(fast)
    wait_for(lambda: "monitoring" in procs.text("monitor"), "the monitor to start")
    wait_for(lambda: [n for n in os.listdir(queue.tmp) if n.startswith("clock.")], "its first sweep")
    monitor.send_signal(sig)
    assert finished(monitor, timeout=10) == 0
    assert "monitor stopped after" in procs.text("monitor")
    assert not [n for n in os.listdir(queue.tmp) if n.startswith("clock.")]  # it cleaned up after itself


def test_a_task_left_in_hand_on_another_host_goes_back(fast: Path, queue: FsQueue, procs: Procs) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    name = queue.names("pending")[0]
    # a process of another host took the file to change it, then died: it sits in tmp/
    held = layout.held_name("pending", name, "h00000000", "4242-1-de")
    os.rename(queue.path / "pending" / name, queue.tmp / held)
    found = queue.find(tid)
    assert found is not None and found.busy and found.dirname == "pending"  # in hand, still listed
    procs.monitor(fast, "--tmp-age", "2s")
    wait_for(lambda: not queue.find(tid).busy, "the monitor to put the task back")
    assert labtasker.get_task(tid).retries == 0
    # the line follows the move
    wait_for(lambda: f"recovered tmp/{held}" in procs.text("monitor"), "the monitor to log it")


def test_it_waits_for_the_queue_that_init_creates(tmp_path: Path, procs: Procs) -> None:
    """The usage document starts `labtasker-server serve &` before `labtasker init`."""
    folder = tmp_path / "empty"
    folder.mkdir()
    monitor = procs.monitor(folder)
    wait_for(lambda: "waiting for it" in procs.text("monitor"), "the monitor to wait")
    root = config.init_root(folder)
    cfg = config.load(root)
    FsQueue.create(cfg.resolved_queue_dir(), cfg.queue_name, node=config.node_id(root))
    wait_for(lambda: "monitoring" in procs.text("monitor"), "the monitor to find the queue")
    monitor.send_signal(signal.SIGTERM)
    assert finished(monitor, timeout=10) == 0


def test_bad_options_are_one_line(fast: Path, procs: Procs) -> None:
    monitor = procs.monitor(fast, "--tmp-age", "soon")
    assert finished(monitor) == 2
    assert procs.text("monitor").strip().splitlines() == [
        "labtasker: error: invalid value 'soon' for --tmp-age: not a duration: 'soon' "
        "(write e.g. 90, 90s, 45m, 1h30m, 2d)"
    ]
