"""Running the command line in process (fast) or in a real shell (for pipes)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from labtasker.cli import error_report as errors
from labtasker.cli.main import main


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


Lt = Callable[..., Ran]


@pytest.fixture
def lt(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Lt:
    """``lt("task", "ls", "-q", stdin="...")`` runs ``labtasker task ls -q`` in this process."""
    capsys.readouterr()

    def run(*argv: str, stdin: str = "") -> Ran:
        errors.set_debug(False)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(["labtasker", *argv])
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def labtasker_bin(tmp_path: Path) -> Path:
    """A folder with the installed ``labtasker`` (or, uninstalled, a stand-in running this checkout)."""
    installed = Path(sys.executable).parent / "labtasker"
    if installed.exists():
        return installed.parent
    shim_dir = tmp_path / "bin"
    shim_dir.mkdir(exist_ok=True)
    shim = shim_dir / "labtasker"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m labtasker "$@"\n')
    shim.chmod(0o755)
    return shim_dir


@pytest.fixture
def shell(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``shell(script)`` runs a bash script in the cwd with ``labtasker`` on PATH."""
    bindir = labtasker_bin(tmp_path)
    bash = shutil.which("bash") or "/bin/sh"

    def run(
        script: str, *, check: bool = True, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        full_env["PATH"] = (
            f"{bindir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{full_env.get('PATH', '')}"
        )
        proc = subprocess.run(
            [bash, "-c", script],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"script failed ({proc.returncode}):\n{script}\n--- stdout\n{proc.stdout}"
                f"\n--- stderr\n{proc.stderr}"
            )
        return proc

    return run
