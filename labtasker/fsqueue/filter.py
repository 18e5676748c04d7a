"""The filter language: an expression is compiled once into a predicate; pure.

``compile('args.lr > 0.01 and "v1" in list(metadata.tags)')`` parses the text
once, checks every node against a whitelist, and turns the tree into nested
Python closures. Evaluating a task is then plain function calls: no parsing,
no tree walk, no ``eval``, no shared state (so one predicate serves many
threads). ``docs/filters.md`` describes the language for users.

The rule for missing fields: a path that leads nowhere, or to null, is
``MISSING``; every comparison with it is false, ``not`` of that is true, and
arithmetic on it stays ``MISSING``. ``x == None`` asks "is x missing or null".
"""

from __future__ import annotations

import ast
import operator
import re
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pendulum
import simpleeval
from dateutil import parser as dateutil_parser  # pendulum's own fallback parser
from pendulum.tz import get_local_timezone

from labtasker.errors import FilterError
from labtasker.fsqueue import clock
from labtasker.fsqueue.paths import (
    FIELDS,
    MISSING,
    TIMESTAMP_FIELDS,
    Path,
    as_instant,
    check_path,
    closest,
    is_absent,
    resolve,
    split_path,
    step,
)

Doc = Mapping[str, Any]
Predicate = Callable[[Doc], bool]
_Fn = Callable[[Doc], Any]

MAX_LENGTH = 10_000  # characters in an expression
MAX_DEPTH = 100  # nesting of the syntax tree
MAX_INT_BITS = 10_000  # largest integer arithmetic may produce (about 3000 digits)

_LITERALS = {"true": True, "false": False, "null": None}


def compile(expr: str | Mapping[str, Any] | None, *, now: datetime | None = None) -> Predicate:
    """Compile a filter expression, or a dict query, into a predicate over task documents."""
    if expr is None or (isinstance(expr, str) and not expr.strip()):
        return _accept_all
    if isinstance(expr, Mapping):
        return _compile_query(expr)
    if not isinstance(expr, str):
        raise FilterError(f"invalid filter: expected a string or a dict, not {type(expr).__name__}")
    # An expression is one line: newlines and tabs mean nothing, and one line keeps carets right.
    text = expr.translate(_BLANKS).strip()
    try:
        node = _Compiler(text, now).run()
    except _Refused as refused:
        raise _error(refused.problem, text, *refused.span) from None
    if node.const:
        return _accept_all if node.value else _reject_all
    return node.fn if node.boolean else _truthy(node.fn)


def time_filter(
    expr: str | Mapping[str, Any], docs: list[Doc], *, now: datetime | None = None
) -> tuple[int, float]:
    """Compile ``expr`` once, run it over ``docs``: (matches, seconds spent evaluating only)."""
    predicate = compile(expr, now=now)
    start = time.perf_counter()  # a monotonic timer for benchmarks, not the wall clock
    matches = sum(1 for doc in docs if predicate(doc))
    return matches, time.perf_counter() - start


def _accept_all(doc: Doc) -> bool:
    return True


def _reject_all(doc: Doc) -> bool:
    return False


def _truthy(fn: _Fn) -> Predicate:
    return lambda doc: bool(fn(doc))


_BLANKS = {ord(c): " " for c in "\r\n\t\f\v"}


# --- errors -----------------------------------------------------------------


class _Refused(Exception):
    """Internal: why a node was refused, and where (character span)."""

    def __init__(self, problem: str, span: tuple[int, int]) -> None:
        super().__init__(problem)
        self.problem, self.span = problem, span


def _error(problem: str, text: str, start: int, end: int) -> FilterError:
    """A FilterError of three short lines: the problem, the expression, a caret."""
    start = max(0, min(start, len(text)))
    end = max(start + 1, min(end, len(text) + 1))
    shown, offset = text, 0
    if len(text) > 100:  # show a window around the problem, not the whole text
        offset = max(0, start - 40)
        shown = (
            ("..." if offset else "")
            + text[offset : offset + 80]
            + ("..." if offset + 80 < len(text) else "")
        )
        offset -= 3 if offset else 0
    caret = " " * (start - offset) + "^" * min(end - start, 80)
    err = FilterError(f"invalid filter: {problem}\n  {shown}\n  {caret}")
    err.problem, err.expression, err.position = problem, text, start  # type: ignore[attr-defined]
    return err


