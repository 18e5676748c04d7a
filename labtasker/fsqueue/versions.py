"""What every write records so that replicas can merge later; pure, no I/O.

A task document carries three kinds of state (the merge rules that read them
are in ``labtasker.replicas.merge``; in words, in docs/git-rsync-sync.md):

- the **lifecycle** (status, run fields, summary, retries...): ``life`` =
  [rev, node, digest] is stamped by every write that changes it (``stamp_life``),
  and ``life_key`` orders two lifecycles;
- **edited fields** (args, metadata, priority, ...): ``note_edit`` records in
  ``clocks`` which dotted paths a user's edit set ([gen, node]);
- **counters**: ``rev`` and ``gen``.

The storage core writes these stamps on every change; it never merges.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from labtasker.fsqueue.documents import TASK_FIELDS, ordered
from labtasker.fsqueue.ids import blake2b

Doc = dict[str, Any]

EDITED_SCALARS = (
    "task_name", "priority", "max_retries", "cmd", "heartbeat_timeout", "task_timeout", "reserved_for",
)  # fmt: skip
EDITED_DICTS = ("args", "metadata")
BOOKKEEPING = ("rev", "gen", "node", "life", "clocks", "last_modified", "args_intent")
RESULT_RANK = {"success": 3, "failed": 2, "cancelled": 1}

_KNOWN = frozenset(TASK_FIELDS)
_NOT_LIFE = frozenset((*EDITED_SCALARS, *EDITED_DICTS, *BOOKKEEPING))
_STATE_RANK = {"running": 2, "pending": 1}


# ------------------------------------------------------------ fingerprints
def canonical(value: Any) -> str:
    """A stable text form of a YAML value, for hashing and tie-breaks."""
    if not _ENCODER:
        import json

        _ENCODER.append(json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_plain_text))
    # what json.dumps with these options gives, without making an encoder a call
    text: str = _ENCODER[0].encode(value)
    return text


_ENCODER: list[Any] = []  # made at the first use: json is not imported with the queue


def _plain_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)


def digest(value: Any) -> str:
    """A short hash of a value's canonical form."""
    return blake2b(canonical(value).encode("utf-8"), digest_size=8).hexdigest()


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
        -int(status in RESULT_RANK),
        -RESULT_RANK.get(status, 0),
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
def bump_gen(doc: Doc, *, status_change: bool = False) -> int:
    """Count a user's change of ``doc`` (``gen``); an explicit status change also sets ``sgen``.

    ``sgen`` lets the merge rules tell a user's requeue or cancel from the
    history it replaces. Returns the new ``gen``.
    """
    gen = doc["gen"] = int(doc.get("gen") or 0) + 1
    if status_change:
        doc["sgen"] = gen
    return gen


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
            for path in leaf_paths(value, name) if isinstance(value, dict) and value else (name,):
                clocks[path] = stamp
        elif name in EDITED_SCALARS:
            clocks[name] = stamp
    if clocks:
        doc["clocks"] = clocks


def leaf_paths(value: Any, path: str) -> dict[str, Any]:
    """Dotted path -> value for the leaves under ``path`` (an empty dict is a leaf)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, child in value.items():
            out.update(leaf_paths(child, f"{path}.{key}"))
        return out
    return {path: value}


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


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
