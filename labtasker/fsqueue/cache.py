"""Parsed documents of one directory, kept between calls and between processes.

Parsing YAML is most of the cost of listing a big queue (about 100 us a file
even with libyaml), so the parsed documents of a directory are remembered: in
memory, and in ``<queue>/tmp/cache/<dir>.<uid>.pickle`` for the next process.

The cache is never authoritative. Every use starts with a fresh listing and a
``stat`` of every file, and a remembered document is used only if its file
still has the (inode, size, mtime, ctime) it had when it was read. A document
read less than ``RACY_NS`` after its file last changed is used once but not
remembered: a second change within the same timestamp tick could leave the
same stat behind (git's "racily clean" files), so such a file is read again.
A cache file that is missing, damaged, written by other parsing code, or not
written by this user is ignored and rebuilt.

A file this user's processes wrote themselves is not read again either:
the writer appends (name, digest of the bytes, document, stat key just after
its rename) to a memo log, ``<dir>.<uid>.memo``. A reader takes the document
of a file whose stat key is the one the writer recorded without opening it,
and looks up the bytes of any other file it must read before parsing them.
Our writers never change a file in place (each write is a new inode renamed
over the old), so a recorded key names exactly the bytes written; a file
changed by anyone else (rsync, git, an editor) gets another inode, size or
time and is read. The one change a key cannot show is another program
rewriting the file in place, at the same size, within the same tick of the
filesystem's clock as our write (a few milliseconds); on a filesystem whose
times are coarser than a millisecond, no key is recorded and the bytes are
always read. This is what makes every listing after our own writes (submit,
claim, finish, update) as fast as a warm one.

The file holds a table (``table.py``): one column per field, decoded only
when a field is first asked for, so a filter on ``args`` over 10^5 tasks
decodes ``args`` and nothing else. A directory nothing is remembered of is
read in parts by forked children, each packing its own part of the table
(``_cold_start``). The file is a pickle of plain data (lists, dicts,
strings, numbers, dates) written by this user into the queue's local ``tmp/``
and loaded only when it is owned by the same user and writable by no one else.
"""

from __future__ import annotations

import atexit
import heapq
import os
import stat
import struct
import sys
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labtasker.fsqueue import clock, entries, ids, layout
from labtasker.fsqueue.table import (
    KEY,
    Doc,
    Key,
    Part,
    Row,
    Table,
    build_table,
    dumps,
    gc_paused,
    loads,
    pack,
)
from labtasker.log import log

FORMAT = 4  # 4: tables in segments
RACY_NS = 2_000_000_000  # coarser than any filesystem's timestamp tick we know of (FAT: 2 s)
READ_ONLY_SKEW_NS = 60_000_000_000  # a read-only reader's own clock may be this far ahead of the files'
STORE_MIN = 100  # smaller directories are parsed afresh each time: cheap, and nothing is written
Parse = Callable[[str, bytes], "Doc | None"]
"""Turn a file's bytes into a document, or None (the parser quarantines what it cannot read)."""
Load = Callable[[str, bytes], "Doc"]
"""Turn a file's bytes into a document, touching nothing else; raise for a file it cannot read."""
PARALLEL_MIN = 2000  # misses; fewer are parsed in this process (a fork and the hand-back cost more)
_PER_CHILD_MIN = 1000
_FRAME = struct.Struct("<II")  # a memo record's length and crc32
_SUM = struct.Struct("<I")  # the crc32 that ends a cache file: a damaged one is never loaded
MEMO_MAX = 32 << 20  # bytes; a memo that no reader has folded into a table stops growing here
DETACH_MIN = 20_000  # rows from which the cache file is written beside the listing (a process or a thread)
MEMO_BATCH = 64  # records a writer keeps before appending them as one (one pickle loads faster than many)
MEMO_DELAY = 0.5  # seconds a record may wait for more; the rest are appended when the process exits
Record = tuple[str, bytes, "Doc", "Key | None"]  # name, digest of the bytes, document, stat key


