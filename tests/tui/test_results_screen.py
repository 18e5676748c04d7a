"""The results screen: the sweep's table and plot, sortable, grouped, live, a row opens its task."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import yaml
from rich.text import Text

from labtasker.fsqueue.store import FsQueue
from tests.tui.conftest import SIZE, make_app, settle

pytestmark = pytest.mark.timeout(60)

GRID = 'task_name == "grid_search"'


async def results_settled(pilot: Any) -> Any:
    """Wait until the results screen has shown a fresh reading; return the screen."""
    from labtasker.tui.results_screen import ResultsScreen

    for _ in range(200):
        await pilot.pause()
        screen = pilot.app.screen
        if (
            isinstance(screen, ResultsScreen)
            and screen.settled
            and screen.loads
            and not pilot.app.workers._workers
        ):
            await pilot.pause()
            return screen
        await pilot.app.workers.wait_for_complete()
    raise AssertionError("the results screen did not settle")


def column(screen: Any, name: str) -> list[str]:
    grid = screen.grid
    return [str(grid.get_row_at(i)[list(grid.columns).index(name)]) for i in range(grid.row_count)]


def add_done(queue: FsQueue, like: str, new_id: str, **changes: Any) -> None:
    """A finished task arriving in done/, as a worker's rename would bring it."""
    (src,) = (queue.path / "done").glob(f"{like}--*.yaml")
    doc = yaml.safe_load(src.read_text())
    doc["task_id"] = new_id
    doc["args"].update(changes.get("args", {}))
    doc["summary"].update(changes.get("summary", {}))
    tmp = queue.path / f"{new_id}.part"
    tmp.write_text(yaml.safe_dump(doc))
    tmp.rename(queue.path / "done" / src.name.replace(like, new_id))


async def test_table_sort_by_key_and_header_click(sample: FsQueue) -> None:
    app = make_app(sample, state="success", expr=GRID)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("R")
        screen = await results_settled(pilot)
        assert list(screen.grid.columns) == ["lr", "model", "seed", "acc", "loss", "epochs", "task_id"]
        assert screen.grid.row_count == 11  # the main screen's filter carried over
        await pilot.press("s")  # sort by the first metric, best first
        screen = await results_settled(pilot)
        assert column(screen, "acc")[:3] == ["0.9193", "0.9161", "0.9133"]
        await pilot.press("S")
        screen = await results_settled(pilot)
        assert column(screen, "acc")[:2] == ["0.7793", "0.7853"]
        key = next(k for k in screen.grid.columns if k.value == "loss")
        screen.grid.post_message(screen.grid.HeaderSelected(screen.grid, key, 4, Text("loss")))  # a click
        screen = await results_settled(pilot)
        assert screen.view.sort == "loss" and column(screen, "loss")[0] == "0.2669"
        assert "11 finished tasks" in str(screen.status.render())


async def test_the_plot_stands_apart_from_a_cut_table_in_80_columns(sample: FsQueue) -> None:
    """A cut task id must not run into the plot's axis numbers ("01a24864-a57d-70.903┤")."""
    app = make_app(sample, state="success", expr=GRID)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        await pilot.press("R")
        screen = await results_settled(pilot)
        left, plot = screen.query_one("#results-left"), screen.query_one("#results-plot")
        assert plot.region.x > left.region.right


async def test_over_seed_groups_and_the_plot_has_the_series(sample: FsQueue) -> None:
    app = make_app(sample, state="success", expr=GRID)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("R")
        await results_settled(pilot)
        await pilot.press("o", *"seed", "enter")
        screen = await results_settled(pilot)
        assert list(screen.grid.columns) == ["lr", "model", "n", "acc", "loss", "epochs"]
        assert column(screen, "n") == ["2", "2", "2", "2", "3"]  # in the order of lr, then model
        assert column(screen, "acc")[0] == "0.9131 ± 0.0042"
        screen.plot.plt.plotsize(80, 24)
        drawn = screen.plot.plt.build()
        assert "model=resnet18" in drawn and "model=vit_s" in drawn and "acc by lr" in drawn


async def test_live_as_tasks_finish(sample: FsQueue) -> None:
    from labtasker.tui.messages import QueueChanged

    app = make_app(sample, state="success")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("R")
        screen = await results_settled(pilot)
        assert screen.grid.row_count == 15
        add_done(
            sample,
            "019593e1-be80-7001-9459-9d971e250c70",
            "019593e1-be80-7fff-9459-9d971e250c70",
            args={"seed": 7},
            summary={"acc": 0.99},
        )
        app.post_message(QueueChanged())  # what the watcher says when a file arrives
        for _ in range(100):
            screen = await results_settled(pilot)
            if screen.grid.row_count == 16:
                break
        assert screen.grid.row_count == 16
        await pilot.press("s")
        screen = await results_settled(pilot)
        assert column(screen, "acc")[0] == "0.99" and column(screen, "seed")[0] == "7"


async def test_enter_opens_the_task_of_a_row(sample: FsQueue) -> None:
    from labtasker.tui.results_screen import ResultsScreen, TaskScreen

    app = make_app(sample, state="success")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("R")
        screen = await results_settled(pilot)
        first = column(screen, "task_id")[0]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TaskScreen)
        assert app.screen.shown.name.startswith(first)
        assert f"task_id: {first}" in app.screen.pane.query_one("#body-task").render()._renderable.code
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ResultsScreen)


async def test_a_read_only_copy(sample: FsQueue, tmp_path: Any) -> None:
    from labtasker.tui.readonly import ReadOnlyQueue

    copy = shutil.copytree(sample.path, tmp_path / "ro" / "sample_queue")
    app = make_app(ReadOnlyQueue(copy, node="viewer"), read_only=True, results=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await results_settled(pilot)
        assert screen.grid.row_count == 15


def test_results_screen_snapshot(snap_compare: Any, sample: FsQueue) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("R")
        await results_settled(pilot)
        await pilot.press("o", *"seed", "enter")
        await results_settled(pilot)
        await pilot.press("s")
        await results_settled(pilot)

    app = make_app(sample, state="success", expr=GRID)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
