"""Run the ``console`` blocks of a docs page as a user would type them, and check their output.

A block is a series of ``$ command`` lines, each followed by the output it
prints (stdout and stderr together). In expected output ``...`` stands for any
text within a line, and a line that is only ``...`` for any number of lines.
Blocks run in order, in one folder, as one shell session (``cd`` and variables
carry over). A block right after ``<!-- needs: rsync -->`` (or using git) is
skipped, with the reason, where that program is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

MARK = "@@labtasker-doc-step@@"


@dataclass
class Step:
    command: str
    expected: list[str]


@dataclass
class Block:
    steps: list[Step]
    needs: list[str]
    line: int


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"(?:<!-- needs: ([\w ,-]+) -->\n)?```console\n(.*?)```", text, flags=re.S):
        steps: list[Step] = []
        for line in match.group(2).splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:], []))
            elif steps:
                steps[-1].expected.append(line)
        needs = [n.strip() for n in (match.group(1) or "").split(",") if n.strip()]
        if any(re.search(r"\bgit\b|labtasker sync", s.command) for s in steps):
            needs.append("git")
        found.append(Block(steps, needs, text[: match.start()].count("\n") + 1))
    return found


def environment(tmp: Path) -> dict[str, str]:
    """A clean shell: labtasker on PATH, a git identity, no LABTASKER_* from the developer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABTASKER_", "GIT_"))}
    bindir = Path(sys.executable).parent
    if not (bindir / "labtasker").exists():
        bindir = tmp / "bin"
        bindir.mkdir(exist_ok=True)
        shim = bindir / "labtasker"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m labtasker "$@"\n')
        shim.chmod(0o755)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env.update(
        PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        NO_COLOR="1",
        COLUMNS="200",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Ada",
        GIT_AUTHOR_EMAIL="ada@lab.example",
        GIT_COMMITTER_NAME="Ada",
        GIT_COMMITTER_EMAIL="ada@lab.example",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_page(page: Path, tmp: Path) -> None:
    """Run every console block of ``page``; fail naming the first command whose output differs."""
    env = environment(tmp)
    work = tmp / "work"
    work.mkdir()
    state = tmp / "state.sh"
    state.write_text("")
    skipped = []
    for block in blocks(page):
        missing = [n for n in block.needs if shutil.which(n) is None]
        if missing:
            skipped.append(f"line {block.line} needs {', '.join(missing)}")
            continue
        _run_block(page, block, work, state, env)
    if skipped:
        pytest.skip(f"{page.name}: {'; '.join(skipped)}")


def _run_block(page: Path, block: Block, work: Path, state: Path, env: dict[str, str]) -> None:
    script = [f"cd {_quote(str(work))}", f". {_quote(str(state))}"]
    for step in block.steps:
        script.append(f"echo {MARK}")
        script.append(f"{{ {step.command}\n}} 2>&1")
    script.append(f"echo {MARK}")
    script.append(
        f"{{ echo \"cd '$PWD'\"; export -p | grep -v ' PWD=\\| OLDPWD=\\| SHLVL='; }} > {_quote(str(state))}"
    )
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    outputs = (done.stdout).split(f"{MARK}\n")[1:]
    for i, step in enumerate(block.steps):
        got = outputs[i] if i < len(outputs) else "(never ran)\n"
        if not _matches(step.expected, got):
            raise AssertionError(
                f"{page.name} line {block.line}: `{step.command}` printed:\n{got}\nexpected:\n"
                + "\n".join(step.expected)
                + f"\n(stderr of the block: {done.stderr[-2000:]})"
            )


def _matches(expected: list[str], got: str) -> bool:
    pattern = []
    for line in expected:
        if line.strip() == "...":
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            pattern.append(".*?".join(re.escape(p) for p in line.split("...")) + r"\n")
    return re.fullmatch("".join(pattern), got) is not None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