class DirCache:
    """The documents of one directory, checked against the filesystem on every call."""

    def __init__(
        self,
        directory: Path,
        parse: Parse,
        cache_dir: Path,
        *,
        persist: bool = True,
        tag: str = "",
        racy_ns: int = RACY_NS,
        store_min: int = STORE_MIN,
        reject: Callable[[str, str], None] | None = None,
        load: Load | None = None,
    ) -> None:
        self.directory = directory
        self.parse = parse
        self.load = load  # parse without side effects: lets many misses be parsed in child processes
        self.reject = reject  # told of a regular file too big to be ours (the queue quarantines it)
        self.cache_dir = cache_dir  # the queue's tmp/cache/: local, never synced
        self._cache_dir_seen = False  # once it exists, writers stop looking (an append makes it again)
        self.store = store_path(cache_dir, directory.name) if persist else None
        self.tag = tag  # names the parsing code: a file written by other code is ignored
        self.racy_ns = racy_ns
        self.store_min = store_min
        self._table: Table | None = None
        self._loaded = False
        self._extra: dict[str, tuple[Key, Doc]] = {}  # read since the table was made
        self._delta: frozenset[str] = frozenset()  # the names the delta file holds
        self.memo = None if self.store is None else _memo_path(self.store)
        # (name, digest) and (name, stat key) -> document, once loaded
        self._memo: dict[tuple[str, bytes], Doc] | None = None
        self._memo_names: dict[str, list[Record]] = {}  # name -> its memo records, once loaded
        self._cold_started: _Cold | None = None  # a cold read ``prefetch`` began
        self.gone: list[str] = []  # names the last listing gave whose file was gone when looked at
        self._listed: tuple[list[str], list[str]] | None = None  # names ``prefetch`` listed for the next call
        self._unwritten: list[Record] = []  # memo records of this process not yet appended
        self._unwritten_since = 0.0
        self._lock = threading.Lock()  # a loop's lease thread writes too
        self.read_only = (
            False  # a viewer's: remember in memory only, write nothing (not even the clock probe)
        )

    def docs(self) -> list[tuple[str, Doc]]:
        """(name, document) of every readable task file, sorted by name; new dicts, or shared read-only ones."""
        return self._refresh(views=False)

    def views(self) -> list[tuple[str, Mapping[str, Any]]]:
        """Like ``docs`` but as read-only mappings, which read only the fields asked for."""
        return self._refresh(views=True)

    def forget(self) -> None:
        """Drop what this process remembers (the cache files stay)."""
        self.cancel()
        self._table, self._loaded, self._extra, self._delta = None, False, {}, frozenset()
        self._memo, self._memo_names = None, {}

    def remember_written(self, name: str, data: bytes, doc: Doc, st: os.stat_result | None = None) -> None:
        """``data`` was just written as ``name`` and parses to ``doc``: spare every reader the read.

        ``doc`` must be exactly what parsing ``data`` gives (see ``plain_copy``);
        ``st`` is the file's stat just after its rename, if it is still ours.
        Like the table, the memo is for big directories: until the cache folder
        exists or this process has written ``store_min`` files here, records
        wait in memory, so a small queue's ``tmp/`` stays empty. Failing to
        append costs speed only, never the write.
        """
        if self.memo is None or self.read_only:
            return
        entry: Record = (name, content_digest(data), doc, _written_key(st))  # ``doc`` is ours alone
        with self._lock:
            if not self._unwritten:
                self._unwritten_since = time.monotonic()
            self._unwritten.append(entry)
            if self._memo is not None:
                _note(self._memo, self._memo_names, entry)
            if len(self._unwritten) < self.store_min and not self._cache_dir_exists():
                return
            if len(self._unwritten) < MEMO_BATCH and time.monotonic() - self._unwritten_since < MEMO_DELAY:
                _WAITING.add(self)
                return
        self.flush()

    def _cache_dir_exists(self) -> bool:
        self._cache_dir_seen = self._cache_dir_seen or self.cache_dir.is_dir()
        return self._cache_dir_seen

    def flush(self) -> None:
        """Append the records still waiting, as one (also done when the process exits)."""
        with self._lock:
            batch, self._unwritten = self._unwritten, []
        if not batch or self.memo is None:
            return
        record = dumps(batch)
        try:
            _append_private(self.memo, _FRAME.pack(len(record), zlib.crc32(record)) + record)
        except OSError as exc:
            log.debug("could not append to %s: %s", self.memo, exc)

    # ------------------------------------------------------------ reading
    def prefetch(self) -> None:
        """List the directory's names now, for the next ``docs`` or ``views``; and if it is a big
        directory nothing is remembered of, start reading it: its files are parsed by forked
        children while this process goes on (with another directory, say). ``cancel`` if no
        listing follows."""
        if self._cold_started is None and self._listed is None:
            with gc_paused():
                self._begin()

    def cancel(self) -> None:
        """Stop the children ``prefetch`` started, if their work was not taken."""
        started, self._cold_started = self._cold_started, None
        self._listed = None
        if started is not None:
            started.close()

    def _begin(self) -> None:
        """List the names, and start a cold read of them or keep them for the warm one."""
        regular, others = self._names()
        if self._table_for(len(regular) + len(others)) is None and self._cold_ok(len(regular)):
            self._cold_started = self._cold_start(sorted(regular), others)
        else:
            self._listed = (regular, others)

    def _refresh(self, views: bool) -> list[Any]:
        self.gone = []
        with gc_paused():
            if self._cold_started is None and self._listed is None:
                self._begin()
            started, self._cold_started = self._cold_started, None
            listed, self._listed = self._listed, None
            if started is not None:
                out = self._cold_finish(started, views)
            else:
                assert listed is not None
                regular, others = listed
                table = self._table
                scanned = self._stat_all(regular + others)
                if table is not None and not views and len(table.names) > 64:
                    table.decode_all()  # many dicts to build: columns beat rows
                if table is not None and _holds(table, scanned):
                    out, used = self._with_table(table, scanned, views)
                else:
                    out, used = self._each(sorted(scanned), scanned, table, views)
                self._maybe_store(table, scanned, used)
        return [item for item in out if item[1] is not None]

    def _with_table(self, table: Table, scanned: dict[str, Key], views: bool) -> tuple[list[Any], int]:
        """Every row of the table matches its file: take them all and look only at the other names."""
        rows = [(name, Row(table, i) if views else table.doc(i)) for i, name in enumerate(table.names)]
        others, _ = self._each(sorted(scanned.keys() - table.index.keys()), scanned, None, views)
        return (list(heapq.merge(rows, others, key=_name)) if others else rows), len(rows)

    def _each(
        self, names: list[str], scanned: dict[str, Key], table: Table | None, views: bool
    ) -> tuple[list[tuple[str, Any]], int]:
        """(name, document) for each name, reading the files nothing remembered; and the table rows used."""
        out: list[tuple[str, Any]] = []
        misses: list[int] = []
        used = 0
        extra, still = self._extra, {}
        index = table.index if table is not None else {}
        for name in names:  # a hot loop over up to 10^5 names: plain code, no calls it can spare
            key = scanned[name]
            hit = extra.get(name)
            if hit is not None and hit[0] == key:
                still[name] = hit
                out.append((name, hit[1]))
                continue
            i = index.get(name)
            if i is not None and table.key(i) == key:  # type: ignore[union-attr]
                used += 1
                out.append((name, Row(table, i) if views else table.doc(i)))  # type: ignore[arg-type, union-attr]
                continue
            misses.append(len(out))
            out.append((name, None))
        self._extra = still
        if misses:
            misses = self._from_memo(out, misses, scanned)
        if misses:
            self._read_misses(out, misses, scanned)
        return out, used

    def _from_memo(self, out: list[tuple[str, Any]], misses: list[int], scanned: dict[str, Key]) -> list[int]:
        """Fill in the files whose stat key a writer of ours recorded; return the misses left to read."""
        memo = self._load_memo()
        if not memo:
            return misses
        settled_before: int | None = None
        left = []
        for i in misses:
            name = out[i][0]
            key = scanned[name]
            doc = memo.get((name, key))
            if doc is None:
                left.append(i)
                continue
            out[i] = (name, doc)
            if settled_before is None:
                settled_before = self._settled_before(len(scanned))
            if KEY.unpack(key)[3] < settled_before:
                self._extra[name] = (key, _interned(doc))
        return left

    def _settled_before(self, size: int) -> int:
        """Files changed before this time (ns, the filesystem's clock) may be remembered."""
        return self._fs_now() - self.racy_ns if size >= self.store_min else -(2**62)

    def _names(self) -> tuple[list[str], list[str]]:
        """The names of the task files in the directory, from one listing: those listed as
        regular files, and the others (a directory, a link, or a type the listing does not give)."""
        regular: list[str] = []
        others: list[str] = []
        try:
            with os.scandir(self.directory) as listing:
                for entry in listing:
                    if layout.is_task_file(entry.name):
                        (regular if entries.is_regular(entry) else others).append(entry.name)
        except FileNotFoundError:
            pass
        return regular, others

    def _stat_all(self, names: list[str]) -> dict[str, Key]:
        """Name -> stat key of each task file still there (the others warned of or quarantined)."""
        out: dict[str, Key] = {}
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except FileNotFoundError:
            return out
        try:
            for name in names:
                key = self._stat_one(fd, name)
                if key is not None:
                    out[name] = key
        finally:
            os.close(fd)
        return out

    def _stat_one(self, fd: int, name: str) -> Key | None:
        try:
            st = os.lstat(name, dir_fd=fd)  # relative to the fd: no path walk
        except FileNotFoundError:
            self.gone.append(name)  # moved since the listing: the caller may look for it
            return None
        why = entries.problem(st)
        if why is None:
            return _key(st)
        if stat.S_ISREG(st.st_mode) and self.reject is not None:
            self.reject(name, why)  # a huge file: never read
        else:  # a directory, FIFO, link or device: never opened
            entries.warn(self.directory / name, why)
        return None

    def _read_misses(self, out: list[tuple[str, Any]], misses: list[int], scanned: dict[str, Key]) -> None:
        """Read and parse the files the cache cannot vouch for; remember the settled ones.

        A small directory remembers nothing: parsing it is cheap, and reading
        a queue then writes nothing into it (the clock probe is a write).
        """
        settled_before = self._settled_before(len(scanned))
        memo = self._load_memo()
        names = [out[i][0] for i in misses]
        try:
            dir_fd = os.open(self.directory, os.O_RDONLY)
        except FileNotFoundError:
            dir_fd = None  # gone since the scan: each read below finds its file gone
        try:
            if self.load is not None and dir_fd is not None and len(names) >= PARALLEL_MIN:
                got = _in_children(lambda part: self._read_quietly(dir_fd, part, memo), names)
            else:
                got = [None] * len(names)
            for i, name, item in zip(misses, names, got, strict=True):
                if item is None:  # read here: warnings and quarantine are this process's
                    item = self._read_one(dir_fd, name, memo)
                key, ctime_ns, doc = item
                if doc is not None:
                    doc = _interned(doc)
                    if ctime_ns < settled_before and key == scanned[name]:
                        self._extra[name] = (scanned[name], doc)
                out[i] = (name, doc)
        finally:
            if dir_fd is not None:
                os.close(dir_fd)

    def _read_one(self, dir_fd: int | None, name: str, memo: dict[tuple[str, bytes], Doc]) -> _Read:
        """(stat key, ctime, document) of a file; the document None if it is gone or unreadable."""
        try:
            read = entries.read_at(dir_fd, self.directory / name)
        except entries.BadEntry:
            return b"", 0, None  # warned of: not a task file
        if read is None:
            self.gone.append(name)  # moved since the listing: the caller may look for it
            return b"", 0, None
        st, data = read
        doc = memo.get((name, content_digest(data))) if memo else None
        if doc is None:
            doc = self.parse(name, data)
        return _key(st), st.st_ctime_ns, doc

    def _read_quietly(
        self, dir_fd: int, names: list[str], memo: dict[tuple[str, bytes], Doc]
    ) -> list[_Read | None]:
        """``_read_quiet`` of each name."""
        return [self._read_quiet(dir_fd, name, memo) for name in names]

    def _read_quiet(self, dir_fd: int, name: str, memo: dict[tuple[str, bytes], Doc]) -> _Read | None:
        """``_read_one`` with no side effect (no warning, no quarantine; in a child process): None
        for a file the parent process should read again itself."""
        assert self.load is not None
        try:
            got = entries.read_at(dir_fd, name, quiet=True, listed_regular=True)
        except entries.BadEntry:
            return None
        if got is None:
            return b"", 0, None  # gone since the listing
        st, data = got
        doc = memo.get((name, content_digest(data))) if memo else None
        if doc is None:
            try:
                doc = self.load(name, data)
            except Exception:
                return None
        return _key(st), st.st_ctime_ns, doc

    # ------------------------------------------------------------ a cold listing
    def _cold_ok(self, size: int) -> bool:
        """A big directory nothing is remembered of: ``_cold_start`` reads it in parts."""
        return self.load is not None and size >= PARALLEL_MIN

    def _cold_start(self, names: list[str], others: list[str]) -> _Cold:
        """Start reading every file of a directory nothing is remembered of.

        The names are split among this process and forked children; each reads
        and parses its part and packs the settled documents into rows of a
        table (``table.pack``), so the pickling a cache file needs is shared
        out too, and ``_cold_finish`` joins the parts without decoding them: a
        listing then decodes only the columns it reads. That table is the
        directory's from now on, and is written to the cache file as it is.
        ``names``: those listed as regular files, sorted; ``others`` are looked at at the finish.
        """
        settled_before = self._settled_before(len(names))
        memo = self._load_memo()
        try:
            dir_fd = os.open(self.directory, os.O_RDONLY)
        except FileNotFoundError:
            return _Cold(others, settled_before, memo, None, None)

        def work(chunk: list[str]) -> tuple[Part, dict[int, _Read | None]]:
            return self._pack_quietly(dir_fd, chunk, memo, settled_before)

        try:
            fanout = _Fanout(work, names)
        except BaseException:
            os.close(dir_fd)
            raise
        return _Cold(others, settled_before, memo, dir_fd, fanout)

    def _cold_finish(self, cold: _Cold, views: bool) -> list[tuple[str, Any]]:
        """(name, document) of every file ``_cold_start`` began to read."""
        if cold.dir_fd is None or cold.fanout is None:
            return []
        dir_fd, memo, settled_before = cold.dir_fd, cold.memo, cold.settled_before
        try:
            results = []
            for chunk, got in cold.fanout.results():
                if not (isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], Part)):
                    got = self._pack_quietly(dir_fd, chunk, memo, settled_before)  # its child failed
                results.append((chunk, got))
            # Documents (not views) are made row by row, in order: each group is decoded once.
            table = Table.from_parts([part for _, (part, _) in results])
            self._extra = {}
            scanned = self._stat_all(cold.others)
            odd = self._each(sorted(scanned), scanned, None, views)[0] if scanned else []
            out: list[tuple[str, Any]] = []
            row = 0
            for chunk, (_, aside) in results:
                for j, name in enumerate(chunk):
                    if j not in aside:  # the next row of the table
                        scanned[name] = table.key(row)
                        out.append((name, Row(table, row) if views else table.doc(row)))
                        row += 1
                        continue
                    item = aside[j]
                    if item is None:  # read here: warnings and quarantine are this process's
                        found = self._stat_one(dir_fd, name)
                        item = (b"", 0, None) if found is None else self._read_one(dir_fd, name, memo)
                    elif item[2] is None:  # the child found it gone
                        self.gone.append(name)
                    key, ctime_ns, doc = item
                    if doc is not None:
                        doc = _interned(doc)
                        scanned[name] = key
                        if ctime_ns < settled_before:
                            self._extra[name] = (key, doc)
                    out.append((name, doc))
            if odd:  # not listed as regular files: the usual look, then a read if they are
                out += odd
                out.sort(key=_name)
        finally:
            cold.close()
        self._table = table
        self._save(scanned)
        return out

    def _pack_quietly(
        self, dir_fd: int, names: list[str], memo: dict[tuple[str, bytes], Doc], settled_before: int
    ) -> tuple[Part, dict[int, _Read | None]]:
        """``_read_quiet`` of the names, the settled documents packed into a part of a table;
        the others (changed moments ago, gone, or None: left to the parent) by their place in ``names``."""
        kept: list[str] = []
        keys: list[Key] = []
        docs: list[Doc] = []
        aside: dict[int, _Read | None] = {}
        for j, name in enumerate(names):
            item = self._read_quiet(dir_fd, name, memo)
            if item is None or item[2] is None or item[1] >= settled_before:
                aside[j] = item
            else:
                kept.append(name)
                keys.append(item[0])
                docs.append(item[2])
        return pack(kept, keys, docs), aside

    def _fs_now(self) -> int:
        """The filesystem's clock, in ns (touch a marker file); far past if it cannot be written."""
        if self.read_only:  # our own clock, with a margin for the skew to a file server's
            return int(clock.now().timestamp() * 1e9) - READ_ONLY_SKEW_NS
        marker = self.cache_dir / "clock"
        try:
            try:
                os.utime(marker)
            except FileNotFoundError:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                marker.touch()
            return os.stat(marker).st_mtime_ns
        except OSError:
            return -(2**62)  # nothing counts as settled: always correct, only slower

    def _load_memo(self) -> dict[tuple[str, bytes], Doc]:
        """The documents writers left in the memo log (records after a damaged one are ignored)."""
        if self._memo is None:
            self._memo = {}
            if self.memo is not None:
                data = self._load_file(self.memo, raw=True)
                if data:
                    self._memo, self._memo_names = _memo_records(data)
                for entry in self._unwritten:  # ours, not appended yet
                    _note(self._memo, self._memo_names, entry)
        return self._memo

    # ----------------------------------------------------- the cache file
    def _header(self) -> tuple[Any, ...]:
        return (FORMAT, self.directory.name, self.tag, sys.version_info[:2])

    def _table_for(self, size: int) -> Table | None:
        if not self._loaded:
            self._loaded = True
            if self.store is not None and size >= self.store_min:
                self._table = Table.loads(self._load_file(self.store), self._header())
                self._extra = self._load_delta()
                self._delta = frozenset(self._extra)
            elif (
                self.store is not None and not self.read_only
            ):  # the directory shrank: its old cache is dead weight
                _unlink_quietly(self.store)
                _unlink_quietly(_delta_path(self.store))
        return self._table

    def _load_file(self, path: Path, *, raw: bool = False) -> Any:
        """A cache file's contents (its bytes if ``raw``), or None if it is missing, damaged or not ours."""
        try:
            with open(path, "rb") as f:
                if not _ours(os.fstat(f.fileno())):
                    return None
                data = f.read()
            if raw:
                return data
            body = memoryview(data)[: -_SUM.size]
            if len(data) < _SUM.size or _SUM.unpack_from(data, len(body))[0] != zlib.crc32(body):
                return None  # damaged (or written by code before the checksum)
            return loads(body)  # our own file, checked above
        except FileNotFoundError:
            return None
        except Exception as exc:
            log.debug("ignoring unreadable cache %s: %s", path, exc)
            return None

    def _load_delta(self) -> dict[str, tuple[Key, Doc]]:
        """Documents read since the table was written (checked like any other before use)."""
        data = self._load_file(_delta_path(self.store))  # type: ignore[arg-type]
        if not isinstance(data, dict) or data.get("header") != self._header():
            return {}
        entries = data.get("entries")
        if not isinstance(entries, dict) or not all(
            isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], bytes) and isinstance(v[1], dict)
            for v in entries.values()
        ):
            return {}
        return entries

    def _maybe_store(self, table: Table | None, scanned: dict[str, Key], used: int) -> None:
        """A new table once 2% of the old one changed; in between, what was read since goes to a delta file."""
        changed = len(self._extra) + (len(table.names) - used if table is not None else 0)
        if changed and changed * 50 >= used + len(self._extra):
            self._rebuild(table, scanned)
        elif self.store is not None and not self.read_only and self._extra.keys() != self._delta:
            self._write(_delta_path(self.store), {"header": self._header(), "entries": self._extra})
            self._delta = frozenset(self._extra)

    def _rebuild(self, table: Table | None, scanned: dict[str, Key]) -> None:
        kept: list[tuple[str, Key, Any]] = []
        for name in sorted(scanned):
            hit = self._extra.get(name)
            if hit is not None:
                kept.append((name, hit[0], hit[1]))
            elif (
                table is not None
                and (i := table.index.get(name)) is not None
                and table.key(i) == scanned[name]
            ):
                kept.append((name, scanned[name], i))
        self._table = build_table(kept, table)
        self._extra = {}
        self._save(scanned)

    def _save(self, scanned: dict[str, Key]) -> None:
        """Write the table to the cache file; the memo keeps only what the table does not hold."""
        table = self._table
        assert table is not None
        if self.store is None or len(table.names) < self.store_min or self.read_only:
            return
        store, header = self.store, self._header()

        def save() -> None:  # in a process of its own: it may not log (logging's locks) nor raise
            self._write(store, table.packed(header), quiet=True)
            if self.memo is not None and self._memo:
                self._fold_memo(scanned, quiet=True)
            if self._delta:
                _unlink_quietly(_delta_path(store))

        if len(table.names) >= DETACH_MIN and not table.pickled and _detached(save):
            # Pickling the columns of 10^5 rows is slow: a forked process writes the file while
            # this one goes on with the table it has; what it rewrites is read again here.
            self._memo, self._memo_names, self._delta = None, {}, frozenset()
            return
        packed = table.packed(header)
        if len(table.names) >= DETACH_MIN:  # megabytes to copy into the file: a thread writes them
            _in_thread(lambda: self._write(store, packed, quiet=True))
        else:
            self._write(store, packed)
        if not table.pickled:
            self._table = Table.unpacked(packed)  # as a new process has it: columns decoded when used
        if self.memo is not None and self._memo:
            self._fold_memo(scanned)
        if self._delta:
            _unlink_quietly(_delta_path(store))
            self._delta = frozenset()

    def _fold_memo(self, scanned: dict[str, Key], *, quiet: bool = False) -> None:
        """The table now holds the settled files: keep in the memo only the records of the others.

        A record a writer appends between our read and this rewrite is lost,
        which costs its reader one read of the file, never a wrong document.
        """
        table = self._table
        assert table is not None
        assert self.memo is not None
        with self._lock:  # a lease thread may be adding its own record
            names = list(self._memo_names.items())
        left = [
            entry
            for name, kept in names
            if name in scanned and ((i := table.index.get(name)) is None or table.key(i) != scanned[name])
            for entry in kept
        ]
        self._memo, self._memo_names = None, {}  # read again when next needed
        if not left:
            _unlink_quietly(self.memo)
            return
        record = dumps(left)
        try:
            _write_private(self.memo, _FRAME.pack(len(record), zlib.crc32(record)) + record)
        except OSError as exc:
            if not quiet:
                log.debug("could not rewrite %s: %s", self.memo, exc)

    def _write(self, path: Path, what: Any, *, quiet: bool = False) -> None:
        try:
            data = dumps(what)
            _write_private(path, data, _SUM.pack(zlib.crc32(data)))
        except OSError as exc:  # a read-only or full disk only costs speed
            if not quiet:
                log.debug("could not write cache %s: %s", path, exc)


