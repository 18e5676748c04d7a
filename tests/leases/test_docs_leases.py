"""docs/leases.md runs as written: its config block is valid, its python and bash blocks run in order."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from labtasker import config
from labtasker.fsqueue import durations, lease
from tests.conftest import queue_env

PAGE = Path(__file__).resolve().parents[2] / "docs" / "leases.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(kind: str) -> list[str]:
    return [body for info, body in FENCE.findall(PAGE.read_text(encoding="utf-8")) if info == kind]


def test_the_config_block_is_valid(tmp_path: Path) -> None:
    (toml,) = blocks("toml")
    cfg = config.from_dict(tmp_path, __import__("tomllib").loads(toml))
    terms = lease.make_terms(
        cfg.setting("heartbeat_interval"),
        cfg.setting("heartbeat_timeout"),
        durations.parse(cfg.setting("eta_max")),
    )
    assert terms == lease.Terms(30, 90, 7200)


@pytest.mark.slow
def test_the_examples_run_as_written(project: Path) -> None:
    found = blocks("python")
    assert len(found) >= 3
    for i, code in enumerate(found):
        exec(compile(code, f"{PAGE.name}[python {i}]", "exec"), {"__name__": f"leases_doc_{i}"})
    env = {**queue_env(project), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for code in blocks("bash"):
        shell = subprocess.Popen(
            ["bash", "-e", "-c", code],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = shell.communicate(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGKILL)  # nothing it started outlives the test
        assert shell.returncode == 0, err
        assert "ran 1" in out
