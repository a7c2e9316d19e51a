"""Editing a card's text: the item keeps its id and history, the learner's wording survives a
real re-ingest of its note and the staleness pass (a changed passage flags it stale with the
learner's text; the same card made again from the note is not added beside it), through the
store, the CLI and the Review page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_quiz_store import NOW, make_item

from conftest import write_notes
from sharpnotes.app.cli import cli
from sharpnotes.app.quiz import schedule
from sharpnotes.app.quiz.edit import EditError, edit_item
from sharpnotes.app.quiz.session import make_quiz
from sharpnotes.app.quiz.staleness import sync_items
from sharpnotes.app.quiz.store import ReviewStore, open_store
from sharpnotes.app.retrieval import Filters
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest


def test_an_edit_keeps_the_id_history_and_the_original_text(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    with ReviewStore(path) as store:
        item = make_item()
        store.add_items([item])
        schedule.record(store, item.id, 3, now=NOW)
        with pytest.raises(EditError, match="blank ____"):
            edit_item(store, item.id, "Which algorithm matches predictions?", "Hungarian")
        with pytest.raises(EditError, match="question and an answer"):
            edit_item(store, item.id, answer="  ")
        assert store.get(item.id).edited_at is None  # type: ignore[union-attr]
        edited = edit_item(store, item.id, "DETR matches with the ____ algorithm.", "Hungarian")
        edit_item(store, item.id, answer="the Hungarian")
    with ReviewStore(path) as store:  # a new connection reads the edit back
        stored = store.get(item.id)
        assert stored is not None and stored.edited_at
        assert (
            stored.item.question == edited.item.question == "DETR matches with the ____ algorithm."
        )
        assert stored.item.answer == "the Hungarian" and stored.item.key_points == ["the Hungarian"]
        assert stored.original == {"question": item.question, "answer": "Hungarian"}
        assert stored.item.id == item.id and stored.item.to_dict()["id"] == item.id
        assert [r.rating for r in store.reviews(item.id)] == [3] and stored.reps == 1
        # the same item made again (same passage, same text as made) leaves the edit alone
        assert store.add_items([make_item()]) == []
        assert store.get(item.id).item.answer == "the Hungarian"  # type: ignore[union-attr]


def test_cli_edit_with_options_and_the_editor(settings: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with open_store(settings) as store:
        (item_id,) = store.add_items([make_item()])
    runner = CliRunner()
    result = runner.invoke(
        cli, ["quiz", "edit", item_id[:6], "--answer", "Hungarian matching", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["id"] == item_id and data["answer"] == "Hungarian matching" and data["edited"]
    bad = runner.invoke(cli, ["quiz", "edit", item_id, "--question", "No blank here"])
    assert bad.exit_code == 1 and "needs a blank ____; nothing was changed" in bad.output
    # without options: $EDITOR gets the question, a --- line and the answer
    monkeypatch.setattr(
        "click.edit", lambda text: text.replace("Hungarian matching", "the Hungarian method")
    )
    result = runner.invoke(cli, ["quiz", "edit", item_id])
    assert result.exit_code == 0 and "A: the Hungarian method" in result.output
    queue = json.loads(runner.invoke(cli, ["review", "--json"]).output)
    assert queue["items"][0]["id"] == item_id
    assert queue["items"][0]["answer"] == "the Hungarian method"


CARD = (
    "Q: Why can DETR skip non-maximum suppression? A: Bipartite matching gives each object "
    "exactly one prediction, so duplicate boxes are penalised during training."
)
AS_SHOWN = "Why can DETR skip non-maximum suppression? (Set prediction)"
CARD_NOTE = f"""# Set prediction

{CARD}

