"""``labtasker sync``: exchange a queue that lives in a git work tree with a remote.

Reconcile, commit the queue (its files only, through a private index, so the
user's staged or changed files are never committed), fetch, merge, reconcile,
commit, push. The merge is done here, path by path, never by git's text
merge: a queue file changed on both sides becomes one file by the queue's own
rules (``reconcile.merge_bytes``), so a merge can never stop on a conflict
inside the queue. Files the merge brings in are written atomically and, when
this replica already has a version of the task, as second copies that
``reconcile`` folds in, so a running worker never sees a half-merged task.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labtasker.errors import ConfigError, LabtaskerError
from labtasker.fsqueue import atomic, ids, layout
from labtasker.fsqueue.store import FsQueue
from labtasker.replicas import reconcile

Say = Callable[[str], None]
Entry = tuple[str, str]  # (mode, object id) of a path in a tree
QUEUE_FILES = ("queue.yaml", ".gitignore")
IGNORE = (
    "# local to this replica, never synced\ntmp/\nquarantine/\n*~\n*.sync-conflict-*\n*(conflicted copy*\n"
)
ROUNDS = 3  # fetch-merge-push again when someone pushed in between
MIN_GIT = (2, 26)  # checkout and rm --pathspec-from-file


class SyncError(LabtaskerError):
    """The exchange with the remote failed; the local queue is committed and usable."""


@dataclass
class SyncReport:
    """What one ``labtasker sync`` did."""

    remote: str = ""
    branch: str = ""
    commits: list[str] = field(default_factory=list)
    merged: str = ""  # "", "fast-forward" or "merge"
    pushed: bool = False
    reconciled: list[reconcile.Report] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.commits or self.merged or self.pushed or any(r.changed for r in self.reconciled))


class Git:
    """Runs git in one work tree; never prompts, never uses the user's pager."""

    def __init__(self, top: Path, env: dict[str, str] | None = None) -> None:
        self.top = top
        self.env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_LITERAL_PATHSPECS": "1",
            "LC_ALL": "C",
            **(env or {}),
        }

    def run(
        self, *args: str, data: bytes | None = None, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a git command; SyncError with git's own message if it fails and ``check``."""
        done = subprocess.run(
            ["git", *args],
            cwd=self.top,
            input=data,
            capture_output=True,
            env={**self.env, **(env or {})},
            check=False,
        )
        if check and done.returncode != 0:
            raise SyncError(f"git {args[0]} failed in {self.top}: {_first_line(done.stderr)}")
        return done

    def out(self, *args: str, **kw: object) -> str:
        """A git command's output, as text without the trailing newline."""
        return self.run(*args, **kw).stdout.decode("utf-8", "surrogateescape").strip()  # type: ignore[arg-type]

    def ok(self, *args: str) -> bool:
        """True if a git command succeeds (a yes/no question)."""
        return self.run(*args, check=False).returncode == 0


# ------------------------------------------------------------------ set-up
@dataclass
class Repo:
    """The git work tree a queue lives in, and where in it."""

    git: Git
    queue: FsQueue
    prefix: str  # the queue directory relative to the top, "" or ending in "/"
    branch: str
    index: Path  # a private index file: the user's index is never used to build commits

    def is_queue_path(self, path: str) -> bool:
        """True for a path (relative to the top) that is one of the queue's synced files."""
        if not path.startswith(self.prefix):
            return False
        rest = path[len(self.prefix) :]
        return rest in QUEUE_FILES or (rest.split("/", 1)[0] in reconcile.SYNCED_DIRS and "/" in rest)

    def queue_pathspecs(self) -> list[str]:
        """Pathspecs of everything sync may commit."""
        return [self.prefix + p for p in (*QUEUE_FILES, *reconcile.SYNCED_DIRS)]

    def head(self) -> str | None:
        """The commit HEAD names, or None on a branch with no commit yet."""
        done = self.git.run("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None


def open_repo(queue: FsQueue) -> Repo:
    """The work tree holding ``queue``; ConfigError with the fix when there is none."""
    path = queue.path.resolve()
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=path, capture_output=True, check=False
        )
    except FileNotFoundError:
        raise ConfigError(
            "git is not installed; labtasker sync needs it (or use rsync, see docs/git-rsync-sync.md)"
        ) from None
    if done.returncode != 0:
        raise ConfigError(
            f"the queue {path} is not inside a git work tree: run `git init` there (or in "
            "your project) and add a remote, see docs/git-rsync-sync.md"
        )
    git = Git(Path(done.stdout.decode().strip()).resolve())
    _check_version(git)
    rel = path.relative_to(git.top).as_posix()
    for marker in ("MERGE_HEAD", "rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD"):
        if Path(git.top, git.out("rev-parse", "--git-path", marker)).exists():
            raise ConfigError(f"a git merge or rebase is in progress in {git.top}: finish or abort it first")
    branch = git.run("symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.decode().strip()
    if not branch:
        raise ConfigError(f"{git.top} is on a detached HEAD: check out a branch first (git switch BRANCH)")
    index = Path(git.top, git.out("rev-parse", "--git-path", "labtasker-sync.index"))
    return Repo(git, queue, "" if rel == "." else rel + "/", branch, index)


def _check_version(git: Git) -> None:
    found = re.search(r"(\d+)\.(\d+)", git.out("--version"))
    if found and (int(found.group(1)), int(found.group(2))) < MIN_GIT:
        raise ConfigError(
            f"labtasker sync needs git {MIN_GIT[0]}.{MIN_GIT[1]} or newer, this is {found.group(0)}; "
            "update git, or exchange files with rsync and labtasker reconcile"
        )


def resolve_remote(repo: Repo, remote: str | None, branch: str | None) -> tuple[str, str]:
    """The remote (name, URL or path) and its branch to exchange with."""
    git, local = repo.git, repo.branch
    if remote is None:
        remote = git.run("config", f"branch.{local}.remote", check=False).stdout.decode().strip() or None
    if remote is None:
        names = git.out("remote").split()
        remote = names[0] if len(names) == 1 else ("origin" if "origin" in names else None)
    if remote is None:
        raise ConfigError(
            f"{git.top} has no git remote to sync with: add one (git remote add origin URL) "
            "or pass --remote URL"
        )
    if branch is None:
        merge_ref = git.run("config", f"branch.{local}.merge", check=False).stdout.decode().strip()
        branch = merge_ref.removeprefix("refs/heads/") or local
    return remote, branch


# ------------------------------------------------------------------ the sync
def sync(
    queue: FsQueue,
    *,
    remote: str | None = None,
    branch: str | None = None,
    push: bool = True,
    say: Say | None = None,
) -> SyncReport:
    """Reconcile, commit, fetch, merge, reconcile, commit, push; raise SyncError when the remote fails."""
    say = say or (lambda _: None)
    repo = open_repo(queue)
    _identity(repo)
    remote, branch = resolve_remote(repo, remote, branch)
    report = SyncReport(remote=remote, branch=branch)
    _ensure_layout(queue)
    _settle(repo, report, say, f"labtasker sync: queue on {queue.node}")
    for _ in range(ROUNDS):
        theirs = _fetch(repo, remote, branch)
        head = repo.head()
        if theirs is not None and head != theirs:
            target, kind = _merge(repo, head, theirs, remote, branch)
            if target is not None:
                _apply(repo, head, target)
                report.merged = report.merged or kind
                say(f"{kind} with {remote} {branch} ({_short(theirs)})")
                _settle(repo, report, say, f"labtasker sync: merged on {queue.node}")
        head = repo.head()
        if not push or head is None or head == theirs:
            break
        if _push(repo, remote, branch):
            report.pushed = True
            say(f"pushed {_short(head)} to {remote} {branch}")
            break
    else:
        raise SyncError(f"{remote} {branch} kept moving while we pushed; run labtasker sync again")
    if not report.changed:
        say(f"already in sync with {remote} {branch}")
    return report


def _settle(repo: Repo, report: SyncReport, say: Say, message: str) -> None:
    """Reconcile the work tree, then commit the queue if it changed."""
    done = reconcile.reconcile(repo.queue)
    report.reconciled.append(done)
    if done.changed:
        say(f"reconciled: {done.describe()}")
    commit = commit_queue(repo, message)
    if commit is not None:
        report.commits.append(commit)
        say(f"committed the queue as {_short(commit)}")


def _identity(repo: Repo) -> None:
    """Commit as the user when git knows them, else as this node."""
    known = [repo.git.out("config", f"user.{key}", check=False) for key in ("email", "name")]
    if not all(known):
        node = repo.queue.node
        repo.git.env.update(
            GIT_AUTHOR_NAME=f"labtasker {node}",
            GIT_AUTHOR_EMAIL=f"labtasker@{node}",
            GIT_COMMITTER_NAME=f"labtasker {node}",
            GIT_COMMITTER_EMAIL=f"labtasker@{node}",
        )


def _ensure_layout(queue: FsQueue) -> None:
    """A clone has no ``tmp/`` and no empty state directories (git keeps no empty folders)."""
    if queue.exists():
        FsQueue.create(queue.path, str(queue.info().get("queue_name") or queue.path.name), node=queue.node)
    path = queue.path / ".gitignore"
    if not path.exists():
        atomic.write_atomic(path, IGNORE.encode(), queue.tmp)


# ------------------------------------------------------------------ commit
def commit_queue(repo: Repo, message: str) -> str | None:
    """Commit the queue's files as they are now (and nothing else); None if unchanged."""
    git, head = repo.git, repo.head()
    env = {"GIT_INDEX_FILE": str(repo.index)}
    git.run("read-tree", *([head] if head else ["--empty"]), env=env)
    paths = set(_queue_files(repo))
    if head:
        tracked = git.run("ls-tree", "-r", "-z", "--name-only", head, "--", *repo.queue_pathspecs()).stdout
        paths.update(
            p for p in tracked.decode("utf-8", "surrogateescape").split("\0") if repo.is_queue_path(p)
        )
    data = "\0".join(sorted(paths)).encode("utf-8", "surrogateescape") + b"\0"
    git.run("update-index", "--add", "--remove", "-z", "--stdin", data=data, env=env)
    tree = git.out("write-tree", env=env)
    if head and tree == git.out("rev-parse", f"{head}^{{tree}}"):
        return None
    commit = git.out("commit-tree", tree, *(["-p", head] if head else []), "-m", message)
    git.run("update-ref", "-m", message, "HEAD", commit, *([head] if head else []))
    git.run("reset", "-q", "--", *repo.queue_pathspecs())  # the user's index now agrees for the queue
    return commit


def _queue_files(repo: Repo) -> list[str]:
    root, out = repo.queue.path, []
    for name in QUEUE_FILES:
        if (root / name).is_file():
            out.append(repo.prefix + name)
    for dirname in reconcile.SYNCED_DIRS:
        try:
            names = os.listdir(root / dirname)
        except FileNotFoundError:
            continue
        out += [f"{repo.prefix}{dirname}/{n}" for n in names if layout.is_task_file(n)]
    return out


# ------------------------------------------------------------------ fetch, push
def _fetch(repo: Repo, remote: str, branch: str) -> str | None:
    done = repo.git.run("fetch", "--quiet", "--no-tags", remote, f"refs/heads/{branch}", check=False)
    err = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        if "couldn't find remote ref" in err:
            return None  # an empty remote: the first push creates the branch
        raise SyncError(
            f"cannot reach {remote}: {_first_line(done.stderr)}; the queue is committed locally "
            "and still usable; run labtasker sync again when the remote is reachable"
        )
    return repo.git.out("rev-parse", "FETCH_HEAD^{commit}")


def _push(repo: Repo, remote: str, branch: str) -> bool:
    """Push HEAD; False when the remote moved on meanwhile (fetch and merge again)."""
    done = repo.git.run("push", "--quiet", remote, f"HEAD:refs/heads/{branch}", check=False)
    if done.returncode == 0:
        return True
    err = done.stderr.decode("utf-8", "replace")
    if "non-fast-forward" in err or "fetch first" in err or "[rejected]" in err:
        return False
    raise SyncError(
        f"cannot push to {remote}: {_first_line(done.stderr)}; the queue is committed locally "
        "and still usable; run labtasker sync again when the remote is reachable"
    )


# ------------------------------------------------------------------ merge
def _merge(repo: Repo, head: str | None, theirs: str, remote: str, branch: str) -> tuple[str | None, str]:
    """The commit to move to: theirs (fast-forward), a new merge commit, or None (we are ahead)."""
    git = repo.git
    if head is None or git.ok("merge-base", "--is-ancestor", head, theirs):
        return theirs, "fast-forward"
    if git.ok("merge-base", "--is-ancestor", theirs, head):
        return None, ""
    found = git.run("merge-base", head, theirs, check=False)
    base = found.stdout.decode().strip() if found.returncode == 0 else None
    tree = _merge_trees(repo, base, head, theirs, f"{remote} {branch}")
    commit = git.out(
        "commit-tree",
        tree,
        "-p",
        head,
        "-p",
        theirs,
        "-m",
        f"labtasker sync: merge {remote} {branch} on {repo.queue.node}",
    )
    return commit, "merged"


def _merge_trees(repo: Repo, base: str | None, ours: str, theirs: str, where: str) -> str:
    """A three-way merge by path: queue files by the queue's rules, other files by git merge-file."""
    b = _entries(repo.git, base) if base else {}
    o, t = _entries(repo.git, ours), _entries(repo.git, theirs)
    result: dict[str, Entry] = {}
    clashes = []
    for path in sorted(set(b) | set(o) | set(t)):
        mine, yours, old = o.get(path), t.get(path), b.get(path)
        if mine == yours or yours == old:
            chosen = mine
        elif mine == old:
            chosen = yours
        elif repo.is_queue_path(path):
            chosen = _merge_queue_file(repo, path, mine, yours)
        else:
            chosen = _merge_text(repo.git, path, old, mine, yours)
            if chosen is None:
                clashes.append(path)
                continue
        if chosen is not None:
            result[path] = chosen
    if clashes:
        raise SyncError(
            f"{', '.join(clashes[:5])} changed on both sides and git cannot merge them: merge "
            f"{where} yourself (git merge FETCH_HEAD), then run labtasker sync again; the queue "
            "is committed locally and still usable"
        )
    env = {"GIT_INDEX_FILE": str(repo.index)}
    repo.git.run("read-tree", "--empty", env=env)
    lines = "".join(f"{mode} {oid}\t{path}\0" for path, (mode, oid) in result.items())
    repo.git.run("update-index", "-z", "--index-info", data=lines.encode("utf-8", "surrogateescape"), env=env)
    return repo.git.out("write-tree", env=env)


def _entries(git: Git, commit: str) -> dict[str, Entry]:
    raw = git.run("ls-tree", "-r", "-z", "--full-tree", commit).stdout.decode("utf-8", "surrogateescape")
    out = {}
    for item in raw.split("\0"):
        if item:
            meta, path = item.split("\t", 1)
            mode, _, oid = meta.split(" ")
            out[path] = (mode, oid)
    return out


def _merge_queue_file(repo: Repo, path: str, mine: Entry | None, yours: Entry | None) -> Entry | None:
    """Both sides changed a queue file: keep what either kept (a deletion never wins), merged."""
    if mine is None or yours is None:
        return mine or yours
    rest = path[len(repo.prefix) :]
    dirname = rest.split("/", 1)[0] if "/" in rest else "."
    if rest == ".gitignore":
        return mine
    ours, theirs = _blob(repo.git, mine[1]), _blob(repo.git, yours[1])
    merged = reconcile.merge_bytes(dirname, ours, theirs)
    if merged == ours:
        return mine
    if merged == theirs:
        return yours
    return "100644", repo.git.out("hash-object", "-w", "--stdin", data=merged)


def _merge_text(
    git: Git, path: str, old: Entry | None, mine: Entry | None, yours: Entry | None
) -> Entry | None:
    """A user's file changed on both sides: git's own line merge, or None when it conflicts."""
    if mine is None or yours is None or mine[0] != yours[0] or not mine[0].startswith("100"):
        return None
    tmp = git.top / git.out("rev-parse", "--git-path", "labtasker-merge")
    tmp.mkdir(exist_ok=True)
    files = []
    for label, entry in (("ours", mine), ("base", old), ("theirs", yours)):
        file = tmp / label
        file.write_bytes(_blob(git, entry[1]) if entry else b"")
        files.append(str(file))
    done = git.run("merge-file", "-p", *files, check=False)
    if done.returncode != 0:
        return None
    return mine[0], git.out("hash-object", "-w", "--stdin", data=done.stdout)


def _blob(git: Git, oid: str) -> bytes:
    return git.run("cat-file", "blob", oid).stdout


# ------------------------------------------------------------------ work tree
def _apply(repo: Repo, head: str | None, target: str) -> None:
    """Move HEAD to ``target`` and bring the work tree along without losing local work."""
    git = repo.git
    before = _entries(git, head) if head else {}
    after = _entries(git, target)
    changed = [p for p in sorted(set(before) | set(after)) if before.get(p) != after.get(p)]
    theirs = [p for p in changed if not repo.is_queue_path(p)]
    if theirs:
        _check_clean(git, theirs)
    known = _local_tasks(repo)
    for path in changed:
        if repo.is_queue_path(path):
            _bring_queue_file(repo, path, before.get(path), after.get(path), known)
    _bring_user_files(git, target, [p for p in theirs if p in after], [p for p in theirs if p not in after])
    git.run("update-ref", "-m", "labtasker sync", "HEAD", target, *([head] if head else []))
    git.run("reset", "-q", "--", *repo.queue_pathspecs())


def _check_clean(git: Git, paths: list[str]) -> None:
    dirty = git.run("status", "--porcelain", "-z", "--untracked-files=all", "--", *paths).stdout
    if dirty.strip(b"\0"):
        names = ", ".join(
            sorted({e[3:] for e in dirty.decode("utf-8", "replace").split("\0") if len(e) > 3})[:5]
        )
        raise SyncError(
            f"your uncommitted changes to {names} would be overwritten by the merge: commit or "
            "stash them, then run labtasker sync again; the queue is committed locally and usable"
        )


def _bring_user_files(git: Git, target: str, present: list[str], gone: list[str]) -> None:
    if present:
        data = "\0".join(present).encode("utf-8", "surrogateescape")
        git.run("checkout", target, "--pathspec-from-file=-", "--pathspec-file-nul", data=data)
    if gone:
        data = "\0".join(gone).encode("utf-8", "surrogateescape")
        git.run("rm", "-q", "--ignore-unmatch", "--pathspec-from-file=-", "--pathspec-file-nul", data=data)


def _local_tasks(repo: Repo) -> set[str]:
    out = set()
    for dirname in reconcile.STATE_DIRNAMES:
        for name in repo.queue.names(dirname):
            out.add(layout.task_id_of(dirname, name))
    return out


def _bring_queue_file(repo: Repo, path: str, old: Entry | None, new: Entry | None, known: set[str]) -> None:
    """One queue file the merge changed: written whole, as a second copy when it meets local work."""
    local_path = repo.git.top / path
    local = _read(local_path)
    if new is None:  # gone on the other side: drop ours only if we did not change it since
        algo = "sha256" if old is not None and len(old[1]) == 64 else "sha1"
        if local is not None and old is not None and _oid(algo, local) == old[1]:
            local_path.unlink(missing_ok=True)
        return
    data = _blob(repo.git, new[1])
    if local == data:
        return
    rest = path[len(repo.prefix) :]
    dirname = rest.split("/", 1)[0] if "/" in rest else "."
    meets = local is not None or (
        dirname in reconcile.STATE_DIRNAMES and layout.task_id_of(dirname, local_path.name) in known
    )
    if rest == ".gitignore" and local is not None:
        return
    if meets:
        local_path = local_path.with_name(f"{local_path.name}.~sync-{ids.nonce(3)}~")
    local_path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_atomic(local_path, data, repo.queue.tmp)


def _oid(algo: str, data: bytes) -> str:
    """The id git gives a blob with these bytes."""
    return hashlib.new(algo, b"blob %d\0" % len(data) + data).hexdigest()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None


def _short(commit: str) -> str:
    return commit[:10]


def _first_line(err: bytes) -> str:
    lines = [ln.strip() for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    return (fatal or lines or ["no details"])[0]
