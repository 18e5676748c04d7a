"""``QueueApp``: browse and triage one queue directory in the terminal.

The app is given its queue (an ``FsQueue``) and its clock; it never finds
them itself. Scans and actions run in worker threads and come back as
messages, so a big queue never freezes the screen. Watchdog events wake a
rescan early; a timer rescans anyway, because events are hints.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static, Tree

from labtasker.editor import editor_command, run_editor
from labtasker.errors import FilterError, LabtaskerError
from labtasker.fsqueue import clock
from labtasker.fsqueue.store import FsQueue
from labtasker.tui import actions, detail, scan
from labtasker.tui.actions import Outcome
from labtasker.tui.columns import short_id
from labtasker.tui.messages import ActionDone, Counted, DetailLoaded, QueueChanged, Scanned
from labtasker.tui.scan import STATES, TASK_STATES, View
from labtasker.tui.watch import QueueWatcher
from labtasker.tui.widgets.detail import DetailPane
from labtasker.tui.widgets.dialogs import ConfirmScreen, HelpScreen, PromptScreen
from labtasker.tui.widgets.filter_box import FilterBox
from labtasker.tui.widgets.states import StateTree
from labtasker.tui.widgets.table import TaskTable

WRITE_ACTIONS = ("cancel", "requeue", "priority", "edit", "delete")
FOLLOW_EVERY = 1.0  # seconds between re-reads of a running task's log
FILTER_DELAY = 0.25  # seconds of no typing before a filter is applied


class QueueApp(App[None]):
    """The queue as a tree of states, a table of tasks, and a detail pane."""

    CSS_PATH = "app.tcss"
    TITLE = "labtasker"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("slash", "focus_filter", "filter", key_display="/"),
        Binding("space", "mark", "mark"),
        Binding("c", "cancel", "cancel"),
        Binding("r", "requeue", "re-queue"),
        Binding("p", "priority", "priority"),
        Binding("e", "edit", "edit"),
        Binding("d,delete", "delete", "delete"),
        Binding("s", "sort_next", "sort"),
        Binding("R", "results", "results: args against metrics, with a plot", show=False),
        Binding("right_square_bracket", "detail_tab(1)", "next tab", key_display="]"),
        Binding("left_square_bracket", "detail_tab(-1)", "previous tab", key_display="[", show=False),
        Binding("S", "sort_reverse", "reverse sort", show=False),
        Binding("a", "mark_all", "mark all shown / none", show=False),
        Binding("m", "metrics", "choose metric columns", show=False),
        Binding("ctrl+r", "rescan", "rescan now", show=False),
        *[Binding(str(i + 1), f"state('{s}')", f"show {s}", show=False) for i, s in enumerate(STATES)],
    ]

    def __init__(
        self,
        queue: FsQueue,
        *,
        read_only: bool = False,
        now: Callable[[], datetime] = clock.now,
        state: str = "pending",
        expr: str = "",
        metrics: Sequence[str] | None = None,
        watch: bool = True,
        polling: bool = False,
        rescan_every: float | None = 2.0,
        log_dirs: Sequence[Path] = (),
        results: bool = False,
    ) -> None:
        super().__init__()
        self.queue = queue
        self.read_only = read_only
        self.now = now
        self.view = View(state=state, expr=expr, metrics=tuple(metrics) if metrics is not None else None)
        self.marks: set[str] = set()
        self.snapshot: scan.Snapshot | None = None
        self.log_dirs = detail.log_dirs_for(queue.path, list(log_dirs))
        self.rescan_every = rescan_every
        self.watcher = QueueWatcher(queue.path, self._changed, polling=polling) if watch else None
        self._scanning = False
        self._dirty = False
        self._filter_timer: Timer | None = None
        self.scans = 0  # finished scans, for tests and the curious
        self.open_results = results

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        # Kept as attributes: messages that arrive while the app closes still find them.
        self.states = StateTree(self._queue_name(), id="states")
        self.filter_box = FilterBox(id="filter")
        self.table = TaskTable(id="tasks")
        self.status_line = Static("", id="status", markup=False)
        self.detail_pane = DetailPane(id="detail")
        yield Header()
        with Horizontal(id="main"):
            yield self.states
            with Vertical(id="right"):
                yield self.filter_box
                yield self.table
                yield self.status_line
                yield self.detail_pane
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.queue.path.name + ("  [read-only]" if self.read_only else "")
        self.filter_box.input.value = self.view.expr
        self.states.select_state(self.view.state)
        self.table.focus()
        if self.watcher is not None:
            self.watcher.start()
        if self.rescan_every:
            self.set_interval(self.rescan_every, self.rescan)
        self.set_interval(FOLLOW_EVERY, self._follow)
        self.rescan()
        if self.open_results:
            self.action_results()

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()

    @property
    def settled(self) -> bool:
        """True when no scan, detail read or action is under way or due (tests wait for this)."""
        if self._scanning or self._dirty or self._filter_timer or any(w.is_running for w in self.workers):
            return False
        row = self.table.current
        shown = self.detail_pane.detail
        return row is None or (shown is not None and shown.name == row.key)

    def _queue_name(self) -> str:
        try:
            return str(self.queue.info().get("queue_name") or self.queue.path.name)
        except (OSError, ValueError):
            return self.queue.path.name

    # ------------------------------------------------------------ scanning
    def rescan(self) -> None:
        """Scan now, or right after the scan under way (bursts collapse into one)."""
        if self._scanning:
            self._dirty = True
            return
        self._scanning, self._dirty = True, False
        self._scan(self.view)

    @work(thread=True, group="scan")
    def _scan(self, view: View) -> None:
        if self.snapshot is None:  # the first look at a big queue takes a while: counts first
            self.post_message(Counted(scan.counts(self.queue)))
        self.post_message(Scanned(scan.scan(self.queue, view, self.now(), previous=self.snapshot)))

    def _changed(self) -> None:  # a watchdog thread
        self.post_message(QueueChanged())

    def on_queue_changed(self, message: QueueChanged) -> None:
        self.rescan()
        for screen in self.screen_stack:
            if hasattr(screen, "reload"):  # the results screen, live as tasks finish
                screen.reload()

    def on_counted(self, message: Counted) -> None:
        self.states.update_counts(message.counts)

    def on_scanned(self, message: Scanned) -> None:
        self._scanning = False
        self.scans += 1
        snap = message.snapshot
        self.states.update_counts(snap.counts)
        if snap.view != self.view or self._dirty:
            self.rescan()
            if snap.view != self.view:
                return
        self.snapshot = snap
        if snap.error is not None:  # else the box shows what the text being typed is worth
            self.filter_box.show_error(snap.error)
        else:
            self.table.show(snap, self.marks, self.view.sort, self.view.reverse)
            self._load_detail()
        self._show_status()

    def _show_status(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        parts = [f"{snap.view.state}: {snap.shown} of {snap.total} shown"]
        if snap.matched > snap.shown:
            parts[0] = (
                f"{snap.view.state}: first {snap.shown} of {snap.matched} shown (filter or sort to see others)"
            )
        if self.marks:
            parts.append(f"{len(self.marks)} marked")
        if self.view.sort:
            parts.append(f"sorted by {self.view.sort} {'▼' if self.view.reverse else '▲'}")
        if self.read_only:
            parts.append("read-only")
        self.status_line.update("  ·  ".join(parts))

    # ------------------------------------------------------------ detail
    def _load_detail(self) -> None:
        row = self.table.current
        if row is None:
            self.detail_pane.show(None)
            return
        self._read_detail(self.view.state, row.key)

    @work(thread=True, exclusive=True, group="detail")
    def _read_detail(self, state: str, name: str) -> None:
        self.post_message(DetailLoaded(detail.load(self.queue, state, name, self.log_dirs)))

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        row = self.table.current
        if row is not None and row.key == message.detail.name:
            try:
                self.detail_pane.show(message.detail)
            except NoMatches:  # the app is closing and the pane's tabs are already gone
                pass

    def _follow(self) -> None:
        shown = self.detail_pane.detail
        if shown is not None and shown.running:
            self._load_detail()

    @on(DataTable.RowHighlighted, "#tasks")
    def _row_highlighted(self) -> None:
        self._load_detail()

    # ------------------------------------------------------------ view
    @on(Tree.NodeHighlighted, "#states")
    def _state_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        state = event.node.data
        if state in STATES and state != self.view.state:
            self.marks.clear()
            self.view = replace(self.view, state=state, sort=None, reverse=False)
            self.refresh_bindings()
            self.rescan()

    @on(Tree.NodeSelected, "#states")
    def _state_selected(self) -> None:
        self.table.focus()

    def action_state(self, state: str) -> None:
        """Show one state (keys 1-7)."""
        self.states.select_state(state)

    @on(Input.Changed, "#filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        try:
            scan.compile_filter(event.value, self.now())
        except FilterError as exc:
            self.filter_box.show_error(str(exc))
            return
        self.filter_box.show_error(None)
        # Applied once typing pauses: every keystroke need not scan a big queue.
        self._filter_timer = self.set_timer(FILTER_DELAY, lambda: self._apply_filter(event.value))

    def _apply_filter(self, expr: str) -> None:
        self._filter_timer = None
        if expr != self.view.expr:
            self.view = replace(self.view, expr=expr)
            self.rescan()

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self) -> None:
        self.table.focus()

    def action_focus_filter(self) -> None:
        """Jump to the filter box."""
        self.filter_box.input.focus()

    @on(DataTable.HeaderSelected, "#tasks")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self._sort_by(str(event.column_key.value))

    def _sort_by(self, key: str) -> None:
        if key == "mark":
            return
        reverse = not self.view.reverse if key == self.view.sort else False
        self.view = replace(self.view, sort=key, reverse=reverse)
        self.rescan()

    def action_sort_next(self) -> None:
        """Sort by the next column."""
        keys = [k for k, _, _ in (self.snapshot.columns if self.snapshot else [])]
        if not keys:
            return
        at = keys.index(self.view.sort) + 1 if self.view.sort in keys else 0
        self.view = replace(self.view, sort=keys[at % len(keys)], reverse=False)
        self.rescan()

    def action_sort_reverse(self) -> None:
        """Reverse the sort order."""
        if self.view.sort:
            self.view = replace(self.view, reverse=not self.view.reverse)
            self.rescan()

    def action_metrics(self) -> None:
        """Choose the summary metrics shown as columns."""
        current = ", ".join(self.view.metrics or ())

        def chosen(text: str | None) -> None:
            if text is None:
                return
            names = tuple(n.strip() for n in text.split(",") if n.strip())
            self.view = replace(self.view, metrics=names or None)
            self.rescan()

        self.push_screen(
            PromptScreen(
                "Summary metrics to show as columns (comma separated; empty: automatic)", current, "acc, loss"
            ),
            chosen,
        )

    def action_detail_tab(self, step: int) -> None:
        """Show the next (or previous) tab of the detail pane."""
        self.detail_pane.cycle(step)

    def action_rescan(self) -> None:
        self.rescan()

    # ------------------------------------------------------------ marks
    def action_mark(self) -> None:
        """Mark or unmark the task under the cursor, then move down."""
        table = self.table
        row = table.current
        if row is None or self.view.state == "quarantine":
            return
        self.marks.symmetric_difference_update({row.task_id})
        table.set_marks(self.marks)
        table.action_cursor_down()
        self._show_status()

    def action_mark_all(self) -> None:
        """Mark every task shown, or clear the marks if there are any."""
        table = self.table
        self.marks = set() if self.marks else set(table.task_ids())
        table.set_marks(self.marks)
        self._show_status()

    def targets(self) -> list[str]:
        """The marked tasks, or else the one under the cursor."""
        if self.marks:
            return [t for t in self.table.task_ids() if t in self.marks] or sorted(self.marks)
        row = self.table.current
        return [row.task_id] if row is not None else []

    def _describe(self, ids: list[str]) -> str:
        if len(ids) != 1:
            return f"{len(ids)} marked tasks"
        row = self.table.current
        name = row.cells[0] if row is not None and row.task_id == ids[0] and row.cells[0] else "task"
        return f"{name} ({short_id(ids[0])})"

    # ------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Writing actions exist only on task states, and never read-only."""
        if getattr(self.screen, "OWN_KEYS", False) and action not in ("quit", "help", "pop_screen"):
            return False  # the results screen: the main screen's keys would act on a table not shown
        if action in WRITE_ACTIONS:
            return not self.read_only and self.view.state in TASK_STATES
        return True

    def _confirm_then(self, question: str, run: Callable[[], Outcome]) -> None:
        ids = self.targets()
        if not ids:
            self.notify("no task under the cursor", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_action(run)

        self.push_screen(ConfirmScreen(question.format(self._describe(ids)), _id_list(ids)), answered)

    def action_cancel(self) -> None:
        """Cancel the marked tasks (or the one under the cursor)."""
        ids = self.targets()
        self._confirm_then("Cancel {}?", lambda: actions.cancel(self.queue, ids, self.now()))

    def action_requeue(self) -> None:
        """Back to pending with retries 0."""
        ids = self.targets()
        self._confirm_then(
            "Re-queue {} (pending, retries 0)?", lambda: actions.requeue(self.queue, ids, self.now())
        )

    def action_delete(self) -> None:
        """Delete (tombstones are kept in deleted/)."""
        ids = self.targets()
        self._confirm_then(
            "Delete {}? This cannot be undone.", lambda: actions.delete(self.queue, ids, self.now())
        )

    def action_priority(self) -> None:
        """Ask for a new priority."""
        ids = self.targets()
        if not ids:
            self.notify("no task under the cursor", severity="warning")
            return

        def chosen(text: str | None) -> None:
            if text is None:
                return
            try:
                value = actions.parse_priority(text)
            except LabtaskerError as exc:
                self.notify(str(exc), severity="error")
                return
            self._run_action(lambda: actions.set_priority(self.queue, ids, value, self.now()))

        self.push_screen(
            PromptScreen(
                f"New priority for {self._describe(ids)} (higher runs first)", self._current_priority(ids)
            ),
            chosen,
        )

    def _current_priority(self, ids: list[str]) -> str:
        if len(ids) != 1:
            return ""
        found = self.queue.find(ids[0])
        return str(found.doc.get("priority", 0)) if found else ""

    def action_edit(self) -> None:
        """Edit args and metadata in $EDITOR."""
        ids = self.targets()
        docs = [found.doc for found in map(self.queue.find, ids) if found is not None]
        if not docs:
            self.notify("no task under the cursor", severity="warning")
            return
        text = self.run_editor(actions.edit_text(docs))
        try:
            parsed = actions.parse_edit(text, docs) if text is not None else None
        except LabtaskerError as exc:
            self.notify(str(exc), severity="error")
            return
        if parsed is None or not parsed[0]:
            self.notify("edit cancelled; nothing changed" if parsed is None else "nothing changed")
            return
        fields, replace_fields = parsed
        ids = [d["task_id"] for d in docs]
        self._run_action(lambda: actions.edit(self.queue, ids, fields, replace_fields, self.now()))

    def run_editor(self, text: str) -> str | None:
        """Open ``text`` in $VISUAL/$EDITOR; the edited text, or None if the editor failed."""
        with tempfile.TemporaryDirectory(prefix="labtasker-edit-") as folder:
            path = Path(folder) / "task.yaml"
            path.write_text(text, encoding="utf-8")
            try:
                with self.suspend():
                    code = run_editor(path)
            except SuspendNotSupported:  # headless (tests): the editor must not need the terminal
                code = run_editor(path, stdin=subprocess.DEVNULL)
            except OSError as exc:
                self.notify(
                    f"could not start the editor {editor_command()[0]!r}: {exc}; set $EDITOR",
                    severity="error",
                )
                return None
            if code != 0:
                self.notify(f"the editor exited with status {code}; nothing changed", severity="warning")
                return None
            return path.read_text(encoding="utf-8")

    @work(thread=True, group="action")
    def _run_action(self, run: Callable[[], Outcome]) -> None:
        self.post_message(ActionDone(run()))

    def on_action_done(self, message: ActionDone) -> None:
        outcome = message.outcome
        self.marks.difference_update(outcome.done)
        self.notify(outcome.message(), severity="warning" if outcome.failed else "information")
        self.rescan()

    def action_results(self) -> None:
        """Show the results of finished tasks: args against metrics, with a plot."""
        from labtasker.tui.results_screen import ResultsScreen

        expr = self.view.expr if self.view.state == "success" else ""
        self.push_screen(ResultsScreen(self.queue, self.now, expr=expr, every=self.rescan_every))

    def action_help(self) -> None:
        """Show every key."""
        self.push_screen(HelpScreen(help_text(self.BINDINGS)))


def help_text(bindings: Sequence[Any]) -> str:
    """The keys of the main screen, one per line."""
    lines = []
    for binding in bindings:
        keys = binding.key_display or ", ".join(
            k.replace("question_mark", "?") for k in binding.key.split(",")
        )
        lines.append(f"  {keys:<12} {binding.description}")
    lines += [
        "",
        "  Mouse: click a state, a row, a tab; click a column header to sort by it.",
        "  Marks apply to every action; without marks an action applies to the task under the cursor.",
    ]
    return "\n".join(lines)


def _id_list(ids: list[str], limit: int = 8) -> str:
    shown = "\n".join(ids[:limit])
    return shown + (f"\n… and {len(ids) - limit} more" if len(ids) > limit else "")
