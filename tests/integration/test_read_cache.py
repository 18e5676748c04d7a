"""What a process remembers of files it read never outlives the files (fsqueue/store.py, cache.py)."""

from __future__ import annotations

from labtasker import api
from labtasker.fsqueue import claim, codec, tasks
from labtasker.fsqueue import store as queue_module
from labtasker.fsqueue.store import FsQueue


def test_a_claim_takes_the_task_as_it_is_now_not_as_first_read(queue: FsQueue) -> None:
    tasks.submit(queue, args={"lr": 0.1})
    (name,) = queue.names("pending")
    assert queue.read("pending", name)["args"] == {"lr": 0.1}  # remembered by this process
    path = queue.path / "pending" / name
    path.write_bytes(path.read_bytes().replace(b"lr: 0.1", b"lr: 0.2"))  # changed in place
    got = claim.Claimer(queue, "w1").claim()
    assert got.doc["args"] == {"lr": 0.2}
    assert codec.load((queue.path / "running" / got.name).read_bytes())["args"] == {"lr": 0.2}


def test_a_claimed_document_is_the_claimers_own_copy(queue: FsQueue) -> None:
    tasks.submit(queue, args={"lr": 0.1})
    (name,) = queue.names("pending")
    seen = queue.read("pending", name)
    got = claim.Claimer(queue, "w1").claim()
    assert got.doc is not seen and seen["status"] == "pending" and got.doc["status"] == "running"


def test_a_long_loop_remembers_a_bounded_number_of_documents(queue: FsQueue, monkeypatch) -> None:
    monkeypatch.setattr(queue_module, "READ_CACHE_MAX", 5)
    for i in range(12):
        tasks.submit(queue, args={"i": i})
    for name in queue.names("pending"):
        queue.read("pending", name)
    assert len(queue._cache) <= 5
    claimer = claim.Claimer(queue, "w1", accept=lambda doc: True)
    while claimer.claim() is not None:
        pass
    assert not any(d == "pending" for d, _ in queue._cache)  # claimed files are forgotten


def test_ls_sees_an_edit_made_in_place(project) -> None:
    queue = api.context(create=True).queue
    api.submit_tasks([{"args": {"i": i}} for i in range(150)])  # big enough to be cached
    assert len(api.ls_tasks(limit=1000).content) == 150
    (name, *_) = queue.names("pending")
    path = queue.path / "pending" / name
    path.write_bytes(path.read_bytes().replace(b"i: 0\n", b"i: 9\n", 1))
    assert [t.args["i"] for t in api.ls_tasks(limit=1000).content].count(9) == 2


def test_the_head_of_a_long_listing_is_the_head_of_the_full_order(project) -> None:
    api.submit_tasks([{"args": {"i": i}, "priority": i % 3} for i in range(40)])
    every = [t.task_id for t in api.ls_tasks(limit=1000).content]
    assert [t.task_id for t in api.ls_tasks(limit=3).content] == every[:3]
    assert [t.task_id for t in api.ls_tasks(limit=2, offset=1).content] == every[1:3]
