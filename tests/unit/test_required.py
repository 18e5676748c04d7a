""" "No more, no less": which args a loop with given required fields accepts."""

from __future__ import annotations

import pytest

from labtasker.worker import required as req

CASES = [
    # required fields, args, accepted
    (["lr", "model"], {"lr": 1, "model": "a"}, True),
    (["lr", "model"], {"lr": 1}, False),  # less
    (["lr", "model"], {"lr": 1, "model": "a", "seed": 0}, False),  # more
    (["lr"], {"lr": {"any": {"subtree": 1}}}, True),  # a leaf accepts a whole subtree
    (["optimizer.lr", "optimizer.m"], {"optimizer": {"lr": 1, "m": 2}}, True),
    (["optimizer.lr", "optimizer.m"], {"optimizer": {"lr": 1}}, False),
    (["optimizer.lr"], {"optimizer": {"lr": 1, "m": 2}}, False),
    (["optimizer.lr"], {"optimizer": 0.1}, False),
    (["optimizer.lr", "optimizer.*"], {"optimizer": {"lr": 1, "m": 2}}, True),
    (["lr", "*"], {"lr": 1, "extra": 2}, True),
    (["lr", "*"], {"extra": 2}, False),
    # a path required as a whole covers what is below it; a deeper required path must still exist
    (["arg2", "arg2.arg22"], {"arg2": {"arg21": 1, "arg22": 2, "arg23": {"x": 1}}}, True),
    (["arg2.arg22", "arg2"], {"arg2": {"arg21": 1}}, False),
    (["a", "a.b.c"], {"a": {"b": {"c": 1, "d": 2}, "e": 3}}, True),
    (["a", "a.b.c"], {"a": {"b": {"d": 2}}}, False),
    (["arg1", "arg2", "arg3.arg31"], {"arg1": 1, "arg2": {"x": 1}, "arg3": {"arg31": {"y": 2}}}, True),
    ([], {}, True),
    ([], {"x": 1}, False),
]


@pytest.mark.parametrize(("fields", "args", "ok"), CASES)
def test_no_more_no_less(fields, args, ok):
    assert req.matches(args, req.build_tree(fields)) is ok


def test_pass_args_dict_allows_extra_keys():
    tree = req.build_tree(["lr", "model"])
    assert req.matches({"lr": 1, "model": "a", "seed": 1}, tree, allow_extra=True)
    assert not req.matches({"lr": 1}, tree, allow_extra=True)


@pytest.mark.parametrize("bad", ["", ".", ".arg1", "arg2.", "a..b"])
def test_malformed_required_field_is_refused(bad):
    with pytest.raises(ValueError, match="invalid required field"):
        req.build_tree(["ok", bad])


def test_missing_lists_paths():
    tree = req.build_tree(["lr", "optimizer.m"])
    assert req.missing({"optimizer": {}}, tree) == ["lr", "optimizer.m"]
