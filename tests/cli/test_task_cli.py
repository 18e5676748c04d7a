"""`labtasker task ...` run in process: what a user sees, what lands in the queue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labtasker import api
from labtasker.fsqueue.store import FsQueue
from tests.cli.conftest import Lt


def submit(lt: Lt, *argv: str) -> str:
    ran = lt("task", "submit", *argv)
    assert ran.code == 0, ran.err
    return ran.out.strip()


@pytest.mark.usefixtures("project")
def test_submit_prints_the_id_and_stores_typed_args(lt: Lt) -> None:
    task_id = submit(
        lt,
        "--name",
        "grid_search",
        "--metadata",
        '{"tags": ["v1", "experimental"], "note": "b"}',
        "--priority",
        "10",
        "--max-retries",
        "5",
        "--",
        "--lr=0.001",
        "--model=resnet",
    )
    task = api.get_task(task_id)
    assert (task.task_name, task.priority, task.max_retries) == ("grid_search", 10, 5)
    assert task.args == {"lr": 0.001, "model": "resnet"}
    assert task.metadata == {"tags": ["v1", "experimental"], "note": "b"}


@pytest.mark.usefixtures("project")
def test_submit_with_args_option_and_special_values(lt: Lt) -> None:
    assert api.get_task(submit(lt, "--args", '{"arg1": 0, "arg2": 3}')).args == {"arg1": 0, "arg2": 3}
    assert api.get_task(submit(lt, "--args", "{'arg1': 0}")).args == {"arg1": 0}
    special = api.get_task(submit(lt, "--", "--value=-1", "--label=", "--desc=hello world")).args
    assert special == {"value": -1, "label": "", "desc": "hello world"}


@pytest.mark.usefixtures("project")
def test_submit_from_a_sweep_file_and_stdin(lt: Lt, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.jsonl"
    sweep.write_text(
        '# a comment\n{"args": {"lr": 0.1}}\n\n{"args": {"lr": 0.2}, "task_name": "b", "priority": 5}\n'
    )
    ran = lt("task", "submit", "--from-file", str(sweep), "--name", "a", "--metadata", '{"tags": ["s"]}')
    assert ran.code == 0 and len(ran.lines) == 2
    tasks = {t.args["lr"]: t for t in api.ls_tasks().content}
    assert tasks[0.1].task_name == "a" and tasks[0.2].task_name == "b"
    assert tasks[0.2].priority == 5 and tasks[0.1].metadata == {"tags": ["s"]}
    ran = lt("task", "submit", "--from-file", "-", stdin='{"args": {"lr": 0.3}}\n')
    assert ran.code == 0 and len(api.ls_tasks().content) == 3


@pytest.mark.usefixtures("project")
def test_a_bad_sweep_line_submits_nothing(lt: Lt, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.jsonl"
    sweep.write_text('{"args": {"lr": 0.1}}\n{"lr": 0.2}\n')
    ran = lt("task", "submit", "--from-file", str(sweep))
    assert ran.code == 2
    assert "line 2" in ran.err and '"args"' in ran.err
    assert api.ls_tasks().content == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--priority", "high", "--", "--a=1"],
            "invalid value 'high' for --priority: expected a whole number",
        ),
        (["--metadata", "[1]", "--", "--a=1"], "--metadata must be a dict"),
        (["--", "lr=1"], "unexpected task argument 'lr=1'"),
        (["--args", "{}", "--", "--a=1"], "either after -- or with --args"),
        (["--bogus"], "unknown switch --bogus"),
        (["--max-retries", "-1"], "expected a number >= 0"),
    ],
)
@pytest.mark.usefixtures("project")
def test_bad_submit_input_is_one_line_exit_2_and_writes_nothing(
    lt: Lt, argv: list[str], message: str
) -> None:
    ran = lt("task", "submit", *argv)
    assert ran.code == 2
    assert ran.err.count("\n") == 1 and ran.err.startswith("labtasker: error: ")
    assert message in ran.err
    assert "Traceback" not in ran.err
    assert api.ls_tasks().content == []


def test_first_write_creates_the_queue_and_says_so(
    lt: Lt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert lt("task", "ls").out == ""
    assert lt("task", "count", "--fmt", "json").out.strip() == json.dumps(
        {"pending": 0, "running": 0, "success": 0, "failed": 0, "cancelled": 0, "total": 0}
    )
    assert not (tmp_path / ".labtasker").exists()  # reading made nothing
    ran = lt("task", "submit", "--", "--a=1")
    assert "created" in ran.err and (tmp_path / ".labtasker" / "config.toml").exists()


@pytest.mark.usefixtures("project")
def test_ls_formats_and_selectors(lt: Lt) -> None:
    a = submit(lt, "--name", "grid-a", "--metadata", '{"tags": ["v1"]}', "--", "--lr=0.1")
    b = submit(lt, "--name", "debug-b", "--", "--lr=0.001")
    assert lt("task", "ls", "-q").lines == [a, b]
    assert lt("task", "ls", "-f", "args.lr > 0.01", "-q", "--no-pager").lines == [a]
    assert lt("task", "ls", "-f", '"v1" in list(metadata.tags)', "-q").lines == [a]
    assert lt("task", "ls", "-f", 'regex(task_name, "^debug-.*")', "-q").lines == [b]
    assert lt("task", "ls", "--name", "debug-b", "-q").lines == [b]
    assert lt("task", "ls", "--id", b, "-q").lines == [b]
    assert lt("task", "ls", "-s", "pending", "-q").lines == [a, b]
    assert lt("task", "ls", "-s", "success", "-q").lines == []
    jsonl = [json.loads(line) for line in lt("task", "ls", "--fmt", "jsonl").lines]
    assert [r["task_id"] for r in jsonl] == [a, b] and jsonl[0]["args"] == {"lr": 0.1}
    table = lt("task", "ls").lines
    assert table[0].split() == ["TASK_ID", "NAME", "STATUS", "PRIORITY", "RETRIES", "ARGS"]
    assert a in table[1] and '{"lr": 0.1}' in table[1]
    assert "\x1b[" not in "".join(table)  # piped: plain text
    yaml_out = lt("task", "ls", "--fmt", "yaml").out
    assert f"- task_id: {a}" in yaml_out


@pytest.mark.usefixtures("project")
def test_ls_sorts_limits_and_warns_when_more_match(lt: Lt) -> None:
    ids = [submit(lt, "--", f"--i={i}") for i in range(5)]
    assert lt("task", "ls", "-q", "-S", "args.i:desc").lines == ids[::-1]
    ran = lt("task", "ls", "-q", "--limit", "2", "--offset", "1")
    assert ran.lines == ids[1:3]
    assert "more match" in ran.err and "--offset 3" in ran.err
    assert "more match" not in lt("task", "ls", "-q", "--limit", "5").err


@pytest.mark.usefixtures("project")
def test_bad_filter_is_exit_2_with_the_filter_message(lt: Lt) -> None:
    ran = lt("task", "ls", "-f", "args.lr >")
    assert ran.code == 2
    assert ran.err.startswith("labtasker: error: invalid filter") and "Traceback" not in ran.err
    assert lt("task", "ls", "-s", "nonsense").code == 2


@pytest.mark.usefixtures("project")
def test_count_per_status(lt: Lt) -> None:
    a = submit(lt, "--", "--x=1")
    submit(lt, "--", "--x=2")
    lt("task", "update", "--id", a, "-u", "status=cancelled")
    counts = dict(line.split() for line in lt("task", "count").lines)
    assert counts == {
        "pending": "1",
        "running": "0",
        "success": "0",
        "failed": "0",
        "cancelled": "1",
        "total": "2",
    }
    assert json.loads(lt("task", "count", "-f", "args.x > 1", "--fmt", "json").out)["pending"] == 1


@pytest.mark.usefixtures("project")
def test_update_patches_one_key_and_replaces_a_whole_dict(lt: Lt) -> None:
    task_id = submit(lt, "--metadata", '{"tags": ["v1"], "note": "n"}', "--", "--lr=0.1", "--model=vit")
    ran = lt("task", "update", "--id", task_id, "-u", "args.lr=0.005", "-u", 'metadata.tags=["v2"]')
    assert ran.code == 0 and ran.out == "updated 1 task\n"
    task = api.get_task(task_id)
    assert task.args == {"lr": 0.005, "model": "vit"}
    assert task.metadata == {"tags": ["v2"], "note": "n"}
    assert lt("task", "update", "--id", task_id, "--", 'args={"seed": 1}', "priority=100").code == 0
    task = api.get_task(task_id)
    assert task.args == {"seed": 1} and task.priority == 100


@pytest.mark.usefixtures("project")
def test_update_by_filter_reset_pending_and_quiet(lt: Lt, queue: FsQueue) -> None:
    a = submit(lt, "--", "--lr=0.1", "--model=resnet")
    b = submit(lt, "--", "--lr=0.1", "--model=vit")
    for task_id in (a, b):
        api.update_tasks([api.TaskUpdateRequest(task_id=task_id, status="cancelled")])
    ran = lt(
        "task",
        "update",
        "-s",
        "cancelled",
        "-f",
        'args.model == "resnet"',
        "-u",
        "args.lr=0.005",
        "--reset-pending",
        "--quiet",
    )
    assert ran.code == 0 and ran.out == ""
    assert api.get_task(a).status == "pending" and api.get_task(a).args["lr"] == 0.005
    assert api.get_task(b).status == "cancelled"


@pytest.mark.usefixtures("project")
def test_update_reads_ids_from_stdin(lt: Lt) -> None:
    ids = [submit(lt, "--", f"--i={i}") for i in range(3)]
    ran = lt("task", "update", "-u", "priority=7", stdin="\n".join(ids[:2]) + "\n")
    assert ran.code == 0
    assert [api.get_task(i).priority for i in ids] == [7, 7, 0]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--id", "nope", "-u", "priority=1"], 1, "no task with id 'nope'"),
        (["--id", "X", "-u", "bogus=1"], 2, "'bogus' is not a field"),
        (["--id", "X", "-u", "priority=high"], 2, "priority must be an integer"),
        (["--id", "X", "-u", "status=paused"], 2, "unknown status 'paused'"),
        (["--id", "X", "-u", "args=5"], 2, "args must be a dict"),
        (["--id", "X"], 2, "nothing to update"),
        (["--id", "X", "-u", "args.lr"], 2, "write field=value"),
    ],
)
@pytest.mark.usefixtures("project")
def test_update_errors(lt: Lt, argv: list[str], code: int, message: str) -> None:
    ran = lt("task", "update", *argv)
    assert ran.code == code, ran.err
    assert message in ran.err and "Traceback" not in ran.err


@pytest.mark.usefixtures("project")
def test_an_invalid_transition_fails_that_task_only(lt: Lt) -> None:
    a = submit(lt, "--", "--i=1")
    b = submit(lt, "--", "--i=2")
    api.update_tasks([api.TaskUpdateRequest(task_id=a, status="cancelled")])
    ran = lt("task", "update", "-u", "status=pending", stdin=f"{a}\n{b}\n")
    assert ran.code == 0  # cancelled -> pending and pending -> pending are both allowed
    api.update_tasks([api.TaskUpdateRequest(task_id=a, status="cancelled")])
    ran = lt("task", "update", "-u", "priority=3", "-u", "status=running", stdin=f"{a}\n{b}\n")
    assert ran.code == 1 and ran.err.count("cannot go from") == 2
    assert api.get_task(a).priority == 0


@pytest.mark.usefixtures("project")
def test_delete_by_id_and_stdin_needs_yes_off_a_terminal(lt: Lt) -> None:
    ids = [submit(lt, "--", f"--i={i}") for i in range(3)]
    ran = lt("task", "delete", ids[0])
    assert ran.code == 2 and "add -y" in ran.err
    assert len(api.ls_tasks().content) == 3
    assert lt("task", "delete", "-y", ids[0]).out == "deleted 1 task\n"
    ran = lt("task", "delete", "-y", stdin=f"{ids[1]}\n{ids[2]}\n")
    assert ran.out == "deleted 2 tasks\n" and api.ls_tasks().content == []
    ran = lt("task", "delete", "-y", "missing-id")
    assert ran.code == 1 and "no task with id 'missing-id'" in ran.err
    assert lt("task", "delete", "-y", stdin="").code == 0  # an empty pipe deletes nothing


@pytest.mark.usefixtures("project")
def test_delete_asks_on_a_terminal(lt: Lt, monkeypatch: pytest.MonkeyPatch) -> None:
    from labtasker.cli import output

    task_id = submit(lt, "--", "--i=1")
    monkeypatch.setattr(output, "can_prompt", lambda: True)
    ran = lt("task", "delete", task_id, stdin="n\n")
    assert ran.code == 1 and "nothing was deleted" in ran.err and len(api.ls_tasks().content) == 1
    ran = lt("task", "delete", task_id, stdin="y\n")
    assert ran.code == 0 and api.ls_tasks().content == []
