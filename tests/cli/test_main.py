"""The root command: help, version, errors, optional commands, completion, start-up imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import labtasker
from labtasker import __version__
from labtasker.fsqueue.store import FsQueue
from tests.cli.conftest import Lt
from tests.conftest import queue_env


def test_version_and_help(lt: Lt) -> None:
    assert lt("--version").out.strip() == f"labtasker {__version__}"
    ran = lt("--help")
    assert ran.code == 0
    for name in ("init", "config", "queue", "task", "worker", "loop"):
        assert f"\n  {name} " in ran.out
    for argv in (
        ["task", "--help"],
        ["task", "submit", "--help"],
        ["task", "ls", "-h"],
        ["loop", "--help"],
        ["queue", "--help"],
        ["worker", "ls", "--help"],
        ["init", "--help"],
        ["config", "--help"],
    ):
        assert lt(*argv).code == 0, argv
    assert lt().code == 0  # no command: the help


def test_unknown_commands_and_switches_are_one_line_usage_errors(lt: Lt) -> None:
    for argv, text in (
        (["tsak"], "unknown command 'tsak'"),
        (["task", "sumbit"], "unknown command 'sumbit'"),
        (["task", "ls", "--bogus"], "unknown switch --bogus"),
        (["task", "ls", "--limit"], "requires an argument"),
        (["task", "ls", "--limit", "0"], "expected a number >= 1"),
        (["worker", "report", "w1"], "expected at least 2 positional arguments"),
        (["task", "submit", "--lr=1"], "unknown switch --lr; task args go after --"),
        (["loop", "python", "train.py", "--lr", "%(lr)"], "the command goes after --"),
    ):
        ran = lt(*argv)
        assert ran.code == 2, argv
        assert ran.err.startswith("labtasker: error: ") and ran.err.count("\n") == 1, ran.err
        assert text in ran.err
        assert ran.out == ""


@pytest.mark.usefixtures("project")
def test_tracebacks_only_when_asked(lt: Lt, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "Traceback" not in lt("task", "update", "--id", "nope", "-u", "priority=1").err
    ran = lt("-v", "task", "update", "--id", "nope", "-u", "priority=1")
    assert (
        ran.code == 1
        and "Traceback" in ran.err
        and ran.err.rstrip().endswith("(hint: list task ids with `labtasker task ls -q`)")
    )
    assert "Traceback" in lt("task", "update", "-v", "--id", "nope", "-u", "priority=1").err
    monkeypatch.setenv("LABTASKER_DEBUG", "1")
    assert "Traceback" in lt("task", "update", "--id", "nope", "-u", "priority=1").err


def test_help_lists_every_command_and_each_one_loads(lt: Lt) -> None:
    """Every command's module is imported for --help: one that fails to import fails here, loudly."""
    ran = lt("--help")
    for name in ("init", "config", "queue", "task", "worker", "loop", "skill", "sync", "reconcile", "fsck"):
        assert name in ran.out
    assert ran.code == 0 and "tui" in ran.out and "event" in ran.out
    ran = lt("task", "--help")
    assert ran.code == 0 and all(n in ran.out for n in ("update", "history", "reserve"))
    for name in ("sync", "reconcile", "fsck", "tui", "event"):
        assert lt(name, "--help").code == 0, name


def test_shell_completion(lt: Lt) -> None:
    ran = lt("completion", "bash")
    assert ran.code == 0 and "complete -o default -F _labtasker_complete labtasker lt" in ran.out
    assert lt("__complete", "bash", "--", "ta").out.split() == ["task"]
    assert lt("__complete", "bash", "--", "task", "su").out.split() == ["submit"]


@pytest.mark.usefixtures("project")
def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from labtasker.cli import output

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    assert output.paint("x", "red", Tty()) == "\x1b[31mx\x1b[0m"  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "")
    assert output.paint("x", "red", Tty()) == "x"  # type: ignore[arg-type]
    monkeypatch.delenv("NO_COLOR")
    assert output.paint("x", "red", sys.stdout) == "x"  # captured, not a terminal


