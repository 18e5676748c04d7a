"""The parse cache of a directory: never stale, never trusted blindly, rebuilt when damaged."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from labtasker.fsqueue import cache, table
from labtasker.fsqueue.cache import DirCache
from tests.conftest import wait_for

SETTLED = -(10**18)  # a racy window in the past: every file counts as settled at once


class Parser:
    """Parses ``key: value`` lines and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, name: str, data: bytes) -> dict[str, str] | None:
        self.calls.append(name)
        if data.startswith(b"!"):
            return None  # what a real parser does after quarantining the file
        return dict(line.split(": ", 1) for line in data.decode().splitlines())


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "pending").mkdir()
    return tmp_path


def make(folder: Path, parser: Parser, *, racy_ns: int = SETTLED, store_min: int = 0) -> DirCache:
    dc = DirCache(folder / "pending", parser, folder / "tmp" / "cache", racy_ns=racy_ns, store_min=store_min)
    return dc


def write(folder: Path, name: str, text: str) -> Path:
    """Write a file whole under a new inode, the way the queue does."""
    staged = folder / "staged"
    staged.write_text(text)
    os.replace(staged, folder / "pending" / name)
    return folder / "pending" / name


def test_documents_come_sorted_by_name_and_junk_is_skipped(folder: Path) -> None:
    for name in ("b.yaml", "a.yaml", ".hidden.yaml", "c.yaml~", "w.1.tmp"):
        write(folder, name, f"id: {name}")
    docs = make(folder, Parser()).docs()
    assert docs == [("a.yaml", {"id": "a.yaml"}), ("b.yaml", {"id": "b.yaml"})]


def test_unchanged_files_are_not_parsed_again(folder: Path) -> None:
    write(folder, "a.yaml", "id: a")
    write(folder, "b.yaml", "id: b")
    parser = Parser()
    dc = make(folder, parser)
    dc.docs()
    write(folder, "b.yaml", "id: B")  # replaced: a new inode
    write(folder, "c.yaml", "id: c")
    os.unlink(folder / "pending" / "a.yaml")
    assert dc.docs() == [("b.yaml", {"id": "B"}), ("c.yaml", {"id": "c"})]
    assert parser.calls == ["a.yaml", "b.yaml", "b.yaml", "c.yaml"]


@pytest.mark.parametrize(("racy_ns", "seen"), [(cache.RACY_NS, "2"), (SETTLED, "1")])
def test_a_file_changed_in_place_within_one_clock_tick_is_seen(
    folder: Path, monkeypatch: pytest.MonkeyPatch, racy_ns: int, seen: str
) -> None:
    """On a filesystem with whole-second timestamps, only the racy rule tells the two versions apart."""

    def coarse_key(st: os.stat_result) -> cache.Key:
        return table.KEY.pack(
            st.st_ino, st.st_size, st.st_mtime_ns // 10**9 * 10**9, st.st_ctime_ns // 10**9 * 10**9
        )

    monkeypatch.setattr(cache, "_key", coarse_key)
    path = write(folder, "a.yaml", "id: 1")
    dc = make(folder, Parser(), racy_ns=racy_ns)
    assert dc.docs() == [("a.yaml", {"id": "1"})]
    before = coarse_key(os.stat(path))
    with open(path, "r+b") as f:  # same inode, same size, same second
        f.write(b"id: 2")
    if coarse_key(os.stat(path)) != before:
        pytest.skip("the second ticked over between the two writes")
    assert dc.docs() == [("a.yaml", {"id": seen})]  # without the rule ("1") the old version would be served


def test_files_changed_moments_ago_are_read_every_time(folder: Path) -> None:
    write(folder, "a.yaml", "id: a")
    parser = Parser()
    dc = make(folder, parser, racy_ns=cache.RACY_NS)
    dc.docs()
    dc.docs()
    assert parser.calls == ["a.yaml", "a.yaml"]


def test_a_new_process_reuses_the_cache_file(folder: Path) -> None:
    for i in range(5):
        write(folder, f"{i}.yaml", f"id: {i}")
    first = make(folder, Parser())
    expected = first.docs()
    assert first.store is not None and first.store.exists()
    parser = Parser()
    assert make(folder, parser).docs() == expected
    assert parser.calls == []


