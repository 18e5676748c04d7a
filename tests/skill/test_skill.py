"""labtasker's SKILL.md: every block runs as written, names only what exists, installs safely.

The blocks run in order in one fresh folder, bash blocks through bash and
python blocks through a fresh Python each, like a user's scripts. Two
stand-ins, as the skill's own text allows: `pip install labtasker` is
skipped (the package under test is installed), and `train.py` is a small
script that prints its arguments in place of the user's training code.
After each block, the test checks what the text beside it says happened.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from labtasker import skill
from tests.cli.conftest import labtasker_bin

TEXT = skill.text()
TRAIN_PY = 'import sys\nprint("train", *sys.argv[1:])\n'


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block, in order."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)


class Project:
    """A fresh folder with labtasker on PATH; runs blocks and reads the queue."""

    def __init__(self, folder: Path, bindir: Path) -> None:
        self.folder = folder
        self.env = {**os.environ, "NO_COLOR": "1", "LABTASKER_QUIET": "1"}
        self.env["PATH"] = f"{bindir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{self.env['PATH']}"
        for var in ("LABTASKER_ROOT", "LABTASKER_QUEUE_DIR", "LABTASKER_TASK_ID"):
            self.env.pop(var, None)

    def run(self, lang: str, code: str) -> subprocess.CompletedProcess[str]:
        if lang == "bash":
            code = "\n".join(line for line in code.splitlines() if not line.startswith("pip install "))
            argv = [shutil.which("bash") or "/bin/bash", "-c", "set -euo pipefail\n" + code]
        else:
            argv = [sys.executable, "-c", code]
        proc = subprocess.run(
            argv,
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, (
            f"block failed ({proc.returncode}):\n{code}\n--- out\n{proc.stdout}\n--- err\n{proc.stderr}"
        )
        return proc

    def tasks(self) -> list[dict]:
        proc = self.run("bash", "labtasker task ls --fmt jsonl --limit 100000")
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    def named(self, name: str) -> list[dict]:
        return [t for t in self.tasks() if t.get("task_name") == name]


def _dict_query_selects(p: Project) -> bool:
    listed = p.run(
        "bash", 'labtasker task ls -f \'{"args.model": "resnet"}\' -q --limit 10000'
    ).stdout.split()
    resnet = [t["task_id"] for t in p.tasks() if t["args"].get("model") == "resnet"]
    return bool(resnet) and sorted(listed) == sorted(resnet)


def _statuses(tasks: list[dict]) -> set[str]:
    return {t["status"] for t in tasks}


# What the text beside each block says, keyed by a line that only that block has.
CHECKS: dict[str, Callable[[Project, str], None]] = {
    "labtasker init --queue-name demo": lambda p, out: (
        assert_true(out.strip().splitlines()[-1].endswith("demo"), out),
        assert_true(Path(out.strip().splitlines()[-1]).is_dir(), out),
    ),
    "labtasker task submit -- --lr=0.001 --model=resnet": lambda p, out: (
        assert_true(len(p.named("grid_search")) == 5, p.named("grid_search")),
        assert_true(
            any(t["args"] == {"optimizer": {"lr": 0.01, "momentum": 0.9}} for t in p.tasks()), "nested args"
        ),
        assert_true(
            any(t["args"] == {"value": -1, "label": "", "desc": "hello world"} for t in p.tasks()), "specials"
        ),
    ),
    "--from-file seeds.jsonl": lambda p, out: assert_true(
        sorted(t["args"]["seed"] for t in p.named("seeds")) == [0, 1, 2], p.named("seeds")
    ),
    'task_name="py_grid"': lambda p, out: (
        assert_true(len(p.named("py_grid")) == 4, p.named("py_grid")),
        assert_true("3 submitted" in out, out),
    ),
    "labtasker loop -f 'task_name == \"grid_search\"'": lambda p, out: assert_true(
        _statuses(p.named("grid_search")) == {"success"}, p.named("grid_search")
    ),
    "--script-path job.sh": lambda p, out: (
        assert_true(_statuses(p.named("scripted")) == {"success"}, p.named("scripted")),
        assert_true((p.folder / "runs" / "mlp-0.5" / "log.txt").read_text().startswith("train"), "log"),
    ),
    "def train(lr, model)": lambda p, out: (
        assert_true(_statuses(p.named("py_grid")) == {"success"}, p.named("py_grid")),
        assert_true(all(t["summary"]["acc"] == 0.5 + t["args"]["lr"] for t in p.named("py_grid")), "acc"),
    ),
    "class GroupA": lambda p, out: (
        assert_true("boy baz" in out, out),
        assert_true(_statuses(p.named("batch")) == {"success"}, p.named("batch")),
        assert_true("x is 0 and y is absent" in out, out),
    ),
    'task_name == "gpus"': lambda p, out: assert_true(
        _statuses(p.named("gpus")) == {"success"}, p.named("gpus")
    ),
    "--gpus 0,1 -f": lambda p, out: assert_true(_statuses(p.named("gpus2")) == {"success"}, p.named("gpus2")),
    "--gpus-per-worker 1 --time 4:00:00 --dry-run": lambda p, out: (
        assert_true("#SBATCH --array=0-3" in out, out),
        assert_true("labtasker loop" in out and "'%(lr)'" in out, out),
    ),
    "labtasker results --sort acc:desc --best 3": lambda p, out: (
        assert_true(len([line for line in out.splitlines() if "0." in line]) == 3, out),
        assert_true("acc" in (p.folder / "results.csv").read_text().splitlines()[0].split(","), "csv header"),
    ),
    'labtasker.results(sort="acc:desc")': lambda p, out: assert_true(out.count("'acc':") == 3, out),
    'labtasker task log "$RUN"': lambda p, out: assert_true("train --lr" in out, out),
    "labtasker task count": lambda p, out: (
        assert_true(len((p.folder / "all.jsonl").read_text().splitlines()) == len(p.tasks()), "all.jsonl"),
        assert_true(_dict_query_selects(p), "a dict query selects only the tasks it names"),
    ),
    'ls_tasks(status="success", extra_filter': lambda p, out: assert_true(
        "vit tasks" in out and out.count("\n") >= 5, out
    ),
    '"rank": 1': lambda p, out: assert_true(
        any(t["summary"].get("rank") == 1 for t in p.tasks() if t["status"] == "success"), "rank"
    ),
    "--reset-pending --quiet": lambda p, out: (
        assert_true(all(t["status"] == "cancelled" for t in p.named("seeds")), p.named("seeds")),
        assert_true(any(t["args"].get("lr") == 0.005 for t in p.tasks()), "lr patched"),
        assert_true(any(t["priority"] == 100 for t in p.tasks()), "priority"),
    ),
    '"replace_fields": ["metadata"]': lambda p, out: assert_true(
        any(t["metadata"] == {"only": True} and t["status"] == "cancelled" for t in p.tasks()), "replaced"
    ),
    "labtasker task delete -y": lambda p, out: assert_true(
        not any(t["status"] == "cancelled" for t in p.tasks()), "cancelled deleted"
    ),
    "labtasker.delete_task(task_id=task.task_id)": lambda p, out: assert_true(not p.named("batch"), "batch"),
    "labtasker fsck": lambda p, out: assert_true("pending" in out and "done" in out, out),
}


def assert_true(condition: object, detail: object) -> None:
    assert condition, detail


def test_the_front_matter_names_the_skill_and_says_when_to_use_it() -> None:
    match = re.match(r"---\nname: (\S+)\ndescription: (.+?)\n---\n", TEXT)
    assert match, TEXT[:200]
    assert match.group(1) == "labtasker"
    assert match.group(2).startswith("Use when")
    assert len(TEXT.splitlines()) <= 600


def test_every_block_runs_as_written_and_does_what_it_says(tmp_path: Path) -> None:
    folder = tmp_path / "experiment"
    folder.mkdir()
    (folder / "train.py").write_text(TRAIN_PY)
    project = Project(folder, labtasker_bin(tmp_path))
    blocks = code_blocks(TEXT)
    assert {lang for lang, _ in blocks} == {"bash", "python"}, "every block is bash or python"
    checked = set()
    for lang, code in blocks:
        out = project.run(lang, code).stdout
        for key, check in CHECKS.items():
            if key in code:
                check(project, out)
                checked.add(key)
    assert checked == set(CHECKS), f"checks whose block is gone: {set(CHECKS) - checked}"


# ---- everything the skill names exists -------------------------------------------------------


def _help(argv: list[str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "labtasker", *argv, "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, (argv, proc.stderr)
    return proc.stdout


def _commands_named(text: str) -> set[tuple[str, ...]]:
    """The words after `labtasker` of every command in the skill's bash blocks and inline code."""
    pieces = [c for lang, c in code_blocks(text) if lang == "bash"]
    pieces += [c.replace("\\|", "|") for c in re.findall(r"`([^`\n]+)`", text) if c.startswith("labtasker ")]
    found = set()
    for piece in pieces:
        for line in piece.replace("\\\n", " ").splitlines():
            for part in re.split(r"\||&&|;|\$\(", line):
                try:
                    words = shlex.split(part, comments=True)
                except ValueError:
                    continue  # a fragment of a quoted string
                while words and re.match(r"^\w+=", words[0]):
                    words.pop(0)  # VAR=value before the command
                if len(words) > 1 and words[0] == "labtasker":
                    found.add(tuple(words[1:]))
    return found


