"""What a hostile corpus or an unlucky user did to ingest (issue 17), each through the real
pipeline (MiniLM through onnx-int8, Chroma, SQLite, BM25) or the real command line:

- identical notes and template copies (the same chunk text under many ids) ingest again and again,
  in one run or across runs, on a fresh home and with ``--rebuild``;
- a FIFO or a link to ``/dev/zero`` named ``*.md`` is refused before anything is read, and the
  lock is free afterwards;
- links that lead out of the notes folder (a file, a folder) are never read, and a note that
  becomes such a link leaves the index;
- a moved notes folder is followed, not listed twice; two folders holding the same path are
  refused with the command to run;
- the index is readable by its owner only.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import SAMPLE_NOTES, run_cli, write_notes
from sharpnotes.app.retrieval import Searcher
from sharpnotes.ingest import bm25
from sharpnotes.ingest.index import open_catalog, open_sentences, open_space
from sharpnotes.ingest.readers import SkipFile
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

BACKEND = "onnx-int8"  # torch-free: the subprocesses start in about a second
DAILY = "# Daily\n\n## Reflection\n\nWhat went well today.\n"
MEETING = "# Meeting\n\n## Attendees\n\nNames here.\n\n## Notes\n\nWhat we decided.\n"
SECRET = "sk-sharpnotes-do-not-index-4c1d"


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.replace(embed_backend=BACKEND, threads=1)


def cli(*args: str, settings: Settings, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "SHARPNOTES_HOME": str(settings.paths.home),
        "SHARPNOTES_MODELS_DIR": str(settings.model_cache),
        "SHARPNOTES_EMBED_BACKEND": BACKEND,
        "SHARPNOTES_THREADS": "1",
    }
    return run_cli(*args, env=env, timeout=timeout)


def held_ids(settings: Settings) -> dict[str, set[str]]:
    """The chunk ids of the catalog, the Chroma chunk vectors, BM25 and the sentence vectors."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # read the files as they are now
    catalog = open_catalog(settings)
    try:
        ids = {"catalog": set(catalog.chunk_ids())}
    finally:
        catalog.close()
    ids["chroma"] = open_space(settings).all_ids()
    ids["bm25"] = set(bm25.BM25Index.load(settings.index_dir).ids)
    sentences = open_sentences(settings)
    assert sentences is not None
    complete, present = sentences.held()
    ids["sentences"] = complete | {f"partly: {c}" for c in present - complete}
    return ids


def assert_in_step(settings: Settings) -> set[str]:
    ids = held_ids(settings)
    assert ids["catalog"] == ids["chroma"] == ids["bm25"] == ids["sentences"], {
        k: len(v) for k, v in ids.items()
    }
    return ids["catalog"]


def indexed_sources(settings: Settings) -> dict[str, str]:
    catalog = open_catalog(settings)
    try:
        return {source: rec.root for source, rec in catalog.files().items()}
    finally:
        catalog.close()


def all_text(settings: Settings) -> str:
    catalog = open_catalog(settings)
    try:
        return "\n".join(row.text for row in catalog.get_chunks(catalog.chunk_ids()).values())
    finally:
        catalog.close()


# ---------------------------------------------------------------- identical notes, templates


@pytest.mark.slow
def test_identical_notes_ingest_again_and_again_through_the_cli(
    tmp_path: Path, fast: Settings
) -> None:
    """The issue's reproduction: one note, then two copies of it; every later ingest failed."""
    notes = tmp_path / "n"
    notes.mkdir()
    (notes / "a.md").write_text(DAILY)
    assert cli("ingest", str(notes), settings=fast).returncode == 0
    (notes / "b.md").write_text(DAILY)
    (notes / "c.md").write_text(DAILY)
    for _ in range(2):
        run = cli("ingest", str(notes), "--json", settings=fast)
        assert run.returncode == 0, run.stderr
        assert "Error" not in run.stderr and "Traceback" not in run.stderr
    assert set(indexed_sources(fast)) == {"a.md", "b.md", "c.md"}
    assert len(assert_in_step(fast)) == 3
    found = json.loads(cli("search", "what went well", "--json", settings=fast).stdout)
    assert {r["source"] for r in found} == {"a.md", "b.md", "c.md"}


