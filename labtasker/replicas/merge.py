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
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from labtasker.fsqueue import ids, layout
from labtasker.fsqueue.documents import TASK_FIELDS, ordered, set_path
from labtasker.fsqueue.layout import STATE_DIRS

Doc = dict[str, Any]
Clock = tuple[int, str]

EDITED_SCALARS = (
    "task_name", "priority", "max_retries", "cmd", "heartbeat_timeout", "task_timeout", "reserved_for",
)  # fmt: skip
EDITED_DICTS = ("args", "metadata")
BOOKKEEPING = ("rev", "gen", "node", "life", "clocks", "last_modified")
ARCHIVE_REASON = "another version of this task took its place (a merge, a re-queue or a cancel)"

_KNOWN = frozenset(TASK_FIELDS)
_NOT_LIFE = frozenset((*EDITED_SCALARS, *EDITED_DICTS, *BOOKKEEPING))
_RESULT_RANK = {"success": 3, "failed": 2, "cancelled": 1}
_STATE_RANK = {"running": 2, "pending": 1}
_ZERO: Clock = (0, "")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ABSENT = object()


# ------------------------------------------------------------ fingerprints
def canonical(value: Any) -> str:
    """A stable text form of a YAML value, for hashing and tie-breaks."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain_text)


def _plain_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)


def digest(value: Any) -> str:
    """A short hash of a value's canonical form."""
    return hashlib.blake2b(canonical(value).encode("utf-8"), digest_size=8).hexdigest()


# ---------------------------------------------------------------- lifecycle
def life_fields(doc: Doc) -> Doc:
    """The part of a document a run or a status change writes (everything but edits and counters)."""
    return {k: v for k, v in doc.items() if k not in _NOT_LIFE}


def life_of(doc: Doc) -> tuple[int, str, str]:
    """(rev, node, digest) of the write that last changed the lifecycle."""
    life = doc.get("life")
    if isinstance(life, list) and len(life) == 3 and isinstance(life[0], int):
        return int(life[0]), str(life[1]), str(life[2])
    return _int(doc.get("rev")), str(doc.get("node") or ""), digest(life_fields(doc))


def stamp_life(doc: Doc, rev: int, node: str) -> None:
    """Called on every write: a write that changed the lifecycle records itself in ``life``."""
    now = digest(life_fields(doc))
    life = doc.get("life")
    if not (isinstance(life, list) and len(life) == 3 and life[2] == now):
        doc["life"] = [int(rev), node, now]


def life_key(doc: Doc) -> tuple[Any, ...]:
    """Sort key of lifecycles: the smallest wins.

    A later status generation (an explicit re-queue or cancel) first; then
    terminal before not; success, failed, cancelled; then the later lifecycle
    write; running before pending; then the node id that sorts last (as for
    edits); then the content.
    """
    status = str(doc.get("status"))
    rev, node, _ = life_of(doc)
    return (
        -_int(doc.get("sgen")),
        -int(status in _RESULT_RANK),
        -_RESULT_RANK.get(status, 0),
        -rev,
        -_STATE_RANK.get(status, 0),
        _descending(node),
        digest(life_fields(doc)),
    )


def _descending(text: str) -> tuple[int, ...]:
    """A sort key under which a string that sorts later comes first."""
    return (*(-ord(c) for c in text), 1)


def run_id(doc: Doc) -> tuple[str, str]:
    """Which run a document records: its worker and start time; without a run (a cancel
    before any claim), the status generation the user's change made."""
    if doc.get("worker_id"):
        return str(doc["worker_id"]), canonical(doc.get("start_time"))
    return "", f"sgen {_int(doc.get('sgen'))}"


# ---------------------------------------------------------------- edits
def note_edit(doc: Doc, fields: dict[str, Any], replace_fields: Iterable[str], gen: int, node: str) -> None:
    """Record in ``clocks`` which paths a user's edit set (``fields`` already expanded)."""
    clocks = dict(doc.get("clocks") or {})
    stamp = [int(gen), node]
    replaced = set(replace_fields)
    for name, value in fields.items():
        if name in EDITED_DICTS and name in replaced:
            clocks = {p: c for p, c in clocks.items() if not p.startswith(name + ".")}
            clocks[name] = stamp
        elif name in EDITED_DICTS:
            for path in _leaves(value, name) if isinstance(value, dict) and value else (name,):
                clocks[path] = stamp
        elif name in EDITED_SCALARS:
            clocks[name] = stamp
    if clocks:
        doc["clocks"] = clocks


