"""FsQueue: every change to a queue directory, as take, change, put.

To change a file, rename it into ``tmp/`` under a name that is ours (every
rival now gets ``FileNotFoundError``), compute the new document, write it whole
into its new state directory, then drop the held copy. A process that dies
holding a file leaves it in ``tmp/``; ``recover_held`` puts it back.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from labtasker.fsqueue import atomic, cache, clock, codec, entries, faults, held, ids, layout, versions
from labtasker.fsqueue.cache import DirCache
from labtasker.fsqueue.documents import normalise, ordered, owned_copy
from labtasker.fsqueue.layout import STATE_DIRS, TaskStatus
from labtasker.log import log
from labtasker.record import Record

FORMAT_VERSION = 1
READ_CACHE_MAX = 4096  # documents remembered by ``read``: a loop over 10^5 tasks stays small
_FIND_ROUNDS = 20
HELD_AGE = 120.0  # seconds (filesystem clock) before a file held by another host's process is put back
Doc = dict[str, Any]
Change = Callable[[Doc], "tuple[str, Doc] | None"]
"""Given the held document, return (new directory, new document), or None to delete."""


class Located(Record):
    """Where a document sits: its directory and file name."""

    _fields = ("dirname", "name", "doc", "busy")
    dirname: str
    name: str
    doc: Doc
    busy: bool  # in another process's hand (in ``tmp/``) at the moment of looking

    def __init__(self, dirname: str, name: str, doc: Doc, busy: bool = False) -> None:
        self._init(dirname=dirname, name=name, doc=doc, busy=busy)


class Held(Record):
    """A file some process took into ``tmp/``: where it came from and who holds it."""

    _fields = ("path", "origin", "name", "holder")
    path: Path
    origin: str
    name: str
    holder: held.Holder | None

    def __init__(self, path: Path, origin: str, name: str, holder: held.Holder | None) -> None:
        self._init(path=path, origin=origin, name=name, holder=holder)

    @property
    def task_id(self) -> str | None:
        return layout.task_id_of(self.origin, self.name) if self.origin in _STATE_DIRNAMES else None


class FsQueue:
    """One queue directory. Safe to use from many processes at once, and from a loop's threads (its
    lease keeper, its finish) at once."""

    def __init__(self, path: str | os.PathLike[str], *, node: str = "local") -> None:
        self.path = Path(path)
        self.node = ids.check_id(node, "node id")
        self.tmp = self.path / "tmp"
        # a loop's hot paths are joined as strings: no Path made a call
        self._root, self._tmp = f"{self.path}{os.sep}", f"{self.tmp}{os.sep}"
        self._cache: dict[tuple[str, str], tuple[tuple[int, int, int], Doc, bytes]] = {}
        self._dirs: dict[str, DirCache] = {}
        self._cache_lock = threading.Lock()  # a loop's threads write the read cache at once

    # ------------------------------------------------------------------ set-up
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        name: str,
        *,
        node: str = "local",
        metadata: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> FsQueue:
        """Make the directories and ``queue.yaml``; keeps an existing queue as it is."""
        queue = cls(path, node=node)
        queue.path.mkdir(parents=True, exist_ok=True)
        for dirname in layout.ALL_DIRS:
            (queue.path / dirname).mkdir(exist_ok=True)
        if not (queue.path / "queue.yaml").exists():
            meta = {
                "queue_name": name,
                "format": FORMAT_VERSION,
                "created_at": now or clock.now(),
                "metadata": metadata or {},
            }
            atomic.write_atomic(queue.path / "queue.yaml", codec.dump(meta), queue.tmp)
        return queue

    def exists(self) -> bool:
        return (self.path / "queue.yaml").is_file()

    def info(self) -> Doc:
        """The contents of ``queue.yaml``."""
        return codec.load((self.path / "queue.yaml").read_bytes())

    def write_info(self, info: Doc) -> None:
        atomic.write_atomic(self.path / "queue.yaml", codec.dump(info), self.tmp)

    # ----------------------------------------------------------------- reading
    def names(self, dirname: str) -> list[str]:
        """Sorted names of the task files in a directory (junk and non-regular entries skipped).

        Looking at a state directory first puts back what dead processes held
        (``settle_held``), so a task a crashed process held is back within one look.
        """
        if dirname in _STATE_DIRNAMES:
            self.settle_held()
        return sorted(self._listing(dirname))

    def _listing(self, dirname: str) -> list[str]:
        try:
            with os.scandir(self.path / dirname) as it:
                return [e.name for e in it if layout.is_task_file(e.name) and entries.is_regular(e)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def read(self, dirname: str, name: str) -> Doc | None:
        """A document, from the cache when the file is unchanged; None if it vanished or is not a task file."""
        path = f"{self._root}{dirname}{os.sep}{name}"
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        hit = self._cache.get((dirname, name))
        if hit is not None and hit[0] == key:
            return hit[1]
        if entries.problem(st) is not None:
            if stat.S_ISREG(st.st_mode):
                self.quarantine(dirname, name, entries.problem(st) or "")  # too big to be ours
            else:
                entries.warn(path, entries.problem(st) or "")
            return None
        try:
            got = entries.read_at(None, path, listed_regular=True)  # our lstat stood in for read's own
        except entries.BadEntry:
            return None
        if got is None:
            return None
        data = got[1]
        doc = self._parse(dirname, name, data)
        if doc is not None:
            self._cache_put((dirname, name), (key, doc, data))
        return doc

    def _cache_put(self, where: tuple[str, str], entry: tuple[tuple[int, int, int], Doc, bytes]) -> None:
        with self._cache_lock:
            if len(self._cache) >= READ_CACHE_MAX:
                del self._cache[next(iter(self._cache))]  # the oldest entry
            self._cache[where] = entry

    def _parse(self, dirname: str, name: str, data: bytes) -> Doc | None:
        """A file's document, or None after quarantining it if it is unreadable."""
        try:
            return _load_normalised(dirname, name, data)
        except codec.Unreadable as exc:
            self.quarantine(dirname, name, str(exc))
            return None

    def iter_docs(self, dirnames: Iterable[str]) -> Iterator[Located]:
        """Every readable document in the given directories (read-only dicts).

        Big directories keep their parsed documents (fsqueue/cache.py), in
        memory and, for state directories, in ``tmp/cache/``; each call checks
        them against a fresh listing and ``stat``, so none is ever stale.
        A task in another process's hand is listed in the state it was taken
        from (``busy``), after the others.
        """
        for dirname, name, doc, busy in self._walk(list(dirnames), views=False):
            yield Located(dirname, name, doc, busy=busy)

    def iter_views(self, dirnames: Iterable[str]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """(directory, name, document) like ``iter_docs``, each document a read-only Mapping.

        A view reads only the fields asked for, so filtering 10^5 tasks on
        ``args`` decodes ``args`` alone; ``dict(view)`` gives a plain dict.
        """
        for dirname, name, doc, _ in self._walk(list(dirnames), views=True):
            yield dirname, name, doc

    def _walk(self, dirnames: list[str], *, views: bool) -> Iterator[tuple[str, str, Any, bool]]:
        """(directory, name, document, in hand?) of every task file of ``dirnames``, then of the
        tasks that were in hand while they were listed.

        A task moves forward: pending/, tmp/, running/, tmp/, done/. The names of
        each directory are listed in that order, with a look at tmp/ after each,
        so a task moving meanwhile is in one of the places looked at, listed or
        in hand; one whose move ended before the end is shown where it is now.
        """
        if any(d in _STATE_DIRNAMES for d in dirnames):
            self.settle_held()
        caches = [self._dir_cache(dirname) for dirname in dirnames]
        in_hand: dict[Path, Held] = {}
        listed: list[tuple[str, str]] = []  # their ids are worked out only if some file is held
        try:
            for dir_cache in caches:
                dir_cache.prefetch()  # its names now; a big cold directory is parsed meanwhile, by children
                in_hand.update((item.path, item) for item in self.held_files())
            gone: list[str] = []  # the ids of tasks listed whose file had moved when it was read
            for dirname, dir_cache in zip(dirnames, caches, strict=True):
                state = dirname in _STATE_DIRNAMES
                for name, doc in dir_cache.views() if views else dir_cache.docs():
                    if state:
                        listed.append((dirname, name))
                    yield dirname, name, doc, False
                if state:
                    gone += [layout.task_id_of(dirname, name) for name in dir_cache.gone]
        finally:
            for dir_cache in caches:
                dir_cache.cancel()  # a listing left half-way: its prefetched children are not wanted
        in_hand.update((item.path, item) for item in self.held_files())
        for located in self._held_docs(dirnames, listed, list(in_hand.values()), gone):
            yield located.dirname, located.name, located.doc, located.busy

    def _held_docs(
        self, dirnames: list[str], listed: list[tuple[str, str]], items: list[Held], gone: list[str]
    ) -> Iterator[Located]:
        """The tasks no directory listed that were in hand at one of the looks at ``tmp/``, or
        whose file had moved by the time it was read: where they are now if they are in one of
        ``dirnames`` (their move ended), else as they were taken (``busy``)."""
        items = [item for item in items if item.origin in dirnames]
        if not items and not gone:
            return
        seen = {layout.task_id_of(d, n) for d, n in listed}
        now: dict[str, tuple[str, str]] = {}  # task id -> its real file, once needed

        def where(task_id: str) -> tuple[str, str] | None:
            if not now:
                now.update(
                    (layout.task_id_of(d, n), (d, n)) for d in _STATE_DIRNAMES for n in self._listing(d)
                )
            return now.get(task_id)

        for item in items:
            task_id = item.task_id
            if task_id is not None:
                if task_id in seen:
                    continue
                seen.add(task_id)
                place = where(task_id)
                if place is not None:  # its holder published it (or died just after): the real file speaks
                    doc = self.read(*place) if place[0] in dirnames else None
                    if doc is not None:
                        yield Located(place[0], place[1], doc)
                    continue
            doc = self._read_held(item)
            if doc is not None:
                yield Located(item.origin, item.name, doc, busy=True)
        for task_id in gone:
            if task_id in seen:
                continue
            seen.add(task_id)
            place = where(task_id)
            if place is not None and place[0] in dirnames and (doc := self.read(*place)) is not None:
                yield Located(place[0], place[1], doc)  # moved after its directory was listed

    def _read_held(self, item: Held) -> Doc | None:
        try:
            got = entries.read(item.path)
        except entries.BadEntry:
            return None
        if got is None:
            return None
        try:
            doc = _load(got[1], item.origin, item.name)
        except codec.Unreadable:
            return None
        return normalise(doc) if item.origin in _STATE_DIRNAMES else doc

    def _dir_cache(self, dirname: str) -> DirCache:
        found = self._dirs.get(dirname)
        if found is None:  # setdefault: made by two threads at once, one is kept
            found = self._dirs.setdefault(
                dirname,
                DirCache(
                    self.path / dirname,
                    lambda name, data: self._parse(dirname, name, data),
                    self.tmp / "cache",
                    persist=dirname in _STATE_DIRNAMES,
                    tag=_PARSE_TAG,
                    reject=lambda name, why: self.quarantine(dirname, name, why),
                    load=lambda name, data: _load_normalised(dirname, name, data),
                ),
            )
        return found

    def find(self, task_id: str) -> Located | None:
        """Where a task is now, searching every state directory, then the files held in ``tmp/``.

        A held task comes back ``busy``: it exists, but someone has it in hand.
        """
        self.settle_held()
        quiet = 0
        for _ in range(_FIND_ROUNDS):  # a busy task can be in hand at one look and moved at the next
            found = self._real_find(task_id)
            if found is not None:
                return found
            items = self.held_files()
            for item in items:
                if item.task_id == task_id:
                    doc = self._read_held(item)
                    if doc is not None:
                        return Located(item.origin, item.name, doc, busy=True)
            quiet = 0 if items else quiet + 1
            if quiet == 2:  # nothing in anyone's hand at two looks in a row: it is nowhere
                break
        return self._real_find(task_id)

    def _real_find(self, task_id: str) -> Located | None:
        for dirname in _STATE_DIRNAMES:
            # the id is in the name: sort only the few names holding it, not 10^5 of them
            for name in sorted(n for n in self._listing(dirname) if task_id in n):
                if layout.task_id_of(dirname, name) == task_id:
                    doc = self.read(dirname, name)
                    if doc is not None:
                        return Located(dirname, name, doc)
        return None

    def task_ids(self) -> set[str]:
        """The id of every task with a file anywhere: a state directory, a tombstone, or in hand."""
        out = {layout.task_id_of(d, n) for d in _STATE_DIRNAMES for n in self._listing(d)}
        out.update(layout.task_id_of("deleted", n) for n in self._listing("deleted"))
        out.update(h.task_id for h in self.held_files() if h.task_id is not None)
        return out

    def count(self) -> dict[str, int]:
        """Number of tasks per status, from directory listings alone (held tasks in their origin state).

        Each task counts once while workers move tasks: the folders are listed in
        the order tasks move through them, with a look at ``tmp/`` after each, and
        a task seen in two of them (it moved meanwhile) counts where it was seen last.
        """
        self.settle_held()
        where: dict[str, str] = {}  # task id -> the status it was last seen in
        in_hand: dict[str, str] = {}  # task id -> the status of the folder it was taken from
        for status in TaskStatus:
            dirname = status.dirname
            for name in self._listing(dirname):
                where[layout.task_id_of(dirname, name)] = status.value
            for item in self.held_files():
                if item.origin in _STATUS_OF_DIR and item.task_id is not None:
                    in_hand.setdefault(item.task_id, _STATUS_OF_DIR[item.origin].value)
        for task_id, status_value in in_hand.items():
            where.setdefault(task_id, status_value)
        out = dict.fromkeys((status.value for status in TaskStatus), 0)
        for status_value in where.values():
            out[status_value] += 1
        return out

    def quarantine(self, dirname: str, name: str, why: str) -> None:
        """Move an unreadable file aside, never delete it, and say so."""
        dest = self.path / "quarantine" / f"{dirname}{layout.SEP}{ids.nonce(3)}{layout.SEP}{name}"
        try:
            os.rename(self.path / dirname / name, dest)
        except FileNotFoundError:
            return
        log.warning("quarantined %s/%s (%s): now %s", dirname, name, why, dest)

    # ------------------------------------------------------------ take/put
    def transact(
        self,
        dirname: str,
        name: str,
        change: Change,
        *,
        on_take: Callable[[Path], None] | None = None,
    ) -> Located | None:
        """Take a file, apply ``change`` to its document, put the result.

        Raises FileNotFoundError when another process took the file first. If
        any step fails before the result is in place (``on_take``, given the
        held file's path to check it, ``change``, serialising, writing: a full
        disk, a read-only folder, an I/O error), the file is put back as it
        was and the error raised; nothing is lost or left half-made.
        """
        known = self._cache.pop((dirname, name), None)  # the file is leaving: memory stays flat in a loop
        held_path = self._take(dirname, name)
        try:
            faults.at("held", dirname)
            if on_take is not None:
                on_take(Path(held_path))
            doc = self._load_held(held_path, dirname, name, known)
            result = change(doc)
            faults.at("change", dirname)
            if result is None:
                new = None
            else:
                new_dirname, new_doc = result
                new = Located(new_dirname, self.put(new_dirname, new_doc), new_doc)
        except BaseException:
            _rename_quietly(held_path, f"{self._root}{dirname}{os.sep}{name}")
            raise
        try:
            faults.at("put", dirname)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(held_path)  # if this fails, the copy is a duplicate the next look removes
        faults.at("drop", dirname)
        return new

    def take(self, dirname: str, name: str) -> Path:
        """Move ``dirname/name`` into ``tmp/`` under a name that says it is ours; FileNotFoundError if gone."""
        return Path(self._take(dirname, name))

    def _take(self, dirname: str, name: str) -> str:
        faults.at("take", dirname)
        held_path = f"{self._tmp}{layout.held_name(dirname, name, *held.me())}"
        os.rename(f"{self._root}{dirname}{os.sep}{name}", held_path)
        return held_path

    def _load_held(
        self, held_path: str, dirname: str, name: str, known: tuple[Any, Doc, bytes] | None = None
    ) -> Doc:
        try:
            got = entries.read(held_path)
        except entries.BadEntry as exc:
            _rename_quietly(held_path, f"{self._root}{dirname}{os.sep}{name}")
            raise FileNotFoundError(f"{dirname}/{name} is not a task file: {exc}") from None
        if got is None:
            raise FileNotFoundError(f"{held_path} vanished while held")
        data = got[1]
        if known is not None and known[2] == data:  # the very bytes ``read`` parsed (a claim's check)
            copied: Doc = owned_copy(known[1])
            return copied
        try:
            doc = _load(data, dirname, name)
        except codec.Unreadable as exc:
            _rename_quietly(held_path, f"{self._root}{dirname}{os.sep}{name}")
            self.quarantine(dirname, name, str(exc))
            raise FileNotFoundError(f"{dirname}/{name} was unreadable and is quarantined") from None
        return normalise(doc) if dirname in _STATE_DIRNAMES else doc

    def put(self, dirname: str, doc: Doc, *, durable_dir: bool = False) -> str:
        """Write a document whole into a directory; return its file name."""
        if dirname in _STATE_DIRNAMES:
            doc["status"] = _STATUS_OF_DIR[dirname].value
            doc["rev"] = int(doc.get("rev") or 0) + 1
            doc["node"] = self.node
            versions.stamp_life(doc, doc["rev"], self.node)  # replicas merge by it (replicas/merge.py)
            doc = ordered(doc)
        name = self.name_for(dirname, doc)
        data = codec.dump(doc)
        st = atomic.write_atomic(f"{self._root}{dirname}{os.sep}{name}", data, self._tmp)
        if durable_dir:
            atomic.fsync_dir(self.path / dirname)
        if dirname in _STATE_DIRNAMES:
            self._remember(dirname, name, data, doc, st)
        return name

    def _remember(self, dirname: str, name: str, data: bytes, doc: Doc, st: os.stat_result | None) -> None:
        """Let the next listing, here or in another process, take ``doc`` without reading the file."""
        try:
            parsed = normalise(cache.plain_copy(doc))  # what a reader's parse of ``data`` gives
        except TypeError:
            return  # a value the memo could not hand back exactly: readers parse this file
        self._dir_cache(dirname).remember_written(name, data, parsed, st)
        if st is not None and dirname == "running":  # the finish of a claimed task parses nothing
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            # read() hands this copy out: not the memo's
            self._cache_put((dirname, name), (key, owned_copy(parsed), data))

    def name_for(self, dirname: str, doc: Doc) -> str:
        """The file name a document gets in a directory."""
        if dirname == "pending":
            return layout.pending_name(
                doc["priority"], doc["last_modified"], doc["task_id"], reserved_for=doc.get("reserved_for")
            )
        if dirname == "running":
            return layout.running_name(doc["task_id"], doc["worker_id"])
        if dirname == "workers":
            return f"{doc['worker_id']}{layout.SUFFIX}"
        if dirname == "attempts":
            return layout.attempt_name(doc["task_id"], doc.get("worker_id") or "none", ids.nonce())
        return layout.terminal_name(doc["task_id"], self.node)

    # ------------------------------------------------------------- recovery
    def held_files(self) -> list[Held]:
        """Every file some process holds in ``tmp/`` (taken by ``take``), as it is now."""
        return self._tmp_entries()[0]

    def _tmp_entries(self) -> tuple[list[Held], list[str]]:
        """The held files and the temp-file names in ``tmp/``, from one listing."""
        out, temps = [], []
        try:
            with os.scandir(self.tmp) as it:
                found = [e.name for e in it if e.name.startswith(("held.", "w.", "clock."))]
        except FileNotFoundError:
            return [], []
        for name in sorted(found):
            if name.endswith(".tmp"):
                temps.append(name)
                continue
            parsed = layout.parse_held(name)
            if parsed is None:
                continue
            origin, host, token, original = parsed
            if origin not in layout.ALL_DIRS or not layout.is_task_file(original):
                continue
            out.append(Held(self.tmp / name, origin, original, held.holder_of(host, token)))
        return out, temps

    def in_hand(self, dirname: str, name: str) -> bool:
        """True if a live process (or one not yet known dead) holds ``dirname/name`` now."""
        return any(h.origin == dirname and h.name == name for h in self.held_files() if self._holding(h))

    def _holding(self, item: Held) -> bool:
        alive = item.holder.alive() if item.holder is not None else None
        return alive is not False or not self._put_back(item)

    def settle_held(self, older_than: float = HELD_AGE) -> list[str]:
        """Put back what dead processes held; return the ``tmp/`` names settled.

        A holder on this host is asked of the kernel (dead at once); a holder
        on another host, or named in an older form, is taken for dead once its
        file is ``older_than`` seconds old on the filesystem's clock (a take
        lasts milliseconds). A live holder, whatever its clock, is left alone.
        """
        done: list[str] = []
        fs_now: float | None = None
        items, temps = self._tmp_entries()
        for name in temps:  # a dead writer's unfinished write on this host: gone at once
            writer = held.temp_holder(name)
            if writer is not None and writer.alive() is False:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.tmp / name)
                    done.append(name)
        for item in items:
            alive = item.holder.alive() if item.holder is not None else None
            if alive:
                continue
            if alive is None:
                if fs_now is None:
                    fs_now = self.fs_now()
                if _fs_age(item.path, fs_now) <= older_than:
                    continue
            if self._put_back(item):
                done.append(item.path.name)
        return done

    def _put_back(self, item: Held) -> bool:
        """Return a dead holder's file to where it came from, or drop it if it was published already."""
        try:
            if item.task_id is not None and self._real_find(item.task_id) is not None:
                os.unlink(item.path)  # the holder died after putting the new version in place
                log.info("removed tmp/%s: a dead process's copy of a task that is in place", item.path.name)
            else:
                os.rename(item.path, self.path / item.origin / item.name)
                log.info("put back %s/%s, held by a process that died", item.origin, item.name)
        except FileNotFoundError:
            return False  # another process settled it first
        except OSError as exc:  # a read-only queue: readers still show it where it was
            log.debug("cannot put back %s: %s", item.path, exc)
            return False
        return True

    def fs_now(self) -> float:
        """Now on the filesystem's clock: the mtime of a file just created in ``tmp/``."""
        probe = self.tmp / held.temp_name("clock")
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError:
            return clock.now().timestamp()  # an unwritable queue: our clock is all there is
        try:
            return os.fstat(fd).st_mtime
        finally:
            os.close(fd)
            _unlink_quietly(probe)

    def recover_held(self, now: datetime | None = None, older_than: float = HELD_AGE) -> list[str]:
        """Put back files dead processes held; remove temp files of dead writers.

        ``now`` is ignored (ages are measured on the filesystem's clock); kept
        so older callers keep working.
        """
        done = self.settle_held(older_than)
        fs_now: float | None = None
        try:
            names = sorted(os.listdir(self.tmp))
        except FileNotFoundError:
            return done
        for name in names:
            if not name.endswith(".tmp"):
                continue
            path = self.tmp / name
            writer = held.temp_holder(name)
            alive = writer.alive() if writer is not None else None
            if alive:
                continue
            if alive is None:
                if fs_now is None:
                    fs_now = self.fs_now()
                with contextlib.suppress(FileNotFoundError):
                    if fs_now - os.lstat(path).st_mtime <= max(older_than, TMP_AGE):
                        continue
            with contextlib.suppress(OSError):
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue  # not a file we would have written: fsck reports it
                path.unlink()
                done.append(name)
        return done


