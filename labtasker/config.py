"""Where the queue lives: the ``.labtasker/`` root, its config, the node id.

The root is ``$LABTASKER_ROOT`` if set, else the nearest ``.labtasker/`` above
the current directory (as git finds ``.git``). With none, the first command
that writes creates ``./.labtasker/`` and says so on stderr.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from labtasker import config_toml
from labtasker.errors import ConfigError, UsageError
from labtasker.fsqueue import ids
from labtasker.record import Record

ROOT_NAME = ".labtasker"
DEFAULT_QUEUE = "default"
GITIGNORE = """\
# Local to this machine: never commit or sync these.
node_id
locks/
logs/
tmp/
cache/
queues/*/tmp/
"""
LOOP_DEFAULTS: dict[str, Any] = {
    "heartbeat_interval": 30.0,
    "heartbeat_timeout": None,
    "grace": None,  # seconds a stopped job gets before the harder stop (attempt.DEFAULT_GRACE)
    "retry_backoff": None,  # seconds before a failed task's first retry, 0 for none (transitions)
}


class Config(Record):
    """A root's settings, validated once."""

    _fields = ("root", "queue_name", "queue_dir", "loop", "raw")
    root: Path
    queue_name: str
    queue_dir: Path | None
    loop: dict[str, Any]
    raw: dict[str, Any]

    def __init__(
        self,
        root: Path,
        queue_name: str = DEFAULT_QUEUE,
        queue_dir: Path | None = None,
        loop: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        self._init(
            root=root,
            queue_name=queue_name,
            queue_dir=queue_dir,
            loop={} if loop is None else loop,
            raw={} if raw is None else raw,
        )

    @property
    def project_dir(self) -> Path:
        return self.root.parent

    def resolved_queue_dir(self, queue_name: str | None = None) -> Path:
        """The queue directory: env, then config, then ``queues/<name>/``.

        A name given here becomes a folder name, so it is checked first: none
        can reach outside ``queues/``.
        """
        if queue_name is not None:
            check_queue_name(queue_name)
        env = os.environ.get("LABTASKER_QUEUE_DIR")
        if env and queue_name is None:
            return Path(env).expanduser().absolute()
        if self.queue_dir is not None and queue_name in (None, self.queue_name):
            return self.queue_dir
        return self.root / "queues" / (queue_name or self.queue_name)

    def setting(self, name: str) -> Any:
        return self.loop.get(name, LOOP_DEFAULTS.get(name))


def root_from_env() -> Path | None:
    """The ``.labtasker`` directory ``$LABTASKER_ROOT`` names (it or its parent folder), if set."""
    env = os.environ.get("LABTASKER_ROOT")
    if not env:
        return None
    path = Path(env).expanduser().absolute()
    return path if path.name == ROOT_NAME else path / ROOT_NAME


def find_root(start: Path | None = None) -> Path | None:
    """The ``.labtasker`` directory in use, or None if there is none yet."""
    root = root_from_env()
    if root is not None:
        return root
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / ROOT_NAME
        if (candidate / "config.toml").is_file():
            return candidate
    return None


def load(root: Path) -> Config:
    """Read and validate ``config.toml`` of a root."""
    path = root / "config.toml"
    if not path.exists():
        return from_dict(root, {})
    text = path.read_text(encoding="utf-8")
    raw = config_toml.loads(text)  # the plain form, without importing tomllib
    if raw is None:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}; fix it with `labtasker config`") from None
    return from_dict(root, raw)


QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_queue_name(name: Any, what: str = "queue name") -> str:
    """A queue name, which becomes a folder name: refuse anything that is not a plain file name."""
    if not isinstance(name, str) or not QUEUE_NAME.fullmatch(name) or "--" in name:
        raise UsageError(
            f"invalid {what} {name!r}: use letters, digits, '.', '_' and '-', starting with a letter "
            "or digit (no '--', at most 100 characters)"
        )
    return name


def from_dict(root: Path, raw: dict[str, Any]) -> Config:
    """Validate a config mapping; raise ConfigError naming the bad key."""
    name = os.environ.get("LABTASKER_QUEUE_NAME") or raw.get("queue_name", DEFAULT_QUEUE)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) or "--" in name:
        raise ConfigError(f"queue_name {name!r} in {root}/config.toml: use letters, digits, '.', '_', '-'")
    queue_dir = raw.get("queue_dir")
    if queue_dir is not None:
        if not isinstance(queue_dir, str) or not queue_dir:
            raise ConfigError(f"queue_dir in {root}/config.toml must be a path string")
        qd = Path(queue_dir).expanduser()
        queue_dir = qd if qd.is_absolute() else (root.parent / qd).absolute()
    loop = raw.get("loop", {})
    if not isinstance(loop, dict):
        raise ConfigError(f"[loop] in {root}/config.toml must be a table")
    for key, value in loop.items():
        if key not in LOOP_DEFAULTS and key not in ("eta_max",):
            raise ConfigError(f"unknown setting loop.{key} in {root}/config.toml")
        least = 0 if key == "retry_backoff" else 1e-9
        if value is not None and key != "eta_max" and (not isinstance(value, (int, float)) or value < least):
            kind = (
                "a number of seconds, 0 or more" if key == "retry_backoff" else "a positive number of seconds"
            )
            raise ConfigError(f"loop.{key} in {root}/config.toml must be {kind}")
    return Config(root=root, queue_name=name, queue_dir=queue_dir, loop=dict(loop), raw=raw)


def render(queue_name: str, queue_dir: str | None = None, loop: dict[str, Any] | None = None) -> str:
    """The text of a fresh ``config.toml``."""
    lines = [
        "# labtasker settings for this project (see `labtasker config`).",
        f'queue_name = "{queue_name}"',
    ]
    if queue_dir:
        lines.append(f'queue_dir = "{queue_dir}"')
    else:
        lines.append('# queue_dir = "/shared/nfs/queues/sweep"   # default: .labtasker/queues/<queue_name>')
    lines += ["", "[loop]"]
    for key, value in (loop or {}).items():
        if value is not None:
            lines.append(f"{key} = {value}")
    if not loop:
        lines.append("# heartbeat_interval = 30   # seconds between lease renewals")
        lines.append("# heartbeat_timeout = 90    # a lease not renewed for this long is reclaimed")
    return "\n".join(lines) + "\n"


def init_root(project_dir: Path, queue_name: str = DEFAULT_QUEUE, **settings: Any) -> Path:
    """Create ``.labtasker/`` with a config, a .gitignore and a node id."""
    root = project_dir.absolute() / ROOT_NAME
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(render(queue_name, **settings), encoding="utf-8")
    (root / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    node_id(root)
    return root


def ensure_root(announce: bool = True) -> Path:
    """The root in use, created in the current directory if there is none."""
    root = find_root()
    if root is not None and (root / "config.toml").is_file():
        return root
    # With a root found, LABTASKER_ROOT names a folder that has no config yet.
    root = init_root(Path.cwd()) if root is None else init_root(root.parent)
    if announce:
        print(f"labtasker: created {root} with queue '{DEFAULT_QUEUE}'", file=sys.stderr)
    return root


def node_id_from_env() -> str | None:
    """The node id ``$LABTASKER_NODE_ID`` sets, if any."""
    env = os.environ.get("LABTASKER_NODE_ID")
    return ids.check_id(env, "LABTASKER_NODE_ID") if env else None


def node_id(root: Path) -> str:
    """This clone's node id: a local file, never synced, made on first use."""
    env = node_id_from_env()
    if env:
        return env
    path = root / "node_id"
    try:
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return ids.check_id(value, f"node id in {path}")
    except FileNotFoundError:
        pass
    host = re.sub(r"[^A-Za-z0-9]+", "-", ids.hostname()).strip("-")[:30] or "node"
    value = f"{host}-{ids.nonce(3)}"
    path.write_text(value + "\n", encoding="utf-8")
    return value
