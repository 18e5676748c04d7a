"""A task's other runs (``attempts/``) through the Python API, made the way they arise."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

import labtasker
from labtasker import Required, api
from labtasker.api_models import TaskUpdateRequest
from labtasker.fsqueue import attempts, codec

pytestmark = pytest.mark.usefixtures("project")


def cancelled_while_running() -> str:
    """A task cancelled from outside while its loop runs it: the loop's late result is kept."""
    task_id = labtasker.submit_task(args={"x": 1}).task_id

    @labtasker.loop()
    def main(x: int = Required()) -> None:
        labtasker.update_tasks([TaskUpdateRequest(task_id=labtasker.task_info().task_id, status="cancelled")])

    assert main().lost == 1
    return task_id


def run_and_requeue(task_id: str, acc: float) -> None:
    """Run the one pending task to success with ``acc``, then re-queue it as new."""

    @labtasker.loop(required_fields=["*"], pass_args_dict=True)
    def main(args: dict) -> None:
        labtasker.report_task_status(labtasker.task_info().task_id, "running", summary={"acc": acc})

    assert main().done == 1
    labtasker.update_tasks([TaskUpdateRequest(task_id=task_id)], reset_pending=True)


def test_a_late_result_of_a_cancelled_run_is_an_attempt(queue: object) -> None:
    task_id = cancelled_while_running()
    assert labtasker.get_task(task_id).status == "cancelled"
    [run] = labtasker.ls_attempts(task_id=task_id)
    assert isinstance(run, labtasker.Attempt)
    assert (run.task_id, run.status, run.reason) == (
        task_id,
        "success",
        "lease lost before the result was saved",
    )
    assert run.worker_id and run.file.startswith(f"{task_id}--{run.worker_id}--")
    assert run.node == api.context().queue.node
    assert run.finished_at is not None and run.finished_at.tzinfo is not None


def test_a_requeued_result_is_kept_oldest_first() -> None:
    task_id = labtasker.submit_task(args={"x": 1}).task_id
    run_and_requeue(task_id, 0.5)
    run_and_requeue(task_id, 0.7)
    runs = labtasker.ls_attempts(task_id=task_id)
    assert [r.summary for r in runs] == [{"acc": 0.5}, {"acc": 0.7}]
    assert [r.status for r in runs] == ["success", "success"]
    assert all("re-queue" in (r.reason or "") for r in runs)
    assert runs[0].finished_at < runs[1].finished_at  # type: ignore[operator]
    assert labtasker.get_task(task_id).status == "pending"


def test_a_failed_run_requeued_keeps_its_error() -> None:
    task_id = labtasker.submit_task(args={"x": 1}, max_retries=1).task_id

    @labtasker.loop()
    def main(x: int = Required()) -> None:
        raise RuntimeError("out of memory")

    main()
    assert labtasker.get_task(task_id).status == "failed"
    labtasker.update_tasks([TaskUpdateRequest(task_id=task_id)], reset_pending=True)
    [run] = labtasker.ls_attempts(task_id=task_id)
    assert run.status == "failed" and "out of memory" in (run.last_error or "")


def test_every_task_and_paging() -> None:
    cancelled = cancelled_while_running()
    other = labtasker.submit_task(args={"y": 1}).task_id
    run_and_requeue(other, 0.1)
    everything = labtasker.ls_attempts()
    assert [r.task_id for r in everything] == [cancelled, other]  # oldest first
    assert labtasker.ls_attempts(limit=1) == everything[:1]
    assert labtasker.ls_attempts(offset=1) == everything[1:]
    assert labtasker.ls_attempts(task_id="no-such-task") == []


def test_one_task_is_read_without_reading_the_others() -> None:
    task_id = cancelled_while_running()
    folder = api.context().queue.path / "attempts"
    junk = folder / "01a2aaaa-0000-7000-8000-000000000000--w--n1.yaml"
    junk.write_text("{not yaml")
    assert len(labtasker.ls_attempts(task_id=task_id)) == 1
    assert junk.exists()  # never opened: a listing for one task picks files by name
    assert len(labtasker.ls_attempts()) == 1  # read now: unreadable, so moved aside, never lost
    assert not junk.exists()
    assert any(p.name.endswith(junk.name) for p in (folder.parent / "quarantine").iterdir())


def test_records_order_by_the_time_they_hold(queue: object) -> None:
    folder = api.context().queue.path / "attempts"
    base = {"task_id": "t1", "status": "success", "worker_id": "w"}
    docs = {
        "t1--w--a.yaml": {**base, "last_heartbeat": datetime(2026, 1, 3, tzinfo=timezone.utc)},
        "t1--w--b.yaml": {**base, "finished_at": "2026-01-02T10:00:00Z"},  # written by hand
        "t1--w--c.yaml": base,  # no time at all: last
        "t1--w--d.yaml": {**base, "start_time": datetime(2026, 1, 1)},  # naive: taken as UTC
    }
    for name, doc in docs.items():
        (folder / name).write_bytes(codec.dump(doc))
    runs = labtasker.ls_attempts(task_id="t1")
    assert [r.file[:-5] for r in runs] == ["t1--w--d", "t1--w--b", "t1--w--a", "t1--w--c"]
    assert runs[1].finished_at == datetime(2026, 1, 2, 10, tzinfo=timezone.utc)
    assert runs[0].start_time == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert attempts.counts(api.context().queue) == {"t1": 4}


def test_no_queue_lists_nothing_and_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert labtasker.ls_attempts() == []
    assert list(empty.iterdir()) == []
