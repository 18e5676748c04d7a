"""``labtasker fsck``: check the queue, and with ``--repair`` fix what it finds."""

from __future__ import annotations

from plumbum import cli

from labtasker.cli.base import Command, argtype
from labtasker.cli.sync import existing_queue


@argtype("seconds")
def seconds(text: str) -> float:
    """A number of seconds >= 0."""
    value = float(text)
    if not value >= 0:
        raise ValueError("expected a number of seconds >= 0")
    return value


class Fsck(Command):
    """Check the queue for problems (exit code 0 only when clean); --repair fixes them"""

    repair = cli.Flag(
        ["--repair"], help="Fix what is found (unreadable files go to quarantine/, never deleted)"
    )
    grace = cli.SwitchAttr(
        ["--grace"],
        seconds,
        default=600.0,
        argname="SECONDS",
        help="How long past its timeout a lease must be to count as expired",
    )
    all_nodes = cli.Flag(
        ["--all-nodes"], help="With --repair, also take back expired runs claimed by other nodes"
    )
    quiet = cli.Flag(["-q", "--quiet"], help="Print nothing: the exit code tells")

    def main(self) -> int:
        from labtasker.replicas.fsck import fsck

        queue = existing_queue()
        report = fsck(queue, repair=self.repair, grace=self.grace, all_nodes=self.all_nodes)
        if not self.quiet:
            fixed = set(report.fixed)
            for finding in report.found:
                mark = "fixed  " if finding in fixed else ""
                print(f"{mark}{finding.kind:<20} {finding.path}  {finding.detail}")
            for finding in report.left:
                if finding not in report.found:
                    print(f"{finding.kind:<20} {finding.path}  {finding.detail}")
            print(_summary(report, self.repair))
        return 0 if report.clean else 1


def _summary(report: object, repair: bool) -> str:
    found, fixed, left = (len(getattr(report, k)) for k in ("found", "fixed", "left"))
    quarantined = getattr(report, "quarantined", 0)
    note = f"; {quarantined} file(s) in quarantine/ to look at" if quarantined else ""
    if not found and not left:
        return f"clean{note}"
    if repair:
        return f"{found} problem(s) found, {fixed} fixed, {left} left{note}"
    return f"{found} problem(s) found; `labtasker fsck --repair` fixes them{note}"
