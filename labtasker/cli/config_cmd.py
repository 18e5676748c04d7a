"""``labtasker config``: edit ``.labtasker/config.toml``, checked before it is saved."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from plumbum import cli

from labtasker import config
from labtasker.cli import output
from labtasker.cli.base import Command
from labtasker.errors import LabtaskerError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class Config(Command):
    """Edit .labtasker/config.toml in $EDITOR; an invalid config is never saved"""

    show = cli.Flag(["--show"], help="Print the config instead of editing it")
    path = cli.Flag(["--path"], help="Print the path of the config file")

    def main(self) -> int:
        root = config.find_root()
        if root is None or not (root / "config.toml").is_file():
            raise LabtaskerError(
                "no .labtasker/config.toml here or in a parent folder; create one with `labtasker init`"
            )
        file = root / "config.toml"
        if self.path:
            print(file)
            return 0
        text = file.read_text(encoding="utf-8")
        if self.show:
            sys.stdout.write(text)
            return 0
        from labtasker.cli import editor

        edited, _ = editor.edit_until_valid(text, lambda t: check(root, t), ".toml")
        if edited == text:
            output.info("no changes")
            return 0
        _replace(file, edited)
        output.info(f"saved {file}")
        return 0


def check(root: Path, text: str) -> config.Config:
    """The config a text describes; UsageError (ConfigError) saying what is wrong."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"invalid TOML: {exc}") from None
    return config.from_dict(root, raw)


def _replace(file: Path, text: str) -> None:
    """Write the file whole: a reader never sees half a config."""
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, file)
