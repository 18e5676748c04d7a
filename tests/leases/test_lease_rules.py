"""Staleness decisions with injected clocks: no sleeping, no files."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from labtasker.errors import UsageError
from labtasker.fsqueue import lease, locking
from labtasker.fsqueue.lease import Terms

T = Terms(interval=30.0, timeout=90.0)
NOW = 1_800_000_000.0  # "now" on the filesystem clock
HOUR = 3600.0


@pytest.mark.parametrize(
    ("case", "mtime", "watched", "same_host", "alive", "stale", "suspect"),
    [
        ("fresh lease, same host", NOW - 10, 0.0, True, None, False, False),
        ("old lease, same host: the age is trusted", NOW - 95, 0.0, True, None, True, False),
        ("old lease, same host, owner stopped but its lock held", NOW - 95, 0.0, True, True, True, False),
        ("fresh lease but the owner's lock is free", NOW - 1, 0.0, True, False, True, False),
        ("old lease elsewhere, not watched yet: look again", NOW - 95, 5.0, False, None, False, True),
        ("old lease elsewhere, watched unchanged for the timeout", NOW - 95, 90.0, False, None, True, False),
        ("fresh lease elsewhere, watched long (clock says recent)", NOW - 10, 95.0, False, None, False, True),
        ("lease an hour in the future, watched unchanged", NOW + HOUR, 90.0, False, None, True, False),
        ("lease an hour in the future, just seen", NOW + HOUR, 1.0, False, None, False, False),
    ],
)
def test_judge(
    case: str, mtime: float, watched: float, same_host: bool, alive: bool | None, stale: bool, suspect: bool
) -> None:
    verdict = lease.judge(mtime=mtime, fs_now=NOW, watched=watched, terms=T, same_host=same_host, alive=alive)
    assert (verdict.stale, verdict.suspect) == (stale, suspect), case


def test_a_renewing_worker_whose_clock_is_an_hour_off_is_never_reclaimed() -> None:
    """The worker's clock stamps its lease (a filesystem that keeps client times): an hour behind.

    An observer on another host sees an hour-old mtime at every sweep, but it
    changes every interval, so the watch never reaches the timeout.
    """
    seen: lease.Sighting | None = None
    for step in range(200):  # 200 sweeps, 10 s apart: over half an hour of renewals
        now = NOW + 10 * step
        mtime = (now - HOUR) - (now - NOW) % T.interval  # renewed every 30 s by a clock 1 h behind
        seen = lease.sight(seen, (1, int(mtime * 1e9), 100), mono=10.0 * step)
        verdict = lease.judge(
            mtime=mtime, fs_now=now, watched=10.0 * step - seen.since, terms=T, same_host=False
        )
        assert not verdict.stale, f"reclaimed at sweep {step}"
    # ...and once it stops renewing, it is reclaimed after one timeout of watching
    frozen = mtime
    for step in range(200, 220):
        seen = lease.sight(seen, (1, int(frozen * 1e9), 100), mono=10.0 * step)
        verdict = lease.judge(
            mtime=frozen, fs_now=NOW + 10 * step, watched=10.0 * step - seen.since, terms=T, same_host=False
        )
        if verdict.stale:
            break
    assert verdict.stale
    assert 90 <= 10.0 * step - seen.since <= 100


def test_eta_is_measured_on_the_filesystem_clock_despite_the_owners_skew() -> None:
    """The owner's start_time is an hour behind, and its lease says so (skew)."""
    start = datetime.fromtimestamp(NOW - 100, timezone.utc) - timedelta(hours=1)
    doc = {"start_time": start, "lease": {"skew": HOUR, "eta": 600.0}}
    started = lease.started_on_fs_clock(doc)
    assert started == pytest.approx(NOW - 100)
    terms = lease.terms_of(doc, T)
    keep = lease.judge(mtime=NOW - 5, fs_now=NOW, watched=0, terms=terms, same_host=True, started=started)
    assert not keep.stale  # 100 s into a 600 s budget
    late = lease.judge(
        mtime=NOW + 700, fs_now=NOW + 700, watched=0, terms=terms, same_host=True, started=started
    )
    assert late.stale
    assert late.why == "eta exceeded"


def test_the_owner_gives_up_one_interval_before_anyone_may_reclaim() -> None:
    terms = lease.make_terms(30)
    assert (terms.interval, terms.timeout, terms.give_up_after) == (30, 90, 60)
    assert lease.make_terms(0.2, 1).give_up_after == pytest.approx(0.8)


