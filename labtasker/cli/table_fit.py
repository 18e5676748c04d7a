"""Tables that fit a width: each column's share, then rich draws them.

Columns keep their natural width when the table fits. Otherwise the free-text
columns (args, summary, error...) shrink first, the widest first, to a floor;
if even that does not fit, the columns a person can spare (priority, retries,
name...) are left out, then every column but the ids shrinks the same way, and
the ids last: an id is what a person copies into the next command. Cut cells
end with ``…``; ``--wide`` (or a pipe) shows every column whole.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

GAP = 2  # spaces between columns
FLEX_FLOOR = 12  # a free-text column keeps this much while others still have room to give
FLOOR = 4  # no column is cut below this (nor below its own natural width)
KEYS = ("TASK_ID", "WORKER_ID")  # copied into the next command: cut only when nothing else can give
SPARE = ("PRIORITY", "RETRIES", "ATTEMPTS", "FAILS_IN_A_ROW", "PID", "NAME", "NODE", "HOST")  # left out first


def shown(natural: Sequence[int], headers: Sequence[str], width: int, flex: Sequence[bool]) -> list[int]:
    """Indexes of the columns to draw: the spare ones go, in ``SPARE`` order, while the
    table cannot fit with its free text at the floor and the other columns whole."""
    keep = list(range(len(headers)))

    def least(cols: list[int]) -> int:
        return sum(min(natural[i], FLEX_FLOOR) if flex[i] else natural[i] for i in cols) + GAP * (
            len(cols) - 1
        )

    for name in SPARE:
        if least(keep) <= width:
            break
        keep = [i for i in keep if headers[i] != name]
    return keep


def fit(
    natural: Sequence[int], width: int, flex: Sequence[bool], key: Sequence[bool] | None = None
) -> list[int]:
    """Column widths whose sum, with gaps, is at most ``width`` where that can be done."""
    widths = list(natural)
    key = key or [False] * len(widths)
    room = width - GAP * max(len(widths) - 1, 0)
    # the free text first, then every column but the ids, then the ids too
    steps = (([i for i in range(len(widths)) if flex[i]], FLEX_FLOOR),
             ([i for i in range(len(widths)) if not key[i]], FLOOR),
             (list(range(len(widths))), FLOOR))  # fmt: skip
    for chosen, floor in steps:
        if sum(widths) <= room:
            break
        widths = _level(widths, chosen, floor, room)
    return widths


def _level(widths: list[int], chosen: list[int], floor: int, room: int) -> list[int]:
    """Cut the chosen columns to the highest common level that fits (never below ``floor``)."""
    fixed = sum(w for i, w in enumerate(widths) if i not in chosen)

    def total(level: int) -> int:
        return fixed + sum(min(widths[i], max(level, min(floor, widths[i]))) for i in chosen)

    low, high = 0, max((widths[i] for i in chosen), default=0)
    while low < high:  # the highest level whose total fits
        mid = (low + high + 1) // 2
        if total(mid) <= room:
            low = mid
        else:
            high = mid - 1
    out = list(widths)
    for i in chosen:
        out[i] = min(widths[i], max(low, min(floor, widths[i])))
    spare = room - sum(out)  # hand the rounding back, leftmost first
    for i in chosen:
        if spare <= 0:
            break
        if out[i] < widths[i]:
            out[i] += 1
            spare -= 1
    return out


def render(
    rows: Sequence[Sequence[str]],
    headers: Sequence[str],
    *,
    width: int | None,
    flex: Sequence[str],
    color: bool,
    status_style: Mapping[str, str],
) -> Iterable[str]:
    """The table's lines (header first); nothing for no rows. A STATUS or STATE cell takes its
    ``status_style``."""
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    natural = [cell_len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            natural[i] = max(natural[i], cell_len(cell))
    if width is not None:
        keep = shown(natural, headers, width, [h in flex for h in headers])
        headers = [headers[i] for i in keep]
        rows = [[row[i] for i in keep] for row in rows]
        natural = [natural[i] for i in keep]
    widths = (
        natural
        if width is None
        else fit(natural, width, [h in flex for h in headers], [h in KEYS for h in headers])
    )
    status = next((i for i, h in enumerate(headers) if h in ("STATUS", "STATE")), -1)
    grid = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 0, 0, GAP))
    for _ in headers:
        grid.add_column(no_wrap=True)
    grid.add_row(*(_cut(Text(h, style="bold"), w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        grid.add_row(
            *(
                _cut(Text(cell, style=status_style.get(cell, "") if i == status else ""), widths[i])
                for i, cell in enumerate(row)
            )
        )
    grid.show_header = False
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=sum(widths) + GAP * len(widths) + 1,
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    console.print(grid, crop=False)
    for line in buffer.getvalue().splitlines():
        yield line.rstrip()


def _cut(text: Text, width: int) -> Text:
    """The cell cut to ``width`` cells, ending with ``…`` when something was cut."""
    text.truncate(width, overflow="ellipsis")
    return text
