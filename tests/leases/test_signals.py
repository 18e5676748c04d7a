"""Every loop stops the same way on SIGINT, SIGTERM and SIGHUP, and eta_max stops a Python job for real.

Real processes on real folders: the loop and its job are started, signalled,
and afterwards the process listing must hold none of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import labtasker
from labtasker.fsqueue.store import FsQueue
from tests.cli.conftest import labtasker_bin
from tests.conftest import queue_env
from tests.leases.conftest import Procs, state, wait_for

PY = sys.executable

# A Python loop whose job writes its pid, then sleeps (or ignores stops, with SWALLOW=1).
SLEEPER = """
import os, sys, time
import labtasker
from labtasker import Required

@labtasker.loop(eta_max=os.environ.get("ETA") or None, grace=float(os.environ.get("GRACE", "10")))
def main(x: int = Required()):
    open(os.environ["PIDFILE"], "w").write(str(os.getpid()))
    if os.environ.get("SWALLOW"):
        while True:
            try:
                time.sleep(60)
            except BaseException:
                print("swallowed a stop", flush=True)
    time.sleep(60)

main()
print("after the loop", flush=True)
"""


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (the process listing's view)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def started_pid(path: Path) -> int:
    wait_for(lambda: path.exists() and path.read_text().strip(), f"{path.name} to be written")
    return int(path.read_text())


def attempts_of(tid: str) -> list[labtasker.Attempt]:
    return labtasker.ls_attempts(tid)


def test_sigterm_to_a_python_loop_puts_the_task_back_without_a_retry(
    fast: Path, queue: FsQueue, procs: Procs, tmp_path: Path
) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    pidfile = tmp_path / "job.pid"
    loop = procs.start(fast, [PY, "-c", SLEEPER], name="py", env={"PIDFILE": str(pidfile)})
    wait_for(lambda: state(queue, tid) == "running", "the loop to claim the task")
    started_pid(pidfile)
    loop.send_signal(signal.SIGTERM)
    assert loop.wait(timeout=20) == 143
    err = procs.text("py")
    assert "Traceback" not in err and "KeyboardInterrupt" not in err  # one line, no traceback
    assert f"labtasker: stopped by SIGTERM; task {tid} is back in pending, no retry counted" in err
    assert "after the loop" not in procs.text("py", "out")  # the script ends with the loop (LoopStopped)
    task = labtasker.get_task(tid)
    assert (task.status, task.retries, task.worker_id) == ("pending", 0, None)
    (attempt,) = attempts_of(tid)
    assert attempt.status == "interrupted" and "no retry counted" in (attempt.reason or "")
    assert not alive(loop.pid)
    assert labtasker.ls_workers().content[0].status == "exited"


def test_a_python_job_sleeping_past_eta_max_is_stopped_and_fails(
    fast: Path, queue: FsQueue, procs: Procs, tmp_path: Path
) -> None:
    tid = labtasker.submit_task(args={"x": 1}, max_retries=1).task_id
    pidfile = tmp_path / "job.pid"
    began = time.monotonic()
    loop = procs.start(fast, [PY, "-c", SLEEPER], name="py", env={"PIDFILE": str(pidfile), "ETA": "1s"})
    assert loop.wait(timeout=30) == 0
    assert time.monotonic() - began < 15  # not the 60 s the job would sleep
    task = labtasker.get_task(tid)
    assert task.status == "failed" and task.error is not None
    assert task.error["type"] == "EtaExceeded" and "eta_max (1s)" in task.error["message"]
    err = procs.text("py")
    assert f"labtasker: task {tid}: the run exceeded eta_max (1s); stopping its job" in err
    assert f"task {tid} failed in" in err and "failed for good (1/1)" in err
    assert "loop finished: 0 done, 1 failed" in err
    assert not os.listdir(queue.path / "running")


def test_a_python_job_that_swallows_the_stop_is_given_up_and_its_lease_not_renewed(
    fast: Path, queue: FsQueue, procs: Procs, tmp_path: Path
) -> None:
    tid = labtasker.submit_task(args={"x": 1}, max_retries=1).task_id
    pidfile = tmp_path / "job.pid"
    env = {"PIDFILE": str(pidfile), "ETA": "0.5s", "SWALLOW": "1", "GRACE": "1"}
    loop = procs.start(fast, [PY, "-c", SLEEPER], name="py", env=env)
    wait_for(lambda: state(queue, tid) == "failed", "the attempt to be recorded as failed", timeout=20)
    assert "swallowed a stop" in procs.text("py", "out")  # interrupted again and again, in vain
    assert not os.listdir(queue.path / "running")  # no lease is renewed for a job given up on
    assert labtasker.get_task(tid).error["type"] == "EtaExceeded"
    assert loop.poll() is None  # the function still holds the process: it is the user's to end
    loop.send_signal(signal.SIGKILL)
    loop.wait(timeout=10)


def test_a_backgrounded_cli_loop_in_a_script_stops_on_sigint(project: Path, tmp_path: Path) -> None:
    """A shell starts a script's background jobs with SIGINT ignored: the loop takes it back."""
    tid = labtasker.submit_task(args={"x": 1}).task_id
    pidfile, rc = tmp_path / "job.pid", tmp_path / "rc"
    job = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    script = (
        f"(labtasker loop -- {PY} -c {_q(job)} '%(x)' 2>{tmp_path / 'loop.err'}; echo $? > {rc}) &\n"
        "echo $! > " + str(tmp_path / "sub.pid") + "\nwait\n"
    )
    env = {**queue_env(project), "PATH": f"{labtasker_bin(tmp_path)}{os.pathsep}{os.environ['PATH']}"}
    shell = subprocess.Popen(["bash", "-c", script], cwd=project, env=env, start_new_session=True)
    try:
        job_pid = started_pid(pidfile)
        os.killpg(shell.pid, signal.SIGINT)  # Ctrl-C on the script: its whole process group
        wait_for(lambda: rc.exists() and rc.read_text().strip(), "the loop's exit status", timeout=30)
        assert rc.read_text().strip() == "130"
        err = (tmp_path / "loop.err").read_text()
        assert f"stopped by SIGINT; task {tid} is back in pending, no retry counted" in err
        assert "labtasker/" not in err  # the job may print its KeyboardInterrupt; labtasker no traceback
        task = labtasker.get_task(tid)
        assert (task.status, task.retries) == ("pending", 0)
        assert [a.status for a in attempts_of(tid)] == ["interrupted"]
        wait_for(lambda: not alive(job_pid), "the job to be gone")
    finally:
        shell.wait(timeout=30)
        _kill_group(shell.pid)
    assert not _group_members(shell.pid)  # no orphan left behind


