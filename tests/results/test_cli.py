"""`labtasker results`: exact tables, formats that round-trip, plots that render, files of the right size."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import labtasker
from tests.cli.conftest import Lt
from tests.results.conftest import SAMPLE, accuracy

GRID = ("-f", 'task_name == "grid_search"')


def test_sample_queue_table_best_first(lt: Lt) -> None:
    ran = lt("results", str(SAMPLE), *GRID, "--sort", "acc:desc", "--best", "4", "-m", "acc,loss")
    assert ran.code == 0, ran.err
    assert ran.lines == [
        "lr     model     seed  acc     loss    task_id",
        "0.01   resnet18  0     0.9193  0.1267  019593e1-be80-7004-a8a0-0f47d057e020",
        "0.001  resnet18  0     0.9161  0.1168  019593e1-be80-7001-9459-9d971e250c70",
        "0.01   resnet18  1     0.9133  0.1267  019593e1-be80-7005-a7df-f3885ba68dd7",
        "0.001  resnet18  1     0.9101  0.1168  019593e1-be80-7002-bb75-5b3586b3bc35",
    ]


def test_sample_queue_over_seed_markdown(lt: Lt) -> None:
    ran = lt(
        "results",
        str(SAMPLE),
        *GRID,
        "--over",
        "seed",
        "--sort",
        "acc:desc",
        "-m",
        "acc",
        "--fmt",
        "markdown",
    )
    assert ran.out == (
        "|    lr | model    |   n |             acc |\n"
        "|------:|----------|----:|----------------:|\n"
        "|  0.01 | resnet18 |   2 | 0.9163 ± 0.0042 |\n"
        "| 0.001 | resnet18 |   2 | 0.9131 ± 0.0042 |\n"
        "|  0.01 | vit_s    |   2 | 0.8955 ± 0.0042 |\n"
        "| 0.001 | vit_s    |   2 | 0.8935 ± 0.0042 |\n"
        "|   0.1 | resnet18 |   3 |  0.7853 ± 0.006 |\n"
    )


def test_failed_tasks_with_s(lt: Lt) -> None:
    ran = lt("results", str(SAMPLE), "-s", "failed", "--fmt", "jsonl")
    assert ran.code == 0, ran.err
    assert len(ran.lines) == 4
    both = lt("results", str(SAMPLE), "-s", "success,failed", "--fmt", "jsonl")
    assert len(both.lines) == 15 + 4


@pytest.mark.usefixtures("sweep")
def test_sweep_over_seed_mean_and_std(lt: Lt) -> None:
    ran = lt("results", "--over", "seed", "--sort", "acc:desc", "--fmt", "json")
    rows = json.loads(ran.out)
    assert [(r["lr"], r["model"], r["n"]) for r in rows] == [
        (0.01, "cnn", 3), (0.01, "mlp", 3), (0.001, "cnn", 3), (0.001, "mlp", 3), (0.1, "cnn", 3), (0.1, "mlp", 3),
    ]  # fmt: skip
    for r in rows:
        assert r["acc_mean"] == pytest.approx(accuracy(r["lr"], r["model"], 1))
        assert r["acc_std"] == pytest.approx(0.01)
        assert r["loss_mean"] == pytest.approx(1 - r["acc_mean"])
        assert len(r["task_ids"]) == 3


@pytest.mark.usefixtures("sweep")
def test_csv_and_json_round_trip(lt: Lt) -> None:
    as_json = json.loads(lt("results", "--fmt", "json").out)
    as_jsonl = [json.loads(line) for line in lt("results", "--fmt", "jsonl").lines]
    as_csv = list(csv.DictReader(io.StringIO(lt("results", "--fmt", "csv").out)))
    assert len(as_json) == 18 and as_json == as_jsonl
    assert list(as_csv[0]) == ["lr", "model", "seed", "acc", "loss", "task_id"]
    typed = [
        {**r, "lr": float(r["lr"]), "seed": int(r["seed"]), "acc": float(r["acc"]), "loss": float(r["loss"])}
        for r in as_csv
    ]
    assert typed == as_json
    best = json.loads(lt("results", "--sort", "acc:desc", "--best", "1", "--fmt", "json").out)
    assert best == [max(as_json, key=lambda r: r["acc"])]


@pytest.mark.usefixtures("sweep")
def test_terminal_plot_has_axes_title_and_series(lt: Lt) -> None:
    ran = lt("results", "--over", "seed", "--plot", "--x", "lr", "--y", "acc", "--by", "model")
    assert ran.code == 0, ran.err
    text = ran.out
    assert "acc by lr for each model" in text
    assert "model=cnn" in text and "model=mlp" in text
    assert "┌" in text and "└" in text and "┤" in text  # the frame and y ticks
    assert text.splitlines()[-2].split() == ["0.001", "0.01", "0.1"]  # a tick per lr, evenly: log x
    assert text.splitlines()[-1].split() == ["acc", "lr", "(log)"]  # the axis labels
    assert "┼" in text  # error bars drawn with --over


@pytest.mark.usefixtures("sweep")
def test_plot_of_a_categorical_arg_without_over(lt: Lt) -> None:
    ran = lt("results", "-f", "args.lr == 0.01", "--plot", "--x", "model", "--y", "loss")
    assert ran.code == 0, ran.err
    assert "loss by model" in ran.out and "cnn" in ran.out and "mlp" in ran.out


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.usefixtures("sweep")
@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_plot_file(lt: Lt, tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / f"acc.{suffix}"
    ran = lt("results", "--over", "seed", "--plot-file", str(out), "--fmt", "csv")
    assert ran.code == 0, ran.err
    assert f"wrote {out}" in ran.err
    assert ran.out.startswith("lr,model,n,acc_mean")  # the table is still printed
    if suffix == "png":
        assert png_size(out) == (800, 500)
    else:
        head = out.read_text()[:2000]
        assert 'width="576pt" height="360pt"' in head
        body = out.read_text()
        assert "model=cnn" in body and "acc by lr for each model" in body


@pytest.mark.usefixtures("sweep")
def test_plot_file_without_matplotlib_is_a_one_line_hint(
    lt: Lt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    ran = lt("results", "--plot-file", str(tmp_path / "a.png"))
    assert ran.code == 1
    assert ran.err == "labtasker: error: --plot-file needs matplotlib: pip install 'labtasker[plot]'\n"
    assert ran.out == "" and not (tmp_path / "a.png").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-m", "f1"], "no task in the selection has a metric 'f1'"),
        (["--plot", "--x", "depth"], "--x depth: not an arg that varies in the table"),
        (["--plot-file", "a.pdf"], "--plot-file a.pdf: write a .png or an .svg file"),
        (["--fmt", "xml"], "--fmt"),
        (["-f", "args.lr >"], "args.lr >"),
        (["-s", "finished"], "finished"),
        (["--best", "0"], "--best"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(lt: Lt, argv: list[str], message: str) -> None:
    ran = lt("results", str(SAMPLE), *argv)
    assert ran.code == 2, ran.err
    assert message in ran.err and "Traceback" not in ran.err
    assert ran.out == ""


def test_not_a_queue_folder(lt: Lt, tmp_path: Path) -> None:
    ran = lt("results", str(tmp_path))
    assert ran.code == 2 and "is not a queue (it has no queue.yaml)" in ran.err


@pytest.mark.usefixtures("project")
def test_nothing_finished_yet(lt: Lt) -> None:
    ran = lt("results")
    assert (ran.code, ran.out) == (0, "")
    assert "no task in success matches" in ran.err
    assert lt("results", "--fmt", "json").out == "[]\n"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody")
def test_read_only_copy() -> None:
    """A copy another user owns, that we may not write: read as it is, nothing written or moved."""
    top = Path(tempfile.mkdtemp(prefix="labtasker-ro-"))
    sample = Path(shutil.copytree(SAMPLE, top / "sample_queue"))
    # the code too, in case the checkout is in a folder only root may enter
    shutil.copytree(Path(labtasker.__file__).parent, top / "src" / "labtasker")
    subprocess.run(["chmod", "-R", "a-w,a+rX", str(top)], check=True)
    before = sorted(str(p.relative_to(sample)) for p in sample.rglob("*"))
    env = {**os.environ, "PYTHONPATH": str(top / "src"), "HOME": "/tmp"}
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    if subprocess.run(
        [*nobody, "-c", "import labtasker.cli.main"], env=env, cwd="/tmp", check=False
    ).returncode:
        pytest.skip("this Python cannot be run by another user")
    proc = subprocess.run(
        [*nobody, "-m", "labtasker", "results", str(sample), "--over", "seed", "-f", 'task_name == "grid_search"', "--fmt", "csv"],
        capture_output=True, text=True, env=env, cwd="/tmp", timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("lr,model,n,acc_mean,acc_std")
    assert len(proc.stdout.splitlines()) == 1 + 5
    assert sorted(str(p.relative_to(sample)) for p in sample.rglob("*")) == before
    subprocess.run(["chmod", "-R", "u+w", str(top)], check=True)
    shutil.rmtree(top)


def test_a_sort_by_a_misspelt_metric_names_the_metrics(tmp_path: Path) -> None:
    """`--sort accuracy:desc` (the metric is acc) says which metrics and args there are, not the task fields."""
    ran = subprocess.run(
        [sys.executable, "-m", "labtasker", "results", str(SAMPLE), "-f", 'task_name == "grid_search"', "--sort", "accuracy:desc"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 2 and ran.stdout == ""
    assert ran.stderr == (
        "labtasker: error: --sort accuracy: not a metric or an arg of the table "
        "(metrics: acc, loss, epochs; args: lr, model, seed)\n"
    )
