"""Hostile expressions: refused at compile time, before any task is read; nothing runs."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime, timezone

import pytest

from labtasker.errors import FilterError
from labtasker.filters import language as flt

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
CANARY = "CANARY_PATH"  # replaced by a real path in tmp_path

HOSTILE = [
    # reaching Python itself
    f"__import__('os').system('touch {CANARY}')",
    f"open('{CANARY}', 'w')",
    f"open('{CANARY}', 'w').write('x') or True",
    f"exec(\"open('{CANARY}', 'w')\")",
    f"eval(\"open('{CANARY}', 'w')\")",
    "compile('1', 'x', 'eval')",
    "globals()",
    "locals()",
    "vars()",
    "dir()",
    "getattr(args, 'x')",
    "type(args)",
    "breakpoint()",
    "print(1)",
    "input()",
    "__builtins__",
    "__builtins__['open']",
    "__import__",
    "os.system('true')",
    "max(range(10**9))",
    "chr(65)",
    # attribute access and dunders
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "''.__class__.__mro__[1].__subclasses__()",
    "args.__class__",
    "args.__dict__",
    "args['__class__']",
    "metadata.tags.__len__()",
    "task_name.upper()",
    "date.__globals__",
    "regex.__code__",
    "list(args).pop()",
    "(lambda: 0).__code__",
    "[].append(1)",
    # format-string tricks
    "'{0.__class__}'.format(args)",
    "'{.__class__.__mro__}'.format(args) == 1",
    "'{}'.format(args)",
    "f'{args}' == 1",
    "f'{args.__class__}'",
    "f'{open(\"x\")}'",
    "'%s' % args",
    "'%(x)s' % args",
    "'%*d' % (10**8, 1)",
    # comprehensions, lambdas, assignment
    "[x for x in args]",
    "{x: 1 for x in args}",
    "{x for x in args}",
    "any(x for x in args)",
    "[1 for x in [0]*10**9]",
    "lambda: 1",
    "(lambda x: x)(1)",
    "(x := 1)",
    "status = 'x'",
    # statements are not expressions
    "import os",
    "args.lr; open('x')",
    "del args",
    "yield 1",
    "await args",
    # unbounded work
    "10**10**10",
    "9**9**9 > 1",
    "2**100000 > 1",
    "(10**5000) * (10**5000) > 1",
    "'a' * 10**9",
    "'ab' * 100001 == args.x",
    "[1] * 10**9",
    "[0] * 200000 == args.x",
    "'9' * 5000 == args.x and " + "9" * 5000 + " > 1",
    "1" + "0" * 5000,
    "'x' * " + "9" * 30,
    # deep nesting and sheer size
    "(" * 300 + "1" + ")" * 300,
    "[" * 120 + "]" * 120,
    "not " * 3000 + "True",
    "-" * 5000 + "1",
    "1" + " + 1" * 2000,
    "args" + ".a" * 1000,
    "args" + "['a']" * 500,
    "min(" * 150 + "1" + ")" * 150,
    "'" + "a" * 20_000 + "' == task_name",
    "args.lr > 1 or " * 3000 + "True",
]


@pytest.mark.parametrize("expr", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_expression_is_refused_and_nothing_runs(expr, tmp_path, monkeypatch):
    canary = tmp_path / "canary"
    tripped = []
    monkeypatch.setattr(os, "system", lambda *a, **k: tripped.append(a))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: tripped.append(a))
    started = time.perf_counter()
    with pytest.raises(FilterError) as caught:
        flt.compile(expr.replace(CANARY, str(canary)), now=NOW)
    assert time.perf_counter() - started < 1.0
    assert not canary.exists()
    assert tripped == []
    message = str(caught.value)
    assert message.startswith("invalid filter: ")
    assert len(message.split("\n")) == 3
    assert all(len(line) < 200 for line in message.split("\n"))


# Expressions that are fine as filters but could be made expensive by what a task holds:
# the work per task is bounded, and the answer is "no match", never an error.
BOUNDED_AT_RUN_TIME = [
    ("args.s * args.n == 1", {"s": "ab", "n": 10**9}),
    ("list(args.tags) * args.n == 1", {"tags": ["a"], "n": 10**9}),
    ("args.n ** args.n > 1", {"n": 10**6}),
    ("args.n ** 1000000 > 1", {"n": 7}),
    ("args.n * args.n * args.n * args.n > 1", {"n": 10**2900}),
    ("args.s + args.s == 1", {"s": "x" * 60_000}),
    ("str(args.n) == '1'", {"n": 10**5000}),
    ("args.s % args.n == 1", {"s": "%*d", "n": [10**8, 1]}),
    ("float(args.n) ** args.n > 1", {"n": 10**6}),
    ("int(args.s) > 1", {"s": "9" * 5000}),
    ("date(args.s) > created_at", {"s": "9" * 5000}),
]


@pytest.mark.parametrize(("expr", "args"), BOUNDED_AT_RUN_TIME)
def test_task_values_cannot_make_evaluation_expensive(expr, args):
    predicate = flt.compile(expr, now=NOW)
    started = time.perf_counter()
    assert predicate({"task_id": "t", "args": args, "created_at": NOW}) is False
    assert time.perf_counter() - started < 0.5


def test_a_long_but_honest_expression_compiles():
    expr = " or ".join(f'args.model == "m{i}"' for i in range(400))
    assert flt.compile(expr)({"args": {"model": "m399"}}) is True
