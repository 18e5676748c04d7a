""" "No more, no less": which args shapes a loop accepts; pure.

A loop declares required fields (``lr``, ``optimizer.lr``...). A task is
taken only if its args have exactly those keys at every level; a required key
that is a leaf accepts any value (a whole subtree too); ``*`` at a level
allows extra keys there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Tree = dict[str, Any]  # leaf = None, "*" key = extras allowed


def build_tree(fields: Iterable[str]) -> Tree:
    """A nested dict of the required dotted paths.

    A path required as a whole (``arg2``) accepts any value there, even when a
    deeper path (``arg2.arg22``) is required too: the deeper one must exist,
    and the levels below the whole one allow other keys.
    """
    paths = sorted(dict.fromkeys(fields), key=lambda f: f.count("."))  # shorter paths first
    for path in paths:
        if not path or any(part == "" for part in path.split(".")):
            raise ValueError(f"invalid required field {path!r}: write dotted keys such as 'optimizer.lr'")
    whole = set(paths)
    tree: Tree = {}
    for field in paths:
        parts = field.split(".")
        node = tree
        covered = False  # under a path required as a whole
        for depth, part in enumerate(parts[:-1]):
            covered = covered or ".".join(parts[: depth + 1]) in whole
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if covered:
                child["*"] = None
            node = child
        node.setdefault(parts[-1], None)
    return tree


def matches(args: Any, tree: Tree, *, allow_extra: bool = False) -> bool:
    """True if ``args`` has exactly the keys of ``tree`` (plus extras where allowed)."""
    if not isinstance(args, dict):
        return False
    keys = set(tree) - {"*"}
    extra_ok = allow_extra or "*" in tree
    if not keys <= args.keys():
        return False
    if not extra_ok and len(args) != len(keys):
        return False
    for key in keys:
        sub = tree[key]
        if sub is not None and not matches(args[key], sub, allow_extra=allow_extra):
            return False
    return True


def missing(args: Any, tree: Tree, prefix: str = "") -> list[str]:
    """Required paths absent from ``args`` (for error messages)."""
    out: list[str] = []
    for key, sub in tree.items():
        if key == "*":
            continue
        path = f"{prefix}{key}"
        if not isinstance(args, dict) or key not in args:
            out.append(path)
        elif sub is not None:
            out.extend(missing(args[key], sub, path + "."))
    return out
