"""Task and worker state transitions, read from the queue's files as they change.

Events come from the files, so they show what any process on any machine did.
File-system notifications (watchdog: native where the kernel sees every change,
polling on network filesystems) say *when* to look; a periodic rescan of the
directories is the truth, so a dropped notification delays an event but never
loses it. Each task file carries ``rev`` (bumped on every write), which keeps
late notifications from being reported out of order. A state a task passes
through faster than it can be read may be skipped (pending -> success).
"""

from __future__ import annotations

import json
import logging
import os
import queue as queue_mod
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from labtasker.fsqueue import clock, error_record, layout
from labtasker.fsqueue.layout import STATE_DIRS
from labtasker.fsqueue.locking import is_network_fs
from labtasker.fsqueue.store import Doc, FsQueue

if TYPE_CHECKING:  # watchdog loads when a watch starts
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers.api import BaseObserver

log = logging.getLogger("labtasker")

TASK, WORKER = "task", "worker"
DELETED = "deleted"
_STATE_OF_DIR = {d: s.value for s, d in STATE_DIRS.items()}
_WATCHED = (*STATE_DIRS.values(), "workers", "deleted")
_FINAL = float("inf")  # the rev of a deletion: nothing comes after it


@dataclass(frozen=True)
class QueueEvent:
    """One state transition of a task or a worker."""

    seq: int
    time: datetime
    entity: str  # "task" or "worker"
    id: str
    old: str | None  # None: first seen (a submitted task, a new worker)
    new: str
    doc: Doc | None

    def to_json(self) -> str:
        """One JSON object: seq, time, entity, id, old, new, doc."""
        data = {
            "seq": self.seq,
            "time": self.time,
            "entity": self.entity,
            "id": self.id,
            "old": self.old,
            "new": self.new,
            "doc": self.doc,
        }
        return json.dumps(_plain(data), ensure_ascii=False, sort_keys=False)

    # The original's names for the same facts (its EventResponse and StateTransitionEvent):
    # event.sequence, event.timestamp, event.event.old_state ("created" when first seen)...
    type = "state_transition"

    @property
    def sequence(self) -> int:
        return self.seq

    @property
    def timestamp(self) -> datetime:
        return self.time

    @property
    def event(self) -> QueueEvent:
        return self

    @property
    def entity_type(self) -> str:
        return self.entity

    @property
    def entity_id(self) -> str:
        return self.id

    @property
    def old_state(self) -> str:
        return self.old or "created"

    @property
    def new_state(self) -> str:
        return self.new

    @property
    def entity_data(self) -> Doc:
        return self.doc or {}

    def line(self) -> str:
        """A readable line: time, what, old -> new, and what matters about it."""
        stamp = self.time.astimezone().strftime("%H:%M:%S")
        change = f"{self.old or 'new'} -> {self.new}"
        return f"{stamp}  {self.entity:<6} {self.id}  {change:<22} {_details(self)}".rstrip()


def _details(event: QueueEvent) -> str:
    doc = event.doc or {}
    if event.entity == WORKER:
        return f"name={doc['worker_name']}" if doc.get("worker_name") else ""
    parts = [f"name={doc['task_name']}"] if doc.get("task_name") else []
    if doc.get("worker_id") and event.new == "running":
        parts.append(f"worker={doc['worker_id']}")
    if event.new in ("pending", "failed") and event.old == "running":
        parts.append(f"retries={doc.get('retries', 0)}/{doc.get('max_retries', 0)}")
        if doc.get("last_error"):
            parts.append(f"error={error_record.headline(doc['last_error'])[:120]!r}")
    return "  ".join(parts)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


