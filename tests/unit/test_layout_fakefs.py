"""The on-disk layout, checked on pyfakefs: what a person sees with ls and cat."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from labtasker.fsqueue import claim, codec, held, tasks
from labtasker.fsqueue.store import FsQueue

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def fake_queue(fs) -> Iterator[FsQueue]:
    yield FsQueue.create("/q", "demo", node="node-a", now=T0)
    # This process's name in held files was made from the fake /proc (a host of the hostname):
    # forget it, or every later test of this worker process would call its own children strangers.
    held._me.clear()


def listing(queue: FsQueue) -> dict[str, list[str]]:
    return {
        d: sorted(p.name for p in (queue.path / d).iterdir())
        for d in ("pending", "running", "done", "failed", "cancelled", "attempts", "tmp")
    }


def test_a_new_queue_has_its_directories_and_description(fake_queue: FsQueue) -> None:
    info = codec.load((fake_queue.path / "queue.yaml").read_bytes())
    assert info == {"queue_name": "demo", "format": 1, "created_at": T0, "metadata": {}}
    assert all(not names for names in listing(fake_queue).values())


def test_a_task_walks_through_the_state_directories(fake_queue: FsQueue) -> None:
    doc = tasks.submit(fake_queue, task_name="grid", args={"lr": 0.1}, priority=3, now=T0)
    tid = doc["task_id"]
    assert listing(fake_queue)["pending"] == [f"099999997.20261120T120000000000Z--{tid}.yaml"]
    text = (fake_queue.path / "pending" / listing(fake_queue)["pending"][0]).read_text()
    assert text.startswith(f"task_id: {tid}\ntask_name: grid\nstatus: pending\npriority: 3\n")
    got = claim.Claimer(fake_queue, "node-a.w1").claim(now=T0)
    assert listing(fake_queue)["running"] == [f"{tid}--node-a.w1.yaml"] == [got.name]
    tasks.finish(fake_queue, got.name, "success", summary={"acc": 0.9}, now=T0)
    assert listing(fake_queue)["done"] == [f"{tid}--node-a.yaml"]
    done = codec.load((fake_queue.path / "done" / f"{tid}--node-a.yaml").read_bytes())
    assert (done["status"], done["summary"], done["rev"], done["node"]) == (
        "success",
        {"acc": 0.9},
        3,
        "node-a",
    )
    assert listing(fake_queue)["tmp"] == []  # nothing left in hand


def test_failure_with_retries_left_goes_back_to_pending(fake_queue: FsQueue) -> None:
    tid = tasks.submit(fake_queue, args={"x": 1}, max_retries=2, now=T0)["task_id"]
    got = claim.Claimer(fake_queue, "w").claim(now=T0)
    tasks.finish(fake_queue, got.name, "failed", error="Traceback: boom", now=T0)
    (name,) = listing(fake_queue)["pending"]
    back = codec.load((fake_queue.path / "pending" / name).read_bytes())
    assert (back["retries"], back["last_error"], back["worker_id"]) == (1, "Traceback: boom", None)
    assert claim.Claimer(fake_queue, "w").claim(now=T0) is None  # it waits for its retry (backoff)
    assert back["retry_at"] == T0 + timedelta(seconds=1)
    got = claim.Claimer(fake_queue, "w").claim(now=back["retry_at"])
    tasks.finish(fake_queue, got.name, "failed", error="again", now=T0)
    assert listing(fake_queue)["failed"] == [f"{tid}--node-a.yaml"]
