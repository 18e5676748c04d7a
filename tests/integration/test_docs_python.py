"""The python blocks of docs/python-api.md run, in order, in a fresh project."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"


def blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.usefixtures("project")
def test_python_api_page_runs_as_written() -> None:
    found = blocks(DOC)
    assert len(found) >= 6
    namespace: dict = {"__name__": "docs_python_api"}
    for i, code in enumerate(found):
        exec(compile(code, f"{DOC.name}[block {i}]", "exec"), namespace)
