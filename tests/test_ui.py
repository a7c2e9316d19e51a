"""The Streamlit pages through AppTest, on a real index of the sample notes: Chat (answer with
citation cards, folder filter, refusal with closest notes, follow-ups, saved conversations),
Library (notes by folder, ingest with progress, upload) and Settings (secrets redacted)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, write_notes
from sharpnotes.app import conversations as convs
from sharpnotes.app.ui.render import literal
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

pytestmark = pytest.mark.slow

MAIN = str(REPO / "app" / "ui" / "main.py")
TIMEOUT = 60


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, Path]:
    """(home, notes): the sample notes ingested once for the Chat tests of this module."""
    base = tmp_path_factory.mktemp("ui-corpus")
    notes = write_notes(base / "notes")
    home = base / "home"
    report = ingest([notes], Settings(home=home, models_dir=models_dir))
    assert report.ok
    return home, notes


@pytest.fixture
def chat_env(corpus: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Settings:
    home, notes = corpus
    monkeypatch.setenv("SHARPNOTES_HOME", str(home))
    monkeypatch.setenv("SHARPNOTES_NOTES_DIR", str(notes))
    return Settings()


def app() -> AppTest:
    return AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()


def chat() -> AppTest:
    at = app()
    at.switch_page("views/chat.py").run()
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


CARD = re.compile(r"^(?::blue-badge\[(\d+)\] )?\*\*")  # a passage card's title line


def cards(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if CARD.match(m.value)]


def answers(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "](#sn-card-" in m.value]


def test_chat_answers_with_citation_cards_and_saves_the_conversation(chat_env: Settings) -> None:
    at = ask(chat(), "Why does DETR not need non-maximum suppression?")
    [answer] = answers(at)
    assert re.search(r"\[1\]\(#sn-card-0-1 \"[^\"]+\"\)", answer)  # a chip: card, quote on hover
    shown = [CARD.match(c).group(1) for c in cards(at)]  # type: ignore[union-attr]
    assert shown == [str(n) for n in range(1, len(shown) + 1)], "numbered 1, 2... no gaps"
    assert any(literal("detection/detr.md") in c for c in cards(at))
    assert any(":yellow-background[" in m.value for m in at.markdown), "the quote is highlighted"
    anchors = [h.value for h in at.get("html") if 'id="sn-card-0-' in h.value]
    assert len(anchors) == len(shown), "each card is the target of its chip"
    assert any(b.label == "Open note" for b in at.button)
    # the conversation is saved under SHARPNOTES_HOME with the contract's answer shape
    saved = convs.list_conversations(chat_env)
    assert saved and saved[0].questions == ["Why does DETR not need non-maximum suppression?"]
    first = saved[0].turns[0]["answer"]
    assert not first["refused"] and first["citations"][0]["source"].startswith("detection/")
    # a follow-up keeps the first turn on screen and adds a second answer
    ask(at, "And what does its matching cost mix?")
    assert len(answers(at)) + sum("closest notes" in i.value for i in at.info) == 2
    assert convs.load_conversation(chat_env, saved[0].id).questions[1].startswith("And what")
    # opening a note shows it rendered, read from the notes root, scrolled to the passage
    next(b for b in at.button if b.label == "Open note").click().run()
    assert not at.exception
    assert any("Hungarian" in m.value for m in at.markdown)
    assert any("st-key-sn-target-dialog" in h.value for h in at.get("html"))
    # a new conversation starts empty; the saved one reopens from the sidebar, then is deleted
    at.sidebar.button[0].click().run()
    assert not answers(at)
    at.sidebar.button(key=f"open-{saved[0].id}").click().run()
    assert len(cards(at)) >= 2
    at.sidebar.button(key=f"del-{saved[0].id}").click().run()
    assert convs.list_conversations(chat_env) == []


def test_chat_folder_filter_limits_the_passages(chat_env: Settings) -> None:
    at = chat()
    assert "detection" in at.sidebar.selectbox(key="filter_folder").options
    at.sidebar.selectbox(key="filter_folder").set_value("fundamentals").run()
    ask(at, "How does DETR match predictions to ground-truth boxes?")
    assert cards(at), "a refusal still shows the closest notes"
    assert all("fundamentals/" in c and "detection/" not in c for c in cards(at)), cards(at)


def test_chat_refusal_shows_closest_notes(chat_env: Settings) -> None:
    at = ask(chat(), "What is the recipe for a sourdough starter?")
    assert any("closest notes" in i.value for i in at.info)
    assert not answers(at)
    assert cards(at)
    turn = convs.list_conversations(chat_env)[0].turns[0]["answer"]
    assert turn["refused"] and turn["closest"]


def test_library_ingests_with_progress_lists_by_folder_and_accepts_uploads(
    corpus: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``corpus`` is only asked for so that the one-time model export of the session has
    # happened before the page's ingest runs under AppTest's timeout; this test has its own home
    notes = write_notes(tmp_path / "notes")
    monkeypatch.setenv("SHARPNOTES_NOTES_DIR", str(notes))
    at = app().switch_page("views/library.py").run()
    assert any("Nothing is indexed yet" in i.value for i in at.info)
    assert at.text_input(key="ingest_folder").value == str(notes.resolve())
    next(b for b in at.button if b.label == "Ingest folder").click().run()
    assert not at.exception, at.exception
    assert at.get("progress")[0].value == 100 and not at.error
    assert "5 added" in at.success[0].value
    labels = [e.label for e in at.expander]
    assert any(label.startswith("detection · 2 notes") for label in labels)
    frames = {label: df.value for label, df in zip(labels, at.dataframe, strict=True)}
    detection = next(v for k, v in frames.items() if k.startswith("detection"))
    assert set(detection["note"]) == {"detr.md", "deformable-detr.md"}
    assert (detection["chunks"] > 0).all()

    at.get("file_uploader")[0].set_value(
        [
            ("../../Attention notes.md", b"# Attention\nSelf-attention relates every token.\n", ""),
            ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf"),
        ]
    )
    at.run()
    next(b for b in at.button if b.label == "Add and index").click().run()
    assert not at.exception, at.exception
    assert (notes / "uploads" / "Attention notes.md").is_file()  # the name lost its "../../"
    assert "1 added" in at.success[0].value
    assert any("broken.pdf" in e.value.replace("\\", "") for e in at.error), "a file is named"
    assert any(e.label.startswith("uploads · 1 notes") for e in at.expander)


def test_uploading_copies_of_a_note_keeps_every_resync_working(
    corpus: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: two uploaded copies of a note made every later re-sync fail (the same chunk
    text under several ids reached Chroma as duplicate ids)."""
    daily = b"# Daily\n\n## Reflection\n\nWhat went well today.\n"
    notes = write_notes(tmp_path / "notes", {"journal/monday.md": daily.decode()})
    monkeypatch.setenv("SHARPNOTES_NOTES_DIR", str(notes))
    at = app().switch_page("views/library.py").run()
    for added in ("3 added", "2 added"):  # two copies (and the note), then two more
        at.get("file_uploader")[0].set_value(
            [("daily.md", daily, ""), ("daily copy.md", daily, "")]
        )
        at.run()
        next(b for b in at.button if b.label == "Add and index").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert added in at.success[0].value
    next(b for b in at.button if b.label == "Ingest folder").click().run()  # a plain re-sync
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "5 unchanged" in at.success[0].value
    names = sorted(p.name for p in (notes / "uploads").iterdir())
    assert names == ["daily (2).md", "daily copy (2).md", "daily copy.md", "daily.md"]


def test_settings_page_redacts_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-do-not-show-0123456789"
    monkeypatch.setenv("SHARPNOTES_OPENAI_API_KEY", secret)
    at = app().switch_page("views/settings.py").run()
    assert not at.exception
    next(b for b in at.button if b.label == "Test the generator").click().run()
    table = at.dataframe[0].value
    shown = dict(zip(table["setting"], table["value"], strict=True))
    where = dict(zip(table["setting"], table["from"], strict=True))
    assert shown["SHARPNOTES_OPENAI_API_KEY"] == "set (hidden)"
    assert where["SHARPNOTES_OPENAI_API_KEY"] == "environment"
    assert shown["SHARPNOTES_GENERATOR"] == "extractive"
    assert where["SHARPNOTES_GENERATOR"] == "default"
    assert "SHARPNOTES_BM25_WEIGHT" not in shown  # a tuning parameter: in the Advanced expander
    assert any("offline, built in" in s.value for s in at.success)
    everything = (
        json.dumps(
            [
                str(e.value)
                for kind in ("markdown", "html", "success", "error")
                for e in at.get(kind)
            ]
        )
        + table.to_string()
    )
    assert secret not in everything
