"""Drawing a results plot: plotext text for a terminal, matplotlib (headless) for a PNG or SVG file."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from labtasker.errors import LabtaskerError, UsageError
from labtasker.sweep.formats import cell
from labtasker.sweep.plotdata import Plot

PLOT_HINT = "--plot-file needs matplotlib: pip install 'labtasker[plot]'"
FILE_SIZE = (8.0, 5.0)  # inches; at DPI this is an 800x500 PNG, a 576x360 pt SVG
DPI = 100
MAX_TICKS = 8  # up to this many distinct x values, each gets its own tick
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class PlotUnavailable(LabtaskerError):
    """The optional plotting extra is not installed."""


def text(plot: Plot, width: int = 80, height: int = 22, color: bool = False) -> str:
    """The plot as terminal text (plotext), with a title, axis labels and a legend."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("pro" if color else "clear")
    draw(plt, plot)
    drawn = str(plt.build())
    plt.clear_figure()
    if not color:
        drawn = _ANSI.sub("", drawn)
    return "\n".join(line.rstrip() for line in drawn.rstrip().splitlines())


def draw(plt: Any, plot: Plot) -> None:
    """Draw on a plotext figure: the module itself, or a TUI widget's ``plt``.

    A log axis is drawn as log10 of the values with ticks named by the values:
    plotext's own log scale rewrites its data on each build, and a TUI widget
    builds on every refresh.
    """
    fx = _log10 if plot.log_x else float
    fy = _log10 if plot.log_y else float
    for series in plot.series:
        xs, ys = [fx(v) for v in series.xs], [fy(v) for v in series.ys]
        plt.plot(xs, ys, label=series.label, marker="braille")
        if series.errors is not None:  # plotext draws a bar of length yerr centred on its point
            lows = [
                fy(max(y - e, 1e-300) if plot.log_y else y - e)
                for y, e in zip(series.ys, series.errors, strict=True)
            ]
            highs = [fy(y + e) for y, e in zip(series.ys, series.errors, strict=True)]
            mids = [(lo + hi) / 2 for lo, hi in zip(lows, highs, strict=True)]
            plt.error(xs, mids, yerr=[hi - lo for lo, hi in zip(lows, highs, strict=True)])
    xs = sorted({v for s in plot.series for v in s.xs})
    if plot.x_ticks is not None:
        plt.xticks(list(range(len(plot.x_ticks))), list(plot.x_ticks))
    elif plot.log_x or len(xs) <= MAX_TICKS:
        ticks = xs if len(xs) <= MAX_TICKS else _decades(xs)
        plt.xticks([fx(v) for v in ticks], [cell(v) for v in ticks])
    if plot.log_y:
        ticks = _decades([v for s in plot.series for v in s.ys])
        plt.yticks([fy(v) for v in ticks], [cell(v) for v in ticks])
    plt.title(plot.title)
    plt.xlabel(plot.x + (" (log)" if plot.log_x else ""))
    plt.ylabel(plot.y + (" (log)" if plot.log_y else ""))


def _log10(value: float) -> float:
    return math.log10(value)


def _decades(values: list[float]) -> list[float]:
    """The powers of ten within the values' range (or the range's ends when none or one is)."""
    low, high = min(values), max(values)
    inside = [10.0**k for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]
    inside = [v for v in inside if low * 0.999 <= v <= high * 1.001]
    return inside if len(inside) >= 2 else sorted({low, *inside, high})


def check_available() -> None:
    """Fail early, before any reading, when matplotlib is missing."""
    import importlib.util

    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise PlotUnavailable(PLOT_HINT)


def save(plot: Plot, path: str | Path) -> Path:
    """Write the plot to a PNG or SVG file (by its suffix) with matplotlib's headless backend."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        raise UsageError(f"--plot-file {path}: write a .png or an .svg file")
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed: a login node or CI has none
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(PLOT_HINT) from None
    figure = Figure(figsize=FILE_SIZE, dpi=DPI)
    axes = figure.add_subplot()
    for series in plot.series:
        if series.errors is not None:
            axes.errorbar(series.xs, series.ys, yerr=series.errors, label=series.label, marker="o", capsize=3)
        else:
            axes.plot(series.xs, series.ys, label=series.label, marker="o")
    if plot.x_ticks is not None:
        axes.set_xticks(range(len(plot.x_ticks)), plot.x_ticks)
    if plot.log_x:
        axes.set_xscale("log")
    if plot.log_y:
        axes.set_yscale("log")
    axes.set(title=plot.title, xlabel=plot.x, ylabel=plot.y)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    try:
        figure.savefig(path, format=kind, metadata=_stable(kind))
    except OSError as exc:
        raise LabtaskerError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _stable(kind: str) -> dict[str, Any]:
    """No creation date in the file: the same results give the same bytes."""
    return {"Date": None} if kind == "svg" else {"Software": None}
