"""``labtasker queue``: create, inspect, rename and delete queue directories."""

from __future__ import annotations

import sys

from plumbum import cli

from labtasker import api
from labtasker.api_models import Queue
from labtasker.cli import listing, output
from labtasker.cli.args import parse_dict
from labtasker.cli.base import Command, Group
from labtasker.errors import LabtaskerError, QueueExists, UsageError
from labtasker.fsqueue.layout import TaskStatus


class QueueGroup(Group):
    """Create, inspect and delete queues (a queue is a directory)"""


@QueueGroup.subcommand("create")
class Create(Command):
    """Create a queue (by default the one named in .labtasker/config.toml)"""

    metadata = cli.SwitchAttr(["--metadata"], str, argname="JSON", help="Metadata of the queue (JSON object)")
    name_option = cli.SwitchAttr(
        ["--queue-name"], str, argname="NAME", help="The queue's name (or give it as the argument)"
    )
    password = cli.SwitchAttr(
        ["--password"], str, argname="PASSWORD", help="Accepted and ignored: a queue folder has no password"
    )
    quiet = cli.Flag(["-q", "--quiet"], help="Print only the queue's path")

    def main(self, *name: str) -> int:
        given = _one_name(name)
        if given is not None and self.name_option is not None and given != self.name_option:
            raise UsageError("give the queue name once: as the argument or with --queue-name")
        queue_name = given if given is not None else self.name_option  # an empty name is refused later
        if self.password is not None:
            output.info("a queue folder has no password (its file permissions guard it); --password ignored")
        queue = api.context(queue_name=queue_name).queue
        if queue.exists():
            raise QueueExists(f"queue already exists at {queue.path}")
        metadata = parse_dict(self.metadata, "--metadata") if self.metadata else None
        created = api.create_queue(queue_name, metadata=metadata)
        print(created.path if self.quiet else f"created queue '{created.queue_name}' at {created.path}")
        return 0


@QueueGroup.subcommand("create-from-config")
class CreateFromConfig(Command):
    """Create the queue named in .labtasker/config.toml; nothing to do if it exists"""

    def main(self) -> int:
        queue = api.context().queue
        if queue.exists():
            print(f"queue '{queue.info().get('queue_name')}' already exists at {queue.path}; nothing to do")
            return 0
        created = api.create_queue()
        print(f"created queue '{created.queue_name}' at {created.path}")
        return 0


@QueueGroup.subcommand("get")
class Get(Command):
    """Show the queue: name, path, creation time, metadata and task counts"""

    fmt = cli.SwitchAttr(
        ["--fmt"], cli.Set("yaml", "jsonl"), default="yaml", argname="FORMAT", help="yaml or jsonl"
    )

    def main(self, *name: str) -> int:
        queue_name = _one_name(name)
        record = api.get_queue(queue_name).to_dict()
        lines = output.jsonl([record]) if self.fmt == "jsonl" else _yaml(record)
        output.emit(lines, pager=False)
        return 0


def _yaml(record: dict[str, object]) -> list[str]:
    import yaml

    return [yaml.safe_dump(output.plain(record), sort_keys=False, allow_unicode=True).rstrip("\n")]


@QueueGroup.subcommand("update")
class Update(Command):
    """Rename the queue or change its metadata"""

    new_name = cli.SwitchAttr(
        ["--new-name", "--new-queue-name"], str, argname="NAME", help="A new name for the queue"
    )
    new_password = cli.SwitchAttr(
        ["--new-password"],
        str,
        argname="PASSWORD",
        help="Accepted and ignored: a queue folder has no password",
    )
    metadata = cli.SwitchAttr(["--metadata"], str, argname="JSON", help="Metadata keys to set (JSON object)")

    def main(self) -> int:
        if self.new_password is not None:
            output.info(
                "a queue folder has no password (its file permissions guard it); --new-password ignored"
            )
        if self.new_name is None and not self.metadata:  # as the original: nothing asked, nothing done
            if self.new_password is None:
                output.info("nothing to update (give --new-name or --metadata)")
            return 0
        metadata = parse_dict(self.metadata, "--metadata") if self.metadata else None
        queue = api.update_queue(new_queue_name=self.new_name, metadata_update=metadata)
        print(f"updated queue '{queue.queue_name}' at {queue.path}")
        return 0


@QueueGroup.subcommand("delete")
class Delete(Command):
    """Delete a queue directory and every task in it"""

    yes = cli.Flag(["-y", "--yes"], help="Do not ask for confirmation")

    def main(self, *name: str) -> int:
        queue_name = _one_name(name)
        queue = api.get_queue(queue_name)
        if not self.yes:
            if not output.can_prompt():
                raise UsageError("refusing to delete the queue without confirmation: add -y (--yes)")
            total = sum(queue.counts.values())
            if not output.confirm(
                f"Delete queue '{queue.queue_name}' at {queue.path} and its {total} tasks?"
            ):
                raise LabtaskerError("cancelled; nothing was deleted")
        api.delete_queue(queue_name)
        print(f"deleted queue '{queue.queue_name}' at {queue.path}")
        return 0


@QueueGroup.subcommand("ls")
class Ls(Command):
    """List the queues of this project, with task counts"""

    wide = listing.wide_switch()
    fmt = listing.fmt_switch()

    def main(self) -> int:
        queues = api.ls_queues()
        if self.fmt == "table":
            lines = _table(queues, self.wide) if queues else []
        else:
            lines = list(listing.lines(self.fmt, [q.to_dict() for q in queues]))
        output.emit(lines, pager=False)
        return 0


def _table(queues: list[Queue], wide: bool = False) -> list[str]:
    statuses = [s.value for s in TaskStatus]
    headers = ["NAME", *(s.upper() for s in statuses), "PATH"]
    rows = [[q.queue_name, *(str(q.counts.get(s, 0)) for s in statuses), q.path] for q in queues]
    return list(output.table(rows, headers, width=output.terminal_width(wide=wide)))


@QueueGroup.subcommand("path")
class PathCmd(Command):
    """Print the queue's directory, e.g. `ls $(labtasker queue path)/pending`"""

    def main(self, *name: str) -> int:
        queue_name = _one_name(name)
        sys.stdout.write(f"{api.context(queue_name=queue_name).queue.path}\n")
        return 0


def _one_name(given: tuple[str, ...]) -> str | None:
    """The queue name argument, if given (an explicit empty name is checked, and refused, later)."""
    if len(given) > 1:
        raise UsageError(f"one queue name at most, not {len(given)}: {' '.join(given)}")
    return given[0] if given else None