The decoder turns a fixed set of learned object queries into boxes in one pass.
"""


@pytest.mark.slow
def test_an_edited_card_survives_reingest_and_staleness(settings: Settings, tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", {"detection/set.md": CARD_NOTE})
    assert ingest([notes], settings).ok
    note = Filters(folder="detection/set.md")
    with open_store(settings) as store:
        made = make_quiz(settings, store, filters=note, n=3, kind="recall")
        card = next(s for s in made.stored if s.item.generator == "notes")
        # shown with its note's topic, which its words do not name
        assert card.item.question == AS_SHOWN
        edited = edit_item(store, card.id, "Why does DETR need no NMS?", "One-to-one matching.")

    # the note re-ingested unchanged but for another note: the card keeps the learner's text,
    # and making the same card again from the note brings back the edited one, not a copy
    write_notes(notes, {"detection/other.md": "# Other\n\nAnchors are priors on box shapes.\n"})
    assert ingest([notes], settings).added == ["detection/other.md"]
    assert not sync_items(settings).changed
    with open_store(settings) as store:
        again = make_quiz(settings, store, filters=note, n=3, kind="recall", mode="new")
        mine = [s for s in again.stored if s.item.generator == "notes"]
        assert [(s.id, s.item.question) for s in mine] == [(card.id, edited.item.question)]
        before = len(store.items())

    # another line of the passage changes: the card's own lines did not, so it follows the
    # edited passage as it is
    path = notes / "detection" / "set.md"
    path.write_text(CARD_NOTE.replace("in one pass", "in one parallel pass"), encoding="utf-8")
    assert ingest([notes], settings).updated == ["detection/set.md"]
    assert sync_items(settings).followed == [card.id]
    # the card itself changes in the note: it is stale with the learner's text; quizzing the
    # note again does not add the note's wording of the same card beside it
    path.write_text(
        CARD_NOTE.replace("in one pass", "in one parallel pass").replace(
            "duplicate boxes", "duplicate predictions"
        ),
        encoding="utf-8",
    )
    assert ingest([notes], settings).updated == ["detection/set.md"]
    assert sync_items(settings).stale == [card.id]
    with open_store(settings) as store:
        stale = store.get(card.id)
        assert stale is not None and stale.status == "stale"
        assert (stale.item.question, stale.item.answer) == (
            "Why does DETR need no NMS?",
            "One-to-one matching.",
        )
        make_quiz(settings, store, filters=note, n=3, kind="recall")
        questions = [s.item.question for s in store.items()]
        assert AS_SHOWN not in questions
        assert len(store.items()) >= before
    # a bulk regenerate passes the edited card by
    result = CliRunner().invoke(cli, ["review", "--regenerate", "--json"])
    assert result.exit_code == 0, result.output
    assert "kept 1 stale cards you edited" in result.output
    with open_store(settings) as store:
        kept = store.get(card.id)
        assert kept is not None and kept.status == "stale" and kept.replaced_by is None
        assert kept.item.answer == "One-to-one matching."
    # kept as it is: tied to the edited passage, active again, the learner's text unchanged
    assert f"kept {card.id}" in CliRunner().invoke(cli, ["quiz", "keep", card.id[:8]]).output
    with open_store(settings) as store:
        moved = store.get(card.id)
        assert moved is not None and moved.status == "active" and moved.edited_at
        assert moved.item.citation.chunk_id != card.item.citation.chunk_id
        assert "one parallel pass" in moved.item.passage
        assert (moved.item.question, moved.item.id) == ("Why does DETR need no NMS?", card.id)
    assert not sync_items(settings).changed
    # kept again: it is not stale now, and the message says so
    again = CliRunner().invoke(cli, ["quiz", "keep", card.id[:8]]).output
    assert f"{card.id}: not stale (its passage is unchanged)" in again


@pytest.mark.slow
def test_review_page_edits_a_card(review_env: Settings) -> None:
    from test_quiz_ui import button, page

    with open_store(review_env) as store:
        (item_id,) = store.add_items([make_item()])
    at = page("review")
    button(at, "Start review").click().run()
    at.text_input(key=f"review_session-answer-{item_id}").set_value("Hungarian")
    button(at, "Check").click().run()
    button(at, "Edit card").click().run()
    at.text_area(key=f"review_session-eq-{item_id}").set_value("No blank")
    button(at, "Save edit").click().run()
    assert any("needs a blank" in e.value for e in at.error)
    at.text_area(key=f"review_session-eq-{item_id}").set_value("DETR uses ____ matching.")
    button(at, "Save edit").click().run()
    assert not at.exception, at.exception
    assert any(
        m.value == "DETR uses \\_\\_\\_\\_ matching." or "DETR uses" in m.value for m in at.markdown
    )
    assert any("edited by you" in c.value for c in at.caption)
    # the card cites a passage that is not in the index (its section is): keep it as it is
    assert any("The source changed" in w.value for w in at.warning)
    button(at, "Keep this card").click().run()
    assert not at.exception, at.exception
    assert not any("The source changed" in w.value for w in at.warning)
    button(at, "Good").click().run()
    with open_store(review_env) as store:
        stored = store.get(item_id)
        assert stored is not None and stored.item.question == "DETR uses ____ matching."
        assert [r.rating for r in store.reviews(item_id)] == [3]
        assert stored.status == "active" and stored.item.citation.chunk_id != "c1"


def test_edit_during_a_cli_review_then_rate(settings: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with open_store(settings) as store:
        (item_id,) = store.add_items([make_item()])
    monkeypatch.setattr("click.edit", lambda text: text.replace("Hungarian", "Hungarian method"))
    # type an answer, e (edit in $EDITOR), then rate Good
    result = CliRunner().invoke(cli, ["review"], input="Hungarian\ne\n3\n")
    assert result.exit_code == 0, result.output
    assert "e edit" in result.output and "answer: Hungarian method" in result.output
    with open_store(settings) as store:
        stored = store.get(item_id)
        assert stored is not None and stored.item.answer == "Hungarian method"
        assert [r.rating for r in store.reviews(item_id)] == [3]


@pytest.mark.slow
def test_review_starts_with_the_cards_the_notes_hold(settings: Settings, tmp_path: Path) -> None:
    """Right after an ingest, before any quiz, review asks the cards the learner wrote (it said
    "Nothing to review" until a quiz had made them items); once held they are not added twice."""
    notes = write_notes(tmp_path / "notes", {"detection/set.md": CARD_NOTE})
    assert ingest([notes], settings).ok
    # today's plan, the first thing a learner opens, has them among its new items
    day = CliRunner().invoke(cli, ["today", "--json"])
    assert day.exit_code == 0, day.output
    assert "Added 1 card you wrote in your notes" in day.stderr
    assert [i["question"] for i in json.loads(day.stdout)["new"]] == [AS_SHOWN]
    text = CliRunner().invoke(cli, ["today"]).stdout
    assert "0 due reviews, 1 new item (" in text and f"  new: {AS_SHOWN}  [" in text, text
    first = CliRunner().invoke(cli, ["review", "--json"])
    assert first.exit_code == 0, first.output
    assert "Added" not in first.stderr
    assert [i["question"] for i in json.loads(first.stdout)["items"]] == [AS_SHOWN]
    again = CliRunner().invoke(cli, ["review", "--json"])
    assert "Added" not in again.stderr and len(json.loads(again.stdout)["items"]) == 1
    # an unchanged index is not read for cards again; a card written since is added
    assert (settings.paths.home / "own_cards.json").exists()
    more = CARD_NOTE + "\nQ: What does DETR predict? A: A fixed-size set of boxes and classes.\n"
    (notes / "detection" / "set.md").write_text(more, encoding="utf-8")
    assert ingest([notes], settings).ok
    third = CliRunner().invoke(cli, ["review", "--json"])
    assert "Added 1 card you wrote" in third.stderr, third.stderr
    # a card copied into two notes (a cloned repo repeats its templates) is added once
    copied = "# Loss\n\nQ: Which loss trains DETR? A: A set loss over a Hungarian matching.\n"
    write_notes(notes, {"copy/a.md": copied, "copy/b.md": copied})
    assert ingest([notes], settings).ok
    fourth = CliRunner().invoke(cli, ["review", "--json"])
    assert "Added 1 card you wrote" in fourth.stderr, fourth.stderr
    asked = [i["question"] for i in json.loads(fourth.stdout)["items"]]
    assert len(asked) == len(set(asked)) == 3, asked


@pytest.mark.slow
def test_editing_one_card_of_a_list_keeps_the_others_and_regenerates_it_as_itself(
    settings: Settings, tmp_path: Path
) -> None:
    """A learner changed the answer of one card in a Q&A list and ran the regenerate that ingest
    suggests: every card of the passage had gone stale, and each was regenerated as the
    passage's first question, so four cards and their ratings were merged into one. Now the
    cards whose lines did not change follow the edited passage as they are, and the edited
    card is regenerated as the same question with its new answer."""
    cards = {
        "What does NMS do?": "It keeps the highest-scoring box and drops the boxes overlapping it.",
        "Why does focal loss help one-stage detectors?": "It down-weights the many easy "
        "background anchors, so the rare hard examples dominate the loss.",
        "What is the difference between L1 and L2 regularization?": "L1 pushes weights to "
        "exactly zero, which makes them sparse; L2 shrinks all of them smoothly.",
    }
    note = "# Interview Q&A\n\n" + "\n\n".join(f"Q: {q}\nA: {a}" for q, a in cards.items()) + "\n"
    notes = write_notes(tmp_path / "notes", {"interview/qa.md": note})
    assert ingest([notes], settings).ok
    assert CliRunner().invoke(cli, ["review", "--json"]).exit_code == 0  # adds the cards
    with open_store(settings) as store:
        held = {s.item.question.split(" (")[0]: s for s in store.items()}
        assert set(held) == set(cards)
        for stored in held.values():
            schedule.record(store, stored.id, 3, now=NOW)

    edited = note.replace("drops the boxes overlapping it", "drops every box whose IoU with it "
                          "is above a threshold")  # fmt: skip
    (notes / "interview" / "qa.md").write_text(edited, encoding="utf-8")
    assert ingest([notes], settings).updated == ["interview/qa.md"]
    nms = held["What does NMS do?"].id
    report = sync_items(settings)
    assert report.stale == [nms]
    assert sorted(report.followed) == sorted(s.id for q, s in held.items() if s.id != nms)

    result = CliRunner().invoke(cli, ["review", "--regenerate", "--json"])
    assert result.exit_code == 0, result.output
    with open_store(settings) as store:
        for question, stored in held.items():
            now = store.get(stored.id)
            assert now is not None and len(store.reviews(stored.id)) == 1  # history kept
            if stored.id != nms:
                assert now.status == "active" and now.replaced_by is None, question
        old = store.get(nms)
        assert old is not None and old.status == "retired" and old.replaced_by
        fresh = store.get(old.replaced_by)
        assert fresh is not None and fresh.item.question.startswith("What does NMS do?")
        assert "IoU with it is above a threshold" in fresh.item.answer
        active = [s.item.question for s in store.items(("active",))]
        assert len(active) == len(set(active)) == 3  # no card merged into another
