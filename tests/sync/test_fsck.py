"""``labtasker fsck``: every kind of problem found, fixed with ``repair``, and safe beside workers."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import time
from pathlib import Path

import pytest

from labtasker.fsqueue import claim, codec, layout, tasks
from labtasker.fsqueue.store import FsQueue
from labtasker.replicas.fsck import fsck
from tests.sync.replicas import Replica, check_invariants

HOUR = 3600


@pytest.fixture
def rep(tmp_path: Path) -> Replica:
    return Replica(tmp_path / "q", "node-a")


def kinds(replica: Replica, **kw: object) -> list[str]:
    return sorted(f.kind for f in fsck(replica.queue, **kw).left)  # type: ignore[arg-type]


def test_a_healthy_queue_is_clean(rep: Replica) -> None:
    tid = rep.submit()
    rep.run(tid)
    rep.submit()
    rep.claim()
    report = fsck(rep.queue)
    assert report.clean and report.found == []


def test_a_task_in_two_states_is_merged_by_the_rules(rep: Replica, tmp_path: Path) -> None:
    tid = rep.submit()
    (pending,) = rep.queue.names("pending")
    stale = (rep.path / "pending" / pending).read_bytes()
    rep.run(tid)
    (rep.path / "pending" / pending).write_bytes(stale)  # an old replica sent it back
    report = fsck(rep.queue)
    assert [f.kind for f in report.found] == ["two-states"] and not report.clean
    report = fsck(rep.queue, repair=True)
    assert report.clean and [f.kind for f in report.fixed] == ["two-states"]
    assert rep.where()[tid] == ["done"]


def test_a_long_expired_lease_goes_back_to_pending_with_the_reason(rep: Replica) -> None:
    tid = rep.submit()
    got = rep.claim()
    assert got is not None
    path = rep.path / "running" / got.name
    old = time.time() - 2 * HOUR
    os.utime(path, (old, old))
    assert kinds(rep) == ["expired-lease"]
    assert fsck(rep.queue, repair=True).clean
    doc = rep.doc(tid)
    assert (doc["dirname"], doc["retries"]) == ("pending", 1)
    assert "labtasker fsck" in doc["last_error"]


def test_another_nodes_run_is_reclaimed_only_when_asked(rep: Replica) -> None:
    other = FsQueue(rep.path, node="node-b")
    tid = rep.submit()
    got = claim.Claimer(other, "node-b.w").claim()
    assert got is not None
    old = time.time() - 3 * HOUR
    os.utime(rep.path / "running" / got.name, (old, old))
    report = fsck(rep.queue, repair=True)
    assert [f.kind for f in report.left] == ["expired-lease"] and "node node-b" in report.left[0].detail
    assert fsck(rep.queue, repair=True, all_nodes=True).clean
    assert rep.doc(tid)["dirname"] == "pending"


def test_leftovers_in_tmp_are_put_back_or_removed(rep: Replica) -> None:
    tid = rep.submit()
    (name,) = rep.queue.names("pending")
    held = rep.queue.tmp / layout.held_name("pending", name, rep.now().replace(year=2025), "123x00aa11")
    os.rename(rep.path / "pending" / name, held)
    junk = rep.queue.tmp / "w.deadbeef.tmp"
    junk.write_bytes(b"half a wri")
    old = time.time() - 3 * HOUR
    for path in (held, junk):
        os.utime(path, (old, old))
    assert kinds(rep) == ["tmp-leftover", "tmp-leftover"]
    assert fsck(rep.queue, repair=True).clean
    assert rep.where()[tid] == ["pending"] and not junk.exists()


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"", "empty file"),
        (b"task_id: [unclosed\n", "invalid YAML"),
        (b"<<<<<<< HEAD\ntask_id: x\n=======\ntask_id: y\n>>>>>>> other\n", "conflict markers"),
    ],
)
def test_unreadable_and_conflict_marked_files_are_quarantined(
    rep: Replica, content: bytes, detail: str
) -> None:
    rep.submit()
    bad = rep.path / "done" / "01bad--node-a.yaml"
    bad.write_bytes(content)
    report = fsck(rep.queue)
    assert [f.kind for f in report.found] == ["unreadable"] and detail in report.found[0].detail
    report = fsck(rep.queue, repair=True)
    assert report.clean and report.quarantined == 1 and not bad.exists()


def test_sync_conflict_copies_and_backups_are_folded_in(rep: Replica) -> None:
    tid = rep.submit()
    (name,) = rep.queue.names("pending")
    src = rep.path / "pending" / name
    stem = name[: -len(".yaml")]
    shutil.copy(src, src.with_name(f"{stem}.sync-conflict-20260301-101010-XYZ.yaml"))
    shutil.copy(src, src.with_name(name + "~"))
    assert kinds(rep) == ["conflict-copy", "conflict-copy"]
    assert fsck(rep.queue, repair=True).clean
    assert rep.where()[tid] == ["pending"]
    check_invariants(rep)


def test_misnamed_files_and_a_wrong_status_field_are_rewritten(rep: Replica) -> None:
    a, b = rep.submit(), rep.submit()
    rep.run(a)
    (done,) = rep.queue.names("done")
    os.rename(rep.path / "done" / done, rep.path / "done" / f"{a}--someone-else.yaml")
    (pending,) = rep.queue.names("pending")
    doc = codec.load((rep.path / "pending" / pending).read_bytes())
    os.unlink(rep.path / "pending" / pending)
    doc["status"] = "success"
    (rep.path / "failed" / layout.terminal_name(b, "node-a")).write_bytes(codec.dump(doc))
    (rep.path / "pending" / "notes.txt").write_text("not a task\n")
    assert kinds(rep) == ["misnamed", "not-a-task-file", "status-mismatch"]
    report = fsck(rep.queue, repair=True)
    assert report.clean, report.left
    assert rep.where() == {a: ["done"], b: ["failed"]}
    assert rep.doc(b)["status"] == "failed"


def _work(path: str, n: int) -> None:
    queue = FsQueue(path, node="node-a")
    claimer = claim.Claimer(queue, f"node-a.w{os.getpid()}")
    done = 0
    while done < n:
        got = claimer.claim()
        if got is None:
            time.sleep(0.001)
            continue
        tasks.finish(queue, got.name, "success", summary={"pid": os.getpid()})
        done += 1


def test_fsck_repair_beside_busy_workers_changes_nothing_it_should_not(rep: Replica) -> None:
    ids = tasks.submit_many(rep.queue, [{"args": {"i": i}} for i in range(300)])
    ctx = mp.get_context("fork")
    workers = [ctx.Process(target=_work, args=(str(rep.path), 150)) for _ in range(2)]
    for w in workers:
        w.start()
    checks = 0
    while any(w.is_alive() for w in workers):
        report = fsck(rep.queue, repair=True)
        assert report.found == [], report.found
        checks += 1
    for w in workers:
        w.join(10)
        assert w.exitcode == 0
    assert checks > 0
    assert {t: d for t, d in rep.where().items()} == {t: ["done"] for t in ids}
    assert fsck(rep.queue).clean and not os.listdir(rep.path / "quarantine")
