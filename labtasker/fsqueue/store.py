"""FsQueue: every change to a queue directory, as take, change, put.

To change a file, rename it into ``tmp/`` under a name that is ours (every
rival now gets ``FileNotFoundError``), compute the new document, write it whole
into its new state directory, then drop the held copy. A process that dies
holding a file leaves it in ``tmp/``; ``recover_held`` puts it back.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from labtasker.fsqueue import atomic, cache, clock, codec, ids, layout, versions
from labtasker.fsqueue.cache import DirCache
from labtasker.fsqueue.documents import normalise, ordered
from labtasker.fsqueue.layout import STATE_DIRS, TaskStatus

log = logging.getLogger("labtasker")

FORMAT_VERSION = 1
READ_CACHE_MAX = 4096  # documents remembered by ``read``: a loop over 10^5 tasks stays small
Doc = dict[str, Any]
Change = Callable[[Doc], "tuple[str, Doc] | None"]
"""Given the held document, return (new directory, new document), or None to delete."""


@dataclass(frozen=True)
class Located:
    """Where a document sits: its directory and file name."""

    dirname: str
    name: str
    doc: Doc


class FsQueue:
    """One queue directory. Safe to use from many processes at once."""

    def __init__(self, path: str | os.PathLike[str], *, node: str = "local") -> None:
        self.path = Path(path)
        self.node = ids.check_id(node, "node id")
        self.tmp = self.path / "tmp"
        self._cache: dict[tuple[str, str], tuple[tuple[int, int, int], Doc, bytes]] = {}
        self._dirs: dict[str, DirCache] = {}
        self._owner = f"{os.getpid()}x{ids.nonce(3)}"

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
        """Sorted names of the documents in a directory (junk skipped)."""
        try:
            return sorted(n for n in os.listdir(self.path / dirname) if layout.is_task_file(n))
        except FileNotFoundError:
            return []

    def read(self, dirname: str, name: str) -> Doc | None:
        """A document, from the cache when the file is unchanged; None if it vanished."""
        path = self.path / dirname / name
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        hit = self._cache.get((dirname, name))
        if hit is not None and hit[0] == key:
            return hit[1]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        doc = self._parse(dirname, name, data)
        if doc is not None:
            if len(self._cache) >= READ_CACHE_MAX:
                del self._cache[next(iter(self._cache))]  # the oldest entry
            self._cache[(dirname, name)] = (key, doc, data)
        return doc

    def _parse(self, dirname: str, name: str, data: bytes) -> Doc | None:
        """A file's document, or None after quarantining it if it is unreadable."""
        try:
            doc = _load(data, dirname, name)
        except codec.Unreadable as exc:
            self.quarantine(dirname, name, str(exc))
            return None
        if dirname in _STATE_DIRNAMES:
            normalise(doc)
        return doc

    def iter_docs(self, dirnames: Iterable[str]) -> Iterator[Located]:
        """Every readable document in the given directories (read-only dicts).

        Big directories keep their parsed documents (fsqueue/cache.py), in
        memory and, for state directories, in ``tmp/cache/``; each call checks
        them against a fresh listing and ``stat``, so none is ever stale.
        """
        for dirname in dirnames:
            for name, doc in self._dir_cache(dirname).docs():
                yield Located(dirname, name, doc)

    def iter_views(self, dirnames: Iterable[str]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """(directory, name, document) like ``iter_docs``, each document a read-only Mapping.

        A view reads only the fields asked for, so filtering 10^5 tasks on
        ``args`` decodes ``args`` alone; ``dict(view)`` gives a plain dict.
        """
        for dirname in dirnames:
            for name, view in self._dir_cache(dirname).views():
                yield dirname, name, view

    def _dir_cache(self, dirname: str) -> DirCache:
        found = self._dirs.get(dirname)
        if found is None:
            found = self._dirs[dirname] = DirCache(
                self.path / dirname,
                lambda name, data: self._parse(dirname, name, data),
                self.tmp / "cache",
                persist=dirname in _STATE_DIRNAMES,
                tag=_PARSE_TAG,
            )
        return found

    def find(self, task_id: str) -> Located | None:
        """Where a task is now, searching every state directory."""
        for dirname in _STATE_DIRNAMES:
            for name in self.names(dirname):
                if layout.task_id_of(dirname, name) == task_id:
                    doc = self.read(dirname, name)
                    if doc is not None:
                        return Located(dirname, name, doc)
        return None

    def count(self) -> dict[str, int]:
        """Number of tasks per status, from directory listings alone."""
        return {status.value: self._count(status.dirname) for status in TaskStatus}

    def _count(self, dirname: str) -> int:
        try:
            return sum(1 for n in os.listdir(self.path / dirname) if layout.is_task_file(n))  # no sort needed
        except FileNotFoundError:
            return 0

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

        Raises FileNotFoundError when another process took the file first; the
        file is put back unchanged if ``change`` (or ``on_take``, given the held
        file's path to check it) raises.
        """
        known = self._cache.pop((dirname, name), None)  # the file is leaving: memory stays flat in a loop
        held = self._take(dirname, name)
        try:
            if on_take is not None:
                on_take(held)
            doc = self._load_held(held, dirname, name, known)
            result = change(doc)
        except BaseException:
            _rename_quietly(held, self.path / dirname / name)
            raise
        if result is None:
            os.unlink(held)
            return None
        new_dirname, new_doc = result
        new_name = self.put(new_dirname, new_doc)
        os.unlink(held)
        return Located(new_dirname, new_name, new_doc)

    def _take(self, dirname: str, name: str) -> Path:
        held = self.tmp / layout.held_name(dirname, name, clock.now(), self._owner)
        os.rename(self.path / dirname / name, held)
        return held

    def _load_held(
        self, held: Path, dirname: str, name: str, known: tuple[Any, Doc, bytes] | None = None
    ) -> Doc:
        data = held.read_bytes()
        if known is not None and known[2] == data:  # the very bytes ``read`` parsed (a claim's check)
            return copy.deepcopy(known[1])
        try:
            doc = _load(data, dirname, name)
        except codec.Unreadable as exc:
            _rename_quietly(held, self.path / dirname / name)
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
        atomic.write_atomic(self.path / dirname / name, data, self.tmp)
        if durable_dir:
            atomic.fsync_dir(self.path / dirname)
        if dirname in _STATE_DIRNAMES:
            self._remember(dirname, name, data, doc)
        return name

    def _remember(self, dirname: str, name: str, data: bytes, doc: Doc) -> None:
        """Let the next listing, here or in another process, take ``doc`` without parsing ``data``."""
        try:
            parsed = normalise(cache.plain_copy(doc))  # what a reader's parse of ``data`` gives
        except TypeError:
            return  # a value the memo could not hand back exactly: readers parse this file
        self._dir_cache(dirname).remember_written(name, data, parsed)

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
    def recover_held(self, now: datetime, older_than: float = 300.0) -> list[str]:
        """Put back files a dead process left in ``tmp/``; remove stale temp files.

        A held file is older than ``older_than`` seconds only if its taker died
        (a take lasts milliseconds). If the task reappeared elsewhere (the taker
        died after publishing), the held copy is a duplicate and is dropped.
        """
        done = []
        cutoff = layout.stamp(now.fromtimestamp(now.timestamp() - older_than, now.tzinfo))
        for name in sorted(os.listdir(self.tmp)):
            path = self.tmp / name
            parsed = layout.parse_held(name)
            if parsed is None:
                if name.endswith(".tmp") and _age(path, now) > older_than:
                    path.unlink(missing_ok=True)
                    done.append(name)
                continue
            origin, stamp, original = parsed
            if stamp > cutoff:
                continue
            if origin in _STATE_DIRNAMES and self.find(layout.task_id_of(origin, original)):
                path.unlink(missing_ok=True)
            else:
                _rename_quietly(path, self.path / origin / original)
            done.append(name)
        return done


_STATE_DIRNAMES = tuple(STATE_DIRS.values())
_STATUS_OF_DIR = {d: s for s, d in STATE_DIRS.items()}


def _load(data: bytes, dirname: str, name: str) -> Doc:
    """Parse a file; a task file whose id differs from its name's is damaged (cut short)."""
    doc = codec.load(data, required_key=_id_key(dirname))
    if dirname in _STATE_DIRNAMES and doc["task_id"] != layout.task_id_of(dirname, name):
        raise codec.Unreadable(f"task_id {doc['task_id']!r} does not match the file name")
    return doc


_PARSE_TAG = cache.code_tag(_load, codec.load, normalise)


def _id_key(dirname: str) -> str | None:
    if dirname in _STATE_DIRNAMES or dirname in ("attempts", "deleted"):
        return "task_id"
    if dirname == "workers":
        return "worker_id"
    return None


def _rename_quietly(src: Path, dest: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.rename(src, dest)


def _age(path: Path, now: datetime) -> float:
    try:
        return now.timestamp() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