@pytest.mark.slow
def test_three_hundred_template_notes_on_a_fresh_home_and_rebuilt(
    tmp_path: Path, fast: Settings
) -> None:
    """Past 256 chunks a later batch reused the vectors of an earlier one and asked Chroma for
    the same id several times; the same two texts are now embedded once each."""
    notes = tmp_path / "vault"
    notes.mkdir()
    for i in range(300):
        (notes / f"meeting-{i:03}.md").write_text(MEETING)
    for rebuild in (False, True):
        report = ingest([notes], fast, rebuild=rebuild)
        assert report.ok and len(report.added) == 300, report.summary()
        assert report.chunks_embedded == 2 and report.chunks_reused == 598
        assert len(assert_in_step(fast)) == 600
    (notes / "meeting-300.md").write_text(MEETING)  # one more copy, in a later run
    report = ingest([notes], fast)
    assert report.ok and report.added == ["meeting-300.md"] and report.chunks_embedded == 0
    assert len(assert_in_step(fast)) == 602


@pytest.mark.slow
def test_a_note_that_repeats_a_section_and_its_copies(tmp_path: Path, fast: Settings) -> None:
    """Two identical sections in one note have the same source, heading and text: they still
    get two ids, in the note and in each copy of it."""
    twice = "# Log\n\n## Standup\n\nNothing blocked.\n\n## Standup\n\nNothing blocked.\n"
    notes = write_notes(tmp_path / "notes", {"log.md": twice, "copy/log.md": twice})
    report = ingest([notes], fast)
    assert report.ok and report.chunks_embedded == 1
    assert len(assert_in_step(fast)) == 4
    (notes / "third.md").write_text(twice)
    assert ingest([notes], fast).ok
    assert len(assert_in_step(fast)) == 6


# ---------------------------------------------------------------- files that never end


def test_devices_and_fifos_are_refused_before_a_byte_is_read(tmp_path: Path) -> None:
    from sharpnotes.ingest.readers import read_bytes

    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    with pytest.raises(SkipFile, match=r"not a regular file \(a FIFO\)"):
        read_bytes(fifo, 2**20)
    with pytest.raises(SkipFile, match=r"not a regular file \(a device\)"):
        read_bytes(Path("/dev/zero"), 2**20)  # a read that never ends
    big = tmp_path / "big.md"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(SkipFile, match="over the 0 MB limit"):
        read_bytes(big, 1024)


@pytest.mark.slow
def test_a_fifo_and_a_link_to_dev_zero_do_not_hang_ingest(tmp_path: Path, fast: Settings) -> None:
    notes = write_notes(tmp_path / "notes")
    os.mkfifo(notes / "pipe.md")
    (notes / "zero.md").symlink_to("/dev/zero")
    run = cli("ingest", str(notes), "--json", settings=fast, timeout=120)  # hung forever before
    assert run.returncode == 3, run.stderr
    report = json.loads(run.stdout)
    assert {f["source"]: f["reason"] for f in report["failed"]} == {
        "pipe.md": "not a regular file (a FIFO); delete it or rename it without a note "
        "extension (.md, .txt, .pdf)"
    }
    assert report["outside"] == [{"source": "zero.md", "target": "/dev/zero"}]
    assert sorted(report["added"]) == sorted(SAMPLE_NOTES)
    again = cli("ingest", str(notes), "--json", settings=fast, timeout=120)  # the lock is free
    assert again.returncode == 3 and json.loads(again.stdout)["unchanged"] == len(SAMPLE_NOTES)


# ---------------------------------------------------------------- links out of the folder


