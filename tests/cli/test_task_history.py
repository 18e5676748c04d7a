"""`labtasker task history` and the attempts column of `task ls`: what a user sees."""

from __future__ import annotations

import json

import pytest
import yaml

import labtasker
from labtasker import Required
from labtasker.api_models import TaskUpdateRequest
from tests.cli.conftest import Lt
from tests.integration.test_attempts import cancelled_while_running

pytestmark = pytest.mark.usefixtures("project")


def finished_then_requeued(acc: float = 0.5) -> str:
    """A task run to success, then re-queued with reset_pending (the result is kept in attempts/)."""
    task_id = labtasker.submit_task(task_name="probe", args={"y": 1}).task_id

    @labtasker.loop()
    def main(y: int = Required()) -> None:
        labtasker.report_task_status(labtasker.task_info().task_id, "running", summary={"acc": acc})

    main()
    labtasker.update_tasks([TaskUpdateRequest(task_id=task_id)], reset_pending=True)
    return task_id


def test_history_of_a_cancelled_run(lt: Lt) -> None:
    task_id = cancelled_while_running()
    ran = lt("task", "history", task_id)
    assert ran.code == 0, ran.err
    state, header, row = ran.lines
    assert state.startswith(f"task {task_id}: cancelled, retries 0/3")
    assert header.split() == ["WHEN", "STATUS", "WORKER", "NODE", "SUMMARY", "REASON"]
    worker = labtasker.ls_attempts(task_id=task_id)[0].worker_id
    assert row.split()[2:5] == ["success", worker, labtasker.ls_attempts()[0].node]
    assert row.endswith("lease lost before the result was saved")


def test_history_of_a_requeued_result_shows_its_summary(lt: Lt) -> None:
    task_id = finished_then_requeued(0.5)
    ran = lt("task", "history", task_id)
    assert ran.lines[0].startswith(f"task {task_id} (probe): pending, retries 0/3, last change 20")
    assert '{"acc": 0.5}' in ran.lines[2] and "re-queue" in ran.lines[2]


def test_a_failed_run_shows_its_error(lt: Lt) -> None:
    task_id = labtasker.submit_task(args={"z": 1}, max_retries=1).task_id

    @labtasker.loop()
    def main(z: int = Required()) -> None:
        raise RuntimeError("out of memory")

    main()
    labtasker.update_tasks([TaskUpdateRequest(task_id=task_id)], reset_pending=True)
    row = lt("task", "history", task_id).lines[2]
    assert row.split()[2] == "failed" and "error: RuntimeError: out of memory" in row


def test_a_task_without_attempts_says_so(lt: Lt) -> None:
    task_id = labtasker.submit_task(args={"x": 1}).task_id
    ran = lt("task", "history", task_id)
    assert ran.code == 0
    assert ran.lines[0].startswith(f"task {task_id}: pending, retries 0/3, last change 20")
    assert ran.lines[1:] == ["no other runs recorded in attempts/"]


def test_jsonl_is_one_record_per_attempt(lt: Lt) -> None:
    task_id = finished_then_requeued(0.5)
    finished_then_requeued(0.9)  # another task's record is not shown
    ran = lt("task", "history", task_id, "--fmt", "jsonl")
    [record] = [json.loads(line) for line in ran.lines]
    expected = labtasker.ls_attempts(task_id=task_id)[0]
    assert record["file"] == expected.file and record["summary"] == {"acc": 0.5}
    assert record["finished_at"] == expected.finished_at.isoformat()  # type: ignore[union-attr]


def test_yaml_holds_the_task_and_its_attempts(lt: Lt) -> None:
    task_id = cancelled_while_running()
    doc = yaml.safe_load(lt("task", "history", task_id, "--fmt", "yaml").out)
    assert doc["task"]["task_id"] == task_id and doc["task"]["status"] == "cancelled"
    assert [a["reason"] for a in doc["attempts"]] == ["lease lost before the result was saved"]


def test_a_deleted_task_still_shows_its_attempts(lt: Lt) -> None:
    task_id = cancelled_while_running()
    labtasker.delete_task(task_id)
    node = labtasker.api.context().queue.node
    ran = lt("task", "history", task_id)
    assert ran.code == 0 and ran.lines[0].startswith(f"task {task_id}: deleted by {node} at ")
    assert ran.lines[0].endswith("(was cancelled)")
    # the late result of the run, and the cancel the delete replaced: both kept
    assert sorted(line.split()[2] for line in ran.lines[2:]) == ["cancelled", "success"]


def test_a_deleted_task_with_no_run_still_says_who_deleted_it(lt: Lt) -> None:
    task_id = labtasker.submit_task(args={"lr": 0.3}).task_id
    labtasker.delete_task(task_id)
    ran = lt("task", "history", task_id, "--fmt", "yaml")
    shown = yaml.safe_load(ran.out)
    assert (shown["task"]["status"], shown["task"]["was"], shown["attempts"]) == ("deleted", "pending", [])
    listed = lt("task", "ls", "--deleted")
    assert listed.code == 0 and task_id in listed.out and "pending" in listed.out
    assert lt("task", "ls", "--deleted", "-q").out.split() == [task_id]
    assert lt("task", "ls", "--deleted", "-f", "args.lr > 1", "-q").out == ""


@pytest.mark.parametrize("fmt", ["table", "yaml", "jsonl"])
def test_an_unknown_task_is_one_line_and_exit_1(lt: Lt, fmt: str) -> None:
    ran = lt("task", "history", "no-such-task", "--fmt", fmt)
    assert ran.code == 1 and ran.out == ""
    [line] = ran.err.splitlines()
    assert line.startswith("labtasker: error: no task with id 'no-such-task' and no attempts of it")


def test_ls_shows_how_many_attempts_in_table_and_yaml_only(lt: Lt) -> None:
    plain = labtasker.submit_task(args={"p": 1}).task_id
    assert "ATTEMPTS" not in lt("task", "ls").out  # no attempts anywhere: the table is as before
    twice = finished_then_requeued(0.5)
    labtasker.update_tasks([TaskUpdateRequest(task_id=twice, status="cancelled")])
    labtasker.update_tasks([TaskUpdateRequest(task_id=twice)], reset_pending=True)  # cancel kept too
    table = lt("task", "ls").lines
    column = table[0].split().index("ATTEMPTS")
    counts = {line.split()[0]: line.split()[column] for line in table[1:]}
    assert counts == {plain: "0", twice: "2"}
    records = {r["task_id"]: r for r in yaml.safe_load(lt("task", "ls", "--fmt", "yaml").out)}
    assert records[twice]["attempts"] == 2 and "attempts" not in records[plain]
    jsonl = [json.loads(line) for line in lt("task", "ls", "--fmt", "jsonl").lines]
    assert all("attempts" not in r for r in jsonl)  # jsonl stays a Task's fields: Task(**record) works
    assert labtasker.Task(**jsonl[0]).task_id in (plain, twice)
    assert set(lt("task", "ls", "-q").lines) == {plain, twice}
