"""The queue core on a real directory: order, retries, races, bad files, recovery."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import labtasker
from labtasker import config, run_context
from labtasker.errors import InvalidTransition, LeaseLost, TaskNotFound
from labtasker.fsqueue import claim, clock, held, layout, tasks, transitions, workers
from labtasker.fsqueue.store import FsQueue

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def claim_all(queue: FsQueue) -> list[str]:
    claimer = claim.Claimer(queue, "w1")
    order = []
    while (got := claimer.claim()) is not None:
        order.append(got.doc["args"]["n"])
        tasks.finish(queue, got.name, "success")
    return order


def test_claim_order_is_priority_then_age(queue: FsQueue) -> None:
    for n, prio, minute in [("a", 0, 3), ("b", 5, 4), ("c", 0, 1), ("d", -1, 0), ("e", 5, 5)]:
        tasks.submit(queue, args={"n": n}, priority=prio, now=T0 + timedelta(minutes=minute))
    assert claim_all(queue) == ["b", "e", "c", "a", "d"]


def test_a_failed_attempt_goes_behind_its_peers(queue: FsQueue) -> None:
    for n in "abc":
        tasks.submit(queue, args={"n": n})
    claimer = claim.Claimer(queue, "w1")
    first = claimer.claim()
    tasks.finish(queue, first.name, "failed", error="boom", backoff=0)
    assert claim_all(queue) == ["b", "c", "a"]


def test_a_failed_task_waits_for_its_retry_while_others_go_first(queue: FsQueue) -> None:
    for n in "ab":
        tasks.submit(queue, args={"n": n})
    claimer = claim.Claimer(queue, "w1")
    first = claimer.claim()
    failed_at = clock.now()
    tasks.finish(queue, first.name, "failed", error="boom", backoff=30, now=failed_at)
    assert claimer.claim().doc["args"]["n"] == "b"
    assert claimer.claim() is None  # a is not due yet...
    assert claimer.next_retry() == failed_at + timedelta(seconds=30)  # ...and the claimer knows when it is
    assert claim.Claimer(queue, "w2").claim(now=failed_at + timedelta(seconds=31)).doc["args"]["n"] == "a"


def test_the_backoff_grows_and_is_capped() -> None:
    assert [transitions.retry_delay(n, 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert transitions.retry_delay(20, 1.0) == transitions.RETRY_BACKOFF_CAP
    assert transitions.retry_delay(3, 0) == 0


def test_filtered_claim_skips_without_taking(queue: FsQueue) -> None:
    for n in "abcd":
        tasks.submit(queue, args={"n": n})
    claimer = claim.Claimer(queue, "w1", accept=lambda d: d["args"]["n"] in "bd")
    got = [claimer.claim().doc["args"]["n"], claimer.claim().doc["args"]["n"]]
    assert got == ["b", "d"] and claimer.claim() is None
    assert queue.count()["pending"] == 2 and os.listdir(queue.path / "tmp") == []


def test_claim_finds_tasks_submitted_after_its_listing(queue: FsQueue) -> None:
    claimer = claim.Claimer(queue, "w1", relist_after=3600)
    assert claimer.claim() is None
    tasks.submit(queue, args={"n": "late"})
    assert claimer.claim().doc["args"]["n"] == "late"


def test_claimed_task_records_worker_and_start(queue: FsQueue) -> None:
    tid = tasks.submit(queue, args={"n": 1})["task_id"]
    got = claim.Claimer(queue, "w7").claim(now=T0)
    assert got.name == layout.running_name(tid, "w7")
    assert (got.doc["status"], got.doc["worker_id"], got.doc["start_time"]) == ("running", "w7", T0)


def test_finishing_a_task_that_was_cancelled_keeps_the_result_apart(queue: FsQueue) -> None:
    tid = tasks.submit(queue, args={"n": 1})["task_id"]
    got = claim.Claimer(queue, "w1").claim()
    tasks.update(queue, tid, {"status": "cancelled"})
    with pytest.raises(LeaseLost, match="attempts/"):
        tasks.finish(queue, got.name, "success", summary={"acc": 1})
    assert queue.find(tid).dirname == "cancelled"
    (attempt,) = queue.iter_docs(["attempts"])
    assert attempt.doc["summary"] == {"acc": 1} and attempt.doc["task_id"] == tid


def test_invalid_status_change_is_refused_and_nothing_moves(queue: FsQueue) -> None:
    tid = tasks.submit(queue, args={"n": 1})["task_id"]
    with pytest.raises(InvalidTransition):
        tasks.update(queue, tid, {"status": "success"})
    assert queue.find(tid).dirname == "pending" and os.listdir(queue.path / "tmp") == []


def test_unknown_task_is_task_not_found(queue: FsQueue) -> None:
    with pytest.raises(TaskNotFound, match="no task with id 'nope'"):
        tasks.update(queue, "nope", {"priority": 1})


def test_delete_leaves_a_tombstone(queue: FsQueue) -> None:
    tid = tasks.submit(queue, args={"n": 1})["task_id"]
    tasks.delete(queue, tid)
    assert queue.find(tid) is None
    (tomb,) = queue.iter_docs(["deleted"])
    assert tomb.doc["task_id"] == tid and tomb.doc["task"]["args"] == {"n": 1}


def test_priority_change_reorders_the_pending_listing(queue: FsQueue) -> None:
    for n in "ab":
        tasks.submit(queue, args={"n": n})
    tid_b = queue.find(next(iter(queue.iter_docs(["pending"]))).doc["task_id"])
    b = [d for d in queue.iter_docs(["pending"]) if d.doc["args"]["n"] == "b"][0]
    tasks.update(queue, b.doc["task_id"], {"priority": 100})
    assert claim_all(queue) == ["b", "a"] and tid_b is not None


@pytest.mark.parametrize(
    "content", [b"", b"task_id: [unclosed", b"<<<<<<< HEAD\ntask_id: a\n=======\n>>>>>>> b\n", b"just text"]
)
def test_unreadable_file_is_quarantined_not_fatal(queue: FsQueue, content: bytes, caplog) -> None:
    tasks.submit(queue, args={"n": "good"})
    bad = queue.path / "pending" / layout.pending_name(0, T0, "01bad")
    bad.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="labtasker"):
        listed = [t.args for t in labtasker.ls_tasks().content]
        order = claim_all(queue)
    assert listed == [{"n": "good"}] and order == ["good"]
    (moved,) = os.listdir(queue.path / "quarantine")
    assert moved.endswith(bad.name) and (queue.path / "quarantine" / moved).read_bytes() == content
    assert "quarantined" in caplog.text


def test_truncated_file_is_quarantined_when_claimed(queue: FsQueue) -> None:
    tid = tasks.submit(queue, args={"n": 1})["task_id"]
    (path,) = (queue.path / "pending").iterdir()
    path.write_bytes(path.read_bytes()[:25])  # cut mid-document
    assert claim.Claimer(queue, "w1").claim() is None
    assert queue.find(tid) is None and len(os.listdir(queue.path / "quarantine")) == 1


class _Float64(float):  # what numpy scalars look like to us: a numpy type with tolist()
    __module__ = "numpy"

    def tolist(self) -> float:
        return float(self)


class _Array(list):
    __module__ = "numpy"

    def tolist(self) -> list:
        return list(self)


def test_numpy_values_are_stored_as_plain_numbers(project: Path) -> None:
    tid = labtasker.submit_task(args={"lr": _Float64(0.5), "dims": _Array([0, 1, 2])}).task_id
    assert labtasker.get_task(tid).args == {"lr": 0.5, "dims": [0, 1, 2]}


def test_junk_in_state_dirs_is_ignored(queue: FsQueue) -> None:
    tasks.submit(queue, args={"n": 1})
    for junk in (".nfs000123", "x.yaml.sync-conflict-1.yaml", "w.abc.tmp", ".hidden.yaml", "a.yaml~"):
        (queue.path / "pending" / junk).write_text("garbage")
    assert len(labtasker.ls_tasks().content) == 1
    assert queue.count()["pending"] == 1


def _dead_holder() -> tuple[str, str]:
    """(host, token) of a process of this host that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = held.start_ticks(child.pid)
    child.wait()
    return held.me()[0], f"{child.pid}-{start or 1}-00"