def _span(text: str, node: ast.AST) -> tuple[int, int]:
    """Character span of a node (ast counts UTF-8 bytes)."""
    raw = text.encode()
    start = len(raw[: getattr(node, "col_offset", 0)].decode(errors="ignore"))
    end = len(raw[: getattr(node, "end_col_offset", None) or len(raw)].decode(errors="ignore"))
    return start, end


_STRING = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*\"""")
_SYNTAX_HINTS = (
    (re.compile(r"(?<![=!<>:])=(?!=)"), "use '==' to compare, not '='"),
    (re.compile(r"&&|&"), "use 'and' instead of '&&' or '&'"),
    (re.compile(r"\|\||\|"), "use 'or' instead of '||' or '|'"),
    (re.compile(r"!(?!=)"), "use 'not' instead of '!'"),
)


def _syntax_refusal(text: str, exc: SyntaxError) -> _Refused:
    """Turn a SyntaxError into a short problem, spotting habits from other languages."""
    blanked = _STRING.sub(lambda m: " " * len(m.group()), text)  # ignore what is inside quotes
    for pattern, problem in _SYNTAX_HINTS:
        found = pattern.search(blanked)
        if found:
            return _Refused(problem, (found.start(), found.end()))
    message = (exc.msg or "invalid syntax").split(". ")[0].replace(" (detected at line 1)", "")
    if message.startswith("Exceeds the limit"):  # an integer literal of thousands of digits
        message = "number too large"
    start = (exc.offset or len(text) + 1) - 1
    if exc.offset in (None, 0) or ("never closed" in message and start >= len(text)):
        start = len(text)
    return _Refused(message, (start, start + 1))


# --- compiled nodes -----------------------------------------------------------


class _Node:
    """A compiled sub-expression: its closure, and what the compiler knows about it."""

    __slots__ = ("boolean", "const", "fn", "path", "value")

    def __init__(
        self,
        fn: _Fn,
        *,
        const: bool = False,
        value: Any = None,
        path: Path | None = None,
        boolean: bool = False,
    ) -> None:
        self.fn, self.const, self.value, self.path, self.boolean = fn, const, value, path, boolean


def _constant(value: Any) -> _Node:
    return _Node(lambda doc: value, const=True, value=value, boolean=isinstance(value, bool))


def _field(path: Path) -> _Node:
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
        return _Node(timestamp if head in TIMESTAMP_FIELDS else top, path=path)
    return _Node(nested if len(rest) == 1 else deep, path=path)


# --- comparison and arithmetic: never raise, false or MISSING instead -------------


def _eq(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING or a is None or b is None:
        return False
    if type(a) is type(b) and type(a) is not datetime:
        return bool(a == b)
    if isinstance(a, date) or isinstance(b, date):  # instants, whatever their form
        left, right = as_instant(a), as_instant(b)
        return left is not None and left == right
    return bool(a == b)


def _ne(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING or a is None or b is None:
        return False
    return not _eq(a, b)


def _ordering(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is MISSING or b is MISSING or a is None or b is None:
            return False
        try:
            return bool(op(a, b))
        except TypeError:  # across types: only instants (naive vs aware, str vs datetime) retry
            left, right = as_instant(a), as_instant(b)
            return left is not None and right is not None and bool(op(left, right))

    return compare


def _contains(a: Any, container: Any) -> bool:
    if a is MISSING or container is MISSING or a is None or container is None:
        return False
    try:
        return a in container
    except TypeError:
        return False


def _not_contains(a: Any, container: Any) -> bool:
    if a is MISSING or container is MISSING or a is None or container is None:
        return False
    try:
        return a not in container
    except TypeError:
        return False


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: _eq,
    ast.NotEq: _ne,
    ast.Lt: _ordering(operator.lt),
    ast.LtE: _ordering(operator.le),
    ast.Gt: _ordering(operator.gt),
    ast.GtE: _ordering(operator.ge),
    ast.In: _contains,
    ast.NotIn: _not_contains,
}


def _mul(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise simpleeval.NumberTooHigh("product too large")
    return simpleeval.safe_mult(a, b)  # bounds repeated strings and lists


def _pow(a: Any, b: Any) -> Any:
    if (
        isinstance(a, int)
        and isinstance(b, int)
        and b > 0
        and a.bit_length() * b > MAX_INT_BITS + b
    ):
        raise simpleeval.NumberTooHigh("power too large")
    return a**b  # floats overflow quickly with OverflowError


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):  # "%s" % x is string formatting, and "%*d" can be huge
        raise TypeError("string formatting with % is not allowed")
    return a % b


# simpleeval's bounded add and multiply; its power bound (4e6 either side) is too
# loose for ints and too strict for floats, hence _pow.
_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: simpleeval.DEFAULT_OPERATORS[ast.Add],
    ast.Sub: simpleeval.DEFAULT_OPERATORS[ast.Sub],
    ast.Mult: _mul,
    ast.Div: simpleeval.DEFAULT_OPERATORS[ast.Div],
    ast.FloorDiv: simpleeval.DEFAULT_OPERATORS[ast.FloorDiv],
    ast.Mod: _mod,
    ast.Pow: _pow,
}
_ARITHMETIC_ERRORS = (ArithmeticError, TypeError, ValueError, simpleeval.InvalidExpression)


def _guarded(op: Callable[..., Any]) -> Callable[..., Any]:
    """``op`` for one task: MISSING in, or any arithmetic error, gives MISSING."""

    def run(*values: Any) -> Any:
        for value in values:
            if value is MISSING or value is None:
                return MISSING
        try:
            return op(*values)
        except _ARITHMETIC_ERRORS:
            return MISSING

    return run


# --- functions ------------------------------------------------------------------


def _as_list(x: Any) -> Any:
    return list(x) if isinstance(x, (list, tuple)) else MISSING


def _as_dict(x: Any) -> Any:
    return x if isinstance(x, Mapping) else MISSING


def _length(x: Any) -> Any:
    return len(x) if isinstance(x, (str, list, tuple, Mapping)) else MISSING


def _text(method: Callable[[str], str]) -> Callable[[Any], Any]:
    return lambda x: method(x) if isinstance(x, str) else MISSING


def _to_str(x: Any) -> Any:
    return x.isoformat() if isinstance(x, datetime) else str(x)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    """min/max of several values, or of one list."""
    return lambda *xs: pick(xs[0]) if len(xs) == 1 else pick(xs)


# Plain functions of their values: name -> (implementation, fewest args, most args).
_FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "list": (_as_list, 1, 1),
    "dict": (_as_dict, 1, 1),
    "len": (_length, 1, 1),
    "lower": (_text(str.lower), 1, 1),
    "upper": (_text(str.upper), 1, 1),
    "str": (_to_str, 1, 1),
    "int": (int, 1, 1),
    "float": (float, 1, 1),
    "abs": (abs, 1, 1),
    "min": (_extreme(min), 1, 32),
    "max": (_extreme(max), 1, 32),
}
# Functions the compiler treats itself (their arguments are checked at compile time).
_SPECIAL = {"date": (1, 1), "regex": (2, 2), "exists": (1, 1)}
_ALL_FUNCTIONS = sorted([*_FUNCTIONS, *_SPECIAL])

_UNITS = {
    "s": "seconds", "sec": "seconds", "second": "seconds",
    "m": "minutes", "min": "minutes", "minute": "minutes",
    "h": "hours", "hr": "hours", "hour": "hours",
    "d": "days", "day": "days", "w": "weeks", "week": "weeks",
    "month": "months", "y": "years", "yr": "years", "year": "years",
}  # fmt: skip
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?|an?|one)\s*([a-z]+)[\s,]*(?:and\s+)?")


class _BadDate(ValueError):
    """A date() text whose problem is worth telling the user as is."""


def parse_date(text: str, now: datetime) -> datetime:
    """``date(text)``: "3 hours ago", "yesterday", or an absolute time; ValueError if unreadable."""
    try:
        return _read_date(text, now)
    except (TypeError, ArithmeticError) as exc:  # the parsers' own stumbles
        raise ValueError(f"cannot read {text!r}: {exc}") from None


def _read_date(text: str, now: datetime) -> datetime:
    words = " ".join(text.lower().split())
    if words in ("now", "today", "yesterday", "tomorrow"):
        if words == "now":
            return now
        today = pendulum.instance(now).in_timezone(_local_zone()).start_of("day")
        return _utc(today.add(days={"today": 0, "yesterday": -1, "tomorrow": 1}[words]))
    sign = -1 if words.endswith(" ago") else 1 if words.startswith("in ") else 0
    if sign:
        return _relative(words.removesuffix(" ago").removeprefix("in "), now, sign)
    return _absolute(text.strip(), now)


def _relative(words: str, now: datetime, sign: int) -> datetime:
    fixed, moved, end = timedelta(), pendulum.instance(now), 0
    for found in _AMOUNT.finditer(words):
        if found.start() != end:
            break
        end = found.end()
        amount = 1.0 if found[1] in ("a", "an", "one") else float(found[1])
        unit = _UNITS.get(found[2]) or _UNITS.get(found[2].removesuffix("s"))
        if unit is None:
            raise _BadDate(f"unknown unit {found[2]!r}")
        if unit in ("months", "years"):  # calendar arithmetic, whole units only
            moved = moved.add(**{unit: sign * int(amount)})
        else:
            fixed += timedelta(**{unit: sign * amount})
    if end != len(words) or not words:
        raise ValueError(f"cannot read {words!r}")
    return _utc(moved + fixed)


def _absolute(text: str, now: datetime) -> datetime:
    zone = _local_zone()
    local_now = pendulum.instance(now).in_timezone(zone)
    try:
        parsed: Any = pendulum.parse(text, tz=zone, now=local_now.naive())
    except ValueError:  # "Nov 20 11:25" and friends: the missing parts come from now
        # A stdlib default (a pendulum one would come back naive and stay so).
        default = datetime(local_now.year, local_now.month, local_now.day)  # noqa: DTZ001
        parsed = dateutil_parser.parse(text, default=default, tzinfos=_zone_named)
    if not isinstance(parsed, datetime):
        raise ValueError(f"{text!r} is not a point in time")
    if parsed.tzinfo is None:
        parsed = pendulum.instance(parsed, tz=zone)
    return _utc(parsed)


def _zone_named(name: str | None, offset: int | None) -> int | None:
    """Zones for dateutil: offsets and UTC; a zone name it cannot know is an error, not a guess."""
    if offset is not None or name is None:
        return offset
    if name.upper() in ("UTC", "GMT", "Z"):
        return 0
    raise _BadDate(f"unknown time zone {name!r}; write an offset such as +01:00")


def _local_zone() -> Any:
    """The zone a date without one is read in (tests replace this)."""
    return get_local_timezone()


def _utc(moment: datetime) -> datetime:
    """A plain stdlib datetime in UTC, which compares fastest."""
    u = moment.astimezone(timezone.utc)
    return datetime(
        u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tzinfo=timezone.utc
    )


def _date_of(now: datetime) -> Callable[[Any], Any]:
    """``date(x)`` for a value read from a task; unreadable gives MISSING."""

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            try:
                return parse_date(value, now)
            except ValueError:
                return MISSING
        return as_instant(value) or MISSING

    return convert


# --- the compiler ---------------------------------------------------------------

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


class _Compiler:
    """Turns one parsed expression into a tree of closures, refusing anything unknown.

    ``build`` dispatches on the node's class name: ``_Name`` compiles ``ast.Name``
    and so on; a class without a method here is refused.
    """

    def __init__(self, text: str, now: datetime | None) -> None:
        self.text = text
        self._now = now

    def run(self) -> _Node:
        if len(self.text) > MAX_LENGTH:
            raise _Refused(
                f"expression too long ({len(self.text)} characters, limit {MAX_LENGTH})", (0, 1)
            )
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as exc:
            raise _syntax_refusal(self.text, exc) from None
        except (RecursionError, MemoryError, ValueError):
            raise _Refused("expression nested too deeply", (0, len(self.text))) from None
        self._check_depth(tree.body)
        return self.build(tree.body)

    def now(self) -> datetime:
        """The ``now`` of relative dates; the clock is read at most once, only if needed."""
        if self._now is None:
            self._now = clock.now()
        elif self._now.tzinfo is None:
            self._now = self._now.replace(tzinfo=timezone.utc)
        return self._now

    def refuse(self, problem: str, node: ast.AST) -> _Refused:
        return _Refused(problem, _span(self.text, node))

    def _check_depth(self, root: ast.AST) -> None:
        stack = [(root, 0)]  # iterative: a deep tree must not overflow the checker itself
        while stack:
            node, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise self.refuse(f"expression nested too deeply (limit {MAX_DEPTH})", node)
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))

    def build(self, node: ast.AST) -> _Node:
        if type(node) in _NOT_ALLOWED:
            raise self.refuse(_NOT_ALLOWED[type(node)], node)
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise self.refuse(f"{type(node).__name__} is not allowed in a filter", node)
        result: _Node = method(node)
        return result

    # Leaves: literals, names, paths.

    def _Constant(self, node: ast.Constant) -> _Node:
        value = node.value
        if value is not None and type(value) not in (str, int, float, bool):
            raise self.refuse(f"{type(value).__name__} literals are not supported", node)
        if type(value) is int and value.bit_length() > MAX_INT_BITS:
            raise self.refuse("number too large", node)
        return _constant(value)

    def _Name(self, node: ast.Name) -> _Node:
        name = node.id
        if name in _LITERALS:
            return _constant(_LITERALS[name])
        if name in FIELDS:
            return _field((name,))
        if name in _FUNCTIONS or name in _SPECIAL:
            raise self.refuse(f"{name} is a function; call it, e.g. {name}(...)", node)
        if name.startswith("__"):
            raise self.refuse(f"unknown name {name!r}", node)
        hint = closest(name, FIELDS) or f"args.{name}"
        raise self.refuse(f"unknown name {name!r} (did you mean {hint}?)", node)

    def _Attribute(self, node: ast.Attribute) -> _Node:
        where = (_span(self.text, node.value)[1], _span(self.text, node)[1])  # the ".attr" part
        base = self.build(node.value)
        if base.path is None or node.attr.startswith("__"):
            raise _Refused(
                "attribute access is not allowed (dots only go into fields, as in args.lr)", where
            )
        return _field((*base.path, node.attr))

    def _Subscript(self, node: ast.Subscript) -> _Node:
        key = self.build(node.slice)
        if not key.const or type(key.value) not in (str, int):
            raise self.refuse(
                "an index must be a string or integer literal, as in args['lr'] or tags[0]",
                node.slice,
            )
        if isinstance(key.value, str) and (not key.value or key.value.startswith("__")):
            raise self.refuse("empty and '__' keys are not allowed", node.slice)
        base, index = self.build(node.value), key.value
        if base.path is not None:
            return _field((*base.path, index))
        if base.const:
            return _constant(step(base.value, index))
        get = base.fn
        return _Node(lambda doc: step(get(doc), index))

    def _List(self, node: ast.List | ast.Tuple | ast.Set) -> _Node:
        items = [self.build(item) for item in node.elts]
        if all(item.const for item in items):  # tuples and sets become lists, like YAML's
            return _constant([item.value for item in items])
        fns = [item.fn for item in items]
        return _Node(lambda doc: [fn(doc) for fn in fns])

    _Tuple = _List
    _Set = _List

    def _Dict(self, node: ast.Dict) -> _Node:
        keys = [None if key is None else self.build(key) for key in node.keys]
        if any(
            key is None or not key.const or type(key.value) not in (str, int, float, bool)
            for key in keys
        ):
            raise self.refuse(
                "dict keys must be string or number literals ('**' is not allowed)", node
            )
        values = [self.build(value).fn for value in node.values]
        pairs = [(key.value, fn) for key, fn in zip(keys, values, strict=True)]  # type: ignore[union-attr]
        return _Node(lambda doc: {k: fn(doc) for k, fn in pairs})

    # Operators.

    def _BoolOp(self, node: ast.BoolOp) -> _Node:
        parts = [self.build(value) for value in node.values]
        fns, boolean = [part.fn for part in parts], all(part.boolean for part in parts)
        if len(fns) == 2:
            a, b = fns
            fn = (
                (lambda doc: a(doc) and b(doc))
                if isinstance(node.op, ast.And)
                else (lambda doc: a(doc) or b(doc))
            )
            return _Node(fn, boolean=boolean)
        stop_on = not isinstance(node.op, ast.And)

        def chain(doc: Doc) -> Any:  # Python's and/or: the deciding operand
            value: Any = not stop_on
            for part in fns:
                value = part(doc)
                if bool(value) is stop_on:
                    return value
            return value

        return _Node(chain, boolean=boolean)

    def _UnaryOp(self, node: ast.UnaryOp) -> _Node:
        if type(node.op) in _OPERATOR_HINTS:
            raise self.refuse(_OPERATOR_HINTS[type(node.op)], node)
        operand = self.build(node.operand)
        if isinstance(node.op, ast.Not):
            if operand.const:
                return _constant(not operand.value)
            inner = operand.fn
            return _Node(lambda doc: not inner(doc), boolean=True)
        op = operator.neg if isinstance(node.op, ast.USub) else operator.pos
        return self._arithmetic(op, [operand], node)

    def _BinOp(self, node: ast.BinOp) -> _Node:
        op = _ARITHMETIC.get(type(node.op))
        if op is None:
            problem = _OPERATOR_HINTS.get(type(node.op), "this operator is not supported")
            raise self.refuse(problem, node)
        left, right = self.build(node.left), self.build(node.right)
        if op is _mod and left.const and isinstance(left.value, str):
            raise self.refuse("string formatting with '%' is not allowed", node)
        return self._arithmetic(op, [left, right], node)

    def _arithmetic(self, op: Callable[..., Any], operands: list[_Node], node: ast.AST) -> _Node:
        """Fold literals now (so ``10**10**10`` is refused before any task); else guard per task."""
        if all(operand.const for operand in operands):
            values = [operand.value for operand in operands]
            if any(is_absent(value) for value in values):
                return _constant(MISSING)  # as it would be per task
            try:
                return _constant(op(*values))
            except simpleeval.InvalidExpression:
                raise self.refuse("result too large", node) from None
            except _ARITHMETIC_ERRORS as exc:
                raise self.refuse(str(exc) or type(exc).__name__, node) from None
        run, fns = _guarded(op), [operand.fn for operand in operands]
        if len(fns) == 1:
            (a,) = fns
            return _Node(lambda doc: run(a(doc)))
        a, b = fns
        return _Node(lambda doc: run(a(doc), b(doc)))

    def _Compare(self, node: ast.Compare) -> _Node:
        left, tests = self.build(node.left), []
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.build(right_node)
            tests.append(self._comparison(op, left, right, node))
            left = right
        if len(tests) == 1:
            return tests[0]
        if all(test.const for test in tests):
            return _constant(all(test.value for test in tests))
        fns = [test.fn for test in tests]
        return _Node(lambda doc: all(fn(doc) for fn in fns), boolean=True)

    def _comparison(self, op: ast.cmpop, left: _Node, right: _Node, node: ast.AST) -> _Node:
        """One ``left op right``; a comparison with the literal None asks about absence."""
        kind = type(op)
        if kind in (ast.Is, ast.IsNot, ast.Eq, ast.NotEq) and (_is_none(left) or _is_none(right)):
            other = right if _is_none(left) else left
            want_absent = kind in (ast.Is, ast.Eq)
            if other.const:
                return _constant(is_absent(other.value) is want_absent)
            get = other.fn
            return _Node(lambda doc: is_absent(get(doc)) is want_absent, boolean=True)
        if kind in (ast.Is, ast.IsNot):
            raise self.refuse("'is' only works with None; use '==' to compare values", node)
        test = _COMPARE[kind]
        if left.const and right.const:
            return _constant(test(left.value, right.value))
        a, b = left.fn, right.fn
        if right.const:
            value = right.value
            return _Node(lambda doc: test(a(doc), value), boolean=True)
        if left.const:
            value = left.value
            return _Node(lambda doc: test(value, b(doc)), boolean=True)
        return _Node(lambda doc: test(a(doc), b(doc)), boolean=True)

    # Function calls.

    def _Call(self, node: ast.Call) -> _Node:
        if not isinstance(node.func, ast.Name):
            raise self.refuse(
                f"calling methods is not allowed; the functions are {', '.join(_ALL_FUNCTIONS)}",
                node.func,
            )
        name = node.func.id
        if name not in _FUNCTIONS and name not in _SPECIAL:
            hint = closest(name, _ALL_FUNCTIONS)
            more = (
                f" (did you mean {hint}?)"
                if hint
                else f"; functions are {', '.join(_ALL_FUNCTIONS)}"
            )
            problem = (
                f"{name!r} is a field, not a function"
                if name in FIELDS
                else f"unknown function {name!r}"
            )
            raise self.refuse(problem + more, node.func)
        if node.keywords:
            raise self.refuse(f"{name}() takes positional arguments only", node.keywords[0])
        fewest, most = _FUNCTIONS[name][1:] if name in _FUNCTIONS else _SPECIAL[name]
        if not fewest <= len(node.args) <= most:
            count = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise self.refuse(
                f"{name}() takes {count} argument{'s' * (most > 1)}, not {len(node.args)}", node
            )
        if name in _SPECIAL:
            special: Callable[[ast.Call], _Node] = getattr(self, f"_call_{name}")
            return special(node)
        args = [self.build(arg) for arg in node.args]
        return (
            self._arithmetic(_FUNCTIONS[name][0], args, node)
            if len(args) <= 2
            else self._apply(name, args, node)
        )

    def _apply(self, name: str, args: list[_Node], node: ast.AST) -> _Node:
        """A plain function of three or more arguments (min, max)."""
        if all(arg.const for arg in args):
            return self._arithmetic(lambda *xs: _FUNCTIONS[name][0](*xs), args, node)
        run, fns = _guarded(_FUNCTIONS[name][0]), [arg.fn for arg in args]
        return _Node(lambda doc: run(*[fn(doc) for fn in fns]))

    def _call_exists(self, node: ast.Call) -> _Node:
        target = self.build(node.args[0])
        if target.path is None:
            raise self.refuse("exists() takes a field path, as in exists(args.lr)", node.args[0])
        get = target.fn
        return _Node(lambda doc: not is_absent(get(doc)), boolean=True)

    def _call_regex(self, node: ast.Call) -> _Node:
        subject, pattern = self.build(node.args[0]), self.build(node.args[1])
        if not pattern.const or not isinstance(pattern.value, str):
            raise self.refuse("regex() needs its pattern as a string literal", node.args[1])
        try:
            search = re.compile(pattern.value).search
        except re.error as exc:
            raise self.refuse(f"bad regular expression: {exc}", node.args[1]) from None
        get = subject.fn
        return _Node(lambda doc: _matches(search, get(doc)), boolean=True)

    def _call_date(self, node: ast.Call) -> _Node:
        arg = self.build(node.args[0])
        if not arg.const:
            convert, get = _date_of(self.now()), arg.fn
            return _Node(lambda doc: convert(get(doc)))
        if not isinstance(arg.value, str):
            raise self.refuse('date() takes a string, as in date("3 hours ago")', node.args[0])
        try:
            return _constant(parse_date(arg.value, self.now()))
        except ValueError as exc:
            examples = '"3 hours ago", "2026-11-20" or "Nov 20 11:25"'
            why = str(exc) if isinstance(exc, _BadDate) else f"write e.g. {examples}"
            problem = f"date() cannot read {arg.value!r}: {why}"
            raise self.refuse(problem, node.args[0]) from None


def _is_none(node: _Node) -> bool:
    return node.const and node.value is None


def _matches(search: Callable[[str], Any], value: Any) -> bool:
    return type(value) is str and search(value) is not None


# --- dict queries: {"args.lr": {"$gt": 0.1}}, with MongoDB's meaning -----------------

_QUERY_OPERATORS = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$exists",
    "$regex",
    "$options",
)
_Test = Callable[[Any], bool]


class _QueryRefused(Exception):
    """Internal: why a dict query was refused."""


def _compile_query(query: Mapping[str, Any]) -> Predicate:
    try:
        return _query(query)
    except _QueryRefused as exc:
        shown = repr(dict(query))
        shown = shown if len(shown) <= 200 else shown[:197] + "..."
        raise FilterError(f"invalid filter: {exc}\n  in {shown}") from None


def _query(query: Any) -> Predicate:
    if not isinstance(query, Mapping):
        raise _QueryRefused(f"expected a dict, not {query!r}")
    tests = [_query_item(key, cond) for key, cond in query.items()]
    if not tests:
        return _accept_all
    if len(tests) == 1:
        return tests[0]
    return lambda doc: all(test(doc) for test in tests)


def _query_item(key: Any, cond: Any) -> Predicate:
    if key in ("$and", "$or"):
        if not isinstance(cond, (list, tuple)) or not cond:
            raise _QueryRefused(f"{key} takes a non-empty list of dicts")
        parts = [_query(part) for part in cond]
        if key == "$and":
            return lambda doc: all(part(doc) for part in parts)
        return lambda doc: any(part(doc) for part in parts)
    if not isinstance(key, str) or key.startswith("$"):
        hint = closest(str(key), ("$and", "$or"))
        raise _QueryRefused(
            f"unknown operator {key!r}" + (f" (did you mean {hint}?)" if hint else "")
        )
    path = ("task_id", *split_path(key)[1:]) if split_path(key)[0] == "_id" else split_path(key)
    problem = check_path(path)
    if problem:
        raise _QueryRefused(problem)
    test = _condition(cond)
    return lambda doc: test(resolve(doc, path))


def _condition(cond: Any) -> _Test:
    """The test a field's value must pass: operators, or plain equality."""
    if not (isinstance(cond, Mapping) and any(str(k).startswith("$") for k in cond)):
        return lambda value: _query_eq(value, cond)
    tests = [_operator(op, arg, cond) for op, arg in cond.items() if op != "$options"]
    if "$options" in cond and "$regex" not in cond:
        raise _QueryRefused("$options only goes with $regex")
    return tests[0] if len(tests) == 1 else lambda value: all(test(value) for test in tests)


