"""Build ``sample_queue/``: a small queue in every state, made by the real core on a fixed clock.

    python tests/tui/make_sample.py [DEST]        (default: sample_queue/ at the repo root)

Workers run real loops (``labtasker.worker.runner.run_loop``) over a small sweep:
most runs succeed with metrics, two configurations fail until they are out of
retries (their tracebacks are real), one run cancels itself on a NaN loss,
one task is cancelled by the user while it runs (its late result lands in
``attempts/``), three tasks are left running with half-written logs. The
clock, task ids and nonces are fixed, so two runs give the same bytes; then
process ids and absolute paths are normalised away.
"""

from __future__ import annotations

import linecache
import random
import shutil
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from labtasker import run_context  # noqa: E402
from labtasker.api_models import Task  # noqa: E402
from labtasker.errors import LeaseLost  # noqa: E402
from labtasker.fsqueue import atomic, claim, clock, codec, ids, layout, tasks, workers  # noqa: E402
from labtasker.fsqueue.layout import TaskStatus  # noqa: E402
from labtasker.fsqueue.store import FsQueue  # noqa: E402
from labtasker.worker import run_logs, runner  # noqa: E402

NODE = "lab-node1"
START = datetime(2025, 3, 14, 9, 0, 0, tzinfo=timezone.utc)
# The moment the sample "is": tests and docs render ages relative to it.
SAMPLE_NOW = datetime(2025, 3, 14, 12, 20, 0, tzinfo=timezone.utc)

# A user's training code: compiled under its own file name, so tracebacks read as a user's would.
TRAIN_PY = """\
def run(name, args, log):
    if name == "eval":
        return evaluate(args["ckpt"])
    lr, model, seed = args.get("lr", 0.01), args.get("model", "resnet18"), args.get("seed", 0)
    dropout = args.get("dropout", 0.0)
    loss = train(lr, model, seed, dropout, log)
    acc = 0.97 - loss * 0.4 - abs(lr - 0.01) * 0.8 - dropout * 0.07 - 0.006 * ((seed * 7) % 3)
    return {"acc": round(acc, 4), "loss": round(loss, 4), "epochs": 5}


def train(lr, model, seed, dropout, log):
    if model == "resnet18" and lr == 0.001 and seed == 2:
        allocate(batch=512)
    loss = 2.3
    for epoch in range(1, 6):
        loss = step(loss, lr, model, dropout)
        log(f"epoch {epoch}/5 loss={loss:.4f}")
    return loss


def step(loss, lr, model, dropout):
    if model == "vit_s" and lr >= 0.1:
        raise FloatingPointError("loss is nan after 120 steps (lr too high?)")
    if dropout >= 0.5:
        return float("nan")
    return loss * (0.55 + lr + (0.04 if model == "vit_s" else 0.0))


def allocate(batch):
    raise RuntimeError(
        "CUDA out of memory. Tried to allocate 2.00 GiB "
        "(GPU 0; 23.65 GiB total capacity; 21.90 GiB already allocated)"
    )


def evaluate(ckpt):
    with open(f"/data/ckpt/{ckpt['run']}/step_{ckpt['step']}.pt", "rb") as fh:
        return {"acc": len(fh.read())}
"""


class FixedWorld:
    """The clock, ids and nonces of the core, made deterministic."""

    def __init__(self) -> None:
        self.now = START
        self.rng = random.Random(20250314)
        self.counter = 0

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def task_id(self) -> str:
        self.counter += 1
        ms = int(self.now.timestamp() * 1000)
        value = (ms << 80) | (0x7 << 76) | (self.counter << 64) | (0b10 << 62) | self.rng.getrandbits(62)
        return str(uuid.UUID(int=value))

    def nonce(self, nbytes: int = 4) -> str:
        return self.rng.getrandbits(8 * nbytes).to_bytes(nbytes, "big").hex()

    def install(self) -> None:
        clock.now = lambda: self.now  # type: ignore[assignment]
        ids.new_task_id = self.task_id  # type: ignore[assignment]
        ids.nonce = self.nonce  # type: ignore[assignment]
        # A lease names the claiming host and the filesystem's clock skew: fix both, so the
        # sample is the same everywhere and no real host mistakes itself for the owner.
        try:
            from labtasker.fsqueue import lease, locking
        except ImportError:  # an older core without leases
            return
        locking.host_key = lambda: f"{NODE}/sample"  # type: ignore[assignment]
        real_info = lease.lease_info
        lease.lease_info = lambda terms, **kw: real_info(terms, **{**kw, "skew": 0.0})  # type: ignore[assignment]