class Tracker:
    """Last known state of every task and worker; turns sightings into events. Pure."""

    def __init__(self) -> None:
        self.known: dict[tuple[str, str], tuple[str, float | None]] = {}
        self.seq = 0

    def seed(self, entity: str, ident: str, state: str, rev: float | None = None) -> None:
        """Know a state without reporting it (what was there when listening began)."""
        self.known[(entity, ident)] = (state, rev)

    def see(
        self, entity: str, ident: str, state: str, rev: float | None, doc: Doc | None, now: datetime
    ) -> QueueEvent | None:
        """An event if ``state`` is new for this entity; None for no change or a stale sighting."""
        key = (entity, ident)
        prev = self.known.get(key)
        if prev is not None and rev is None and doc is None:
            return None  # a file gone before it was read tells only of a task we never saw
        if prev is not None and rev is not None and prev[1] is not None and rev <= prev[1]:
            return None  # older than (or the same as) what we know
        self.known[key] = (state, rev if rev is not None else (prev[1] if prev else None))
        if prev is not None and prev[0] == state:
            return None
        self.seq += 1
        return QueueEvent(self.seq, now, entity, ident, prev[0] if prev else None, state, doc)


Sighting = tuple[str, str, str, float | None, Doc | None]  # entity, id, state, rev, doc


def sighting(reader: FsQueue, dirname: str, name: str) -> Sighting | None:
    """What a file in a watched directory says, or None (not ours, or gone already)."""
    if not layout.is_task_file(name):
        return None
    doc = reader.read(dirname, name)
    if doc is None:
        return None
    if dirname == "workers":
        modified = doc.get("last_modified")
        rev = modified.timestamp() if isinstance(modified, datetime) else None
        return WORKER, str(doc.get("worker_id")), str(doc.get("status") or "active"), rev, doc
    if dirname == "deleted":
        task = doc.get("task") if isinstance(doc.get("task"), dict) else None
        return TASK, str(doc.get("task_id")), DELETED, _FINAL, task
    if dirname in _STATE_OF_DIR:
        rev = doc.get("rev")
        number = float(rev) if isinstance(rev, int) else None
        return TASK, str(doc["task_id"]), _STATE_OF_DIR[dirname], number, doc
    return None


