"""The queue as a tree of its states, each with its live count."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from labtasker.tui.scan import STATES, TASK_STATES

STYLE = {
    "pending": "yellow", "running": "cyan", "success": "green", "failed": "red",
    "cancelled": "magenta", "attempts": "blue", "quarantine": "bright_red",
}  # fmt: skip


class StateTree(Tree[str]):
    """Root: the queue and its task total; leaves: the states, selecting one shows its tasks."""

    def __init__(self, queue_name: str, **kwargs: object) -> None:
        super().__init__(queue_name, data="", **kwargs)  # type: ignore[arg-type]
        self.queue_name = queue_name
        self.guide_depth = 2
        self.leaves: dict[str, TreeNode[str]] = {}

    def on_mount(self) -> None:
        self.root.expand()
        for state in STATES:
            self.leaves[state] = self.root.add_leaf(self.label_for(state, None), data=state)

    def label_for(self, state: str, count: int | None) -> Text:
        shown = "…" if count is None else str(count)
        text = Text(f"{state:<11}", style=STYLE[state] if count else "dim")
        text.append(f"{shown:>5}", style="bold" if count else "dim")
        return text

    def update_counts(self, counts: dict[str, int]) -> None:
        """Relabel each state with its count, and the root with the task total."""
        total = sum(counts.get(s, 0) for s in TASK_STATES)
        self.root.set_label(Text.assemble((self.queue_name, "bold"), f"  {total} tasks"))
        for state, node in self.leaves.items():
            node.set_label(self.label_for(state, counts.get(state, 0)))

    def select_state(self, state: str) -> None:
        """Move the cursor to a state's node."""
        node = self.leaves.get(state)
        if node is not None:
            self.move_cursor(node)