def _operator(op: Any, arg: Any, cond: Mapping[str, Any]) -> _Test:
    if op in ("$eq", "$ne"):
        want = op == "$eq"
        return lambda value: _query_eq(value, arg) is want
    if op in ("$in", "$nin"):
        if not isinstance(arg, (list, tuple)):
            raise _QueryRefused(f"{op} takes a list, not {arg!r}")
        want, choices = op == "$in", list(arg)
        return lambda value: any(_query_eq(value, choice) for choice in choices) is want
    if op in ("$gt", "$gte", "$lt", "$lte"):
        test = _COMPARE[{"$gt": ast.Gt, "$gte": ast.GtE, "$lt": ast.Lt, "$lte": ast.LtE}[op]]
        return lambda value: test(value, arg)
    if op == "$exists":
        want = bool(arg)
        return lambda value: (not is_absent(value)) is want
    if op == "$regex":
        search = _query_regex(arg, cond.get("$options", ""))
        return lambda value: _matches(search, value)
    hint = closest(str(op), _QUERY_OPERATORS)
    raise _QueryRefused(f"unknown operator {op!r}" + (f" (did you mean {hint}?)" if hint else ""))


def _query_eq(value: Any, want: Any) -> bool:
    """MongoDB equality: None matches absent, a list field matches any of its items."""
    if want is None:
        return is_absent(value)
    if isinstance(value, list) and not isinstance(want, (list, tuple)):
        return any(_eq(item, want) for item in value)
    return _eq(value, list(want) if isinstance(want, tuple) else want)


def _query_regex(pattern: Any, options: Any) -> Callable[[str], Any]:
    if isinstance(pattern, re.Pattern):
        return pattern.search
    flags = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
    if not isinstance(pattern, str) or not isinstance(options, str) or set(options) - set(flags):
        raise _QueryRefused(
            f"$regex takes a string pattern and $options from 'imsx', not {pattern!r}, {options!r}"
        )
    try:
        return re.compile(pattern, sum((flags[f] for f in set(options)), 0)).search
    except re.error as exc:
        raise _QueryRefused(f"bad regular expression {pattern!r}: {exc}") from None
