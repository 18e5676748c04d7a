"""Every CLI line of the usage document, run as written by bash with the installed `labtasker`.

The lines are copied from spec/labtasker-usage.md (only `<task_id>` is filled
in). State is prepared and checked through the Python API between scripts;
each script is one bash process, so a whole section costs one shell start.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import labtasker
from labtasker import api
from labtasker.errors import TaskNotFound
from labtasker.fsqueue import clock
from tests.cli.conftest import labtasker_bin

Shell = Callable[..., subprocess.CompletedProcess[str]]

# A stand-in for the user's training script: records what it got and reports a metric.
TRAIN_PY = """\
import json, os, sys
import labtasker
argv = sys.argv[1:]
opts = dict(zip(argv[0::2], argv[1::2]))
task = labtasker.task_info()
lr = float(opts.get("--lr", 0))
labtasker.report_task_status(task_id=task.task_id, status="running", summary={"acc": round(1 - lr, 4)})
with open(os.environ["RUNS"], "a") as f:
    f.write(json.dumps({"task_id": task.task_id, "opts": opts, "gpu": os.environ.get("CUDA_VISIBLE_DEVICES")}) + "\\n")
"""


def runs(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ids_of_table(text: str) -> list[str]:
    """Task ids in the first column of `labtasker task ls` table output."""
    lines = text.splitlines()
    assert not lines or lines[0].startswith("TASK_ID")
    return [line.split()[0] for line in lines[1:]]


def test_setup_and_submitting(shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "exp"
    folder.mkdir()
    monkeypatch.chdir(folder)
    # The server line starts the monitor (another module); nothing below depends on it.
    shell("""
set -euo pipefail
labtasker-server serve >server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
labtasker init # interactive config — creates .labtasker/config.toml
labtasker queue create-from-config
# Basic
labtasker task submit -- --lr=0.001 --model=resnet
# With name, metadata, priority, max-retries
labtasker task submit \\
--name grid_search \\
--metadata '{"tags": ["v1", "experimental"], "note": "baseline run"}' \\
--priority 10 \\
--max-retries 5 \\
-- --lr=0.001 --model=resnet
# Batch submit in a loop
for lr in 0.001 0.01 0.1; do
for model in resnet vit; do
labtasker task submit \\
--name grid_search \\
--metadata '{"tags": ["v1"]}' \\
-- --lr=$lr --model=$model
done
done
# Alternative: pass args as JSON dict string
labtasker task submit --args '{"arg1": 0, "arg2": 3}'
# Nested args via dot-notation — --foo.bar=1 becomes args["foo"]["bar"] = 1
labtasker task submit -- --optimizer.lr=0.01 --optimizer.momentum=0.9
labtasker task submit -- --value=-1 --label="" --desc="hello world"
""")
    assert (folder / ".labtasker" / "config.toml").is_file()
    tasks = api.ls_tasks(limit=1000).content
    assert len(tasks) == 11
    first = tasks[0]  # claim order: the priority 10 task
    assert (first.task_name, first.priority, first.max_retries) == ("grid_search", 10, 5)
    assert first.metadata == {"tags": ["v1", "experimental"], "note": "baseline run"}
    grid = [t for t in tasks if t.metadata == {"tags": ["v1"]}]
    assert sorted((t.args["lr"], t.args["model"]) for t in grid) == sorted(
        (lr, m) for lr in (0.001, 0.01, 0.1) for m in ("resnet", "vit")
    )
    all_args = [t.args for t in tasks]
    assert {"arg1": 0, "arg2": 3} in all_args
    assert {"optimizer": {"lr": 0.01, "momentum": 0.9}} in all_args
    assert {"value": -1, "label": "", "desc": "hello world"} in all_args
    assert all(t.max_retries == 3 and t.priority == 0 for t in tasks[1:])


def test_running_tasks(shell: Shell, project: Path, tmp_path: Path) -> None:
    (project / "train.py").write_text(TRAIN_PY)
    record = tmp_path / "runs.jsonl"
    env = {"RUNS": str(record)}

    def submit(**args: Any) -> str:
        tags = args.pop("tags", [])
        return labtasker.submit_task(args=args, metadata={"tags": tags}).task_id

    basic = [submit(lr=0.1, model="resnet"), submit(lr=0.01, model="vit", tags=["v1"])]
    shell(
        """
