"""Dict queries, ``{"args.lr": {"$gt": 0.1}}``, with MongoDB's meaning, as predicates; pure.

Keys are dotted field paths (``_id`` is ``task_id``); a plain value means
equality, None matches an absent field and a list field matches any of its
items. Comparisons share the expression language's rules (``values``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

from labtasker.errors import FilterError
from labtasker.filters.field_paths import FIELDS, MISSING, check_path, closest, is_absent, resolve, split_path
from labtasker.filters.nodes import Predicate, accept_all
from labtasker.filters.values import COMPARE, eq, matches

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
_ORDERINGS = {"$gt": ast.Gt, "$gte": ast.GtE, "$lt": ast.Lt, "$lte": ast.LtE}
_Test = Callable[[Any], bool]


class _QueryRefused(Exception):
    """Internal: why a dict query was refused."""


def compile_query(query: Mapping[str, Any], fields: frozenset[str] = FIELDS) -> Predicate:
    """A predicate for a dict query; FilterError naming the problem and the query."""
    try:
        return _query(query, fields)
    except _QueryRefused as exc:
        shown = repr(dict(query))
        shown = shown if len(shown) <= 200 else shown[:197] + "..."
        raise FilterError(f"invalid filter: {exc}\n  in {shown}") from None


def _query(query: Any, fields: frozenset[str]) -> Predicate:
    if not isinstance(query, Mapping):
        raise _QueryRefused(f"expected a dict, not {query!r}")
    tests = [_query_item(key, cond, fields) for key, cond in query.items()]
    if not tests:
        return accept_all
    if len(tests) == 1:
        return tests[0]
    return lambda doc: all(test(doc) for test in tests)


def _query_item(key: Any, cond: Any, fields: frozenset[str]) -> Predicate:
    if key in ("$and", "$or"):
        if not isinstance(cond, (list, tuple)) or not cond:
            raise _QueryRefused(f"{key} takes a non-empty list of dicts")
        parts = [_query(part, fields) for part in cond]
        if key == "$and":
            return lambda doc: all(part(doc) for part in parts)
        return lambda doc: any(part(doc) for part in parts)
    if not isinstance(key, str) or key.startswith("$"):
        hint = closest(str(key), ("$and", "$or"))
        raise _QueryRefused(f"unknown operator {key!r}" + (f" (did you mean {hint}?)" if hint else ""))
    path = split_path(key)
    if path[0] == "_id":  # MongoDB's name of the document's id
        path = ("task_id" if "task_id" in fields else "worker_id", *path[1:])
    problem = check_path(path, fields=fields)
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
    if op in _ORDERINGS:
        test = COMPARE[_ORDERINGS[op]]
        return lambda value: test(value, arg)
    if op == "$exists":  # a key holding null exists
        want = bool(arg)
        return lambda value: (value is not MISSING) is want
    if op == "$regex":
        search = _query_regex(arg, cond.get("$options", ""))
        return lambda value: matches(search, value)
    hint = closest(str(op), _QUERY_OPERATORS)
    raise _QueryRefused(f"unknown operator {op!r}" + (f" (did you mean {hint}?)" if hint else ""))


def _query_eq(value: Any, want: Any) -> bool:
    """MongoDB equality: None matches absent, a list field matches any of its items."""
    if want is None:
        return is_absent(value)
    if isinstance(value, list) and not isinstance(want, (list, tuple)):
        return any(eq(item, want) for item in value)
    return eq(value, list(want) if isinstance(want, tuple) else want)


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
