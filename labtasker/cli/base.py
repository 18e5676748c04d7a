"""What every labtasker command shares: ``-v``, one-line usage errors, named argument types."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from plumbum import cli
from plumbum.cli.application import ShowCompletion, ShowHelp, ShowHelpAll, ShowVersion
from plumbum.cli.switches import SwitchError

from labtasker.cli import error_report as errors
from labtasker.errors import UsageError


class _PlainStyle:
    """plumbum's default usage colour (none), looked up when plumbum prints a usage line.

    plumbum sets ``COLOR_USAGE`` on every command it starts when the class leaves
    it unset, and looking the colour up loads colorlib (about 3 ms of start-up).
    """

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        from plumbum import colors

        return colors.do_nothing


class Command(cli.Application):
    """Base of every labtasker command."""

    COLOR_USAGE = _PlainStyle()
    SUBCOMMAND_HELPMSG = False
    ALLOW_ABBREV = False
    SWITCH_HINT = ""  # added to "unknown switch" errors, e.g. where a command's own args go

    def __init__(self, executable: str | None = None) -> None:
        super().__init__(executable)
        for func, info in list(self._switches_by_func.items()):
            if all(self._switches_by_name.get(n) is not info for n in info.names):
                del self._switches_by_func[func]  # fully overridden (plumbum's -v/--version)
        for name in ("completions",):  # plumbum's own completion: `labtasker completion SHELL` replaces it
            info = self._switches_by_name.pop(name, None)
            if info is not None:
                self._switches_by_func.pop(info.func, None)

    @cli.switch(
        ["-v", "--verbose"],
        overridable=True,
        group="Meta-switches",
        help="Show tracebacks of errors (also LABTASKER_DEBUG=1)",
    )
    def verbose(self) -> None:
        errors.set_debug(True)

    @cli.switch(["--version"], overridable=True, group="Meta-switches", help="Print the version and quit")
    def version(self) -> None:
        super().version()

    @cli.switch(["-h", "--help"], overridable=True, group="Meta-switches", help="Show this help")
    def help(self) -> None:
        from labtasker.cli import help_text

        sys.stdout.write(help_text.render(self))

    @classmethod
    def run(cls, argv: Any = None, exit: bool = True) -> Any:
        """plumbum's ``run`` without its broken-pipe handling, which exits 1: ``main()`` ends
        a command whose reader left (``| head``) quietly with 0."""
        argv = list(sys.argv if argv is None else argv)
        app = cls(argv.pop(0))
        ran, retcode = app._parse_and_dispatch(argv)
        if exit:
            sys.stdout.flush()
            sys.exit(retcode)
        return ran, retcode

    # plumbum reports bad switches on stdout with the whole help text; ours is
    # one line on stderr and exit code 2, like every other usage error.
    def _parse_args(self, argv: list[str]) -> Any:
        try:
            return super()._parse_args(argv)
        except SwitchError as exc:
            raise self.usage_error(str(exc)) from None

    def _validate_args(self, swfuncs: Any, tailargs: Sequence[str]) -> Any:
        try:
            return super()._validate_args(swfuncs, tailargs)
        except (ShowHelp, ShowHelpAll, ShowVersion, ShowCompletion):
            raise
        except SwitchError as exc:
            raise self.usage_error(str(exc)) from None

    @staticmethod
    def _handle_argument(val: str, argtype: Callable[[str], Any] | None, name: str) -> Any:
        if argtype is None:
            return NotImplemented
        try:
            return argtype(val)
        except (TypeError, ValueError) as exc:
            flag = f"-{name}" if len(name) == 1 else f"--{name}"
            raise UsageError(f"invalid value {val!r} for {flag}: {exc}") from None

    def usage_error(self, text: str) -> UsageError:
        """A usage error naming this command and pointing at its help."""
        text = " ".join(text.split())
        if text:
            text = text[0].lower() + text[1:]
        if self.SWITCH_HINT and text.startswith("unknown switch"):
            return UsageError(f"{text}; {self.SWITCH_HINT}")
        return UsageError(f"{text} (see `{self.PROGNAME} --help`)")


class Group(Command):
    """A command made of subcommands (``labtasker task ...``)."""

    def main(self, *args: str) -> int:
        if self.nested_command:
            return 0
        if args:
            names = ", ".join(sorted(n for n in self._subcommands if not n.startswith("_")))
            raise UsageError(f"unknown command {args[0]!r} for `{self.PROGNAME}` (choose from: {names})")
        self.help()
        return 0


_Parse = TypeVar("_Parse", bound=Callable[[str], Any])


def argtype(name: str) -> Callable[[_Parse], _Parse]:
    """Name a plumbum argtype as help shows it (``--limit INT:int``)."""

    def named(fn: _Parse) -> _Parse:
        fn.__name__ = name
        return fn

    return named


def read_ids_from_stdin() -> list[str]:
    """Task or worker ids piped on stdin, one per line (blank lines and ``#`` comments skipped)."""
    ids = []
    for line in sys.stdin:
        for word in line.split("#", 1)[0].split():
            ids.append(word)
    return ids


@argtype("float")
def positive_seconds(text: str) -> float:
    """A positive number of seconds."""
    value = float(text)
    if not value > 0:
        raise ValueError("expected a positive number of seconds")
    return value


def add_optional(parent: type[cli.Application], name: str, target: str) -> None:
    """Register ``target`` (``module.Class``) as a lazy subcommand: the same as ``parent.subcommand``."""
    parent.subcommand(name, target)
