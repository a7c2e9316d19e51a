"""The Quiz, Review and Coverage pages through Streamlit's AppTest on a real index of the sample
notes: make a quiz, answer, see the passage with the evidence highlighted and open the note,
rate (the review is recorded); due items first on Review, stale items flagged, note text escaped;
coverage tables and the one-click quizzes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO
from sharpnotes.app.gaps import record_gap
from sharpnotes.app.quiz import schedule
from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.app.quiz.staleness import STALE_NOTE
from sharpnotes.app.quiz.store import open_store
from sharpnotes.app.ui.render import literal, markdown
from sharpnotes.ingest.index import open_catalog
from sharpnotes.ingest.settings import Settings

pytestmark = pytest.mark.slow

MAIN = str(REPO / "app" / "ui" / "main.py")
TIMEOUT = 60


def page(name: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()
    at.switch_page(f"views/{name}.py").run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label.startswith(label))


def answer(at: AppTest, text: str) -> None:
    """Type into the answer widget of the card on screen and press Check."""
    boxes = [w for w in (*at.text_input, *at.text_area) if "-answer-" in str(w.key)]
    if boxes:
        boxes[0].set_value(text)
    else:
        radio = next(r for r in at.radio if "-answer-" in str(r.key))
        radio.set_value(radio.options[0])
    button(at, "Check").click().run()
    assert not at.exception, at.exception


def test_quiz_page_asks_grades_highlights_opens_the_note_and_records(review_env: Settings) -> None:
    at = page("quiz")
    at.selectbox(key="quiz_type").set_value("cloze")
    at.number_input(key="quiz_n").set_value(2)
    button(at, "Make a quiz").click().run()
    assert not at.exception, at.exception
    with open_store(review_env) as store:
        made = store.items()
    assert len(made) == 2 and all(s.item.type == "cloze" for s in made)
    assert any(m.value == markdown(made[0].item.question) for m in at.markdown)

    answer(at, "certainly not the answer")
    assert any("Not quite" in e.value for e in at.error)
    texts = [m.value for m in at.markdown]
    first = made[0].item
    assert any(literal(first.citation.source) in t for t in texts), "the card names the note"
    assert any(":yellow-background[" in t for t in texts), "the evidence is highlighted"
    button(at, "Open note").click().run()
    assert not at.exception, at.exception
    assert at.markdown, "the note opens in a dialog"

    button(at, "Easy").click().run()  # override the suggested Again
    assert not at.exception, at.exception
    with open_store(review_env) as store:
        assert [(r.item_id, r.rating) for r in store.reviews()] == [(made[0].id, 4)]
    assert any(c.value.startswith("2/2") for c in at.caption), "the second question is shown"
    answer(at, "")  # Check with nothing typed: the answer is shown, as a flipped card
    assert not any("Not quite" in e.value for e in at.error)
    assert any(m.value == markdown(s.item.answer) for s in made for m in at.markdown)
    assert any("Nothing typed: Again is suggested." in c.value for c in at.caption)
    button(at, "Again").click().run()
    assert not at.exception, at.exception
    # rated Easy once though wrong: the summary counts the ratings and the typed answers apart
    assert any("1 recalled (50%)" in s.value for s in at.success)
    assert any("Answers checked: 0 of 1 right." in s.value for s in at.success)


def test_a_short_quiz_says_why_on_the_page(
    review_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """These notes are prose: with the default share of sentence blanks, a mixed quiz of 10 is
    shorter, and the page says why and what to choose instead."""
    monkeypatch.setenv("SHARPNOTES_SENTENCE_SHARE", "0.2")
    at = page("quiz")
    at.number_input(key="quiz_n").set_value(10)
    button(at, "Make a quiz").click().run()
    assert not at.exception, at.exception
    note = next(c.value for c in at.caption if "of 10 questions" in c.value)
    assert "blanks cut from single sentences" in note and "choose the type cloze or mcq" in note


def _hostile_item(chunk_id: str) -> QuizItem:
    sentence = "The <script>alert('x')</script> tag in a note is shown as text, like softmax."
    return QuizItem(
        type="cloze",
        question=sentence.replace("softmax", "____"),
        answer="softmax",
        evidence=sentence,
        passage=sentence + " <img src=x onerror=alert(1)>",
        citation=Citation(chunk_id, "detection/detr.md", "DETR"),
    )


def test_review_page_due_first_stale_flagged_and_note_text_escaped(review_env: Settings) -> None:
    catalog = open_catalog(review_env)
    chunk_id = next(iter(catalog.chunk_ids_of("detection/detr.md")))
    catalog.close()
    hostile, other = _hostile_item(chunk_id), _hostile_item("gone-chunk")
    other.question = "A second, ____ question (about softmax)."
    with open_store(review_env) as store:
        store.add_items([other, hostile])
        schedule.record(store, hostile.id, 1, now=datetime.now(UTC) - timedelta(hours=1))
    at = page("review")
    metrics = {m.label: m.value for m in at.metric}
    # "other" points at a chunk that does not exist but its note and heading do: stale
    assert metrics["Due now"] == "1" and metrics["New, never seen"] == "1"
    assert metrics["Stale (note changed)"] == "1"
    button(at, "Start review").click().run()
    assert not at.exception, at.exception
    question = next(m for m in at.markdown if "script" in m.value and "____" in m.value)
    assert not question.allow_html, "note HTML is shown as text"
    answer(at, "softmax")
    assert any("Correct" in s.value for s in at.success)
    passage = next(m for m in at.markdown if "<img" in m.value)  # shown as text by st.markdown
    assert not passage.allow_html
    button(at, "Good").click().run()
    # the second card is the stale one, flagged, with a regenerate button
    assert any(STALE_NOTE in w.value for w in at.warning)
    assert any(b.label.startswith("Regenerate") for b in at.button)
    with open_store(review_env) as store:
        assert [r.rating for r in store.reviews(hostile.id)] == [1, 3]
    # regenerate on request: a fresh question from the note as it is now replaces it
    button(at, "Regenerate").click().run()
    assert not at.exception, at.exception
    with open_store(review_env) as store:
        old = store.get(other.id)
        assert old is not None and old.status == "retired" and old.replaced_by
        fresh = store.get(old.replaced_by)
    assert fresh is not None and fresh.item.citation.source == "detection/detr.md"
    assert any(m.value == markdown(fresh.item.question) for m in at.markdown), "asked anew"
    assert not any(STALE_NOTE in w.value for w in at.warning)


def test_coverage_page_tables_and_one_click_weakest_quiz(review_env: Settings) -> None:
    at = page("quiz")
    at.selectbox(key="quiz_folder").set_value("detection")
    button(at, "Make a quiz").click().run()
    with open_store(review_env) as store:
        made = store.items()
        assert made
        schedule.record(store, made[0].id, 1)
    weak = made[0].item.citation.source
    record_gap(review_env, "What is the recipe for sourdough?")
    at = page("coverage")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Quizzed"] == "1" and metrics["Recall"] == "0%"
    by_note = at.dataframe[1].value
    assert weak in set(by_note["name"])
    assert any("What is the recipe for sourdough?" in t.value for t in at.text)
    button(at, "Quiz me on my weakest topic").click().run()
    assert not at.exception, at.exception
    assert any(f"on {weak}" in c.value for c in at.caption), [c.value for c in at.caption]
    cards = [c.value.replace("\\", "") for c in at.caption if c.value.startswith("1/")]
    assert cards and f"· {weak} ›" in cards[0], "the quiz asks about the weakest note"


def _recall_item(n: int, chunk_id: str) -> QuizItem:
    answer = f"Because of reason {n}: the **Hungarian** matching is one-to-one."
    return QuizItem(
        type="recall",
        question=f"Why does DETR skip NMS (case {n}) with $O(n^3)$ matching?",
        answer=answer,
        evidence=answer,
        passage=f"Intro. {answer} More.",
        citation=Citation(chunk_id, "detection/detr.md", "DETR"),
        key_points=[f"reason {n}"],
        generator="notes",
    )


def test_review_flips_cards_shows_intervals_undoes_and_lists_the_missed(
    review_env: Settings,
) -> None:
    catalog = open_catalog(review_env)
    chunk_id = next(iter(catalog.chunk_ids_of("detection/detr.md")))
    catalog.close()
    first, second = _recall_item(1, chunk_id), _recall_item(2, chunk_id)
    with open_store(review_env) as store:
        store.add_items([first, second])
    at = page("review")
    button(at, "Start review").click().run()
    assert not at.exception, at.exception
    assert any(m.value == markdown(first.question) and "$O(n^3)$" in m.value for m in at.markdown)
    assert not [w for w in (*at.text_input, *at.text_area) if "-answer-" in str(w.key)]
    button(at, "Show answer").click().run()
    assert any(m.value == markdown(first.answer) for m in at.markdown), "answer rendered"
    labels = [b.label for b in at.button if "-rate-" in str(b.key)]
    assert [label.split(" (")[0] for label in labels] == ["Again", "Hard", "Good", "Easy"]
    assert labels[3].endswith("days)"), labels  # each rating shows its next interval
    button(at, "Again").click().run()
    with open_store(review_env) as store:
        assert [r.rating for r in store.reviews()] == [1]  # written before the next card
    assert any(m.value == markdown(second.question) for m in at.markdown)
    button(at, "Undo last rating").click().run()
    assert not at.exception, at.exception
    with open_store(review_env) as store:
        assert store.reviews() == [] and store.get(first.id).is_new  # type: ignore[union-attr]
    assert any(m.value == markdown(first.question) for m in at.markdown), "asked again"
    button(at, "Show answer").click().run()
    button(at, "Good").click().run()
    button(at, "Show answer").click().run()
    button(at, "Again").click().run()
    assert not at.exception, at.exception
    assert any("2 reviewed, 1 recalled (50%) in " in s.value for s in at.success)  # and time
    assert not any("Answers checked" in s.value for s in at.success)  # flipped: none typed
    assert any(h.value.startswith("Missed (1)") for h in at.subheader)
    button(at, "Quiz me again on these").click().run()
    assert any(c.value.startswith("1/1") for c in at.caption)
