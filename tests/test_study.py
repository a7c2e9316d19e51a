"""Topics, digest and today on a real index (MiniLM, Chroma, SQLite) through the CLI and the
Streamlit pages: a topic links the notes that cover it and not the others, a gap has none, pins
override the linker without touching the user's syllabus, a fact repeated in two notes is shown
once with both sources (a nested bullet under the bullet it sits under), and today's plan draws
new items from the weakest topic."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from conftest import REPO, ingested, write_notes
from sharpnotes.app.cli import cli
from sharpnotes.app.syllabus import Pins
from sharpnotes.ingest.settings import Settings

pytestmark = pytest.mark.slow
MAIN = str(REPO / "app" / "ui" / "main.py")

NOTES = {
    "detection/detr.md": """---
title: DETR
tags: [detection, transformers]
---
# DETR

DETR is a detector that treats detection as direct set prediction with a transformer.

## Hungarian matching
Each prediction is matched one-to-one with a ground-truth box by the Hungarian algorithm, so no
non-maximum suppression is needed at inference.

## Pitfalls
DETR converges slowly: it needs about 500 epochs on COCO.

## Against two-stage detectors
* Faster R-CNN
  * cons: hand-made anchors, and duplicates to suppress after its head
""",
    "inbox/detr-summary.md": """# Reading notes: DETR paper

Because predictions are matched one-to-one to ground-truth boxes with the Hungarian algorithm,
DETR needs no non-maximum suppression at inference.

Small objects are hard for DETR since it uses a single low-resolution feature map.
""",
    "fundamentals/bias-variance.md": """# Bias and variance

