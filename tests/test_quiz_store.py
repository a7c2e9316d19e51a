"""The review database and what sits on it: FSRS scheduling through the real ``fsrs`` package,
persistence across store objects and processes, schema versions, staleness after a real
re-ingest, coverage, and the Anki export read back with zipfile + sqlite3."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import REPO, write_notes
from sharpnotes.app.gaps import record_gap
from sharpnotes.app.quiz import schedule
from sharpnotes.app.quiz.anki import export_anki
from sharpnotes.app.quiz.coverage import coverage
from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.app.quiz.staleness import STALE_NOTE, regenerate, sync_items
from sharpnotes.app.quiz.store import SCHEMA_VERSION, ReviewStore, ReviewStoreError, open_store
from sharpnotes.ingest.index import open_catalog
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def make_item(
    answer: str = "Hungarian",
    chunk_id: str = "c1",
    source: str = "detection/detr.md",
    heading: str = "DETR > Hungarian matching",
    passage: str = "Each prediction is matched by the Hungarian algorithm, so no NMS is needed.",
) -> QuizItem:
    evidence = next(s for s in passage.split(". ") if answer in s)
    return QuizItem(
        type="cloze",
        question=evidence.replace(answer, "____"),
        answer=answer,
        evidence=evidence,
        passage=passage,
        citation=Citation(chunk_id, source, heading),
    )


def test_fsrs_good_pushes_due_out_and_again_brings_it_sooner(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "review.sqlite")
    good, again = make_item("Hungarian"), make_item("NMS")
    assert store.add_items([good, again]) == [good.id, again.id]
    assert store.counts(NOW.timestamp())["new"] == 2

    g = schedule.record(store, good.id, 3, now=NOW, response="Hungarian", correct=True)
    a = schedule.record(store, again.id, 1, now=NOW, response="greedy", correct=False)
    assert g.due > NOW and a.due > NOW
    assert a.due < g.due, "Again is due sooner than Good"

    # a second Good at its due time graduates the card: the next review is days away
    second = schedule.record(store, good.id, 3, now=g.due)
    assert second.due - g.due >= timedelta(days=1)

    # the card in SQLite is the package's own JSON and round-trips exactly
    from fsrs import Card, State

    stored = store.get(good.id)
    assert stored is not None and stored.reps == 2
    card = Card.from_json(stored.card or "")
    assert card.state == State.Review and card.due == second.due
    assert Card.from_json(card.to_json()).to_dict() == card.to_dict()
    assert stored.due == pytest.approx(second.due.timestamp())
    # queues: nothing due right after, the Again card due within the hour, Good not yet
    assert store.due_items(now=NOW.timestamp()) == []
    hour = (NOW + timedelta(hours=1)).timestamp()
    assert [s.id for s in store.due_items(now=hour)] == [again.id]
    assert [r.rating for r in store.reviews(good.id)] == [3, 3]
    assert json.loads(store.reviews(again.id)[0].log)["rating"] == 1
    store.close()


def test_history_survives_a_new_store_and_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    with ReviewStore(path) as store:
        item = make_item()
        store.add_items([item])
        schedule.record(store, item.id, 3, now=NOW)
        schedule.record(store, item.id, 2, now=NOW + timedelta(minutes=20))
    with ReviewStore(path) as again:
        stored = again.get(item.id)
        assert stored is not None and stored.reps == 2
        assert [r.rating for r in again.reviews(item.id)] == [3, 2]
        assert stored.item.to_dict() == item.to_dict()
    code = (
        "import sys, json; from pathlib import Path; from app.quiz.store import ReviewStore; "
        "s = ReviewStore(Path(sys.argv[1])); "
        "print(json.dumps([[r.item_id, r.rating] for r in s.reviews()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == [[item.id, 3], [item.id, 2]]


def test_schema_version_migrates_old_files_and_refuses_newer_ones(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    sqlite3.connect(path).close()  # an empty file: version 0, migrated on open
    with ReviewStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ReviewStoreError, match="newer sharpnotes.*upgrade"):
        ReviewStore(path)


def test_the_cli_names_a_review_database_from_a_newer_version(settings: Settings) -> None:
    from click.testing import CliRunner

    from sharpnotes.app.cli import cli

    with open_store(settings) as store:
        store.db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    result = CliRunner().invoke(cli, ["review"])
    assert result.exit_code == 1
    assert "review.sqlite was written by a newer sharpnotes" in result.output
    assert "upgrade sharpnotes" in result.output


def test_a_failed_write_leaves_nothing_half_done(tmp_path: Path) -> None:
    with ReviewStore(tmp_path / "review.sqlite") as store:
        item = make_item()
        store.add_items([item])
        with pytest.raises(ReviewStoreError, match="no quiz item"):
            store.record_review("missing", rating=3, card="{}", due=0, reviewed_at=0, log="{}")
        # the card update succeeds, then the review row is refused: both are rolled back
        with pytest.raises(sqlite3.IntegrityError):
            store.record_review(item.id, rating=None, card="{}", due=0, reviewed_at=0, log="{}")  # type: ignore[arg-type]
        stored = store.get(item.id)
        assert stored is not None and stored.reps == 0 and stored.card is None
        assert store.reviews() == []


def test_anki_export_keeps_answer_evidence_and_citation_on_the_back(tmp_path: Path) -> None:
    plain = make_item()
    hostile = make_item(
        answer="softmax",
        chunk_id="c2",
        source="inbox/<script>x.md",
        heading="Attention <b>weights</b>",
        passage="Scores go through a softmax. <script>alert(1)</script> is just text here.",
    )
    hostile.page = None
    out = tmp_path / "deck" / "notes.apkg"
    assert export_anki([plain, hostile], out) == 2
    with zipfile.ZipFile(out) as z:
        assert "collection.anki2" in z.namelist()
        (tmp_path / "x").mkdir()
        z.extract("collection.anki2", tmp_path / "x")
    db = sqlite3.connect(tmp_path / "x" / "collection.anki2")
    notes = [row[0].split("\x1f") for row in db.execute("SELECT flds FROM notes ORDER BY id")]
    models = json.loads(db.execute("SELECT models FROM col").fetchone()[0])
    db.close()
    assert len(notes) == 2
    back = next(iter(models.values()))["tmpls"][0]["afmt"]
    assert "{{Answer}}" in back and "{{Evidence}}" in back and "{{Source}}" in back
    by_id = {fields[4]: fields for fields in notes}
    question, answer, evidence, source, _ = by_id[plain.id]
    assert "____" in question and answer == "Hungarian"
    assert evidence == plain.evidence
    assert source == "detection/detr.md › DETR &gt; Hungarian matching"
    h = by_id[hostile.id]
    assert "<script>" not in "".join(h) and "&lt;script&gt;x.md" in h[3]


# through a real index ------------------------------------------------------------------------
def _items_for(settings: Settings) -> dict[str, QuizItem]:
    """One cloze item per indexed passage that has a long word in it, keyed by heading path."""
    catalog = open_catalog(settings)
    try:
        rows = catalog.get_chunks(catalog.chunk_ids())
    finally:
        catalog.close()
    items = {}
    for row in rows.values():
        words = [w.strip(".,;:()") for w in row.text.split() if len(w.strip(".,;:()")) > 7]
        if not words:
            continue
        sentence = next(s for s in row.text.split("\n") if words[0] in s)
        items[row.heading] = QuizItem(
            type="cloze",
            question=sentence.replace(words[0], "____", 1),
            answer=words[0],
            evidence=sentence,
            passage=row.text,
            citation=Citation(row.chunk_id, row.source, row.heading, row.page),
            content_hash=row.content_hash,
        )
    return items


@pytest.mark.slow
def test_staleness_after_an_edit_and_a_deletion_through_a_real_reingest(
    settings: Settings, tmp_path: Path
) -> None:
    notes = write_notes(tmp_path / "notes")
    assert ingest([notes], settings).ok
    items = _items_for(settings)
    loss, matching = items["DETR > Loss"], items["DETR > Hungarian matching"]
    deformable, bias = items["Deformable DETR"], items["Bias and variance"]
    with open_store(settings) as store:
        store.add_items(items.values())
        for item in (loss, matching, bias):
            schedule.record(store, item.id, 3, now=NOW)
        before = {s.id: s for s in store.items()}

    # edit one passage of detr.md, delete a note, leave the rest alone
    detr = notes / "detection" / "detr.md"
    detr.write_text(
        detr.read_text().replace(
            "generalized IoU.",
            "generalized IoU (GIoU). The **Hungarian loss** adds a focal term for the class of "
            "each matched query.",  # the item's own line changes; a sentence to ask from
        ),
        encoding="utf-8",
    )
    (notes / "fundamentals" / "bias-variance.md").unlink()
    report = ingest([notes], settings)
    assert report.updated == ["detection/detr.md"]
    assert report.removed == ["fundamentals/bias-variance.md"]

    sync = sync_items(settings)
    assert sync.stale == [loss.id] and sync.retired == [bias.id]
    with open_store(settings) as store:
        after = {s.id: s for s in store.items()}
        assert after[loss.id].status == "stale" and after[loss.id].status_note == STALE_NOTE
        assert [r.rating for r in store.reviews(loss.id)] == [3]  # history kept
        assert after[bias.id].status == "retired"
        assert [r.rating for r in store.reviews(bias.id)] == [3]
        # untouched notes' items are exactly as they were, the edited note's other section too
        for item in (matching, deformable):
            assert after[item.id] == before[item.id]
        # retired items are not asked; stale ones are, with their note
        later = (NOW + timedelta(days=30)).timestamp()
        queued = [s.id for s in store.due_items(now=later) + store.new_items()]
        assert bias.id not in queued and loss.id in queued and matching.id in queued

        # regenerate on request: a new question from the edited passage; the old one is
        # retired with its history and points at it
        fresh = regenerate(settings, store, loss.id)
        assert fresh is not None
        assert fresh.citation.source == "detection/detr.md"
        assert fresh.citation.heading == "DETR > Loss"
        assert fresh.citation.chunk_id != loss.citation.chunk_id
        old = store.get(loss.id)
        assert old is not None and old.status == "retired" and old.replaced_by == fresh.id
        assert len(store.reviews(loss.id)) == 1
        assert store.get(fresh.id) is not None and store.get(fresh.id).status == "active"

    # a second sync changes nothing; restoring the deleted note brings its item back
    assert not sync_items(settings).changed
    write_notes(notes, {"fundamentals/bias-variance.md": _bias_note()})
    assert ingest([notes], settings).added == ["fundamentals/bias-variance.md"]
    assert sync_items(settings).restored == [bias.id]


def _bias_note() -> str:
    from conftest import SAMPLE_NOTES

    return SAMPLE_NOTES["fundamentals/bias-variance.md"]


@pytest.mark.slow
def test_coverage_per_folder_and_note_with_weakest_and_gaps(
    settings: Settings, tmp_path: Path
) -> None:
    notes = write_notes(tmp_path / "notes")
    assert ingest([notes], settings).ok
    items = _items_for(settings)
    with open_store(settings) as store:
        store.add_items(items.values())
        schedule.record(store, items["DETR > Loss"].id, 3, now=NOW)
        schedule.record(store, items["DETR > Hungarian matching"].id, 4, now=NOW)
        schedule.record(store, items["Bias and variance"].id, 1, now=NOW)
    record_gap(settings, "What is the recipe for sourdough?")
    cov = coverage(settings, now=(NOW + timedelta(days=60)).timestamp())
    catalog = open_catalog(settings)
    passages = catalog.counts()[1]
    catalog.close()
    assert cov.total.passages == passages
    notes_by = {r.name: r for r in cov.notes}
    detr = notes_by["detection/detr.md"]
    assert detr.quizzed == 2 and detr.recall == 1.0 and detr.due == 2
    bias = notes_by["fundamentals/bias-variance.md"]
    assert bias.quizzed == 1 and bias.recall == 0.0
    assert cov.weakest is not None and cov.weakest.name == "fundamentals/bias-variance.md"
    folders = {r.name: r for r in cov.folders}
    assert folders["detection"].passages == sum(
        r.passages for r in cov.notes if r.name.startswith("detection/")
    )
    assert len(cov.never_reviewed) == passages - 3
    assert [g.question for g in cov.gaps] == ["What is the recipe for sourdough?"]
    assert cov.to_dict()["weakest"]["name"] == "fundamentals/bias-variance.md"


@pytest.mark.slow
def test_a_card_whose_answer_runs_into_the_next_chunk_goes_stale_when_that_part_changes(
    tmp_path: Path, models_dir: Path
) -> None:
    from sharpnotes.app.quiz.generate import _as_result
    from sharpnotes.app.quiz.handwritten import card_items, following_texts

    settings = Settings(home=tmp_path / "home", models_dir=models_dir, ingest={"chunk_tokens": 48})
    note = tmp_path / "notes" / "text.md"
    note.parent.mkdir()
    note.write_text(
        "# Text features\n\n**What are the pros and cons of bag of words?**\n\n"
        "Advantages: simple to build and fast to compute for any corpus at hand, and it needs "
        "no training of any kind before use.\n\n"
        "Disadvantages: the vocabulary needs care and grows with the data; word order is lost "
        "entirely, so negation is hard to see.\n\n"
        "**What is tf-idf?**\n\nA weighting of words by how rare they are across the documents.\n",
        encoding="utf-8",
    )
    assert ingest([note.parent], settings).ok
    catalog = open_catalog(settings)
    rows = catalog.get_chunks(catalog.chunk_ids())
    catalog.close()
    first = next(r for r in rows.values() if r.ordinal == 0)
    assert "Disadvantages" not in first.text  # the chunker cut the card's answer
    following = following_texts(rows.values())[first.chunk_id]
    (card,), _ = card_items(_as_result(first, 0), first.content_hash, following=following)
    assert "word order is lost" in card.answer  # the card holds the rest of its answer
    with open_store(settings) as store:
        store.add_items([card])

    # an edit in the next chunk after the card's answer ends: the card is as it was
    note.write_text(note.read_text().replace("What is tf-idf?", "What does tf-idf weigh?"))
    assert ingest([note.parent], settings).updated == ["text.md"]
    assert not sync_items(settings).changed
    # an edit to the part of its answer the next chunk holds: stale, though its chunk is the same
    note.write_text(
        note.read_text().replace("word order is lost", "word order and counts are lost")
    )
    assert ingest([note.parent], settings).updated == ["text.md"]
    assert sync_items(settings).stale == [card.id]
    # undone: back in use
    note.write_text(
        note.read_text().replace("word order and counts are lost", "word order is lost")
    )
    assert ingest([note.parent], settings).updated == ["text.md"]
    assert sync_items(settings).restored == [card.id]