def test_the_cores_warnings_are_labtasker_lines_on_stderr(queue: FsQueue, project: Path) -> None:
    """``logging`` loads only when something is logged, and with the command's handler then:
    one ``labtasker: ...`` line per warning, with or without LABTASKER_DEBUG."""
    task_id = labtasker.submit_task(args={"a": 1}).task_id
    (queue.path / "pending" / "stray.yaml").mkdir()  # a reader skips it, and says so once
    argv = [sys.executable, "-m", "labtasker", "task", "ls", "-q"]
    for debug in ("0", "1"):
        env = {**queue_env(project), "LABTASKER_DEBUG": debug}
        ran = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=project, check=True)
        assert ran.stdout.split() == [task_id]
        (line,) = ran.stderr.splitlines()
        assert line.startswith("labtasker: skipping ") and "stray.yaml: it is a directory" in line


# What `task submit` and `task ls -q` must not import: each is a few to tens of ms of every
# command's start-up (docs/performance.md), and none is needed to write or list plain tasks.
NOT_AT_START = (
    "textual", "rich", "watchdog", "simpleeval", "pendulum", "dateutil", "pandas", "regex",
    "yaml", "tomllib", "logging", "ssl", "email", "http.client", "socket", "subprocess", "secrets", "uuid", "platform",
    "plumbum.machines", "plumbum.path", "plumbum.commands", "plumbum.colors", "plumbum.colorlib.factories",
    "plumbum.cli.config", "configparser", "traceback", "signal",
    "labtasker.api_models",
)  # fmt: skip


# A dataclass costs a module about 0.5 ms to define: the records a command always loads are
# labtasker.record's (config, the queue in use, the store's), which cost next to nothing.
_SCAN = (
    "import sys\n"
    "from labtasker.cli.main import main\n"
    "assert main(['labtasker', *sys.argv[1:]]) == 0\n"
    "loaded = {m for m, mod in sys.modules.items() if type(mod).__name__ == 'module'}\n"
    "made = [f'{n}.{k}' for n in sorted(loaded) if n.startswith('labtasker')\n"
    "        for k, v in vars(sys.modules[n]).items()\n"
    "        if isinstance(v, type) and v.__module__ == n and '__dataclass_fields__' in v.__dict__]\n"
    "import json\n"  # after the look: json is one of the modules a listing must not import
    "print(json.dumps([sorted(loaded), made]))\n"
)


@pytest.mark.parametrize(
    ("argv", "also_not"),
    [
        (["task", "submit", "-q", "--", "--lr=0.1", "--model=vit"], ()),
        (["task", "submit", "--", "--optimizer.lr=0.01", "--seed=3"], ()),
        (["task", "ls", "-q"], ("pickle", "json")),  # the cache files are read by the C module alone
    ],
)
def test_python_m_labtasker_and_startup_imports(
    project: object, argv: list[str], also_not: tuple[str, ...]
) -> None:
    """A submit and a listing of ids load none of the heavy modules and define no dataclass
    (a regression test without timing)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    Path("seed.jsonl").write_text(
        "".join(f'{{"args": {{"lr": {i}}}}}\n' for i in range(150)), encoding="utf-8"
    )
    seed = [sys.executable, "-m", "labtasker", "task", "submit", "--from-file", "seed.jsonl", "-q"]
    subprocess.run(seed, capture_output=True, text=True, env=env, check=True)  # enough tasks for a cache file
    subprocess.run(
        [sys.executable, "-m", "labtasker", "task", "ls"], capture_output=True, env=env, check=True
    )
    out = subprocess.run(
        [sys.executable, "-c", _SCAN, *argv], capture_output=True, text=True, env=env, check=True
    )
    loaded, dataclasses = json.loads(out.stdout.strip().splitlines()[-1])
    assert [m for m in loaded if m.startswith((*NOT_AT_START, *also_not))] == [], out.stderr
    assert dataclasses == []


def test_plumbum_parts_left_out_at_start_load_when_asked() -> None:
    """plumbum's colours and ``plumbum.cli``'s other names load on first use, and are the real ones."""
    code = (
        "import sys\n"
        "from labtasker.cli.main import main\n"
        "assert main(['labtasker', '--version']) == 0\n"
        "assert 'plumbum.colors' not in sys.modules\n"
        "from plumbum import cli, colors\n"
        "from plumbum.cli.config import ConfigINI\n"
        "assert cli.ConfigINI is ConfigINI and cli.Application.__name__ == 'Application'\n"
        "from labtasker.cli.main import Labtasker\n"
        "print(colors.filter('\\x1b[31mred\\x1b[0m'), Labtasker('labtasker').COLOR_USAGE is colors.do_nothing)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.splitlines()[-1] == "red True", ran.stderr


def test_python_m_labtasker_version() -> None:
    version = subprocess.run([sys.executable, "-m", "labtasker", "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"labtasker {__version__}"
