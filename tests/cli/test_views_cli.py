"""What a person sees: tables that fit, formats, run logs, workers as they are, help.

Every command runs in a real process (bash, a pipe or a pseudo-terminal).
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import labtasker_bin

Shell = Callable[..., subprocess.CompletedProcess[str]]

LONG = "a note long enough to need cutting on any terminal, " * 3


def on_terminal(argv: list[str], columns: int, tmp_path: Path) -> str:
    """Run ``labtasker ARGV`` with its stdout on a pseudo-terminal ``columns`` wide."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PATH"] = f"{labtasker_bin(tmp_path)}{os.pathsep}{env['PATH']}"
    proc = subprocess.Popen(
        ["labtasker", *argv, "--no-pager"],
        stdout=child,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


# ------------------------------------------------------------------ tables
@pytest.mark.usefixtures("project")
def test_a_table_fits_the_terminal_and_wide_shows_every_cell(shell: Shell, tmp_path: Path) -> None:
    shell(
        f"labtasker task submit -q --name long -- --lr=0.1 --note='{LONG}'\n"
        "id=$(labtasker task submit -- --lr=0.2 --model=vit)\n"
        "labtasker task update --id $id -u summary.acc=0.91 --quiet\n"
    )
    text = on_terminal(["task", "ls"], 70, tmp_path)
    lines = text.splitlines()
    # what a person can spare goes first; the ids stay whole, to be copied into the next command
    assert lines[0].split() == ["TASK_ID", "STATUS", "ARGS", "SUMMARY"]
    assert all(len(line) <= 70 for line in lines), text
    assert set(shell("labtasker task ls -q").stdout.split()) <= set(text.split())
    assert on_terminal(["task", "ls"], 140, tmp_path).splitlines()[0].split() == [
        "TASK_ID", "NAME", "STATUS", "PRIORITY", "RETRIES", "ARGS", "SUMMARY"
    ]  # fmt: skip
    assert "…" in text and LONG not in text
    wide = on_terminal(["task", "ls", "--wide"], 70, tmp_path)
    assert LONG.strip() in wide and '{"acc": 0.91}' in wide
    piped = shell("labtasker task ls").stdout  # a pipe: whole cells
    assert LONG.strip() in piped and "…" not in piped


@pytest.mark.usefixtures("project")
def test_every_column_is_cut_when_the_terminal_is_narrow(shell: Shell, tmp_path: Path) -> None:
    shell("labtasker task submit -q --name a-rather-long-task-name -- --lr=0.1")
    text = on_terminal(["task", "ls"], 40, tmp_path)
    assert all(len(line) <= 40 for line in text.splitlines()), text
    task_id = shell("labtasker task ls -q").stdout.strip()
    assert task_id not in text and task_id[:13] in text  # even the id gave way, last and least


@pytest.mark.usefixtures("project")
def test_a_table_shows_only_the_errors_headline(shell: Shell) -> None:
    Path("job.sh").write_text(
        'echo "step 1"\necho "Traceback: deep"  >&2\necho "CUDA out of memory" >&2\nexit 3\n'
    )
    shell(
        "labtasker task submit -q --max-retries 1 -- --lr=0.1\nlabtasker loop -q --script-path job.sh || true"
    )
    table = shell("labtasker task ls").stdout.splitlines()
    assert table[0].split()[-1] == "ERROR"
    assert table[1].endswith("the command exited with code 3: CUDA out of memory")
    assert len(table) == 2  # one line per task, however long the error
    detail = yaml.safe_load(shell("labtasker task ls --fmt yaml").stdout)[0]
    assert "Traceback: deep" in detail["error"]["traceback"] and "CUDA out of memory" in detail["last_error"]


@pytest.mark.usefixtures("project")
def test_columns_pick_fields_for_tables_and_every_format(shell: Shell) -> None:
    shell(
        "id=$(labtasker task submit -- --lr=0.1 --model=vit)\n"
        "labtasker task update --id $id -u summary.acc=0.9 --quiet\n"
        "labtasker task submit -q -- --lr=0.2\n"
    )
    lines = shell("labtasker task ls -c args.lr,args.model,summary.acc").stdout.splitlines()
    assert lines[0].split() == ["TASK_ID", "ARGS.LR", "ARGS.MODEL", "SUMMARY.ACC"]
    assert lines[1].split()[1:] == ["0.1", "vit", "0.9"] and lines[2].split()[1:] == ["0.2", "-", "-"]
    rows = list(
        csv.DictReader(io.StringIO(shell("labtasker task ls -c args.lr,summary.acc --fmt csv").stdout))
    )
    assert [(r["args.lr"], r["summary.acc"]) for r in rows] == [("0.1", "0.9"), ("0.2", "")]
    records = json.loads(shell("labtasker task ls --columns args.lr,status --fmt json").stdout)
    assert [sorted(r) for r in records] == [["args.lr", "status", "task_id"]] * 2


@pytest.mark.usefixtures("project")
def test_every_listing_command_speaks_every_format(shell: Shell) -> None:
    shell(
        "labtasker task submit -q -- --lr=0.1 --tags='[1, 2]'\nlabtasker worker create -q >/dev/null || labtasker worker create >/dev/null"
    )
    for command in ("task ls", "worker ls", "queue ls", "task count"):
        out = {
            fmt: shell(f"labtasker {command} --fmt {fmt}").stdout
            for fmt in ("table", "yaml", "json", "jsonl", "csv")
        }
        assert out["table"].strip(), command
        assert yaml.safe_load(out["yaml"]), command
        assert json.loads(out["json"]), command
        assert [json.loads(line) for line in out["jsonl"].splitlines()], command
        assert len(list(csv.reader(io.StringIO(out["csv"])))) >= 2, command
    row = next(csv.DictReader(io.StringIO(shell("labtasker task ls --fmt csv").stdout)))
    assert row["args.lr"] == "0.1" and row["args.tags"] == "[1, 2]" and row["status"] == "pending"


@pytest.mark.usefixtures("project")
def test_a_reader_that_leaves_early_is_no_error(shell: Shell) -> None:
    lines = "\n".join(json.dumps({"args": {"i": i, "pad": "x" * 200}}) for i in range(400))
    Path("many.jsonl").write_text(lines + "\n")
    shell("labtasker task submit -q --from-file many.jsonl")
    task_id = shell("labtasker task submit -- --n=1").stdout.strip()
    shell("labtasker loop -q --cmd 'seq 1 100000 # %(n)' > /dev/null")
    for command in (
        "task ls --fmt jsonl --limit 1000",
        "task ls --limit 1000",
        "task ls -q --limit 1000",
        "task ls --fmt csv --limit 1000",
        "task ls --fmt yaml --limit 1000",
        "--help",
        "completion bash",
        f"task log {task_id}",
        f"task log --all {task_id}",
    ):
        ran = shell(f"set -o pipefail; labtasker {command} | head -1", check=False)
        assert ran.returncode == 0 and ran.stderr == "", (command, ran.stderr)


# ------------------------------------------------------------------ task log
@pytest.mark.usefixtures("project")
def test_task_log_prints_the_latest_run_or_any_or_all(shell: Shell) -> None:
    Path("job.sh").write_text(
        'n=$(cat count 2>/dev/null || echo 0); echo $((n + 1)) > count\necho "run $((n + 1))"\n[ $n -ge 1 ]\n'
    )
    task_id = shell("labtasker task submit -- --lr=0.1").stdout.strip()
    shell("labtasker loop -q --retry-backoff 0 --script-path job.sh")
    latest = shell(f"labtasker task log {task_id}").stdout
    assert "run 2" in latest and "run 1" not in latest
    footer = latest.splitlines()[-1]
    assert re.fullmatch(r"# labtasker: exit status 0, done, \d+\.\d+s on \S+", footer), footer
    first = shell(f"labtasker task log --attempt 1 {task_id}").stdout
    assert "run 1" in first and first.splitlines()[-1].startswith("# labtasker: exit status 1, failed, ")
    every = shell(f"labtasker task log --all {task_id} | cat").stdout
    assert every.index("==> run 1 of 2:") < every.index("run 1\n") < every.index("==> run 2 of 2:")


@pytest.mark.usefixtures("project")
def test_task_log_says_in_one_line_what_is_wrong(shell: Shell) -> None:
    pending = shell("labtasker task submit -- --lr=0.1").stdout.strip()
    ran = shell("labtasker task log no-such-task", check=False)
    assert ran.returncode == 1 and ran.stderr.startswith(
        "labtasker: error: no task with id 'no-such-task' in "
    )
    assert len(ran.stderr.splitlines()) == 1
    ran = shell(f"labtasker task log {pending}", check=False)
    assert ran.returncode == 1 and ran.stderr == (
        f"labtasker: error: task {pending} has no run log: it has not run yet (it is pending); "
        f"`labtasker task log -f {pending}` waits for it to start\n"
    )
    shell("labtasker loop -q -- true")
    ran = shell(f"labtasker task log --attempt 2 {pending}", check=False)
    assert ran.returncode == 2
    assert f"task {pending} has 1 run logged: --attempt takes 1 to 1" in ran.stderr


@pytest.mark.usefixtures("project")
def test_task_log_of_a_run_that_printed_nothing_says_so(shell: Shell) -> None:
    Path("job.py").write_text(
        "import labtasker\n\n@labtasker.loop()\ndef main(x: int = labtasker.Required()):\n    pass\n\nmain()\n"
    )
    task_id = shell("labtasker task submit -- --x=1").stdout.strip()
    shell(f"{sys.executable} job.py")
    ran = shell(f"labtasker task log {task_id}", check=False)
    assert ran.returncode == 1 and ran.stderr == (
        f"labtasker: error: task {task_id} has no run log: it ran and printed nothing (it is success); "
        "a Python job's run that is done without printing keeps no log\n"
    )
    followed = shell(f"labtasker task log -f {task_id}", check=False, timeout=20)
    assert (followed.returncode, followed.stdout) == (0, "")
    assert (
        followed.stderr
        == f"labtasker: task {task_id} is success: its run printed nothing, so it has no log\n"
    )


@pytest.mark.usefixtures("project")
def test_task_log_follows_a_running_task_to_its_end(shell: Shell, project: Path) -> None:
    Path("tick.sh").write_text('for i in 1 2 3; do echo "tick $i"; sleep 0.4; done\n')
    task_id = shell("labtasker task submit -- --x=1").stdout.strip()
    env = {**os.environ, "PATH": f"{labtasker_bin(project)}{os.pathsep}{os.environ['PATH']}"}
    follower = subprocess.Popen(
        ["labtasker", "task", "log", "-f", task_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    time.sleep(0.5)  # the follower waits for the run to start
    shell("labtasker loop -q --script-path tick.sh")
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert [line for line in out.splitlines() if line.startswith("tick")] == ["tick 1", "tick 2", "tick 3"]
    assert out.splitlines()[-1].startswith("# labtasker: exit status 0, done, ")


# ------------------------------------------------------------------ workers
@pytest.mark.usefixtures("project")
def test_worker_ls_tells_exited_dead_and_idle_apart(shell: Shell, project: Path) -> None:
    Path("ok.sh").write_text("exit 0\n")
    Path("bad.sh").write_text("exit 1\n")
    shell(
        "labtasker task submit -q -- --x=1\nlabtasker task submit -q --max-retries 1 -- --y=1\n"
        "labtasker loop -q -- sh ok.sh '%(x)'\nlabtasker loop -q -- sh bad.sh '%(y)' || true\n"
        "labtasker worker create --name spare >/dev/null\nlabtasker task submit -q -- --z=1\n"
    )
    env = {**os.environ, "PATH": f"{labtasker_bin(project)}{os.pathsep}{os.environ['PATH']}"}
    Path("slow.sh").write_text("sleep 15\n")  # its own session outlives the killed loop: keep it short
    loop = subprocess.Popen(
        ["labtasker", "loop", "-q", "--", "sh", "slow.sh", "%(z)"], env=env, start_new_session=True
    )
    try:
        deadline = time.time() + 30
        while not shell("labtasker task ls -q -s running").stdout.strip():
            assert time.time() < deadline
            time.sleep(0.2)
        live = {r["worker_id"]: r for r in json.loads(shell("labtasker worker ls --fmt json").stdout)}
        assert sorted(r["state"] for r in live.values()) == ["active", "exited", "exited", "idle"]
    finally:
        os.killpg(loop.pid, signal.SIGKILL)
        loop.wait()
    records = json.loads(shell("labtasker worker ls --fmt json").stdout)
    states = sorted((r["state"], r["tasks_done"], r["tasks_failed"]) for r in records)
    assert states == [("dead", 0, 0), ("exited", 0, 1), ("exited", 1, 0), ("idle", 0, 0)]
    table = shell("labtasker worker ls").stdout.splitlines()
    assert table[0].split() == [
        "WORKER_ID", "NAME", "STATUS", "HOST", "PID", "LAST_SEEN", "DONE", "FAILED", "FAILS_IN_A_ROW",
    ]  # fmt: skip
    dead = shell("labtasker worker ls -s dead -q").stdout.split()
    assert len(dead) == 1 and dead[0] in {r["worker_id"] for r in records if r["state"] == "dead"}


# ------------------------------------------------------------------ help
def _all_commands() -> list[list[str]]:
    from labtasker.cli.main import Labtasker

    found: list[list[str]] = []

    def walk(cls: type, path: list[str]) -> None:
        found.append(path)
        for name, sub in cls("labtasker")._subcommands.items():
            if not name.startswith("_"):
                walk(sub.get(), [*path, name])

    walk(Labtasker, [])
    return found


def test_every_help_has_examples_and_no_framework_noise(shell: Shell) -> None:
    commands = _all_commands()
    assert len(commands) >= 30
    script = "\n".join(f"echo '=== {' '.join(c)}'; labtasker {' '.join(c)} --help" for c in commands)
    out = shell(script).stdout
    for block in out.split("=== ")[1:]:
        name, _, text = block.partition("\n")
        assert text.startswith(f"Usage: labtasker {name}".rstrip()), name
        assert "\nExamples:\n  labtasker" in text or "\nExamples:\n  ls " in text, name
        for noise in (
            "Meta-switches",
            "--help-all",
            "--completions",
            ":int",
            ":str",
            "Sub-commands",
            "0.1.0",
        ):
            assert noise not in text, (name, noise)


# ------------------------------------------------------------------ completion
def _need(program: str) -> str:
    import shutil

    found = shutil.which(program)
    if found is None:
        pytest.skip(f"{program} is not installed (.ci/run installs it)")
    return found


@pytest.fixture
def ids(shell: Shell, project: Path) -> tuple[str, str]:
    task = shell("labtasker task submit -- --lr=0.1").stdout.strip()
    worker = shell("labtasker worker create").stdout.strip()
    return task, worker


CASES = [
    ("labtasker ta", ["task"]),
    ("lt task l", ["log", "ls"]),
    ("labtasker task ls --fm", ["--fmt"]),
    ("labtasker task ls --fmt j", ["json", "jsonl"]),
    ("lt task ls -s f", ["failed"]),
    ("labtasker worker ls -s d", ["dead"]),
    ("labtasker worker report WID s", ["suspended"]),
    ("labtasker completion z", ["zsh"]),
]


def _cases(task: str, worker: str) -> list[tuple[str, list[str]]]:
    return [
        *((line.replace("WID", worker), want) for line, want in CASES),
        (f"lt task log {task[:9]}", [task]),
    ]


def test_bash_completes_commands_switches_values_and_ids(shell: Shell, ids: tuple[str, str]) -> None:
    for line, want in _cases(*ids):
        words = line.split()
        script = (
            "source <(labtasker completion bash)\n"
            f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}\n"
            "_labtasker_complete; printf '%s\\n' \"${COMPREPLY[@]}\"\ncomplete -p lt >/dev/null\n"
        )
        assert shell(script).stdout.split() == want, line


def test_zsh_completes_commands_switches_values_and_ids(shell: Shell, ids: tuple[str, str]) -> None:
    zsh = _need("zsh")
    Path("_labtasker").write_text(shell("labtasker completion zsh").stdout)
    for line, want in _cases(*ids):
        words = line.split()
        Path("t.zsh").write_text(
            "autoload -U compinit; compinit -u -D; source ./_labtasker\n"
            '_describe() { print -l -- "${(@P)${@[-1]}}" }; _files() { print FILES }\n'  # what compsys gets
            f"words=({line}); CURRENT={len(words)}; _labtasker\n"
        )
        out = shell(f"{zsh} -f t.zsh").stdout.split("\n")
        assert [o.split(":")[0] for o in out if o] == want, line
    Path("t.zsh").write_text(
        "autoload -U compinit; compinit -u -D; source ./_labtasker\n"
        '_describe() { print -l -- "${(@P)${@[-1]}}" }\nwords=(labtasker w); CURRENT=2; _labtasker\n'
    )
    assert shell(f"{zsh} -f t.zsh").stdout == "worker:Create, list, report and delete workers\n"


def test_fish_completes_commands_switches_values_and_ids(shell: Shell, ids: tuple[str, str]) -> None:
    fish = _need("fish")
    Path("labtasker.fish").write_text(shell("labtasker completion fish").stdout)
    for line, want in _cases(*ids):
        out = shell(f"{fish} --no-config -c 'source labtasker.fish; complete -C \"{line}\"'").stdout
        assert [o.split("\t")[0] for o in out.splitlines()] == want, line


def test_completion_for_an_unknown_shell_is_a_usage_error(shell: Shell) -> None:
    ran = shell("labtasker completion tcsh", check=False)
    assert (
        ran.returncode == 2
        and ran.stderr == "labtasker: error: unknown shell 'tcsh': choose bash, zsh or fish\n"
    )


def test_completion_runs_the_installed_command_even_outside_a_project(shell: Shell, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    out = shell("labtasker __complete bash -- task log ''").stdout
    assert out == ""  # no queue here: nothing to offer, and no error
    assert sys.executable


@pytest.mark.usefixtures("project")
def test_the_tuis_log_tab_shows_what_task_log_prints(shell: Shell) -> None:
    from labtasker import api
    from labtasker.fsqueue import layout
    from labtasker.tui import detail

    task_id = shell("labtasker task submit -- --x=1").stdout.strip()
    shell("labtasker loop -q -- echo 'hello %(x)'")
    queue = api.context().queue
    name = next(n for n in queue.names("done") if layout.task_id_of("done", n) == task_id)
    shown = detail.load(queue, "success", name, detail.log_dirs_for(queue.path))
    assert shown.log == shell(f"labtasker task log {task_id}").stdout.rstrip("\n")
    assert shown.log.splitlines()[-1].startswith("# labtasker: exit status 0, done, ")
