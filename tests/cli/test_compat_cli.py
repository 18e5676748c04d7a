"""Command lines written for the original labtasker, run on this one: same tasks touched, same spellings."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

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


# --- labtasker loop ----------------------------------------------------------------

TTY_PROBE = (
    "import os, sys\n"
    "ttys = [s.isatty() for s in (sys.stdin, sys.stdout, sys.stderr)]\n"
    "cols = os.get_terminal_size(1).columns if ttys[1] else 0\n"
    "print(os.environ['LABTASKER_TASK_ID'], ttys, cols > 0)\n"
    "try:\n    input()\nexcept EOFError:\n    print('stdin at end')\n"
)


def test_a_command_without_placeholders_runs_every_task_under_a_terminal_even_from_a_pipe(
    project: Path, shell: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(TTY_PROBE)
    ids = [api.submit_task(args=args).task_id for args in ({"lr": 0.1}, {"a": {"b": 1}}, None)]
    # nohup-like: no terminal anywhere (stdin /dev/null, output into a pipe)
    ran = shell(f"labtasker loop -- {sys.executable} {probe} < /dev/null | cat", timeout=120)
    lines = [line for line in ran.stdout.splitlines() if line.strip()]
    assert sorted(line.split()[0] for line in lines if "[" in line) == sorted(ids)
    assert all("[True, True, True] True" in line for line in lines if "[" in line)
    assert lines.count("stdin at end") == 3
    assert {t.status for t in api.ls_tasks().content} == {"success"}


def test_no_use_pty_gives_the_command_plain_pipes(
    project: Path, shell: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(TTY_PROBE)
    api.submit_task(args={"x": 1})
    ran = shell(f"labtasker loop --no-use-pty -- {sys.executable} {probe} < /dev/null", timeout=120)
    assert "[False, False, False]" in ran.stdout


@pytest.mark.usefixtures("project")
def test_placeholders_still_say_why_no_task_fits(lt: Lt) -> None:
    api.submit_task(args={"lr": 0.1, "extra": 1})
    ran = lt("loop", "--no-use-pty", "--", "echo", "%(lr)")
    assert ran.code == 2
    assert "no pending task has exactly the args of the command's placeholders (lr)" in ran.err
    assert "it has extra extra" in ran.err


# --- the original's spellings ------------------------------------------------------


@pytest.mark.usefixtures("project")
def test_queue_create_with_the_originals_options(lt: Lt) -> None:
    ran = lt("queue", "create", "--queue-name", "exp2", "--password", "secret", "--metadata", '{"tag": "x"}')
    assert ran.code == 0, ran.err
    assert (
        ran.err
        == "labtasker: a queue folder has no password (its file permissions guard it); --password ignored\n"
    )
    assert api.get_queue("exp2").metadata == {"tag": "x"}
    ran = lt("queue", "update", "--new-password", "p2")
    assert ran.code == 0 and "has no password" in ran.err


@pytest.mark.usefixtures("project")
def test_submit_with_the_originals_options(lt: Lt) -> None:
    task_id = submit(
        lt, "--task-name", "t", "--cmd", "python train.py", "--task-timeout", "1h30m", "--", "--lr=0.1"
    )
    task = api.get_task(task_id)
    assert (task.task_name, task.cmd, task.task_timeout) == ("t", "python train.py", 5400)
    ran = lt("task", "submit", "--task-timeout", "soon", "--", "--lr=1")
    assert ran.code == 2 and "--task-timeout" in ran.err
    assert lt("task", "ls", "--pager", "-q").lines == [task_id]
    other = submit(lt, "--args", "{'arg4': {0: 'zero', 1: 'one'}}")
    assert api.get_task(other).args == {"arg4": {"0": "zero", "1": "one"}}
    assert lt("task", "ls", "-q", "-f", '{"args.arg4.0": "zero"}').lines == [other]


@pytest.mark.usefixtures("project")
def test_worker_ls_takes_pager_switches(lt: Lt) -> None:
    wid = api.create_worker()
    for switch in ("--pager", "--no-pager"):
        ran = lt("worker", "ls", "-q", switch)
        assert (ran.code, ran.lines) == (0, [wid])


def test_event_listen_with_the_originals_switches(project: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    transition = re.compile(r"\[\s*(\w+)\s*->\s*(\w+)\s*\]")
    for switches, looks_like in ((["--raw", "--timeout", "5"], "{"), (["--compact", "-v"], "[")):
        listener = subprocess.Popen(
            [sys.executable, "-m", "labtasker", "event", "listen", *switches],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert listener.stderr is not None and listener.stdout is not None
            assert "listening to" in listener.stderr.readline()
            api.submit_task(args={"x": 1})
            line = listener.stdout.readline()
            if looks_like == "{":
                assert json.loads(line)["new"] == "pending"
            else:  # the original's compact line: [seq][time][state_transition][task][id][created -> pending]
                found = transition.search(line)
                assert found is not None and found.groups() == ("created", "pending"), line
                assert "[task      ]" in line and "state_transition" in line
        finally:
            listener.send_signal(signal.SIGTERM)
            assert listener.wait(timeout=20) == 0


@pytest.mark.usefixtures("project")
def test_queue_update_with_nothing_is_a_no_op_and_empty_metadata_empties_it(lt: Lt) -> None:
    assert lt("queue", "update", "--metadata", '{"a": 1, "b": 2}').code == 0
    assert lt("queue", "update", "--metadata", '{"b": 3}').code == 0
    assert api.get_queue().metadata == {"a": 1, "b": 3}
    ran = lt("queue", "update")
    assert ran.code == 0 and "nothing to update" in ran.err
    assert api.get_queue().metadata == {"a": 1, "b": 3}
    assert lt("queue", "update", "--metadata", "{}").code == 0
    assert api.get_queue().metadata == {}


@pytest.mark.usefixtures("project")
def test_a_loop_as_a_suspended_worker_refuses_to_start(lt: Lt) -> None:
    api.submit_task(args={"x": 1})
    wid = lt("worker", "create").out.strip()
    assert lt("worker", "report", wid, "suspended").code == 0
    ran = lt("loop", "--worker-id", wid, "--no-use-pty", "--", "true")
    assert ran.code == 1 and f"worker {wid} is marked suspended" in ran.err
    assert [t.status for t in api.ls_tasks().content] == ["pending"]
    assert lt("worker", "report", wid, "active").code == 0
    assert lt("loop", "--worker-id", wid, "--no-use-pty", "--", "true").code == 0


def test_loop_takes_its_command_from_a_pipe(
    project: Path, shell: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    api.submit_task(args={"word": "piped"})
    ran = shell("echo 'echo got %(word) > out.txt' | labtasker loop --no-use-pty", timeout=120)
    assert (project / "out.txt").read_text() == "got piped\n", ran.stderr
