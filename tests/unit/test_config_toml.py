"""config_toml reads the plain form of config.toml exactly as tomllib does, and declines the rest."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labtasker import config_toml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

keys = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True) | st.sampled_from(
    ["queue_name", "loop", "a b", '"q"', "a.b"]
)
strings = st.text(max_size=12).map(lambda s: '"' + s + '"') | st.sampled_from(
    ['"a\\"b"', '"x\\ty"', "'lit'", '"""m"""']
)
numbers = (
    st.integers(-(10**20), 10**20).map(str)
    | st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.sampled_from(["+1", "-0", "01", "1_000", "0x1f", "1e3", "1.", ".5", "+0.25", "-0.0", "inf", "nan"])
)
values = strings | numbers | st.sampled_from(["true", "false", "True", "[1, 2]", "{a = 1}", "1979-05-27", ""])
spaces = st.sampled_from(["", " ", "  ", "\t"])
comments = st.sampled_from(["", " # note", "# x", " #", " # \u00e9t\u00e9", " # a\x01"])
pairs = st.builds(lambda k, s1, s2, v, c: f"{k}{s1}={s2}{v}{c}", keys, spaces, spaces, values, comments)
headers = st.builds(lambda k, c: f"[{k}]{c}", keys, comments) | st.sampled_from(
    ["[ loop ]", "[[loop]]", "[a.b]"]
)
lines = st.builds(lambda pad, line: pad + line, spaces, pairs | headers | comments | st.just(""))
texts = st.lists(lines, max_size=8).map("\n".join) | st.text(max_size=40)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@settings(max_examples=1500, deadline=None)
@given(texts)
def test_what_it_reads_is_what_tomllib_reads(text: str) -> None:
    got = config_toml.loads(text)
    if got is None:
        return
    assert _same(got, tomllib.loads(text))


def test_the_files_labtasker_writes_are_read_without_tomllib(tmp_path: Any) -> None:
    from labtasker import config

    root = config.init_root(tmp_path)
    text = (root / "config.toml").read_text(encoding="utf-8")
    assert config_toml.loads(text) == tomllib.loads(text)
    edited = text + "\n[loop]\nheartbeat_interval = 10\nheartbeat_timeout = 30.5  # seconds\n"
    assert config_toml.loads(edited.replace("[loop]\n", "", 1)) == tomllib.loads(
        edited.replace("[loop]\n", "", 1)
    )


@pytest.mark.parametrize(
    "text",
    [
        'a = "x\\ny"',
        "a = 1\na = 2",
        "[t]\n[t]",
        "a = 1\n[a]",
        "a = 1_0",
        "a = 'x'",
        "a.b = 1",
        "a = 1\r\n",
        "a = [1]",
    ],
)
def test_anything_else_is_left_to_tomllib(text: str) -> None:
    assert config_toml.loads(text) is None
