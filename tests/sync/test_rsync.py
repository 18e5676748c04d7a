"""Copying replicas into each other (rsync, or a faithful copy) plus ``reconcile``.

The same offline work exchanged through git (``labtasker sync``) and through
plain copies ends in exactly the same files.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from labtasker.replicas import reconcile
from tests.sync.gitlab import clone, first_clone, make_remote
from tests.sync.replicas import Replica, check_invariants, copy_into, rsync_into

Copy = Callable[[Path, Path], object]
HAS_RSYNC = shutil.which("rsync") is not None
COPIES = [
    pytest.param(copy_into, id="python-copy"),
    pytest.param(
        rsync_into, id="rsync", marks=pytest.mark.skipif(not HAS_RSYNC, reason="rsync is not installed")
    ),
]


def template(tmp: Path) -> tuple[Path, list[str]]:
    """A queue with four tasks, made once so every transport starts from the same files."""
    seed = Replica(tmp / "template", "seed")
    tids = [seed.submit(args={"lr": lr}, max_retries=1) for lr in (0.1, 0.2, 0.3, 0.4)]
    return seed.path, tids


def offline_work(a: Replica, b: Replica, c: Replica, tids: list[str]) -> None:
    """What happens while the three replicas are apart."""
    for node in (a, b):
        for tid in tids[:3]:
            node.run(tid, acc=len(node.node))
    a.run(tids[3], status="failed")
    b.requeue(tids[2])
    c.edit(tids[0], {"metadata": {"tag": "c"}})
    c.delete(tids[1])


@pytest.mark.parametrize("copy", COPIES)
def test_copies_both_ways_plus_reconcile_equal_git_sync(tmp_path: Path, copy: Copy) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    seed, tids = template(tmp_path)
    (tmp_path / "git").mkdir()
    remote = make_remote(tmp_path / "git")
    a = first_clone(tmp_path / "git", remote, node="node-a", template=seed)
    a.sync()
    b, c = (
        clone(tmp_path / "git", remote, "b", node="node-b"),
        clone(tmp_path / "git", remote, "c", node="node-c"),
    )
    offline_work(a, b, c, tids)
    for node in (b, a, c, b, a):
        node.sync()
    by_git = a.files()

    plain = [Replica(tmp_path / "plain" / n, f"node-{n}", create=False) for n in "abc"]
    for r in plain:
        shutil.copytree(seed, r.path, ignore=shutil.ignore_patterns("tmp"), dirs_exist_ok=True)
        (r.path / "tmp").mkdir(exist_ok=True)
    offline_work(*plain, tids)
    _exchange_all(plain, copy)
    assert plain[0].files() == by_git
    assert by_git == b.files() == c.files()


@pytest.mark.parametrize("copy", COPIES)
def test_copy_both_ways_then_reconcile_agrees(tmp_path: Path, copy: Copy) -> None:
    seed, tids = template(tmp_path)
    a, b = (Replica(tmp_path / n, f"node-{n}", create=False) for n in "ab")
    for r in (a, b):
        shutil.copytree(seed, r.path, ignore=shutil.ignore_patterns("tmp"), dirs_exist_ok=True)
        (r.path / "tmp").mkdir(exist_ok=True)
    for r in (a, b):
        r.run(tids[0], acc=r.node)
    a.edit(tids[1], {"priority": 5})
    b.edit(tids[1], {"metadata": {"note": "b"}})
    b.cancel(tids[2])
    copy(a.path, b.path)
    b.reconcile()
    copy(b.path, a.path)
    a.reconcile()
    assert a.files() == b.files()
    for r in (a, b):
        check_invariants(r)
        doc = r.doc(tids[1])
        assert (doc["priority"], doc["metadata"]) == (5, {"note": "b"}), "edits of two fields both survive"
        assert r.where()[tids[2]] == ["cancelled"]
        assert len(r.attempts(tids[0])) == 1
    assert not a.reconcile().changed and not b.reconcile().changed


@pytest.mark.parametrize("copy", COPIES)
def test_an_old_replica_cannot_bring_back_a_deleted_or_finished_task(tmp_path: Path, copy: Copy) -> None:
    seed, tids = template(tmp_path)
    old = tmp_path / "weeks-old"
    shutil.copytree(seed, old)
    live = Replica(tmp_path / "live", "live", create=False)
    shutil.copytree(seed, live.path)
    live.delete(tids[0])
    live.run(tids[1])
    copy(old, live.path)  # the stale copy sends its pending files again
    live.reconcile()
    assert tids[0] not in live.where()
    assert live.where()[tids[1]] == ["done"]
    assert live.run(tids[0]) is None and live.run(tids[1]) is None, "neither runs again"
    check_invariants(live)


def test_syncthing_and_dropbox_conflict_copies_are_folded_in(tmp_path: Path) -> None:
    seed, tids = template(tmp_path)
    a = Replica(tmp_path / "a", "node-a", create=False)
    shutil.copytree(seed, a.path)
    a.edit(tids[0], {"metadata": {"from": "a"}})
    b = Replica(tmp_path / "b", "node-b", create=False)
    shutil.copytree(seed, b.path)
    b.edit(tids[0], {"args": {"lr": 9}})
    (name,) = [n for n in b.queue.names("pending") if tids[0] in n]
    stem = name[: -len(".yaml")]
    shutil.copy(
        b.path / "pending" / name, a.path / "pending" / f"{stem}.sync-conflict-20260301-120000-ABCDEFG.yaml"
    )
    shutil.copy(b.path / "pending" / name, a.path / "pending" / f"{stem} (conflicted copy 2026-03-01).yaml")
    report = a.reconcile()
    assert len(report.folded) == 2
    doc = a.doc(tids[0])
    assert (doc["metadata"], doc["args"]["lr"]) == ({"from": "a"}, 9)
    check_invariants(a)


def test_import_from_a_copied_folder_never_shows_a_worker_a_half_merged_task(tmp_path: Path) -> None:
    seed, tids = template(tmp_path)
    a = Replica(tmp_path / "a", "node-a", create=False)
    shutil.copytree(seed, a.path)
    b = Replica(tmp_path / "b", "node-b", create=False)
    shutil.copytree(seed, b.path)
    b.run(tids[0])
    a.run(tids[0], status="cancelled")
    landed = reconcile.import_from(a.queue, b.path)
    assert landed >= 1
    assert a.where()[tids[0]] == ["cancelled"], "imported files wait as second copies"
    a.reconcile()
    assert a.where()[tids[0]] == ["done"] and [x["status"] for x in a.attempts(tids[0])] == ["cancelled"]
    check_invariants(a)
    with pytest.raises(FileNotFoundError, match="not a queue directory"):
        reconcile.import_from(a.queue, tmp_path)


def _exchange_all(replicas: list[Replica], copy: Copy) -> None:
    for _ in range(2):
        for src in replicas:
            for dst in replicas:
                if src is not dst:
                    copy(src.path, dst.path)
                    dst.reconcile()
                    check_invariants(dst)