def test_a_task_left_in_hand_by_a_dead_process_goes_back(queue: FsQueue) -> None:
    tid = tasks.submit(queue, args={"n": 1})["task_id"]
    (name,) = os.listdir(queue.path / "pending")
    path = queue.tmp / layout.held_name("pending", name, *_dead_holder())
    os.rename(queue.path / "pending" / name, path)  # what a take looks like mid-way
    assert queue.recover_held() == [path.name]  # dead on this host: at once
    assert queue.find(tid).dirname == "pending"


def test_a_task_held_on_another_host_goes_back_by_the_filesystem_clock(queue: FsQueue) -> None:
    tid = tasks.submit(queue, args={"n": 1})["task_id"]
    (name,) = os.listdir(queue.path / "pending")
    path = queue.tmp / layout.held_name("pending", name, "h00000000", "1-1-00")
    os.rename(queue.path / "pending" / name, path)
    assert queue.recover_held() == []  # maybe alive over there
    found = queue.find(tid)
    assert found.dirname == "pending" and found.busy  # still listed where it was
    os.utime(path, (0, 0))  # an ancient mtime is not enough: the rename set the ctime
    assert queue.settle_held() == []
    deadline = time.monotonic() + 5
    while not (settled := queue.settle_held(older_than=0.01)) and time.monotonic() < deadline:
        time.sleep(0.01)  # until the filesystem's clock is 10 ms past the file's ctime
    assert settled == [path.name]
    assert not queue.find(tid).busy


