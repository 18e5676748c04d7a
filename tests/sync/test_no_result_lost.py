"""Across machines, no result is ever lost or mislabelled (issue #20).

Three clones of one queue work offline, then exchange their files, by
``labtasker sync`` (real git) or by the documented rsync recipe plus
``labtasker reconcile`` (real rsync), in several orders. Each test is one
surprise a user met, checked the way the user checks it: the CLI's
``task ls``, ``task history`` and ``task ls --deleted`` in every clone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.sync.gitlab import Clone, clone, first_clone, make_remote
from tests.sync.replicas import check_invariants, rsync_into

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or shutil.which("rsync") is None, reason="needs git and rsync"
)
ORDERS = ("abc", "cab", "bca")


def _git_exchange(nodes: dict[str, Clone], order: str) -> None:
    for name in order * 2:
        nodes[name].sync()


def _rsync_exchange(nodes: dict[str, Clone], order: str) -> None:
    for _ in range(2):
        for src in order:
            for dst in order:
                if src != dst:
                    rsync_into(nodes[src].path, nodes[dst].path)
                    nodes[dst].reconcile()


EXCHANGES: dict[str, Callable[[dict[str, Clone], str], None]] = {
    "git": _git_exchange,
    "rsync": _rsync_exchange,
}


@pytest.fixture(params=[(t, o) for t in EXCHANGES for o in ORDERS], ids=lambda p: f"{p[0]}-{p[1]}")
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, Clone], Callable[[], None]]:
    """Three clones a, b, c of one queue, and the exchange that brings them together."""
    transport, order = request.param
    remote = make_remote(tmp_path)
    a = first_clone(tmp_path, remote, node="node-a")
    a.sync()
    nodes = {
        "a": a,
        "b": clone(tmp_path, remote, "b", node="node-b"),
        "c": clone(tmp_path, remote, "c", node="node-c"),
    }

    def exchange() -> None:
        EXCHANGES[transport](nodes, order)
        states = [n.files() for n in nodes.values()]
        assert states[0] == states[1] == states[2], "the clones agree"
        for node in nodes.values():
            check_invariants(node)
            assert not node.reconcile().changed, "a second look changes nothing"

    return nodes, exchange


def _share(nodes: dict[str, Clone]) -> None:
    """The first exchange, before anyone works offline."""
    nodes["a"].sync()
    for name in "bc":
        nodes[name].sync()


def lt(node: Clone, *argv: str) -> str:
    """``labtasker ARGV`` run in the clone, as a user types it; its stdout."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "labtasker", *argv], cwd=node.repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"labtasker {' '.join(argv)}: {done.stderr}"
    return done.stdout


def _history(node: Clone, tid: str) -> dict:
    """``task history TASK_ID --fmt yaml``: the task (or its tombstone) and its attempts."""
    return yaml.safe_load(lt(node, "task", "history", tid, "--fmt", "yaml", "--no-pager"))


def _ls(node: Clone, *argv: str) -> list[dict]:
    return [json.loads(line) for line in lt(node, "task", "ls", *argv, "--fmt", "jsonl").splitlines()]


def test_a_run_of_a_task_deleted_elsewhere_is_kept_with_its_tombstone(lab) -> None:  # type: ignore[no-untyped-def]
    nodes, exchange = lab
    a, b, c = nodes.values()
    tids = [a.submit(args={"lr": lr}) for lr in (0.1, 0.2, 0.3, 0.4)]
    _share(nodes)
    for tid in tids[2:]:
        b.delete(tid)
        c.run(tid, acc=0.9)
        a.run(tid, acc=0.8)
    exchange()
    for node in nodes.values():
        listed = _ls(node, "--deleted")
        assert sorted(t["task_id"] for t in listed) == sorted(tids[2:])
        assert {t["deleted_by"] for t in listed} == {"node-b"}
        for tid in tids[2:]:
            assert tid not in node.where()
            seen = _history(node, tid)
            assert seen["task"]["status"] == "deleted" and seen["task"]["deleted_by"] == "node-b"
            assert seen["task"]["deleted_at"]
            runs = {(r["node"], r["status"], r["summary"].get("acc")) for r in seen["attempts"]}
            assert runs == {("node-a", "success", 0.8), ("node-c", "success", 0.9)}
        table = lt(node, "task", "history", tids[2], "--no-pager")
        assert "deleted by node-b" in table and "node-c" in table