class EventStream:
    """Transitions of one queue, from the moment it is opened (use as a context manager)."""

    def __init__(
        self,
        queue: FsQueue,
        *,
        polling: bool | None = None,
        rescan_every: float = 5.0,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.queue = queue
        self.polling = is_network_fs(queue.path) if polling is None else polling
        self.rescan_every = rescan_every
        self.now = now
        self.tracker = Tracker()
        self._reader = FsQueue(queue.path, node=queue.node)  # the watcher thread's own cache
        self._scanner = FsQueue(queue.path, node=queue.node)
        self._inbox: queue_mod.Queue[Sighting] = queue_mod.Queue()
        self._listing: dict[str, set[str]] = {}
        self._workers: dict[str, tuple[int, int, int]] = {}
        self._watch: Watch | None = None
        self._rescanned = 0.0

    def __enter__(self) -> EventStream:
        self._rescan(seed=True)
        self._watch = Watch(self.queue.path, self._on_file, polling=self.polling, subdirs=_WATCHED).start()
        self.poll(0)  # what changed while the watch was starting
        self._rescanned = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def poll(self, timeout: float) -> list[QueueEvent]:
        """Events seen within ``timeout`` seconds (returns as soon as there is one)."""
        deadline = time.monotonic() + timeout
        out: list[QueueEvent] = []
        while True:
            self._drain(out)
            if time.monotonic() >= self._rescanned + self.rescan_every:
                self._rescan(out=out)
            now = time.monotonic()
            if out or now >= deadline:
                return out
            try:
                item = self._inbox.get(timeout=min(deadline, self._rescanned + self.rescan_every) - now)
            except queue_mod.Empty:
                continue
            self._feed(item, out)

    def _drain(self, out: list[QueueEvent]) -> None:
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue_mod.Empty:
                return
            self._feed(item, out)

    def _feed(self, item: Sighting, out: list[QueueEvent]) -> None:
        event = self.tracker.see(*item, now=self.now())
        if event is not None:
            out.append(event)

    def _on_file(self, path: str) -> None:
        """Called by the watcher thread: read the file while it is still there."""
        where = Path(path)
        dirname, name = where.parent.name, where.name
        found = sighting(self._reader, dirname, name)
        if found is None and dirname in _STATE_OF_DIR and layout.is_task_file(name) and not where.exists():
            # already moved on (submitted and claimed at once): at least its first state is known
            found = (TASK, layout.task_id_of(dirname, name), _STATE_OF_DIR[dirname], None, None)
        if found is not None:
            self._inbox.put(found)

    # ---------------------------------------------------------------- rescan
    def _rescan(self, *, seed: bool = False, out: list[QueueEvent] | None = None) -> None:
        """List every directory; report what the notifications missed."""
        self._rescanned = time.monotonic()
        present: set[str] = set()
        for dirname in (*_STATE_OF_DIR, "deleted"):
            names = set(self._scanner.names(dirname))
            old = self._listing.get(dirname, set())
            self._listing[dirname] = names
            for name in sorted(names):
                if dirname != "deleted":
                    present.add(layout.task_id_of(dirname, name))
                if name in old:
                    continue
                if seed:
                    self._seed(dirname, name)
                else:
                    self._sight(dirname, name, out)
        self._rescan_workers(seed, out)
        if not seed:
            self._missing_tasks(present, out)

    def _seed(self, dirname: str, name: str) -> None:
        if dirname == "deleted":
            self.tracker.seed(TASK, layout.task_id_of(dirname, name), DELETED, _FINAL)
        else:
            self.tracker.seed(TASK, layout.task_id_of(dirname, name), _STATE_OF_DIR[dirname])

    def _sight(self, dirname: str, name: str, out: list[QueueEvent] | None) -> None:
        found = sighting(self._scanner, dirname, name)
        if found is not None and out is not None:
            self._feed(found, out)

    def _rescan_workers(self, seed: bool, out: list[QueueEvent] | None) -> None:
        seen: dict[str, tuple[int, int, int]] = {}
        for name in self._scanner.names("workers"):
            try:
                st = os.stat(self.queue.path / "workers" / name)
            except FileNotFoundError:
                continue
            seen[name] = (st.st_ino, st.st_size, st.st_mtime_ns)
            if self._workers.get(name) == seen[name]:
                continue
            found = sighting(self._scanner, "workers", name)
            if found is None:
                continue
            if seed:
                self.tracker.seed(found[0], found[1], found[2], found[3])
            elif out is not None:
                self._feed(found, out)
        gone = [n for n in self._workers if n not in seen]
        self._workers = seen
        for name in gone:
            wid = name[: -len(layout.SUFFIX)]
            if out is not None and not self._held("workers", name):
                self._feed((WORKER, wid, DELETED, _FINAL, None), out)

    def _missing_tasks(self, present: set[str], out: list[QueueEvent] | None) -> None:
        """Known tasks in no state directory: deleted, unless in hand or moved meanwhile."""
        for (entity, ident), (state, _) in list(self.tracker.known.items()):
            if entity != TASK or state == DELETED or ident in present:
                continue
            if self._held_task(ident):
                continue
            found = self._scanner.find(ident)
            if found is not None:
                self._sight(found.dirname, found.name, out)
            elif out is not None:
                self._feed((TASK, ident, DELETED, _FINAL, None), out)

    def _held_task(self, task_id: str) -> bool:
        return any(h.task_id == task_id for h in self.queue.held_files())

    def _held(self, dirname: str, name: str) -> bool:
        return self.queue.in_hand(dirname, name)


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def listen(
    queue: FsQueue | None = None,
    *,
    polling: bool | None = None,
    rescan_every: float = 5.0,
    stop: threading.Event | None = None,
) -> Iterator[QueueEvent]:
    """Task and worker transitions from now on, as they happen, until ``stop`` is set (or forever).

    Example: ``for event in labtasker.events.listen(): print(event.line())``
    """
    if queue is None:
        from labtasker.run_context import context

        queue = context(create=True).queue
    stream = EventStream(queue, polling=polling, rescan_every=rescan_every).__enter__()  # listening now
    return _follow(stream, stop)


def _follow(stream: EventStream, stop: threading.Event | None) -> Iterator[QueueEvent]:
    try:
        while stop is None or not stop.is_set():
            yield from stream.poll(0.5)
    finally:
        stream.close()


# ------------------------------------------------------------------ watching
class Watch:
    """Calls ``callback(path)`` when a file appears in (or leaves) a directory we watch.

    The one watchdog adapter: the event stream, a loop waiting for work and the
    TUI all watch through it. Events are hints (the callers rescan): native
    watching where the filesystem has it, polling on network filesystems or when
    native watching is refused (e.g. out of inotify watches).
    """

    def __init__(
        self,
        root: Path,
        callback: Callable[[str], None],
        *,
        polling: bool | None = None,
        subdirs: tuple[str, ...] = (),
        poll_every: float = 1.0,
        make_dirs: bool = True,
    ) -> None:
        self.root = Path(root)
        self.callback = callback
        self.polling = is_network_fs(self.root) if polling is None else polling
        self.subdirs = subdirs
        self.poll_every = poll_every
        self.make_dirs = make_dirs  # False: a missing folder is not watched (a read-only viewer)
        self._observer: Any = None

    def start(self) -> Watch:
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        folders = [self.root / d for d in self.subdirs] or [self.root]
        if self.make_dirs:
            for folder in folders:
                folder.mkdir(parents=True, exist_ok=True)
        folders = [f for f in folders if f.is_dir()]
        if self.polling:
            self._observer = self._started(PollingObserver(timeout=self.poll_every), folders)
            return self
        try:
            self._observer = self._started(_arrivals_observer() or Observer(), folders)
        except OSError as exc:  # e.g. out of inotify watches: polling still works
            log.debug("native watching refused (%s); polling %s", exc, self.root)
            self._observer = self._started(PollingObserver(timeout=self.poll_every), folders)
        return self

    def _started(self, observer: BaseObserver, folders: list[Path]) -> BaseObserver:
        from watchdog.events import FileCreatedEvent, FileDeletedEvent, FileMovedEvent

        handler = cast("FileSystemEventHandler", _Handler(self.callback))  # dispatch() is all watchdog calls
        kinds = [FileCreatedEvent, FileMovedEvent, FileDeletedEvent]
        try:
            for folder in folders:
                observer.schedule(handler, str(folder), recursive=False, event_filter=kinds)
            observer.daemon = True  # never keep the process alive on its own
            observer.start()
        except OSError:
            observer.stop()
            raise
        return observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None


def _arrivals_observer() -> Any:
    """A Linux observer told only of files arriving, so that nothing waits behind a move-out.

    watchdog holds back each "moved out" for half a second (to pair it with a
    "moved in"), and every later event of that directory waits behind it: a
    task that runs for less than that would never be seen running. We need
    only arrivals (a take moves a file out; the rescan notices what left).
    None where this is not possible; the caller then uses watchdog's default.
    """
    try:
        from watchdog.observers.inotify import InotifyEmitter, InotifyObserver
        from watchdog.observers.inotify_c import InotifyConstants as In
    except ImportError:  # not Linux
        return None

    class ArrivalsEmitter(InotifyEmitter):
        def get_event_mask_from_filter(self) -> Any:
            return In.IN_CREATE | In.IN_MOVED_TO | In.IN_DELETE_SELF

    observer = InotifyObserver()
    if not hasattr(observer, "_emitter_class") or not hasattr(InotifyEmitter, "get_event_mask_from_filter"):
        return observer  # another watchdog version: its default behaviour
    observer._emitter_class = ArrivalsEmitter
    return observer


class _Handler:
    """Adapts watchdog's handler protocol to a plain callback on the affected path."""

    def __init__(self, callback: Callable[[str], None]) -> None:
        self.callback = callback

    def dispatch(self, event: Any) -> None:
        path = getattr(event, "dest_path", "") or event.src_path
        if event.event_type == "deleted":
            path = event.src_path
        try:
            self.callback(os.fsdecode(path))
        except Exception:  # a watcher thread must survive a bad callback
            log.exception("event callback failed for %s", path)
