"""Rating buttons show FSRS's next interval without recording; undo restores the card state
before the last rating (real fsrs, real SQLite store)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from test_quiz_store import NOW, make_item

from sharpnotes.app.quiz import schedule
from sharpnotes.app.quiz.store import ReviewStore


def _store(tmp_path: Path) -> tuple[ReviewStore, str]:
    store = ReviewStore(tmp_path / "review.sqlite")
    (item_id,) = store.add_items([make_item()])
    return store, item_id


def test_preview_gives_each_rating_its_interval_and_records_nothing(tmp_path: Path) -> None:
    store, item_id = _store(tmp_path)
    stored = store.get(item_id)
    assert stored is not None
    dues = schedule.preview(stored, NOW)
    assert sorted(dues) == [1, 2, 3, 4]
    assert dues[1] <= dues[2] <= dues[3] < dues[4]  # Again soonest, Easy latest
    assert dues[4] - NOW >= timedelta(days=1)
    labels = schedule.preview_labels(stored, NOW)
    assert labels[1].startswith("Again (") and labels[4].endswith("days)")
    assert store.reviews() == [] and store.get(item_id).reps == 0  # type: ignore[union-attr]
    # what the preview promised is what recording the rating does, in learning and in review
    saved = schedule.record(store, item_id, 3, now=NOW)
    assert saved.due == dues[3]
    when = NOW
    for _ in range(3):  # Good until the card has left its learning steps: days apart
        when = max(when, saved.due) + timedelta(minutes=1)
        saved = schedule.record(store, item_id, 3, now=when)
    assert saved.due - when >= timedelta(days=3)  # in review, where intervals were fuzzed
    when = saved.due + timedelta(hours=1)
    promised = schedule.preview(store.get(item_id), when)  # type: ignore[arg-type]
    assert schedule.record(store, item_id, 4, now=when).due == promised[4]
    store.close()


def test_undo_restores_the_state_before_the_last_rating(tmp_path: Path) -> None:
    store, item_id = _store(tmp_path)
    assert schedule.undo_last(store) is None
    schedule.record(store, item_id, 3, now=NOW)
    after_first = store.get(item_id)
    schedule.record(store, item_id, 1, now=NOW + timedelta(days=3))
    assert store.get(item_id).reps == 2  # type: ignore[union-attr]
    assert schedule.undo_last(store) == (item_id, 1)
    back = store.get(item_id)
    assert back is not None and after_first is not None
    assert (back.card, back.due, back.reps, back.last_review) == (
        after_first.card, after_first.due, after_first.reps, after_first.last_review,
    )  # fmt: skip
    assert [r.rating for r in store.reviews(item_id)] == [3]
    assert schedule.undo_last(store) == (item_id, 3)
    fresh = store.get(item_id)
    assert fresh is not None and fresh.is_new and fresh.card is None and fresh.due is None
    assert store.new_items() and not store.reviews()
    store.close()
