"""Property-based: random work on 2-4 replicas, exchanged in random order, always agrees.

Each example runs real core operations (submit, claim, finish, edit, re-queue,
cancel, delete) on replicas that are real directories, copies files between
them as ``rsync -a --checksum --backup`` would, and reconciles. It checks:

- the invariants after every reconcile (one file per task, tombstones win,
  no second copies left, status agrees with the directory);
- after everyone has exchanged with everyone, all replicas are byte-identical;
- and identical to reconciling, in one go, every file any replica ever had:
  the result depends on the set of files alone, not on the exchange order;
- the join itself is commutative, associative and idempotent on every set of
  versions the run produced;
- every run that finished on any replica is, after the exchange, on every
  replica (the task's own state, or ``attempts/``, deleted tasks included);
- every summary shown, on a task or a kept run, sits beside the args it ran with.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labtasker.errors import InvalidTransition, LeaseLost, LostRace, TaskNotFound
from labtasker.fsqueue import codec, layout, ran_with, reservations, tasks
from labtasker.fsqueue.layout import STATE_DIRS
from labtasker.fsqueue.versions import canonical
from labtasker.replicas import merge
from tests.sync.replicas import Replica, check_invariants, copy_into, files_of

OPS = (
    "submit",
    "run",
    "run_task",
    "claim",
    "finish",
    "edit",
    "edit_args",
    "requeue",
    "cancel",
    "delete",
    "reserve",
    "copy",
    "copy",
    "copy",
    "reconcile",
)
FIELDS = ("metadata.tag", "metadata.note", "args.lr", "priority", "max_retries", "summary.rank")


class World:
    """The replicas of one example and every file any of them ever held."""

    def __init__(self, root: Path, n: int) -> None:
        # clocks that disagree by hours, in both directions: nothing may depend on them
        self.replicas = [Replica(root / f"r{i}", f"node{i}", skew=(-1) ** i * 3600 * i) for i in range(n)]
        for other in self.replicas[1:]:
            copy_into(self.replicas[0].path, other.path)
        self.task_ids: list[str] = []
        self.history: dict[str, set[bytes]] = {}
        self.record()

    def record(self) -> None:
        for replica in self.replicas:
            for rel, data in replica.files().items():
                if not layout.is_alternate_copy(Path(rel).name):
                    self.history.setdefault(rel, set()).add(data)

    def step(self, op: str, a: int, b: int, pick: int, value: Any) -> None:
        r, other = self.replicas[a % len(self.replicas)], self.replicas[b % len(self.replicas)]
        tid = self.task_ids[pick % len(self.task_ids)] if self.task_ids else None
        try:
            self._do(op, r, other, tid, pick, value)
        except (TaskNotFound, InvalidTransition, LostRace, LeaseLost):
            pass  # the task is elsewhere on this replica, or gone: a user would see that error
        self.record()

    def _do(self, op: str, r: Replica, other: Replica, tid: str | None, pick: int, value: Any) -> None:
        if op == "submit":
            self.task_ids.append(r.submit(args={"lr": 0.1, "i": len(self.task_ids)}, max_retries=2))
        elif op == "run":
            r.run(tid if pick % 3 else None, status=("success", "failed", "cancelled")[pick % 3], acc=value)
        elif op == "run_task" and tid:  # this very task, to success (while others edit or delete it)
            r.run(tid, status="success", acc=value)
        elif op == "claim":
            r.claim(tid)
        elif op == "finish":
            running = [n for n in r.queue.names("running") if layout.worker_of_running(n).startswith(r.node)]
            if running:
                got = r.queue.read("running", running[pick % len(running)])
                if got is not None:
                    from labtasker.fsqueue.store import Located

                    r.finish(Located("running", running[pick % len(running)], got), "success", {"acc": value})
        elif op == "edit" and tid:
            path = FIELDS[pick % len(FIELDS)]
            head, _, rest = path.partition(".")
            r.edit(tid, {head: {rest: value}} if rest else {head: abs(value) % 5})
        elif op == "edit_args" and tid:  # a new setting for a task that may be running or done elsewhere
            r.edit(tid, {"args": {"lr": value / 10}})
        elif op == "requeue" and tid:
            r.requeue(tid)
        elif op == "cancel" and tid:
            r.cancel(tid)
        elif op == "delete" and tid and pick % 4 == 0:
            r.delete(tid)
        elif op == "reserve" and tid:
            reservations.reserve(r.queue, other.node, accept=lambda d: d["task_id"] == tid)
        elif op == "copy" and r is not other:
            copy_into(r.path, other.path)
            check_invariants_after(other)
        elif op == "reconcile":
            check_invariants_after(r)

    def exchange_all(self) -> None:
        for _ in range(3):
            for src in self.replicas:
                for dst in self.replicas:
                    if src is not dst:
                        copy_into(src.path, dst.path)
                        check_invariants_after(dst)
        self.record()


def check_invariants_after(replica: Replica) -> None:
    replica.reconcile()
    check_invariants(replica)


def oracle(world: World, root: Path) -> dict[str, bytes]:
    """Every version any replica ever held, put in one folder (extra versions as second copies), reconciled."""
    path = root / "oracle"
    for rel, versions in world.history.items():
        for i, data in enumerate(sorted(versions)):
            target = path / (rel if i == 0 else f"{rel}.~h{i}~")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    replica = Replica(path, "oracle", create=False)
    for sub in ("tmp", "quarantine", *STATE_DIRS.values(), "attempts", "deleted", "workers"):
        (path / sub).mkdir(exist_ok=True)
    replica.reconcile()
    replica.reconcile()
    check_invariants(replica)
    return files_of(path)


step = st.tuples(
    st.sampled_from(OPS), st.integers(0, 3), st.integers(0, 3), st.integers(0, 50), st.integers(-3, 9)
)


# Clashes on one task, shared by every replica first: runs, args edits, re-queues and deletes
# meet often (with many tasks they rarely touch the same one).
CLASHES = (
    *("run_task", "edit_args") * 2,
    *("run", "edit", "requeue", "cancel", "delete", "claim", "finish", "copy", "reconcile"),
)
clash = st.tuples(
    st.sampled_from(CLASHES), st.integers(0, 3), st.integers(0, 3), st.integers(0, 50), st.integers(-3, 9)
)


@settings(
    max_examples=int(os.environ.get("LT_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(n=st.integers(2, 4), steps=st.lists(step, min_size=5, max_size=40))
def test_random_work_on_replicas_converges_whatever_the_exchange_order(n: int, steps: list[Any]) -> None:
    check_world(n, steps, shared=False)


@settings(
    max_examples=int(os.environ.get("LT_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(n=st.integers(2, 4), steps=st.lists(clash, min_size=3, max_size=20))
def test_clashes_on_one_task_keep_every_run_beside_its_args(n: int, steps: list[Any]) -> None:
    check_world(n, steps, shared=True)


def check_world(n: int, steps: list[Any], *, shared: bool) -> None:
    """Run the steps on ``n`` replicas (``shared``: after one task reached them all), exchange, check."""
    root = Path(tempfile.mkdtemp(prefix="lt-replicas-"))
    try:
        world = World(root, n)
        world.step("submit", 0, 0, 0, 0)
        if shared:
            world.exchange_all()
        for op, a, b, pick, value in steps:
            world.step(op, a, b, pick, value)
        world.exchange_all()
        states = [r.files() for r in world.replicas]
        for replica, state in zip(world.replicas, states):
            assert state == states[0], f"{replica.node} differs from {world.replicas[0].node}"
        assert oracle(world, root) == states[0]
        check_join_laws(world)
        for replica in world.replicas:
            check_every_run_kept(world, replica)
            check_summaries_beside_their_args(replica)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(doc: dict[str, Any]) -> tuple[str, str, str]:
    return str(doc["task_id"]), str(doc.get("worker_id")), canonical(doc.get("start_time"))


def check_every_run_kept(world: World, replica: Replica) -> None:
    """Every run that finished on any replica is on this one: the task's state, or attempts/."""
    ever = set()
    for rel, datas in world.history.items():
        dirname = Path(rel).parts[0]
        for data in datas:
            doc = codec.load(data)
            finished = dirname in ("done", "failed", "cancelled") or (
                dirname == "attempts" and "start_time" in doc  # a late result has no start to name it
            )
            if finished and doc.get("worker_id"):
                ever.add(_run(doc))
    here = {_run(doc) for doc in _docs(replica, "attempts")}
    for dirname in STATE_DIRS.values():
        here |= {_run(doc) for doc in _docs(replica, dirname)}
    missing = ever - here
    assert not missing, f"runs lost on {replica.node}: {sorted(missing)}"