@pytest.mark.slow
def test_links_out_of_the_notes_folder_are_never_read(tmp_path: Path, fast: Settings) -> None:
    notes = write_notes(tmp_path / "notes")
    elsewhere = tmp_path / "config"
    elsewhere.mkdir()
    (elsewhere / "config.md").write_text(f"# Keys\n\nSHARPNOTES_OPENAI_API_KEY={SECRET}\n")
    (notes / "keys.md").symlink_to(elsewhere / "config.md")
    (notes / "linked-folder").symlink_to(elsewhere, target_is_directory=True)
    (notes / "alias.md").symlink_to(notes / "fundamentals" / "bias-variance.md")  # inside: kept

    run = cli("ingest", str(notes), "--json", settings=fast)
    assert run.returncode == 0, run.stderr
    assert SECRET not in all_text(fast)
    assert set(indexed_sources(fast)) == {*SAMPLE_NOTES, "alias.md"}
    assert_in_step(fast)
    report = json.loads(run.stdout)
    assert sorted((o["source"], o["target"]) for o in report["outside"]) == [
        ("keys.md", str(elsewhere / "config.md")),
        ("linked-folder", str(elsewhere)),
    ]
    assert "skipped keys.md: a link to" in run.stderr and "outside the notes folder" in run.stderr
    hits = Searcher(fast).search(f"OPENAI_API_KEY {SECRET}", k=20)
    assert all(SECRET not in h.text for h in hits)

    # a note that was indexed, then replaced by a link out, leaves the index
    (notes / "inbox" / "todo.txt").unlink()
    (notes / "inbox" / "todo.txt").symlink_to(elsewhere / "config.md")
    report = ingest([notes], fast)
    assert report.removed == ["inbox/todo.txt"]
    assert ("inbox/todo.txt", str(elsewhere / "config.md")) in report.outside
    assert "inbox/todo.txt" not in indexed_sources(fast) and SECRET not in all_text(fast)
    assert_in_step(fast)


# ---------------------------------------------------------------- a moved notes folder


@pytest.mark.slow
def test_a_moved_notes_folder_is_followed(tmp_path: Path, fast: Settings) -> None:
    old = write_notes(tmp_path / "notes")
    assert ingest([old], fast).ok
    before = assert_in_step(fast)
    new = tmp_path / "moved" / "notes"
    new.parent.mkdir()
    old.rename(new)
    (new / "inbox" / "todo.txt").unlink()  # one note was deleted on the way

    status = cli("status", settings=fast)
    assert f"notes folder {old} is missing" in status.stderr
    assert "run: sharpnotes ingest NEW-FOLDER" in status.stderr
    run = cli("ingest", str(new), "--json", settings=fast)
    assert run.returncode == 0, run.stderr  # was 3: every note "skipped: same relative path"
    report = json.loads(run.stdout)
    assert report["moved"] == [{"from": str(old), "to": str(new)}]
    assert report["removed"] == ["inbox/todo.txt"] and report["chunks_embedded"] == 0
    assert report["unchanged"] == len(SAMPLE_NOTES) - 1
    assert f"notes folder moved: {old} -> {new}" in run.stderr
    assert set(indexed_sources(fast).values()) == {str(new)}
    assert json.loads(cli("status", "--json", settings=fast).stdout)["roots"] == [str(new)]
    assert assert_in_step(fast) < before  # the deleted note's chunks only are gone

    again = cli("ingest", str(new), "--json", settings=fast)
    assert again.returncode == 0 and not json.loads(again.stdout)["moved"]


