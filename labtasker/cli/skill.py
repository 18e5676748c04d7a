"""``labtasker skill``: show or install labtasker's skill for coding assistants."""

from __future__ import annotations

from pathlib import Path

from plumbum import cli

from labtasker.cli.base import Command, Group


class SkillGroup(Group):
    """Show or install labtasker's SKILL.md for coding assistants (Claude Code and the like)"""

    DESCRIPTION_MORE = """
    The skill teaches an assistant to turn an experiment's for-loop into tasks.
    """


@SkillGroup.subcommand("show")
class Show(Command):
    """Print the skill (SKILL.md) to standard output"""

    def main(self) -> int:
        from labtasker import skill

        print(skill.text(), end="")
        return 0


@SkillGroup.subcommand("install")
class Install(Command):
    """Write the skill to ~/.claude/skills/labtasker/SKILL.md (or --path DIR) and say where"""

    DESCRIPTION_MORE = """
    A different SKILL.md already there is left alone unless --force.
    """

    path = cli.SwitchAttr(
        ["--path"],
        str,
        argname="DIR",
        help="The folder to write SKILL.md into (default ~/.claude/skills/labtasker)",
    )
    force = cli.Flag(["--force"], help="Replace a different SKILL.md that is already there")

    def main(self) -> int:
        from labtasker import skill

        directory = Path(self.path).expanduser() if self.path else skill.default_dir()
        done = skill.install(directory, force=self.force)
        if done.unchanged:
            print(f"{done.path} is already this version's skill")
        else:
            print(f"installed the labtasker skill at {done.path}")
        return 0
