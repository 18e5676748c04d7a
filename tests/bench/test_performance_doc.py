"""The python blocks of docs/performance.md run as written, in a fresh project."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_docs_python import blocks

DOC = Path(__file__).resolve().parents[2] / "docs" / "performance.md"


@pytest.mark.usefixtures("project")
def test_performance_page_runs_as_written() -> None:
    found = blocks(DOC)
    assert found
    namespace: dict = {"__name__": "docs_performance"}
    for i, code in enumerate(found):
        exec(compile(code, f"{DOC.name}[block {i}]", "exec"), namespace)


def test_the_command_the_page_gives_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "python bench/run.py" in text and (DOC.parents[1] / "bench" / "run.py").is_file()
