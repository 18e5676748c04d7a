"""Tasks set aside for one node: it takes them first, even offline; every other node leaves them alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labtasker import api, run_context
from labtasker.fsqueue import claim, reservations
from labtasker.fsqueue.store import FsQueue
from tests.sync.replicas import Replica, check_invariants, copy_into


def test_the_named_node_claims_its_reserved_tasks_first_and_others_never(tmp_path: Path) -> None:
    shared = Replica(tmp_path / "q", "hub")
    urgent = [shared.submit(args={"i": i}, priority=10) for i in range(2)]
    mine = [shared.submit(args={"i": i}) for i in range(2, 4)]
    assert reservations.reserve(shared.queue, "n1", accept=lambda d: d["args"]["i"] >= 2) == mine
    assert reservations.reserved(shared.queue) == {"n1": mine}
    n1 = claim.Claimer(FsQueue(shared.path, node="n1"), "n1.w")
    n2 = claim.Claimer(FsQueue(shared.path, node="n2"), "n2.w")
    order = []
    for claimer in (n1, n1, n2, n2):
        got = claimer.claim()
        assert got is not None
        order.append(got.doc["task_id"])
    assert order == [*mine, *urgent], "n1 takes its reserved tasks before higher priorities"
    assert n2.claim() is None and n1.claim() is None


def test_reserve_skips_tasks_reserved_already_and_release_frees_them(tmp_path: Path) -> None:
    q = Replica(tmp_path / "q", "hub")
    ids = [q.submit() for _ in range(4)]
    assert reservations.reserve(q.queue, "n1", limit=3) == ids[:3]
    assert reservations.reserve(q.queue, "n2") == ids[3:]
    assert reservations.release(q.queue, "n1", limit=1) == ids[:1]
    assert reservations.release(q.queue) == ids[1:]
    assert reservations.reserved(q.queue) == {}
    with pytest.raises(ValueError, match="invalid node id"):
        reservations.reserve(q.queue, "a--b")


def test_loop_on_the_node_runs_its_reserved_tasks_first(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [api.submit_task(args={"i": i}, priority=i).task_id for i in range(4)]
    reservations.reserve(api.context().queue, "gpu-box", accept=lambda d: d["args"]["i"] < 2)
    seen: list[int] = []

    def job(run: object) -> None:
        seen.append(run.task.args["i"])  # type: ignore[attr-defined]

    monkeypatch.setenv("LABTASKER_NODE_ID", "laptop")
    run_context._queues.clear()
    api.run_loop(job, {}, allow_extra=True)
    assert seen == [3, 2], "other nodes leave reserved tasks alone"
    monkeypatch.setenv("LABTASKER_NODE_ID", "gpu-box")
    run_context._queues.clear()
    api.run_loop(job, {}, allow_extra=True)
    assert seen == [3, 2, 1, 0]
    assert {t.status for t in api.ls_tasks(limit=10).content} == {"success"} and len(ids) == 4


def test_an_air_gapped_node_runs_its_reservation_offline_and_syncs_back(tmp_path: Path) -> None:
    hub = Replica(tmp_path / "hub", "hub")
    ids = [hub.submit(args={"i": i}) for i in range(6)]
    reservations.reserve(hub.queue, "field", limit=3)
    field = Replica(tmp_path / "field", "field", create=False)
    shutil.copytree(hub.path, field.path)  # the USB stick, out
    while field.run() is not None:  # offline: its 3, then speculatively the rest
        pass
    while hub.run() is not None:  # the hub never touches the reserved three
        pass
    assert sorted(hub.where()[t][0] for t in ids) == ["done"] * 3 + ["pending"] * 3
    copy_into(field.path, hub.path)  # and back
    hub.reconcile()
    copy_into(hub.path, field.path)
    field.reconcile()
    assert hub.files() == field.files()
    for r in (hub, field):
        check_invariants(r)
        assert all(r.where()[t] == ["done"] for t in ids)
        assert [len(r.attempts(t)) for t in ids] == [0, 0, 0, 1, 1, 1], "reserved tasks ran once"
