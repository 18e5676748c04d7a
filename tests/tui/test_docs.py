"""docs/tui.md is executed: its Python block runs, its command lines are accepted."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from labtasker.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "tui.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(kind: str) -> list[str]:
    return [body for info, body in FENCE.findall(PAGE.read_text(encoding="utf-8")) if info == kind]


def test_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    (code,) = blocks("python")
    exec(compile(code, str(PAGE), "exec"), {"__name__": "docs_tui"})


COMMANDS = [
    line.split("#")[0].strip()
    for body in blocks("bash")
    for line in body.splitlines()
    if "sample_queue" in line
]


@pytest.mark.parametrize("line", COMMANDS)
def test_command_lines_are_accepted(
    line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(shlex.split(line)) == 2  # every switch accepted; only the missing terminal is refused
    assert "needs a terminal" in capsys.readouterr().err
