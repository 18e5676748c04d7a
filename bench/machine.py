"""What the figures were measured on: CPU, cores, filesystem, Python, libyaml."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from labtasker.fsqueue import yaml_io


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def filesystem(path: Path) -> str:
    """Type and device of the mount holding ``path`` (from /proc/mounts), or 'unknown'."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text(encoding="utf-8").splitlines()]
    except OSError:
        return "unknown"
    real = str(path.resolve())
    best = max(
        (m for m in mounts if len(m) > 3 and (real + "/").startswith(m[1].rstrip("/") + "/")),
        key=lambda m: len(m[1]),
        default=None,
    )
    return f"{best[2]} ({best[0]} on {best[1]}, {best[3].split(',')[0]})" if best else "unknown"


def git_commit(repo: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def describe(work: Path, repo: Path) -> dict[str, str]:
    """The machine, as a dict of short strings."""
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "filesystem": filesystem(work),
        "python": platform.python_version(),
        "yaml": f"libyaml ({yaml_io._Loader.__name__})" if "C" in yaml_io._Loader.__name__ else "pure Python",
        "labtasker": git_commit(repo),
    }


def render(info: dict[str, str]) -> str:
    return "\n".join(f"- {k}: {v}" for k, v in info.items())
