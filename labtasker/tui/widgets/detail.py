"""The detail pane: the highlighted task's YAML, its error, its attempts, its run log."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from labtasker.tui.detail import Detail

THEME = "ansi_dark"  # the terminal's own colours
PANES = ("task", "error", "attempts", "log")


def _syntax(text: str, lexer: str) -> Syntax:
    return Syntax(text, lexer, theme=THEME, background_color="default", word_wrap=True)


class DetailPane(Vertical):
    """Four tabs; labels show at a glance whether there is an error, attempts or a log."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.detail: Detail | None = None
        # Kept here, not queried: a read that lands while the app closes still finds them.
        self._bodies = {pane: Static(id=f"body-{pane}", markup=False) for pane in PANES}
        self._scrolls = {pane: VerticalScroll(id=f"scroll-{pane}") for pane in PANES}
        self._tabs = TabbedContent(id="detail-tabs")

    def compose(self) -> ComposeResult:
        with self._tabs:
            for pane in PANES:
                with TabPane(pane, id=f"tab-{pane}"), self._scrolls[pane]:
                    yield self._bodies[pane]

    @property
    def tabs(self) -> TabbedContent:
        return self._tabs

    def cycle(self, step: int) -> None:
        """Activate the tab ``step`` places to the right (wrapping)."""
        current = (self.tabs.active or "tab-task").removeprefix("tab-")
        self.tabs.active = f"tab-{PANES[(PANES.index(current) + step) % len(PANES)]}"

    def show(self, detail: Detail | None) -> None:
        """Render a detail (None: nothing highlighted)."""
        before = self.detail
        self.detail = detail
        if detail is None:
            for pane in PANES:
                self._body(pane, Text("no task selected", style="dim"))
            self._labels(None)
            return
        self._body("task", self._yaml_of(detail))
        self._body("error", self._error_of(detail))
        self._body("attempts", self._attempts_of(detail))
        self._body("log", self._log_of(detail))
        self._labels(detail)
        if detail.running and (before is None or before.name != detail.name or before.log != detail.log):
            self._scrolls["log"].scroll_end(animate=False)

    def _body(self, pane: str, content: RenderableType) -> None:
        self._bodies[pane].update(content)

    def _labels(self, detail: Detail | None) -> None:
        error = bool(detail and detail.error)
        attempts = len(detail.attempts) if detail else 0
        following = bool(detail and detail.running and detail.log_path)
        tabs = self.tabs
        tabs.get_tab("tab-error").label = "error ✗" if error else "error"
        tabs.get_tab("tab-attempts").label = f"attempts ({attempts})" if attempts else "attempts"
        tabs.get_tab("tab-log").label = "log (following)" if following else "log"

    def _yaml_of(self, detail: Detail) -> RenderableType:
        if detail.gone:
            return Text(f"{detail.name} is gone (moved or deleted by another process)", style="dim")
        lexer = "text" if detail.state == "quarantine" else "yaml"
        body = _syntax(detail.text.rstrip("\n"), lexer)
        notes = detail.notes
        return Group(*(Text(n, style="bold yellow") for n in notes), body) if notes else body

    def _error_of(self, detail: Detail) -> RenderableType:
        if not detail.error:
            return Text("no error recorded", style="dim")
        return _syntax(detail.error.rstrip("\n"), "pytb")

    def _attempts_of(self, detail: Detail) -> RenderableType:
        if not detail.attempts:
            return Text("no other attempts recorded (late or lost runs land in attempts/)", style="dim")
        from labtasker.fsqueue import codec

        parts: list[RenderableType] = []
        for name, doc in detail.attempts:
            parts.append(Text(f"attempts/{name}", style="bold"))
            parts.append(_syntax(codec.dump(doc).decode("utf-8").rstrip("\n"), "yaml"))
        return Group(*parts)

    def _log_of(self, detail: Detail) -> RenderableType:
        if detail.log_path is None:
            if detail.doc.get("start_time") is not None and not detail.running:
                return Text("no run.log: this task's runs printed nothing", style="dim")
            return Text("no run.log found for this task", style="dim")
        head = Text(detail.log_label, style="dim")
        return Group(head, Text(detail.log or "(empty)"))