def test_sigterm_to_the_cli_loop_kills_a_job_that_ignores_it_after_the_grace(
    project: Path, tmp_path: Path
) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    pidfile = tmp_path / "job.pid"
    job = (
        "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    exe = labtasker_bin(tmp_path) / "labtasker"
    proc = subprocess.Popen(
        [str(exe), "loop", "--grace", "1", "--", PY, "-c", job, "%(x)"],
        cwd=project,
        env=queue_env(project),
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    job_pid = started_pid(pidfile)
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert time.monotonic() - began < 8  # one grace period, then SIGKILL
    assert f"stopped by SIGTERM; task {tid} is back in pending" in err and "Traceback" not in err
    assert not alive(job_pid)
    assert labtasker.get_task(tid).retries == 0


def test_count_interrupts_charges_a_retry(project: Path, tmp_path: Path) -> None:
    tid = labtasker.submit_task(args={"x": 1}, max_retries=3).task_id
    pidfile = tmp_path / "job.pid"
    job = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    exe = labtasker_bin(tmp_path) / "labtasker"
    proc = subprocess.Popen(
        [str(exe), "loop", "--count-interrupts", "--", PY, "-c", job, "%(x)"],
        cwd=project,
        env=queue_env(project),
        stderr=subprocess.PIPE,
        text=True,
    )
    started_pid(pidfile)
    proc.send_signal(signal.SIGHUP)
    proc.communicate(timeout=30)
    assert proc.returncode == 129
    task = labtasker.get_task(tid)
    assert (task.status, task.retries, task.error["type"]) == ("pending", 1, "Interrupted")


def _q(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _group_members(pgid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry))
    return found


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


GRACEFUL = """
import os, time
import labtasker
from labtasker import Required

@labtasker.loop()
def main(x: int = Required()):
    open(os.environ["PIDFILE"], "w").write(str(os.getpid()))
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        print("saved a checkpoint", flush=True)  # clean-up on Ctrl-C, then a normal return

main()
"""


def test_a_python_job_that_cleans_up_and_returns_on_sigint_is_still_interrupted(
    fast: Path, queue: FsQueue, procs: Procs, tmp_path: Path
) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    pidfile = tmp_path / "job.pid"
    loop = procs.start(fast, [PY, "-c", GRACEFUL], name="py", env={"PIDFILE": str(pidfile)})
    started_pid(pidfile)
    loop.send_signal(signal.SIGINT)
    assert loop.wait(timeout=20) == 130
    assert "saved a checkpoint" in procs.text("py", "out")
    task = labtasker.get_task(tid)
    assert (task.status, task.retries) == ("pending", 0)  # not done: the run did not finish


def test_a_python_job_that_ignores_sigterm_is_ended_after_the_grace(
    fast: Path, queue: FsQueue, procs: Procs, tmp_path: Path
) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    pidfile = tmp_path / "job.pid"
    env = {"PIDFILE": str(pidfile), "SWALLOW": "1", "GRACE": "1"}
    loop = procs.start(fast, [PY, "-c", SLEEPER], name="py", env=env)
    started_pid(pidfile)
    began = time.monotonic()
    loop.send_signal(signal.SIGTERM)
    assert loop.wait(timeout=20) == 143
    assert time.monotonic() - began < 8  # the grace (1 s), then the process is ended
    assert "swallowed a stop" in procs.text("py", "out")
    assert f"stopped by SIGTERM; task {tid} is back in pending, no retry counted" in procs.text("py")
    task = labtasker.get_task(tid)
    assert (task.status, task.retries) == ("pending", 0)
    assert labtasker.ls_workers().content[0].status == "exited"


def test_under_nohup_sighup_is_left_ignored(project: Path, tmp_path: Path) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    pidfile = tmp_path / "job.pid"
    job = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(2)"
    exe = labtasker_bin(tmp_path) / "labtasker"
    proc = subprocess.Popen(
        ["nohup", str(exe), "loop", "--", PY, "-c", job, "%(x)"],
        cwd=project,
        env=queue_env(project),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started_pid(pidfile)
    proc.send_signal(signal.SIGHUP)  # the terminal closed: nohup asked to carry on
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert labtasker.get_task(tid).status == "success"