def train_module() -> dict[str, Any]:
    """The user's code as a module named train.py (with its source known to tracebacks)."""
    linecache.cache["train.py"] = (len(TRAIN_PY), None, TRAIN_PY.splitlines(True), "train.py")
    namespace: dict[str, Any] = {}
    exec(compile(TRAIN_PY, "train.py", "exec"), namespace)
    return namespace


def submit_all(queue: FsQueue, world: FixedWorld) -> None:
    grid = [
        dict(
            task_name="grid_search", args={"lr": lr, "model": model, "seed": seed}, metadata={"tags": ["v1"]}
        )
        for model in ("resnet18", "vit_s")
        for lr in (0.001, 0.01, 0.1)
        for seed in (0, 1, 2)
    ]
    tasks.submit_many(queue, grid)
    world.tick(minutes=2)
    tasks.submit_many(
        queue,
        [
            dict(
                task_name="debug-smoke",
                args={"lr": 0.01, "model": m, "seed": 0},
                priority=10,
                metadata={"tags": ["debug"]},
            )
            for m in ("resnet18", "vit_s")
        ],
    )
    world.tick(minutes=1)
    tasks.submit_many(
        queue,
        [
            dict(
                task_name="ablation",
                args={"lr": 0.01, "model": "resnet18", "seed": 0, "dropout": d},
                priority=5,
                metadata={"tags": ["v1", "ablation"]},
            )
            for d in (0.0, 0.1, 0.3, 0.5)
        ],
    )
    world.tick(minutes=3)
    tasks.submit_many(
        queue,
        [
            dict(
                task_name="finetune",
                args={"dataset": ds, "lr": lr},
                priority=-1,
                metadata={"tags": ["v2"], "note": "after the sweep"},
            )
            for ds in ("cifar100", "tinyimagenet")
            for lr in (0.0001, 0.0003, 0.001)
        ],
    )
    world.tick(minutes=1)
    tasks.submit_many(
        queue,
        [
            dict(
                task_name="eval",
                args={"ckpt": {"run": run, "step": 5000}, "split": "test"},
                metadata={"tags": ["v1"]},
            )
            for run in ("grid-07", "grid-11", "grid-13")
        ],
    )


def make_job(world: FixedWorld, code: dict[str, Any]) -> Any:
    """A job as a user's loop would run it: logs to run.log, metrics into the summary."""

    def job(run: runner.Run) -> None:
        log_file = run_logs.made(run.log_dir) / run_logs.LOG  # as `labtasker loop` hands a job its folder

        def log(line: str) -> None:
            world.tick(seconds=70)
            with open(log_file, "a", encoding="utf-8") as fh:
                fh.write(f"[{world.now:%H:%M:%S}] {line}\n")

        log(f"start {run.task.task_name} {run.task.args}")
        summary = code["run"](run.task.task_name, run.task.args, log)
        if summary["loss"] != summary["loss"]:  # NaN: give up on this config, as the usage document shows
            tasks.request_status(run.queue, run.running_name, TaskStatus.CANCELLED, {"loss": summary["loss"]})
            return
        log(f"done acc={summary['acc']}")
        tasks.finish(run.queue, run.running_name, "running", summary=summary)  # report metrics

    return job


def loop(queue: FsQueue, world: FixedWorld, worker: str, accept: Any, logs: Path, **kw: Any) -> None:
    opts = runner.LoopOptions(
        accept=accept,
        worker_id=worker,
        heartbeat_interval=3600.0,
        create_worker_kwargs={"worker_name": worker.split(".")[-1], "max_retries": 20},
        logs_dir=logs,
        **kw,
    )
    runner.run_loop(queue, make_job(world, train_module()), opts)


def is_(name: str, **args: Any) -> Any:
    return lambda d: d.get("task_name") == name and all(d["args"].get(k) == v for k, v in args.items())


def claim_and_start(
    queue: FsQueue, world: FixedWorld, worker: str, accept: Any, logs: Path, lines: list[str]
) -> str:
    """A task claimed by a worker that is still running it: a fresh lease, half a log."""
    if queue.read("workers", f"{worker}.yaml") is None:
        workers.create(queue, worker_id=worker, worker_name=worker.split(".")[-1])
    got = claim.Claimer(queue, worker, accept).claim(world.now)
    assert got is not None
    run = runner.Run(
        queue, got.name, Task.from_doc(got.doc), worker, runner._log_dir(logs / "run", got.doc["task_id"])
    )  # the loop's own log layout
    run_context.write_task_info(run.log_dir, run.task, run.worker_id)
    for line in lines:
        world.tick(seconds=65)
        with open(run.log_dir / "run.log", "a", encoding="utf-8") as fh:
            fh.write(f"[{world.now:%H:%M:%S}] {line}\n")
    return got.name


