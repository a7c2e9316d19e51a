"""The multilingual space for questions in Chinese (``ingest.multilingual``), with the real USE v3
model, MiniLM, Chroma and bm25s: an ingest writes the space of its BM25 build, embeds only the
chunks an older file lacks, writes an empty one for notes without Chinese and none when turned
off; a damaged file is searched around and written again; a Chinese question paraphrasing
a Chinese note finds it above a note that shares its words but not its meaning; and an English
question finds the note written in Chinese that answers it, which MiniLM alone reads as noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import write_notes
from sharpnotes.app.retrieval import Searcher
from sharpnotes.ingest import bm25, multilingual
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest
from sharpnotes.ingest.text import written_in_chinese

pytestmark = pytest.mark.slow

NOTES = {
    "depth.md": "# 單目深度估計\n\n單張影像本身沒有絕對尺度：整個場景放大兩倍、再離相機遠兩倍，"
    "拍出來的影像一模一樣。\n\n模型之所以還能猜出幾公尺，是因為它學到了物體的典型大小、"
    "相機的安裝高度這類先驗。\n",
    "lanes.md": "# 車道線偵測\n\n遠處的車道線會收斂到消失點，影像上一點點 pixel 誤差，換到 3D "
    "就是很大的橫向誤差。\n",
    "tracking.md": "# 多目標追蹤\n\n追蹤器把每一幀的偵測框接成軌跡，"
    "常用卡爾曼濾波預測下一幀的位置。\n",
    # shares the question's words (鏡頭, 物體, 一顆) and is about something else
    "calib.md": "# 相機標定\n\n標定鏡頭內參時，用棋盤格從不同角度拍很多張；"
    "物體放在畫面哪裡都要拍到，只用一顆鏡頭也可以。\n",
    "optim.md": "# Optimizers\n\nAdam divides each step by the root of a moving average of the "
    "squared gradient.\n",
}
QUESTION = "為什麼單靠一張照片算不出東西有多遠？"


def space_files(settings: Settings) -> list[Path]:
    return sorted(settings.index_dir.glob(f"{multilingual.PREFIX}*.npz"))


def ingest_counting(notes: Path, settings: Settings) -> int:
    """Ingest, and return how many chunks the multilingual stage embedded."""
    embedded = [0]

    def progress(stage: str, done: int, total: int) -> None:
        if stage == multilingual.STAGE:
            embedded[0] = total

    assert ingest([notes], settings, progress=progress).ok
    return embedded[0]


def test_an_ingest_writes_the_space_of_its_build_and_embeds_only_new_chunks(
    settings: Settings, tmp_path: Path
) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    first = ingest_counting(notes, settings)
    pointer = bm25.read_pointer(settings.index_dir)
    assert space_files(settings) == [multilingual.path_for(settings, pointer)]
    space = multilingual.load(settings, pointer)
    searcher = Searcher(settings)
    texts = dict(searcher.catalog.iter_embed_texts())
    assert space is not None and set(space.ids) == set(texts) and first == len(texts)
    # each vector is the chunk's embedded text through USE (stored in half precision)
    made = multilingual.embed([texts[cid] for cid in space.ids])
    assert np.allclose(space.vectors.astype(np.float32), made, atol=2e-3)
    # and it marks the chunks written in Chinese: every note but the English one
    assert space.chinese == {cid for cid, text in texts.items() if written_in_chinese(text)}
    rows = searcher.catalog.get_chunks(sorted(space.chinese)).values()
    assert {row.source for row in rows} == set(NOTES) - {"optim.md"}

    assert ingest_counting(notes, settings) == 0  # unchanged: nothing embedded, same file
    assert space_files(settings) == [multilingual.path_for(settings, pointer)]

    (notes / "sensors.md").write_text("# 感測器\n\n雷達量得到徑向速度，相機量不到。\n", "utf-8")
    assert ingest_counting(notes, settings) == 1  # only the new note's chunk
    pointer = bm25.read_pointer(settings.index_dir)
    assert space_files(settings) == [multilingual.path_for(settings, pointer)]  # old one gone
    space = multilingual.load(settings, pointer)
    assert space is not None and len(space.ids) == len(texts) + 1


def test_notes_without_chinese_get_an_empty_space_and_turning_it_off_removes_it(
    settings: Settings, tmp_path: Path
) -> None:
    notes = write_notes(tmp_path / "notes", {"optim.md": NOTES["optim.md"]})
    assert ingest_counting(notes, settings) == 0
    pointer = bm25.read_pointer(settings.index_dir)
    assert space_files(settings) == [multilingual.path_for(settings, pointer)]
    assert multilingual.load(settings, pointer) is None  # empty: nothing to search
    assert Searcher(settings).search("梯度下降 為什麼 會 震盪", k=1)  # searched without it

    off = settings.replace(multilingual_weight=0)
    (notes / "more.md").write_text("# SGD\n\nMomentum smooths the steps.\n", encoding="utf-8")
    assert ingest([notes], off).ok
    assert space_files(settings) == []


def test_a_chinese_paraphrase_finds_its_note_above_a_note_sharing_its_words(
    settings: Settings, tmp_path: Path
) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    assert ingest([notes], settings).ok
    without = Searcher(settings.replace(multilingual_weight=0)).search(QUESTION, k=3)
    with_space = Searcher(settings).search(QUESTION, k=3)
    assert without[0].source == "calib.md"  # BM25's shared characters win alone
    assert with_space[0].source == "depth.md"


def test_an_english_question_reads_the_notes_written_in_chinese_through_the_space(
    settings: Settings, tmp_path: Path
) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    assert ingest([notes], settings).ok
    english = "Why can't one photo tell how far away things are?"
    without = Searcher(settings.replace(multilingual_weight=0)).search(english, k=3)
    assert "depth.md" not in [r.source for r in without]  # MiniLM reads the Chinese as noise
    assert Searcher(settings).search(english, k=1)[0].source == "depth.md"
    # the English note still answers what it answers
    assert Searcher(settings).search("why does Adam divide the step", k=1)[0].source == "optim.md"
    # a question far from every note in both models lifts no Chinese note to the top
    egg = "How long should I boil an egg to get a soft, runny yolk?"
    assert [r.chunk_id for r in Searcher(settings).search(egg, k=3)] == [
        r.chunk_id for r in Searcher(settings.replace(multilingual_weight=0)).search(egg, k=3)
    ]


def ingested_space(settings: Settings, tmp_path: Path) -> tuple[Path, Path]:
    """The notes folder, ingested, and the one space file of its build."""
    notes = write_notes(tmp_path / "notes", NOTES)
    assert ingest([notes], settings).ok
    (path,) = space_files(settings)
    return notes, path


def as_older_version(path: Path) -> None:
    """Rewrite a space file as versions before the marks wrote it: ids and vectors only."""
    with np.load(path) as data:
        old = {"ids": data["ids"], "vectors": data["vectors"]}
    np.savez(path, **old)


def test_a_space_written_before_it_marked_the_chinese_chunks_is_completed_without_embedding(
    settings: Settings, tmp_path: Path
) -> None:
    notes, path = ingested_space(settings, tmp_path)
    as_older_version(path)
    pointer = bm25.read_pointer(settings.index_dir)
    space = multilingual.load(settings, pointer)
    assert space is not None and not space.chinese  # read, with no chunk marked
    running = Searcher(settings)  # a process that searched before the ingest (the app)
    english = "Why can't one photo tell how far away things are?"
    assert running.search(english, k=1)[0].source != "depth.md"  # no marks: as MiniLM reads it
    assert ingest_counting(notes, settings) == 0  # the unchanged re-ingest embeds nothing ...
    space = multilingual.load(settings, pointer)
    assert space is not None and len(space.chinese) == len(NOTES) - 1  # ... and marks them
    assert running.search(english, k=1)[0].source == "depth.md"  # read again, marks and all


def test_an_older_space_is_completed_even_where_the_model_is_not_installed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes, path = ingested_space(settings, tmp_path)
    as_older_version(path)
    monkeypatch.setattr(multilingual, "available", lambda: False)  # marks need no model
    assert ingest([notes], settings).ok
    assert space_files(settings) == [path]
    with np.load(path) as data:
        assert int(data["chinese"].sum()) == len(NOTES) - 1


def test_a_damaged_space_is_searched_around_and_written_again(
    settings: Settings, tmp_path: Path
) -> None:
    notes, path = ingested_space(settings, tmp_path)
    path.write_bytes(b"not a numpy file")
    results = Searcher(settings).search(QUESTION, k=3)
    assert results and results[0].source == "calib.md"  # as without the space
    assert ingest_counting(notes, settings) == len(NOTES)  # the next ingest writes it again
    assert multilingual.load(settings, bm25.read_pointer(settings.index_dir)) is not None
    path.unlink()  # an ingest killed before writing it leaves none: the next one writes it
    assert ingest_counting(notes, settings) == len(NOTES)
    assert Searcher(settings).search(QUESTION, k=3)[0].source == "depth.md"
