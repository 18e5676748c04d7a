"""The merge rules of replicated queues: pure functions of the versions of a task.

After files travel between replicas (git, rsync, a USB stick), one task may be
found in several files. ``resolve`` decides, from those files alone, what the
task is now and which superseded results to keep under ``attempts/``. It is a
join: commutative, associative and idempotent, so replicas that exchanged the
same files agree exactly, in whatever order they met. The rules, in words, are
in docs/git-rsync-sync.md.

A document carries three kinds of state, each merged its own way:

- the **lifecycle** (status, run fields, summary, retries...): the version with
  the best ``life_key`` wins whole. ``life`` = [rev, node, digest] is stamped
  by every write that changes the lifecycle, so a later step of one history
  always beats the steps before it, even when an old replica sends them again;
- **edited fields** (args, metadata, priority, ...): per dotted path, the
  newest user edit wins, by the ``clocks`` each edit records ([gen, node]);
- **counters**: ``rev`` and ``gen``, the maximum; ``node`` and ``last_modified``
  those of the write with the highest rev.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from labtasker.fsqueue import layout, ran_with
from labtasker.fsqueue.attempts import archive, join_archives
from labtasker.fsqueue.documents import set_path
from labtasker.fsqueue.layout import STATE_DIRS
from labtasker.fsqueue.versions import (
    EDITED_DICTS,
    EDITED_SCALARS,
    RESULT_RANK,
    canonical,
    digest,
    leaf_paths,
    life_fields,
    life_key,
    life_of,
    run_id,
)

Doc = dict[str, Any]
Clock = tuple[int, str]

_ZERO: Clock = (0, "")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ABSENT = object()


def _field_leaves(doc: Doc, name: str) -> dict[str, Any]:
    value = doc.get(name)
    return leaf_paths(value, name) if isinstance(value, dict) and value else {}


def _clocks(doc: Doc) -> dict[str, Clock]:
    raw = doc.get("clocks")
    if not isinstance(raw, dict):
        return {}
    out = {}
    for path, value in raw.items():
        if isinstance(value, list) and len(value) == 2:
            out[str(path)] = (_int(value[0]), str(value[1]))
    return out


def _effective(clocks: dict[str, Clock], path: str) -> Clock:
    """The newest edit that set ``path`` or a dict containing it."""
    best = _ZERO
    parts = path.split(".")
    for i in range(1, len(parts) + 1):
        found = clocks.get(".".join(parts[:i]))
        if found is not None and found > best:
            best = found
    return best


# ---------------------------------------------------------------- the join
def join(docs: Sequence[Doc]) -> Doc:
    """The merged document of live versions of one task (statuses must match their directories)."""
    if not docs:
        raise ValueError("join needs at least one version")
    intent = max(ran_with.intent(d) for d in docs)
    lives = [_rerun(d) if _stale(d, intent) else d for d in docs]
    winner = min(range(len(docs)), key=lambda i: life_key(lives[i]))
    out = copy.deepcopy(lives[winner])
    out["life"] = list(life_of(lives[winner]))
    latest = max(docs, key=lambda d: (_int(d.get("rev")), str(d.get("node") or "")))
    out["rev"], out["node"] = _int(latest.get("rev")), str(latest.get("node") or "")
    if _aware(latest.get("last_modified")):  # not the latest time: clocks disagree, revs do not
        out["last_modified"] = latest["last_modified"]
    out["gen"] = max(_int(d.get("gen")) for d in docs)
    if intent:
        out[ran_with.INTENT] = intent
    clocks = [_clocks(d) for d in docs]
    for name in EDITED_SCALARS:
        _pick(out, name, [{name: d[name]} if name in d else {} for d in docs], clocks, winner)
    for name in EDITED_DICTS:
        leaves = [_field_leaves(d, name) for d in docs]
        merged: Doc = {}
        for path in sorted(set().union(*leaves)):
            value = _choose(path, leaves, clocks, winner)
            if value is not _ABSENT:
                set_path(merged, path[len(name) + 1 :], copy.deepcopy(value))
        out[name] = merged
    all_clocks = _max_clocks(clocks)
    if all_clocks:
        out["clocks"] = {p: [g, n] for p, (g, n) in sorted(all_clocks.items())}
    else:
        out.pop("clocks", None)
    return out


# A user's edit of args made on a pending task asks for a run with them (``args_intent``, the
# edit's gen, carried by every later version). A result claimed with older args is stale: in
# the merge it stands for its own re-queue, and the result itself is kept in attempts/.
_RERUN = ("success", "failed")
_KEPT_ON_RERUN = ("task_id", "created_at")


def _stale(doc: Doc, intent: int) -> bool:
    ran = ran_with.of(doc)
    return doc.get("status") in _RERUN and ran is not None and _int(ran.get("gen")) < intent


def _rerun(doc: Doc) -> Doc:
    """The re-queue a stale result stands for: a fresh pending lifecycle one status generation
    later, made from nothing but that generation, so every replica makes the same one."""
    life = life_fields(doc)
    out = {k: v for k, v in doc.items() if k not in life or k in _KEPT_ON_RERUN}
    out.update(status="pending", summary={}, retries=0, sgen=_int(doc.get("sgen")) + 1)
    out.update(worker_id=None, start_time=None, last_heartbeat=None, last_error=None)
    out["life"] = [0, "", digest(life_fields(out))]
    return out


def _pick(
    out: Doc, name: str, leaves: list[dict[str, Any]], clocks: list[dict[str, Clock]], winner: int
) -> None:
    value = _choose(name, leaves, clocks, winner)
    if value is _ABSENT:
        out.pop(name, None)
    else:
        out[name] = copy.deepcopy(value)


def _choose(path: str, leaves: list[dict[str, Any]], clocks: list[dict[str, Clock]], winner: int) -> Any:
    """The value of ``path`` in the version whose edit of it is newest (ties: the lifecycle winner)."""

    def rank(i: int) -> tuple[Clock, bool, bool, str]:
        present = path in leaves[i]
        return (
            _effective(clocks[i], path),
            i == winner,
            present,
            canonical(leaves[i][path]) if present else "",
        )

    best = max(range(len(leaves)), key=rank)
    return leaves[best].get(path, _ABSENT)


def _max_clocks(clocks: list[dict[str, Clock]]) -> dict[str, Clock]:
    out: dict[str, Clock] = {}
    for entries in clocks:
        for path, value in entries.items():
            if value > out.get(path, _ZERO):
                out[path] = value
    return out


# ------------------------------------------------------------------ plans
@dataclass
class Plan:
    """What a task's files should be: one file to keep (None: deleted) and results to archive."""

    keep: tuple[str, str, Doc] | None
    archives: dict[str, Doc] = field(default_factory=dict)