# Basic — %(key) interpolates TOP-LEVEL task args at runtime
labtasker loop -- python train.py --lr '%(lr)' --model '%(model)'
""",
        env=env,
    )
    assert [(r["task_id"], r["opts"]) for r in runs(record)] == [
        (basic[0], {"--lr": "0.1", "--model": "resnet"}),
        (basic[1], {"--lr": "0.01", "--model": "vit"}),
    ]
    assert [labtasker.get_task(i).summary["acc"] for i in basic] == [0.9, 0.99]

    v1, v2 = submit(lr=0.2, model="vit", tags=["v1"]), submit(lr=0.3, model="vit", tags=["v2"])
    only_lr = submit(lr=0.5)
    shell(
        """
# With metadata filter (only run tasks tagged "v1")
labtasker loop \\
--extra-filter '"v1" in list(metadata.tags)' \\
-- python train.py --lr '%(lr)' --model '%(model)'
# Env vars MUST go outside the loop command
CUDA_VISIBLE_DEVICES=0 labtasker loop -- python train.py --lr '%(lr)'
""",
        env=env,
    )
    done = {r["task_id"]: r for r in runs(record)}
    assert v1 in done and v2 not in done  # the filter; and {lr, model} never fits '%(lr)' alone
    assert done[only_lr]["opts"] == {"--lr": "0.5"} and done[only_lr]["gpu"] == "0"
    assert labtasker.get_task(v2).status == "pending"
    labtasker.delete_task(v2)

    sweep = [submit(lr=i / 100, model=m) for i in range(1, 5) for m in ("resnet", "vit")]
    shell(
        """
# Multiple parallel GPU workers — run the same command in the background per GPU
CUDA_VISIBLE_DEVICES=0 labtasker loop -- python train.py --lr '%(lr)' --model '%(model)' &
CUDA_VISIBLE_DEVICES=1 labtasker loop -- python train.py --lr '%(lr)' --model '%(model)' &
CUDA_VISIBLE_DEVICES=2 labtasker loop -- python train.py --lr '%(lr)' --model '%(model)' &
CUDA_VISIBLE_DEVICES=3 labtasker loop -- python train.py --lr '%(lr)' --model '%(model)' &
wait
""",
        env=env,
    )
    parallel = [r for r in runs(record) if r["task_id"] in sweep]
    assert sorted(r["task_id"] for r in parallel) == sorted(sweep)  # each task ran exactly once
    assert {r["gpu"] for r in parallel} <= {"0", "1", "2", "3"}
    assert all(labtasker.get_task(i).status == "success" for i in sweep)

    script_task = labtasker.submit_task(args={"dataset": "imagenet", "model": "vit"}).task_id
    shell(
        """
# Complex scripts where %(var) appears inside multi-line logic — use --script-path
LABTASKER_TASK_SCRIPT=$(mktemp)
cat <<'EOF' > "$LABTASKER_TASK_SCRIPT"
LOG_DIR=/logs/%(dataset)/%(model)
python train.py --dataset %(dataset) --model %(model) --log-dir $LOG_DIR
EOF
labtasker loop --script-path $LABTASKER_TASK_SCRIPT
""",
        env=env,
    )
    last = runs(record)[-1]
    assert last["task_id"] == script_task
    assert last["opts"] == {"--dataset": "imagenet", "--model": "vit", "--log-dir": "/logs/imagenet/vit"}


@pytest.fixture
def results(project: Path) -> dict[str, list[str]]:
    """A queue with finished, failed and pending tasks; returns ids by role."""
    names = ["grid_search", "grid-a", "debug-1", "debug-2"]
    specs = [  # lr, model, name, tags, outcome
        (0.001, "resnet", names[0], ["v1"], "success"),
        (0.2, "vit", names[0], ["v1"], "success"),
        (0.1, "resnet", names[1], ["v1"], "failed"),
        (0.2, "resnet", names[1], [], "failed"),
        (0.3, "vit", names[2], ["urgent"], "pending"),
        (0.01, "vit", names[3], ["urgent"], "pending"),
    ]
    ids: dict[str, list[str]] = {}
    for lr, model, name, tags, outcome in specs:
        task_id = labtasker.submit_task(
            task_name=name, args={"lr": lr, "model": model}, metadata={"tags": tags}, max_retries=1
        ).task_id
        ids.setdefault(outcome, []).append(task_id)
    wanted = set(ids["success"] + ids["failed"])

    @labtasker.loop(
        required_fields=["lr", "model"],
        pass_args_dict=True,
        extra_filter=" or ".join(f'task_id == "{i}"' for i in sorted(wanted)),
    )
    def run(args: dict[str, Any]) -> None:
        if labtasker.task_info().task_id in ids["failed"]:
            raise RuntimeError("diverged")
        labtasker.report_task_status(
            task_id=labtasker.task_info().task_id, status="running", summary={"acc": round(1 - args["lr"], 4)}
        )

    run()
    return ids


def test_querying_tasks(shell: Shell, results: dict[str, list[str]], project: Path) -> None:
    shell("""
