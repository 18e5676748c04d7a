"""What ``@labtasker.loop()`` prints, counts and leaves behind, like ``labtasker loop``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import labtasker
from labtasker import Required
from tests.conftest import queue_env


def _failing_then(ok_after: int) -> object:
    calls: list[int] = []

    @labtasker.loop(retry_backoff=0)
    def main(lr: float = Required()) -> None:
        calls.append(1)
        if len(calls) <= ok_after:
            raise ValueError(f"lr {lr} diverged")

    return main


def test_the_python_loop_reports_each_task_its_traceback_and_a_tally(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tid = labtasker.submit_task(args={"lr": 0.1}, max_retries=3).task_id
    tally = _failing_then(1)()  # type: ignore[operator]
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("labtasker: ")]
    assert lines[0] == f"labtasker: task {tid} started: lr=0.1"
    assert lines[1].startswith(f"labtasker: task {tid} failed in ")
    assert lines[1].endswith(": ValueError: lr 0.1 diverged; will retry (2/3) (0 done, 1 failed, 1 left)")
    assert lines[3].startswith(f"labtasker: task {tid} done in ") and lines[3].endswith(
        "(1 done, 0 failed, 0 left)"
    )
    assert lines[-1] == "labtasker: loop finished: 1 done (2 attempts), 0 failed"
    assert tally.done == 1 and tally.attempts == 2
    # the user's traceback, on stderr and in the run's log, without labtasker's own frames
    assert "Traceback (most recent call last):" in err and 'raise ValueError(f"lr {lr} diverged")' in err
    assert "labtasker/" not in err.split("Traceback", 1)[1].split("labtasker: ", 1)[0]
    # the failed run's log holds its traceback; the silent run that was done left none
    runs = sorted((project / ".labtasker" / "logs" / "run").iterdir())
    assert [run.name.endswith(tid) for run in runs] == [True]
    first = (runs[0] / "run.log").read_text()
    assert "ValueError: lr 0.1 diverged" in first and "/labtasker/" not in first
    assert first.splitlines()[-1].startswith("# labtasker: exit status 1, failed, ")
    # stored once, in one shape; cleared when a later attempt succeeded, kept in the history
    task = labtasker.get_task(tid)
    assert (task.status, task.last_error, task.error) == ("success", None, None)
    assert "labtasker_exception" not in task.summary
    (failed,) = labtasker.ls_attempts(tid)
    assert failed.error is not None and set(failed.error) == {"type", "message", "traceback"}
    assert (failed.error["type"], failed.error["message"]) == ("ValueError", "lr 0.1 diverged")
    assert failed.error["traceback"].startswith("Traceback") and "runner.py" not in failed.error["traceback"]
    assert labtasker.ls_workers().content[0].status == "exited"


def test_a_run_keeps_a_log_only_when_it_left_something_to_read(project: Path) -> None:
    silent, chatty, asks = (labtasker.submit_task(args={"x": x}).task_id for x in (1, 2, 3))

    @labtasker.loop()
    def main(x: int = Required()) -> None:
        if x == 2:
            print("epoch 1: loss 0.5")
        elif x == 3:
            (labtasker.get_labtasker_log_dir() / "ckpt.txt").write_text("saved")

    assert main().done == 3
    runs = {run.name.split("--", 1)[1]: run for run in (project / ".labtasker" / "logs" / "run").iterdir()}
    assert set(runs) == {chatty, asks}  # the silent run's outcome is in its task file only
    said = (runs[chatty] / "run.log").read_text().splitlines()
    assert said[0] == "epoch 1: loss 0.5" and said[-1].startswith("# labtasker: exit status 0, done, ")
    assert (runs[asks] / "ckpt.txt").read_text() == "saved"
    assert (runs[asks] / "run.log").read_text().startswith("# labtasker: exit status 0, done, ")
    assert labtasker.get_task(silent).status == "success"


def test_a_job_that_changes_directory_logs_where_the_loop_started(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    (project / "elsewhere").mkdir()
    tids = [labtasker.submit_task(args={"x": x}).task_id for x in (1, 2)]

    @labtasker.loop()
    def main(x: int = Required()) -> None:
        os.chdir(project / "elsewhere")
        print(f"run {x}")

    assert main().done == 2
    logs = sorted((project / ".labtasker" / "logs" / "run").glob("*/run.log"))
    assert [log.parent.name.split("--", 1)[1] for log in logs] == tids
    assert not (project / "elsewhere" / ".labtasker").exists()


def test_quiet_silences_the_loop(project: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    labtasker.submit_task(args={"x": 1})

    @labtasker.loop(quiet=True)
    def main(x: int = Required()) -> None:
        pass

    assert main().done == 1
    labtasker.submit_task(args={"x": 2})
    monkeypatch.setenv("LABTASKER_QUIET", "1")

    @labtasker.loop()
    def again(x: int = Required()) -> None:
        pass

    assert again().done == 1
    assert capsys.readouterr().err == ""


def test_when_nothing_matched_the_loop_says_which_keys_differ(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tid = labtasker.submit_task(args={"lr": 0.1, "seed": 1}).task_id

    @labtasker.loop()
    def main(lr: float = Required()) -> None:
        pass

    assert main().total == 0
    err = capsys.readouterr().err
    assert "labtasker: loop finished: 0 done, 0 failed\n" in err
    assert f"e.g. task {tid}: it has extra seed" in err and "no more, no less" in err


def test_a_drained_queue_is_not_a_crash(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tid = labtasker.submit_task(args={"lr": 0.1}, max_retries=3).task_id
    tally = _failing_then(10)()  # type: ignore[operator]
    assert (tally.failed, tally.attempts, tally.crashed) == (1, 3, "")
    err = capsys.readouterr().err
    assert "crashed" not in err
    assert "failed for good (3/3)" in err and err.count("loop finished") == 1
    assert "loop finished: 0 done, 1 failed (3 attempts)" in err
    assert labtasker.get_task(tid).status == "failed"
    assert labtasker.ls_workers().content[0].status == "exited"


def test_a_crash_message_says_it_was_one_task_again_and_again(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tid = labtasker.submit_task(args={"lr": 0.1}, max_retries=5, priority=10).task_id
    labtasker.submit_task(args={"lr": 0.2})  # another task is still there: a real crash
    main = _failing_then(10)
    with pytest.raises(labtasker.LoopStopped) as stopped:
        main()  # type: ignore[operator]
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert f"after 3 failed attempts in a row: task {tid} 3 times" in err
    assert err.count("was marked crashed") == 1


SESSION = """
import os, time, labtasker
from labtasker import Required

