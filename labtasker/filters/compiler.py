"""The expression compiler: parse once, check every node against a whitelist, build closures.

``Compiler(text, now).run()`` gives the root ``Node`` or raises ``Refused``
with the span of the offending part. Only the syntax the filter language has is
accepted; everything else, attribute access and method calls included, is
refused before any task is seen. The closures come from ``nodes``.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import simpleeval

from labtasker.filters import nodes
from labtasker.filters.dates import BadDate, date_of, parse_date
from labtasker.filters.field_paths import FIELDS, check_path, closest, split_path
from labtasker.filters.nodes import Node
from labtasker.filters.refusals import Refused, span, syntax_refusal
from labtasker.filters.values import (
    ARITHMETIC,
    ARITHMETIC_ERRORS,
    COMPARE,
    FUNCTIONS,
    MAX_INT_BITS,
    matches,
    mod,
)
from labtasker.fsqueue import clock

MAX_LENGTH = 10_000  # characters in an expression
MAX_DEPTH = 100  # nesting of the syntax tree

_LITERALS = {"true": True, "false": False, "null": None}
# Functions the compiler treats itself (their arguments are checked at compile time).
_SPECIAL = {"date": (1, 1), "regex": (2, 2), "exists": (1, 2)}
_ALL_FUNCTIONS = sorted([*FUNCTIONS, *_SPECIAL])

_NOT_ALLOWED = {
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.IfExp: "'x if c else y' is not supported; use 'and' / 'or'",
    ast.NamedExpr: "assignment is not allowed; use '==' to compare",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Slice: "slices are not supported",
}
_OPERATOR_HINTS = {
    ast.BitAnd: "use 'and' instead of '&'",
    ast.BitOr: "use 'or' instead of '|'",
    ast.Invert: "use 'not' instead of '~'",
}


class Compiler:
    """Turns one parsed expression into a tree of closures, refusing anything unknown.

    ``build`` dispatches on the node's class name: ``_Name`` compiles ``ast.Name``
    and so on; a class without a method here is refused.
    """

    def __init__(self, text: str, now: datetime | None, fields: frozenset[str] = FIELDS) -> None:
        self.text = text
        self._now = now
        self.fields = fields  # the names a filter may use: a task's fields, or a worker's

    def run(self) -> Node:
        """The compiled root of the expression; Refused if any part is not allowed."""
        if len(self.text) > MAX_LENGTH:
            raise Refused(f"expression too long ({len(self.text)} characters, limit {MAX_LENGTH})", (0, 1))
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as exc:
            raise syntax_refusal(self.text, exc) from None
        except (RecursionError, MemoryError, ValueError):
            raise Refused("expression nested too deeply", (0, len(self.text))) from None
        self._check_depth(tree.body)
        return self.condition(tree.body)

    def condition(self, node: ast.AST) -> Node:
        """Compile a node that must be a test of each task: never a value, never a constant.

        A filter that is not a condition would be true (or false) for every task,
        and an update or delete through it would touch them all: refused instead.
        """
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(value) for value in node.values]
            return nodes.logical(isinstance(node.op, ast.And), parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return nodes.negate(self.condition(node.operand))
        built = self.build(node)
        if built.const:
            raise self.refuse(
                "a constant is not a condition: it would hold for every task or for none;"
                " compare a field, as in args.lr > 0.01",
                node,
            )
        if not built.boolean:
            if isinstance(node, ast.Dict):
                problem = "a dict is not a condition; a dict query (MongoDB style) must be the whole filter"
            elif built.path is not None:
                shown = ".".join(map(str, built.path))
                problem = (
                    f"{shown} is a field, not a condition; compare it, as in {shown} == true,"
                    f" or test it, as in exists({shown})"
                )
            else:
                problem = "this is a value, not a condition; compare it, as in len(metadata.tags) > 0"
            raise self.refuse(problem, node)
        return built

    def now(self) -> datetime:
        """The ``now`` of relative dates; the clock is read at most once, only if needed."""
        if self._now is None:
            self._now = clock.now()
        elif self._now.tzinfo is None:
            self._now = self._now.replace(tzinfo=timezone.utc)
        return self._now

    def refuse(self, problem: str, node: ast.AST) -> Refused:
        """The refusal of ``node``, pointing at its text."""
        return Refused(problem, span(self.text, node))

    def _check_depth(self, root: ast.AST) -> None:
        stack = [(root, 0)]  # iterative: a deep tree must not overflow the checker itself
        while stack:
            node, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise self.refuse(f"expression nested too deeply (limit {MAX_DEPTH})", node)
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))

    def build(self, node: ast.AST) -> Node:
        """Compile one syntax node (and its children)."""
        if type(node) in _NOT_ALLOWED:
            raise self.refuse(_NOT_ALLOWED[type(node)], node)
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise self.refuse(f"{type(node).__name__} is not allowed in a filter", node)
        result: Node = method(node)
        return result

    # Leaves: literals, names, paths.

    def _Constant(self, node: ast.Constant) -> Node:
        value = node.value
        if value is not None and type(value) not in (str, int, float, bool):
            raise self.refuse(f"{type(value).__name__} literals are not supported", node)
        if type(value) is int and value.bit_length() > MAX_INT_BITS:
            raise self.refuse("number too large", node)
        return nodes.constant(value)

    def _Name(self, node: ast.Name) -> Node:
        name = node.id
        if name in _LITERALS:
            return nodes.constant(_LITERALS[name])
        if name in self.fields:
            return nodes.field((name,))
        if name in FUNCTIONS or name in _SPECIAL:
            raise self.refuse(f"{name} is a function; call it, e.g. {name}(...)", node)
        if name.startswith("__"):
            raise self.refuse(f"unknown name {name!r}", node)
        hint = closest(name, self.fields) or (f"args.{name}" if "args" in self.fields else None)
        if hint is None:
            raise self.refuse(f"unknown name {name!r}; fields are {', '.join(sorted(self.fields))}", node)
        raise self.refuse(f"unknown name {name!r} (did you mean {hint}?)", node)

    def _Attribute(self, node: ast.Attribute) -> Node:
        where = (span(self.text, node.value)[1], span(self.text, node)[1])  # the ".attr" part
        base = self.build(node.value)
        if base.path is None or node.attr.startswith("__"):
            raise Refused("attribute access is not allowed (dots only go into fields, as in args.lr)", where)
        return nodes.field((*base.path, node.attr))

    def _Subscript(self, node: ast.Subscript) -> Node:
        key = self.build(node.slice)
        if not key.const or type(key.value) not in (str, int):
            raise self.refuse(
                "an index must be a string or integer literal, as in args['lr'] or tags[0]",
                node.slice,
            )
        if isinstance(key.value, str) and (not key.value or key.value.startswith("__")):
            raise self.refuse("empty and '__' keys are not allowed", node.slice)
        base = self.build(node.value)
        if base.path is not None:
            return nodes.field((*base.path, key.value))
        return nodes.index(base, key.value)

    def _List(self, node: ast.List | ast.Tuple | ast.Set) -> Node:
        return nodes.sequence([self.build(item) for item in node.elts])

    _Tuple = _List
    _Set = _List

    def _Dict(self, node: ast.Dict) -> Node:
        keys = [None if key is None else self.build(key) for key in node.keys]
        if any(
            key is None or not key.const or type(key.value) not in (str, int, float, bool) for key in keys
        ):
            raise self.refuse("dict keys must be string or number literals ('**' is not allowed)", node)
        values = [self.build(value) for value in node.values]
        return nodes.mapping([(key.value, value) for key, value in zip(keys, values, strict=True)])  # type: ignore[union-attr]

    # Operators.

    def _BoolOp(self, node: ast.BoolOp) -> Node:
        parts = [self.build(value) for value in node.values]
        return nodes.logical(isinstance(node.op, ast.And), parts)

    def _UnaryOp(self, node: ast.UnaryOp) -> Node:
        if type(node.op) in _OPERATOR_HINTS:
            raise self.refuse(_OPERATOR_HINTS[type(node.op)], node)
        operand = self.build(node.operand)
        if isinstance(node.op, ast.Not):
            return nodes.negate(operand)
        op = operator.neg if isinstance(node.op, ast.USub) else operator.pos
        return self._arithmetic(op, [operand], node)

    def _BinOp(self, node: ast.BinOp) -> Node:
        op = ARITHMETIC.get(type(node.op))
        if op is None:
            problem = _OPERATOR_HINTS.get(type(node.op), "this operator is not supported")
            raise self.refuse(problem, node)
        left, right = self.build(node.left), self.build(node.right)
        if op is mod and left.const and isinstance(left.value, str):
            raise self.refuse("string formatting with '%' is not allowed", node)
        return self._arithmetic(op, [left, right], node)

    def _arithmetic(self, op: Callable[..., Any], operands: list[Node], node: ast.AST) -> Node:
        """Fold literals now (so ``10**10**10`` is refused before any task); else guard per task."""
        try:
            return nodes.apply(op, operands)
        except simpleeval.InvalidExpression:
            raise self.refuse("result too large", node) from None
        except ARITHMETIC_ERRORS as exc:
            raise self.refuse(str(exc) or type(exc).__name__, node) from None

    def _Compare(self, node: ast.Compare) -> Node:
        left, tests = self.build(node.left), []
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.build(right_node)
            tests.append(self._comparison(op, left, right, node))
            left = right
        return nodes.every(tests)

    def _comparison(self, op: ast.cmpop, left: Node, right: Node, node: ast.AST) -> Node:
        """One ``left op right``; a comparison with the literal None asks about absence."""
        kind = type(op)
        if kind in (ast.Is, ast.IsNot, ast.Eq, ast.NotEq) and (nodes.is_none(left) or nodes.is_none(right)):
            other = right if nodes.is_none(left) else left
            return nodes.absence(other, want_absent=kind in (ast.Is, ast.Eq))
        if kind in (ast.Is, ast.IsNot):
            raise self.refuse("'is' only works with None; use '==' to compare values", node)
        return nodes.compare(COMPARE[kind], left, right)

    # Function calls.

    def _Call(self, node: ast.Call) -> Node:
        name = self._callee(node)
        if node.keywords:
            raise self.refuse(f"{name}() takes positional arguments only", node.keywords[0])
        fewest, most = FUNCTIONS[name][1:] if name in FUNCTIONS else _SPECIAL[name]
        if not fewest <= len(node.args) <= most:
            count = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise self.refuse(
                f"{name}() takes {count} argument{'s' * (most > 1)}, not {len(node.args)}", node
            )
        if name in _SPECIAL:
            special: Callable[[ast.Call], Node] = getattr(self, f"_call_{name}")
            return special(node)
        return self._arithmetic(FUNCTIONS[name][0], [self.build(arg) for arg in node.args], node)

    def _callee(self, node: ast.Call) -> str:
        """The name of a known function, or a refusal saying what the functions are."""
        if not isinstance(node.func, ast.Name):
            raise self.refuse(
                f"calling methods is not allowed; the functions are {', '.join(_ALL_FUNCTIONS)}",
                node.func,
            )
        name = node.func.id
        if name in FUNCTIONS or name in _SPECIAL:
            return name
        hint = closest(name, _ALL_FUNCTIONS)
        more = f" (did you mean {hint}?)" if hint else f"; functions are {', '.join(_ALL_FUNCTIONS)}"
        problem = (
            f"{name!r} is a field, not a function" if name in self.fields else f"unknown function {name!r}"
        )
        raise self.refuse(problem + more, node.func)

    def _call_exists(self, node: ast.Call) -> Node:
        """``exists(args.lr)``, ``exists("args.lr")``, ``exists(args.lr, False)``: is the key there.

        As MongoDB's ``$exists``: a key whose value is null exists.
        """
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            path = split_path(first.value)
            problem = check_path(path, fields=self.fields)
            if problem:
                raise self.refuse(problem, first)
        else:
            target = self.build(first)
            if target.path is None:
                raise self.refuse("exists() takes a field path, as in exists(args.lr)", first)
            path = target.path
        want = True
        if len(node.args) == 2:
            flag = self.build(node.args[1])
            if not flag.const or not isinstance(flag.value, bool):
                raise self.refuse("exists() takes True or False as its second argument", node.args[1])
            want = flag.value
        return nodes.presence(path, want)

    def _call_regex(self, node: ast.Call) -> Node:
        subject, pattern = self.build(node.args[0]), self.build(node.args[1])
        if not pattern.const or not isinstance(pattern.value, str):
            raise self.refuse("regex() needs its pattern as a string literal", node.args[1])
        try:
            search = re.compile(pattern.value).search
        except re.error as exc:
            raise self.refuse(f"bad regular expression: {exc}", node.args[1]) from None
        get = subject.fn
        return Node(lambda doc: matches(search, get(doc)), boolean=True)

    def _call_date(self, node: ast.Call) -> Node:
        arg = self.build(node.args[0])
        if not arg.const:
            convert, get = date_of(self.now()), arg.fn
            return Node(lambda doc: convert(get(doc)))
        if not isinstance(arg.value, str):
            raise self.refuse('date() takes a string, as in date("3 hours ago")', node.args[0])
        try:
            return nodes.constant(parse_date(arg.value, self.now()))
        except ValueError as exc:
            examples = '"3 hours ago", "2026-11-20" or "Nov 20 11:25"'
            why = str(exc) if isinstance(exc, BadDate) else f"write e.g. {examples}"
            problem = f"date() cannot read {arg.value!r}: {why}"
            raise self.refuse(problem, node.args[0]) from None