def test_a_timeout_shorter_than_two_intervals_renews_more_often() -> None:
    terms = lease.make_terms(30, 20)
    assert terms.timeout == 20
    assert terms.interval == pytest.approx(20 / 3)


@pytest.mark.parametrize(
    ("interval", "timeout", "eta"),
    [(0, None, None), (30, -1, None), (30, None, "1h"), ("30", None, None), (True, None, None)],
)
def test_bad_terms_are_a_usage_error(interval: object, timeout: object, eta: object) -> None:
    with pytest.raises(UsageError, match="positive number of seconds"):
        lease.make_terms(interval, timeout, eta)


def test_terms_of_a_running_task() -> None:
    loop_terms = lease.lease_info(Terms(5, 15, 60), host="h", lock="w--1", skew=0.0)
    assert lease.terms_of({"lease": loop_terms}, T) == Terms(5, 15, 60)
    # the task's own limits, set at submit, win; the interval shrinks to fit
    assert lease.terms_of({"lease": loop_terms, "heartbeat_timeout": 6}, T) == Terms(2, 6, 60)
    assert lease.terms_of({"lease": {**loop_terms, "eta": None}, "task_timeout": 30}, T).eta == 30
    # a running file without lease terms (an older writer) gets the observer's defaults
    assert lease.terms_of({"heartbeat_timeout": "junk"}, T) == T


def test_reclaim_counts_a_retry_and_says_why() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    verdict = lease.Verdict(True, "heartbeat lost", "not renewed for 95s")
    error = lease.describe(verdict, worker="n1.abc", by="monitor n1", now=now)
    assert error == (
        "lease reclaimed, heartbeat lost (not renewed for 95s): worker n1.abc; "
        "reclaimed by monitor n1 at 2026-01-02T03:04:05+00:00"
    )
    doc = {"task_id": "t", "retries": 0, "max_retries": 2, "worker_id": "n1.abc", "lease": {"host": "h"}}
    dirname, doc = lease.reclaim(doc, error, now)
    assert (dirname, doc["retries"], doc["worker_id"], "lease" in doc) == ("pending", 1, None, False)
    dirname, doc = lease.reclaim(doc, error, now)
    assert (dirname, doc["retries"], doc["last_error"]) == ("failed", 2, error)


def test_a_renewal_seen_through_an_attribute_cache_gets_that_much_more_time() -> None:
    """On NFS another client may see a renewal up to acregmax seconds late."""
    seen_old = {"mtime": NOW - 100, "fs_now": NOW, "watched": 100.0, "terms": T}
    assert lease.judge(**seen_old, same_host=False).stale
    assert not lease.judge(**seen_old, same_host=False, cache=60).stale
    assert lease.judge(**seen_old, same_host=True, cache=60).stale  # its own host's view is fresh
    assert lease.judge(**{**seen_old, "mtime": NOW - 160, "watched": 160.0}, same_host=False, cache=60).stale


@pytest.mark.parametrize(
    ("kind", "options", "seconds"),
    [
        ("ext4", {"rw": ""}, 0),
        ("nfs4", {"rw": ""}, 60),
        ("nfs", {"acregmax": "30"}, 30),
        ("nfs", {"actimeo": "5"}, 5),
        ("nfs", {"noac": ""}, 0),
        ("cifs", {}, 1),
        ("lustre", {}, 0),
    ],
)
def test_attribute_cache_of_a_mount(kind: str, options: dict[str, str], seconds: float) -> None:
    assert locking.cache_of_mount(kind, options) == seconds


def test_grace_and_retry_backoff_in_config_toml(tmp_path: Path) -> None:
    from labtasker import config
    from labtasker.errors import ConfigError

    cfg = config.from_dict(tmp_path, {"loop": {"grace": 20, "retry_backoff": 0}})
    assert (cfg.setting("grace"), cfg.setting("retry_backoff")) == (20, 0)  # 0: retry at once
    with pytest.raises(ConfigError, match="loop.retry_backoff .* must be a number of seconds, 0 or more"):
        config.from_dict(tmp_path, {"loop": {"retry_backoff": -1}})
    with pytest.raises(ConfigError, match="loop.grace .* must be a positive number of seconds"):
        config.from_dict(tmp_path, {"loop": {"grace": 0}})
