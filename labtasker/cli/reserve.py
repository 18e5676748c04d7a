"""``labtasker task reserve``: set pending tasks aside for one node (to run offline)."""

from __future__ import annotations

import sys

from plumbum import cli

from labtasker.cli.base import Command, argtype
from labtasker.cli.sync import existing_queue
from labtasker.errors import UsageError
from labtasker.fsqueue import clock, reservations


@argtype("int")
def positive(text: str) -> int:
    """A whole number >= 1."""
    value = int(text)
    if value < 1:
        raise ValueError("expected a number >= 1")
    return value


class Reserve(Command):
    """Set pending tasks aside for one node: it runs them first, even offline; others leave them"""

    node = cli.SwitchAttr(["--node"], str, argname="NAME", help="The node id (see .labtasker/node_id there)")
    extra_filter = cli.SwitchAttr(
        ["-f", "--extra-filter"],
        str,
        argname="EXPR",
        help="Only tasks matching a filter expression, e.g. 'args.lr > 0.01'",
    )
    limit = cli.SwitchAttr(
        ["--limit"], positive, argname="INT", help="At most this many tasks (default: all)"
    )
    release = cli.Flag(
        ["--release"], help="Give tasks reserved for --node (every node if none) back to all nodes"
    )
    quiet = cli.Flag(["-q", "--quiet"], help="Print only the task ids")

    def main(self) -> int:
        if self.node is None and not self.release:
            raise UsageError(
                "--node NAME is required: the node to set tasks aside for "
                "(its id is in .labtasker/node_id on that machine)"
            )
        from labtasker.filters import language as flt

        queue = existing_queue()
        accept = flt.compile(self.extra_filter, now=clock.now()) if self.extra_filter else None
        if self.release:
            ids = reservations.release(queue, self.node, accept=accept, limit=self.limit)
            what = f"released {len(ids)} task(s)" + (f" reserved for {self.node}" if self.node else "")
        else:
            ids = reservations.reserve(queue, self.node, accept=accept, limit=self.limit)
            what = f"reserved {len(ids)} task(s) for {self.node}"
        if self.quiet:
            for tid in ids:
                print(tid)
        else:
            print(what)
            if not ids:
                what = "" if self.release else " that is not reserved already"
                print(f"labtasker: no pending task matched{what}", file=sys.stderr)
        return 0
