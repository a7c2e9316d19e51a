"""``sharpnotes quiz``, ``review``, ``coverage`` and ``export anki`` through click's CliRunner on
a real index of the sample notes: the --json contract, the interactive loop (grade, passage with
the evidence marked, note path, rating override, review recorded), the review queue order,
coverage with the one-shot --weakest/--new quizzes, the Anki export and the ingest hook."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import write_notes
from sharpnotes.app.cli import cli
from sharpnotes.app.quiz import schedule
from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.app.quiz.store import open_store
from sharpnotes.ingest.settings import Settings

pytestmark = pytest.mark.slow

CONTRACT = {"id", "type", "question", "answer", "evidence", "passage", "citation"}
CITATION = {"chunk_id", "source", "heading", "page"}


def run(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def quiz_json(*args: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["quiz", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_short_quiz_says_why(review_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """These notes are prose: past the share of blanks cut from sentences the quiz is shorter,
    and stderr says so and what to ask for instead (stdout stays the JSON list)."""
    monkeypatch.setenv("SHARPNOTES_SENTENCE_SHARE", "0.2")
    result = CliRunner().invoke(cli, ["quiz", "--json", "--n", "10"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert 1 <= len(items) < 10
    assert f"{len(items)} of 10 questions" in result.stderr and "--type cloze" in result.stderr
    monkeypatch.setenv("SHARPNOTES_SENTENCE_SHARE", "1.5")
    result = CliRunner().invoke(cli, ["quiz", "--json"])
    assert result.exit_code != 0 and "sentence_share" in result.output.lower()


def test_quiz_json_contract_and_items_saved(review_env: Settings) -> None:
    items = quiz_json("--n", "2")
    assert len(items) == 2
    for item in items:
        keys = CONTRACT | ({"options"} if item["type"] == "mcq" else set())
        assert set(item) == keys
        assert set(item["citation"]) == CITATION
        assert item["type"] in ("mcq", "cloze", "recall")
        assert item["evidence"] in item["passage"]
        if item["type"] == "mcq":
            assert len(set(item["options"])) == 4 and item["answer"] in item["options"]
    with open_store(review_env) as store:
        saved = {s.id: s.item.to_dict() for s in store.items()}
    assert saved == {i["id"]: i for i in items}
    # without a topic a second quiz leaves out the passages already quizzed
    again = quiz_json("--n", "2")
    assert again and not {i["citation"]["chunk_id"] for i in again} & {
        i["citation"]["chunk_id"] for i in items
    }


def test_quiz_on_a_topic_and_a_folder(review_env: Settings) -> None:
    items = quiz_json("--topic", "Hungarian matching of predictions", "--type", "cloze")
    assert items and all(i["type"] == "cloze" for i in items)
    assert items[0]["citation"]["source"] == "detection/detr.md"
    folder = quiz_json("--folder", "detection", "--n", "3")
    assert folder and all(i["citation"]["source"].startswith("detection/") for i in folder)


def test_interactive_quiz_grades_shows_the_passage_and_records_the_rating(
    review_env: Settings, sample_index: tuple[Path, Path]
) -> None:
    _, notes = sample_index
    # first answer wrong with the suggested rating; second wrong but overridden to Easy
    out = run("quiz", "--n", "2", "--type", "cloze", input="zzz\n\nzzz\n4\n")
    assert out.count("✗ not quite") == 2
    assert "failed verification" not in out  # a full quiz does not list what it passed over
    asked, summary = out.split("Missed (1):")
    assert asked.count("passage:") == 2 and "»" in asked and "«" in asked
    assert summary.count("passage:") == 1  # the missed one, with its passage
    assert f"note: {notes.resolve()}/" in out or f"note: {notes}/" in out
    assert "saved: Again" in out and "saved: Easy" in out
    # the second was rated Easy though wrong: the summary says both
    assert "2 reviewed. 1 recalled (50%)" in out and "Answers checked: 0 of 2 right." in out
    with open_store(review_env) as store:
        reviews = store.reviews()
        assert [r.rating for r in reviews] == [1, 4]
        assert all(r.response == "zzz" and r.correct is False for r in reviews)
        assert all(s.reps == 1 for s in store.items())


def test_enter_alone_shows_the_answer_without_grading_it(review_env: Settings) -> None:
    """Asked for an answer, Enter alone shows it ungraded and offers Again: a newcomer's blanks
    were rated Good by Enter, counted as recalled and sent a week out."""
    out = run("quiz", "--n", "1", "--type", "cloze", input="\n\n")
    assert "answer:" in out and "not quite" not in out and "No answer" not in out
    assert "nothing typed: Again is offered" in out
    assert "1 reviewed. 0 recalled" in out and "Answers checked" not in out  # nothing typed
    with open_store(review_env) as store:
        (review,) = store.reviews()
        assert review.correct is None and review.response == "" and review.rating == 1


def test_an_answer_typed_at_a_flipped_card_is_graded(review_env: Settings) -> None:
    """A newcomer typed answers at "Enter to show the answer" and they were dropped unread."""
    card = QuizItem(
        "recall", "Why does DETR skip NMS?", "Matching is one-to-one.",
        "Matching is one-to-one.", "Intro. Matching is one-to-one. More.",
        Citation("c1", "detection/detr.md", "DETR"), key_points=["Matching is one-to-one."],
        generator="notes",
    )  # fmt: skip
    with open_store(review_env) as store:
        store.add_items([card])
    out = run("review", input="Matching is one-to-one.\n\n")
    assert "correct" in out and "Answers checked: 1 of 1 right" in out, out
    with open_store(review_env) as store:
        (review,) = store.reviews()
        assert review.correct is True and review.response == "Matching is one-to-one."
    # flipped with Enter alone, a card is rated as the learner recalled it (Good by default);
    # asked to type answers, Enter alone offers Again
    assert "saved: Good" in run("review", "--ids", review.item_id, input="\n\n")
    typed = run("review", "--ids", review.item_id, "--type-answers", input="\n\n")
    assert "nothing typed: Again is offered" in typed and "saved: Again" in typed


def test_review_puts_due_items_first_then_new_with_counts(review_env: Settings) -> None:
    items = quiz_json("--n", "3")
    assert len(items) == 3
    last = items[-1]["id"]
    with open_store(review_env) as store:  # reviewed an hour ago with Again: due now
        schedule.record(store, last, 1, now=datetime.now(UTC) - timedelta(hours=1))
    queue = json.loads(run("review", "--json"))
    assert queue["counts"]["due"] == 1 and queue["counts"]["new"] == 2
    assert [i["id"] for i in queue["items"]][0] == last
    assert [i["new"] for i in queue["items"]] == [False, True, True]
    # the day's new-card limit, for this session: the reviewed item counts as one new today
    allow = queue["today"]["new_done"] + 1
    out = run("review", "--new", str(allow), input=":q\n")
    assert "1 due, 1 new in this session" in out and "0 reviewed" in out


def test_coverage_weakest_and_new_one_shot_quizzes(review_env: Settings) -> None:
    items = quiz_json("--n", "3", "--type", "cloze")
    assert len(items) >= 2
    weak_note = items[0]["citation"]["source"]
    with open_store(review_env) as store:  # every question of one note forgotten, the rest known
        for item in items:
            schedule.record(store, item["id"], 1 if item["citation"]["source"] == weak_note else 4)
    cov = json.loads(run("coverage", "--json"))
    assert cov["weakest"]["name"] == weak_note and cov["weakest"]["recall"] == 0.0
    assert cov["total"]["quizzed"] == len({i["citation"]["chunk_id"] for i in items})
    assert "weakest: " + weak_note in run("coverage")
    weakest = quiz_json("--weakest")
    assert weakest and {i["citation"]["source"] for i in weakest} == {weak_note}
    reviewed = {i["citation"]["chunk_id"] for i in items}
    fresh = quiz_json("--new", "--n", "5")
    assert fresh and not {i["citation"]["chunk_id"] for i in fresh} & reviewed


def test_export_anki_from_the_cli(review_env: Settings, tmp_path: Path) -> None:
    items = quiz_json("--n", "5")
    out = tmp_path / "deck.apkg"
    assert "cards to" in run("export", "anki", str(out), "--folder", "detection")
    with zipfile.ZipFile(out) as z:
        z.extract("collection.anki2", tmp_path)
    db = sqlite3.connect(tmp_path / "collection.anki2")
    sources = [r[0].split("\x1f")[3] for r in db.execute("SELECT flds FROM notes")]
    db.close()
    expected = [i for i in items if i["citation"]["source"].startswith("detection/")]
    assert len(sources) == len(expected) and all(s.startswith("detection/") for s in sources)
    result = CliRunner().invoke(cli, ["export", "anki", str(out), "--ids", "nope"])
    assert result.exit_code == 1 and "no such quiz items: nope" in result.output


def test_ingest_command_flags_items_of_an_edited_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_index: tuple[Path, Path]
) -> None:
    notes = write_notes(tmp_path / "notes")  # its own notes and home: this test edits them
    run("ingest", str(notes))
    items = quiz_json("--folder", "detection", "--n", "1")
    assert len(items) == 1
    note = notes / items[0]["citation"]["source"]
    evidence = items[0]["evidence"]
    text = note.read_text(encoding="utf-8")
    assert evidence in text
    # the item's own line changes (an edit elsewhere in the passage leaves it as it is)
    note.write_text(text.replace(evidence, evidence.replace(" ", " (edited) ", 1)), "utf-8")
    result = CliRunner().invoke(cli, ["ingest", str(notes)])
    assert result.exit_code == 0, result.output
    assert "quiz items: 1 stale" in result.output
    assert "sharpnotes review --regenerate" in result.output  # what to do about it
    queue = json.loads(run("review", "--json"))
    assert queue["items"][0]["status"] == "stale"


def test_review_flips_recall_cards_shows_intervals_undoes_and_sums_up(
    review_env: Settings,
) -> None:
    cards = [
        QuizItem(
            "recall",
            f"Why does DETR skip NMS (case {n})?",
            f"Matching is one-to-one ({n}).",
            f"Matching is one-to-one ({n}).",
            f"Intro. Matching is one-to-one ({n}). More.",
            Citation(f"c{n}", "detection/detr.md", "DETR"),
            key_points=[f"one-to-one {n}"],
            generator="notes",
        )  # fmt: skip
        for n in (1, 2)
    ]
    with open_store(review_env) as store:
        store.add_items(cards)
    items = [c.to_dict() for c in cards]
    # reveal, Again; reveal the second, take the first rating back; the first again: Good;
    # the second: Again
    out = run("review", input="\n1\n\nu\n\n3\n\n1\n")
    assert out.count("answer:") >= 4 and "Your answer" not in out
    assert "1 Again (" in out and "4 Easy (" in out and "days)" in out  # intervals on the choices
    assert "undone: the rating of [1] is taken back" in out
    assert "2 reviewed. 1 recalled (50%)" in out
    assert "Missed (1):" in out and f"sharpnotes review --ids {items[1]['id']}" in out
    with open_store(review_env) as store:
        assert [(r.item_id, r.rating) for r in store.reviews()] == [
            (items[0]["id"], 3),
            (items[1]["id"], 1),
        ]
    # "quiz me again on these": only the missed item
    again = run("review", "--ids", items[1]["id"], input="\n3\n")
    assert again.count("[1/1]") == 1 and "1 reviewed." in again
    # its first characters do, as quiz suspend takes them; too few say what to give
    again = run("review", "--ids", items[1]["id"][:6], input="\n3\n")
    assert again.count("[1/1]") == 1 and "1 reviewed." in again
    short = CliRunner().invoke(cli, ["review", "--ids", items[1]["id"][:2]])
    assert short.exit_code == 1 and "give at least 4 characters of its id" in short.output
    # asked in the order given, whatever is due or new
    given = [items[1]["id"], items[0]["id"]]
    asked = json.loads(run("review", "--ids", ",".join(given), "--json"))["items"]
    assert [i["id"] for i in asked] == given
    asked = json.loads(run("review", "--ids", ",".join(given[::-1]), "--json"))["items"]
    assert [i["id"] for i in asked] == given[::-1]


@pytest.mark.slow
def test_a_quiz_on_a_syllabus_id_asks_from_the_notes_that_name_the_topic(
    settings: Settings, tmp_path: Path
) -> None:
    """`topics` lists topics by id ("multi-object-tracking"), and a quiz on that id said no
    passage writes it: a note writes a topic's names ("多物件追蹤 (MOT)"), never its id. A
    syllabus topic's quiz asks from the passages linked to it, as `topics show` lists them."""
    from sharpnotes.ingest.sync import ingest

    note = (
        "# 多物件追蹤 (MOT)\n\n"
        "Q: SORT 怎麼關聯偵測框？\n"
        "A: 用 Kalman filter 預測位置，再用 Hungarian algorithm 以 IoU 配對。\n\n"
        "Q: DeepSORT 加了什麼？\nA: 加了 appearance embedding，被遮擋後比較能接回原本的 ID。\n"
    )
    # a card of another note is not the topic's
    other = "# Detection\n\nQ: Why run NMS on the detector's boxes?\nA: One box per object.\n"
    notes = write_notes(tmp_path / "notes", {"tracking/mot.md": note, "det/nms.md": other})
    assert ingest([notes], settings).ok
    for asked in ("multi-object-tracking", "Multi-object tracking"):  # its id, or its title
        result = CliRunner().invoke(cli, ["quiz", "--topic", asked, "--n", "3", "--json"])
        assert result.exit_code == 0, result.output
        questions = [i["question"] for i in json.loads(result.stdout)]
        assert questions and all(q.startswith(("SORT", "DeepSORT")) for q in questions), questions
    # a topic of the syllabus no note covers is a gap, not a quiz on whatever names it
    gap = CliRunner().invoke(cli, ["quiz", "--topic", "optical-flow", "--json"])
    assert gap.exit_code == 1 and "no note covers" in gap.output
