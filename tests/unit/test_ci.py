"""CI runs the README's test command, word for word, after the lint and type checks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command_after_lint_and_types() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"pip install -e '\.\[dev\]' && (python -m pytest[^\n]*)", readme)
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    runs = [i for i, line in enumerate(ci) if "python -m pytest" in line]
    assert len(runs) == 1 and ci[runs[0]].startswith(command + " ")  # then where its output goes
    checks = ["ruff format --check .", "ruff check .", "mypy labtasker"]
    assert [line for line in ci[: runs[0]] if line in checks] == checks  # all three, before the tests
