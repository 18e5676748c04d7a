"""Frozen records behave as the frozen dataclasses they replace: by value, and read-only."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

from labtasker.config import Config
from labtasker.fsqueue.held import Holder
from labtasker.run_context import OwnJob


def test_records_compare_hash_and_show_by_value() -> None:
    a, b = OwnJob("t1", "w1", Path("/q")), OwnJob("t1", "w1", Path("/q"))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != OwnJob("t1", "w2", Path("/q"))
    assert Holder("h1", "t") != ("h1", "t")  # another type is never equal, as with a dataclass
    assert repr(a) == "OwnJob(task_id='t1', worker_id='w1', queue_dir=PosixPath('/q'))"
    assert copy.copy(a) == a and pickle.loads(pickle.dumps(a)) == a


def test_records_are_read_only_and_keep_their_defaults_apart() -> None:
    job = OwnJob("t1", "w1", Path("/q"))
    with pytest.raises(AttributeError, match="cannot assign to field 'task_id'"):
        job.task_id = "t2"
    with pytest.raises(AttributeError):
        del job.worker_id
    first, second = Config(Path("/a")), Config(Path("/b"))
    assert first.loop == {} and first.queue_name == "default" and first.queue_dir is None
    assert first.loop is not second.loop  # a fresh dict each, as a default_factory gives
