"""``labtasker sync`` with real git: a bare remote, clones of an experiment repo, offline work."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from labtasker.fsqueue import layout
from labtasker.replicas.git_sync import SyncError
from tests.sync.gitlab import Clone, clone, first_clone, git, make_remote
from tests.sync.replicas import check_invariants

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def lab(tmp_path: Path) -> tuple[Path, Clone]:
    remote = make_remote(tmp_path)
    a = first_clone(tmp_path, remote)
    return remote, a


def _assert_clean_repo(c: Clone) -> None:
    assert c.git("ls-files", "-u") == "", "unmerged paths"
    for rel, data in c.files().items():
        assert b"<<<<<<<" not in data and b">>>>>>>" not in data, rel
    check_invariants(c)


def _runs(c: Clone, tid: str) -> set[str]:
    """Who ran a task to an end, as this replica records it: the winner and every kept attempt."""
    doc = c.doc(tid)
    found = {doc["worker_id"]} if doc["dirname"] in ("done", "failed") else set()
    return found | {a["worker_id"] for a in c.attempts(tid) if a.get("worker_id")}


@pytest.mark.parametrize("order", list(itertools.permutations("abc")))
def test_two_nodes_run_the_same_tasks_offline_and_every_order_of_syncs_agrees(
    tmp_path: Path, lab: tuple[Path, Clone], order: tuple[str, ...]
) -> None:
    remote, a = lab
    tids = [a.submit(args={"lr": lr}) for lr in (0.1, 0.2, 0.3)]
    a.sync()
    b, c = clone(tmp_path, remote, "b"), clone(tmp_path, remote, "c")
    nodes = {"a": a, "b": b, "c": c}
    assert len({a.node, b.node, c.node}) == 3, "each clone has its own node id"
    for node in (a, b):  # offline: both run every task
        for tid in tids:
            assert node.run(tid, acc=len(node.node)) == tid
    c.edit(tids[0], {"metadata": {"seen_by": "c"}})  # an edit on the third clone meanwhile
    for name in (*order, *order):
        nodes[name].sync()
    states = [n.files() for n in (a, b, c)]
    assert states[0] == states[1] == states[2]
    for n in (a, b, c):
        _assert_clean_repo(n)
        for tid in tids:
            assert n.where()[tid] == ["done"]
            assert _runs(n, tid) == {f"{a.node}.w", f"{b.node}.w"}, "every run accounted for"
        assert n.doc(tids[0])["metadata"] == {"seen_by": "c"}
    assert all(not n.sync().changed for n in (a, b, c)), "nothing left to do"


def test_a_requeue_beats_the_other_nodes_stale_success(tmp_path: Path, lab: tuple[Path, Clone]) -> None:
    remote, a = lab
    tid = a.submit(args={"lr": 0.1})
    a.sync()
    b = clone(tmp_path, remote, "b")
    a.run(tid, status="failed")  # a fails it once, and re-queues it by hand
    a.run(tid, status="failed")
    a.run(tid, status="failed")
    assert a.where()[tid] == ["failed"]
    b.run(tid, acc=0.5)  # meanwhile b's stale run succeeds
    b.sync()
    a.requeue(tid)  # made before a saw b's success: still the user's explicit word
    a.sync()
    b.sync()
    for n in (a, b):
        doc = n.doc(tid)
        assert (doc["dirname"], doc["retries"]) == ("pending", 0)
        kept = {(r["status"], r["worker_id"]) for r in n.attempts(tid)}
        assert kept == {("success", f"{b.node}.w"), ("failed", f"{a.node}.w")}
    assert a.files() == b.files()


def test_a_requeue_after_seeing_the_success_wins_too(tmp_path: Path, lab: tuple[Path, Clone]) -> None:
    remote, a = lab
    tid = a.submit()
    a.sync()
    b = clone(tmp_path, remote, "b")
    b.run(tid)
    b.sync()
    a.sync()
    assert a.where()[tid] == ["done"]
    a.requeue(tid)
    a.sync()
    b.sync()
    assert b.where()[tid] == ["pending"] and a.files() == b.files()
    assert [r["status"] for r in b.attempts(tid)] == ["success"]


def test_sync_never_commits_a_users_file(tmp_path: Path, lab: tuple[Path, Clone]) -> None:
    remote, a = lab
    repo = a.repo
    (repo / "train.py").write_text("print('changed, not staged')\n")
    (repo / "staged.py").write_text("x = 1\n")
    git(repo, "add", "staged.py")
    (repo / "untracked.txt").write_text("notes\n")
    a.submit(args={"lr": 1})
    a.sync()
    files = git(repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert "staged.py" not in files and "untracked.txt" not in files
    assert git(repo, "show", "HEAD:train.py") == "print('train')"
    status = git(repo, "status", "--porcelain").splitlines()
    assert " M train.py" in status and "A  staged.py" in status and "?? untracked.txt" in status
    assert not any(".labtasker/queues" in line for line in status), status
    assert not any("node_id" in f or "/tmp/" in f for f in files)


def test_sync_twice_does_nothing_the_second_time(lab: tuple[Path, Clone]) -> None:
    _, a = lab
    a.submit()
    assert a.sync().changed
    head = a.git("rev-parse", "HEAD")
    assert not a.sync().changed
    assert a.git("rev-parse", "HEAD") == head


def test_an_unreachable_remote_is_reported_and_the_queue_stays_usable(
    tmp_path: Path, lab: tuple[Path, Clone]
) -> None:
    remote, a = lab
    tid = a.submit()
    a.sync()
    shutil.move(remote, tmp_path / "unplugged.git")
    a.run(tid)
    before = a.files()
    with pytest.raises(SyncError, match="cannot reach origin.*still usable"):
        a.sync()
    assert a.files() == before
    assert a.where()[tid] == ["done"]
    a.submit()  # still a working queue
    shutil.move(tmp_path / "unplugged.git", remote)
    assert a.sync().pushed


def test_the_users_own_changes_merge_like_git_and_a_clash_stops_before_touching_anything(
    tmp_path: Path, lab: tuple[Path, Clone]
) -> None:
    remote, a = lab
    a.sync()
    b = clone(tmp_path, remote, "b")
    (b.repo / "model.py").write_text("m = 1\n")
    git(b.repo, "add", "model.py")
    git(b.repo, "commit", "-q", "-m", "model")
    b.submit()
    b.sync()
    tid = a.submit()
    a.sync()  # brings model.py along
    assert (a.repo / "model.py").read_text() == "m = 1\n"
    (a.repo / "train.py").write_text("print('a')\n")
    git(a.repo, "commit", "-q", "-am", "a's train")
    b.sync()
    (b.repo / "train.py").write_text("print('b')\n")
    git(b.repo, "commit", "-q", "-am", "b's train")
    b.sync()
    a.run(tid)
    before = a.files()
    with pytest.raises(SyncError, match="train.py changed on both sides"):
        a.sync()
    assert a.files() == before and a.where()[tid] == ["done"]


def test_a_fresh_clone_gets_its_own_ignored_node_id(tmp_path: Path, lab: tuple[Path, Clone]) -> None:
    remote, a = lab
    a.sync()
    b = clone(tmp_path, remote, "b")
    assert (b.repo / ".labtasker" / "node_id").read_text().strip() == b.node != a.node
    assert git(b.repo, "check-ignore", ".labtasker/node_id") == ".labtasker/node_id"
    tid = b.submit()
    b.run(tid)
    names = [n for n in b.queue.names("done") if n.startswith(tid)]
    assert names == [layout.terminal_name(tid, b.node)]


def test_conflict_marked_files_from_a_hand_merge_are_quarantined_not_merged(
    tmp_path: Path, lab: tuple[Path, Clone]
) -> None:
    remote, a = lab
    tid = a.submit()
    a.sync()
    b = clone(tmp_path, remote, "b")
    (name,) = b.queue.names("pending")
    path = b.path / "pending" / name
    path.write_text("<<<<<<< HEAD\n" + path.read_text() + "=======\nbroken\n>>>>>>> other\n")
    git(b.repo, "commit", "-q", "-am", "a bad hand merge")
    b.sync()
    a.sync()  # the broken copy is set aside; a's good version stands and is pushed
    b.sync()
    for n in (a, b):
        assert n.where()[tid] == ["pending"]
        assert b"<<<<<<<" not in (n.path / "pending" / name).read_bytes()
    assert any(name in q.name for q in (a.path / "quarantine").iterdir())
    assert "<<<<<<<" not in git(a.repo, "show", f"HEAD:.labtasker/queues/default/pending/{name}")


def test_a_queue_that_is_a_repository_of_its_own_and_two_unrelated_starts(tmp_path: Path) -> None:
    from labtasker.replicas.git_sync import sync
    from tests.sync.replicas import Replica

    remote = make_remote(tmp_path)
    one = Replica(tmp_path / "one", "node-1")
    git(one.path, "init", "-q", "-b", "main")
    (one.path / "README.md").write_text("the sweep's queue\n")  # the user's, never committed by sync
    tid = one.submit()
    git(one.path, "remote", "add", "origin", str(remote))
    sync(one.queue)
    two = Replica(tmp_path / "two", "node-2")  # started apart: its own queue.yaml, no common history
    git(two.path, "init", "-q", "-b", "main")
    git(two.path, "remote", "add", "origin", str(remote))
    other = two.submit()
    sync(two.queue)
    sync(one.queue)
    assert {k: v for k, v in one.files().items() if k != "README.md"} == two.files()
    assert set(one.where()) == {tid, other}
    assert "README.md" not in git(one.path, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert (two.path / ".gitignore").read_text().startswith("# local to this replica")


def _busy_worker(path: str, node: str, n: int) -> None:
    from labtasker.fsqueue import claim, tasks
    from labtasker.fsqueue.store import FsQueue

    queue = FsQueue(path, node=node)
    claimer = claim.Claimer(queue, f"{node}.busy")
    for _ in range(n):
        got = claimer.claim()
        if got is not None:
            tasks.finish(queue, got.name, "success")


def test_sync_while_a_loop_runs_loses_nothing(tmp_path: Path, lab: tuple[Path, Clone]) -> None:
    import multiprocessing as mp

    from labtasker.fsqueue import tasks

    remote, a = lab
    ids = tasks.submit_many(a.queue, [{"args": {"i": i}} for i in range(200)])
    a.sync()
    b = clone(tmp_path, remote, "b")
    for tid in ids[:20]:
        b.run(tid)
    b.sync()
    worker = mp.get_context("fork").Process(target=_busy_worker, args=(str(a.path), a.node, 400))
    worker.start()
    syncs = 0
    while worker.is_alive() or syncs < 2:
        a.sync()
        syncs += 1
    worker.join(30)
    assert worker.exitcode == 0
    a.sync()
    b.sync()
    assert a.files() == b.files()
    for n in (a, b):
        _assert_clean_repo(n)
        assert set(n.where()) == set(ids) and all(d == ["done"] for d in n.where().values())
        assert not (n.path / "quarantine").exists() or not list((n.path / "quarantine").iterdir())
