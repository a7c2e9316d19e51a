"""Crash consistency: `sharpnotes ingest` killed with SIGKILL at many moments, then run again.

Each run changes the notes (an edit, an addition, a deletion), starts `sharpnotes ingest` as a real
subprocess and kills it: either at a named point through the test-only runner (``python -m
sharpnotes.ingest.faults``), optionally with a delay so that the kill lands inside the work after
the point (an embedding batch, a Chroma write), or after a random delay. Then the next ingest
(what `sharpnotes ingest` runs, called in the test's process to spare a process start) must finish
without help, and the catalog, the Chroma collections (the chunk vectors and the
sentence vectors, every sentence of each chunk) and the BM25 index must hold exactly the chunk ids
of a clean ingest of the same notes in another home; search must answer.

Also here: the schema version of every stored format, and the refusal of data that a newer
sharpnotes wrote.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sharpnotes.app import conversations, gaps
from sharpnotes.app.cli import cli
from sharpnotes.app.retrieval import Searcher
from sharpnotes.ingest import bm25, snapshot
from sharpnotes.ingest.catalog import IndexFormatError
from sharpnotes.ingest.formats import StoredFormatError
from sharpnotes.ingest.index import open_catalog, open_sentences, open_space
from sharpnotes.ingest.sentences import complete_chunks
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest
from sharpnotes.ingest.vectors import VectorStore

SHARPNOTES = Path(sys.executable).with_name("sharpnotes")
ARMED = Path(__file__).with_name("armed_cli.py")  # the command line with a crash plan armed
BACKEND = "onnx-int8"  # torch-free in the subprocesses, so each run starts in about a second

# (the fault runner's plan, what is being done when the process dies)
HOOK_PLANS = [
    ("reconcile:1", "after the start-of-run reconcile"),
    ("read:1", "reading the first changed file"),
    ("read:2", "reading the second changed file"),
    ("embed:1", "before embedding"),
    ("embed:1:0.05", "during embedding"),
    ("chroma:1", "before the Chroma upsert"),
    ("chroma:1:0.01", "during the Chroma upsert"),
    ("chroma:1:0.05", "during the Chroma upsert"),
    ("sentences:1", "after the chunk vectors, before the sentence vectors"),
    ("sentences:1:0.05", "while the sentence vectors are embedded and written"),
    ("catalog:1", "after the Chroma upserts, before the catalog commit"),
    ("catalog_row:1", "inside the catalog transaction"),
    ("catalog_row:2", "inside the catalog transaction, second file"),
    ("stale:1", "after the catalog commit, before deleting replaced vectors"),
    ("remove:1", "after removing deleted notes from the catalog, before their vectors"),
    ("bm25:1", "before the BM25 rebuild"),
    ("bm25_files:1", "inside the BM25 write (index files written, ids not)"),
    ("bm25_pointer:1", "after the BM25 folder, before its pointer switch"),
    ("bm25_cleanup:1", "after the BM25 pointer switch, before old builds are removed"),
    ("snapshot:1", "after the BM25 build, before the dense snapshot"),
    ("manifest:1", "before the manifest write"),
]
TIMED_KILLS = 5
SEED = 8


def note(i: int, version: int) -> str:
    """A small note whose second section changes with ``version``."""
    return (
        f"# Topic {i}\n\nTopic {i} covers gradient clipping number {i} and warmup schedules.\n\n"
        f"## Details {i}\n\nRevision {version}: the learning rate of topic {i} is scaled by "
        f"{version + 2} and the batch holds {64 * (version + 1)} samples.\n\n"
        f"## Pitfalls {i}\n\nA loss spike in topic {i} usually means the warmup was too short.\n"
    )


class Corpus:
    """A notes folder changed a little before every run: one note edited, one added and, once
    there are enough, the oldest deleted."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions: dict[int, int] = {}
        self.next = 0
        for _ in range(4):
            self.add()

    def add(self) -> None:
        i, self.next = self.next, self.next + 1
        folder = self.root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        self.versions[i] = 0
        self.path(i).write_text(note(i, 0), encoding="utf-8")

    def path(self, i: int) -> Path:
        return self.root / ("a" if i % 2 else "b") / f"topic-{i}.md"

    def change(self, run: int) -> None:
        live = sorted(self.versions)
        edited = live[run % len(live)]
        self.versions[edited] += 1
        self.path(edited).write_text(note(edited, self.versions[edited]), encoding="utf-8")
        self.add()
        if len(self.versions) > 5:
            gone = min(self.versions)
            self.path(gone).unlink()
            del self.versions[gone]


def env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "SHARPNOTES_HOME": str(settings.paths.home),
        "SHARPNOTES_MODELS_DIR": str(settings.model_cache),
        "SHARPNOTES_EMBED_BACKEND": BACKEND,
        "SHARPNOTES_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