def test_a_held_duplicate_of_a_published_task_is_dropped(queue: FsQueue) -> None:
    tid = tasks.submit(queue, args={"n": 1})["task_id"]
    (name,) = os.listdir(queue.path / "pending")
    path = queue.tmp / layout.held_name("pending", name, *_dead_holder())
    path.write_bytes((queue.path / "pending" / name).read_bytes())  # died after publishing
    queue.recover_held()
    assert not path.exists() and queue.count()["pending"] == 1 and queue.find(tid)


def test_worker_crashes_after_consecutive_failures(queue: FsQueue) -> None:
    wid = workers.create(queue, max_retries=2)["worker_id"]
    workers.record_failure(queue, wid)
    workers.record_success(queue, wid)
    assert workers.get(queue, wid)["retries"] == 0
    workers.record_failure(queue, wid)
    assert workers.record_failure(queue, wid)["status"] == "crashed"


def test_loop_stops_when_its_worker_crashes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(5):
        labtasker.submit_task(args={"i": i})

    @labtasker.loop()
    def main(i: int = labtasker.Required()):
        raise RuntimeError("broken GPU")

    with pytest.raises(labtasker.LoopStopped) as stopped:
        main()
    assert stopped.value.code == 1  # the calling script sees it: exit status 1
    tally = stopped.value.tally
    assert tally.failed == 3 and "3 different tasks failed in a row" in tally.crashed
    assert labtasker.ls_workers().content[0].status == "crashed"
    err = capsys.readouterr().err
    assert err.count("was marked crashed") == 1 and "loop finished: 0 done, 3 failed\n" in err


def test_a_crash_can_be_returned_instead_of_raised(project: Path) -> None:
    for i in range(4):
        labtasker.submit_task(args={"i": i})

    @labtasker.loop(exit_on_crash=False, quiet=True)
    def main(i: int = labtasker.Required()):
        raise RuntimeError("broken GPU")

    tally = main()
    assert tally.failed == 3 and tally.crashed


def test_submit_refuses_bad_input_and_writes_nothing(project: Path) -> None:
    with pytest.raises(ValueError, match="invalid key 'a b'"):
        labtasker.submit_task(args={"a b": 1})
    with pytest.raises(ValueError, match="args.x"):
        labtasker.submit_task(args={"x": object()})
    assert labtasker.ls_tasks().content == []


