"""CI runs the README's test command, word for word, after the lint and type checks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"pip install -e '\.\[dev\]' && (python -m pytest[^\n]*)", readme)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1] == command
    checks = ["ruff format --check .", "ruff check .", "mypy labtasker"]
    assert [line for line in ci if line in checks] == checks  # all three, before the tests
