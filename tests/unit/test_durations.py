"""Durations as people write and read them."""

from __future__ import annotations

import pytest

from labtasker.fsqueue import durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        (90, 90),
        ("90s", 90),
        ("45m", 2700),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("2d", 172800),
        ("1h 30m", 5400),
        ("1w", 604800),
        (None, None),
    ],
)
def test_parse(text, seconds):
    assert durations.parse(text) == seconds


@pytest.mark.parametrize("bad", ["", "soon", "1x", "-5", 0, "1h-30m", True, "h"])
def test_bad_durations_say_how_to_write_one(bad):
    with pytest.raises(ValueError, match="duration"):
        durations.parse(bad)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(-3, "0.0s"), (4.24, "4.2s"), (95, "95s"), (1980, "33m"), (18360, "5.1h"), (172800, "2.0d")],
)
def test_durations_read_back_for_people(seconds, shown):
    assert durations.human(seconds) == shown
