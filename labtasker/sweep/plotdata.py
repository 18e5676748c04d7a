"""What a results plot shows: a metric against an arg, one series per value of another; pure."""

from __future__ import annotations

from dataclasses import dataclass

from labtasker.errors import UsageError
from labtasker.sweep.formats import cell
from labtasker.sweep.table import Stat, Table, is_number

DECADES = 100  # values whose max/min reaches this span two decades: a log axis reads better


@dataclass(frozen=True)
class Series:
    """One line of the plot: its label, its points in x order and, for groups, their std."""

    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    errors: tuple[float, ...] | None


@dataclass(frozen=True)
class Plot:
    """Everything a drawing needs, whatever draws it."""

    x: str
    y: str
    by: str | None
    series: tuple[Series, ...]
    x_ticks: tuple[str, ...] | None  # names of a categorical x (plotted at 0, 1, 2, ...)
    log_x: bool
    log_y: bool

    @property
    def title(self) -> str:
        return f"{self.y} by {self.x}" + (f" for each {self.by}" if self.by else "")


def choose(table: Table, x: str | None, y: str | None, by: str | None) -> tuple[str, str, str | None]:
    """The axes asked for, or sensible ones: the first numeric arg, the first metric, one more arg."""
    x = _bare(x, "args") if x else None
    y = _bare(y, "summary") if y else None
    by = _bare(by, "args") if by else None
    if not table.metrics:
        raise UsageError("nothing to plot: no task in the selection reports a numeric summary metric")
    if y is None:
        y = table.metrics[0]
    elif y not in table.metrics:
        raise UsageError(f"--y {y}: not a metric of the table (there are: {', '.join(table.metrics)})")
    if x is None:
        numeric = [a for a in table.args if _numeric(table, a)]
        x = (numeric or list(table.args) or [""])[0]
        if not x:
            raise UsageError("nothing to plot against: the tasks have no args; name one with --x")
    if x not in table.args:
        raise UsageError(f"--x {x}: not an arg that varies in the table (there are: {', '.join(table.args)})")
    if by is None:
        rest = [a for a in table.args if a != x]
        by = rest[0] if len(rest) == 1 else None
    elif by not in table.args or by == x:
        raise UsageError(f"--by {by}: not another arg of the table (there are: {', '.join(table.args)})")
    return x, y, by


def build(table: Table, x: str | None = None, y: str | None = None, by: str | None = None) -> Plot:
    """The series of a plot of ``table`` (``--x``, ``--y``, ``--by``; chosen when not given)."""
    x, y, by = choose(table, x, y, by)
    categorical = not _numeric(table, x)
    names = sorted({cell(r.args.get(x)) for r in table.rows}) if categorical else []
    groups: dict[str, list[tuple[float, float, float | None]]] = {}
    for row in table.rows:
        metric = row.metrics.get(y)
        value = metric.mean if isinstance(metric, Stat) else metric
        raw = row.args.get(x)
        if not is_number(value) or (raw is None and not categorical):
            continue
        assert value is not None
        where = float(names.index(cell(raw))) if categorical else float(raw)  # type: ignore[arg-type]
        err = metric.std if isinstance(metric, Stat) else None
        label = f"{by}={cell(row.args.get(by))}" if by else y
        groups.setdefault(label, []).append((where, float(value), err))
    series = []
    for label, points in groups.items():
        points.sort(key=lambda p: p[0])
        errs = tuple(p[2] or 0.0 for p in points) if table.grouped else None
        series.append(Series(label, tuple(p[0] for p in points), tuple(p[1] for p in points), errs))
    if not series:
        raise UsageError(f"nothing to plot: no row has both {x} and a number for {y}")
    xs = [v for s in series for v in s.xs]
    ys = [v for s in series for v in s.ys]
    return Plot(
        x,
        y,
        by,
        tuple(sorted(series, key=lambda s: s.label)),
        tuple(names) if categorical else None,
        log_x=not categorical and spans_decades(xs),
        log_y=spans_decades(ys),
    )


def spans_decades(values: list[float]) -> bool:
    """Positive values whose largest is at least ``DECADES`` times the smallest."""
    return bool(values) and min(values) > 0 and max(values) / min(values) >= DECADES


def _numeric(table: Table, name: str) -> bool:
    values = [r.args.get(name) for r in table.rows if r.args.get(name) is not None]
    return bool(values) and all(is_number(v) for v in values)


def _bare(name: str, top: str) -> str:
    return name[len(top) + 1 :] if name.startswith(top + ".") else name
