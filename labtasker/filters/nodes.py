"""Compiled pieces of a filter expression and the closures that combine them; pure.

A ``Node`` is a function of one task document plus what the compiler knows
about it: whether it is a constant (so it can be folded), the field path it
reads, whether it always gives a bool. The builders here take nodes and give
nodes; they know nothing of syntax, which is the compiler's business.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from labtasker.filters.field_paths import MISSING, TIMESTAMP_FIELDS, Path, is_absent, resolve, step
from labtasker.filters.values import guarded

Doc = Mapping[str, Any]
Predicate = Callable[[Doc], bool]
Fn = Callable[[Doc], Any]


def accept_all(doc: Doc) -> bool:
    """The predicate of an empty filter."""
    return True


def reject_all(doc: Doc) -> bool:
    """The predicate of a filter that is false whatever the task."""
    return False


def truthy(fn: Fn) -> Predicate:
    """A predicate from a function that may give any value."""
    return lambda doc: bool(fn(doc))


class Node:
    """A compiled sub-expression: its closure, and what the compiler knows about it."""

    __slots__ = ("boolean", "const", "fn", "path", "value")

    def __init__(
        self,
        fn: Fn,
        *,
        const: bool = False,
        value: Any = None,
        path: Path | None = None,
        boolean: bool = False,
    ) -> None:
        self.fn, self.const, self.value, self.path, self.boolean = fn, const, value, path, boolean


def constant(value: Any) -> Node:
    """A literal, or anything the compiler folded."""
    return Node(lambda doc: value, const=True, value=value, boolean=isinstance(value, bool))


def is_none(node: Node) -> bool:
    """Is this the literal None (which comparisons treat as "absent")?"""
    return node.const and node.value is None


def field(path: Path) -> Node:
    """A closure reading ``path``; the common shapes get a shortcut."""
    head, rest = str(path[0]), path[1:]  # the head is always a field name

    def timestamp(doc: Doc) -> Any:
        return resolve(doc, path)

    def top(doc: Doc) -> Any:
        return doc.get(head, MISSING)

    def nested(doc: Doc) -> Any:  # args.lr: one dict lookup when it is there
        value = doc.get(head)
        found = value.get(rest[0], MISSING) if type(value) is dict else MISSING
        return found if found is not MISSING else step(value, rest[0])

    def deep(doc: Doc) -> Any:
        value = doc.get(head, MISSING)
        for key in rest:
            value = step(value, key)
        return value

    if not rest:
        return Node(timestamp if head in TIMESTAMP_FIELDS else top, path=path)
    return Node(nested if len(rest) == 1 else deep, path=path)


def index(base: Node, key: str | int) -> Node:
    """``base[key]`` of a computed value (a field path is extended by the compiler instead)."""
    if base.const:
        return constant(step(base.value, key))
    get = base.fn
    return Node(lambda doc: step(get(doc), key))


def sequence(items: list[Node]) -> Node:
    """A list literal; tuples and sets become lists too, like YAML's."""
    if all(item.const for item in items):
        return constant([item.value for item in items])
    fns = [item.fn for item in items]
    return Node(lambda doc: [fn(doc) for fn in fns])


def mapping(pairs: list[tuple[Any, Node]]) -> Node:
    """A dict literal with literal keys."""
    fns = [(key, value.fn) for key, value in pairs]
    return Node(lambda doc: {k: fn(doc) for k, fn in fns})


def negate(operand: Node) -> Node:
    """``not operand``."""
    if operand.const:
        return constant(not operand.value)
    inner = operand.fn
    return Node(lambda doc: not inner(doc), boolean=True)


def logical(is_and: bool, parts: list[Node]) -> Node:
    """``a and b ...`` or ``a or b ...``, short-circuiting like Python."""
    fns, boolean = [part.fn for part in parts], all(part.boolean for part in parts)
    if len(fns) == 2:
        a, b = fns
        fn = (lambda doc: a(doc) and b(doc)) if is_and else (lambda doc: a(doc) or b(doc))
        return Node(fn, boolean=boolean)
    stop_on = not is_and

    def chain(doc: Doc) -> Any:  # Python's and/or: the deciding operand
        value: Any = not stop_on
        for part in fns:
            value = part(doc)
            if bool(value) is stop_on:
                return value
        return value

    return Node(chain, boolean=boolean)


def apply(op: Callable[..., Any], operands: list[Node]) -> Node:
    """``op`` over the operands: folded now if all are literals (errors propagate), else guarded."""
    if all(operand.const for operand in operands):
        values = [operand.value for operand in operands]
        if any(is_absent(value) for value in values):
            return constant(MISSING)  # as it would be per task
        return constant(op(*values))
    run, fns = guarded(op), [operand.fn for operand in operands]
    if len(fns) == 1:
        (a,) = fns
        return Node(lambda doc: run(a(doc)))
    if len(fns) == 2:
        a, b = fns
        return Node(lambda doc: run(a(doc), b(doc)))
    return Node(lambda doc: run(*[fn(doc) for fn in fns]))


def compare(test: Callable[[Any, Any], bool], left: Node, right: Node) -> Node:
    """``left op right`` with a never-raising test; a literal side is captured once."""
    if left.const and right.const:
        return constant(test(left.value, right.value))
    a, b = left.fn, right.fn
    if right.const:
        value = right.value
        return Node(lambda doc: test(a(doc), value), boolean=True)
    if left.const:
        value = left.value
        return Node(lambda doc: test(value, b(doc)), boolean=True)
    return Node(lambda doc: test(a(doc), b(doc)), boolean=True)


def absence(other: Node, want_absent: bool) -> Node:
    """``other == None`` (want_absent) or ``other != None``: about absence, not equality."""
    if other.const:
        return constant(is_absent(other.value) is want_absent)
    get = other.fn
    return Node(lambda doc: is_absent(get(doc)) is want_absent, boolean=True)


def presence(path: Path, want: bool) -> Node:
    """Is the key at ``path`` there (its value may be null), as MongoDB's ``$exists``."""
    return Node(lambda doc: (resolve(doc, path) is not MISSING) is want, boolean=True)


def every(tests: list[Node]) -> Node:
    """A chained comparison, ``a < b < c``: all of its links."""
    if len(tests) == 1:
        return tests[0]
    if all(test.const for test in tests):
        return constant(all(test.value for test in tests))
    fns = [test.fn for test in tests]
    return Node(lambda doc: all(fn(doc) for fn in fns), boolean=True)
