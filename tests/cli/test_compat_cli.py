"""Command lines written for the original labtasker, run on this one: same tasks touched, same spellings."""

from __future__ import annotations

import json

import pytest

from labtasker import api
from labtasker.cli import output
from tests.cli.conftest import Lt


def submit(lt: Lt, *argv: str) -> str:
    ran = lt("task", "submit", *argv)
    assert ran.code == 0, ran.err
    return ran.out.strip()


def five_tagged(lt: Lt) -> list[str]:
    """Five pending tasks; metadata.tag is t0..t4."""
    return [submit(lt, "--metadata", json.dumps({"tag": f"t{i}"}), "--", f"--i={i}") for i in range(5)]


# --- a dict written on the command line is the Python API's dict query -------


@pytest.mark.usefixtures("project")
def test_task_ls_with_a_dict_filter_lists_exactly_what_the_python_dict_selects(lt: Lt) -> None:
    ids = five_tagged(lt)
    ran = lt("task", "ls", "-q", "-f", '{"metadata.tag": "t1"}')
    assert (ran.code, ran.lines) == (0, [ids[1]])
    python = api.ls_tasks(extra_filter={"metadata.tag": "t1"}).content
    assert [t.task_id for t in python] == ran.lines
    ran = lt("task", "ls", "-q", "-f", "{'metadata.tag': {'$in': ['t3', 't4']}}")
    assert sorted(ran.lines) == sorted(ids[3:])


@pytest.mark.usefixtures("project")
def test_task_update_with_an_id_dict_filter_changes_that_task_only(lt: Lt) -> None:
    ids = five_tagged(lt)
    ran = lt("task", "update", "--extra-filter", json.dumps({"_id": ids[2]}), "-u", "priority=7")
    assert (ran.code, ran.out) == (0, "updated 1 task\n")
    priorities = {t.task_id: t.priority for t in api.ls_tasks().content}
    assert priorities == {i: (7 if i == ids[2] else 0) for i in ids}


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("true", "a constant is not a condition"),
        ("1", "a constant is not a condition"),
        ("metadata.tag", "metadata.tag is a field, not a condition"),
        ('status == "pending" or {"a": 1}', "a dict is not a condition"),
        ('{"metadata.tag": metadata.x}', "a dict query takes literal values only"),
    ],
)
def test_a_filter_that_is_not_a_condition_is_refused_and_nothing_changes(
    lt: Lt, expr: str, problem: str
) -> None:
    five_tagged(lt)
    for argv in (["task", "ls", "-f", expr], ["task", "update", "-q", "-f", expr, "-u", "priority=9"]):
        ran = lt(*argv)
        assert ran.code == 2, argv
        assert problem in ran.err and "Traceback" not in ran.err
    assert {t.priority for t in api.ls_tasks().content} == {0}


@pytest.mark.usefixtures("project")
def test_loop_and_worker_ls_take_a_dict_filter(lt: Lt) -> None:
    ids = five_tagged(lt)
    ran = lt("loop", "--no-use-pty", "-f", '{"metadata.tag": "t3"}', "--", "true")
    assert ran.code == 0, ran.err
    assert {t.task_id for t in api.ls_tasks(status="success").content} == {ids[3]}
    a = api.create_worker(worker_name="a", metadata={"gpu": 0})
    api.create_worker(worker_name="b", metadata={"gpu": 1})
    ran = lt("worker", "ls", "-q", "-f", '{"metadata.gpu": 0}')
    assert (ran.code, ran.lines) == (0, [a])
    ran = lt("worker", "ls", "-q", "-f", 'worker_name == "b" or metadata.gpu == 0')
    assert len(ran.lines) == 2
    ran = lt("worker", "ls", "-f", "args.lr > 1")
    assert ran.code == 2 and "unknown name 'args'" in ran.err


# --- an update through a query says how many tasks it will change -----------


@pytest.mark.usefixtures("project")
def test_update_by_query_on_a_terminal_asks_with_the_count(lt: Lt, monkeypatch: pytest.MonkeyPatch) -> None:
    five_tagged(lt)
    monkeypatch.setattr(output, "can_prompt", lambda: True)
    ran = lt("task", "update", "-s", "pending", "-u", "priority=5", stdin="n\n")
    assert ran.code != 0
    assert "5 tasks match" in ran.err and "Update all 5 tasks?" in ran.err
    assert {t.priority for t in api.ls_tasks().content} == {0}
    ran = lt("task", "update", "-s", "pending", "-u", "priority=5", stdin="y\n")
    assert (ran.code, ran.out) == (0, "updated 5 tasks\n")
    for consent in (["-y"], ["--yes"], ["-q"], ["--limit", "5"]):
        ran = lt("task", "update", "-s", "pending", *consent, "-u", "priority=6", stdin="")
        assert ran.code == 0 and "Update all" not in ran.err, consent
    assert {t.priority for t in api.ls_tasks().content} == {6}


@pytest.mark.usefixtures("project")
def test_update_by_query_without_a_terminal_never_waits_and_reports_the_count(lt: Lt) -> None:
    five_tagged(lt)
    ran = lt("task", "update", "-f", 'regex(metadata.tag, "t[0-2]")', "-u", "priority=1")
    assert (ran.code, ran.out) == (0, "updated 3 tasks\n")
    assert "updating 3 tasks that match the selection" in ran.err


@pytest.mark.usefixtures("project")
def test_update_limit_is_a_real_cap(lt: Lt) -> None:
    five_tagged(lt)
    ran = lt("task", "update", "-s", "pending", "--limit", "2", "-u", "priority=3")
    assert (ran.code, ran.out) == (0, "updated 2 tasks\n")
    assert "5 tasks match; updating the first 2" in ran.err
    assert sorted(t.priority for t in api.ls_tasks().content) == [0, 0, 0, 3, 3]


# --- spellings of the original -------------------------------------------------


@pytest.mark.usefixtures("project")
def test_update_field_names_take_dashes_or_underscores(lt: Lt) -> None:
    task_id = submit(lt, "--", "--lr=1")
    assert lt("task", "update", "--id", task_id, "--", "task-name=renamed", "max-retries=7").code == 0
    task = api.get_task(task_id)
    assert (task.task_name, task.max_retries) == ("renamed", 7)
    assert lt("task", "update", "--id", task_id, "-u", "args.batch-size=32").code == 0
    assert api.get_task(task_id).args == {"lr": 1, "batch_size": 32}
