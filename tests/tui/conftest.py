"""Fixtures for the TUI: a fresh copy of sample_queue/ and an app on a fixed clock."""

from __future__ import annotations

import asyncio
import inspect
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labtasker.fsqueue.store import FsQueue
from tests.tui.make_sample import NODE, SAMPLE_NOW

SAMPLE = Path(__file__).resolve().parents[2] / "sample_queue"
SIZE = (120, 36)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests (pilot tests) in a fresh event loop; no plugin needed."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Nothing a screen shows may depend on the machine's time zone."""
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def sample(tmp_path: Path) -> FsQueue:
    """A writable copy of sample_queue/ (named the same, so screens show the same name)."""
    dest = tmp_path / "sample_queue"
    shutil.copytree(SAMPLE, dest)
    return FsQueue.create(dest, "sweep", node=NODE)  # an existing queue is kept as it is


def make_app(queue: FsQueue, **kwargs: Any) -> Any:
    """A QueueApp at the sample's moment, with no watcher and no timer unless asked."""
    from labtasker.tui.app import QueueApp

    kwargs.setdefault("now", lambda: SAMPLE_NOW)
    kwargs.setdefault("watch", False)
    kwargs.setdefault("rescan_every", None)
    return QueueApp(queue, **kwargs)


async def settle(pilot: Any, rounds: int = 200) -> None:
    """Wait until the app has finished every scan, detail read and action it started."""
    from textual.worker import WorkerCancelled

    for _ in range(rounds):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:  # a detail read superseded by a newer one
            pass
        await pilot.pause()
        if pilot.app.settled and quiet(pilot.app):
            await pilot.pause()
            return
    raise AssertionError("the app did not settle")


def quiet(app: Any) -> bool:
    """No message waits in the app, its screens or any widget.

    A key's effects travel as messages (key, Input.Changed, ...). The pilot's wait for an idle
    CPU takes a process starved by a loaded machine for an idle one, so the queues are looked at.
    """
    pumps = [app, *app.screen_stack]
    for screen in app.screen_stack:
        pumps.extend(screen.walk_children())
    return all(pump.message_queue_size == 0 for pump in pumps)