def test_small_directories_are_parsed_afresh_and_nothing_is_written(folder: Path) -> None:
    write(folder, "a.yaml", "id: a")
    parser = Parser()
    dc = make(folder, parser, store_min=2)
    dc.docs()
    dc.docs()
    assert parser.calls == ["a.yaml", "a.yaml"]
    assert not (folder / "tmp").exists()


@pytest.mark.parametrize("damage", [b"", b"garbage", pickle.dumps({"header": 999}), pickle.dumps([1, 2])])
def test_a_damaged_cache_file_is_ignored_and_rebuilt(folder: Path, damage: bytes) -> None:
    write(folder, "a.yaml", "id: a")
    dc = make(folder, Parser())
    dc.docs()
    assert dc.store is not None
    dc.store.write_bytes(damage)
    parser = Parser()
    assert make(folder, parser).docs() == [("a.yaml", {"id": "a"})]
    assert parser.calls == ["a.yaml"]
    again = Parser()
    make(folder, again).docs()
    assert again.calls == []  # rebuilt


@pytest.mark.parametrize("at", [0, 40, -5, -1])
def test_a_cache_file_with_one_byte_changed_is_not_loaded(folder: Path, at: int) -> None:
    """Its checksum no longer matches: the documents come from the files, never from damaged bytes."""
    for i in range(5):
        write(folder, f"{i}.yaml", f"id: {i}")
    dc = make(folder, Parser())
    expected = dc.docs()
    assert dc.store is not None
    data = bytearray(dc.store.read_bytes())
    data[at] ^= 0x01
    dc.store.write_bytes(bytes(data))
    parser = Parser()
    assert make(folder, parser).docs() == expected
    assert len(parser.calls) == 5


def test_a_cache_file_written_by_other_parsing_code_is_not_loaded(folder: Path) -> None:
    write(folder, "a.yaml", "id: a")
    DirCache(folder / "pending", Parser(), folder / "cache", tag="v1", racy_ns=SETTLED, store_min=0).docs()
    parser = Parser()
    DirCache(folder / "pending", parser, folder / "cache", tag="v2", racy_ns=SETTLED, store_min=0).docs()
    assert parser.calls == ["a.yaml"]


def test_code_tag_changes_with_the_code() -> None:
    def one() -> int:
        return 1

    def two() -> int:
        return 2

    assert cache.code_tag(one) == cache.code_tag(one) != cache.code_tag(two)


def test_a_cache_file_others_could_write_is_not_loaded(folder: Path) -> None:
    write(folder, "a.yaml", "id: a")
    dc = make(folder, Parser())
    dc.docs()
    assert dc.store is not None
    os.chmod(dc.store, 0o666)
    parser = Parser()
    make(folder, parser).docs()
    assert parser.calls == ["a.yaml"]


def test_an_entry_whose_file_changed_is_never_served_from_the_cache_file(folder: Path) -> None:
    write(folder, "a.yaml", "id: a")
    make(folder, Parser()).docs()
    write(folder, "a.yaml", "id: changed")
    assert make(folder, Parser()).docs() == [("a.yaml", {"id": "changed"})]


def test_unreadable_and_vanished_files_are_left_out(folder: Path) -> None:
    write(folder, "a.yaml", "id: a")
    write(folder, "bad.yaml", "!not a document")
    assert make(folder, Parser()).docs() == [("a.yaml", {"id": "a"})]


def test_a_missing_directory_has_no_documents(tmp_path: Path) -> None:
    dc = DirCache(tmp_path / "nowhere", Parser(), tmp_path / "cache")
    assert dc.docs() == []


def test_views_read_like_the_documents_they_show(folder: Path) -> None:
    write(folder, "a.yaml", "id: a\nlr: 0.1")
    write(folder, "b.yaml", "id: b")
    make(folder, Parser()).docs()  # writes the cache file
    dc = make(folder, Parser())
    (_, a), (_, b) = dc.views()
    assert isinstance(a, table.Row)  # served from the cache file's columns
    assert a["id"] == "a" and a.get("lr") == "0.1" and b.get("lr", "none") == "none"
    assert "lr" in a and "lr" not in b and len(b) == 1 and list(a) == ["id", "lr"]
    assert dict(a) == a.to_dict() == {"id": "a", "lr": "0.1"} == a
    with pytest.raises(KeyError):
        b["lr"]