def build(dest: Path) -> None:
    """Write the sample queue into ``dest`` (replaced if it exists)."""
    world = FixedWorld()
    world.install()
    if dest.exists():
        shutil.rmtree(dest)
    queue = FsQueue.create(
        dest, "sweep", node=NODE, now=START, metadata={"project": "cifar10-sweep", "owner": "ada"}
    )
    logs = dest / "logs"
    submit_all(queue, world)
    world.tick(minutes=4)
    loop(queue, world, f"{NODE}.gpu0", lambda d: d.get("task_name") in ("debug-smoke", "ablation"), logs)
    tasks.delete(queue, _id_of(queue, is_("debug-smoke", model="vit_s")))

    def keep(d: dict[str, Any]) -> bool:  # left for the running and pending states
        a = d["args"]
        return a.get("seed") == 2 and (
            a.get("lr") == 0.01 or (a.get("lr") == 0.001 and a.get("model") == "vit_s")
        )

    loop(queue, world, f"{NODE}.gpu1", lambda d: d.get("task_name") == "grid_search" and not keep(d), logs)
    world.tick(minutes=3)
    tasks.update(
        queue, _id_of(queue, is_("finetune", dataset="tinyimagenet", lr=0.001)), {"status": "cancelled"}
    )
    loop(queue, world, f"{NODE}.gpu0", is_("eval", ckpt={"run": "grid-07", "step": 5000}), logs, max_tasks=1)
    _lost_run(queue, world, logs)
    for gpu, accept, lines in (
        (
            "gpu1",
            is_("grid_search", model="resnet18", seed=2),
            ["start grid_search", "epoch 1/5 loss=1.5640"],
        ),
        (
            "gpu2",
            is_("grid_search", model="vit_s", seed=2),
            ["start grid_search", "epoch 1/5 loss=1.4021", "epoch 2/5 loss=0.9534"],
        ),
        ("gpu3", is_("eval", ckpt={"run": "grid-11", "step": 5000}), ["start eval split=test"]),
    ):
        world.tick(minutes=2)
        claim_and_start(queue, world, f"{NODE}.{gpu}", accept, logs, lines)
    assert world.now < SAMPLE_NOW, world.now
    normalise(dest)


def _lost_run(queue: FsQueue, world: FixedWorld, logs: Path) -> None:
    """A user cancels a running task; its worker's late result is kept in attempts/."""
    worker = f"{NODE}.gpu3"
    name = claim_and_start(
        queue,
        world,
        worker,
        is_("finetune", dataset="tinyimagenet", lr=0.0003),
        logs,
        ["start finetune", "epoch 1/5 loss=2.0133"],
    )
    task_id = layout.task_id_of("running", name)
    world.tick(minutes=1)
    tasks.update(queue, task_id, {"status": "cancelled"})
    world.tick(minutes=4)
    try:
        tasks.finish(queue, name, "success", summary={"acc": 0.41, "loss": 1.7702, "epochs": 5})
    except LeaseLost:
        pass


def _id_of(queue: FsQueue, accept: Any) -> str:
    (doc,) = [loc.doc for loc in queue.iter_docs(["pending", "done", "running"]) if accept(loc.doc)]
    return str(doc["task_id"])


def normalise(dest: Path) -> None:
    """Drop what depends on the machine: process ids and absolute paths; keep empty dirs in git."""
    prefix = str(REPO) + "/"
    for path in sorted(dest.rglob("*")):
        if path.is_dir():
            if not any(path.iterdir()):
                (path / ".gitkeep").write_text("")
            continue
        if path.suffix == ".yaml":
            text = path.read_text(encoding="utf-8")
            doc = codec.load(text.encode("utf-8"))
            for key in ("pid", "sid"):  # a worker's process and session
                if key in doc:
                    doc[key] = 0
            fixed = codec.dump(doc).decode("utf-8").replace(prefix, "")
            if fixed != text:
                atomic.write_atomic(path, fixed.encode("utf-8"), dest / "tmp")
        elif path.suffix in (".json", ".log"):
            path.write_text(path.read_text(encoding="utf-8").replace(prefix, ""), encoding="utf-8")


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "sample_queue")
