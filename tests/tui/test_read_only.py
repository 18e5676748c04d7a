"""``labtasker tui --read-only`` leaves the queue folder exactly as it was, big or small."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from labtasker.cli.tui import open_queue
from labtasker.fsqueue import clock, ids, tasks
from labtasker.fsqueue.cache import STORE_MIN
from labtasker.fsqueue.documents import new_task
from labtasker.fsqueue.store import FsQueue
from tests.tui.conftest import SIZE, make_app, settle

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Every entry below ``folder``: mode, mtime and bytes (a directory's mtime moves when a file comes or goes)."""
    out = {}
    for path in [folder, *sorted(folder.rglob("*"))]:
        st = path.lstat()
        out[str(path.relative_to(folder))] = (
            st.st_mode,
            st.st_mtime_ns,
            path.read_bytes() if path.is_file() else None,
        )
    return out


@pytest.fixture
def big(tmp_path: Path) -> FsQueue:
    """A queue with more pending and done tasks than the size at which reads are cached on disk."""
    queue = FsQueue.create(tmp_path / "copy", "sweep", node="elsewhere")
    tasks.submit_many(queue, [{"args": {"lr": i / 1000, "seed": i}} for i in range(25)])
    for i in range(STORE_MIN + 5):
        doc = new_task(task_id=ids.new_task_id(), now=clock.now(), node=queue.node, args={"seed": i})
        queue.put("done", dict(doc, status="success", summary={"acc": i / 200}))
    shutil.rmtree(queue.tmp / "cache", ignore_errors=True)  # as a copy fetched from elsewhere has it
    return queue


async def browse(queue: FsQueue) -> str:
    """A read-only session that opens every state, twice (a second look reads what the first remembered).

    Returns the status line as it was shown.
    """
    app = make_app(queue, read_only=True, state="success", watch=True)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(2):
            for key in ("1", "2", "3", "4", "5"):
                await pilot.press(key)
                await settle(pilot)
            await pilot.press("down", "down", "right_square_bracket", "ctrl+r")
            await settle(pilot)
        return str(app.query_one("#status").render())


async def test_a_read_only_session_leaves_the_queue_byte_identical(big: FsQueue) -> None:
    before = snapshot(big.path)
    queue = open_queue(str(big.path), read_only=True)
    await browse(queue)
    assert queue.count()["success"] == STORE_MIN + 5
    assert snapshot(big.path) == before


SESSION = """
import asyncio, sys
from labtasker.cli.tui import open_queue
from tests.tui.test_read_only import browse
queue = open_queue(sys.argv[1], read_only=True)
status = asyncio.run(browse(queue))
print(queue.count()["pending"], "read-only" in status)
"""


def test_a_read_only_session_works_on_a_folder_it_cannot_write(big: FsQueue) -> None:
    """Every file 0444, every folder 0555; root writes through modes, so then the session runs as nobody."""
    folder = Path(
        tempfile.mkdtemp(prefix="labtasker-ro-")
    )  # outside pytest's own tmp: another user reaches it
    copy = folder / "queue"
    try:
        shutil.copytree(big.path, copy)
        folder.chmod(0o755)
        for path in [*copy.rglob("*"), copy]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        before = snapshot(copy)
        as_nobody: dict[str, Any] = {"user": "nobody", "group": "nogroup"} if os.geteuid() == 0 else {}
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(folder)}
        try:
            subprocess.run(
                [sys.executable, "-c", "import labtasker.cli.tui"], env=env, cwd=folder, **as_nobody
            )
        except PermissionError:
            pytest.skip("this Python cannot be run by another user (run as root, the session needs one)")
        ran = subprocess.run(
            [sys.executable, "-c", SESSION, str(copy)],
            capture_output=True,
            text=True,
            env=env,
            cwd=folder,
            timeout=90,
            **as_nobody,
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.split() == ["25", "True"]
        assert snapshot(copy) == before
    finally:
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(folder)


def test_opening_a_clone_read_only_adds_no_folder(big: FsQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    """A git clone has no tmp/ and no empty state folders; a read-only look must not make them."""
    shutil.rmtree(big.tmp)
    for name in ("running", "failed", "cancelled", "quarantine"):
        shutil.rmtree(big.path / name, ignore_errors=True)
    before = snapshot(big.path)
    monkeypatch.setenv("LABTASKER_QUEUE_DIR", str(big.path))
    queue = open_queue(None, read_only=True)
    assert queue.count()["success"] == STORE_MIN + 5
    assert snapshot(big.path) == before