def test_a_view_copies_into_a_plain_dict(folder: Path) -> None:
    write(folder, "a.yaml", "id: a")
    make(folder, Parser()).docs()
    ((_, view),) = make(folder, Parser()).views()
    import copy

    assert copy.deepcopy(view) == {"id": "a"} and type(copy.deepcopy(view)) is dict


def test_documents_from_the_cache_file_equal_fresh_ones(folder: Path) -> None:
    for i in range(20):
        write(folder, f"{i:02d}.yaml", f"id: {i}" + ("\nextra: x" if i % 3 == 0 else ""))
    fresh = make(folder, Parser()).docs()
    assert make(folder, Parser()).docs() == fresh
    assert [dict(v) for _, v in make(folder, Parser()).views()] == [d for _, d in fresh]


def test_the_cache_file_of_a_directory_that_shrank_is_removed(folder: Path) -> None:
    for i in range(3):
        write(folder, f"{i}.yaml", f"id: {i}")
    dc = make(folder, Parser(), store_min=2)
    dc.docs()
    assert dc.store is not None and dc.store.exists()
    for i in range(2):
        os.unlink(folder / "pending" / f"{i}.yaml")
    make(folder, Parser(), store_min=2).docs()
    assert not dc.store.exists()


def test_a_few_new_files_go_to_a_delta_file_not_a_new_cache_file(folder: Path) -> None:
    for i in range(60):
        write(folder, f"{i:02d}.yaml", f"id: {i}")
    first = make(folder, Parser())
    first.docs()
    assert first.store is not None
    written = os.stat(first.store).st_ino
    write(folder, "new.yaml", "id: new")  # 1 in 61: below the 2% that pays for a rewrite
    second = Parser()
    assert make(folder, second).docs()[-1] == ("new.yaml", {"id": "new"})
    assert second.calls == ["new.yaml"] and os.stat(first.store).st_ino == written
    third = Parser()
    assert len(make(folder, third).views()) == 61
    assert third.calls == []  # the delta file remembered it


def test_many_changes_make_a_new_cache_file_and_drop_the_delta(folder: Path) -> None:
    for i in range(60):
        write(folder, f"{i:02d}.yaml", f"id: {i}")
    make(folder, Parser()).docs()
    write(folder, "new.yaml", "id: new")
    dc = make(folder, Parser())
    dc.docs()
    delta = cache._delta_path(dc.store)  # type: ignore[arg-type]
    assert delta.exists()
    for i in range(10):
        write(folder, f"{i:02d}.yaml", f"id: changed {i}")
    make(folder, Parser()).docs()
    assert not delta.exists()
    again = Parser()
    assert make(folder, again).docs()[0] == ("00.yaml", {"id": "changed 0"}) and again.calls == []


def test_many_misses_parsed_in_child_processes_give_the_same_documents_in_order(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "PARALLEL_MIN", 10)
    monkeypatch.setattr(cache, "_PER_CHILD_MIN", 5)
    monkeypatch.setattr(cache, "_cpus", lambda: 3)
    for i in range(40):
        write(folder, f"{i:03}.yaml", "!damaged" if i == 17 else f"id: {i}\nnote: n{i}")
    (folder / "pending" / "link.yaml").symlink_to(folder / "pending" / "000.yaml")
    parser = Parser()

    def load(name: str, data: bytes) -> dict[str, str]:
        doc = parser(name, data)
        if doc is None:
            raise ValueError("unreadable")  # a child leaves this file to the parent's parse
        return doc

    dc = DirCache(
        folder / "pending", parser, folder / "tmp" / "cache", racy_ns=SETTLED, store_min=0, load=load
    )
    docs = dc.docs()
    assert docs == [(f"{i:03}.yaml", {"id": str(i), "note": f"n{i}"}) for i in range(40) if i != 17]
    assert "017.yaml" in parser.calls  # the damaged file: parsed (and quarantined) by this process
    assert make(folder, Parser()).docs() == docs  # the cache written after it: the same documents


