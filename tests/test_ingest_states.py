"""A stateful property test of ingest: hypothesis draws random sequences of what happens to a
notes folder, and of ingests, and checks the index after every step (the way Chroma tests its
own collections with a ``RuleBasedStateMachine``).

The steps: add, edit, duplicate, rename and delete a note; copy a template many times (past the
256-chunk group, so that a later group reuses an earlier one's vectors); move the whole notes
folder; link a note in from inside the folder, or a file or folder in from outside it, or
replace a note by a link out; ingest, and ingest with ``--rebuild``. Everything is real: the
pipeline of ``sharpnotes ingest`` (MiniLM through onnx-int8, Chroma, SQLite, BM25, sentence
vectors) on a fresh home per sequence.

After every step: the catalog, Chroma (chunks and sentences) and BM25 hold the same chunk ids;
the index holds exactly the notes of the last ingest, all from the notes folder it was given;
nothing from outside the folder is indexed; search returns only those notes. Every ingest (and
one more at the end of each sequence) succeeds: no error, no file reported as failed, the links
out reported as such.

Budget: at least ``SHARPNOTES_STATEFUL_STEPS`` steps (200 by default, what ``make test`` runs);
more on demand, e.g. ``SHARPNOTES_STATEFUL_STEPS=2000 pytest tests/test_ingest_states.py -s``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sharpnotes.app.retrieval import Searcher
from sharpnotes.ingest import bm25
from sharpnotes.ingest.index import open_catalog, open_sentences, open_space
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

pytestmark = pytest.mark.slow

STEPS = int(os.environ.get("SHARPNOTES_STATEFUL_STEPS", "200"))  # a test-run budget, not a setting
SECRET = "sk-outside-the-notes-9d2f"  # in every file outside the notes folder
WORDS = [
    "anchor",
    "attention",
    "batch",
    "camera",
    "depth",
    "epoch",
    "feature",
    "gradient",
    "horizon",
    "lidar",
    "momentum",
    "optimizer",
    "pooling",
    "quantize",
    "radar",
    "stride",
    "tensor",
    "voxel",
    "warmup",
    "yaw",
    "注意力",
    "深度",
    "雷達",
]
STEMS = ("alpha", "beta", "gamma", "delta", "日記", "meeting notes", "q&a")
FOLDERS = ("", "sub/", "deep/er/")
TEMPLATE = "# Meeting\n\n## Attendees\n\nNames here.\n\n## Notes\n\nWhat we decided.\n"

words = st.lists(st.sampled_from(WORDS), min_size=3, max_size=10)
bodies = st.lists(words, min_size=1, max_size=3)
names = st.tuples(
    st.sampled_from(FOLDERS), st.sampled_from(STEMS), st.sampled_from([".md", ".txt"])
)

TALLY: Counter[str] = Counter()  # steps run, by rule, over the whole test


def render(title: str, sections: list[list[str]]) -> str:
    parts = [f"## Part {i}\n\n{' '.join(ws)}." for i, ws in enumerate(sections, start=1)]
    return f"# {title}\n\n" + "\n\n".join(parts) + "\n"


class IngestMachine(RuleBasedStateMachine):
    """The model: the notes (relative path -> text), the links made inside the folder (to a
    note) and out of it, and what the last ingest should have indexed."""

    def __init__(self, base: Path, models_dir: Path) -> None:
        super().__init__()
        self.base = base / f"run-{TALLY['runs']}"
        TALLY["runs"] += 1
        self.settings = Settings(
            home=self.base / "home", models_dir=models_dir, embed_backend="onnx-int8", threads=1
        )
        self.root = self.base / "notes-0"
        self.outside = self.base / "outside"
        self.notes: dict[str, str] = {}
        self.links_in: dict[str, str] = {}  # link -> the note it points at
        self.links_out: dict[str, Path] = {}  # link -> what it points at, outside the folder
        self.indexed: set[str] = set()
        self.indexed_root = ""
        self.moves = 0

    # helpers -----------------------------------------------------------------------------
    def step(self, name: str) -> None:
        TALLY["steps"] += 1
        TALLY[name] += 1

    def free_name(self, parts: tuple[str, str, str]) -> str:
        folder, stem, ext = parts
        name, n = f"{folder}{stem}{ext}", 2
        while name in self.notes or name in self.links_in or name in self.links_out:
            name, n = f"{folder}{stem} {n}{ext}", n + 1
        return name

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.notes[rel] = text

    def drop_links_to(self, rel: str) -> None:
        """A link to a note that goes away goes with it (a broken link is a reported failure,
        tested in tests/test_broken_corpus.py, not the success this machine checks)."""
        for link, target in list(self.links_in.items()):
            if target == rel:
                (self.root / link).unlink()
                del self.links_in[link]

    def run_ingest(self, rebuild: bool = False) -> None:
        report = ingest([self.root], self.settings, rebuild=rebuild)
        assert report.failed == [], report.failed
        assert sorted(s for s, _ in report.outside) == sorted(self.links_out)
        assert self.settings.index_dir.exists()
        self.indexed = set(self.notes) | set(self.links_in)
        self.indexed_root = str(self.root.resolve())
        for source in self.indexed:  # each indexed note is a file inside the folder
            real = Path(os.path.realpath(self.root / source))
            assert real.is_relative_to(self.indexed_root) and real.is_file(), source

    # rules -------------------------------------------------------------------------------
    @initialize(first=bodies)
    def start(self, first: list[list[str]]) -> None:
        self.outside.mkdir(parents=True)
        (self.outside / "config.md").write_text(f"# Keys\n\nOPENAI_API_KEY={SECRET}\n")
        (self.outside / "folder").mkdir()
        (self.outside / "folder" / "private.md").write_text(f"# Private\n\n{SECRET} radar.\n")
        self.write("start.md", render("Start", first))
        self.run_ingest()

    @rule(name=names, sections=bodies)
    def add(self, name: tuple[str, str, str], sections: list[list[str]]) -> None:
        self.step("add")
        rel = self.free_name(name)
        self.write(rel, render(rel, sections))

    @precondition(lambda self: self.notes)
    @rule(data=st.data(), sections=bodies)
    def edit(self, data: st.DataObject, sections: list[list[str]]) -> None:
        self.step("edit")
        rel = data.draw(st.sampled_from(sorted(self.notes)))
        self.write(rel, render(rel, sections))

    @precondition(lambda self: self.notes)
    @rule(data=st.data(), name=names)
    def duplicate(self, data: st.DataObject, name: tuple[str, str, str]) -> None:
        self.step("duplicate")
        rel = data.draw(st.sampled_from(sorted(self.notes)))
        self.write(self.free_name(name), self.notes[rel])

    @precondition(lambda self: self.notes)
    @rule(data=st.data(), name=names)
    def rename(self, data: st.DataObject, name: tuple[str, str, str]) -> None:
        self.step("rename")
        rel = data.draw(st.sampled_from(sorted(self.notes)))
        new = self.free_name(name)
        self.drop_links_to(rel)
        (self.root / new).parent.mkdir(parents=True, exist_ok=True)
        (self.root / rel).rename(self.root / new)
        self.notes[new] = self.notes.pop(rel)

    @precondition(lambda self: self.notes)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        self.step("delete")
        rel = data.draw(st.sampled_from(sorted(self.notes)))
        self.drop_links_to(rel)
        (self.root / rel).unlink()
        del self.notes[rel]

    @rule(copies=st.sampled_from([2, 3, 130]))
    def template_copies(self, copies: int) -> None:
        """Daily or meeting notes made from one template: 130 copies are 260 chunks of two
        texts, more than one write group of 256."""
        self.step("template_copies")
        for _ in range(copies):
            self.write(self.free_name(("tpl/", "meeting", ".md")), TEMPLATE)

    @rule()
    def move_root(self) -> None:
        self.step("move_root")
        self.moves += 1
        new = self.base / f"notes-{self.moves}"
        self.root.rename(new)
        self.root = new

    @precondition(lambda self: self.notes)
    @rule(data=st.data(), name=names)
    def link_in(self, data: st.DataObject, name: tuple[str, str, str]) -> None:
        """A link to a note in the same folder: indexed as a note of its own."""
        self.step("link_in")
        target = data.draw(st.sampled_from(sorted(self.notes)))
        link = self.free_name(name)
        path = self.root / link
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(os.path.relpath(self.root / target, path.parent))  # survives a move
        self.links_in[link] = target

    @rule(kind=st.sampled_from(["file", "folder", "replace a note"]), data=st.data())
    def link_out(self, kind: str, data: st.DataObject) -> None:
        """A link that leads out of the notes folder: never read, reported."""
        self.step(f"link_out ({kind})")
        if kind == "replace a note" and self.notes:
            link = data.draw(st.sampled_from(sorted(self.notes)))
            self.drop_links_to(link)
            (self.root / link).unlink()
            del self.notes[link]
        else:
            link = self.free_name(("", "outside", ".md" if kind == "file" else ""))
        target = self.outside / ("folder" if kind == "folder" else "config.md")
        (self.root / link).parent.mkdir(parents=True, exist_ok=True)
        (self.root / link).symlink_to(target, target_is_directory=kind == "folder")
        self.links_out[link] = target

    @rule()
    def reingest(self) -> None:
        self.step("ingest")
        self.run_ingest()

    @rule()
    def rebuild(self) -> None:
        self.step("ingest --rebuild")
        self.run_ingest(rebuild=True)

    # invariants, after every step --------------------------------------------------------
    @invariant()
    def stores_hold_the_same_ids(self) -> None:
        catalog = open_catalog(self.settings)
        try:
            ids = set(catalog.chunk_ids())
        finally:
            catalog.close()
        assert open_space(self.settings).all_ids() == ids
        assert set(bm25.BM25Index.load(self.settings.index_dir).ids) == ids
        sentences = open_sentences(self.settings)
        assert sentences is not None
        complete, present = sentences.held()
        assert complete == present == ids

    @invariant()
    def index_holds_the_last_ingest_and_nothing_from_outside(self) -> None:
        catalog = open_catalog(self.settings)
        try:
            files = catalog.files()
            text = " ".join(r.text for r in catalog.get_chunks(catalog.chunk_ids()).values())
            roots = catalog.roots()
        finally:
            catalog.close()
        assert set(files) == self.indexed
        assert {rec.root for rec in files.values()} <= {self.indexed_root}
        assert roots == [self.indexed_root]
        assert SECRET not in text

    @invariant()
    def search_returns_only_notes_of_the_folder(self) -> None:
        query = " ".join(WORDS[TALLY["steps"] % len(WORDS) :][:3]) + f" OPENAI_API_KEY {SECRET}"
        for hit in Searcher(self.settings).search(query, k=10):
            assert hit.source in self.indexed  # checked to be a file inside at the ingest
            assert SECRET not in hit.text

    def teardown(self) -> None:
        """The next ingest after any sequence succeeds, and leaves the index in step."""
        try:
            if self.root.exists() and self.settings.index_dir.exists():
                self.run_ingest()
                self.stores_hold_the_same_ids()
                self.index_holds_the_last_ingest_and_nothing_from_outside()
        finally:
            from chromadb.api.client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
            shutil.rmtree(self.base, ignore_errors=True)


def test_random_sequences_of_note_changes_and_ingests(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    TALLY.clear()
    started = time.monotonic()
    machine_settings = hsettings(
        max_examples=4,
        stateful_step_count=25,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    while TALLY["steps"] < STEPS:  # until the budget is spent: hypothesis may end a run early
        run_state_machine_as_test(
            lambda: IngestMachine(tmp_path, models_dir), settings=machine_settings
        )
    seconds = time.monotonic() - started
    by_rule = {k: v for k, v in sorted(TALLY.items()) if k not in ("steps", "runs")}
    with capsys.disabled():
        print(
            f"\ningest state machine: {TALLY['steps']} steps in {TALLY['runs']} sequences, "
            f"{seconds:.0f} s, 0 invariant failures; by rule: {by_rule}"
        )
    assert TALLY["steps"] >= STEPS
