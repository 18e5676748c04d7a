"""labtasker's own skill for coding assistants: ``SKILL.md``, shipped as package data."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from labtasker.errors import LabtaskerError

SKILL_NAME = "labtasker"


def text() -> str:
    """The skill's text, as shipped with this version."""
    return resources.files(__name__).joinpath("SKILL.md").read_text(encoding="utf-8")


def default_dir(home: Path | None = None) -> Path:
    """Where coding assistants look for it: ``~/.claude/skills/labtasker``."""
    return (home or Path.home()) / ".claude" / "skills" / SKILL_NAME


@dataclass(frozen=True)
class Installed:
    """What ``install`` did: the file, and whether it was already this text."""

    path: Path
    unchanged: bool


class SkillExists(LabtaskerError, FileExistsError):
    """A different SKILL.md is already where the skill would go."""


def install(directory: Path, *, force: bool = False) -> Installed:
    """Write SKILL.md into ``directory``; refuse to replace a different file unless ``force``."""
    target = directory / "SKILL.md"
    body = text()
    if target.is_file():
        if target.read_text(encoding="utf-8", errors="replace") == body:
            return Installed(target, unchanged=True)
        if not force:
            raise SkillExists(
                f"{target} exists and differs from this version's skill; use --force to replace it"
            )
    directory.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(".SKILL.md.tmp")
    partial.write_text(body, encoding="utf-8")
    partial.replace(target)  # never a half-written skill
    return Installed(target, unchanged=False)
