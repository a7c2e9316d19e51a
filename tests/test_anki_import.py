"""Anki round trip: ``sharpnotes quiz import DECK.apkg`` on real decks written by genanki (Basic,
Basic and reversed, Cloze; HTML, MathJax, a suspended card) and by Anki itself in its current
format (collection.anki21b) and its legacy one, a broken deck and a file that is no deck; the
export writes math as MathJax and reads back to the same text. Imported cards share the review
queue and leave staleness, coverage and topics alone."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import genanki
import pytest
from click.testing import CliRunner

from sharpnotes.app.cli import cli
from sharpnotes.app.quiz.anki import export_anki
from sharpnotes.app.quiz.anki_import import field_text
from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.app.quiz.store import open_store
from sharpnotes.ingest.settings import Settings

DECK = "ML::Detection"


def build_deck(path: Path) -> Path:
    deck = genanki.Deck(1_234_567_890, DECK)
    basic = [
        ("What does <b>focal loss</b> fix?", "Class imbalance:<br>easy examples &amp; hard ones"),
        (r"Softmax of \(z_i\)?", r"\[\frac{e^{z_i}}{\sum_j e^{z_j}}\]"),
        (
            "<script>alert(1)</script><div>Why NMS?</div>",
            '<img src="boxes.png" onerror="alert(2)">Non-max suppression',
        ),
    ]
    for front, back in basic:
        deck.add_note(genanki.Note(model=genanki.BASIC_MODEL, fields=[front, back]))
    reversed_note = genanki.Note(
        model=genanki.BASIC_AND_REVERSED_CARD_MODEL, fields=["IoU", "Intersection over union"]
    )
    reversed_note.cards[1].suspend = True  # suspended in Anki: stays suspended here
    deck.add_note(reversed_note)
    deck.add_note(
        genanki.Note(
            model=genanki.CLOZE_MODEL,
            fields=["{{c1::DETR}} uses {{c2::Hungarian::an algorithm}} matching.", ""],
        )
    )
    genanki.Package(deck).write_to_file(str(path))
    return path


def _cli(*args: str, code: int = 0, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == code, result.output
    return result.output


def test_field_html_becomes_text_and_markdown() -> None:
    assert field_text("<b>bold</b> <i>it</i><br>next&nbsp;line &lt;tag&gt;") == (
        "**bold** *it*\nnext line <tag>"
    )
    assert field_text("<ul><li>one</li><li>two</li></ul>") == "- one\n\n- two"
    assert field_text(r"\(x^2\) and \[y\]") == "$x^2$ and $$y$$"
    assert field_text("<style>p {}</style><script>x()</script>kept") == "kept"


def test_import_a_deck_into_the_review_queue(settings: Settings, tmp_path: Path) -> None:
    deck = build_deck(tmp_path / "ml.apkg")
    report = json.loads(_cli("quiz", "import", str(deck), "--json"))
    assert report["deck"] == DECK
    assert (report["basic"], report["cloze"], report["added"], report["suspended"]) == (5, 2, 7, 1)
    with open_store(settings) as store:
        items = {s.item.question: s for s in store.items()}
    focal = items["What does **focal loss** fix?"].item
    assert focal.type == "recall" and focal.answer == "Class imbalance:\neasy examples & hard ones"
    assert focal.citation.source == f"anki:{DECK}" and focal.generator == "anki"
    assert items["Softmax of $z_i$?"].item.answer == r"$$\frac{e^{z_i}}{\sum_j e^{z_j}}$$"
    hostile = items["Why NMS?"].item
    assert hostile.answer == "[image: boxes.png]Non-max suppression"
    assert "alert" not in hostile.question + hostile.answer
    assert items["IoU"].item.answer == "Intersection over union"
    assert items["Intersection over union"].suspended and not items["IoU"].suspended
    assert items["____ uses Hungarian matching."].item.answer == "DETR"
    cloze = items["DETR uses ____ matching."].item
    assert cloze.type == "cloze" and cloze.answer == "Hungarian"
    # one queue: the new cards are reviewed with the others; a second import adds nothing
    queue = json.loads(_cli("review", "--json"))
    assert len(queue["items"]) == 6 and queue["counts"]["suspended"] == 1
    again = json.loads(_cli("quiz", "import", str(deck), "--json"))
    assert again["added"] == 0
    out = _cli("review", "--ids", items["IoU"].id, input="\n3\n")
    assert "Intersection over union" in out and f"from your Anki deck: {DECK}" in out
    assert "1 reviewed." in out


def test_a_new_format_deck_and_a_non_deck_are_refused_in_one_line(
    settings: Settings, tmp_path: Path
) -> None:
    with open_store(settings) as store:
        store.add_items(
            [QuizItem("recall", "q", "a", "a", "a", Citation("c", "n.md", "h"), generator="notes")]
        )
    new = tmp_path / "new.apkg"
    with zipfile.ZipFile(new, "w") as z:
        z.writestr("collection.anki21b", b"\x28\xb5\x2f\xfd not really zstd")
        z.writestr("collection.anki2", b"a stub that says: please update Anki")
        z.writestr("media", b"")
    out = _cli("quiz", "import", str(new), code=1)
    assert "collection.anki21b is not a zstd-compressed collection" in out
    assert "export the deck from Anki again" in out and len(out.strip().splitlines()) == 1
    text = tmp_path / "notes.apkg"
    text.write_text("not a zip", encoding="utf-8")
    out = _cli("quiz", "import", str(text), code=1)
    assert f"{text}: not an Anki deck" in out
    broken = tmp_path / "broken.apkg"
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("collection.anki2", b"garbage, not SQLite")
    assert "cannot be read" in _cli("quiz", "import", str(broken), code=1)
    with open_store(settings) as store:
        assert [s.item.question for s in store.items()] == ["q"]  # nothing lost or added


def anki_decks(folder: Path) -> tuple[Path, Path]:
    """One collection made by Anki itself (the ``anki`` package: its Rust backend writes the
    files), exported in Anki's current format (``collection.anki21b``) and its legacy one."""
    anki = pytest.importorskip("anki.collection", reason="needs Anki: pip install anki")
    col = anki.Collection(str(folder / "collection.anki2"))
    try:
        deck = col.decks.id(DECK)
        basic, both, cloze = (
            col.models.by_name(n) for n in ("Basic", "Basic (and reversed card)", "Cloze")
        )
        for model, values in (
            (basic, {"Front": "What does <b>NMS</b> remove?", "Back": r"Duplicates \(IoU > t\)"}),
            (both, {"Front": "Focal loss", "Back": "Down-weights easy examples"}),
            (cloze, {"Text": "{{c1::RetinaNet}} uses {{c2::focal loss}}."}),
        ):
            note = col.new_note(model)
            for name, value in values.items():
                note[name] = value
            col.add_note(note, deck)
            if model is both:
                col.sched.suspend_cards([note.cards()[1].id])  # the reverse card
        paths = folder / "current.apkg", folder / "legacy.apkg"
        for path, legacy in zip(paths, (False, True), strict=True):
            options = anki.ExportAnkiPackageOptions(
                with_scheduling=True, with_deck_configs=False, with_media=False, legacy=legacy
            )
            assert col.export_anki_package(out_path=str(path), options=options, limit=None) == 3
    finally:
        col.close()
    return paths