def test_a_big_cache_file_is_written_by_a_process_of_its_own(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing does not wait for the pickling; the next process finds the file, and no zombie is left."""
    monkeypatch.setattr(cache, "DETACH_MIN", 10)
    for i in range(30):
        write(folder, f"{i:02}.yaml", f"id: {i}")
    first = make(folder, Parser())
    expected = first.docs()
    assert first.store is not None
    wait_for(first.store.exists, "the cache file written by the detached process")  # renamed in: whole
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # the listing's own child was reaped at once
    assert first.docs() == expected  # this process goes on with the table it built
    parser = Parser()
    assert make(folder, parser).docs() == expected
    assert parser.calls == []


def cold(folder: Path, parser: Parser, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> DirCache:
    """A cache that reads a big directory it knows nothing of in parts, in forked children."""
    monkeypatch.setattr(cache, "PARALLEL_MIN", 10)
    monkeypatch.setattr(cache, "_PER_CHILD_MIN", 5)
    monkeypatch.setattr(cache, "_cpus", lambda: 3)

    def load(name: str, data: bytes) -> dict[str, str]:
        doc = parser(name, data)
        if doc is None:
            raise ValueError("unreadable")
        return doc

    kw.setdefault("racy_ns", SETTLED)
    return DirCache(folder / "pending", parser, folder / "tmp" / "cache", store_min=0, load=load, **kw)


def test_a_cold_listing_keeps_only_settled_files_in_the_cache_file(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files changed moments ago are listed, but a new process reads them again, not the cache file."""
    for i in range(30):
        write(folder, f"{i:02}.yaml", f"id: {i}")
    first = cold(folder, Parser(), monkeypatch, racy_ns=cache.RACY_NS)
    expected = [(f"{i:02}.yaml", {"id": str(i)}) for i in range(30)]
    assert first.docs() == expected
    parser = Parser()
    assert make(folder, parser, racy_ns=cache.RACY_NS).docs() == expected
    assert len(parser.calls) == 30  # nothing settled was remembered


def test_a_cold_listing_whose_child_dies_reads_that_part_itself(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(30):
        write(folder, f"{i:02}.yaml", f"id: {i}")
    parent = os.getpid()
    parser = Parser()
    dc = cold(folder, parser, monkeypatch)
    real_load = dc.load
    assert real_load is not None

    def dies_in_a_child(name: str, data: bytes) -> dict[str, Any]:
        if os.getpid() != parent:
            os._exit(3)  # killed mid-part: no result reaches the pipe
        return real_load(name, data)

    dc.load = dies_in_a_child
    assert dc.docs() == [(f"{i:02}.yaml", {"id": str(i)}) for i in range(30)]
    assert len(parser.calls) == 30  # every file parsed here, once
    again = Parser()
    assert make(folder, again).docs() == dc.docs()
    assert again.calls == []  # and all in the cache file


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("where", ["parsing", "taking the children's parts"])
def test_an_interrupted_cold_read_leaves_no_child_and_no_open_file(
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Ctrl-C during a cold listing: the interrupt goes on up, every child is stopped and reaped,
    and each pipe is closed once (closing one twice had turned the interrupt into EBADF)."""
    monkeypatch.setattr(cache, "_PER_CHILD_MIN", 1)
    monkeypatch.setattr(cache, "_cpus", lambda: 3)
    parent = os.getpid()
    never_r, never_w = os.pipe()  # children parsing in vain wait on it: the parent stops them first

    def work(chunk: list[str]) -> list[str]:
        if where == "parsing":
            if os.getpid() == parent:
                raise KeyboardInterrupt
            os.read(never_r, 1)
        return chunk

    real_loads, parts_taken = cache.loads, []

    def interrupted_at_the_second(data: bytes) -> Any:
        parts_taken.append(data)
        if len(parts_taken) == 2:  # the first child is reaped and its pipe closed
            raise KeyboardInterrupt
        return real_loads(data)

    monkeypatch.setattr(cache, "loads", interrupted_at_the_second)
    before = _open_fds()
    with pytest.raises(KeyboardInterrupt):
        cache._Fanout(work, [f"{i}" for i in range(12)]).results()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every child reaped
    assert _open_fds() == before
    os.close(never_r)
    os.close(never_w)