TMP_AGE = 600.0  # a temp file of another host's writer this old (filesystem clock) is abandoned


_STATE_DIRNAMES = tuple(STATE_DIRS.values())
_STATUS_OF_DIR = {d: s for s, d in STATE_DIRS.items()}


def _load(data: bytes, dirname: str, name: str) -> Doc:
    """Parse a file; a task file whose id differs from its name's is damaged (cut short)."""
    doc = codec.load(data, required_key=_id_key(dirname))
    if dirname in _STATE_DIRNAMES and doc["task_id"] != layout.task_id_of(dirname, name):
        raise codec.Unreadable(f"task_id {doc['task_id']!r} does not match the file name")
    return doc


def _load_normalised(dirname: str, name: str, data: bytes) -> Doc:
    """``_load``, and a state directory's document made whole (``normalise``); no side effects."""
    doc = _load(data, dirname, name)
    return normalise(doc) if dirname in _STATE_DIRNAMES else doc


_PARSE_TAG = cache.code_tag(_load_normalised, _load, codec.load, normalise)


def _id_key(dirname: str) -> str | None:
    if dirname in _STATE_DIRNAMES or dirname in ("attempts", "deleted"):
        return "task_id"
    if dirname == "workers":
        return "worker_id"
    return None


def _rename_quietly(src: str | Path, dest: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.rename(src, dest)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fs_age(path: Path, fs_now: float) -> float:
    """Seconds since a held file was taken, both times from the filesystem's clock.

    The change time, not the modification time: a rename keeps a file's mtime
    (a task taken from ``pending/`` may have been written hours ago, or copied
    with a future mtime by rsync) but sets its ctime, which no process can
    set to anything but the filesystem's now.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0.0
    return fs_now - st.st_ctime