def test_decks_written_by_anki_in_both_formats_import_alike(
    settings: Settings, tmp_path: Path
) -> None:
    current, legacy = anki_decks(tmp_path)
    assert "collection.anki21b" in zipfile.ZipFile(current).namelist()
    report = json.loads(_cli("quiz", "import", str(current), "--json"))
    assert report["deck"] == DECK
    assert (report["basic"], report["cloze"], report["added"], report["suspended"]) == (3, 2, 5, 1)
    with open_store(settings) as store:
        items = {s.item.question: s for s in store.items()}
    assert items["What does **NMS** remove?"].item.answer == "Duplicates $IoU > t$"
    assert items["Focal loss"].item.answer == "Down-weights easy examples"
    assert items["Down-weights easy examples"].suspended and not items["Focal loss"].suspended
    assert items["____ uses focal loss."].item.answer == "RetinaNet"
    assert items["RetinaNet uses ____."].item.type == "cloze"
    # the legacy export of the same collection is the same deck: nothing new
    again = json.loads(_cli("quiz", "import", str(legacy), "--json"))
    assert (again["basic"], again["cloze"], again["added"]) == (3, 2, 0)


def test_export_writes_mathjax_and_reads_back_the_same(settings: Settings, tmp_path: Path) -> None:
    item = QuizItem(
        "recall",
        "Why is $\\sqrt{d_k}$ in attention, when costs are $5 and $10?",
        "It keeps $$\\mathrm{softmax}(QK^T/\\sqrt{d_k})$$ from saturating.",
        "evidence",
        "passage",
        Citation("c1", "nlp/attention.md", "Attention"),
    )
    out = tmp_path / "export.apkg"
    export_anki([item], out)
    with zipfile.ZipFile(out) as z:
        z.extract("collection.anki2", tmp_path)
    db = sqlite3.connect(tmp_path / "collection.anki2")
    question, answer, *_ = db.execute("SELECT flds FROM notes").fetchone()[0].split("\x1f")
    db.close()
    assert question == r"Why is \(\sqrt{d_k}\) in attention, when costs are $5 and $10?"
    assert answer == r"It keeps \[\mathrm{softmax}(QK^T/\sqrt{d_k})\] from saturating."
    _cli("quiz", "import", str(out))
    with open_store(settings) as store:
        (back,) = store.items()
    assert (back.item.question, back.item.answer) == (item.question, item.answer)
    assert back.item.citation.source == "anki:sharpnotes"
    # a deck exported from this queue and imported back into it adds nothing: the items are
    # there with their history
    with open_store(settings) as store:
        store.add_items([item])
    out = _cli("quiz", "import", str(out))
    assert "0 new" in out and "in your queue already" in out, out
    with open_store(settings) as store:
        assert {s.id for s in store.items()} == {back.id, item.id}


@pytest.mark.slow
def test_imported_cards_leave_staleness_coverage_and_topics_alone(
    review_env: Settings, tmp_path: Path
) -> None:
    from sharpnotes.app.quiz.coverage import coverage
    from sharpnotes.app.quiz.staleness import sync_items

    deck = build_deck(tmp_path / "ml.apkg")
    _cli("quiz", "import", str(deck))
    before = coverage(review_env)
    report = sync_items(review_env)
    assert not report.changed and report.checked == 0
    with open_store(review_env) as store:
        assert {s.status for s in store.items()} == {"active"}
    after = coverage(review_env)
    assert after.total.items == before.total.items == 0
    assert not any(row.name.startswith("anki:") for row in after.notes)
    json.loads(_cli("coverage", "--json"))
    topics = json.loads(_cli("topics", "--json"))
    assert all(t["items"] == 0 for t in topics["topics"])
    plan = json.loads(_cli("today", "--json"))
    assert plan["today"]["new_per_day"] == 20
