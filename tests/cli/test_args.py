"""Task args, updates and dict options as users type them."""

from __future__ import annotations

import pytest

from labtasker.cli.args import parse_assignment, parse_dict, parse_task_args, parse_value
from labtasker.errors import UsageError


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["--lr=0.001", "--model=resnet"], {"lr": 0.001, "model": "resnet"}),
        (["--lr", "0.001", "--model", "resnet"], {"lr": 0.001, "model": "resnet"}),
        (["--value=-1", "--label=", "--desc=hello world"], {"value": -1, "label": "", "desc": "hello world"}),
        (["--value", "-1"], {"value": -1}),
        (["--value", "-0.5e-3"], {"value": -0.0005}),
        (["--optimizer.lr=0.01", "--optimizer.momentum=0.9"], {"optimizer": {"lr": 0.01, "momentum": 0.9}}),
        (["--a.b.c=1", "--a.b.d=x"], {"a": {"b": {"c": 1, "d": "x"}}}),
        (["--t=True", "--f=False", "--n=None"], {"t": True, "f": False, "n": None}),
        (["--t=true", "--f=false", "--n=null"], {"t": True, "f": False, "n": None}),
        (["--xs=[1, 2, 3]", "--d={'a': 1}"], {"xs": [1, 2, 3], "d": {"a": 1}}),
        (['--d={"a": [1, {"b": null}]}'], {"d": {"a": [1, {"b": None}]}}),
        (["--use-amp"], {"use_amp": True}),
        (["--use-amp", "--lr=1"], {"use_amp": True, "lr": 1}),
        (["--batch-size=32"], {"batch_size": 32}),
        (["--s=01"], {"s": "01"}),  # not a number in JSON or Python: kept as typed
        (["--s= padded "], {"s": " padded "}),
        (["--s=2024-01-01"], {"s": "2024-01-01"}),
        (["--s=1+2j"], {"s": "1+2j"}),  # complex numbers cannot be stored: kept as text
        (["--s=(1, 2)"], {"s": "(1, 2)"}),
        (["--s=NaN"], {"s": "NaN"}),
        (["--s='quoted'"], {"s": "quoted"}),
        (['--s="json"'], {"s": "json"}),
        (["--eq=a=b"], {"eq": "a=b"}),
        (["--cmd=hello world; touch PWNED"], {"cmd": "hello world; touch PWNED"}),
        (["--path=/data/x y"], {"path": "/data/x y"}),
        (["--unicode=μ-σ"], {"unicode": "μ-σ"}),
        (["-k", "v"], {"k": "v"}),
        ([], {}),
    ],
)
def test_task_args_are_parsed_to_typed_nested_values(tokens: list[str], expected: dict) -> None:
    assert parse_task_args(tokens) == expected


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (["lr=0.1"], "unexpected task argument 'lr=0.1'"),
        (["--lr=1", "--lr=2"], "--lr is given twice"),
        (["--a=1", "--a.b=2"], "clashes"),
        (["--a.b=1", "--a=2"], "clashes"),
        (["--a..b=1"], "invalid task argument"),
        (["--=1"], "unexpected task argument"),
    ],
)
def test_bad_task_args_are_usage_errors(tokens: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_task_args(tokens)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1.5", 1.5),
        ("-3", -3),
        ("1e3", 1000.0),
        ("True", True),
        ("null", None),
        ('["v2"]', ["v2"]),
        ("{'a': 1}", {"a": 1}),
        ("cancelled", "cancelled"),
        ("", ""),
        ("a b", "a b"),
        ("{broken", "{broken"),
    ],
)
def test_values_are_json_then_python_literals_then_text(text: str, expected: object) -> None:
    assert parse_value(text) == expected
    assert type(parse_value(text)) is type(expected)


def test_assignments_split_on_the_first_equals_sign() -> None:
    assert parse_assignment("args.lr=0.005") == ("args.lr", 0.005)
    assert parse_assignment('metadata.tags=["v2"]') == ("metadata.tags", ["v2"])
    assert parse_assignment("metadata.note=a=b") == ("metadata.note", "a=b")
    with pytest.raises(UsageError, match="write field=value"):
        parse_assignment("args.lr")


@pytest.mark.parametrize("text", ['{"tags": ["v1"], "note": "x"}', "{'tags': ['v1'], 'note': 'x'}"])
def test_dict_options_take_json_or_python(text: str) -> None:
    assert parse_dict(text, "--metadata") == {"tags": ["v1"], "note": "x"}


@pytest.mark.parametrize("text", ["[1, 2]", "{'a': {1, 2}}", "not a dict", "{'a': (1,)}"])
def test_dict_options_refuse_other_values(text: str) -> None:
    with pytest.raises(UsageError, match="--metadata"):
        parse_dict(text, "--metadata")
