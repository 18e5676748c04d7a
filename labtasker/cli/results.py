"""``labtasker results [QUEUE_DIR]``: the sweep's answer, args against metrics, as a table or a plot."""

from __future__ import annotations

import sys

from plumbum import cli

from labtasker.cli import output
from labtasker.cli.base import Command
from labtasker.cli.task import positive
from labtasker.sweep import formats


class Results(Command):
    """Finished tasks as a table of the args that vary against their summary metrics (or a plot)"""

    PROGNAME = "labtasker results"
    USAGE = (
        "    labtasker results [QUEUE_DIR] [-s STATUS] [-f EXPR] [-m METRICS] [--sort F:desc] [--over ARG]\n"
    )
    DESCRIPTION_MORE = """
    Reads the queue in use, or QUEUE_DIR (a copy rsynced from a cluster works,
    read-only).
    """

    status = cli.SwitchAttr(
        ["-s", "--status"],
        str,
        argname="STATUS",
        default="success",
        help="Tasks in these states (comma-separated, or all); default success",
    )
    extra_filter = cli.SwitchAttr(
        ["-f", "--extra-filter"],
        str,
        argname="EXPR",
        help="Only tasks matching a filter, e.g. 'args.lr < 0.1'",
    )
    metrics = cli.SwitchAttr(
        ["-m", "--metrics"],
        str,
        argname="NAMES",
        help="Summary metrics to show, e.g. acc,loss (default: numeric ones)",
    )
    sort = cli.SwitchAttr(
        ["-S", "--sort"],
        str,
        list=True,
        argname="FIELD:asc|desc",
        help="Order rows, e.g. --sort acc:desc (short for summary.acc:desc); default: by the args",
    )
    over = cli.SwitchAttr(
        ["--over"],
        str,
        argname="ARGS",
        help="Group tasks differing only in these args (e.g. seed): mean ± std, n",
    )
    best = cli.SwitchAttr(["--best"], positive, argname="K", help="Keep the first K rows of --sort")
    fmt = cli.SwitchAttr(
        ["--fmt"],
        cli.Set(*formats.FORMATS),
        default="table",
        argname="FORMAT",
        help=", ".join(formats.FORMATS),
    )
    plot = cli.Flag(["--plot"], help="Draw a metric against an arg in the terminal instead of the table")
    x = cli.SwitchAttr(["--x"], str, argname="ARG", help="The plot's x axis (default: the first numeric arg)")
    y = cli.SwitchAttr(["--y"], str, argname="METRIC", help="The plot's y axis (default: the first metric)")
    by = cli.SwitchAttr(["--by"], str, argname="ARG", help="One line per value of this arg")
    plot_file = cli.SwitchAttr(
        ["--plot-file"], str, argname="FILE", help="Write the plot to a .png or .svg (needs labtasker[plot])"
    )

    def main(self, queue_dir: str = "") -> int:
        from labtasker.fsqueue import clock
        from labtasker.sweep import plotdata, plots, source, table

        if self.plot_file:
            plots.check_available()
        queue = source.open_queue(queue_dir or None)
        docs = source.load(queue, self.status, self.extra_filter, now=clock.now())
        result = table.build(docs, metrics=self.metrics, over=self.over, sort=self.sort, best=self.best)
        if self.plot or self.plot_file:
            if not result.rows:
                output.info(_nothing(self.status))
                return 0
            picture = plotdata.build(result, self.x, self.y, self.by)
            if self.plot_file:
                written = plots.save(picture, self.plot_file)
                output.info(f"wrote {written}")
            if self.plot:
                width = output.terminal_width() or 80
                print(plots.text(picture, width=min(width, 100), color=output.use_color()))
                return 0
        if self.fmt != "table":
            output.emit(formats.render(result, str(self.fmt)), pager=False)
        elif result.rows:
            rows = formats.cells(result)
            output.emit(output.table(rows, formats.headers(result), width=output.terminal_width()))
        else:
            output.info(_nothing(self.status))
        sys.stdout.flush()
        return 0


def _nothing(status: str) -> str:
    return f"no task in {status} matches; other states with -s failed, -s all"
