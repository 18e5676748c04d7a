"""The docs pages of this area, run as written (see tests/sync/console.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sync.console import blocks, run_page

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["git-rsync-sync.md", "air-gapped.md", "shared-filesystems.md"]


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_as_written(page: str, tmp_path: Path) -> None:
    path = DOCS / page
    if not path.exists():
        pytest.skip(f"{page} not written yet")
    assert blocks(path), f"{page} has no console blocks"
    run_page(path, tmp_path)
