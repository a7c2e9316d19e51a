"""Sentence vectors (ingest/sentences.py) with the real MiniLM, Chroma and SQLite: what a chunk's
sentences are, that the collection holds every sentence of exactly the catalog's chunks through
edits, deletes, being turned on for an older index and a half-written chunk, and that the
Searcher's dense score is the documented mix of chunk and best-sentence cosine."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from conftest import write_notes
from sharpnotes.app.retrieval import SENTENCE_DEPTH, Filters, Searcher
from sharpnotes.ingest.index import open_catalog, open_sentences, open_space
from sharpnotes.ingest.sentences import (
    VERSION,
    complete_chunks,
    embed_chunks,
    sentence_ids,
    sentence_texts,
)
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

NOTES = {
    "detection/nms.md": "# Detection\n\n## NMS\n\nNon-maximum suppression keeps the best box. "
    "It removes every other box whose IoU with it is above a threshold. Soft-NMS lowers their "
    "scores instead.\n\n## Anchors\n\nAnchors are reference boxes of fixed sizes. Ok.\n",
    "tracking.md": "# Tracking\n\n## ByteTrack\n\nByteTrack matches low-score detections in a "
    "second round. That round recovers objects that are briefly occluded.\n",
    "optim.md": "# Optimizers\n\nAdam keeps running means of the gradient and of its square. "
    "Warmup keeps the first steps small while those means are unreliable.\n",
}


def sentence_state(settings: Settings) -> tuple[set[str], set[str], set[str]]:
    """(catalog chunk ids, chunks with all their sentences stored, chunks with any stored)."""
    catalog = open_catalog(settings)
    try:
        chunks = set(catalog.chunk_ids())
    finally:
        catalog.close()
    sentences = open_sentences(settings)
    assert sentences is not None
    complete, present = sentences.held()
    return chunks, complete, present


def test_sentence_texts_keep_the_heading_and_skip_fragments() -> None:
    text = "Detection > NMS\n\nNMS keeps the best box. Ok. It drops boxes that overlap it."
    assert sentence_texts(text) == [
        "Detection > NMS\n\nNMS keeps the best box.",
        "Detection > NMS\n\nIt drops boxes that overlap it.",
    ]
    assert sentence_texts("no heading here at all") == ["no heading here at all"]
    # a chunk with no sentence of three words still has one vector: its whole text
    assert sentence_texts("Glossary\n\nIoU.") == ["Glossary\n\nIoU."]


CHUNKS = [
    "Detection > NMS\n\nNon-maximum suppression keeps the best box. It removes every other box "
    "whose IoU with it is above a threshold. Soft-NMS lowers their scores instead.",
    "Optimizers\n\nAdam keeps running means of the gradient and of its square. Warmup keeps the "
    "first steps small while those means are unreliable.",
    "Anchors are reference boxes of fixed sizes and aspect ratios at every feature map cell.",
    "Glossary\n\nIoU.",
]
QUESTIONS = {  # question -> (chunk, sentence) it asks about
    "what happens to overlapping boxes above the IoU threshold": (0, 1),
    "does soft-NMS delete boxes": (0, 2),
    "why are the first training steps kept small": (1, 1),
    "what does Adam track about the gradient": (1, 0),
}


def test_sentence_spans_are_the_pieces_sentence_texts_embeds() -> None:
    from sharpnotes.ingest.sentences import sentence_spans

    for text in CHUNKS:
        heading, spans = sentence_spans(text)
        pieces = [text[a:b] for a, b in spans]
        expected = [f"{text[:heading]}\n\n{p}" if heading else p for p in pieces] or [text]
        assert sentence_texts(text) == expected
    assert sentence_spans(CHUNKS[0])[0] == len("Detection > NMS")
    assert sentence_spans(CHUNKS[2]) == (0, [(0, len(CHUNKS[2]))])


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx-fp32", "onnx-int8", "st-fp32"])
def test_late_chunking_pools_the_chunks_own_pass(settings: Settings, backend: str) -> None:
    """One forward pass per chunk gives the chunk's vector exactly as ``embed`` does and one
    vector per sentence; the sentences match those of another backend (the same pooling over
    another runtime's token states) and lead each question to its chunk."""
    from sharpnotes.ingest.embedding import load_embedder

    embedder = load_embedder(settings.replace(embed_backend=backend), "ingest")
    reference = load_embedder(settings.replace(embed_backend="st-fp32"), "ingest")
    chunks, sentences = embed_chunks(embedder, CHUNKS, batch_size=3)

    # the same batches (dynamic int8 quantises each batch with its own range)
    assert (chunks * embedder.embed(CHUNKS, batch_size=3)).sum(1).min() > 0.9999
    assert [len(v) for v in sentences] == [len(sentence_texts(t)) for t in CHUNKS]
    assert all(np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5) for v in sentences)
    # a chunk of one sentence without a heading pools every token: its chunk vector
    assert float(sentences[2][0] @ chunks[2]) > 0.9999
    # no sentence of three words: the chunk's own vector stands for it
    assert float(sentences[3][0] @ chunks[3]) > 0.9999
    _, theirs = embed_chunks(reference, CHUNKS)
    floor = 0.999 if backend != "onnx-int8" else 0.98
    assert min(float((a * b).sum(1).min()) for a, b in zip(sentences, theirs, strict=True)) > floor

    # Pooled in context, a sentence still finds its chunk, though not always the very sentence
    # that one embedded alone finds ("does soft-NMS delete boxes" picks the sentence before it):
    # the quality gap measured in eval/benchmarks/README.md, why late chunking is not the default.
    for question, (chunk, _) in QUESTIONS.items():
        q = reference.embed([question])[0]
        best = max(range(len(CHUNKS)), key=lambda c: float((sentences[c] @ q).max()))
        assert best == chunk, question


