"""``labtasker.results(...)``: the results table in Python, as rows (and a DataFrame when pandas is there)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labtasker.errors import LabtaskerError
from labtasker.sweep import formats
from labtasker.sweep.table import Table


class Results(list[dict[str, Any]]):
    """The rows of a results table, each a flat dict; ``.table`` keeps the columns and groups."""

    def __init__(self, table: Table) -> None:
        super().__init__(table.records())
        self.table = table

    @property
    def columns(self) -> list[str]:
        """The column names of the rows, in order."""
        return list(self[0]) if self else formats.headers(self.table)

    def to_dataframe(self) -> Any:
        """A pandas DataFrame of the rows (pandas is not a dependency: install it to use this)."""
        try:
            import pandas as pd
        except ImportError:
            raise LabtaskerError("to_dataframe() needs pandas: pip install pandas") from None
        return pd.DataFrame(list(self), columns=self.columns)

    def to_markdown(self) -> str:
        """The table as Markdown, as ``labtasker results --fmt markdown`` prints it."""
        return "\n".join(formats.markdown(self.table))

    def to_csv(self) -> str:
        """The rows as CSV text."""
        return formats.to_csv(self.table)


def results(
    queue_dir: str | Path | None = None,
    *,
    status: str | Sequence[str] = "success",
    extra_filter: str | dict[str, Any] | None = None,
    metrics: str | Sequence[str] | None = None,
    over: str | Sequence[str] | None = None,
    sort: str | Sequence[str] | None = None,
    best: int | None = None,
) -> Results:
    """The results of the queue in use (or at ``queue_dir``): args that vary against summary metrics.

    ``over="seed"`` groups tasks differing only in the seed (``acc_mean``,
    ``acc_std``, ``n``); ``sort="acc:desc"`` orders them; ``best=3`` keeps the first 3.
    """
    from labtasker.fsqueue import clock
    from labtasker.sweep import source, table

    queue = source.open_queue(queue_dir)
    docs = source.load(queue, status, extra_filter, now=clock.now())
    return Results(table.build(docs, metrics=metrics, over=over, sort=sort, best=best))