# ------------------------------------------------------------ where the queue lives
def test_zero_config_creates_a_root_and_says_so(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert labtasker.ls_tasks().content == []  # reading creates nothing
    assert not (tmp_path / ".labtasker").exists()
    labtasker.submit_task(args={"x": 1})
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "created" in err and ".labtasker" in err
    assert (tmp_path / ".labtasker" / "config.toml").is_file()
    assert "node_id" in (tmp_path / ".labtasker" / ".gitignore").read_text()
    assert len(os.listdir(tmp_path / ".labtasker" / "queues" / "default" / "pending")) == 1


def test_root_is_found_walking_up(project: Path, monkeypatch) -> None:
    labtasker.submit_task(args={"x": 1})
    deep = project / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    run_context._queues.clear()
    assert config.find_root() == project / ".labtasker"
    assert len(labtasker.ls_tasks().content) == 1


def test_labtasker_root_and_queue_dir_env(project: Path, tmp_path: Path, monkeypatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("LABTASKER_ROOT", str(project))
    labtasker.submit_task(args={"x": 1})
    assert not (elsewhere / ".labtasker").exists()
    nfs = tmp_path / "nfs-queue"
    monkeypatch.setenv("LABTASKER_QUEUE_DIR", str(nfs))
    labtasker.submit_task(args={"x": 2})
    assert len(os.listdir(nfs / "pending")) == 1
    assert [t.args for t in labtasker.ls_tasks().content] == [{"x": 2}]


def test_queue_dir_in_config(project: Path, tmp_path: Path) -> None:
    (project / ".labtasker" / "config.toml").write_text('queue_name = "sweep"\nqueue_dir = "../shared-q"\n')
    labtasker.submit_task(args={"x": 1})
    assert len(os.listdir(tmp_path / "shared-q" / "pending")) == 1
    assert labtasker.get_queue().queue_name == "sweep"


def test_bad_config_is_one_clear_error(project: Path) -> None:
    (project / ".labtasker" / "config.toml").write_text("queue_name = [\n")
    with pytest.raises(config.ConfigError, match="config.toml"):
        labtasker.ls_tasks()


def test_queues_can_be_created_listed_and_deleted(project: Path) -> None:
    labtasker.create_queue("other", metadata={"owner": "me"})
    names = sorted(q.queue_name for q in labtasker.ls_queues())
    assert names == ["default", "other"]
    labtasker.delete_queue("other")
    assert [q.queue_name for q in labtasker.ls_queues()] == ["default"]


def test_loop_writes_task_info_for_subprocesses(project: Path) -> None:
    import subprocess
    import sys

    labtasker.submit_task(args={"x": 5})
    out = {}

    @labtasker.loop()
    def main(x: int = labtasker.Required()):
        run = run_context.current_run()
        code = "import labtasker; t = labtasker.task_info(); print(t.task_id, t.args['x'])"
        res = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, **run.env()},
            capture_output=True,
            text=True,
            check=True,
        )
        out["child"] = res.stdout.split()
        out["id"] = labtasker.task_info().task_id
        print("hello from the job")

    main()
    assert out["child"] == [out["id"], "5"]
    (log_dir,) = (project / ".labtasker" / "logs" / "run").iterdir()
    assert "hello from the job" in (log_dir / "run.log").read_text()


def test_python_loop_can_wait_for_new_tasks(project: Path) -> None:
    import threading
    import time

    labtasker.submit_task(args={"i": 1})
    ran: list[int] = []

    @labtasker.loop(wait=True, max_tasks=2)
    def main(i: int = labtasker.Required()):
        ran.append(i)

    worker = threading.Thread(target=main, daemon=True)
    worker.start()
    deadline = time.monotonic() + 20
    while ran != [1] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ran == [1] and worker.is_alive()  # the queue is empty, and the loop waits
    labtasker.submit_task(args={"i": 2})
    worker.join(timeout=20)
    assert ran == [1, 2] and not worker.is_alive()
