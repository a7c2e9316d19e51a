"""Daily limits for new cards and reviews (``SHARPNOTES_NEW_PER_DAY``,
``SHARPNOTES_REVIEWS_PER_DAY``): counted from the review log since local midnight, used by the
review queue and the CLI (with a one-session override), on a real SQLite store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from test_quiz_store import make_item

from sharpnotes.app.cli import cli
from sharpnotes.app.quiz import schedule
from sharpnotes.app.quiz.session import daily_limits, day_start, review_queue
from sharpnotes.app.quiz.store import open_store
from sharpnotes.ingest.settings import Settings

PASSAGE = "Each prediction is matched by the Hungarian algorithm number {n}, so no NMS is needed."


def _items(n: int) -> list:
    return [make_item("Hungarian", chunk_id=f"c{i}", passage=PASSAGE.format(n=i)) for i in range(n)]


def test_defaults_and_what_today_already_used(settings: Settings) -> None:
    assert (settings.study.new_per_day, settings.study.reviews_per_day) == (20, 200)
    with open_store(settings) as store:
        ids = store.add_items(_items(30))
        now = datetime.now(UTC)
        midnight = datetime.fromtimestamp(day_start(), UTC)
        yesterday = midnight - timedelta(hours=2)
        # half an hour ago, but never before midnight: CI may run at 00:10
        earlier_today = max(now - timedelta(minutes=30), midnight + timedelta(seconds=1))
        for item_id in ids[:3]:  # new yesterday, reviewed again today: 3 reviews today
            schedule.record(store, item_id, 3, now=yesterday)
            schedule.record(store, item_id, 3, now=now)
        for item_id in ids[3:8]:  # five new cards today
            schedule.record(store, item_id, 1, now=earlier_today)
        limits = daily_limits(settings, store)
        assert (limits.new_done, limits.reviews_done) == (5, 3)
        due, new = review_queue(store, limits)
        assert len(new) == 15 and {s.id for s in due} == set(ids[3:8])  # Again: due again
        tight = daily_limits(settings, store, new_per_day=5, reviews_per_day=5)
        due, new = review_queue(store, tight)
        assert (
            new == []
            and len(due) == 2
            and tight.describe() == ("today: 5 of 5 new, 3 of 5 reviews done")
        )
        # undoing a rating gives its place back
        schedule.undo_last(store)
        assert daily_limits(settings, store).new_done == 4


def test_settings_and_the_cli_override(settings: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with open_store(settings) as store:
        store.add_items(_items(6))
    monkeypatch.setenv("SHARPNOTES_NEW_PER_DAY", "2")
    runner = CliRunner()
    queue = json.loads(runner.invoke(cli, ["review", "--json"]).output)
    assert len(queue["items"]) == 2 and queue["today"]["new_per_day"] == 2
    queue = json.loads(runner.invoke(cli, ["review", "--new", "4", "--json"]).output)
    assert len(queue["items"]) == 4
    out = runner.invoke(cli, ["review"], input="Hungarian\n3\nHungarian\n3\n").output
    assert "0 due, 2 new in this session" in out and "2 reviewed." in out
    out = runner.invoke(cli, ["review"]).output
    # two new done today and four left: the command to run asks for more than the day's count
    assert "Today's limits are reached" in out and "sharpnotes review --new 6 " in out
    more = runner.invoke(cli, ["review", "--new", "6", "--json"]).output
    assert len(json.loads(more)["items"]) == 4
    bad = runner.invoke(cli, ["review", "--json"], env={"SHARPNOTES_NEW_PER_DAY": "-1"})
    assert bad.exit_code == 1 and "SHARPNOTES_NEW_PER_DAY" in bad.output