_Read = tuple[Key, int, "Doc | None"]


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _in_children(work: Callable[[list[str]], list[Any]], names: list[str]) -> list[Any]:
    """``work(names)``, the names split among this process and forked children, in order; the
    part of a child that failed comes back as Nones, which the caller reads itself."""
    out: list[Any] = []
    for chunk, part in _Fanout(work, names).results():
        out.extend(part if isinstance(part, list) and len(part) == len(chunk) else [None] * len(chunk))
    return out


class _Fanout:
    """Contiguous chunks of names worked on by forked children, started at once, and by this
    process when it asks for the ``results``.

    A cold listing of 10^5 files is CPU-bound parsing. The chunks are handed
    out as tickets through a pipe (a read of a few bytes from a pipe is whole),
    a few per process, so a process that gets less of the CPU or slower files
    takes fewer of them, and children started for one directory take all its
    chunks while this process is still busy with another. A child only reads
    files and computes (no locks, no logging, no writes but its pipe), hands
    back its chunks' results as plain data, and leaves with ``os._exit``.
    """

    def __init__(self, work: Callable[[list[str]], Any], names: list[str]) -> None:
        self.work = work
        workers = max(1, min(_cpus(), len(names) // _PER_CHILD_MIN))
        if not hasattr(os, "fork"):
            workers = 1
        size = max(1, -(-len(names) // (workers * _TICKETS_EACH)))
        self.chunks = [names[at : at + size] for at in range(0, len(names), size)]
        self.children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
        self.tickets, tickets_w = os.pipe()
        try:
            os.write(tickets_w, b"".join(_TICKET.pack(i) for i in range(len(self.chunks))))  # fits a pipe
        finally:
            os.close(tickets_w)
        try:
            for _ in range(workers - 1):
                self._fork()
        except BaseException:
            self.close()
            raise

    def _fork(self) -> None:
        import signal

        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return  # fewer hands: this process takes the chunks left
        if pid == 0:  # the child: nothing here may return into the caller's code
            code = 1
            try:
                signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
                os.close(r)
                data = memoryview(dumps(self._take_tickets()))
                while data:
                    data = data[os.write(w, data) :]
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        self.children.append((pid, r))

    def _take_tickets(self) -> dict[int, Any]:
        """Take chunk numbers from the pipe until it is empty; each chunk's result by its number."""
        out: dict[int, Any] = {}
        while len(ticket := os.read(self.tickets, _TICKET.size)) == _TICKET.size:
            i = _TICKET.unpack(ticket)[0]
            out[i] = self.work(self.chunks[i])
        return out

    def results(self) -> list[tuple[list[str], Any]]:
        """(chunk, its result) for every chunk, in order; None for a chunk whose child failed."""
        try:
            results = self._take_tickets()
            while self.children:
                pid, r = self.children[0]
                blocks = []
                while block := os.read(r, 1 << 20):
                    blocks.append(block)
                _, status = os.waitpid(pid, 0)
                del self.children[0]  # reaped: nothing left to stop, only its pipe to close
                os.close(r)
                if os.waitstatus_to_exitcode(status) == 0:
                    try:
                        got = loads(b"".join(blocks))
                    except Exception:
                        got = None
                    if isinstance(got, dict):
                        results.update((i, part) for i, part in got.items() if isinstance(i, int))
            return [(chunk, results.get(i)) for i, chunk in enumerate(self.chunks)]
        finally:
            self.close()

    def close(self) -> None:
        """Stop the children whose work was not taken; idempotent, even when interrupted midway."""
        import signal

        while self.children:
            pid, r = self.children.pop()
            os.close(r)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        tickets, self.tickets = self.tickets, -1
        if tickets >= 0:
            os.close(tickets)


class _Cold:
    """A cold read begun by ``_cold_start``: what its finish needs, and what to close."""

    __slots__ = ("dir_fd", "fanout", "memo", "others", "settled_before")

    def __init__(
        self,
        others: list[str],
        settled_before: int,
        memo: dict[tuple[str, bytes], Doc],
        dir_fd: int | None,
        fanout: _Fanout | None,
    ) -> None:
        self.others, self.settled_before, self.memo = others, settled_before, memo
        self.dir_fd, self.fanout = dir_fd, fanout

    def close(self) -> None:
        """Stop its children and close its directory; idempotent."""
        if self.fanout is not None:
            self.fanout.close()
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None


_TICKET = struct.Struct("<I")
_TICKETS_EACH = 4  # chunks per process


def _detached(work: Callable[[], None]) -> bool:
    """Start ``work`` in a process of its own and return at once; False if none could be started.

    A child forks the process that does the work and leaves at once, so it is
    reaped here straight away and the worker, an orphan, is reaped by init: a
    long-lived caller (the TUI, a loop) is left no zombie. The worker takes no
    signal but SIGKILL, so a Ctrl-C meant for the caller cannot cut a file short
    (it writes to a temporary name and renames, so nothing half-written is seen).
    """
    if not hasattr(os, "fork"):
        return False
    import signal

    try:
        pid = os.fork()
    except OSError:
        return False
    if pid == 0:  # nothing here may return into the caller's code
        code = 1
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
            if os.fork() == 0:
                try:
                    work()
                    code = 0
                finally:
                    os._exit(code)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _in_thread(work: Callable[[], None]) -> None:
    """Run ``work`` in a thread of its own, which the interpreter waits for at exit (copying into
    a file and its checksum let go of the GIL, so the listing goes on meanwhile)."""
    threading.Thread(target=_quietly, args=(work,), name="labtasker-cache-write").start()


def _quietly(work: Callable[[], None]) -> None:
    try:
        work()
    except BaseException:  # a cache that could not be written only costs speed
        pass


def _holds(table: Table, scanned: dict[str, Key]) -> bool:
    """True if every file the table knows is still there, unchanged."""
    try:
        return b"".join(map(scanned.__getitem__, table.names)) == table.keys
    except KeyError:
        return False


def _name(item: tuple[str, Any]) -> str:
    return item[0]


def _memo_path(store: Path) -> Path:
    return store.with_name(store.name.replace(".pickle", ".memo"))


def content_digest(data: bytes) -> bytes:
    """What identifies a file's bytes in the memo."""
    return ids.blake2b(data, digest_size=16).digest()


def _memo_records(data: bytes) -> tuple[dict[tuple[str, bytes], Doc], dict[str, list[Record]]]:
    """The memo's documents by (name, digest) and (name, stat key), and its records by name.

    Each framed record holds a list of records (a writer's batch) or, as older
    writers appended them, a single one.
    """
    out: dict[tuple[str, bytes], Doc] = {}
    names: dict[str, list[Record]] = {}
    view = memoryview(data)
    at = 0
    while at + _FRAME.size <= len(data):
        size, crc = _FRAME.unpack_from(data, at)
        end = at + _FRAME.size + size
        record = view[at + _FRAME.size : end]
        if end > len(data) or zlib.crc32(record) != crc:
            break  # a writer died mid-append: what follows cannot be trusted
        try:
            batch = loads(record)
        except Exception:
            break
        for entry in batch if isinstance(batch, list) else [batch]:
            if _is_record(entry):
                _note(out, names, entry)
        at = end
    return out, names


def _is_record(entry: Any) -> bool:
    return (
        isinstance(entry, tuple)
        and len(entry) == 4
        and isinstance(entry[0], str)
        and isinstance(entry[1], bytes)
        and isinstance(entry[2], dict)
        and (entry[3] is None or (isinstance(entry[3], bytes) and len(entry[3]) == KEY.size))
    )


def _note(memo: dict[tuple[str, bytes], Doc], names: dict[str, list[Record]], entry: Record) -> None:
    name, digest, doc, key = entry
    memo[(name, digest)] = doc
    if key is not None:  # 16-byte digests never equal a 32-byte key
        memo[(name, key)] = doc
    names.setdefault(name, []).append(entry)


_WAITING: weakref.WeakSet[DirCache] = weakref.WeakSet()  # caches with records still to append


@atexit.register
def _flush_all() -> None:
    for waiting in list(_WAITING):
        waiting.flush()


def _written_key(st: os.stat_result | None) -> Key | None:
    """The key a writer records for its file, or None on a filesystem with coarse times."""
    if st is None or (st.st_mtime_ns % 1_000_000 == 0 and st.st_ctime_ns % 1_000_000 == 0):
        return None  # a second-grained clock (FAT, some NFS servers): the next change could hide
    return _key(st)


_PLAIN = (str, int, float, bool, type(None))


def plain_copy(value: Any) -> Any:
    """A copy of ``value`` made of exactly the types a YAML load gives back; TypeError for anything else.

    Dicts, lists, str, int, float, bool, None, and datetimes, whose zone
    becomes a fixed offset as the loader makes it; a subclass of any of these
    (pendulum's DateTime) or a tuple would come back from the file as
    something else, if it could be written at all.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {plain_copy(k) if type(k) is not str else k: plain_copy(v) for k, v in value.items()}
    if kind is list:
        return [plain_copy(v) for v in value]
    if kind is datetime:
        if value.tzinfo is None or type(value.tzinfo) is timezone:
            return value  # as a load gives it, and immutable
        offset = value.utcoffset()
        zone = None if offset is None else timezone(offset)
        return datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, tzinfo=zone,
        )  # fmt: skip
    raise TypeError(f"not plain data: {kind.__name__}")


def _append_private(path: Path, data: bytes) -> None:
    """Append ``data`` with one write to a file of this user's only (created if missing)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o600)
    try:
        st = os.fstat(fd)
        if _ours(st) and st.st_size < MEMO_MAX:
            os.write(fd, data)
    finally:
        os.close(fd)


def _delta_path(store: Path) -> Path:
    return store.with_name(store.name.replace(".pickle", ".delta.pickle"))


def code_tag(*functions: Callable[..., Any]) -> str:
    """A short fingerprint of the code that parses files, so a cache outlives no change to it."""
    digest = 0
    codes = [fn.__code__ for fn in functions]
    while codes:
        code = codes.pop()
        digest = zlib.crc32(code.co_code, digest)
        for const in code.co_consts:  # a nested function's repr holds an address: walk it instead
            if isinstance(const, type(code)):
                codes.append(const)
            else:
                digest = zlib.crc32(repr(const).encode(), digest)
    return f"{digest:08x}"


def store_path(cache_dir: Path, dirname: str) -> Path:
    """The cache file of a directory: one per user, since it is a pickle."""
    uid = os.geteuid() if hasattr(os, "geteuid") else 0
    return cache_dir / f"{dirname}.{uid}.pickle"


def _key(st: os.stat_result) -> Key:
    return KEY.pack(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass  # gone already, or not ours to remove: it is only a cache


def _interned(doc: Doc) -> Doc:
    """The same document with shared key strings: less memory, a smaller pickle."""
    return {sys.intern(k) if type(k) is str else k: v for k, v in doc.items()}


def _ours(st: os.stat_result) -> bool:
    """A pickle is only loaded if this user wrote it and no one else can change it."""
    if not hasattr(os, "geteuid"):
        return True
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _write_private(dest: Path, data: bytes, trailer: bytes = b"") -> None:
    """Write ``data`` and ``trailer`` to a file readable by this user only, whole (temp file,
    rename); no fsync: it is a cache."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f"{dest.name}.{ids.nonce(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for part in (data, trailer):
            view = memoryview(part)
            while view:
                view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, dest)
    except BaseException:
        os.unlink(tmp)
        raise
