"""``labtasker init``: create ``.labtasker/`` (config, node id) and its queue in this folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from plumbum import cli

from labtasker import config
from labtasker.cli import output
from labtasker.cli.base import Command, positive_seconds
from labtasker.errors import ConfigError, LabtaskerError, UsageError
from labtasker.fsqueue.store import FsQueue


class Init(Command):
    """Set up labtasker in this folder: .labtasker/config.toml and the queue (asks on a terminal)"""

    yes = cli.Flag(["-y", "--yes"], help="Do not ask: use the flags given and defaults for the rest")
    queue_name = cli.SwitchAttr(
        ["--queue-name"], str, argname="NAME", help="Name of the queue (default: default)"
    )
    queue_dir = cli.SwitchAttr(
        ["--queue-dir"],
        str,
        argname="PATH",
        help="Keep the queue elsewhere, e.g. on a shared filesystem (default: .labtasker/queues/NAME)",
    )
    heartbeat_interval = cli.SwitchAttr(
        ["--heartbeat-interval"],
        positive_seconds,
        argname="SECONDS",
        help="Seconds between a worker's lease renewals (default 30)",
    )
    heartbeat_timeout = cli.SwitchAttr(
        ["--heartbeat-timeout"],
        positive_seconds,
        argname="SECONDS",
        help="A lease not renewed this long is reclaimed (default 3 intervals)",
    )
    force = cli.Flag(["--force"], help="Overwrite the config of an existing .labtasker/ (tasks are kept)")

    def main(self) -> int:
        project = project_dir()
        root = project / config.ROOT_NAME
        if (root / "config.toml").exists() and not self.force:
            raise LabtaskerError(
                f"{root} already exists; edit it with `labtasker config`, "
                "or add --force to write a new config (its queue and tasks are kept)"
            )
        settings = self._ask() if output.can_prompt() and not self.yes else self._given()
        check_settings(root, settings)
        config.init_root(
            project, settings["queue_name"], queue_dir=settings["queue_dir"], loop=settings["loop"]
        )
        cfg = config.load(root)
        queue_path = cfg.resolved_queue_dir()
        FsQueue.create(queue_path, cfg.queue_name, node=config.node_id(root))
        print(f"created {root} with queue '{cfg.queue_name}' at {queue_path}")
        return 0

    def _given(self) -> dict[str, Any]:
        loop = {"heartbeat_interval": self.heartbeat_interval, "heartbeat_timeout": self.heartbeat_timeout}
        return {
            "queue_name": self.queue_name or config.DEFAULT_QUEUE,
            "queue_dir": self.queue_dir,
            "loop": {k: v for k, v in loop.items() if v is not None},
        }

    def _ask(self) -> dict[str, Any]:
        given = self._given()
        name = _ask_until_valid("Queue name", given["queue_name"], _valid_name)
        queue_dir = _ask_until_valid(
            "Queue directory (empty: inside .labtasker/)", given["queue_dir"] or "", lambda t: t
        )
        interval = _ask_until_valid(
            "Heartbeat interval in seconds",
            str(given["loop"].get("heartbeat_interval", 30)),
            positive_seconds,
        )
        default_timeout = given["loop"].get("heartbeat_timeout") or 3 * interval
        timeout = _ask_until_valid("Heartbeat timeout in seconds", f"{default_timeout:g}", positive_seconds)
        loop: dict[str, Any] = {}
        if interval != 30:
            loop["heartbeat_interval"] = interval
        if timeout != 3 * interval:
            loop["heartbeat_timeout"] = timeout
        return {"queue_name": name, "queue_dir": queue_dir or None, "loop": loop}


def project_dir() -> Path:
    """The folder that gets ``.labtasker/``: the parent of ``$LABTASKER_ROOT``, else the current one."""
    root = config.root_from_env()
    return root.parent if root is not None else Path.cwd()


def check_settings(root: Path, settings: dict[str, Any]) -> None:
    """Refuse settings the config would reject, before anything is written."""
    raw = {"queue_name": settings["queue_name"], "loop": settings["loop"]}
    if settings["queue_dir"]:
        raw["queue_dir"] = settings["queue_dir"]
    config.from_dict(root, raw)


def _valid_name(text: str) -> str:
    config.from_dict(Path(config.ROOT_NAME), {"queue_name": text})
    return text


def _ask_until_valid(question: str, default: str, check: Callable[[str], Any]) -> Any:
    while True:
        answer = output.ask(question, default)
        try:
            return check(answer)
        except (ValueError, ConfigError, UsageError) as exc:
            output.warn(str(exc))
