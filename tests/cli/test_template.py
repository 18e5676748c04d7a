"""Placeholders in loop commands, and shell quoting that never runs a value."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labtasker.cli.template import Template
from labtasker.errors import UsageError

HOSTILE = [
    "hello world; touch PWNED",
    "$(touch PWNED)",
    "`touch PWNED`",
    "'; touch PWNED; '",
    '"; touch PWNED; "',
    "a\\'b\\\"c $HOME",
    "line1\nline2",
    "",
    "-rf",
]


def test_fields_are_the_placeholders_in_order_without_repeats() -> None:
    t = Template.parse("python train.py --lr %(lr) --m %( model ) --o %(opt.lr) %(lr)")
    assert t.fields == ["lr", "model", "opt.lr"]


def test_render_puts_values_in_place() -> None:
    t = Template.parse("--lr=%(lr)/%(opt.m)/%(xs)/%(flag)")
    args = {"lr": 0.01, "opt": {"m": "sgd"}, "xs": [1, "a"], "flag": True}
    assert t.render(args) == '--lr=0.01/sgd/[1, "a"]/True'


def test_double_percent_is_a_literal() -> None:
    t = Template.parse("printf '%%(x)s %d' %(x)")
    assert t.fields == ["x"]
    assert t.render({"x": 1}) == "printf '%(x)s %d' 1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("echo %(lr", "is not closed"),
        ("echo %()", "invalid placeholder"),
        ("echo %(a b)", "invalid placeholder"),
        ("echo %(a.)", "invalid placeholder"),
    ],
)
def test_malformed_placeholders_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Template.parse(text)


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    "shape",
    [
        "printf '%s\\n' %(v)",  # bare
        "printf '%s\\n' '%(v)'",  # inside single quotes
        "printf '%s\\n' \"%(v)\"",  # inside double quotes
        "printf '%s\\n' pre-%(v)-post",  # glued to text
    ],
)
def test_shell_values_arrive_as_one_argument_and_run_nothing(tmp_path: Path, value: str, shape: str) -> None:
    text = Template.parse(shape, shell=True).render({"v": value}, shell=True)
    out = subprocess.run(["/bin/sh", "-c", text], cwd=tmp_path, capture_output=True, text=True, check=True)
    expected = f"pre-{value}-post" if "pre-" in shape else value
    assert out.stdout == expected + "\n"
    assert not (tmp_path / "PWNED").exists()


def test_a_missing_nested_arg_is_a_usage_error_naming_it() -> None:
    t = Template.parse("--m %(opt.m)")
    with pytest.raises(UsageError, match=r"no arg 'opt.m'"):
        t.render({"opt": "sgd"})
    with pytest.raises(UsageError, match=r"no arg 'opt.m'"):
        t.render({"opt": {"lr": 1}})
    assert t.render({"opt": {"m": None}}) == "--m None"
