"""Benchmark labtasker against the filesystem it runs on, and print the table.

    python bench/run.py            # 10^3, 10^4 and 10^5 tasks (a few minutes)
    python bench/run.py --quick    # tiny sizes, a few seconds: a first look

Everything happens in a temporary directory (inside ``bench/`` by default,
i.e. on the repository's filesystem; ``--dir /dev/shm`` for memory), with
``LABTASKER_ROOT`` set, so the user's own queues are never touched. Progress
goes to stderr, the Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import api_figures, cli_figures, loop_figures, machine, versus
from bench.raw import Limits, rename_rate
from bench.table import Progress, Row, fmt_rate, render, size_label, to_json
from bench.workdir import REPO, Workdir

FULL_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (60, 200)
PER_TASK_MAX = 10_000  # figures whose cost per task does not depend on the queue's size stop here


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help=f"tiny sizes {QUICK_SIZES}, a few seconds")
    p.add_argument(
        "--sizes",
        type=lambda s: tuple(int(x) for x in s.split(",")),
        help="comma-separated task counts, smallest first (default 1000,10000,100000)",
    )
    p.add_argument("--dir", type=Path, help="where to make the scratch queues (default: inside bench/)")
    p.add_argument("--repeat", type=int, help="calls per CLI latency figure (default 10, quick 3)")
    p.add_argument("--no-cli", action="store_true", help="skip the figures of the `labtasker` command")
    p.add_argument("--json", type=Path, help="also write the rows and the machine as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p.add_argument(
        "--original-venv",
        type=Path,
        help=f"a virtualenv with the original labtasker (default {versus.DEFAULT_VENV.relative_to(REPO)}, if present)",
    )
    p.add_argument(
        "--setup-original", action="store_true", help=f"first install {versus.ORIGINAL} into that virtualenv"
    )
    p.add_argument("--versus", type=int, help="tasks of the side-by-side figures (default 500, quick 100)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    sizes = sorted(opts.sizes or (QUICK_SIZES if opts.quick else FULL_SIZES))
    repeat = opts.repeat or (3 if opts.quick else 10)
    work = Workdir(opts.dir, keep=opts.keep)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the scratch queues are removed
    progress = Progress(opts.quiet)
    try:
        info = machine.describe(work.path, REPO)
        cli = None if opts.no_cli else cli_figures.labtasker_cmd()
        rows = measure(work, sizes, repeat, progress, cli=cli)
        rows += side_by_side(work, opts, repeat, progress, cli)
    finally:
        work.close()
    print(f"Machine:\n{machine.render(info)}\n\n{render(rows)}")
    if opts.json:
        opts.json.write_text(to_json(rows, info), encoding="utf-8")
    return 0


def measure(
    work: Workdir, sizes: list[int], repeat: int, progress: Progress, cli: list[str] | None
) -> list[Row]:
    """Every figure, in an order that reuses queues; progress on stderr."""
    small, big = sizes[0], sizes[-1]
    per_task = [n for n in sizes if n <= PER_TASK_MAX] or [small]
    work.compile_bytecode()
    limits = Limits(work.path, probe_size=max(100, min(1000, small)))
    rows = raw_rows(work, limits, small, progress)

    submitted, bulked, one_by_one = {}, {}, {}
    for n in per_task:
        progress.say(f"submit_task x {n:,}")
        row, submitted[n] = api_figures.submit(work, limits, n)
        one_by_one[n] = row.value
        rows.append(_said(progress, row))
    for n in per_task:
        progress.say(f"submit_tasks x {n:,}")
        row, bulked[n] = api_figures.submit_bulk(work, limits, n, one_by_one.get(n))
        rows.append(_said(progress, row))
    big_project = None
    if cli is not None:
        for n in sizes:
            progress.say(f"task submit --from-file x {n:,}")
            row, project = cli_figures.bulk_row(
                cli, work, limits, n, one_by_one.get(n, max(one_by_one.values()))
            )
            rows.append(_said(progress, row))
            big_project = project if n == big else big_project
    if big_project is None:
        progress.say(f"submit_tasks x {big:,} (the big queue)")
        big_project = work.filled("big", big)

    claims = max(1, small - 1)
    progress.say(f"claim cost: {claims:,} claims from {small:,} and from {big:,} pending")
    low = api_figures.claim_cost(work.filled("claim-small", small), claims)
    high = api_figures.claim_cost(big_project, claims)
    rows += [_said(progress, r) for r in api_figures.claim_rows((small, *low), (big, *high))]

    for n in per_task:
        progress.say(f"no-op loop over {n:,}: 1 worker, then 4 processes")
        rows += [_said(progress, r) for r in loop_figures.loop_rows(bulked[n], submitted[n], n, limits)]
    progress.say(f"no-op loop over the {big - claims:,} tasks left of {big:,}: peak memory")
    rows += [_said(progress, r) for r in loop_figures.memory_rows(big_project, big)]

    progress.say(f"ls_tasks over {big:,} tasks")
    ls_rows, docs = api_figures.ls_rows(big_project, big)
    rows += [_said(progress, r) for r in ls_rows]
    rows += [_said(progress, r) for r in api_figures.fresh_ls_rows(big_project, big)]
    rows.append(_said(progress, api_figures.count_row(big_project, big)))
    rows.append(_said(progress, api_figures.filter_row(docs)))
    del docs

    if cli is not None:
        progress.say(f"CLI latency, {repeat} calls each")
        latency = cli_figures.latency_rows(cli, submitted[small], big_project, big, small, repeat)
        rows += [_said(progress, r) for r in latency]
    rows.append(_probes_row(limits))
    return rows


def side_by_side(
    work: Workdir, opts: argparse.Namespace, repeat: int, progress: Progress, cli: list[str] | None
) -> list[Row]:
    """Beside the original labtasker (when its virtualenv is there) and GNU parallel, in this run."""
    n = opts.versus or (100 if opts.quick else 500)
    venv = opts.original_venv or versus.DEFAULT_VENV
    if opts.setup_original:
        progress.say(f"installing {versus.ORIGINAL} into {venv}")
        versus.setup_original(venv)
    rows = []
    python = versus.original_python(venv)
    if python is None:
        progress.say(f"no original labtasker in {venv} (--setup-original installs it): skipped")
    else:
        progress.say(f"side by side with the original, {n} tasks")
        rows += [_said(progress, r) for r in versus.original_rows(work, python, n, repeat)]
    if cli is not None:
        progress.say(f"`labtasker loop -- true` beside GNU parallel, {n} tasks")
        rows += [_said(progress, r) for r in versus.parallel_rows(work, cli, n)]
    return rows


def raw_rows(work: Workdir, limits: Limits, small: int, progress: Progress) -> list[Row]:
    """The physical limits of the filesystem holding the scratch queues."""
    progress.say("raw filesystem: rename, durable write, batched durable write")
    n = max(1000, min(20_000, 20 * small))
    renames = rename_rate(work.path, n)
    durable, batch = limits.durable(), limits.batch()
    return [
        _said(progress, r)
        for r in (
            Row(
                "raw `rename` between directories",
                n,
                fmt_rate(renames, "/s"),
                "the limit of a claim's take",
                value=renames,
            ),
            Row(
                "raw write + fsync + rename + fsync(dir)",
                limits.probe_size,
                fmt_rate(durable, "/s"),
                "the limit of one durable write per task",
                value=durable,
            ),
            Row(
                "raw write + fsync + rename, one fsync(dir) per batch",
                limits.probe_size,
                fmt_rate(batch, "/s"),
                "the limit of a bulk submit",
                value=batch,
            ),
        )
    ]


def _probes_row(limits: Limits) -> Row:
    each, batch = limits.durable_probes, limits.batch_probes
    return Row(
        "raw durable writes, every probe of this run",
        limits.probe_size,
        f"{min(each):,.0f} - {max(each):,.0f} /s; batched {min(batch):,.0f} - {max(batch):,.0f} /s",
        f"{len(each) + len(batch)} probes; a figure is compared with the mean of the probes "
        "just before and just after it",
    )


def _said(progress: Progress, row: Row) -> Row:
    progress.say(f"  {row.figure} [{size_label(row.tasks)}]: {row.result}  {row.versus}")
    return row


if __name__ == "__main__":
    sys.exit(main())