def check_summaries_beside_their_args(replica: Replica) -> None:
    """A summary a run wrote, on a task or a kept run, always sits beside the args it ran with
    (a summary a user typed into a task that never ran has no run to name)."""
    for dirname in (*STATE_DIRS.values(), "attempts"):
        for doc in _docs(replica, dirname):
            if doc.get("summary") and doc.get("worker_id") and doc.get("reason") != tasks.LATE_RESULT:
                assert ran_with.of(doc) is not None, f"{dirname}: {doc['task_id']} summary without its args"


def _docs(replica: Replica, dirname: str) -> list[dict[str, Any]]:
    return [codec.load((replica.path / dirname / n).read_bytes()) for n in replica.queue.names(dirname)]


def check_join_laws(world: World) -> None:
    """Commutative, associative, idempotent, on every set of versions one task ever had."""
    rng = random.Random(0)
    for tid, versions in _versions(world).items():
        docs = [_as_status(d, s) for d, s in versions]
        whole = merge.join(docs)
        shuffled = docs[:]
        rng.shuffle(shuffled)
        assert merge.join(shuffled) == whole, tid
        cut = rng.randrange(1, len(docs)) if len(docs) > 1 else 1
        left, right = docs[:cut], docs[cut:]
        if right:
            assert merge.join([merge.join(left), merge.join(right)]) == whole, tid
        assert merge.join([whole, whole]) == whole
        assert merge.join([whole]) == whole


def _versions(world: World) -> dict[str, list[tuple[dict[str, Any], str]]]:
    out: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for rel, datas in world.history.items():
        dirname = Path(rel).parts[0]
        if dirname not in STATE_DIRS.values():
            continue
        for data in datas:
            doc = codec.load(data)
            out.setdefault(doc["task_id"], []).append((doc, dirname))
    return out


def _as_status(doc: dict[str, Any], dirname: str) -> dict[str, Any]:
    from labtasker.fsqueue.documents import normalise

    return normalise(dict(doc, status=layout.status_value(dirname)))
