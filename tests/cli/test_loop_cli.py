"""`labtasker loop`: commands run per task, failures and retries, scripts, env, Ctrl-C, lost leases."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from labtasker import api, config
from labtasker.cli import child
from labtasker.fsqueue.store import FsQueue
from tests.cli.conftest import Lt, labtasker_bin
from tests.conftest import queue_env

PY = sys.executable
SHOW = (
    "import json, os, sys; print(json.dumps([sys.argv[1:], os.environ.get('CUDA_VISIBLE_DEVICES'), "
    "os.environ.get('LABTASKER_TASK_ID')]))"
)


def shown(out: str) -> list[list]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("[")]


@pytest.mark.usefixtures("project")
def test_loop_runs_each_matching_task_with_its_args_and_env(lt: Lt, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [api.submit_task(args={"lr": lr, "model": m}).task_id for lr, m in ((0.1, "vit"), (0.01, "resnet"))]
    api.submit_task(args={"lr": 1, "model": "x", "seed": 1})  # an extra key: not this loop's task
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    ran = lt("loop", "--", PY, "-c", SHOW, "--lr", "%(lr)", "--model", "%(model)")
    assert ran.code == 0, ran.err
    assert shown(ran.out) == [
        [["--lr", "0.1", "--model", "vit"], "1", ids[0]],
        [["--lr", "0.01", "--model", "resnet"], "1", ids[1]],
    ]
    assert [api.get_task(i).status for i in ids] == ["success", "success"]
    assert "loop finished: 2 done, 0 failed" in ran.err
    assert ran.err.count("done in") == 2
    assert (
        "(2 done, 0 failed, 0 left; 1 other waits for a different command)" in ran.err
    )  # left: tasks it can run
    assert f"task {ids[0]} started: lr=0.1, model=vit" in ran.err


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize("pty", [False, True])
def test_output_is_teed_to_the_runs_log(lt: Lt, project: Path, pty: bool) -> None:
    task_id = api.submit_task(args={"msg": "hello"}).task_id
    ran = lt(
        "loop",
        "--use-pty" if pty else "--no-use-pty",
        "--",
        PY,
        "-c",
        "import sys; print(sys.argv[1]); print('err', file=sys.stderr)",
        "%(msg)",
    )
    assert ran.code == 0 and "hello" in ran.out
    # plain pipes keep the job's stderr apart; a terminal is one stream, as it is for a person
    assert "err" in (ran.out if pty else ran.err)
    logs = list((project / ".labtasker" / "logs").rglob("run.log"))
    assert len(logs) == 1 and task_id in str(logs[0])
    text = logs[0].read_text()
    assert "hello\n" in text and "err\n" in text
    last = text.splitlines()[-1]  # how it ended, how long it took, where
    assert last.startswith("# labtasker: exit status 0, done, ") and last.endswith(
        f"s on {socket.gethostname()}"
    )


@pytest.mark.usefixtures("project")
def test_a_value_with_shell_syntax_is_one_argument_and_runs_nothing(lt: Lt, project: Path) -> None:
    api.submit_task(args={"desc": "hello world; touch PWNED"})
    ran = lt("loop", "--", PY, "-c", SHOW, "%(desc)")
    assert shown(ran.out)[0][0] == ["hello world; touch PWNED"]
    api.submit_task(args={"desc": "hello world; touch PWNED"})
    ran = lt("loop", "--cmd", f"{PY} -c \"import sys; print(sys.argv[1:])\" %(desc) '%(desc)'")
    assert "['hello world; touch PWNED', 'hello world; touch PWNED']" in ran.out
    assert not (project / "PWNED").exists()


@pytest.mark.usefixtures("project")
def test_a_failing_command_is_retried_then_failed(lt: Lt) -> None:
    task_id = api.submit_task(args={"x": 1}, max_retries=2).task_id
    ran = lt("loop", "--", PY, "-c", "import sys; print('boom'); sys.exit(3)", "%(x)")
    assert ran.code == 0
    task = api.get_task(task_id)
    assert (task.status, task.retries) == ("failed", 2)
    assert "exited with code 3" in task.last_error and "boom" in task.last_error
    assert task.error == {
        "type": "CommandFailed",
        "message": "the command exited with code 3: boom",
        "traceback": "boom",
    }
    assert f"task {task_id} failed in" in ran.err
    assert ": the command exited with code 3: boom; will retry (2/2) (0 done, 1 failed, 1 left)" in ran.err
    assert "; failed for good (2/2) (0 done, 1 failed, 0 left)" in ran.err
    assert "loop finished: 0 done, 1 failed (2 attempts)" in ran.err  # tasks, attempts in brackets
    logs = sorted(Path(".labtasker/logs/run").glob(f"*{task_id}/run.log"))
    assert [log.read_text().splitlines()[-1].split(", ")[:2] for log in logs] == [
        ["# labtasker: exit status 3", "failed"]
    ] * 2


@pytest.mark.usefixtures("project")
def test_a_worker_failing_again_and_again_stops_with_exit_1(lt: Lt) -> None:
    for i in range(4):
        api.submit_task(args={"x": i}, max_retries=1)
    ran = lt("loop", "--", PY, "-c", "raise SystemExit(1)", "%(x)")
    assert ran.code == 1
    assert "marked crashed" in ran.err
    assert len(api.ls_tasks(status="failed").content) == 3
    assert len(api.ls_tasks(status="pending").content) == 1


@pytest.mark.usefixtures("project")
def test_script_path_runs_a_multi_line_script(lt: Lt, tmp_path: Path) -> None:
    api.submit_task(args={"dataset": "imagenet", "model": "vit b"})
    script = tmp_path / "job.sh"
    script.write_text(
        "LOG_DIR=/logs/%(dataset)/%(model)\n"
        'echo "dataset=%(dataset) model=%(model) log=$LOG_DIR"\n'
        'echo "second line runs too"\n'
    )
    ran = lt("loop", "--script-path", str(script))
    assert ran.code == 0, ran.err
    assert "dataset=imagenet model=vit b log=/logs/imagenet/vit b" in ran.out
    assert "second line runs too" in ran.out
    api.submit_task(args={"dataset": "cifar", "model": "resnet"})
    script.write_text('[[ "%(model)" == res* ]] && echo "bash ran %(dataset)"\n')  # bash-only syntax
    ran = lt("loop", "--script-path", str(script), "--executable", "/bin/bash")
    assert ran.code == 0 and "bash ran cifar" in ran.out


@pytest.mark.usefixtures("project")
def test_nested_placeholders_and_max_tasks(lt: Lt) -> None:
    for lr in (0.1, 0.2):
        api.submit_task(args={"optimizer": {"lr": lr, "momentum": 0.9}})
    ran = lt("loop", "--max-tasks", "1", "--", PY, "-c", SHOW, "%(optimizer.lr)", "%(optimizer.momentum)")
    assert ran.code == 0
    assert [s[0] for s in shown(ran.out)] == [["0.1", "0.9"]]
    assert len(api.ls_tasks(status="pending").content) == 1


@pytest.mark.usefixtures("project")
def test_extra_filter_picks_tasks(lt: Lt) -> None:
    api.submit_task(args={"lr": 0.1}, metadata={"tags": ["v1"]})
    api.submit_task(args={"lr": 0.2}, metadata={"tags": ["v2"]})
    ran = lt("loop", "--extra-filter", '"v1" in list(metadata.tags)', "--", PY, "-c", SHOW, "%(lr)")
    assert [s[0] for s in shown(ran.out)] == [["0.1"]]
    ran = lt("loop", "-f", '"v3" in list(metadata.tags)', "--", PY, "-c", SHOW, "%(lr)")
    assert ran.code == 0 and "matched the filter" in ran.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--", "python", "%(lr"], "is not closed"),
        ([], "give the command to run"),
        (["--cmd", "echo", "--", "echo"], "got a command after -- and --cmd"),
        (["--", "no-such-program-xyz", "%(lr)"], "command not found"),
        (["--executable", "/bin/bash", "--", "echo", "%(lr)"], "--executable is the shell"),
        (["--eta-max", "soon", "--", "echo", "%(lr)"], "not a duration"),
        (["--heartbeat-timeout", "-5", "--", "echo", "%(lr)"], "positive"),
        (["-f", "args.lr >", "--", "echo", "%(lr)"], "invalid filter"),
        (["--script-path", "/no/such/file"], "cannot read --script-path"),
    ],
)
@pytest.mark.usefixtures("project")
def test_bad_loop_input_is_exit_2_before_any_task_is_taken(lt: Lt, argv: list[str], message: str) -> None:
    task_id = api.submit_task(args={"lr": 0.1}).task_id
    ran = lt("loop", *argv)
    assert ran.code == 2 and message in ran.err, ran.err
    assert api.get_task(task_id).status == "pending"


@pytest.mark.usefixtures("project")
def test_placeholders_that_fit_no_task_are_a_clear_error(lt: Lt) -> None:
    task_id = api.submit_task(args={"lr": 0.1, "model": "vit"}).task_id
    ran = lt("loop", "--", "echo", "%(lr)", "%(batch)")
    assert ran.code == 2
    assert "it lacks batch" in ran.err and "it has extra model" in ran.err and "no more, no less" in ran.err
    assert api.get_task(task_id).retries == 0 and api.get_task(task_id).status == "pending"


@pytest.mark.usefixtures("project")
def test_wait_and_lease_flags_reach_the_loop_engine(lt: Lt, monkeypatch: pytest.MonkeyPatch) -> None:
    from labtasker.worker import runner

    calls: list[dict] = []

    def engine(job: object, tree: object, **kw: object) -> runner.Tally:
        calls.append(kw)
        return runner.Tally()

    monkeypatch.setattr(api, "run_loop", engine)
    assert (
        lt(
            "loop", "--wait", "--heartbeat-interval", "5", "--heartbeat-timeout", "20", "--", "echo", "%(lr)"
        ).code
        == 0
    )
    assert lt("loop", "--", "echo", "%(lr)").code == 0
    assert [(c["wait"], c["heartbeat_interval"], c["heartbeat_timeout"]) for c in calls] == [
        (True, 5.0, 20.0),
        (False, None, None),
    ]


def test_jobs_see_a_terminal_under_a_pty(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code = "import sys; print('tty' if sys.stdout.isatty() else 'pipe', end='\\n')"
    for use_pty, word in ((True, "tty"), (False, "pipe")):
        result = child.run(
            [PY, "-c", code], env=dict(os.environ), log_path=tmp_path / "run.log", use_pty=use_pty
        )
        assert result.code == 0 and result.tail.strip() == word.encode()
    assert capfd.readouterr().out == "tty\npipe\n"
    assert (tmp_path / "run.log").read_text() == "tty\npipe\n"  # no CR from the terminal in the log


def _wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_a_cancelled_task_stops_its_command(lt: Lt, project: Path, tmp_path: Path) -> None:
    cfg = project / ".labtasker" / "config.toml"
    cfg.write_text(cfg.read_text().replace("[loop]", "[loop]\nheartbeat_interval = 0.1"))
    task_id = api.submit_task(args={"x": 1}).task_id
    started = tmp_path / "started"
    job = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(60)"

    def cancel() -> None:
        _wait_for(started)
        api.update_tasks([api.TaskUpdateRequest(task_id=task_id, status="cancelled")])

    thread = threading.Thread(target=cancel)
    thread.start()
    begin = time.monotonic()
    ran = lt("loop", "--", PY, "-c", job, "%(x)")
    thread.join()
    assert time.monotonic() - begin < 30  # stopped, not run to the end
    assert ran.code == 0 and "1 lost" in ran.err
    assert api.get_task(task_id).status == "cancelled"


@pytest.mark.usefixtures("project")
def test_eta_max_stops_a_run_that_takes_too_long(lt: Lt) -> None:
    task_id = api.submit_task(args={"x": 1}, max_retries=1).task_id
    begin = time.monotonic()
    ran = lt("loop", "--eta-max", "0.5s", "--", PY, "-c", "import time; time.sleep(60)", "%(x)")
    assert time.monotonic() - begin < 20
    assert ran.code == 0 and "1 failed" in ran.err
    task = api.get_task(task_id)
    assert task.status == "failed" and "eta_max" in (task.last_error or "")


def test_ctrl_c_stops_the_job_and_the_loop_and_keeps_the_task(project: Path, tmp_path: Path) -> None:
    task_id = api.submit_task(args={"x": 1}).task_id
    started, child_pid = tmp_path / "started", tmp_path / "pid"
    job = (
        f"import os, pathlib, time; pathlib.Path({str(child_pid)!r}).write_text(str(os.getpid())); "
        f"pathlib.Path({str(started)!r}).touch(); time.sleep(60)"
    )
    exe = labtasker_bin(tmp_path) / "labtasker"
    proc = subprocess.Popen(
        [str(exe), "loop", "--", PY, "-c", job, "%(x)"],
        cwd=project,
        env=queue_env(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(started)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "back in pending" in err
    assert "labtasker/" not in err  # the job may print its KeyboardInterrupt; labtasker prints no traceback
    task = api.get_task(task_id)
    assert (task.status, task.retries) == ("pending", 0)
    with pytest.raises(ProcessLookupError):
        os.kill(int(child_pid.read_text()), 0)
    assert FsQueue(api.context().queue.path).names("running") == []
    assert config.find_root() is not None


def test_the_loops_lines_in_a_real_shell(project: Path, shell) -> None:
    """Crash versus drained queue, as a person sees them: one line each, the right exit status."""
    poison = api.submit_task(args={"x": 1}, max_retries=5, priority=5).task_id
    api.submit_task(args={"x": 2})
    api.submit_task(args={"y": 1})  # waits for a different command
    fail = f"{PY} -c 'raise SystemExit(1)' '%(x)'"
    ran = shell(f"labtasker loop --retry-backoff 0 --cmd {json.dumps(fail)}", check=False)
    assert ran.returncode == 1
    assert ran.stderr.count("was marked crashed") == 1
    assert f"after 3 failed attempts in a row: task {poison} 3 times; this loop stops" in ran.stderr
    assert (
        "; will retry (2/5) (0 done, 1 failed, 2 left; 1 other waits for a different command)" in ran.stderr
    )
    assert "loop finished: 0 done, 1 failed (3 attempts)" in ran.stderr
    api.update_tasks([api.TaskUpdateRequest(task_id=poison, status="cancelled")])
    worker = api.ls_workers().content[0].worker_id
    assert api.ls_workers().content[0].status == "crashed"
    ran = shell(f"labtasker loop -q --worker-id {worker} -- true '%(x)'", check=False)
    assert ran.returncode == 1 and "is marked crashed; reactivate it with" in ran.stderr
    ran = shell(
        f"labtasker worker report {worker} active && labtasker loop -q --worker-id {worker} -- true '%(x)'"
    )
    assert ran.stderr == "" and api.get_task(api.ls_tasks(status="success").content[0].task_id).args == {
        "x": 2
    }


@pytest.mark.usefixtures("project")
def test_a_drained_queue_is_not_a_crash_exit_0(lt: Lt) -> None:
    task_id = api.submit_task(args={"x": 1}, max_retries=3).task_id
    ran = lt("loop", "--retry-backoff", "0", "--", PY, "-c", "raise SystemExit(2)", "%(x)")
    assert ran.code == 0, ran.err
    assert "crashed" not in ran.err and ran.err.count("loop finished: 0 done, 1 failed (3 attempts)") == 1
    assert api.get_task(task_id).status == "failed"
    assert api.ls_workers().content[0].status == "exited"


def test_an_idle_waiting_loop_stops_on_sigterm(project: Path, tmp_path: Path) -> None:
    exe = labtasker_bin(tmp_path) / "labtasker"
    proc = subprocess.Popen(
        [str(exe), "loop", "--wait", "--", "true", "%(x)"],
        cwd=project,
        env=queue_env(project),
        stderr=subprocess.PIPE,
        text=True,
    )
    from labtasker.fsqueue import locking

    locks = locking.lock_dir(api.context().queue)
    deadline = time.monotonic() + 20
    while not list(locks.glob("*.lock")):  # its liveness lock: taken once it handles signals
        assert time.monotonic() < deadline, "the loop never started"
        time.sleep(0.03)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143
    assert err.strip().splitlines()[-1] == "labtasker: stopped by SIGTERM (0 done, 0 failed)"


def test_a_loop_keeps_its_name_tag_once_it_shared_the_terminal(project: Path, tmp_path: Path) -> None:
    """Two loops in one script tag their lines "[name]"; when one ends, the other's later lines keep
    the tag, so a log where they were interleaved reads the same from top to bottom."""
    for i in range(3):
        api.submit_task(args={"i": i})
    exe, env = str(labtasker_bin(tmp_path) / "labtasker"), queue_env(project)
    job = ["--", "sh", "-c", "sleep 2", "sh", "%(i)"]
    first = subprocess.Popen(
        [exe, "loop", "--max-tasks", "1", *job], cwd=project, env=env, stderr=subprocess.PIPE, text=True
    )
    assert first.stderr is not None and "started" in first.stderr.readline()  # it runs its one task
    second = subprocess.run(
        [exe, "loop", *job], cwd=project, env=env, capture_output=True, text=True, timeout=60
    )
    first.communicate(timeout=30)
    lines = [line for line in second.stderr.splitlines() if " started: " in line or " done in " in line]
    assert len(lines) == 4, second.stderr  # two tasks, each started and done
    assert lines[0].startswith("labtasker: [")  # the first loop was running then
    tag = lines[0].split("]")[0] + "]"
    assert all(line.startswith(tag) for line in lines), second.stderr
