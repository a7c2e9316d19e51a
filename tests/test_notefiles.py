"""Reading a note never leaves the notes root; upload names are plain note file names;
conversations round-trip through atomic JSON files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharpnotes.app import conversations as convs
from sharpnotes.app.notefiles import (
    NoteAccessError,
    read_note,
    resolve_note,
    safe_upload_name,
    unique_path,
)
from sharpnotes.ingest.settings import Settings


@pytest.fixture
def root(tmp_path: Path) -> Path:
    notes = tmp_path / "notes"
    (notes / "detection").mkdir(parents=True)
    (notes / "detection" / "detr.md").write_text("# DETR\nset prediction\n")
    (notes / "paper.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "secret.txt").write_text("password")
    return notes


def test_reads_a_note_inside_the_root(root: Path) -> None:
    assert read_note(root, "detection/detr.md").startswith("# DETR")
    assert resolve_note(root, "detection/./detr.md") == (root / "detection/detr.md").resolve()


@pytest.mark.parametrize(
    "source",
    [
        "../secret.txt",
        "detection/../../secret.txt",
        "..\\secret.txt",
        "/etc/passwd",
        "C:/Windows/win.ini",
        "",
        "detection",  # a folder, not a note
        "missing.md",
        "a\x00b.md",
    ],
)
def test_refuses_paths_that_are_not_notes_in_the_root(root: Path, source: str) -> None:
    with pytest.raises(NoteAccessError):
        read_note(root, source)


def test_refuses_symlinks_that_lead_out_of_the_root(root: Path) -> None:
    (root / "link.md").symlink_to(root.parent / "secret.txt")
    (root / "outdir").symlink_to(root.parent, target_is_directory=True)
    with pytest.raises(NoteAccessError, match="outside"):
        read_note(root, "link.md")
    with pytest.raises(NoteAccessError, match="outside"):
        read_note(root, "outdir/secret.txt")
    (root / "inside.md").symlink_to(root / "detection" / "detr.md")
    assert read_note(root, "inside.md").startswith("# DETR")  # a link within the root is fine


def test_pdfs_are_not_read_as_text(root: Path) -> None:
    with pytest.raises(NoteAccessError, match="PDF"):
        read_note(root, "paper.pdf")


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("notes.md", "notes.md"),
        ("../../etc/evil.md", "evil.md"),
        ("C:\\Users\\me\\Lecture 3.PDF", "Lecture 3.pdf"),
        ("a<script>b.txt", "a_script_b.txt"),
        ("..md", "upload.md"),
        ("  ..hidden.md", "hidden.md"),
        ("多頭注意力.md", "多頭注意力.md"),
    ],
)
def test_upload_names_are_plain_file_names(name: str, clean: str) -> None:
    assert safe_upload_name(name) == clean


@pytest.mark.parametrize("name", ["run.sh", "page.html", "noext", "notes.md.exe", ""])
def test_upload_of_other_types_is_refused(name: str) -> None:
    with pytest.raises(NoteAccessError, match="only"):
        safe_upload_name(name)


def test_unique_path_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("x")
    assert unique_path(tmp_path, "a.md") == tmp_path / "a (2).md"
    assert unique_path(tmp_path, "b.md") == tmp_path / "b.md"


def test_save_uploads_writes_safe_names_and_reports_refused_files(tmp_path: Path) -> None:
    from sharpnotes.app.ui.services import save_uploads

    saved, errors = save_uploads(
        [("../../x.md", b"# x"), ("evil.html", b"<script>"), ("x.md", b"# again")], tmp_path
    )
    assert saved == [tmp_path / "uploads" / "x.md", tmp_path / "uploads" / "x (2).md"]
    assert len(errors) == 1 and "evil.html" in errors[0]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["x (2).md", "x.md"]


def test_an_upload_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    """A write that fails half way (here the kernel's file size limit, RLIMIT_FSIZE, as a disk
    that fills up would) leaves no half note under the upload's name, and no temporary file."""
    import resource
    import signal

    from sharpnotes.app.ui.services import save_uploads

    whole = b"# Big\n\n" + b"A line of a long uploaded note.\n" * 8000  # about 250 kB
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    try:
        saved, errors = save_uploads([("big.md", whole)], tmp_path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert saved == [] and len(errors) == 1
    assert errors[0].startswith("big.md: not saved, cannot write into") and "\n" not in errors[0]
    assert list((tmp_path / "uploads").iterdir()) == []  # no partial note, no leftover

    saved, errors = save_uploads([("big.md", whole)], tmp_path)  # room again: whole, once
    assert errors == [] and saved == [tmp_path / "uploads" / "big.md"]
    assert saved[0].read_bytes() == whole
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == ["big.md"]


def test_conversations_round_trip_and_delete(settings: Settings) -> None:
    conv = convs.Conversation()
    conv.add_turn("What is DETR?", {"answer": "set prediction [1]", "refused": False})
    conv.add_turn("And its loss?", {"answer": "Hungarian [1]", "refused": False})
    path = convs.save_conversation(settings, conv)
    assert path.parent == settings.paths.home / "conversations"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    loaded = convs.load_conversation(settings, conv.id)
    assert loaded.questions == ["What is DETR?", "And its loss?"]
    assert loaded.title == "What is DETR?"
    assert [c.id for c in convs.list_conversations(settings)] == [conv.id]
    assert convs.delete_conversation(settings, conv.id)
    assert convs.list_conversations(settings) == []
    with pytest.raises(ValueError):
        convs.load_conversation(settings, "../../state")
