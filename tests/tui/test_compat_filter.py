"""The TUI's filter box takes the command line's dict queries and refuses what is not a condition."""

from __future__ import annotations

import pytest

from labtasker.fsqueue.store import FsQueue
from tests.tui.conftest import SIZE, make_app, settle
from tests.tui.test_app import show, table

pytestmark = pytest.mark.timeout(60)


async def test_a_dict_query_in_the_filter_box_narrows_the_table(sample: FsQueue) -> None:
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await show(pilot, "3")  # success
        everything = table(app).row_count
        await pilot.press("slash")
        await pilot.press(*'{"args.lr": 0.1}')
        await settle(pilot)
        by_dict = table(app).row_count
        assert 0 < by_dict < everything
        await pilot.press(*["backspace"] * len('{"args.lr": 0.1}'), *"args.lr == 0.1")
        await settle(pilot)
        assert table(app).row_count == by_dict
        await pilot.press(*["backspace"] * len("args.lr == 0.1"), *"true")
        await settle(pilot)
        error = app.query_one("#filter-error")
        assert error.display and "not a condition" in str(error.render())