def test_an_edit_of_args_while_a_run_elsewhere_succeeds_re_queues_the_task(lab) -> None:  # type: ignore[no-untyped-def]
    nodes, exchange = lab
    a, b, c = nodes.values()
    tid = a.submit(args={"lr": 0.1}, priority=1)
    _share(nodes)
    c.edit(tid, {"args": {"lr": 0.5}, "priority": 7})
    a.run(tid, acc=0.71)
    exchange()
    for node in nodes.values():
        doc = node.doc(tid)
        assert doc["dirname"] == "pending", "the user asked for lr=0.5: it runs again"
        assert (doc["args"], doc["priority"], doc.get("summary") or {}) == ({"lr": 0.5}, 7, {})
        (run,) = _history(node, tid)["attempts"]
        assert (run["status"], run["summary"]["acc"]) == ("success", 0.71)
        assert run["ran_with"]["args"] == {"lr": 0.1}, "the 0.1 result says it ran with 0.1"
    # the re-run gives the result that belongs to the args shown
    assert a.run(tid, acc=0.75) == tid
    exchange()
    for node in nodes.values():
        doc = node.doc(tid)
        assert (doc["dirname"], doc["summary"]["acc"], doc["ran_with"]["args"]) == ("done", 0.75, {"lr": 0.5})
        listed = _ls(node)
        assert [t.get("args_changed") for t in listed] == [False]


def test_args_changed_after_a_result_are_flagged_in_every_view(lab) -> None:  # type: ignore[no-untyped-def]
    nodes, _ = lab
    a = nodes["a"]
    tid = a.submit(args={"lr": 0.1})
    a.run(tid, acc=0.7)
    a.edit(tid, {"args": {"lr": 0.5}})  # an edit of a finished task: the user's own, no re-run asked
    assert a.doc(tid)["dirname"] == "done"
    (row,) = _ls(a)
    assert row["args_changed"] is True and row["ran_with"]["args"] == {"lr": 0.1}
    assert "ran with args.lr=0.1" in lt(a, "task", "history", tid, "--no-pager")
    assert "ran with" in lt(a, "task", "ls", "--no-pager")


def test_a_failed_attempt_on_the_losing_side_is_kept(lab) -> None:  # type: ignore[no-untyped-def]
    nodes, exchange = lab
    a, b, c = nodes.values()
    tid = a.submit(args={"lr": 0.1}, max_retries=3)
    _share(nodes)
    a.run(tid, status="failed")  # back to pending with its error, on a
    b.run(tid, acc=0.6)
    exchange()
    for node in nodes.values():
        assert node.doc(tid)["dirname"] == "done"
        runs = _history(node, tid)["attempts"]
        assert [(r["node"], r["status"], r["last_error"]) for r in runs] == [("node-a", "failed", "boom")]


def test_a_re_queue_that_beats_two_successes_shows_no_old_summary(lab) -> None:  # type: ignore[no-untyped-def]
    nodes, exchange = lab
    a, b, c = nodes.values()
    tid = a.submit(args={"lr": 0.1})
    _share(nodes)
    a.run(tid, acc=0.1)
    b.run(tid, acc=0.2)
    a.sync()
    c.sync()  # c sees a's success, not b's
    c.requeue(tid)
    assert not c.doc(tid).get("summary"), "a re-queued task has no summary of a run it no longer has"
    exchange()
    for node in nodes.values():
        doc = node.doc(tid)
        assert doc["dirname"] == "pending" and not doc.get("summary")
        runs = _history(node, tid)["attempts"]
        assert sorted(r["summary"]["acc"] for r in runs) == [0.1, 0.2]


def test_a_cancel_against_a_success_and_two_successes_keep_every_result(lab) -> None:  # type: ignore[no-untyped-def]
    nodes, exchange = lab
    a, b, c = nodes.values()
    cancelled, twice = a.submit(args={"lr": 0.1}), a.submit(args={"lr": 0.2})
    _share(nodes)
    a.cancel(cancelled)
    b.run(cancelled, acc=0.4)
    b.run(twice, acc=0.5)
    c.run(twice, acc=0.6)
    exchange()
    for node in nodes.values():
        assert node.doc(cancelled)["dirname"] == "cancelled", "the user's cancel is the later decision"
        (kept,) = _history(node, cancelled)["attempts"]
        assert (kept["status"], kept["summary"]["acc"]) == ("success", 0.4)
        doc = node.doc(twice)
        (other,) = _history(node, twice)["attempts"]
        assert sorted([doc["summary"]["acc"], other["summary"]["acc"]]) == [0.5, 0.6]
