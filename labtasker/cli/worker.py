"""``labtasker worker``: create, list, report and delete workers."""

from __future__ import annotations

import sys
from typing import Any

from plumbum import cli

from labtasker import api
from labtasker.api_models import Worker
from labtasker.cli import listing, output
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


SHOWN_STATES = ("active", "idle", "dead", "suspended", "crashed", "exited")


@WorkerGroup.subcommand("ls")
class Ls(Command):
    """List workers: their state (a loop killed outright shows as dead), host, pid, last seen, tasks done and failed"""

    worker_id = cli.SwitchAttr(
        ["--id", "--worker-id"], str, argname="ID", help="Only the worker with this id"
    )
    worker_name = cli.SwitchAttr(
        ["--name", "--worker-name"], str, argname="NAME", help="Only workers with this name"
    )
    status = cli.SwitchAttr(
        ["-s", "--status"],
        cli.Set(*SHOWN_STATES),
        argname="STATE",
        help="Only workers in this state: " + ", ".join(SHOWN_STATES),
    )
    extra_filter = cli.SwitchAttr(
        ["-f", "--extra-filter"],
        str,
        argname="EXPR",
        help="""Only workers matching a filter, e.g. 'metadata.gpu == 0' or '{"metadata.gpu": 0}'""",
    )
    limit = cli.SwitchAttr(["--limit"], count_arg, default=100, argname="N", help="Show at most this many")
    quiet = cli.Flag(["-q", "--quiet"], help="Print only worker ids")
    wide = listing.wide_switch()
    pager = cli.Flag(["--pager"], excludes=["--no-pager"], help="Page the output on a terminal")
    no_pager = cli.Flag(["--no-pager"], help="Never page the output (the default)")
    fmt = listing.fmt_switch()

    def main(self) -> int:
        workers = api.ls_workers(
            worker_id=self.worker_id,
            worker_name=self.worker_name,
            extra_filter=self.extra_filter,
            limit=sys.maxsize,
        ).content
        records = _records(workers)
        if self.status:
            records = [r for r in records if r["state"] == self.status]
        records = records[: self.limit]
        if self.quiet:
            lines: Any = (r["worker_id"] for r in records)
        elif self.fmt == "table":
            lines = _table(records, self.wide)
        else:
            lines = listing.lines(self.fmt, records)
        output.emit(lines, pager=self.pager and not self.quiet)
        return 0


def _records(workers: list[Worker]) -> list[dict[str, Any]]:
    """Each worker as stored, with what was seen of it: state, host, last_seen, tasks_done, tasks_failed."""
    if not workers:
        return []
    from labtasker.cli import worker_state
    from labtasker.fsqueue import clock

    queue = api.context().queue
    now = clock.now()
    seen = worker_state.observe(queue, [w.to_dict() | _stored(queue, w) for w in workers], now)
    out = []
    for w in workers:
        s = seen[w.worker_id]
        record = w.to_dict()
        record.update(
            state=s.state, host=s.host, last_seen=s.last_seen, tasks_done=s.done, tasks_failed=s.failed
        )
        out.append(record)
    return out


def _stored(queue: Any, worker: Worker) -> dict[str, Any]:
    """The fields of the worker file a Worker leaves out (host, session)."""
    doc = queue.read("workers", f"{worker.worker_id}.yaml") or {}
    return {k: doc.get(k) for k in ("host", "sid")}


def _table(records: list[dict[str, Any]], wide: bool) -> Any:
    if not records:
        return iter(())
    from labtasker.cli.worker_state import ago
    from labtasker.fsqueue import clock

    now = clock.now()
    headers = ["WORKER_ID", "NAME", "STATUS", "HOST", "PID", "LAST_SEEN", "DONE", "FAILED", "FAILS_IN_A_ROW"]
    rows = [
        [
            r["worker_id"],
            r["worker_name"] or "-",
            r["state"],
            r["host"] or r["node"] or "-",
            str(r["pid"] or "-"),
            ago(r["last_seen"], now),
            str(r["tasks_done"]),
            str(r["tasks_failed"]),
            f"{r['retries']}/{r['max_retries']}",
        ]
        for r in records
    ]
    return output.table(rows, headers, width=output.terminal_width(wide=wide))


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
