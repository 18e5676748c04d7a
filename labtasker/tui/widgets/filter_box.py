"""The filter box: the language of ``task ls -f``, with a bad expression explained inline."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

PLACEHOLDER = 'filter (as task ls -f), e.g. args.lr > 0.01 and "v1" in list(metadata.tags)'


class FilterBox(Vertical):
    """An input and, under it, the error of the expression typed (if any)."""

    def compose(self) -> ComposeResult:
        yield Input(placeholder=PLACEHOLDER, id="filter-input")
        yield Static("", id="filter-error", markup=False)

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    def show_error(self, message: str | None) -> None:
        """Show a FilterError's message under the input (or clear it)."""
        error = self.query_one("#filter-error", Static)
        error.update(message or "")
        error.display = bool(message)
        self.input.set_class(bool(message), "-invalid")