@pytest.mark.slow
def test_a_deleted_notes_folder_leaves_the_index(tmp_path: Path, fast: Settings) -> None:
    """Its notes cannot be opened any more: search must not keep returning them."""
    gone = write_notes(tmp_path / "old", {"old/a.md": "# Old\n\nA note about radar.\n"})
    kept = write_notes(tmp_path / "kept")
    assert ingest([gone], fast).ok and ingest([kept], fast).ok
    for path in sorted(gone.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    gone.rmdir()
    run = cli("ingest", str(kept), "--json", settings=fast)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["vanished"] == [{"folder": str(gone), "notes": 1}]
    assert f"notes folder {gone} is gone: its 1 notes left the index" in run.stderr
    assert set(indexed_sources(fast)) == set(SAMPLE_NOTES)
    assert json.loads(cli("status", "--json", settings=fast).stdout)["roots"] == [str(kept)]
    assert_in_step(fast)


@pytest.mark.slow
def test_two_folders_with_the_same_note_path_say_what_to_run(
    tmp_path: Path, fast: Settings
) -> None:
    first = write_notes(tmp_path / "first")
    second = write_notes(tmp_path / "second", {"inbox/todo.txt": "Another todo list.\n"})
    assert ingest([first], fast).ok
    run = cli("ingest", str(second), "--json", settings=fast)
    assert run.returncode == 3
    (line,) = [s for s in run.stderr.splitlines() if s.startswith("skipped inbox/todo.txt")]
    assert f"already indexed from {first}" in line
    assert f"sharpnotes ingest --rebuild {second}" in line
    assert indexed_sources(fast)["inbox/todo.txt"] == str(first)  # nothing indexed is lost


# ---------------------------------------------------------------- who can read the index


def modes(folder: Path) -> dict[str, int]:
    out = {folder.name: stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        if not path.is_symlink():
            out[str(path.relative_to(folder))] = stat.S_IMODE(path.stat().st_mode)
    return out


@pytest.mark.slow
def test_the_index_is_readable_by_its_owner_only(tmp_path: Path, fast: Settings) -> None:
    old_umask = os.umask(0o022)  # what most users have: files 644, folders 755
    try:
        notes = write_notes(tmp_path / "notes")
        assert not fast.paths.home.exists()
        assert ingest([notes], fast).ok
        assert stat.S_IMODE(fast.paths.home.stat().st_mode) == 0o700
        found = modes(fast.index_dir)
        assert {"catalog.sqlite", "chroma", "bm25.json"} <= found.keys()
        loose = {p: oct(m) for p, m in found.items() if m & 0o077}
        assert not loose, loose

        # an index written by an older sharpnotes (group and others could read it) is tightened
        for path in [fast.index_dir, *fast.index_dir.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (notes / "inbox" / "new.md").write_text("# New\n\nA note added later.\n")
        assert ingest([notes], fast).ok
        loose = {p: oct(m) for p, m in modes(fast.index_dir).items() if m & 0o077}
        assert not loose, loose
    finally:
        os.umask(old_umask)


def test_your_answers_are_readable_by_you_only(tmp_path: Path) -> None:
    """The review history, the mock sessions and the app state hold what you answered: their
    SQLite files (and WAL files) are 0600 in a 0700 home, made so under a 022 umask."""
    from sharpnotes.app import gaps
    from sharpnotes.app.mock import sessions
    from sharpnotes.app.quiz.store import open_store

    settings = Settings(home=tmp_path / "home")
    old_umask = os.umask(0o022)
    try:
        with open_store(settings) as store:
            assert store.counts()["total"] == 0
        gaps.record_gap(settings, "What is a wide and deep network?")
        with sessions._connect(settings):  # what saving a mock opens
            pass
        assert stat.S_IMODE(settings.paths.home.stat().st_mode) == 0o700
        found = modes(settings.paths.home)
        assert {"review.sqlite", "mock.sqlite", "state.sqlite"} <= found.keys()
        loose = {p: oct(m) for p, m in found.items() if m & 0o077}
        assert not loose, loose
        # a store an older sharpnotes made readable by others is tightened when opened
        (settings.paths.home / "review.sqlite").chmod(0o644)
        with open_store(settings):
            pass
        assert stat.S_IMODE((settings.paths.home / "review.sqlite").stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)
