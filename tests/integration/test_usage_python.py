"""Every Python example of the usage document, run as written (indentation restored).

One test per section; the helpers the examples assume (``train``,
``expensive_preprocess``...) are small stand-ins defined here. No ``from __future__ import annotations`` here:
the examples are user code, whose annotations are evaluated.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import pytest

import labtasker
from labtasker import Required
from labtasker.api_models import TaskUpdateRequest

pytestmark = pytest.mark.usefixtures("project")


def grid():
    for lr in [0.001, 0.01, 0.1]:
        for model in ["resnet", "vit"]:
            labtasker.submit_task(
                task_name="grid_search",  # optional
                args={"lr": lr, "model": model},
                metadata={  # optional — use for filtering/tagging
                    "tags": ["v1", "experimental"],
                    "note": "baseline run",
                },
                max_retries=3,  # optional, default 3
                priority=0,  # optional, default 0 (medium)
            )


def train(lr, model):
    return (0.5 + lr * (2 if model == "vit" else 1), 1.0 - lr)


# --------------------------------------------------------------- 1. submitting
def test_1_submitting():
    for lr in [0.001, 0.01, 0.1]:
        for model in ["resnet", "vit"]:
            labtasker.submit_task(
                task_name="grid_search",  # optional
                args={"arg1": lr, "arg2": model},
                metadata={  # optional — use for filtering/tagging
                    "tags": ["v1", "experimental"],
                    "note": "baseline run",
                },
                max_retries=3,  # optional, default 3
                priority=0,  # optional, default 0 (medium)
            )
    # Nested args as dict (use Python loop to access nested values)
    response = labtasker.submit_task(
        args={
            "args_a": {"a": 1, "b": "boy"},
            "args_b": {"foo": 2, "bar": "baz"},
        },
        metadata={"tags": ["sweep-v2"]},
    )
    tasks = labtasker.ls_tasks(limit=1000).content
    assert len(tasks) == 7
    assert {t.task_name for t in tasks} == {"grid_search", None}
    nested = labtasker.ls_tasks(task_id=response.task_id).content[0]
    assert nested.args == {"args_a": {"a": 1, "b": "boy"}, "args_b": {"foo": 2, "bar": "baz"}}
    assert nested.summary == {} and nested.retries == 0 and nested.start_time is None
    assert nested.worker_id is None and nested.status == "pending" and nested.max_retries == 3


# --------------------------------------------------------------- 2. running
def test_2_running_required_and_casting(capsys):
    labtasker.submit_task(args={"arg1": 1, "arg2": "2"})
    labtasker.submit_task(args={"arg1": 1, "arg2": 2, "extra": 0})  # more: not taken

    @labtasker.loop()
    def main(arg1: int = Required(), arg2: int = Required()):
        result = arg1 + arg2
        print(f"The result is {result}")

    main()
    assert "The result is 3" in capsys.readouterr().out
    assert len(labtasker.ls_tasks(status="success").content) == 1
    assert labtasker.ls_tasks(status="pending").content[0].args["extra"] == 0


def test_2_running_with_extra_filter():
    grid()
    labtasker.submit_task(args={"lr": 0.5, "model": "mlp"}, metadata={"tags": ["v2"]})
    ran = []

    def train(lr, model):
        ran.append((lr, model))

    @labtasker.loop(extra_filter='"v1" in list(metadata.tags)')
    def main(lr: float = Required(), model: str = Required()):
        train(lr=lr, model=model)

    main()
    assert len(ran) == 6 and (0.5, "mlp") not in ran
    assert [t.args["model"] for t in labtasker.ls_tasks(status="pending").content] == ["mlp"]


def test_2_running_args_dict():
    labtasker.submit_task(args={"lr": 0.1, "model": "vit", "seed": 3})
    got = []

    def train(lr, model):
        got.append((lr, model))

    @labtasker.loop(required_fields=["lr", "model"], pass_args_dict=True)
    def main(args):
        train(lr=args["lr"], model=args["model"])
        got.append(args.get("seed", 0))

    main()
    assert got == [(0.1, "vit"), 3]


def test_2_running_nested_resolvers():
    labtasker.submit_task(
        args={
            "args_a": {"a": 1, "b": "boy"},
            "args_b": {"foo": 2, "bar": "baz"},
        },
        metadata={"tags": ["sweep-v2"]},
    )
    labtasker.submit_task(args={"optimizer": {"lr": 0.001, "momentum": 0.9}})
    seen = {}

    @dataclass
    class ArgsGroupA:
        a: int
        b: str

    @dataclass
    class ArgsGroupB:
        foo: int
        bar: str

    @labtasker.loop()
    def main(
        args_a: Annotated[dict[str, Any], Required(resolver=lambda a: ArgsGroupA(**a))],
        args_b=Required(resolver=lambda b: ArgsGroupB(**b)),
    ):
        print(f"got args_a: {args_a}")
        print(f"got args_b: {args_b}")
        seen["a"], seen["b"] = args_a, args_b

    main()
    assert seen == {"a": ArgsGroupA(1, "boy"), "b": ArgsGroupB(2, "baz")}

    @labtasker.loop()
    def main2(optimizer=Required(resolver=lambda x: x)):
        # optimizer is the raw dict: {"lr": 0.001, "momentum": 0.9}
        lr = optimizer["lr"]
        momentum = optimizer.get("momentum", 0.9)
        seen["opt"] = (lr, momentum)

    main2()
    assert seen["opt"] == (0.001, 0.9)
    assert labtasker.ls_tasks(status="pending").content == []


def test_2_dotted_keys_are_nested_in_task_info():
    labtasker.submit_task(args={"foo.bar": 1})
    seen = []

    @labtasker.loop(required_fields=["foo"])
    def main(foo=Required(resolver=lambda x: x)):
        seen.append(labtasker.task_info().args["foo"]["bar"])

    main()
    assert seen == [1]


# --------------------------------------------------------------- 3. querying
def test_3_querying():
    grid()
    ran = []

    @labtasker.loop()
    def main(lr: float = Required(), model: str = Required()):
        acc, loss = train(lr=lr, model=model)
        ran.append(lr)
        if lr == 0.1 and model == "vit":
            raise ValueError("diverged")
        labtasker.report_task_status(
            task_id=labtasker.task_info().task_id,
            status="running",
            summary={"acc": acc, "loss": loss},
        )

    main()
    # List by status
    response = labtasker.ls_tasks(status="failed")
    tasks = response.content  # List[Task]
    assert [t.args for t in tasks] == [{"lr": 0.1, "model": "vit"}]
    # With filter (Python query string)
    response = labtasker.ls_tasks(
        extra_filter='args.lr > 0.01 and "v1" in list(metadata.tags)',
        limit=100,
    )
    assert sorted(t.args["model"] for t in response.content) == ["resnet", "vit"]
    # Filter by summary field (same dot-notation)
    response = labtasker.ls_tasks(
        status="success",
        extra_filter="summary.acc > 0.51",
        limit=1000,
    )
    assert {(t.args["lr"], t.args["model"]) for t in response.content} == {(0.01, "vit"), (0.1, "resnet")}
    # ls_tasks() has NO sort parameter — sort results manually in Python
    tasks_sorted = sorted(
        response.content,
        key=lambda t: t.summary.get("acc") or 0,
        reverse=True,
    )
    assert tasks_sorted[0].summary["acc"] == pytest.approx(0.6)
    # Access task fields
    for task in response.content:
        print(task.task_id, task.status, task.args, task.metadata, task.summary)
        print(task.created_at, task.worker_id, task.retries)
        assert task.worker_id and task.created_at.tzinfo is not None


# --------------------------------------------------------------- 4. summary
def test_4_summary_write_and_read(capsys):
    grid()

    @labtasker.loop()
    def main(lr: float = Required(), model: str = Required()):
        acc, loss = train(lr=lr, model=model)
        # Optional: write metrics into the task summary; status="running" keeps the task alive
        # Loop auto-marks "success" on normal return (after this call completes)
        labtasker.report_task_status(
            task_id=labtasker.task_info().task_id,
            status="running",  # loop marks success on normal return
            summary={"acc": acc, "loss": loss},
        )

    main()
    # Fetch all successful tasks and print their summaries
    response = labtasker.ls_tasks(status="success", limit=1000)
    for task in response.content:
        print(f"task_id={task.task_id} args={task.args} summary={task.summary}")
    # Aggregate: collect metric from summary and rank
    results = [
        {"lr": t.args["lr"], "model": t.args["model"], "acc": t.summary.get("acc")} for t in response.content
    ]
    results.sort(key=lambda x: x["acc"] or 0, reverse=True)
    for r in results:
        print(r)
    assert len(results) == 6 and results[0] == {"lr": 0.1, "model": "vit", "acc": pytest.approx(0.7)}
    assert "summary={'acc'" in capsys.readouterr().out


def test_4_cancel_mid_run_is_preserved_and_not_retried():
    labtasker.submit_task(args={"lr": 0.1, "model": "a"})
    labtasker.submit_task(args={"lr": float("nan"), "model": "b"})
    calls = []

    def expensive_preprocess():
        calls.append("pre")
        return 1

    def load_cached_data():
        calls.append("cached")
        return 1

    @labtasker.loop()
    def main(lr: float = Required(), model: str = Required()):
        task = labtasker.task_info()
        if task.retries == 0:
            data = expensive_preprocess()  # only on first attempt
        else:
            data = load_cached_data()  # skip on retries
        loss = lr * data
        if math.isnan(loss):
            labtasker.report_task_status(
                task_id=task.task_id,
                status="cancelled",  # preserves cancelled — loop will not overwrite
            )
            return  # stop this task; loop moves to next pending task

    tally = main()
    assert calls == ["pre", "pre"]
    assert [t.args["model"] for t in labtasker.ls_tasks(status="cancelled").content] == ["b"]
    assert [t.args["model"] for t in labtasker.ls_tasks(status="success").content] == ["a"]
    assert tally.cancelled == 1 and tally.done == 1


def test_4_retries_count_and_task_info_sees_them():
    labtasker.submit_task(args={"x": 1}, max_retries=3)
    seen = []

    @labtasker.loop()
    def main(x: int = Required()):
        seen.append(labtasker.task_info().retries)
        if len(seen) < 3:
            raise RuntimeError("flaky")

    main()
    assert seen == [0, 1, 2]
    (task,) = labtasker.ls_tasks(status="success").content
    assert task.retries == 2
    assert task.last_error is None  # the task succeeded: its current error is cleared...
    history = labtasker.ls_attempts(task.task_id)  # ...and the failed attempts stay in its history
    assert [(a.status, a.error["message"]) for a in history] == [("failed", "flaky")] * 2


def test_4_report_outside_loop_merges_summary_only():
    grid()

    @labtasker.loop()
    def main(lr: float = Required(), model: str = Required()):
        labtasker.report_task_status(
            task_id=labtasker.task_info().task_id, status="running", summary={"acc": lr}
        )

    main()
    t = labtasker.ls_tasks(status="success").content[0]
    labtasker.report_task_status(task_id=t.task_id, status="success", summary={"rank": 1})
    after = labtasker.ls_tasks(task_id=t.task_id).content[0]
    assert after.status == "success" and after.summary == {"acc": t.summary["acc"], "rank": 1}


# --------------------------------------------------------------- 5. updating
def test_5_updating():
    grid()
    task_id = labtasker.ls_tasks().content[0].task_id
    # Update a single task — only specified keys are merged/updated
    labtasker.update_tasks([TaskUpdateRequest(**{"_id": task_id, "args": {"lr": 0.005}})])
    assert labtasker.ls_tasks(task_id=task_id).content[0].args == {"lr": 0.005, "model": "resnet"}

    @labtasker.loop(extra_filter='args.model == "resnet"', create_worker_kwargs={"max_retries": 10})
    def fail_resnets(lr: float = Required(), model: str = Required()):
        raise RuntimeError("resnet broke")

    fail_resnets()
    assert len(labtasker.ls_tasks(status="failed").content) == 3
    # Batch: fix lr and reset to pending (also resets retries=0)
    response = labtasker.ls_tasks(status="failed")
    updates = [
        TaskUpdateRequest(
            **{
                "_id": task.task_id,
                "args": {"lr": 0.005},  # merges into existing args; other keys preserved
            }
        )
        for task in response.content
    ]
    if updates:
        labtasker.update_tasks(updates, reset_pending=True)
    pending = labtasker.ls_tasks(status="pending", extra_filter='args.model == "resnet"').content
    assert len(pending) == 3 and all(t.retries == 0 and t.args["lr"] == 0.005 for t in pending)
    # Cancel pending tasks matching a filter
    response = labtasker.ls_tasks(
        status="pending",
        extra_filter="args.lr > 0.05",
    )
    updates = [TaskUpdateRequest(**{"_id": task.task_id, "status": "cancelled"}) for task in response.content]
    if updates:
        labtasker.update_tasks(updates)
    assert [t.args for t in labtasker.ls_tasks(status="cancelled").content] == [{"lr": 0.1, "model": "vit"}]

    # Update metadata from inside a loop (merges new field without losing existing ones)
    @labtasker.loop()
    def main(lr: float = Required(), model: str = Required()):
        train(lr=lr, model=model)
        task = labtasker.task_info()
        labtasker.update_tasks(
            [TaskUpdateRequest(**{"_id": task.task_id, "metadata": {"run_note": "done"}})]
        )  # merges "run_note" into existing metadata; other metadata keys preserved

    main()
    done = labtasker.ls_tasks(status="success").content
    assert len(done) == 5
    assert all(
        t.metadata == {"tags": ["v1", "experimental"], "note": "baseline run", "run_note": "done"}
        for t in done
    )


def test_5_replace_fields_and_status_pending_keeps_retries():
    tid = labtasker.submit_task(args={"lr": 0.1, "model": "x"}).task_id
    labtasker.update_tasks([TaskUpdateRequest(**{"_id": tid, "args": {"lr": 1}, "replace_fields": ["args"]})])
    assert labtasker.get_task(tid).args == {"lr": 1}
    labtasker.update_tasks([TaskUpdateRequest(task_id=tid, status="cancelled")])
    assert labtasker.get_task(tid).status == "cancelled"


def test_5_force_cancel_a_running_task_from_outside():
    labtasker.submit_task(args={"x": 1})
    labtasker.submit_task(args={"x": 2})
    outcome = {}

    @labtasker.loop()
    def main(x: int = Required()):
        task_id = labtasker.task_info().task_id
        if x == 1:
            # To force-cancel a running task from OUTSIDE the loop (e.g., hung job detection):
            labtasker.update_tasks([TaskUpdateRequest(**{"_id": task_id, "status": "cancelled"})])
        outcome[x] = "ran"

    tally = main()
    assert labtasker.ls_tasks(status="cancelled").content[0].args == {"x": 1}
    assert labtasker.ls_tasks(status="success").content[0].args == {"x": 2}
    assert tally.lost == 1 and tally.done == 1


# --------------------------------------------------------------- 6. deleting
def test_6_deleting():
    grid()
    first = labtasker.ls_tasks().content[0]
    # Delete a single task
    labtasker.delete_task(task_id=first.task_id)
    assert len(labtasker.ls_tasks().content) == 5
    # Batch delete matching a filter
    response = labtasker.ls_tasks(extra_filter='created_at < date("10 minutes ago")')
    for task in response.content:
        labtasker.delete_task(task_id=task.task_id)
    assert len(labtasker.ls_tasks().content) == 5  # all were created just now
    response = labtasker.ls_tasks(extra_filter='created_at > date("10 minutes ago")')
    for task in response.content:
        labtasker.delete_task(task_id=task.task_id)
    assert labtasker.ls_tasks().content == []


def test_signatures_limit_and_summary_always_a_dict():
    labtasker.submit_tasks([{"args": {"i": i}} for i in range(150)])
    assert len(labtasker.ls_tasks().content) == 100  # documented default
    assert len(labtasker.ls_tasks(limit=10000).content) == 150
    assert len(labtasker.ls_tasks(limit=50, offset=120).content) == 30
    assert all(t.summary == {} for t in labtasker.ls_tasks(limit=10000).content)
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    assert all(t.created_at > old for t in labtasker.ls_tasks().content)
