"""``labtasker sync`` (git) and ``labtasker reconcile`` (after rsync, a USB stick, Syncthing)."""

from __future__ import annotations

from plumbum import cli

from labtasker import api, config
from labtasker.cli.base import Command
from labtasker.errors import ConfigError, QueueNotFound
from labtasker.fsqueue.store import FsQueue
from labtasker.replicas import reconcile


def existing_queue() -> FsQueue:
    """The queue in use; an error naming the fix if there is none yet."""
    queue = api.context().queue
    if not queue.exists():
        raise QueueNotFound(
            f"no queue at {queue.path}; create one with `labtasker init` or clone one with git"
        )
    return queue


class Sync(Command):
    """Exchange this queue with its git remote: commit (the queue only), fetch, merge, reconcile, push"""

    remote = cli.SwitchAttr(
        ["--remote"],
        str,
        argname="REMOTE",
        help="A remote name, URL or path (default: the branch's upstream, the only remote, or origin)",
    )
    branch = cli.SwitchAttr(
        ["--branch"],
        str,
        argname="BRANCH",
        help="The remote branch (default: the upstream branch, or this branch's name)",
    )
    no_push = cli.Flag(["--no-push"], help="Fetch and merge only (a read-only remote, or a git bundle)")
    quiet = cli.Flag(["-q", "--quiet"], help="Print nothing unless something fails")

    def main(self) -> int:
        from labtasker.replicas import git_sync as sync

        queue = existing_queue()
        if queue.node == "local" and not config.node_id_from_env():
            raise ConfigError(
                "this queue has no node id of its own: run `labtasker init` in the project "
                "(it writes .labtasker/node_id) or set LABTASKER_NODE_ID"
            )
        sync.sync(
            queue,
            remote=self.remote,
            branch=self.branch,
            push=not self.no_push,
            say=None if self.quiet else _say,
        )
        return 0


class Reconcile(Command):
    """Merge in files copied from other replicas (rsync, a USB stick, Syncthing); safe beside workers"""

    source = cli.SwitchAttr(
        ["--from"],
        str,
        argname="DIR",
        help="First bring in another replica's queue folder (a copy of it), as second "
        "copies no worker can pick up before they are merged",
    )
    quiet = cli.Flag(["-q", "--quiet"], help="Print nothing")

    def main(self) -> int:
        queue = existing_queue()
        imported = reconcile.import_from(queue, self.source) if self.source else 0
        report = reconcile.reconcile(queue)
        report.imported = imported
        if not self.quiet:
            print(report.describe() if report.changed or imported else "nothing to reconcile")
        return 0


def _say(line: str) -> None:
    print(line, flush=True)
