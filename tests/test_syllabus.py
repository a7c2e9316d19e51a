"""The syllabus file and the linker's and digest's pure parts: parsing with one-line errors, the
shipped default equal to the sample notes' one, pins kept in HOME, name matching in English and
Chinese, near-duplicate merging and the definition -> details -> pitfalls order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sharpnotes.app.digest import Source, merge, to_markdown
from sharpnotes.app.digest_lines import classify
from sharpnotes.app.syllabus import Pins, SyllabusError, Topic, load_syllabus, parse_syllabus
from sharpnotes.app.topics import Names, Passage, Text, signals
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.text import units

REPO = Path(__file__).resolve().parents[1]


def test_default_syllabus_ships_and_matches_the_sample_one(tmp_path: Path) -> None:
    default = load_syllabus(tmp_path)  # a folder without its own
    assert default.path is None
    assert len(default.topics) >= 30
    assert default.topics == load_syllabus(REPO / "notes").topics
    focal = default.find("RetinaNet loss")  # by alias
    assert focal.id == "focal-loss" and focal.title_zh
    assert "焦點損失" in focal.names
    # part of a name, hyphens as spaces, when one topic holds it; several: named, not guessed
    assert default.find("two-tower").id == "case-video-recommendation"
    with pytest.raises(SyllabusError, match="names several topics: .*give one of those ids"):
        default.find("detection")
    # no topic: the closest are named (a shared word, or a name spelled alike)
    with pytest.raises(SyllabusError, match="the closest: case-traffic-sign-detection;"):
        default.find("traffic light")
    with pytest.raises(SyllabusError, match="the closest: vision-transformer"):
        default.find("transfomer")


def test_user_syllabus_wins_and_bad_files_say_where(tmp_path: Path) -> None:
    (tmp_path / "syllabus.yaml").write_text(
        "topics:\n  - id: my-topic\n    title: Mine\n    aliases: [mio]\n", encoding="utf-8"
    )
    mine = load_syllabus(tmp_path)
    assert [t.id for t in mine.topics] == ["my-topic"] and mine.path == tmp_path / "syllabus.yaml"
    with pytest.raises(SyllabusError, match="no topic 'nope'.*sharpnotes topics"):
        mine.get("nope")
    bad = {
        "topics: [\n": "not valid YAML",
        "version: 1\n": "no 'topics:' list",
        "topics:\n  - title: no id\n": "needs an id and a title",
        "topics:\n  - {id: a, title: A}\n  - {id: a, title: B}\n": "must be unique",
    }
    for text, message in bad.items():
        with pytest.raises(SyllabusError, match=message) as info:
            parse_syllabus(text, tmp_path / "syllabus.yaml")
        assert "syllabus.yaml" in str(info.value) and "\n" not in str(info.value)


def test_pins_live_in_home_and_override_both_ways(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    pins = Pins.load(settings)
    pins.pin("detr", "c1")
    pins.unpin("detr", "c2")
    pins.unpin("detr", "c1")  # unpinning a pinned passage moves it
    pins.save(settings)
    again = Pins.load(settings)
    assert again.pinned == {"detr": []} and again.unpinned == {"detr": ["c2", "c1"]}
    (tmp_path / "home" / "topic_pins.json").write_text('{"format": 99}', encoding="utf-8")
    with pytest.raises(SyllabusError, match="newer sharpnotes"):
        Pins.load(settings)


def test_names_match_whole_words_plurals_and_chinese() -> None:
    names = Names.of(["Focal loss", "anchor", "CE", "焦點損失", "mAP"])
    assert len(names.find(Text.of("Focal-loss tuning"))) == 1
    assert len(names.find(Text.of("Anchors and an anchor; focal loss"))) == 2
    assert not names.find(Text.of("anchorage; the CE of it"))  # no part words, no 2 letters
    assert len(names.find(Text.of("用焦點損失來調"))) == 1
    assert not names.find(Text.of("HD map prior")) and names.find(Text.of("COCO mAP@0.5"))


def test_a_card_question_heads_its_answer_for_the_linker() -> None:
    # a Q&A note puts its topics in bold questions, not headings: the question counts as the
    # section's heading, and only for the topic it names (no "another topic" penalty from it)
    topics = [Topic("bias-variance", "Bias and variance"), Topic("dropout", "Dropout")]
    qa = "**What is the bias and variance trade-off?**\n\nA simple model underfits..."
    plain = "A simple model underfits; a complex one overfits."
    passages = [
        Passage(f"c{n}", "theory.md", "Interview questions > Linear regression", None, text, (),
                Text.of("theory"))
        for n, text in enumerate((qa, plain))
    ]  # fmt: skip
    vectors = np.zeros((2, 4), np.float32)
    found = signals(topics, passages, vectors, vectors)
    assert found["heading"].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert found["other"].tolist() == [[0.0, 0.0], [0.0, 0.0]]


def _candidates(text: str, source: str) -> list:
    cite = Source(source + "#0", source, "Note > Part", None)
    return [(u, cite, "details") for u in units(text)]


def test_merge_keeps_one_line_per_fact_with_every_source() -> None:
    a = _candidates("RetinaNet uses gamma 2 and alpha 0.25 by default.", "a.md")
    b = _candidates("By default RetinaNet uses alpha 0.25 and gamma 2.", "b.md")
    c = _candidates("Mosaic augmentation mixes four training images.", "c.md")
    vectors = np.array([[1.0, 0.0], [0.96, 0.28], [0.0, 1.0]], np.float32)  # a ~ b, c apart
    lines, merged = merge(a + b + c, vectors)
    assert merged == 1 and len(lines) == 2
    assert [s.source for s in lines[0].sources] == ["a.md", "b.md"]
    assert lines[0].also == ["By default RetinaNet uses alpha 0.25 and gamma 2."]
    # close vectors but different content terms stay two lines (two different numbers)
    d = _candidates("Cosine decay lowers the learning rate smoothly.", "d.md")
    lines, merged = merge(a + d, np.array([[1.0, 0.0], [0.99, 0.14]], np.float32))
    assert merged == 0 and len(lines) == 2
    # one note in other words is two details, not a repeat; the same words twice are one line
    same_note = _candidates("By default RetinaNet uses alpha 0.25 and gamma 2.", "a.md")
    lines, merged = merge(a + same_note, vectors[:2])
    assert merged == 0 and len(lines) == 2
    lines, merged = merge(a + same_note, vectors[:2], across=False)
    assert merged == 1 and len(lines) == 1
    lines, merged = merge(a + a, np.array([[1.0, 0.0], [1.0, 0.0]], np.float32))
    assert merged == 1 and len(lines) == 1


def test_classify_orders_definition_details_pitfalls_questions() -> None:
    text = (
        "Focal loss is a loss that down-weights easy examples.\n\n"
        "It multiplies cross-entropy by a modulating factor.\n\n"
        "Don't forget the prior bias initialisation of the classifier.\n\n"
        "Q: why gamma 2? A: it worked best on COCO.\n"
    )
    sections = [classify(u, "Focal loss", n < 1) for n, u in enumerate(units(text))]
    assert sections == ["definition", "details", "pitfalls", "questions", "questions"]
    assert classify(units("注意：不要做 hue jitter。")[0], "Notes > 實務", False) == "pitfalls"
    assert classify(units("Label smoothing helps here.")[0], "Notes > Pitfalls", False) == (
        "pitfalls"
    )


def test_markdown_cites_every_line() -> None:
    from sharpnotes.app.digest import Digest, Line
    from sharpnotes.app.syllabus import Topic

    cite = Source("x", "fundamentals/loss-functions.md", "Losses > Focal", None)
    other = Source("y", "papers/retina.pdf", "", 3)
    digest = Digest(
        Topic("focal-loss", "Focal loss", "焦點損失"),
        [Line("Gamma 2 works best.", "sentence", "details", [cite, other])],
        passages=2,
        merged=1,
    )
    text = to_markdown(digest)
    assert text.startswith("# Focal loss (焦點損失)")
    assert "- Gamma 2 works best. — [fundamentals/loss-functions.md > Focal]; " in text
    assert "[papers/retina.pdf > p. 3]" in text


def test_a_nested_bullet_keeps_the_bullets_it_sits_under_in_the_digest() -> None:
    from sharpnotes.app.digest import Digest
    from sharpnotes.app.extractive import above
    from sharpnotes.app.syllabus import Topic
    from sharpnotes.ingest.text import list_parents

    note = "* Ranking models\n  * GBDT\n    * cons: slow to retrain\n"
    found = _candidates(note, "a.md")
    outline = {("a.md#0", u.end): above(u, list_parents(note)) for u, _, _ in found}
    lines, _ = merge(found, np.eye(3, dtype=np.float32), outline=outline)
    assert [line.shown for line in lines] == [
        "* Ranking models",
        "* Ranking models › GBDT",
        "* Ranking models › GBDT › cons: slow to retrain",
    ]
    assert lines[2].text == "* cons: slow to retrain"  # what is compared and merged
    page = to_markdown(Digest(Topic("gbdt", "GBDT"), lines, passages=1, merged=0))
    # the page nests each item under the one it sits under rather than repeating it
    assert (
        "- Ranking models — [a.md > Part]\n  - GBDT — [a.md > Part]\n    - cons: slow to retrain"
        in page
    )
