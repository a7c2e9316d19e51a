"""The app as a study desk, through AppTest on a real index: the Home page, the Notes page
(wikilinks, backlinks, a PDF's cited page), the Settings page (sources of values, switching
and testing the generator, saving the config file) and live sync while the app runs."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, SAMPLE_NOTES, ingested, use_home, write_notes
from sharpnotes.app.pdfpages import render_page
from sharpnotes.app.ui.render import literal
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

MAIN = str(REPO / "app" / "ui" / "main.py")
PDF_TEXT = "Scaled dot-product attention divides the scores by the square root of the key size."


def make_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for page in ("An opening page about transformers and their training.", PDF_TEXT):
        pdf.add_page()
        pdf.multi_cell(0, 8, page)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def test_a_pdf_page_is_drawn_with_the_quote_painted(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "attention.pdf")
    plain = render_page(pdf, 2)
    marked = render_page(pdf, 2, "divides the scores by the square root")
    assert plain.png.startswith(b"\x89PNG") and (marked.page, marked.pages) == (2, 2)
    assert marked.highlighted and not plain.highlighted and marked.png != plain.png
    assert not render_page(pdf, 1, "divides the scores by the square root").highlighted
    from sharpnotes.app.pdfpages import PdfPageError

    with pytest.raises(PdfPageError, match="no page 3"):
        render_page(pdf, 3)


NOTES = {
    **SAMPLE_NOTES,
    "papers/attention.md": "# Attention\n\nSee [[detr]] and [the loss](../detection/detr.md).\n",
}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, Path]:
    notes = write_notes(tmp_path_factory.mktemp("desk") / "notes", NOTES)
    make_pdf(notes / "papers" / "attention-paper.pdf")
    return ingested(notes, models_dir)


@pytest.fixture
def desk_env(desk: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Settings:
    return use_home(monkeypatch, *desk)


def page(name: str, **query: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=90)
    at.query_params.update(query)
    at.run()
    if name != "home":
        at.switch_page(f"views/{name}.py").run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_home_shows_the_index_examples_and_gaps(desk_env: Settings) -> None:
    from sharpnotes.app.gaps import record_gap

    record_gap(desk_env, "What is a sourdough starter?")
    at = page("home")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Notes"] == "7" and metrics["Folders"] == "4"
    assert metrics["Reviews due"] == "0"
    examples = [b for b in at.button if b.key and b.key.startswith("example-")]
    assert examples, "example questions made from the notes"
    assert any("What is a sourdough starter?" in m.value for m in at.markdown)  # a gap
    question = examples[0].label
    examples[0].click().run()  # asks it on the Chat page
    assert not at.exception, at.exception
    assert any(question in getattr(t, "value", "") for t in at.get("text"))


@pytest.mark.slow
def test_notes_page_follows_links_and_lists_backlinks(desk_env: Settings) -> None:
    at = page("note", source="papers/attention.md")
    body = "\n".join(m.value for m in at.markdown)
    assert "[detr](note?source=detection/detr.md" in body  # the wikilink opens the note
    assert "[the loss](note?source=detection/detr.md" in body  # so does a Markdown link
    at = page("note", source="detection/detr.md")
    body = "\n".join(m.value for m in at.markdown)
    assert "**Backlinks**" in body and literal("papers/attention.md") in body
    assert "[Deformable DETR](note?source=detection/deformable-detr.md" in body
    assert "**Links**" in body


@pytest.mark.slow
def test_a_pdf_note_opens_at_its_cited_page_with_the_file_offered(desk_env: Settings) -> None:
    at = page("note", source="papers/attention-paper.pdf")
    assert at.number_input(key="page-page").value == 1
    at.number_input(key="page-page").set_value(2).run()
    assert not at.exception, at.exception
    [image] = at.get("image")
    assert image.captions == ["page 2 of 2"], "the page is drawn"
    assert any(d.proto.label == "Download the PDF" for d in at.get("download_button"))


@pytest.mark.slow
def test_settings_switch_test_and_save_the_generator(
    desk_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_llm import KEY, StubServer

    config = tmp_path / "config" / "config.env"
    monkeypatch.setenv("SHARPNOTES_CONFIG", str(config))
    monkeypatch.setenv("SHARPNOTES_ANSWER_K", "5")
    config.parent.mkdir()
    config.write_text("# my settings\n")
    server = StubServer(lambda req: "OK")
    try:
        at = page("settings")
        assert any("App address in use" in c.value for c in at.caption)  # the port: in the browser
        table = at.dataframe[0].value
        where = dict(zip(table["setting"], table["from"], strict=True))
        assert where["SHARPNOTES_ANSWER_K"] == "environment"
        assert where["SHARPNOTES_NOTES_DIR"] == "environment"
        assert where["SHARPNOTES_GENERATOR"] == "default"
        at.selectbox(key="s_generator").set_value("openai").run()
        at.text_input(key="s_url").set_value(server.url).run()
        at.text_input(key="s_model").set_value("stub-model").run()
        at.text_input(key="s_key").set_value(KEY).run()
        next(b for b in at.button if b.label == "Test the generator").click().run()
        assert any("reachable, model answers in" in s.value for s in at.success), at.error
        assert server.requests and server.requests[-1]["auth"] == f"Bearer {KEY}"
        next(b for b in at.button if b.label == "Save to my config file").click().run()
        assert not at.exception, at.exception
        assert any("saved to" in s.value for s in at.success)
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        text = config.read_text()
        assert text.startswith("# my settings\n") and "SHARPNOTES_GENERATOR=openai" in text
        assert f"SHARPNOTES_OPENAI_API_KEY={KEY}" in text and "ANSWER_K" not in text
        at = page("settings")  # the file is now in force, the key still hidden
        table = at.dataframe[0].value
        shown = dict(zip(table["setting"], table["value"], strict=True))
        where = dict(zip(table["setting"], table["from"], strict=True))
        assert shown["SHARPNOTES_GENERATOR"] == "openai" and where["SHARPNOTES_GENERATOR"] == (
            "config file"
        )
        assert shown["SHARPNOTES_OPENAI_API_KEY"] == "set (hidden)"
        everything = " ".join(str(e.value) for k in ("markdown", "caption", "text_input")
                              for e in at.get(k)) + table.to_string()  # fmt: skip
        assert KEY not in everything
    finally:
        server.close()


@pytest.mark.slow
def test_live_sync_picks_up_a_new_note_while_the_app_runs(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sharpnotes.app.ui import services

    notes = write_notes(tmp_path / "notes")
    assert ingest([notes], settings).ok
    monkeypatch.setenv("SHARPNOTES_NOTES_DIR", str(notes))
    monkeypatch.setenv("SHARPNOTES_LIVE_SYNC", "1")
    at = page("home")
    watcher = services.live_sync(Settings())
    try:
        assert watcher is not None and watcher.running
        (notes / "inbox" / "anchors.md").write_text("# Anchors\nAnchor boxes tile the image.\n")
        deadline = time.monotonic() + 120
        while watcher.syncs == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert watcher.syncs == 1 and watcher.events[-1].added == ["inbox/anchors.md"]
        at.run()
        assert any("1 new" in c.value for c in at.sidebar.caption)
        assert any(r.source == "inbox/anchors.md" for r in services.library(Settings()))
    finally:
        if watcher is not None:
            watcher.stop()


def test_questions_to_try_are_questions_the_notes_answer() -> None:
    from sharpnotes.app.examples import _asked

    outline = (
        "## Clarifying questions\n\n* Free or Paid?\n* How many daily users are there?\n\n"
        "**What is a recommender system?**\n\nA system that suggests items to a user.\n\n"
        "## Why does the ranker need calibration?\n\nBids multiply the predicted CTR.\n"
    )
    assert _asked(outline) == [
        "What is a recommender system?",
        "Why does the ranker need calibration?",
    ]  # the interviewer's open questions are not suggested