def _subcommands(help_text: str) -> set[str]:
    if "Commands:" not in help_text:
        return set()
    block = help_text.split("Commands:")[1].split("\n\n")[0]
    return set(re.findall(r"^  (\w[\w-]*)\s", block, flags=re.M))


def test_every_command_and_switch_named_exists() -> None:
    helps: dict[tuple[str, ...], str] = {(): _help([])}
    commands = _commands_named(TEXT)
    assert len(commands) >= 30
    for words in commands:
        path: tuple[str, ...] = ()
        for word in words:
            if word == "--":
                break
            text = helps[path]
            if word.startswith("-"):
                switch = word.split("=")[0]
                assert re.search(rf"(^|[\s,]){re.escape(switch)}[\s,]", text), (
                    f"`labtasker {' '.join(path)}` has no switch {switch}"
                )
            elif _subcommands(text):
                assert word in _subcommands(text), f"`labtasker {' '.join((*path, word))}` is not a command"
                path = (*path, word)
                if path not in helps:
                    helps[path] = _help(list(path))
        assert not _subcommands(helps[path]), f"`labtasker {' '.join(path)}` names a group, not a command"


def test_every_python_name_used_exists() -> None:
    import labtasker

    names = set(re.findall(r"labtasker\.([a-z_][A-Za-z_]*)\b", TEXT)) - {"api_models"}
    assert names, "the skill names Python calls"
    missing = sorted(n for n in names if n not in labtasker.__all__)
    assert not missing, f"not in labtasker.__all__: {missing}"
    for name in re.findall(r"from labtasker import (\w+)", TEXT):
        assert name in labtasker.__all__


# ---- labtasker skill show / install ----------------------------------------------------------


def test_show_prints_the_skill(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "labtasker", "skill", "show"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout == TEXT


def test_install_into_a_home_twice_then_refuses_a_different_file(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    target = tmp_path / ".claude" / "skills" / "labtasker" / "SKILL.md"

    def install(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "labtasker", "skill", "install", *extra],
            capture_output=True,
            text=True,
            env=env,
        )

    first = install()
    assert first.returncode == 0, first.stderr
    assert str(target) in first.stdout
    assert target.read_text() == TEXT
    again = install()
    assert again.returncode == 0
    assert "already" in again.stdout
    target.write_text("my own notes\n")
    refused = install()
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert target.read_text() == "my own notes\n"
    forced = install("--force")
    assert forced.returncode == 0
    assert target.read_text() == TEXT
    elsewhere = install("--path", str(tmp_path / "proj" / "skills"))
    assert elsewhere.returncode == 0
    assert (tmp_path / "proj" / "skills" / "SKILL.md").read_text() == TEXT


@pytest.mark.parametrize("lang", ["bash", "python"])
def test_blocks_are_found(lang: str) -> None:
    assert sum(1 for found, _ in code_blocks(TEXT) if found == lang) >= 5
