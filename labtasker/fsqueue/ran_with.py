"""What a run ran with: the task's args (and their edit generation) when it was claimed; pure.

A result belongs to the args it was computed with, not to the args a user
sees later. A claim records ``ran_with: {args: ..., gen: N}`` in the task
(``N`` the newest edit of any ``args`` path the claimer knew, from ``clocks``);
the record travels with the run's result, into ``attempts/`` too. Views compare
it with the current args (``changed``, ``differences``). An edit that changes
the args of a pending task records ``args_intent`` (its gen): a result whose
``ran_with.gen`` is below it ran with args the user replaced, and the merge of
replicas re-queues it (replicas/merge.py).
"""

from __future__ import annotations

import copy
from typing import Any

from labtasker.fsqueue.versions import leaf_paths

Doc = dict[str, Any]
KEY = "ran_with"
INTENT = "args_intent"  # the gen of the newest args edit made on a pending task: "run with these"


def args_gen(doc: Doc) -> int:
    """The generation of the newest edit of ``args`` or a path under it (0: never edited)."""
    clocks = doc.get("clocks")
    if not isinstance(clocks, dict):
        return 0
    gens = [
        value[0]
        for path, value in clocks.items()
        if (path == "args" or str(path).startswith("args."))
        and isinstance(value, list)
        and value
        and isinstance(value[0], int)
    ]
    return max(gens, default=0)


def intent(doc: Doc) -> int:
    """The task's ``args_intent`` (0: none)."""
    value = doc.get(INTENT)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def note_intent(doc: Doc, before: Any, status: str) -> None:
    """An edit of a pending task that changed its args asks for a run with them: record its gen.
    (An edit of a running or finished task only changes what it shows: no re-run is asked.)"""
    if status == "pending" and before != doc.get("args"):
        doc[INTENT] = int(doc.get("gen") or 0)


def record(doc: Doc) -> Doc:
    """The ``ran_with`` record of a claim of ``doc``."""
    args = doc.get("args")
    return {"args": copy.deepcopy(args) if isinstance(args, dict) else {}, "gen": args_gen(doc)}


def of(doc: Doc) -> Doc | None:
    """The task's ``ran_with`` record, or None (no run yet, or a file written before it existed)."""
    found = doc.get(KEY)
    return found if isinstance(found, dict) and isinstance(found.get("args"), dict) else None


def changed(doc: Doc) -> bool:
    """True if the args shown differ from those the run of this document was claimed with."""
    found = of(doc)
    return found is not None and found["args"] != (doc.get("args") or {})


def differences(doc: Doc) -> list[str]:
    """``args.lr=0.1`` for every path whose value the run saw differs from the current one."""
    found = of(doc)
    if found is None:
        return []
    then = leaf_paths(found["args"], "args") if found["args"] else {}
    now = leaf_paths(doc.get("args") or {}, "args") if doc.get("args") else {}
    out = []
    for path in sorted(set(then) | set(now)):
        if then.get(path, _MISSING) != now.get(path, _MISSING):
            out.append(f"{path}={then[path]!r}" if path in then else f"{path} (absent)")
    return out


_MISSING = object()
