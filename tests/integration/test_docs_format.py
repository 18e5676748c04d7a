"""The python blocks of docs/queue-format.md run as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_docs_python import blocks

DOC = Path(__file__).resolve().parents[2] / "docs" / "queue-format.md"


@pytest.mark.usefixtures("project")
def test_queue_format_page_runs_as_written() -> None:
    namespace: dict = {}
    for i, code in enumerate(blocks(DOC)):
        exec(compile(code, f"{DOC.name}[block {i}]", "exec"), namespace)
