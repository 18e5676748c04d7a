"""docs/results.md runs as written: each `$ ` command's output is the one shown; its Python block runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import labtasker_bin
from tests.results.conftest import ROOT, SAMPLE

PAGE = ROOT / "docs" / "results.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
ANY_ORDER = "  # any order"


def blocks(kind: str) -> list[str]:
    return [body for info, body in FENCE.findall(PAGE.read_text(encoding="utf-8")) if info == kind]


def examples() -> list[tuple[str, list[str]]]:
    """(command, the lines shown after it) for every `$ ` line of every console block."""
    found: list[tuple[str, list[str]]] = []
    for body in blocks("console"):
        for line in body.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            else:
                found[-1][1].append(line)
    return found


def normal(lines: list[str]) -> list[str]:
    """Lines whose order and GPU numbers may vary, made comparable."""
    return sorted(re.sub(r"(?i)\bgpu \d+", "gpu N", line) for line in lines)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(SAMPLE, work / "sample_queue")
    monkeypatch.chdir(work)
    return work


def test_every_command_prints_what_the_page_shows(folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    cases = examples()
    assert len(cases) >= 9
    env = {"PATH": f"{labtasker_bin(tmp_path)}:/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(tmp_path)}
    import os

    env.update({k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "VIRTUAL_ENV")})
    for command, shown in cases:
        done = subprocess.run(
            ["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (command, done.stderr)
        got = done.stdout.splitlines()
        if command.endswith(ANY_ORDER):
            assert normal(got) == normal(shown), command
        else:
            assert got == shown, command
    png = (folder / "acc.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[16:24] == (800).to_bytes(4, "big") + (500).to_bytes(
        4, "big"
    )


def test_the_picture_on_the_page_exists() -> None:
    assert "](img/results-acc.png)" in PAGE.read_text(encoding="utf-8")
    assert (ROOT / "docs" / "img" / "results-acc.png").read_bytes()[:4] == b"\x89PNG"


def test_python_block_runs(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = blocks("python")
    namespace: dict[str, Any] = {"__name__": "docs_results"}
    exec(compile(code, str(PAGE), "exec"), namespace)
    assert (
        capsys.readouterr().out.splitlines()[2]
        == "|  0.01 | resnet18 |   2 | 0.9163 ± 0.0042 | 0.1267 ± 0 |  5 ± 0 |"
    )
