"""``labtasker worker``: create, list, report and delete workers."""

from __future__ import annotations

import sys
from typing import Any, cast

from plumbum import cli

from labtasker import api
from labtasker.api_models import Worker
from labtasker.cli import output
from labtasker.cli.args import parse_dict
from labtasker.cli.base import Command, Group, read_ids_from_stdin
from labtasker.cli.task import count_arg
from labtasker.errors import LabtaskerError, UsageError
from labtasker.fsqueue.workers import WORKER_STATUSES


class WorkerGroup(Group):
    """Create, list, report and delete workers"""


@WorkerGroup.subcommand("create")
class Create(Command):
    """Register a worker and print its id (use it with `labtasker loop --worker-id`)"""

    worker_name = cli.SwitchAttr(
        ["--name", "--worker-name"], str, argname="NAME", help="A name for the worker"
    )
    metadata = cli.SwitchAttr(["--metadata"], str, argname="JSON", help="Metadata (JSON object)")
    max_retries = cli.SwitchAttr(
        ["--max-retries"],
        count_arg,
        default=3,
        argname="INT",
        help="Failures in a row before the worker is marked crashed",
    )

    def main(self) -> int:
        metadata = parse_dict(self.metadata, "--metadata") if self.metadata else None
        worker = api.create_worker(
            worker_name=self.worker_name, metadata=metadata, max_retries=self.max_retries
        )
        print(worker.worker_id)
        return 0


@WorkerGroup.subcommand("ls")
class Ls(Command):
    """List workers"""

    worker_id = cli.SwitchAttr(
        ["--id", "--worker-id"], str, argname="ID", help="Only the worker with this id"
    )
    worker_name = cli.SwitchAttr(
        ["--name", "--worker-name"], str, argname="NAME", help="Only workers with this name"
    )
    status = cli.SwitchAttr(
        ["-s", "--status"], cli.Set(*WORKER_STATUSES), argname="STATUS", help="Only workers in this status"
    )
    extra_filter = cli.SwitchAttr(
        ["-f", "--extra-filter"],
        str,
        argname="EXPR",
        help="""Only workers matching a filter, e.g. 'metadata.gpu == 0' or '{"metadata.gpu": 0}'""",
    )
    limit = cli.SwitchAttr(["--limit"], count_arg, default=100, argname="INT", help="Show at most this many")
    quiet = cli.Flag(["-q", "--quiet"], help="Print only worker ids")
    pager = cli.Flag(["--pager"], excludes=["--no-pager"], help="Page the output on a terminal")
    no_pager = cli.Flag(["--no-pager"], help="Never page the output (the default)")
    fmt = cli.SwitchAttr(
        ["--fmt"],
        cli.Set("table", "yaml", "jsonl"),
        default="table",
        argname="FORMAT",
        help="table, yaml or jsonl",
    )

    def main(self) -> int:
        workers = api.ls_workers(
            worker_id=self.worker_id,
            worker_name=self.worker_name,
            status=cast("str | None", self.status),  # one of WORKER_STATUSES (cli.Set is typed for lists too)
            extra_filter=self.extra_filter,
            limit=self.limit,
        ).content
        if self.quiet:
            lines: Any = (w.worker_id for w in workers)
        elif self.fmt == "jsonl":
            lines = output.jsonl(w.to_dict() for w in workers)
        elif self.fmt == "yaml":
            lines = output.yaml_docs(w.to_dict() for w in workers)
        else:
            lines = _table(workers)
        output.emit(lines, pager=self.pager and not self.quiet)
        return 0


def _table(workers: list[Worker]) -> Any:
    if not workers:
        return iter(())
    headers = ["WORKER_ID", "NAME", "STATUS", "FAILURES", "NODE", "PID", "CREATED"]
    rows = [
        [
            w.worker_id,
            w.worker_name or "-",
            w.status,
            f"{w.retries}/{w.max_retries}",
            w.node or "-",
            str(w.pid or "-"),
            output.compact(w.created_at),
        ]
        for w in workers
    ]
    return output.table(rows, headers, width=output.terminal_width())


@WorkerGroup.subcommand("report")
class Report(Command):
    """Set a worker's status: active (also clears its failure count), suspended or crashed"""

    def main(self, worker_id: str, status: str) -> int:
        if status not in WORKER_STATUSES:
            raise UsageError(f"unknown worker status {status!r}: use one of {', '.join(WORKER_STATUSES)}")
        api.report_worker_status(worker_id, status)
        print(f"worker {worker_id} is now {status}")
        return 0


@WorkerGroup.subcommand("delete")
class Delete(Command):
    """Delete workers by id (arguments or piped on stdin)"""

    yes = cli.Flag(["-y", "--yes"], help="Do not ask for confirmation")

    def main(self, *worker_ids: str) -> int:
        ids = list(worker_ids)
        if not ids and not output.is_tty(sys.stdin):
            ids = read_ids_from_stdin()
        if not ids:
            raise UsageError("give the ids of the workers to delete (see `labtasker worker ls -q`)")
        if not self.yes:
            if not output.can_prompt():
                raise UsageError("refusing to delete without confirmation: add -y (--yes)")
            if not output.confirm(
                f"Delete {len(ids)} worker{'s' if len(ids) != 1 else ''} ({', '.join(ids[:5])})?"
            ):
                raise LabtaskerError("cancelled; nothing was deleted")
        failed = 0
        for worker_id in dict.fromkeys(ids):
            try:
                api.delete_worker(worker_id)
            except LabtaskerError as exc:
                failed += 1
                output.warn(str(exc))
        print(f"deleted {len(ids) - failed} worker{'s' if len(ids) - failed != 1 else ''}")
        return 1 if failed else 0
