"""docs/cli.md runs as written: its `console` blocks, in order, in one fresh folder, by bash."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
_EXIT = re.compile(r"\s+# exit (\d+)$")


def commands(text: str) -> list[tuple[str, int]]:
    """(command, expected exit code) for each `$ ` line of each console block, with continuations."""
    found: list[tuple[str, int]] = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                i += 1  # shown output: not checked
                continue
            command = [lines[i][2:]]
            heredoc = re.search(r"<<'?(\w+)'?", lines[i])
            while command[-1].endswith("\\") or heredoc:
                i += 1
                command.append(lines[i])
                if heredoc and lines[i] == heredoc.group(1):
                    heredoc = None
            i += 1
            text_ = "\n".join(command)
            match = _EXIT.search(command[0]) if len(command) == 1 else None
            found.append((_EXIT.sub("", text_) if match else text_, int(match.group(1)) if match else 0))
    return found


def script(cmds: list[tuple[str, int]]) -> str:
    out = ["set -e"]
    for n, (command, code) in enumerate(cmds):
        out.append(f"echo {shlex.quote(f'### {n}: {command.splitlines()[0]}')} >&2")
        out.append(f"set +e\n{command}\nrc=$?\nset -e")
        out.append(f'if [ "$rc" -ne {code} ]; then echo "### exit code $rc, expected {code}" >&2; exit 1; fi')
    return "\n".join(out) + "\n"


def test_the_convention_is_parsed() -> None:
    sample = "```console\n$ a \\\n  b\nout\n$ cat > f <<'EOF'\nx\nEOF\n$ false  # exit 1\n```\n"
    assert commands(sample) == [("a \\\n  b", 0), ("cat > f <<'EOF'\nx\nEOF", 0), ("false", 1)]


def test_cli_page_runs_as_written(
    shell: Callable[..., object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cmds = commands(DOC.read_text(encoding="utf-8"))
    assert len(cmds) >= 40
    folder = tmp_path / "exp"
    folder.mkdir()
    monkeypatch.chdir(folder)
    shell(script(cmds), env={"NO_COLOR": "1", "EDITOR": "true"}, timeout=300)  # ~70 commands, each a start-up