@pytest.mark.slow
def test_a_sentence_cut_off_by_truncation_is_embedded_alone(settings: Settings) -> None:
    from sharpnotes.ingest.embedding import load_embedder

    embedder = load_embedder(settings.replace(embed_backend="onnx-fp32"), "ingest")
    facts = [f"Fact number {i} says that sample {i} was labelled twice." for i in range(40)]
    text = "Long note\n\n" + " ".join(facts)
    assert embedder.count_tokens([text])[0] > embedder.max_tokens  # the pass sees the start only

    _, (vectors,) = embed_chunks(embedder, [text])
    alone = embedder.embed(sentence_texts(text))
    same = (vectors * alone).sum(1)
    assert len(vectors) == 40
    assert same[-1] > 0.9999 and same[0] < 0.99  # the last one alone, the first one pooled


def test_complete_chunks_tells_a_half_written_chunk_from_the_ids() -> None:
    ids = sentence_ids("a", 3) + sentence_ids("b", 2)[:1] + sentence_ids("c", 1)
    assert complete_chunks(ids) == ({"a", "c"}, {"a", "b", "c"})


@pytest.mark.slow
def test_sentences_follow_the_catalog_through_edits_deletes_and_repairs(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    report = ingest([notes], settings)
    chunks, complete, present = sentence_state(settings)
    assert chunks == complete == present
    assert report.sentences_embedded > len(chunks)  # several sentences a chunk
    assert ingest([notes], settings).sentences_embedded == 0  # unchanged: nothing embedded

    (notes / "optim.md").write_text(NOTES["optim.md"] + "\n## SGD\n\nSGD with momentum is fine.\n")
    (notes / "tracking.md").unlink()
    report = ingest([notes], settings)
    assert report.removed == ["tracking.md"] and report.updated == ["optim.md"]
    chunks, complete, present = sentence_state(settings)
    assert chunks == complete == present

    # a chunk half written (an ingest killed mid-upsert) and a stray chunk's sentences: the next
    # ingest completes the first and drops the second, without re-reading any note
    sentences = open_sentences(settings)
    assert sentences is not None
    victim = sorted(chunks)[0]
    held = [sid for sid in sentences.store.all_ids() if sid.startswith(victim + ":")]
    sentences.store.delete(held[:1])
    stray = open_space(settings, "main").embeddings([victim])[victim]
    sentences.store.upsert(["f" * 40 + ":0:1"], stray[None, :], None, [{"chunk_id": "f" * 40}])
    for proof in settings.index_dir.glob("dense-*.npz"):  # a killed ingest removed it first
        proof.unlink()
    report = ingest([notes], settings)
    assert report.unchanged == len(NOTES) - 1 and report.chunks_embedded == 0
    chunks, complete, present = sentence_state(settings)
    assert chunks == complete == present and victim in complete


@pytest.mark.slow
def test_a_one_sentence_chunk_lends_its_vector_and_every_sentence_vector_is_its_text_alone(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(
        tmp_path / "notes",
        {
            "glossary.md": "# Glossary\n\n## IoU\n\nIoU is the overlap of two boxes over their "
            "union.\n\n## mAP\n\nmAP averages precision over recall levels. It is then averaged "
            "over classes.\n",
        },
    )
    # fp32: onnx-int8 quantizes activations per batch, so under it a text's vector moves a
    # little (cosine about 0.995) with the texts it is embedded beside; the lending is the same
    settings = settings.replace(embed_backend="onnx-fp32")
    report = ingest([notes], settings)
    assert (report.sentences_embedded, report.sentences_shared) == (3, 1)
    catalog = open_catalog(settings)
    try:
        texts = dict(catalog.iter_embed_texts())
    finally:
        catalog.close()
    chunks = open_space(settings, "main").embeddings(sorted(texts))
    sentences = open_sentences(settings)
    assert sentences is not None
    stored = sentences.store.embeddings(sorted(sentences.store.all_ids()))
    from sharpnotes.ingest.embedding import load_embedder

    embedder = load_embedder(settings, "ingest")  # the one that made them
    one = [cid for cid, text in texts.items() if sentence_texts(text) == [text]]
    assert len(one) == 1 and len(texts) == 2  # the IoU chunk is one sentence, mAP's two
    assert np.array_equal(stored[f"{one[0]}:0:1"], chunks[one[0]])  # no second pass over it
    for sid, vector in stored.items():  # and each vector is what its text gives embedded alone
        cid, i, _ = sid.split(":")
        alone = embedder.embed([sentence_texts(texts[cid])[int(i)]])[0]
        assert float(vector @ alone) > 0.9999


@pytest.mark.slow
def test_an_index_without_sentences_still_answers_and_the_next_ingest_adds_them(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    off = settings.replace(sentence_weight=0.0)
    assert ingest([notes], off).sentences_embedded == 0
    before = open_space(off, "main").embeddings(sorted(sentence_state(settings)[0]))

    with caplog.at_level(logging.WARNING, logger="sharpnotes.app.retrieval"):
        hits = Searcher(settings).search("which boxes does non-maximum suppression remove", k=2)
    assert hits and hits[0].source == "detection/nms.md"
    assert "no sentence vectors yet; run: sharpnotes ingest" in caplog.text

    report = ingest([notes], settings)  # nothing changed on disk: only sentences are embedded
    assert report.unchanged == len(NOTES) and report.chunks_embedded == 0
    chunks, complete, present = sentence_state(settings)
    assert chunks == complete == present and report.sentences_embedded > len(chunks)
    after = open_space(settings, "main").embeddings(sorted(chunks))
    assert all(np.array_equal(before[c], after[c]) for c in chunks)  # chunk vectors untouched


@pytest.mark.slow
def test_dense_score_is_the_mix_of_chunk_and_best_sentence_cosine(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    settings = settings.replace(sentence_weight=0.7, dense_prf_docs=0)
    ingest([notes], settings)
    searcher = Searcher(settings)
    question = "why use warmup with Adam"
    ranked = searcher.dense_candidates(question, 50, Filters())
    plain = dict(searcher.dense_candidates(question, 50, Filters(), sentences=False))
    assert len(ranked) == len(plain) == len(sentence_state(settings)[0])

    q = searcher.embedder().embed([question])[0]
    sentences = open_sentences(settings)
    assert sentences is not None
    vectors = sentences.store.embeddings(sorted(sentences.store.all_ids()))
    best: dict[str, float] = {}
    for sid, vec in vectors.items():
        cid = sid.split(":")[0]
        best[cid] = max(best.get(cid, -1.0), float(vec @ q))
    for cid, score in ranked:
        assert score == pytest.approx(0.3 * plain[cid] + 0.7 * best[cid], abs=1e-4)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)

    # a folder filter applies to the sentence side too
    only = searcher.dense_candidates(question, 50, Filters(folder="detection"))
    catalog = open_catalog(settings)
    rows = catalog.get_chunks([cid for cid, _ in only])
    catalog.close()
    assert only and {row.source for row in rows.values()} == {"detection/nms.md"}


def test_each_side_bounds_the_cosines_it_did_not_see(tmp_path: Path, settings: Settings) -> None:
    """With fewer candidates asked than chunks held, a chunk found by its sentences alone gets the
    lowest chunk cosine seen, and a chunk no near sentence owns the lowest sentence cosine seen;
    a chunk whose vector is gone while its sentences remain is left out. Read from Chroma (no
    dense snapshot): there two reads can see two states of the index; a snapshot is one."""
    notes = write_notes(tmp_path / "notes", NOTES)
    settings = settings.replace(sentence_weight=0.7, dense_prf_docs=0, snapshot_max_vectors=0)
    ingest([notes], settings)
    searcher = Searcher(settings)
    question = "why use warmup with Adam"
    q = searcher.embedder().embed([question])[0]
    chunks = open_space(settings)
    cosine = {cid: float(vec @ q) for cid, vec in chunks.embeddings(chunks.all_ids()).items()}
    sentences = open_sentences(settings)
    assert sentences is not None
    held = sentences.store.embeddings(sorted(sentences.store.all_ids()))
    n = 2
    ranked = sorted(cosine.items(), key=lambda kv: -kv[1])[:n]
    near = sorted(((sid, float(v @ q)) for sid, v in held.items()), key=lambda kv: -kv[1])
    best: dict[str, float] = {}
    for sid, score in near[: SENTENCE_DEPTH * n]:
        best.setdefault(sid.split(":")[0], score)
    assert len(cosine) > n and set(best) - dict(ranked).keys()  # both bounds are needed
    chunk_floor, sentence_floor = ranked[-1][1], min(best.values())
    expected = {
        cid: 0.3 * dict(ranked).get(cid, chunk_floor) + 0.7 * best.get(cid, sentence_floor)
        for cid in dict(ranked).keys() | best.keys()
    }
    want = sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    got = searcher.dense_candidates(question, n, Filters())
    assert [cid for cid, _ in got] == [cid for cid, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-4)

    gone = got[0][0]
    chunks.delete([gone])  # as if an ingest removed it between the two reads
    after = searcher.dense_candidates(question, 50, Filters())
    assert after and gone not in dict(after)


@pytest.mark.slow
def test_sentences_of_another_splitter_version_are_made_again(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    first = ingest([notes], settings)
    catalog = open_catalog(settings)
    assert catalog.get_meta("sentences_version") == str(VERSION)
    catalog.set_meta({"sentences_version": "0"})  # as if an older sharpnotes had made them
    catalog.close()
    report = ingest([notes], settings)
    assert report.chunks_embedded == 0 and report.sentences_embedded == first.sentences_embedded
    chunks, complete, present = sentence_state(settings)
    assert chunks == complete == present
    catalog = open_catalog(settings)
    assert catalog.get_meta("sentences_version") == str(VERSION)
    catalog.close()
    assert ingest([notes], settings).sentences_embedded == 0


def stored_sentences(settings: Settings) -> dict[str, np.ndarray]:
    held = open_sentences(settings)
    assert held is not None
    return held.store.embeddings(sorted(held.store.all_ids()))


@pytest.mark.slow
def test_late_pooling_remakes_the_sentence_vectors_from_the_chunks_pass(
    tmp_path: Path, settings: Settings
) -> None:
    """``sentence_pooling = "late"`` is recorded with the vectors: switching re-makes them all
    from each chunk's own pass, and a note added later gets its sentences from that pass too."""
    from sharpnotes.ingest.embedding import load_embedder
    from sharpnotes.ingest.sentences import made_with

    notes = write_notes(tmp_path / "notes", NOTES)
    first = ingest([notes], settings)
    alone = stored_sentences(settings)
    late = settings.replace(sentence_pooling="late")

    report = ingest([notes], late)

    assert report.chunks_embedded == 0 and report.sentences_embedded == first.sentences_embedded
    catalog = open_catalog(late)
    assert catalog.get_meta("sentences_version") == made_with("late") == f"{VERSION}-late"
    catalog.close()
    pooled = stored_sentences(late)
    assert set(pooled) == set(alone)
    cosines = [float(pooled[sid] @ alone[sid]) for sid in alone]
    assert min(cosines) < 0.99  # pooled in context, not embedded alone again

    (notes / "bev.md").write_text(
        "# BEV\n\nLift-splat predicts a depth distribution for every pixel. The features are "
        "then splatted onto a bird's-eye-view grid.\n",
        encoding="utf-8",
    )
    assert ingest([notes], late).chunks_embedded == 1
    catalog = open_catalog(late)
    (new,) = set(catalog.chunk_ids()) - {owner.split(":", 1)[0] for owner in alone}
    text = dict(catalog.embed_texts([new]))[new]
    catalog.close()
    _, (expected,) = embed_chunks(load_embedder(late, "ingest"), [text])
    got = stored_sentences(late)
    vectors = np.stack([got[sid] for sid in sentence_ids(new, len(expected))])
    assert float((vectors * expected).sum(1).min()) > 0.9999