High bias means the model underfits; high variance means it overfits the training set.
Regularisation trades a little bias for a large drop in variance.
""",
}


@pytest.fixture(scope="module")
def study_index(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, Path]:
    return ingested(write_notes(tmp_path_factory.mktemp("study") / "notes", NOTES), models_dir)


@pytest.fixture
def env(study_index: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Settings:
    home, notes = study_index
    for name in ("review.sqlite", "review.sqlite-wal", "review.sqlite-shm", "topic_pins.json"):
        (home / name).unlink(missing_ok=True)
    monkeypatch.setenv("SHARPNOTES_HOME", str(home))
    monkeypatch.setenv("SHARPNOTES_NOTES_DIR", str(notes))
    # the fixture notes are mostly prose, so their new items are cut from sentences: the share
    # that limits those (tested in test_quiz_generate) is lifted to test where items come from
    monkeypatch.setenv("SHARPNOTES_SENTENCE_SHARE", "1")
    return Settings()


def run(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_topics_link_covering_notes_and_list_gaps(env: Settings) -> None:
    data = run("topics")
    by_id = {t["id"]: t for t in data["topics"]}
    assert data["syllabus"] == "the default syllabus"
    assert set(by_id["detr"]["notes"]) == {"detection/detr.md", "inbox/detr-summary.md"}
    assert by_id["bias-variance"]["notes"] == ["fundamentals/bias-variance.md"]
    assert by_id["diffusion-models"]["gap"] and by_id["diffusion-models"]["passages"] == 0
    assert by_id["detr"]["recall"] is None and by_id["detr"]["items"] == 0
    gaps = run("topics", "--gaps")["topics"]
    assert "diffusion-models" in {t["id"] for t in gaps} and "detr" not in {t["id"] for t in gaps}
    # a gap some passage names says so, with the commands that show and link them
    text = CliRunner().invoke(cli, ["topics", "--gaps"]).output
    named = [line for line in text.splitlines() if "gap: named in" in line]
    assert re.search(r"^diffusion-models +gap: write a note", text, re.MULTILINE)
    assert bool(named) == ("sharpnotes topics pin TOPIC CHUNK_ID" in text)
    for line in named:
        topic = line.split()[0]
        assert run("topics", "show", topic)["mentions"], topic


def test_pins_override_the_linker_and_leave_the_syllabus_alone(env: Settings) -> None:
    shown = run("topics", "show", "DETR")["passages"]
    bias = [p for p in run("topics", "show", "bias-variance")["passages"]]
    victim = shown[0]["chunk_id"]
    runner = CliRunner()
    assert runner.invoke(cli, ["topics", "unpin", "detr", victim]).exit_code == 0
    # an id's first characters are enough, as for quiz items
    assert runner.invoke(cli, ["topics", "pin", "detr", bias[0]["chunk_id"][:10]]).exit_code == 0
    after = run("topics", "show", "detr")["passages"]
    assert victim not in {p["chunk_id"] for p in after}
    assert after[0]["chunk_id"] == bias[0]["chunk_id"] and after[0]["pinned"]
    assert (env.paths.home / "topic_pins.json").exists()
    assert not (env.paths.notes_dir / "syllabus.yaml").exists()  # type: ignore[operator]
    bad = runner.invoke(cli, ["topics", "pin", "detr", "no-such-chunk"])
    assert bad.exit_code == 1 and "no passage 'no-such-chunk'" in bad.output
    unknown = runner.invoke(cli, ["digest", "no-such-topic"])
    assert unknown.exit_code == 1 and "sharpnotes topics" in unknown.output


def test_topics_show_lists_the_passages_that_name_a_topic_without_covering_it(
    env: Settings,
) -> None:
    """A passage that writes a topic's name is never invisible in ``topics show``: it is linked
    or listed as named (a newcomer's tips list named gradient clipping; the topic said 0)."""
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(env)
    try:
        rows = catalog.get_chunks(catalog.chunk_ids())
    finally:
        catalog.close()
    naming = {cid for cid, row in rows.items() if "non-maximum suppression" in row.text.lower()}
    data = run("topics", "show", "nms")
    linked = {p["chunk_id"] for p in data["passages"]}
    named = {p["chunk_id"] for p in data["mentions"]}
    assert naming and named and not linked & named
    assert naming <= linked | named
    text = CliRunner().invoke(cli, ["topics", "show", "nms"]).output
    assert "not linked to it" in text and "sharpnotes topics pin non-maximum-suppression" in text


def test_digest_merges_the_repeated_fact_and_cites_every_line(
    env: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "detr.md"
    data = run("digest", "detr", "--out", str(out))
    lines = data["lines"]
    assert all(line["sources"] for line in lines)
    hungarian = [line for line in lines if "Hungarian" in line["text"]]
    assert len(hungarian) == 1, hungarian  # said in two notes, shown once
    assert {s["source"] for s in hungarian[0]["sources"]} == {
        "detection/detr.md",
        "inbox/detr-summary.md",
    }
    sections = [line["section"] for line in lines]
    assert sections == sorted(
        sections, key=["definition", "details", "pitfalls", "questions"].index
    )
    assert any("500 epochs" in line["text"] for line in lines if line["section"] == "pitfalls")
    # a nested bullet is shown under the bullet it sits under, in the page and the export
    [cons] = [line for line in lines if "hand-made anchors" in line["text"]]
    assert cons["text"].endswith(
        "Faster R-CNN › cons: hand-made anchors, and duplicates to suppress after its head"
    )
    assert cons["parents"] == ["Faster R-CNN"]
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# DETR") and "[inbox/detr-summary.md" in text
    assert "- Faster R-CNN › cons: hand-made anchors" in text


def test_today_draws_new_items_from_the_weakest_topics(env: Settings) -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["quiz", "--topic", "DETR Hungarian matching", "--n", "3", "--json"])
    assert made.exit_code == 0, made.output
    plan = run("today", "--new", "2")
    assert len(plan["new"]) == 2 and not plan["due"]
    assert {i["source"] for i in plan["new"]} <= {"detection/detr.md", "inbox/detr-summary.md"}
    assert plan["question"]["topic"] in {t["id"] for t in plan["weakest"]}
    assert "diffusion-models" in plan["gaps"]
    assert len(plan["progress"]["days"]) == 28 and sum(plan["progress"]["reviews"]) == 0


def test_topics_and_today_pages_open(env: Settings) -> None:
    at = AppTest.from_file(MAIN, default_timeout=240).run()  # a loaded machine runs pages slowly
    at.switch_page("views/topics.py").run()
    assert not at.exception, at.exception
    assert any(m.label == "Gaps to write" for m in at.metric)
    assert any("topics no note covers" in e.label for e in at.expander)  # the gaps, folded
    at.selectbox(key="topic_choice").set_value("detr").run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "repeats merged: 1" in captions and "×2" in captions
    # the DETR notes name non-maximum suppression in passing: listed, and one click pins one
    at.selectbox(key="topic_choice").set_value("non-maximum-suppression").run()
    assert any("not linked to this topic" in e.label for e in at.expander)
    at.button(key="pin-0").click().run()
    assert not at.exception, at.exception
    assert Pins.load(env).pinned.get("non-maximum-suppression")
    at.switch_page("views/today.py").run()
    assert not at.exception, at.exception
    assert any(h.value == "Interview question of the day" for h in at.subheader)
    # a topic with no questions yet is one click from a quiz on it
    start = [b for b in at.button if b.key and b.key.startswith("today-topic-")]
    assert start, "topics without questions are offered"
    topic = start[0].label.removeprefix("Make questions on ").removesuffix(" (none yet)")
    start[0].click().run()
    assert not at.exception, at.exception
    assert at.text_input(key="quiz_topic").value == topic
