"""What a writer leaves for readers (cache.py's memo) is exactly what parsing the file gives, never stale."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from labtasker.fsqueue import cache, claim, codec, tasks
from labtasker.fsqueue.documents import normalise
from labtasker.fsqueue.store import FsQueue
from tests.conftest import queue_env


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (NaN equals NaN, a zone must be the same offset)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, datetime):
        return a == b and a.utcoffset() == b.utcoffset() and a.isoformat() == b.isoformat()
    return bool(a == b)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30))]))
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(args=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), values, max_size=5))
def test_a_plain_copy_is_what_parsing_the_written_bytes_gives(args: dict[str, Any]) -> None:
    doc = {"task_id": "t1", "args": args, "when": datetime.now(timezone.utc)}
    try:
        remembered = cache.plain_copy(doc)
    except TypeError:
        return  # such a document is never remembered: readers parse it
    assert same(remembered, codec.load(codec.dump(doc)))


def test_what_is_not_plain_data_is_never_remembered() -> None:
    import pendulum

    for odd in [(1, 2), {1, 2}, b"x", object(), pendulum.now("UTC"), _Int(3)]:
        try:
            cache.plain_copy({"v": odd})
        except TypeError:
            continue
        raise AssertionError(f"{odd!r} would be remembered")


class _Int(int):
    """A subclass of a plain type: YAML would give back an int."""


def _memo_entries(queue: FsQueue, dirname: str) -> dict[tuple[str, bytes], dict[str, Any]]:
    cache._flush_all()  # what the writer's exit does
    return cache._memo_records((queue.tmp / "cache" / f"{dirname}.{os.geteuid()}.memo").read_bytes())[0]


def _as_big_queue(queue: FsQueue) -> None:
    """The cache folder exists once a queue has been big: writers then append to the memo at once."""
    (queue.tmp / "cache").mkdir(exist_ok=True)


def test_a_small_queue_leaves_nothing_in_tmp(queue: FsQueue) -> None:
    tasks.submit_many(queue, [{"args": {"i": i}} for i in range(5)])
    assert os.listdir(queue.tmp) == []


def test_every_write_of_a_task_leaves_the_document_its_file_parses_to(queue: FsQueue) -> None:
    _as_big_queue(queue)
    ids = tasks.submit_many(
        queue, [{"args": {"i": i, "lr": 0.1 * i}, "metadata": {"t": ["a"]}} for i in range(5)]
    )
    tasks.update(queue, ids[0], {"summary": {"acc": 0.5}, "priority": 3})
    got = claim.Claimer(queue, "w1").claim()
    assert got is not None
    tasks.finish(queue, got.name, "success", summary={"loss": 1.5})
    for dirname in ("pending", "done"):
        entries = _memo_entries(queue, dirname)
        on_disk = {name: (queue.path / dirname / name).read_bytes() for name in queue.names(dirname)}
        assert on_disk, dirname
        for name, data in on_disk.items():
            remembered = entries[(name, cache.content_digest(data))]
            assert same(remembered, normalise(codec.load(data))), name


def test_a_file_changed_by_someone_else_is_parsed_not_taken_from_the_memo(queue: FsQueue) -> None:
    _as_big_queue(queue)
    ids = tasks.submit_many(queue, [{"args": {"i": i}} for i in range(3)])
    path = next(p for p in (queue.path / "pending").iterdir() if ids[1] in p.name)
    _wait_for_the_next_tick(queue, path)
    path.write_bytes(path.read_bytes().replace(b"i: 1\n", b"i: 7\n"))  # in place: same inode, same size
    fresh = FsQueue(queue.path, node=queue.node)  # another process's view
    shown = {doc["task_id"]: doc["args"]["i"] for _, _, doc in fresh.iter_views(["pending"])}
    assert shown == {ids[0]: 0, ids[1]: 7, ids[2]: 2}


def test_a_memo_cut_short_by_a_crash_is_used_up_to_the_cut(queue: FsQueue) -> None:
    _as_big_queue(queue)
    tasks.submit_many(queue, [{"args": {"i": i}} for i in range(3)])
    cache._flush_all()  # one batch appended
    tasks.submit_many(queue, [{"args": {"i": 3}}])
    cache._flush_all()  # and another, cut short below
    memo = queue.tmp / "cache" / f"pending.{os.geteuid()}.memo"
    whole = memo.read_bytes()
    memo.write_bytes(whole[: len(whole) - 7])
    assert len(cache._memo_records(memo.read_bytes())[1]) == 3  # records by name
    fresh = FsQueue(queue.path, node=queue.node)
    assert sorted(doc["args"]["i"] for _, _, doc in fresh.iter_views(["pending"])) == [0, 1, 2, 3]


def test_a_listing_in_a_new_process_right_after_submits_shows_them_all(tmp_path: Path) -> None:
    """Submitted by one process, listed by another within the same second: every file is 'racy'."""
    script = "import labtasker\nlabtasker.submit_tasks([{'args': {'i': i}} for i in range(300)])\n"
    env = {**os.environ, "LABTASKER_ROOT": str(tmp_path / ".labtasker")}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)
    lister = "import labtasker\nprint(sorted(t.args['i'] for t in labtasker.ls_tasks(extra_filter='args.i >= 0', limit=1000).content) == list(range(300)))"
    out = subprocess.run([sys.executable, "-c", lister], env=env, check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "True"


def _wait_for_the_next_tick(queue: FsQueue, path: Path) -> None:
    """Until the filesystem's clock has moved past ``path``'s last change (a few ms at most).

    A change in place within the same tick as our own write, at the same size,
    is the one change a stat cannot show (docs/performance.md, the parse cache).
    """
    probe = queue.tmp / "tick"
    changed = path.stat().st_ctime_ns
    while True:
        probe.write_bytes(b"")
        if probe.stat().st_mtime_ns > changed:
            probe.unlink()
            return


class _Reads:
    """Counts the task files a listing opens."""

    def __init__(self, monkeypatch: Any) -> None:
        self.paths: list[Path] = []
        real = cache.entries.read

        def counting(path: Path) -> Any:
            self.paths.append(path)
            return real(path)

        monkeypatch.setattr(cache.entries, "read", counting)


def test_a_new_reader_takes_our_own_writes_without_opening_a_file(queue: FsQueue, monkeypatch: Any) -> None:
    """Submit, claim, finish, update: the next listing, in another process, reads no task file."""
    ids = tasks.submit_many(queue, [{"args": {"i": i}} for i in range(150)])  # big enough to keep a memo
    for _ in range(3):
        got = claim.Claimer(queue, "w1").claim()
        assert got is not None
        tasks.finish(queue, got.name, "success", summary={"loss": 0.5})
    tasks.update(queue, ids[-1], {"priority": 2})
    cache._flush_all()  # what the writer's exit does
    reads = _Reads(monkeypatch)
    fresh = FsQueue(queue.path, node=queue.node)  # another process's view: nothing in memory
    shown = {
        doc["task_id"]: (doc["status"], doc["priority"])
        for _, _, doc in fresh.iter_views(["pending", "done"])
    }
    assert reads.paths == []
    assert len(shown) == 150 and shown[ids[-1]] == ("pending", 2)
    assert sorted(status for status, _ in shown.values()).count("success") == 3


def test_a_table_of_the_settled_files_keeps_the_others_in_the_memo(queue: FsQueue, monkeypatch: Any) -> None:
    """A listing that stores the files changed long enough ago leaves the newer ones to the memo."""
    tasks.submit_many(queue, [{"args": {"i": i}} for i in range(150)])
    first = max(p.stat().st_ctime_ns for p in (queue.path / "pending").iterdir())
    _wait_for_the_next_tick(queue, next((queue.path / "pending").iterdir()))
    tasks.submit_many(queue, [{"args": {"i": i}} for i in range(150, 200)])
    cache._flush_all()
    monkeypatch.setattr(cache.DirCache, "_fs_now", lambda self: first + 1 + cache.RACY_NS)
    lister = FsQueue(queue.path, node=queue.node)
    assert len(list(lister.iter_views(["pending"]))) == 200  # stores a table of the first 150
    reads = _Reads(monkeypatch)
    fresh = FsQueue(queue.path, node=queue.node)
    assert sorted(doc["args"]["i"] for _, _, doc in fresh.iter_views(["pending"])) == list(range(200))
    assert reads.paths == []


def test_a_writer_process_leaves_its_records_when_it_exits(project: Path, monkeypatch: Any) -> None:
    """One task at a time from another process: the listing after it opens no task file."""
    script = "import labtasker\nfor i in range(150):\n    labtasker.submit_task(args={'i': i})\n"
    subprocess.run([sys.executable, "-c", script], env=queue_env(project), check=True, capture_output=True)
    reads = _Reads(monkeypatch)
    fresh = FsQueue(project / ".labtasker" / "queues" / "default")
    assert sorted(doc["args"]["i"] for _, _, doc in fresh.iter_views(["pending"])) == list(range(150))
    assert reads.paths == []
