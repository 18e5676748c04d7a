"""Python scripts written for the original labtasker, run on this one: what they expect holds."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated, Any

import pytest

import labtasker
from labtasker import Required
from labtasker.errors import LeaseLost, WorkerCrashed
from labtasker.fsqueue.store import FsQueue

pytestmark = pytest.mark.usefixtures("project")

NESTED = {"arg1": 1, "arg2": {"arg3": 1, "arg4": "foo", "arg5": {"arg6": "bar"}}}
DEEP = {
    "arg1": "value1",
    "arg2": {
        "arg21": [1, 2, 3],
        "arg22": {"deep1": {"deeper1": ["a", "b"], "deeper2": {"bottom": True}}, "deep2": "s"},
    },
}


def statuses() -> list[str]:
    return sorted(t.status for t in labtasker.ls_tasks().content)


# --- which tasks a Python loop takes ------------------------------------------------


def test_a_loop_without_required_fields_takes_any_task() -> None:
    labtasker.submit_task(args={"a": 1})
    labtasker.submit_task(args={"b": {"c": 2}})
    labtasker.submit_task()
    seen = []

    @labtasker.loop()
    def main() -> None:
        seen.append(labtasker.task_info().args)

    assert main().done == 3
    assert sorted(map(str, seen)) == sorted(map(str, [{"a": 1}, {"b": {"c": 2}}, {}]))


def test_a_dotted_alias_reaches_the_nested_value() -> None:
    labtasker.submit_task(args=NESTED)
    got = []

    @labtasker.loop(required_fields=["*"])
    def main(
        arg1: Annotated[int, Required()],
        arg2: Annotated[dict[str, Any], Required(resolver=lambda a: {**a, "arg3": str(a["arg3"])})],
        bar: str = Required(alias="arg2.arg5.arg6"),
    ) -> None:
        got.append((arg1, arg2["arg3"], bar))

    assert main().done == 1
    assert got == [(1, "1", "bar")]


def test_required_fields_and_required_parameters_together_are_the_args_a_task_must_have() -> None:
    fits = labtasker.submit_task(
        args={"arg1": "v", "arg2": {"arg21": 1, "arg23": {"arg231": 5, "arg232": 6}}}
    )
    labtasker.submit_task(args={"arg1": "v", "arg2": {"arg21": 1, "arg23": {"arg231": 5}}})  # lacks one
    got = []

    @labtasker.loop(required_fields=["arg1", "arg2.arg23.arg232"])
    def main(
        a: Annotated[int, Required(alias="arg2.arg21")], b: int = Required(alias="arg2.arg23.arg231")
    ) -> None:
        got.append((labtasker.task_info().task_id, a, b))

    main()
    assert got == [(fits.task_id, 1, 5)]


def test_a_star_allows_extra_keys_at_every_level() -> None:
    deep = labtasker.submit_task(args=DEEP)  # arg2.arg22 has a key (deep2) no alias names
    labtasker.submit_task(args=NESTED)  # has no arg2.arg22: not taken
    got = []

    @labtasker.loop(required_fields=["*"])
    def main(
        bottom: Annotated[bool, Required(alias="arg2.arg22.deep1.deeper2.bottom")],
        deeper: list[str] = Required(alias="arg2.arg22.deep1.deeper1"),
    ) -> None:
        got.append((labtasker.task_info().task_id, bottom, deeper))

    main()
    assert got == [(deep.task_id, True, ["a", "b"])]


def test_integer_keys_in_args_are_stored_as_strings_and_filter_as_paths() -> None:
    task_id = labtasker.submit_task(args={"arg4": {0: "zero", 1: "one"}}).task_id
    assert labtasker.get_task(task_id).args == {"arg4": {"0": "zero", "1": "one"}}
    assert [t.task_id for t in labtasker.ls_tasks(extra_filter='args.arg4["0"] == "zero"').content] == [
        task_id
    ]
    assert [t.task_id for t in labtasker.ls_tasks(extra_filter={"args.arg4.1": "one"}).content] == [task_id]

    @labtasker.loop()
    def main(arg4: dict[str, str] = Required()) -> None:
        assert arg4["0"] == "zero"

    assert main().done == 1


# --- failures reported by hand count like raised ones ------------------------------


def test_finish_failed_counts_against_the_task_and_the_worker() -> None:
    for i in range(3):
        labtasker.submit_task(task_name=f"t{i}", args={"i": i})
    calls = 0

    @labtasker.loop(create_worker_kwargs={"max_retries": 3}, exit_on_crash=False)
    def main(i: int = Required()) -> None:
        nonlocal calls
        calls += 1
        labtasker.finish("failed", summary={"reason": "by hand"})

    tally = main()
    assert calls == 3  # the worker gave up after its third failure
    assert "after 3 different tasks failed in a row" in tally.crashed
    [worker] = labtasker.ls_workers().content
    assert (worker.status, worker.retries) == ("crashed", 3)
    tasks = labtasker.ls_tasks().content
    assert {t.status for t in tasks} == {"pending"}
    assert sum(t.retries for t in tasks) == 3
    assert all(t.retries == 1 for t in tasks)  # a failed task goes behind the others
    assert all(t.summary == {"reason": "by hand"} for t in tasks)


def test_report_failed_outside_a_loop_counts_against_the_worker_that_ran_it() -> None:
    wid = labtasker.create_worker(max_retries=2)
    for i in range(3):
        labtasker.submit_task(args={"i": i})
    for _ in range(2):
        fetched = labtasker.fetch_task(worker_id=wid, start_heartbeat=False)
        assert fetched.found and fetched.task is not None
        labtasker.report_task_status(fetched.task.task_id, "failed")
    assert labtasker.ls_workers(worker_id=wid).content[0].status == "crashed"
    with pytest.raises(WorkerCrashed, match="is crashed and takes no tasks"):
        labtasker.fetch_task(worker_id=wid)
    labtasker.report_worker_status(wid, "suspended")
    with pytest.raises(WorkerCrashed, match="is suspended"):
        labtasker.fetch_task(worker_id=wid)
    labtasker.report_worker_status(wid, "active")
    assert labtasker.fetch_task(worker_id=wid, start_heartbeat=False).found
    with pytest.raises(KeyError, match="no worker with id 'nobody'"):
        labtasker.fetch_task(worker_id="nobody")


# --- fencing ----------------------------------------------------------------------


def test_report_task_status_for_another_workers_task_is_refused() -> None:
    a, b = labtasker.create_worker(), labtasker.create_worker()
    task_id = labtasker.submit_task(args={"x": 1}).task_id
    fetched = labtasker.fetch_task(worker_id=a, start_heartbeat=False)
    assert fetched.task is not None and fetched.task.task_id == task_id
    with pytest.raises(LeaseLost, match=f"run by worker {a}, not {b}"):
        labtasker.report_task_status(task_id, "success", worker_id=b)
    assert labtasker.get_task(task_id).status == "running"
    labtasker.report_task_status(task_id, "success", summary={"acc": 1}, worker_id=a)
    task = labtasker.get_task(task_id)
    assert (task.status, task.summary) == ("success", {"acc": 1})


# --- suspended workers -------------------------------------------------------------


def test_a_suspended_worker_gets_no_task_and_its_loop_ends_saying_so() -> None:
    for i in range(3):
        labtasker.submit_task(args={"i": i})
    wid = labtasker.create_worker()

    @labtasker.loop(worker_id=wid)
    def main(i: int = Required()) -> None:
        labtasker.report_worker_status(wid, "suspended")

    tally = main()
    assert tally.done == 1
    assert f"worker {wid} is suspended" in tally.crashed
    assert statuses() == ["pending", "pending", "success"]
    with pytest.raises(WorkerCrashed, match="is marked suspended"):
        main()
    assert statuses() == ["pending", "pending", "success"]
    labtasker.report_worker_status(wid, "active")
    assert main().done == 1  # it suspends itself again after one task


# --- the original's API calls --------------------------------------------------------


def test_create_worker_returns_the_id_as_a_string() -> None:
    wid = labtasker.create_worker(worker_name="gpu0")
    assert isinstance(wid, str) and wid == wid.worker_id
    assert labtasker.ls_workers(worker_id=wid).content[0].worker_name == "gpu0"


def test_fetch_task_takes_the_first_matching_task_and_keeps_its_lease(queue: FsQueue) -> None:
    labtasker.submit_task(args={"a": 1}, priority=1)
    high = labtasker.submit_task(args={"a": 2}, priority=5).task_id
    labtasker.submit_task(args={"b": 3}, priority=9)
    got = labtasker.fetch_task(required_fields=["a"], heartbeat_timeout=0.6)
    assert got.found and got.task is not None
    assert (got.task.task_id, got.task.status) == (high, "running")
    time.sleep(1.5)  # past the timeout: the heartbeat thread renews the lease
    assert labtasker.get_task(high).status == "running"
    labtasker.report_task_status(high, "success")
    none = labtasker.fetch_task(extra_filter="args.a == 7")
    assert (none.found, none.task) == (False, None)


def test_connect_events_hands_out_transitions_in_order() -> None:
    listener = labtasker.connect_events(timeout=10)
    seen: list[tuple[str, str]] = []

    def until(count: int) -> None:
        deadline = time.monotonic() + 20
        while len(seen) < count and time.monotonic() < deadline:
            event = listener.get_event(timeout=0.5)
            if event is not None and event.event.entity_type == "task":
                assert event.event.entity_id == task_id and event.sequence > 0
                seen.append((event.event.old_state, event.event.new_state))

    try:
        task_id = labtasker.submit_task(args={"x": 1}).task_id
        until(1)  # a state passed through faster than the listener reads may be skipped: see it first
        labtasker.report_task_status(task_id, "cancelled")
        until(2)
    finally:
        listener.stop()
    assert seen == [("created", "pending"), ("pending", "cancelled")]
    assert list(listener.iter_events()) == []  # stopped, nothing left over


def test_create_queue_keeps_its_metadata(project: Path) -> None:
    queue = labtasker.create_queue("other", password="ignored", metadata={"tag": "test"})
    assert queue.metadata == {"tag": "test"}
    assert labtasker.get_queue("other").metadata == {"tag": "test"}


def test_iter_events_follows_a_loop_run() -> None:
    listener = labtasker.connect_events()
    labtasker.submit_task(args={"foo": 1})
    seen_running = threading.Event()

    @labtasker.loop()
    def main(foo: int = Required()) -> None:
        # A state passed through faster than the files are read may be skipped
        # (events.py says so): the job lasts until the listener has seen it run.
        seen_running.wait(30)

    runner = threading.Thread(target=main)
    runner.start()
    task_events: list[tuple[str, str]] = []
    worker_events: list[tuple[str, str]] = []
    for event in listener.iter_events():
        seen = (event.old_state, event.new_state)
        if event.entity == "worker":
            worker_events.append(seen)
            continue
        task_events.append(seen)
        if seen == ("pending", "running"):
            seen_running.set()
        if seen[1] == "success":
            break
    runner.join(30)
    listener.stop()
    assert task_events == [("created", "pending"), ("pending", "running"), ("running", "success")]
    assert worker_events[0] in {
        ("created", "active"),
        ("created", "exited"),
    }  # exited: first seen after its loop


def test_the_current_run_is_known_inside_a_loop_and_nowhere_else() -> None:
    assert (labtasker.current_task_id(), labtasker.current_worker_id(), labtasker.is_enabled()) == (
        None,
        None,
        False,
    )
    task_id = labtasker.submit_task(args={"x": 1}).task_id
    wid = labtasker.create_worker()
    seen = []

    @labtasker.loop(worker_id=wid, cmd=["python", "train.py"])  # cmd: accepted as the original's
    def main(x: int = Required()) -> None:
        log_dir = labtasker.get_labtasker_log_dir()
        seen.append((labtasker.current_task_id(), labtasker.current_worker_id(), labtasker.is_enabled()))
        seen.append((log_dir / "task_info.json").exists())

    main()
    assert seen == [(task_id, wid, True), True]
    with pytest.raises(RuntimeError):
        labtasker.get_labtasker_log_dir()


def test_refresh_task_heartbeat_renews_a_fetched_task_and_refuses_others() -> None:
    wid = labtasker.create_worker()
    task_id = labtasker.submit_task(args={"x": 1}).task_id
    assert labtasker.fetch_task(worker_id=wid, start_heartbeat=False).found
    labtasker.refresh_task_heartbeat(task_id, worker_id=wid)
    labtasker.refresh_task_heartbeat(task_id)
    with pytest.raises(LeaseLost, match="not running by worker someone-else"):
        labtasker.refresh_task_heartbeat(task_id, worker_id="someone-else")
    labtasker.report_task_status(task_id, "success")
    with pytest.raises(labtasker.LabtaskerRuntimeError):
        labtasker.refresh_task_heartbeat(task_id)


def test_health_check_and_the_originals_names_for_errors(queue: FsQueue) -> None:
    assert labtasker.health_check().status == "healthy"
    with pytest.raises(labtasker.LabtaskerValueError):
        labtasker.ls_tasks(extra_filter="true")
    labtasker.delete_worker(labtasker.create_worker(), cascade_update=True)
    assert labtasker.ls_workers().content == []


def test_report_task_status_summary_none_keeps_empty_dict_clears_and_keys_merge() -> None:
    task_id = labtasker.submit_task(args={"x": 1}).task_id
    labtasker.report_task_status(task_id, "cancelled", summary={"a": 1, "b": {"c": 2}})
    labtasker.report_task_status(task_id, "cancelled", summary={"b": {"d": 3}})
    assert labtasker.get_task(task_id).summary == {"a": 1, "b": {"d": 3}}  # a top-level key is replaced
    labtasker.report_task_status(task_id, "cancelled")
    assert labtasker.get_task(task_id).summary == {"a": 1, "b": {"d": 3}}
    labtasker.report_task_status(task_id, "cancelled", summary={})
    assert labtasker.get_task(task_id).summary == {}


def test_the_callers_own_arguments_fill_the_parameters_that_are_not_required() -> None:
    labtasker.submit_task(args={"a": 1, "c": 2.5})
    got = []

    @labtasker.loop(max_tasks=1)
    def mixed(a: Annotated[int, Required()], b: str, *rest: str, c: float = Required(), **more: Any) -> None:
        got.append((a, b, rest, c, more))

    assert mixed("hello", "x", "y", d=4).done == 1
    assert got == [(1, "hello", ("x", "y"), 2.5, {"d": 4})]


def test_a_call_that_cannot_bind_is_an_error_before_any_task_is_taken() -> None:
    task_id = labtasker.submit_task(args={"a": 1}).task_id

    @labtasker.loop()
    def main(a: int = Required(), b: str = "default") -> None:
        pass

    with pytest.raises(TypeError, match="'a' is filled from the task's args"):
        main(a=5)
    with pytest.raises(TypeError, match="too many"):
        main("x", "y")
    assert labtasker.get_task(task_id).status == "pending"
    assert main("given").done == 1


def test_a_job_of_labtasker_loop_is_fenced_too(queue: FsQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    wid = labtasker.create_worker()
    task_id = labtasker.submit_task(args={"x": 1}).task_id
    assert labtasker.fetch_task(worker_id=wid, start_heartbeat=False).found
    monkeypatch.setenv("LABTASKER_TASK_ID", task_id)  # as `labtasker loop` sets them for its job
    monkeypatch.setenv("LABTASKER_WORKER_ID", wid)
    monkeypatch.setenv("LABTASKER_QUEUE_DIR", str(queue.path))
    with pytest.raises(LeaseLost, match=f"run by worker {wid}, not intruder"):
        labtasker.report_task_status(task_id, "running", summary={"acc": 1}, worker_id="intruder")
    assert labtasker.get_task(task_id).summary == {}
    labtasker.report_task_status(task_id, "running", summary={"acc": 1}, worker_id=wid)
    assert labtasker.get_task(task_id).summary == {"acc": 1}


def test_ls_workers_filters_and_sorts_over_worker_fields() -> None:
    ids = [
        labtasker.create_worker(worker_name=name, max_retries=n) for name, n in (("b", 5), ("a", 2), ("c", 9))
    ]
    by_name = labtasker.ls_workers(sort=[("worker_name", 1)]).content
    assert [w.worker_name for w in by_name] == ["a", "b", "c"]
    by_retries = labtasker.ls_workers(sort="max_retries:desc", extra_filter="max_retries > 2").content
    assert [w.worker_id for w in by_retries] == [ids[2], ids[0]]
    assert [w.worker_id for w in labtasker.ls_workers().content] == ids  # oldest first
    with pytest.raises(labtasker.LabtaskerValueError, match="unknown sort field 'args'"):
        labtasker.ls_workers(sort="args.lr")
