"""The results screen: the sweep's table of args against metrics, its plot beside it, live.

The same table as ``labtasker results`` (labtasker/sweep/table.py builds it),
read in a worker thread and read again when the queue changes. A click on a
column header (or ``s``/``S``) sorts; ``o`` groups over some args (seeds);
Enter opens the task of a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual_plotext import PlotextPlot

from labtasker.errors import LabtaskerError
from labtasker.fsqueue.store import FsQueue
from labtasker.sweep import formats, plotdata, plots, source, table
from labtasker.tui import detail
from labtasker.tui.scan import DIRNAME
from labtasker.tui.widgets.detail import DetailPane
from labtasker.tui.widgets.dialogs import PromptScreen


@dataclass(frozen=True)
class ResultsView:
    """What the screen asks for: a filter, a grouping, a sort."""

    expr: str = ""
    over: str = ""
    sort: str | None = None
    descending: bool = True


class ResultsLoaded(Message):
    """A reading of the queue finished: the table, or why there is none."""

    def __init__(self, view: ResultsView, built: table.Table | None, error: str | None) -> None:
        super().__init__()
        self.view, self.built, self.error = view, built, error


def build(queue: FsQueue, view: ResultsView, now: Any) -> table.Table:
    """The table for a view (raises LabtaskerError on a bad filter or name)."""
    docs = source.load(queue, "success", view.expr or None, now=now)
    sort = f"{view.sort}:{'desc' if view.descending else 'asc'}" if view.sort else None
    return table.build(docs, over=view.over or None, sort=sort)


class ResultsScreen(Screen[None]):
    """Finished tasks as a results table with a plot beside it."""

    OWN_KEYS = True  # the app's keys for the main screen are off here
    BINDINGS = [
        Binding("escape,R", "app.pop_screen", "back"),
        Binding("s", "sort_next", "sort"),
        Binding("S", "sort_reverse", "reverse"),
        Binding("o", "over", "group over"),
        Binding("ctrl+r", "reload", "reload", show=False),
    ]

    def __init__(
        self,
        queue: FsQueue,
        now: Any,
        *,
        expr: str = "",
        over: str = "",
        sort: str | None = None,
        every: float | None = None,
    ) -> None:
        super().__init__()
        self.every = every  # seconds between readings; changes in the queue also wake one
        self.queue = queue
        self.now = now
        self.view = ResultsView(expr=expr, over=over, sort=sort)
        self.built: table.Table | None = None
        self.loads = 0  # finished readings, for tests
        self._loading = False
        self._again = False

    def compose(self) -> ComposeResult:
        self.grid: DataTable[str] = DataTable(id="results-table", cursor_type="row", zebra_stripes=True)
        self.plot = PlotextPlot(id="results-plot")
        self.status = Static("", id="results-status", markup=False)
        yield Header()
        with Horizontal(id="results-main"):
            with Vertical(id="results-left"):
                yield self.grid
                yield self.status
            yield self.plot
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "results"
        self.grid.focus()
        if self.every:
            self.set_interval(self.every, self.reload)
        self.reload()

    # ------------------------------------------------------------ reading
    def reload(self) -> None:
        """Read the queue again now, or right after the reading under way."""
        if self._loading:
            self._again = True
            return
        self._loading, self._again = True, False
        self._load(self.view)

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, group="results")
    def _load(self, view: ResultsView) -> None:
        try:
            self.post_message(ResultsLoaded(view, build(self.queue, view, self.now()), None))
        except LabtaskerError as exc:
            self.post_message(ResultsLoaded(view, None, str(exc)))

    def on_results_loaded(self, message: ResultsLoaded) -> None:
        self._loading = False
        self.loads += 1
        if message.view != self.view or self._again:
            self.reload()
        if message.view != self.view:
            return
        if message.error is not None:
            self.status.update(message.error)
            return
        self.built = message.built
        self._show()

    @property
    def settled(self) -> bool:
        """No reading under way or due (tests wait for this)."""
        return not self._loading and not self._again

    # ------------------------------------------------------------ drawing
    def _show(self) -> None:
        built = self.built
        assert built is not None
        keep = self.grid.cursor_row
        self.grid.clear(columns=True)
        names = formats.headers(built)
        for name in names:
            mark = ""
            if name == self.view.sort:
                mark = " ▼" if self.view.descending else " ▲"
            self.grid.add_column(name + mark, key=name)
        for row, cells in zip(built.rows, formats.cells(built), strict=True):
            self.grid.add_row(*cells, key=row.task_ids[0])
        if built.rows:
            self.grid.move_cursor(row=min(keep, len(built.rows) - 1))
        self._draw_plot(built)
        self._show_status(built)

    def _draw_plot(self, built: table.Table) -> None:
        plt = self.plot.plt
        plt.clear_figure()
        try:
            plots.draw(
                plt, plotdata.build(built, y=self.view.sort if self.view.sort in built.metrics else None)
            )
        except LabtaskerError as exc:
            plt.title(str(exc))
        self.plot.refresh()

    def _show_status(self, built: table.Table) -> None:
        tasks = sum(len(r.task_ids) for r in built.rows)
        parts = [
            f"{tasks} finished tasks"
            + (f" in {len(built.rows)} groups over {self.view.over}" if built.grouped else "")
        ]
        if self.view.sort:
            parts.append(f"sorted by {self.view.sort} {'▼' if self.view.descending else '▲'}")
        if self.view.expr:
            parts.append(f"filter: {self.view.expr}")
        self.status.update("  ·  ".join(parts))

    # ------------------------------------------------------------ sorting
    def _sort_by(self, name: str) -> None:
        if name == "task_id" or (
            self.built is not None and self.built.grouped and name == self.built.count_name
        ):
            return
        descending = not self.view.descending if name == self.view.sort else True
        self.view = ResultsView(self.view.expr, self.view.over, name, descending)
        self.reload()

    @on(DataTable.HeaderSelected, "#results-table")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self._sort_by(str(event.column_key.value))

    def action_sort_next(self) -> None:
        """Sort by the next metric (or arg) column."""
        if self.built is None:
            return
        keys = [*self.built.metrics, *self.built.args]
        if not keys:
            return
        at = keys.index(self.view.sort) + 1 if self.view.sort in keys else 0
        self.view = ResultsView(self.view.expr, self.view.over, keys[at % len(keys)], True)
        self.reload()

    def action_sort_reverse(self) -> None:
        if self.view.sort:
            self._sort_by(self.view.sort)

    def action_over(self) -> None:
        """Ask which args to group over (mean ± std over seeds, say)."""

        def chosen(text: str | None) -> None:
            if text is not None:
                self.view = ResultsView(self.view.expr, text.strip(), self.view.sort, self.view.descending)
                self.reload()

        self.app.push_screen(
            PromptScreen(
                "Group tasks that differ only in these args (empty: no groups)", self.view.over, "seed"
            ),
            chosen,
        )

    # ------------------------------------------------------------ opening
    @on(DataTable.RowSelected, "#results-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        task_id = str(event.row_key.value)
        found = self.queue.find(task_id)
        if found is None:
            self.notify(f"task {task_id} is gone", severity="warning")
            return
        state = next(s for s, d in DIRNAME.items() if d == found.dirname)
        dirs = detail.log_dirs_for(self.queue.path)
        self.app.push_screen(TaskScreen(detail.load(self.queue, state, found.name, dirs)))


class TaskScreen(ModalScreen[None]):
    """One task of the results: its YAML, error, attempts and log."""

    OWN_KEYS = True
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "back"),
        Binding("right_square_bracket", "tab(1)", "next tab", key_display="]"),
    ]

    def __init__(self, shown: detail.Detail) -> None:
        super().__init__()
        self.shown = shown
        self.pane = DetailPane(id="results-task")

    def compose(self) -> ComposeResult:
        yield self.pane
        yield Footer()

    def on_mount(self) -> None:
        self.pane.show(self.shown)

    def action_tab(self, step: int) -> None:
        self.pane.cycle(step)
