"""Bad input is refused at the door, with one line naming the key and the fix, and nothing written."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import labtasker
from labtasker import api, config
from labtasker.errors import FilterError, UsageError
from labtasker.fsqueue.store import FsQueue
from tests.conftest import queue_env
from tests.reliability.conftest import Lt


def _nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    node = doc
    for _ in range(depth):
        node["k"] = {}
        node = node["k"]
    return doc


def _looped() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


BAD_SUBMITS: dict[str, tuple[dict[str, Any], str]] = {
    "a set": ({"args": {"a": {1, 2}}}, "args.a is a set"),
    "bytes": ({"args": {"a": b"x"}}, "args.a is a bytes"),
    "an object": ({"metadata": {"o": object()}}, "metadata.o is a object"),
    "a lone surrogate": ({"args": {"s": "\ud800"}}, "args.s is not valid text"),
    "a newline in the name": ({"task_name": "a\nb"}, "control character"),
    "an escape in the name": ({"task_name": "\x1b[31mred"}, "control character"),
    "a NUL in the name": ({"task_name": "a\x00"}, "control character"),
    "zero timeout": ({"task_timeout": 0}, "task_timeout.*positive"),
    "negative heartbeat timeout": ({"heartbeat_timeout": -5}, "heartbeat_timeout must be a positive"),
    "infinite timeout": ({"heartbeat_timeout": float("inf")}, "finite"),
    "NaN timeout": ({"heartbeat_timeout": float("nan")}, "finite"),
    "too deep": ({"args": _nested(200)}, "nested deeper than"),
    "a loop": ({"args": {"l": _looped()}}, "nested deeper than"),
}


@pytest.mark.parametrize("case", sorted(BAD_SUBMITS))
def test_a_bad_submit_is_refused_and_nothing_is_written(case: str, queue: FsQueue) -> None:
    fields, said = BAD_SUBMITS[case]
    with pytest.raises(ValueError, match=said) as caught:
        labtasker.submit_task(**fields)
    assert "\n" not in str(caught.value).replace("\\n", "")  # one line
    with pytest.raises(ValueError, match=said):
        labtasker.submit_tasks([{"args": {"ok": 1}}, fields])  # a batch is refused whole
    assert os.listdir(queue.path / "pending") == []
    assert labtasker.ls_tasks().content == []  # and the queue still lists


def test_nan_and_infinities_are_kept(queue: FsQueue) -> None:
    """YAML holds them (.nan, .inf); a diverged run's loss is worth keeping as it was."""
    tid = labtasker.submit_task(
        args={"loss": float("nan"), "hi": float("inf"), "day": datetime.date(2026, 1, 2)}
    ).task_id
    args = labtasker.get_task(tid).args
    assert (
        args["loss"] != args["loss"]
        and args["hi"] == float("inf")
        and args["day"] == datetime.date(2026, 1, 2)
    )


@pytest.mark.parametrize(
    "text", ["diff >>>>>>> theirs", "<<<<<<< HEAD", "a\n=======\nb", ">>>>>>> x\n<<<<<<< y\n=======\n"]
)
def test_values_that_look_like_merge_markers_are_values(text: str, queue: FsQueue, project: Path) -> None:
    """Only whole lines of a file count as git's markers: a task whose value holds one stays listed
    by every reader (a fresh process reads the file), and is never quarantined."""
    tid = labtasker.submit_task(
        task_name=text.splitlines()[0], args={"note": text, "nested": {"n": text}}
    ).task_id
    listed = subprocess.run(
        [sys.executable, "-m", "labtasker", "task", "ls", "--fmt", "jsonl"],
        cwd=project,
        env=queue_env(project),
        capture_output=True,
        text=True,
        check=True,
    )
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["task_id"] == tid and row["args"] == {"note": text, "nested": {"n": text}}
    assert "quarantine" not in listed.stderr and os.listdir(queue.path / "quarantine") == []


@pytest.mark.parametrize(
    "argv",
    [
        ["task", "submit", "--name", "a\nb", "--", "--x=1"],
        ["task", "submit", "--task-timeout", "0", "--", "--x=1"],
        ["task", "submit", "--heartbeat-timeout", "-1", "--", "--x=1"],
    ],
)
def test_bad_input_on_the_command_line_is_one_clear_line(argv: list[str], queue: FsQueue, lt: Lt) -> None:
    ran = lt(*argv)
    assert ran.code != 0
    assert len(ran.err.strip().splitlines()) == 1 and "Traceback" not in ran.err, ran.err
    assert os.listdir(queue.path / "pending") == []


TRAVERSALS = [
    "../../x",
    "a/b",
    "",
    "#$@",
    "..",
    ".",
    "../../../other/.labtasker/queues/default",
    "/etc",
    "a\nb",
    "x--y",
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_queue_names_cannot_leave_the_queues_folder(name: str, project: Path, lt: Lt, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    root = config.init_root(other)
    victim = FsQueue.create(config.load(root).resolved_queue_dir(), "default")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for argv in (
        ["queue", "create", name],
        ["queue", "delete", "-y", name],
        ["queue", "update", "--new-name", name],
    ):
        ran = lt(*argv)
        assert ran.code == 2 and "invalid" in ran.err and len(ran.err.strip().splitlines()) == 1, (argv, ran)
    for call in (
        lambda: labtasker.create_queue(name),
        lambda: labtasker.delete_queue(name),
        lambda: labtasker.update_queue(new_queue_name=name),
    ):
        with pytest.raises(UsageError, match="invalid"):
            call()
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing made, nothing removed
    assert victim.exists() and api.context().queue.info()["queue_name"] == "default"


@pytest.mark.parametrize("pattern", [r"(x+x+)+y", r"(a|aa)+$", r"([a-z]+ ?)+$"])
def test_a_regex_bomb_ends_with_a_clear_error(pattern: str, queue: FsQueue, lt: Lt) -> None:
    labtasker.submit_task(task_name="x" * 3000 + "!" if "x" in pattern else "a" * 3000 + "!", args={"n": 1})
    started = time.monotonic()
    with pytest.raises(FilterError, match="backtracks too much"):
        labtasker.ls_tasks(extra_filter=f'regex(task_name, "{pattern}")')
    with pytest.raises(FilterError, match="backtracks too much"):
        labtasker.ls_tasks(extra_filter={"task_name": {"$regex": pattern}})
    ran = lt("task", "ls", "-f", f'regex(task_name, "{pattern}")')
    assert ran.code == 2 and len(ran.err.strip().splitlines()) == 1, ran.err
    assert (
        time.monotonic() - started < 15
    )  # three filters, each stopped after 0.2 s of matching (slower under load)


def test_the_issues_regex_finishes_and_regex_features_stay(queue: FsQueue) -> None:
    labtasker.submit_task(task_name="a" * 41, args={"n": 1})
    labtasker.submit_task(task_name="grid-lr-0.1", args={"n": 2})
    started = time.monotonic()
    assert labtasker.ls_tasks(extra_filter='regex(task_name, "(a+)+$")').content[0].args == {"n": 1}
    assert time.monotonic() - started < 1
    found = labtasker.ls_tasks(
        extra_filter=r'regex(task_name, "^(?P<kind>grid)-(?=lr)lr-([0-9])[.][0-9]$")'
    ).content
    assert [t.args for t in found] == [{"n": 2}]  # groups, lookahead, classes: Python's syntax
