"""Suspend and bury, as in Anki: a suspended card is never in the review queue until it is
unsuspended; a buried one is back the next local day; of sibling cards (the cloze and the MCQ of
one blank) one a day is asked. Through the real SQLite store (a schema 1 file migrated on open),
the CLI (CliRunner) and the Review page (AppTest)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_quiz_store import make_item

from sharpnotes.app.cli import cli
from sharpnotes.app.quiz import schedule
from sharpnotes.app.quiz.session import DailyLimits, next_day, review_queue
from sharpnotes.app.quiz.store import _V1, SCHEMA_VERSION, ReviewStore, open_store
from sharpnotes.app.syllabus import Syllabus
from sharpnotes.app.today import plan_today
from sharpnotes.ingest.settings import Settings


def _three(store: ReviewStore) -> list[str]:
    items = [make_item(a) for a in ("Hungarian", "NMS", "algorithm")]
    return store.add_items(items)


def test_a_schema_1_store_is_migrated_and_keeps_its_items(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    item = make_item()
    conn = sqlite3.connect(path)
    for statement in _V1.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(
        "INSERT INTO items (id, type, chunk_id, source, heading, content_hash, record, "
        "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            item.id,
            "cloze",
            "c1",
            "detection/detr.md",
            "DETR",
            "",
            json.dumps(item.to_record()),
            1,
            1,
        ),
    )
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with ReviewStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        stored = store.get(item.id)
        assert stored is not None and not stored.suspended and stored.buried_until is None
        assert [s.id for s in store.new_items()] == [item.id]


def test_suspended_and_buried_cards_leave_the_queue(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "review.sqlite")
    a, b, c = _three(store)
    # a fixed local noon: "an hour later" must not cross midnight, whenever the suite runs
    noon = datetime.combine(datetime.now().date(), datetime.min.time()).replace(hour=12)
    now = noon.timestamp()
    schedule.record(store, c, 1, now=noon.astimezone(UTC))  # c is due within minutes
    later = now + 3600
    assert store.set_suspended([a, "missing"]) == [a]
    until = next_day(now)
    assert store.bury([c], until) == [c]
    assert [s.id for s in store.new_items(now=later)] == [b]
    assert store.due_items(now=later) == []
    counts = store.counts(later)
    assert (counts["new"], counts["due"], counts["suspended"], counts["buried"]) == (1, 0, 1, 1)
    assert [s.id for s in store.suspended_items()] == [a]
    assert [s.id for s in store.buried_items(later)] == [c]
    # the next local day the buried card is due again; the suspended one stays out
    assert [s.id for s in store.due_items(now=until)] == [c]
    assert a not in [s.id for s in store.new_items(now=until + 86400 * 30)]
    store.set_suspended([a], False)
    assert [s.id for s in store.new_items(now=later)] == [a, b]
    store.close()


def test_next_day_is_the_next_local_midnight() -> None:
    for now in (datetime(2026, 3, 29, 23, 59).timestamp(), datetime(2026, 7, 1, 0, 0).timestamp()):
        until = next_day(now)
        local = datetime.fromtimestamp(until)
        assert (local.hour, local.minute) == (0, 0)
        assert local.date() == datetime.fromtimestamp(now).date() + timedelta(days=1)


def _cli(*args: str, input: str | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == code, result.output
    return result.output


def test_cli_suspend_unsuspend_bury_and_list(settings: Settings) -> None:
    with open_store(settings) as store:
        a, b, c = _three(store)
    # a prefix is enough; an unknown id changes nothing and says what to run
    out = _cli("quiz", "suspend", a[:6], "ffffffff", code=1)
    assert "no quiz item ffffffff" in out and "sharpnotes review --json" in out
    assert json.loads(_cli("quiz", "suspended", "--json")) == []
    assert "suspended 1" in _cli("quiz", "suspend", a[:6])
    assert "buried 1 until" in _cli("quiz", "bury", b)
    queue = json.loads(_cli("review", "--json"))
    assert [i["id"] for i in queue["items"]] == [c]
    assert queue["counts"]["suspended"] == 1 and queue["counts"]["buried"] == 1
    listed = json.loads(_cli("quiz", "suspended", "--json"))
    assert [i["id"] for i in listed] == [a] and listed[0]["question"]
    assert a in _cli("quiz", "suspended")
    _cli("quiz", "unsuspend", a)
    _cli("quiz", "unbury", b)
    assert [i["id"] for i in json.loads(_cli("review", "--json"))["items"]] == [a, b, c]
    # --ids leaves suspended cards out too
    _cli("quiz", "suspend", c)
    out = _cli("review", "--ids", f"{a},{c}", "--json")
    assert [i["id"] for i in json.loads(out.splitlines()[-1])["items"]] == [a]


def test_interactive_review_suspends_and_buries_without_a_rating(settings: Settings) -> None:
    with open_store(settings) as store:
        a, b, c = _three(store)
    # cloze items: type an answer, then at the rating prompt s (suspend), - (bury), then 3
    out = _cli("review", input="x\ns\nx\n-\nHungarian\n3\n")
    assert f"suspended {a}" in out and f"buried {b} until tomorrow" in out
    assert "s suspend · b bury" in out
    with open_store(settings) as store:
        assert [(r.item_id, r.rating) for r in store.reviews()] == [(c, 3)]
        assert store.get(a).suspended and store.get(b).buried()  # type: ignore[union-attr]
        assert review_queue(store, DailyLimits(10, 10)) == ([], [])


def test_siblings_of_one_blank_are_asked_one_a_day(settings: Settings) -> None:
    # the cloze and the MCQ of one blank (same passage, same answer) are siblings; another
    # blank of that passage and the same term in another passage are not
    cloze = make_item("Hungarian")
    mcq = dataclasses.replace(
        cloze, type="mcq", options=["greedy matching", "Hungarian", "Sinkhorn", "NMS"]
    )
    with open_store(settings) as store:
        first, sibling, other, elsewhere = store.add_items(
            [cloze, mcq, make_item("NMS"), make_item("Hungarian", chunk_id="c2")]
        )
        limits = DailyLimits(10, 10)
        assert [s.id for s in review_queue(store, limits)[1]] == [first, other, elsewhere]
        plan = plan_today(Syllabus((), None), {}, store, {}, limits)  # `sharpnotes today`
        assert [s.id for s in plan.new] == [first, other, elsewhere]
    queue = json.loads(_cli("review", "--json"))["items"]
    assert [i["id"] for i in queue] == [first, other, elsewhere]
    # all three answered today (Easy: due again in days): the MCQ still waits for tomorrow, a
    # sibling of a card asked today, and the command says so rather than "limits reached"
    assert "3 reviewed" in _cli("review", input="Hungarian\n4\nNMS\n4\nHungarian\n4\n")
    out = _cli("review")
    assert "1 sibling card waits until tomorrow" in out and "limits" not in out
    assert f"sharpnotes review --ids {sibling[:8]}" in out
    with open_store(settings) as store:
        held = store.get(sibling)
        assert held is not None and (held.reps, held.due, held.buried_until) == (0, None, None)
        tomorrow = next_day() + 3600
        assert review_queue(store, limits, now=tomorrow) == ([], [held])


@pytest.mark.slow
def test_review_page_suspends_buries_and_unsuspends(review_env: Settings) -> None:
    from test_quiz_ui import button, page

    with open_store(review_env) as store:
        a, b, c = _three(store)
    at = page("review")
    button(at, "Start review").click().run()
    assert any("Hungarian" not in m.value and "____" in m.value for m in at.markdown)
    at.text_input(key=f"review_session-answer-{a}").set_value("x")
    button(at, "Check").click().run()
    button(at, "Suspend card").click().run()
    assert not at.exception, at.exception
    at.text_input(key=f"review_session-answer-{b}").set_value("x")
    button(at, "Check").click().run()
    button(at, "Bury until tomorrow").click().run()
    assert not at.exception, at.exception
    assert at.text_input(key=f"review_session-answer-{c}") is not None  # the next card
    with open_store(review_env) as store:
        assert store.reviews() == []
        assert store.get(a).suspended and store.get(b).buried()  # type: ignore[union-attr]
    # a fresh visit: both are out of the counts and listed, each with a button back
    at = page("review")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["New, never seen"] == "1"
    assert any(e.label.startswith("Suspended (1) and buried (1)") for e in at.expander)
    next(b for b in at.button if b.key == f"held-{a}").click().run()
    assert not at.exception, at.exception
    with open_store(review_env) as store:
        assert not store.get(a).suspended  # type: ignore[union-attr]
        assert [s.id for s in review_queue(store, DailyLimits(10, 10))[1]] == [a, c]
