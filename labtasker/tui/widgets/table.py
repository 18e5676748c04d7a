"""The task table: one row per file of the selected state, kept in place across rescans.

A rescan that changes only some cells (ages, a metric) updates those cells; the
rows are rebuilt only when the set or order of files changed, and the cursor
stays on the task it was on.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable

from labtasker.tui.columns import MARK
from labtasker.tui.scan import Row, Snapshot

MARK_COLUMN = "mark"


class TaskTable(DataTable[object]):
    """Rows of a snapshot; marked tasks show a dot in the first column."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._signature: tuple[object, ...] = ()
        self._numeric: set[str] = set()
        self._keys: list[str] = []
        self._marked: set[str] = set()  # row keys showing a mark
        self.shown: dict[str, Row] = {}

    # -------------------------------------------------------------- reading
    @property
    def current(self) -> Row | None:
        """The row under the cursor, if any."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return self.shown.get(str(row_key.value))

    def task_ids(self) -> list[str]:
        """Task ids of the rows shown, top to bottom."""
        return [self.shown[key].task_id for key in self._keys]

    # -------------------------------------------------------------- writing
    def show(self, snap: Snapshot, marks: set[str], sort: str | None, reverse: bool) -> None:
        """Render a snapshot, touching as little as possible."""
        signature = (tuple(snap.columns), sort, reverse)
        if signature != self._signature:
            self._set_columns(snap, sort, reverse)
            self._signature = signature
        keys = [row.key for row in snap.rows]
        if keys != self._keys:
            self._rebuild(snap.rows, marks)
        else:
            self._update(snap.rows, marks)

    def set_marks(self, marks: set[str]) -> None:
        """Show which rows are marked."""
        for key in self._keys:
            want = self.shown[key].task_id in marks
            if want != (key in self._marked):
                self.update_cell(key, MARK_COLUMN, MARK if want else "")  # the column keeps width 1
                (self._marked.add if want else self._marked.discard)(key)

    def _set_columns(self, snap: Snapshot, sort: str | None, reverse: bool) -> None:
        self.clear(columns=True)
        self._keys, self.shown, self._marked = [], {}, set()
        self.add_column(" ", key=MARK_COLUMN, width=1)
        self._numeric = {key for key, _, numeric in snap.columns if numeric}
        for key, label, _ in snap.columns:
            arrow = (" ▼" if reverse else " ▲") if key == sort else ""
            header = Text(label + arrow, justify="right" if key in self._numeric else "left")
            self.add_column(header, key=key)

    def _rebuild(self, rows: list[Row], marks: set[str]) -> None:
        before = self.current
        index = self.cursor_row
        self.clear()
        self.shown = {row.key: row for row in rows}
        self._keys = [row.key for row in rows]
        self._marked = {row.key for row in rows if row.task_id in marks}
        columns = [c.key.value for c in self.ordered_columns[1:]]
        for row in rows:
            mark = MARK if row.task_id in marks else ""
            self.add_row(mark, *self._cells(columns, row.cells), key=row.key)
        self._restore_cursor(before, index, rows)

    def _restore_cursor(self, before: Row | None, index: int, rows: list[Row]) -> None:
        if not rows:
            return
        target = min(index, len(rows) - 1)
        if before is not None:
            for i, row in enumerate(rows):
                if row.key == before.key or row.task_id == before.task_id:
                    target = i
                    break
        self.move_cursor(row=target, animate=False, scroll=True)

    def _update(self, rows: list[Row], marks: set[str]) -> None:
        columns = [str(c.key.value) for c in self.ordered_columns[1:]]
        for row in rows:
            old = self.shown[row.key]
            self.shown[row.key] = row
            if old.cells != row.cells:
                for column, before, after in zip(columns, old.cells, row.cells, strict=False):
                    if before != after:
                        self._set_cell(row.key, column, self._cell(column, after))
        self.set_marks(marks)

    def _cells(self, columns: Iterable[object], cells: tuple[str, ...]) -> list[object]:
        return [self._cell(str(column), cell) for column, cell in zip(columns, cells, strict=False)]

    def _cell(self, column: str, value: str) -> object:
        return Text(value, justify="right") if column in self._numeric else value

    def _set_cell(self, row_key: str, column: str, value: object) -> None:
        self.update_cell(row_key, column, value, update_width=True)