def armed(crash_at: str | None) -> list[str]:
    """The command line of `sharpnotes`, armed with a crash plan (ingest/faults.py)."""
    if crash_at is None:
        return [str(SHARPNOTES)]
    return [sys.executable, str(ARMED), crash_at]


def sharpnotes(
    *args: str, environ: dict[str, str], crash_at: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*armed(crash_at), *args], env=environ, capture_output=True, text=True, timeout=300
    )


def killed_after(delay: float, notes: Path, environ: dict[str, str]) -> int:
    """Start an ingest, SIGKILL it after ``delay`` seconds; its return code."""
    proc = subprocess.Popen(
        [str(SHARPNOTES), "ingest", str(notes)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


def fresh_store(settings: Settings, space: str = "chunks") -> VectorStore:
    """A Chroma client that reads the files as they are now (chromadb caches one per path)."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    return open_space(settings, space)


def id_sets(settings: Settings) -> tuple[set[str], set[str], set[str], set[str]]:
    """(catalog, Chroma, BM25, sentence vectors) chunk ids of the index; a chunk with only some
    of its sentences stored counts as a stray id."""
    catalog = open_catalog(settings)
    try:
        in_catalog = set(catalog.chunk_ids())
    finally:
        catalog.close()
    index = bm25.BM25Index.load(settings.index_dir)
    in_bm25 = set(index.ids) if index else set()
    fresh_store(settings, "sentences")
    sentences = open_sentences(settings)
    assert sentences is not None
    complete, present = sentences.held()
    in_sentences = complete | {f"partly stored: {cid}" for cid in present - complete}
    return in_catalog, fresh_store(settings).all_ids(), in_bm25, in_sentences


def clean_ids(notes: Path, settings: Settings, home: Path) -> set[str]:
    """Chunk ids of a full ingest of ``notes`` into an empty home."""
    clean = Settings(
        home=home,
        models_dir=settings.model_cache,
        embed_backend=BACKEND,
        threads=1,
    )
    report = ingest([notes], clean)
    assert report.ok
    ids = id_sets(clean)
    assert ids[0] == ids[1] == ids[2] == ids[3]
    return ids[0]


@pytest.mark.slow
def test_sigkilled_ingest_always_resumes_to_a_clean_index(tmp_path: Path, settings: Settings):
    settings = settings.replace(embed_backend=BACKEND, threads=1)
    corpus = Corpus(tmp_path / "notes")
    first = sharpnotes("ingest", str(corpus.root), environ=env(settings))
    assert first.returncode == 0, first.stderr
    started = time.perf_counter()
    corpus.change(0)
    sharpnotes("ingest", str(corpus.root), environ=env(settings))
    incremental_s = time.perf_counter() - started

    rng = random.Random(SEED)
    plans: list[tuple[str | None, float | None, str]] = [(c, None, what) for c, what in HOOK_PLANS]
    plans.insert(0, ("chroma:1", None, "--rebuild, before the Chroma upsert"))
    plans += [
        (None, rng.uniform(0.4, 1.0) * incremental_s, "at a random moment")
        for _ in range(TIMED_KILLS)
    ]
    failures = []
    killed = 0
    for run, (crash_at, delay, what) in enumerate(plans, start=1):
        corpus.change(run)
        if delay is None:
            args = ["ingest", "--rebuild", str(corpus.root)] if run == 1 else ["ingest"]
            if run != 1:
                args.append(str(corpus.root))
            crashed = sharpnotes(*args, environ=env(settings), crash_at=crash_at)
            code = crashed.returncode
            assert code == -signal.SIGKILL, f"{crash_at} was not reached: {crashed.stderr}"
        else:
            code = killed_after(delay, corpus.root, env(settings))
        killed += code == -signal.SIGKILL
        # the next ingest runs here, as a new process would: a Chroma client made before the kill
        # is dropped first, so it reads the files the killed process left
        fresh_store(settings)
        try:
            resumed = ingest([corpus.root], settings)
        except Exception as exc:  # noqa: BLE001 - every failure is what the test counts
            failures.append(f"run {run} ({crash_at or delay}, {what}): {exc!r}")
            continue
        if not resumed.ok:
            failures.append(f"run {run} ({crash_at or delay}, {what}): {resumed.failed}")
            continue
        in_catalog, in_chroma, in_bm25, in_sentences = id_sets(settings)
        expected = clean_ids(corpus.root, settings, tmp_path / f"clean-{run}")
        if not in_catalog == in_chroma == in_bm25 == in_sentences == expected:
            failures.append(
                f"run {run} ({crash_at or delay}, {what}): catalog {len(in_catalog)}, "
                f"chroma {len(in_chroma)}, bm25 {len(in_bm25)}, "
                f"sentences {len(in_sentences)}, clean {len(expected)}"
            )
            continue
        flat = snapshot.load(settings, bm25.read_pointer(settings.index_dir))
        held = None if flat is None else (set(flat["chunks"].ids), flat["sentences"].ids)
        if held is None or held[0] != expected or complete_chunks(held[1])[0] != expected:
            failures.append(f"run {run} ({crash_at or delay}, {what}): dense snapshot {held}")
            continue
        fresh_store(settings)
        hits = Searcher(settings).search("warmup schedules gradient clipping", k=3)
        if not hits or not all(h.text and h.chunk_id in in_catalog for h in hits):
            failures.append(f"run {run} ({what}): search returned {hits}")
    print(f"crash runs: {len(plans)}, killed: {killed}, failures: {len(failures)}")
    assert not failures, "\n".join(failures)
    assert len(plans) >= 20 and killed >= len(HOOK_PLANS) + 1
    search = sharpnotes("search", "warmup schedules", "--json", environ=env(settings))
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)[0]["text"]


@pytest.mark.slow
def test_lost_vectors_of_a_deleted_note_do_not_outlive_it(tmp_path: Path, settings: Settings):
    """Chroma lost some vectors of a note (an interrupted --rebuild, a restored backup) and the
    note was deleted meanwhile: its other vectors must go too, not linger unknown to the catalog
    (the start-of-run reconcile once deleted stray vectors before forgetting such notes)."""
    settings = settings.replace(embed_backend=BACKEND)
    corpus = Corpus(tmp_path / "notes")
    assert ingest([corpus.root], settings).ok
    catalog = open_catalog(settings)
    lost = sorted(catalog.chunk_ids_of("b/topic-0.md"))[:1]
    catalog.close()
    VectorStore(settings).delete(lost)
    corpus.path(0).unlink()
    assert ingest([corpus.root], settings).ok
    in_catalog, in_chroma, in_bm25, in_sentences = id_sets(settings)
    expected = clean_ids(corpus.root, settings, tmp_path / "clean")
    assert in_catalog == in_chroma == in_bm25 == in_sentences == expected


# stored formats ---------------------------------------------------------------------------------
def test_catalog_written_by_a_newer_sharpnotes_is_refused(settings: Settings) -> None:
    open_catalog(settings).close()
    path = settings.index_dir / "catalog.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(IndexFormatError, match=r"newer sharpnotes \(catalog schema 99 > 1\)"):
        open_catalog(settings)
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 1
    assert "newer sharpnotes" in result.output and "SHARPNOTES_HOME" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_catalog_from_before_schema_versions_is_migrated(settings: Settings) -> None:
    path = settings.index_dir / "catalog.sqlite"
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:  # what sharpnotes wrote before it kept user_version
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('embed_model', 'm')")
    catalog = open_catalog(settings)
    assert catalog.schema_version == 1 and catalog.get_meta("embed_model") == "m"
    assert catalog.counts() == (0, 0)  # the other tables were created
    catalog.close()


def test_bm25_pointer_written_by_a_newer_sharpnotes_is_refused(settings: Settings) -> None:
    index = bm25.BM25Index.build(["a"], ["warmup schedules"], bm25.BM25Params())
    index.save(settings.index_dir)
    pointer = bm25.read_pointer(settings.index_dir)
    assert pointer is not None and pointer["format"] == bm25.POINTER_FORMAT
    del pointer["format"]  # a pointer from before formats were recorded still loads
    (settings.index_dir / bm25.POINTER).write_text(json.dumps(pointer))
    assert bm25.BM25Index.load(settings.index_dir).ids == ["a"]
    (settings.index_dir / bm25.POINTER).write_text(json.dumps({**pointer, "format": 7}))
    with pytest.raises(IndexFormatError, match=r"newer sharpnotes \(BM25 pointer schema 7 > 1\)"):
        bm25.read_pointer(settings.index_dir)


def test_app_state_written_by_a_newer_sharpnotes_is_refused(settings: Settings) -> None:
    gaps.record_gap(settings, "what is a loss spike")
    with sqlite3.connect(settings.paths.home / "state.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2  # v2: barren topics
        db.execute("PRAGMA user_version=9")
    with pytest.raises(StoredFormatError, match=r"state.sqlite was written by a newer sharpnotes"):
        gaps.list_gaps(settings)


def test_conversation_written_by_a_newer_sharpnotes_is_refused(settings: Settings) -> None:
    conv = conversations.Conversation()
    conv.add_turn("why warm up", {"answer": "to avoid loss spikes"})
    path = conversations.save_conversation(settings, conv)
    assert json.loads(path.read_text())["schema"] == conversations.SCHEMA_VERSION
    assert conversations.load_conversation(settings, conv.id).questions == ["why warm up"]
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "schema": 2}))
    with pytest.raises(StoredFormatError, match=r"conversation schema 2 > 1\); upgrade"):
        conversations.load_conversation(settings, conv.id)
    assert conversations.list_conversations(settings) == []  # listed without it, not crashed