set -euo pipefail
# By status
labtasker task ls -s pending > pending.txt
labtasker task ls -s running > running.txt
labtasker task ls -s failed > failed.txt
labtasker task ls -s success > success.txt
# Python-native filter syntax
labtasker task ls -f 'args.lr > 0.01' -q --no-pager > f1.txt
labtasker task ls -f 'task_name == "grid_search"' -q --no-pager > f2.txt
labtasker task ls -f '"v1" in list(metadata.tags)' -q --no-pager > f3.txt
labtasker task ls -f 'created_at >= date("3 hours ago")' -q --no-pager > f4.txt
labtasker task ls -f 'args.lr > 0.01 and "v1" in list(metadata.tags)' -q --no-pager > f5.txt
labtasker task ls -f 'regex(task_name, "^grid-.*")' -q --no-pager > f6.txt
# Filter by summary fields — same dot-notation works on any field
labtasker task ls -s success -f 'summary.acc > 0.9' --no-pager > f7.txt
# Filter with OR
labtasker task ls -f 'status == "failed" or status == "pending"' --no-pager > f8.txt
# Sort results (CLI only — Python requires manual sorting)
labtasker task ls -s success -S 'created_at:desc' --no-pager > s1.txt
labtasker task ls -s success -S 'summary.acc:desc' --no-pager > s2.txt
""")
    read = lambda name: (project / name).read_text()  # noqa: E731
    everything = {t.task_id: t for t in api.ls_tasks(limit=1000).content}

    def where(pred: Callable[[Any], bool]) -> set[str]:
        return {i for i, t in everything.items() if pred(t)}

    assert set(ids_of_table(read("pending.txt"))) == set(results["pending"])
    assert ids_of_table(read("running.txt")) == []
    assert set(ids_of_table(read("failed.txt"))) == set(results["failed"])
    assert set(ids_of_table(read("success.txt"))) == set(results["success"])
    assert set(read("f1.txt").split()) == where(lambda t: t.args["lr"] > 0.01)
    assert set(read("f2.txt").split()) == where(lambda t: t.task_name == "grid_search")
    assert set(read("f3.txt").split()) == where(lambda t: "v1" in t.metadata["tags"])
    assert set(read("f4.txt").split()) == set(everything)
    assert set(read("f5.txt").split()) == where(lambda t: t.args["lr"] > 0.01 and "v1" in t.metadata["tags"])
    assert set(read("f6.txt").split()) == where(lambda t: t.task_name.startswith("grid-"))
    assert ids_of_table(read("f7.txt")) == [results["success"][0]]  # acc 0.999 (the other is 0.8)
    assert set(ids_of_table(read("f8.txt"))) == set(results["failed"] + results["pending"])
    assert ids_of_table(read("s1.txt")) == results["success"][::-1]
    assert ids_of_table(read("s2.txt")) == results["success"]  # 0.999 then 0.8
    assert "SUMMARY" in read("s2.txt") and '"acc": 0.999' in read("s2.txt")


def _fail_again(task_ids: list[str]) -> None:
    """Put tasks back in failed/ (they were re-queued by the previous step)."""

    @labtasker.loop(
        required_fields=["lr", "model"],
        pass_args_dict=True,
        extra_filter=" or ".join(f'task_id == "{i}"' for i in task_ids),
    )
    def fail(args: dict[str, Any]) -> None:
        raise RuntimeError("diverged again")

    labtasker.update_tasks(
        [labtasker.TaskUpdateRequest(task_id=i, max_retries=1) for i in task_ids], reset_pending=True
    )
    fail()


def test_updating_tasks(shell: Shell, results: dict[str, list[str]]) -> None:
    target = results["pending"][0]
    shell(f"""
set -euo pipefail
# Update a specific task's args (patches only args.lr; other args unchanged)
labtasker task update --id {target} -u 'args.lr=0.005'
""")
    assert labtasker.get_task(target).args == {"lr": 0.005, "model": "vit"}
    shell(f"""