def _leaves(value: Any, path: str) -> dict[str, Any]:
    """Dotted path -> value for the leaves under ``path`` (an empty dict is a leaf)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, child in value.items():
            out.update(_leaves(child, f"{path}.{key}"))
        return out
    return {path: value}


def _field_leaves(doc: Doc, name: str) -> dict[str, Any]:
    value = doc.get(name)
    return _leaves(value, name) if isinstance(value, dict) and value else {}


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
    winner = min(range(len(docs)), key=lambda i: life_key(docs[i]))
    out = copy.deepcopy(docs[winner])
    out["life"] = list(life_of(docs[winner]))
    latest = max(docs, key=lambda d: (_int(d.get("rev")), str(d.get("node") or "")))
    out["rev"], out["node"] = _int(latest.get("rev")), str(latest.get("node") or "")
    if _aware(latest.get("last_modified")):  # not the latest time: clocks disagree, revs do not
        out["last_modified"] = latest["last_modified"]
    out["gen"] = max(_int(d.get("gen")) for d in docs)
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


# ---------------------------------------------------------- archives, plans
def archive(doc: Doc) -> tuple[str, Doc]:
    """The ``attempts/`` file name and record that keep a superseded result.

    Both depend only on the result itself, so every replica (and a re-queue,
    which keeps the result it replaces) writes the same file.
    """
    rev, node, stamp = life_of(doc)
    worker = str(doc.get("worker_id") or "none")
    if not ids.SAFE_ID.match(worker) or layout.SEP in worker:
        worker = "w" + digest(worker)
    name = layout.attempt_name(doc["task_id"], worker, "m" + digest([doc["task_id"], run_id(doc)])[:10])
    record = copy.deepcopy(life_fields(doc))
    record.update(life=[rev, node, stamp], node=node, reason=ARCHIVE_REASON)
    return name, canonical_doc(record)


def canonical_doc(doc: Doc) -> Doc:
    """The document with a key order that depends on its content only (known fields first,
    the rest sorted, nested mappings sorted), so equal merges are equal bytes everywhere."""
    first = ordered(doc)
    known = [k for k in first if k in _KNOWN]
    return {k: _sorted(first[k]) for k in [*known, *sorted(k for k in first if k not in _KNOWN)]}


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def is_archive_name(name: str) -> bool:
    """True for ``attempts/`` names written by ``archive`` (their nonce starts with ``m``)."""
    parts = name[: -len(layout.SUFFIX)].split(layout.SEP) if name.endswith(layout.SUFFIX) else []
    return len(parts) == 3 and parts[2].startswith("m")


def join_archives(a: Doc, b: Doc) -> Doc:
    """Two records of one run (versions met under one name): the better lifecycle."""
    return a if life_key(a) <= life_key(b) else b


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

    A tombstone deletes the task for good. Otherwise the join is kept, and
    every terminal version recording another run than the winner's is archived.
    """
    if tombstones or not versions:
        return Plan(None)
    docs = []
    for version in versions:
        doc = dict(version.doc)
        doc["status"] = layout.status_value(version.dirname)
        docs.append(doc)
    merged = join(docs)
    dirname = STATE_DIRS[layout.parse_status(merged["status"])]
    plan = Plan((dirname, canonical_name(dirname, merged), merged))
    for doc in docs:
        if doc["status"] in _RESULT_RANK and run_id(doc) != run_id(merged):
            name, record = archive(doc)
            seen = plan.archives.get(name)
            plan.archives[name] = record if seen is None else join_archives(seen, record)
    return plan


def canonical_name(dirname: str, doc: Doc) -> str:
    """The file name a document has in a state directory (the same on every replica)."""
    task_id = doc["task_id"]
    if dirname == "pending":
        priority = doc.get("priority") if isinstance(doc.get("priority"), int) else 0
        when = doc["last_modified"] if _aware(doc.get("last_modified")) else _EPOCH
        return layout.pending_name(priority, when, task_id, reserved_for=doc.get("reserved_for"))
    if dirname == "running":
        return layout.running_name(task_id, str(doc.get("worker_id") or "none"))
    return layout.terminal_name(task_id, str(doc.get("node") or "none"))


def _aware(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