@dataclass(frozen=True)
class Version:
    """One file of a task: its state directory and document."""

    dirname: str
    doc: Doc


def resolve(versions: Sequence[Version], tombstones: Sequence[Doc] = ()) -> Plan:
    """Apply the merge rules to every version of one task.

    A tombstone deletes the task for good, and keeps every finished version of it
    in ``attempts/``. Otherwise the join is kept, and every terminal version
    recording another run than the winner's is archived.
    """
    docs = []
    for version in versions:
        doc = dict(version.doc)
        doc["status"] = layout.status_value(version.dirname)
        docs.append(doc)
    if tombstones or not versions:
        plan = Plan(None)
        for doc in docs:
            if doc["status"] in RESULT_RANK:
                _keep(plan, doc)
        return plan
    merged = join(docs)
    dirname = STATE_DIRS[layout.parse_status(merged["status"])]
    plan = Plan((dirname, canonical_name(dirname, merged), merged))
    for doc in docs:
        if doc["status"] in RESULT_RANK and run_id(doc) != run_id(merged):
            _keep(plan, doc)
    return plan


def _keep(plan: Plan, doc: Doc) -> None:
    name, record = archive(doc)
    seen = plan.archives.get(name)
    plan.archives[name] = record if seen is None else join_archives(seen, record)


def canonical_name(dirname: str, doc: Doc) -> str:
    """The file name a document has in a state directory (the same on every replica)."""
    task_id = doc["task_id"]
    if dirname == "pending":
        priority = doc["priority"] if isinstance(doc.get("priority"), int) else 0
        when = doc["last_modified"] if _aware(doc.get("last_modified")) else _EPOCH
        return layout.pending_name(priority, when, task_id, reserved_for=doc.get("reserved_for"))
    if dirname == "running":
        return layout.running_name(task_id, str(doc.get("worker_id") or "none"))
    return layout.terminal_name(task_id, str(doc.get("node") or "none"))


def _aware(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