set -euo pipefail
# Update multiple fields
labtasker task update --id {target} -u 'args.lr=0.005' -u 'metadata.tags=["v2"]'
""")
    assert labtasker.get_task(target).metadata == {"tags": ["v2"]}

    resnet_failed = results["failed"]  # both failed tasks use resnet
    shell("""
set -euo pipefail
# Batch update: fix args and reset to pending (also resets retries)
labtasker task ls -f 'status == "failed" and args.model == "resnet"' -q --limit 10000 \\
| xargs -I{} labtasker task update --id {} -u 'args.lr=0.005' --reset-pending --quiet
""")
    for task_id in resnet_failed:
        task = labtasker.get_task(task_id)
        assert (task.status, task.retries, task.args["lr"]) == ("pending", 0, 0.005)

    _fail_again(resnet_failed)
    labtasker.update_tasks([labtasker.TaskUpdateRequest(task_id=i, args={"lr": 0.7}) for i in resnet_failed])
    out = shell("""
set -euo pipefail
# Alternative: task update supports filter flags directly (no pipe needed)
labtasker task update -s failed -f 'args.model == "resnet"' -u 'args.lr=0.005' --reset-pending --quiet
""")
    assert out.stdout == ""
    assert all(
        labtasker.get_task(i).args["lr"] == 0.005 and labtasker.get_task(i).status == "pending"
        for i in resnet_failed
    )

    labtasker.submit_task(task_name="hot", args={"lr": 0.5, "model": "vit"}, metadata={"tags": ["urgent"]})
    high_lr_pending = [
        t.task_id for t in api.ls_tasks(status="pending", extra_filter="args.lr > 0.05").content
    ]
    urgent_pending = [
        t.task_id
        for t in api.ls_tasks(status="pending", extra_filter='"urgent" in list(metadata.tags)').content
    ]
    assert high_lr_pending and urgent_pending
    shell("""
set -euo pipefail
# Cancel pending tasks (keep records, mark as cancelled)
labtasker task ls -s pending -f 'args.lr > 0.05' -q --limit 10000 \\
| xargs -I{} labtasker task update --id {} -u 'status=cancelled' --quiet
# Bump priority on urgent pending tasks
labtasker task ls -f '"urgent" in list(metadata.tags)' -s pending -q --limit 10000 \\
| xargs -I{} labtasker task update --id {} -u 'priority=100' --quiet
""")
    assert all(labtasker.get_task(i).status == "cancelled" for i in high_lr_pending)
    for task_id in urgent_pending:
        task = labtasker.get_task(task_id)
        assert task.priority == (0 if task_id in high_lr_pending else 100)


def _run_on_a_terminal(argv: list[str], answer: str, tmp_path: Path, cwd: Path) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as stdin/stdout/stderr; answer its prompt."""
    master, slave = pty.openpty()
    env = {**os.environ, "PATH": f"{labtasker_bin(tmp_path)}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    seen, answered = b"", False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(master, answer.encode())
            answered = True
        if proc.poll() is not None and not ready:
            break
    os.close(master)
    return proc.wait(timeout=10), seen.decode(errors="replace")


def test_deleting_tasks(shell: Shell, results: dict[str, list[str]], project: Path, tmp_path: Path) -> None:
    one = results["pending"][0]
    code, seen = _run_on_a_terminal(["labtasker", "task", "delete", one], "y\n", tmp_path, project)
    # Delete by id (positional argument): on a terminal it asks first
    assert code == 0 and "Delete 1 task?" in seen and "deleted 1 task" in seen
    with pytest.raises(TaskNotFound):
        labtasker.get_task(one)

    queue = api.context().queue
    old = results["success"][0]
    located = queue.find(old)
    assert located is not None
    queue.transact(
        located.dirname,
        located.name,
        lambda d: (located.dirname, {**d, "created_at": clock.now() - timedelta(hours=1)}),
    )
    debug = labtasker.submit_task(task_name="debug-3", args={"x": 1}).task_id
    shell("""
set -euo pipefail
# Batch delete via pipe: -q prints only ids, -y skips confirmation
labtasker task ls -f 'created_at < date("10 minutes ago")' -q --limit 10000 | labtasker task delete -y
# Delete all failed tasks
labtasker task ls -s failed -q --limit 10000 | labtasker task delete -y
# Delete by task name pattern
labtasker task ls -f 'regex(task_name, "^debug-.*")' -q --limit 10000 | labtasker task delete -y
""")
    left = {t.task_id for t in api.ls_tasks(limit=1000).content}
    gone = {old, debug, *results["failed"], *results["pending"]}
    assert not left & gone
    assert left == {results["success"][1]}