@labtasker.loop(create_worker_kwargs={"worker_name": os.environ["NAME"]})
def main(x: int = Required()):
    time.sleep(0.4)

main()
"""


def test_loops_sharing_a_terminal_name_their_lines(project: Path, tmp_path: Path) -> None:
    for x in range(6):
        labtasker.submit_task(args={"x": x})
    script = tmp_path / "loop.py"
    script.write_text(textwrap.dedent(SESSION))
    bash = (
        f"NAME=gpu0 {sys.executable} {script} 2> {tmp_path / 'a.err'} &\n"
        f"NAME=gpu1 {sys.executable} {script} 2> {tmp_path / 'b.err'} &\nwait\n"
    )
    subprocess.run(["bash", "-c", bash], cwd=project, env=queue_env(project), check=True, timeout=60)
    a, b = (tmp_path / "a.err").read_text(), (tmp_path / "b.err").read_text()
    assert "labtasker: [gpu0] task " in a and "labtasker: [gpu1] task " in b
    alone = subprocess.run(
        [sys.executable, str(script)],
        cwd=project,
        env={**queue_env(project), "NAME": "solo"},
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )
    assert "[solo]" not in alone.stderr


def test_reporting_works_in_a_real_script(project: Path) -> None:
    """A script whose loop function raises: the script shows the traceback and goes on."""
    labtasker.submit_task(args={"x": 1}, max_retries=1)
    code = (
        "import labtasker\n"
        "from labtasker import Required\n"
        "@labtasker.loop()\n"
        "def main(x: int = Required()):\n"
        "    raise RuntimeError('boom')\n"
        "main()\n"
        "print('after')\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=queue_env(project), capture_output=True, text=True
    )
    assert ran.returncode == 0 and ran.stdout == "after\n"
    assert 'File "<string>", line 5, in main' in ran.stderr and "RuntimeError: boom" in ran.stderr
    assert "failed for good (1/1)" in ran.stderr
    assert os.path.isdir(project / ".labtasker" / "logs" / "run")
