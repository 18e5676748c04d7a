"""Side by side, in one run: labtasker beside the original labtasker and beside GNU parallel.

The original (labtasker 1.0.1, a server with an embedded database) lives in a
virtualenv of its own (``--original-venv``, made with ``--setup-original``);
its server listens on 127.0.0.1 only. Both sides run the same script,
``bench/versus_child.py``, which uses only the Python API the two share, so
each figure times the same calls on the same machine within a minute.

GNU parallel with ``--joblog`` is what a researcher uses instead of
``labtasker loop`` for a list of short commands; both run ``true`` per task.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.table import Row
from bench.workdir import BENCH_DIR, Project, Workdir

ORIGINAL = "labtasker==1.0.1"
DEFAULT_VENV = BENCH_DIR / ".original-venv"
CHILD = BENCH_DIR / "versus_child.py"


def setup_original(venv: Path) -> Path:
    """Make ``venv`` with the original installed (from PyPI); return its python."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", ORIGINAL], check=True)
    return python


def original_python(venv: Path | None) -> Path | None:
    """The original's python, if its venv exists (``None``: those figures are skipped)."""
    python = (venv or DEFAULT_VENV) / "bin" / "python"
    return python if python.exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def original_server(python: Path, folder: Path) -> Iterator[dict[str, str]]:
    """The original's server on 127.0.0.1 with a fresh database and queue; yields the client env."""
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    root = folder / ".labtasker"
    root.mkdir(exist_ok=True)
    (root / "client.toml").write_text(
        f'version_check = false\n[endpoint]\napi_base_url = "http://127.0.0.1:{port}"\n'
        '[queue]\nqueue_name = "bench"\npassword = "bench-password"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABTASKER_") and k != "PYTHONPATH"}
    env["LABTASKER_ROOT"] = str(root)
    bindir = python.parent
    server = subprocess.Popen(
        [str(bindir / "labtasker-server"), "serve", "--host", "127.0.0.1", "--port", str(port),
         "--db-path", str(folder / "db.json")],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port, server)
        subprocess.run(
            [str(bindir / "labtasker"), "queue", "create-from-config"],
            cwd=folder, env=env, check=True, capture_output=True,
        )  # fmt: skip
        yield env
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def _wait_for_port(port: int, server: subprocess.Popen[bytes], deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if server.poll() is not None:
            raise RuntimeError(f"the original's server exited with {server.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the original's server did not start within 60 s")


def child(python: Path | str, mode: str, n: int, folder: Path, env: dict[str, str]) -> dict[str, float]:
    """Run one mode of ``versus_child.py``; its JSON report."""
    done = subprocess.run(
        [str(python), str(CHILD), mode, str(n)], cwd=folder, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"versus_child {mode} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _cli_latency(argv: list[str], folder: Path, env: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        subprocess.run(argv, cwd=folder, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[len(times[1:]) // 2]


def _ratio(ours: float, theirs: float) -> str:
    return f"{theirs / ours:.1f}x faster" if ours <= theirs else f"{ours / theirs:.1f}x slower"


def original_rows(work: Workdir, python: Path, n: int, repeat: int) -> list[Row]:
    """Submit, first filtered listing, no-op loop and CLI submit: ours and the original's."""
    ours_project = work.project("versus-ours")
    ours_env = ours_project.env()
    theirs_folder = work.path / "versus-original"
    rows: list[Row] = []
    with original_server(python, theirs_folder) as theirs_env:
        sides = {
            "ours": (sys.executable, ours_project.folder, ours_env),
            "original": (python, theirs_folder, theirs_env),
        }
        figures: dict[str, dict[str, float]] = {}
        for side, (py, folder, env) in sides.items():
            got = figures.setdefault(side, {})
            got["submit"] = child(py, "submit", n, folder, env)["seconds"]
            listed = _first_listings(side, py, folder, env, n, work)
            got["ls"] = listed["seconds"]
            got["ls_warm"] = listed["warm_seconds"]
            got["loop"] = child(py, "loop", n, folder, env)["seconds"]
            cli = [str(Path(py).parent / "labtasker"), "task", "submit", "--", "--x=1"]
            got["cli_submit"] = _cli_latency(cli, folder, env, repeat)
    ours, theirs = figures["ours"], figures["original"]
    rows.append(_row("`submit_task`", n, ours["submit"] / n, theirs["submit"] / n, "ms/task"))
    rows.append(
        Row(
            "first filtered `ls_tasks` in a fresh process, right after the submits",
            n,
            f"{ours['ls'] * 1e3:.1f} ms",
            f"original {theirs['ls'] * 1e3:.1f} ms: {_ratio(ours['ls'], theirs['ls'])}; "
            f"warm {ours['ls_warm'] * 1e3:.1f} ms ({ours['ls'] / ours['ls_warm']:.1f}x); best of 3 each",
            ">= 5x faster than the original, <= 2x warm",
            theirs["ls"] / ours["ls"] >= 5 and ours["ls"] <= 2 * ours["ls_warm"],
            ours["ls"],
        )
    )
    rows.append(_row("no-op `@labtasker.loop()`", n, ours["loop"] / n, theirs["loop"] / n, "ms/task"))
    rows.append(
        _row(
            "`labtasker task submit` (process start to exit)",
            None,
            ours["cli_submit"],
            theirs["cli_submit"],
            "ms/call",
        )
    )
    return rows


def _first_listings(
    side: str, py: Path | str, folder: Path, env: dict[str, str], n: int, work: Workdir, rounds: int = 3
) -> dict[str, float]:
    """The fastest of ``rounds`` first listings in a fresh process, each right after ``n`` submits.

    Ours gets a new queue for each round (a listing leaves its cache behind);
    the original's server keeps no such state, so its rounds list the same tasks.
    """
    best: dict[str, float] | None = None
    for k in range(rounds):
        if k and side == "ours":
            project = work.project(f"versus-ours-ls{k}")
            folder, env = project.folder, project.env()
            child(py, "submit", n, folder, env)
        listed = child(py, "ls", n, folder, env)
        if listed["found"] != n:
            raise RuntimeError(f"{side}: the listing found {listed['found']} of {n} tasks")
        if best is None or listed["seconds"] < best["seconds"]:
            best = listed
    assert best is not None
    return best


def _row(figure: str, n: int | None, ours: float, theirs: float, unit: str) -> Row:
    return Row(
        figure,
        n,
        f"{ours * 1e3:.2f} {unit}",
        f"original {theirs * 1e3:.2f} {unit}: {_ratio(ours, theirs)}",
        "faster than the original",
        ours < theirs,
        ours,
    )


def parallel_rows(work: Workdir, cmd: list[str], n: int, rounds: int = 3) -> list[Row]:
    """`labtasker loop -- true '%(i)'` (with and without a pty) beside `parallel -j1 --joblog`.

    The three run in turn, ``rounds`` times, and each side keeps its fastest
    round: on a shared machine the load changes within seconds, and taking
    turns lets every side see the same moments.
    """
    parallel = shutil.which("parallel")
    if parallel is None:
        return [
            Row("`labtasker loop -- true` vs GNU parallel", n, "skipped", "GNU parallel is not installed")
        ]
    sides: dict[str, list[str] | None] = {"without a pty": ["--no-pty"], "with a pty": _pty_switches(cmd)}
    best: dict[str, float] = {}
    for r in range(rounds):
        scratch = work.path / f"parallel-{r}"
        scratch.mkdir()
        start = time.perf_counter()
        subprocess.run(
            [parallel, "-j1", "--joblog", str(scratch / "joblog"), "true", ":::", *map(str, range(n))],
            check=True, capture_output=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        best["parallel"] = min(best.get("parallel", float("inf")), (time.perf_counter() - start) / n)
        for label, switches in sides.items():
            if switches is None:
                continue
            project = work.project(f"loop-true-{label.split()[0]}-{r}")
            _fill_i(project, n)
            start = time.perf_counter()
            subprocess.run(
                [*cmd, "loop", *switches, "--", "true", "%(i)"],
                cwd=project.folder, env=project.env(), check=True, capture_output=True,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            best[label] = min(best.get(label, float("inf")), (time.perf_counter() - start) / n)
    theirs = best["parallel"]
    return [
        Row(
            f"`labtasker loop -- true '%(i)'`, {label}",
            n,
            f"{best[label] * 1e3:.1f} ms/task",
            f"GNU parallel -j1 --joblog {theirs * 1e3:.1f} ms/job: {best[label] / theirs:.1f}x its time "
            f"(best of {rounds} turns each)",
            "<= 2x GNU parallel",
            best[label] <= 2 * theirs,
            best[label],
        )
        for label in sides
        if label in best
    ]


def _pty_switches(cmd: list[str]) -> list[str] | None:
    """The switch that forces a pty, on versions that have one (else the default is measured)."""
    help_text = subprocess.run([*cmd, "loop", "--help"], capture_output=True, text=True).stdout
    return ["--use-pty"] if "--use-pty" in help_text else []


def _fill_i(project: Project, n: int) -> None:
    lines = "".join(json.dumps({"args": {"i": i}}) + "\n" for i in range(n))
    (project.folder / "i.jsonl").write_text(lines, encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "labtasker", "task", "submit", "--from-file", "i.jsonl", "-q"],
        cwd=project.folder, env=project.env(), check=True, capture_output=True,
    )  # fmt: skip
