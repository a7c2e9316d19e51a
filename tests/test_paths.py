"""Opening or previewing a source reads only files under the notes root, and uploaded file names
become plain names inside the uploads folder. Each way out is tried on real files and links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sharpnotes.app.notefiles import (
    MAX_NAME,
    MAX_NAME_BYTES,
    NoteAccessError,
    read_note,
    safe_upload_name,
)
from sharpnotes.app.ui.services import save_uploads

SECRET = "the content of a file outside the notes"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """``tmp/notes`` with one note, next to ``tmp/outside`` holding a secret."""
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "sub" / "note.md").write_text("# Note\n\ninside the root\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(SECRET)
    return notes


def refused(root: Path, source: str, match: str) -> None:
    with pytest.raises(NoteAccessError, match=match) as info:
        read_note(root, source)
    message = str(info.value)
    assert "\n" not in message and SECRET not in message


def test_a_note_inside_the_root_is_read(root: Path) -> None:
    assert "inside the root" in read_note(root, "sub/note.md")
    assert "inside the root" in read_note(root, "sub/./note.md")
    linked_root = root.parent / "notes-link"  # the root itself may be reached through a link
    linked_root.symlink_to(root, target_is_directory=True)
    assert "inside the root" in read_note(linked_root, "sub/note.md")


@pytest.mark.parametrize(
    "source",
    ["../outside/secret.md", "sub/../../outside/secret.md", "..\\outside\\secret.md", "sub/.."],
)
def test_dot_dot_is_refused(root: Path, source: str) -> None:
    refused(root, source, r"'\.\.' is not allowed")


@pytest.mark.parametrize(
    "source",
    ["/etc/passwd", "{outside}/secret.md", "C:/Windows/win.ini", "c:x.md", "\\\\host\\s\\a.md"],
)
def test_absolute_paths_are_refused(root: Path, source: str) -> None:
    source = source.format(outside=root.parent / "outside")
    refused(root, source, "absolute paths are not notes")


def test_file_symlink_out_of_the_root_is_refused(root: Path) -> None:
    (root / "leak.md").symlink_to(root.parent / "outside" / "secret.md")
    refused(root, "leak.md", "outside the notes root")
    # a chain: a link inside pointing at a link inside pointing out
    (root / "sub" / "hop.md").symlink_to(root / "leak.md")
    refused(root, "sub/hop.md", "outside the notes root")
    # a relative link climbing out
    (root / "sub" / "rel.md").symlink_to(Path("..") / ".." / "outside" / "secret.md")
    refused(root, "sub/rel.md", "outside the notes root")


def test_folder_symlink_out_of_the_root_is_refused(root: Path) -> None:
    (root / "elsewhere").symlink_to(root.parent / "outside", target_is_directory=True)
    refused(root, "elsewhere/secret.md", "outside the notes root")
    (root / "etc").symlink_to("/etc", target_is_directory=True)
    refused(root, "etc/passwd", "outside the notes root")


def test_symlinks_within_the_root_are_followed(root: Path) -> None:
    (root / "alias.md").symlink_to(root / "sub" / "note.md")
    (root / "same").symlink_to(root / "sub", target_is_directory=True)
    assert "inside the root" in read_note(root, "alias.md")
    assert "inside the root" in read_note(root, "same/note.md")


def test_nul_loops_long_names_and_non_files_are_refused(root: Path) -> None:
    refused(root, "sub/note.md\x00.txt", "NUL character")
    refused(root, "", "empty note path")
    (root / "a.md").symlink_to(root / "b.md")
    (root / "b.md").symlink_to(root / "a.md")
    refused(root, "a.md", "cannot open|no such note")
    refused(root, "x" * 5000 + ".md", "cannot open")
    refused(root, "sub", "no such note")  # a folder
    refused(root, "missing.md", "no such note")
    os.mkfifo(root / "pipe.md")  # reading a FIFO would block forever
    refused(root, "pipe.md", "no such note")
    with pytest.raises(NoteAccessError, match="missing-root"):
        read_note(root.parent / "missing-root", "sub/note.md")


def test_unreadable_note_is_a_clear_error(root: Path) -> None:
    (root / "doc.pdf").write_bytes(b"%PDF-1.4")
    refused(root, "doc.pdf", "a PDF; open it in a PDF viewer")
    big = root / "big.md"
    big.write_text("x" * 2000)
    with pytest.raises(NoteAccessError, match="larger than"):
        read_note(root, "big.md", max_bytes=1000)


# ------------------------------------------------------------------ upload names


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("../../etc/passwd.md", "passwd.md"),
        ("/etc/cron.d/job.md", "job.md"),
        ("C:\\Users\\me\\Desktop\\week 3.TXT", "week 3.txt"),
        ("..／..／fullwidth.md", "fullwidth.md"),  # NFKC turns the fullwidth slash into '/'
        (".bashrc.md", "bashrc.md"),
        ("...md", "upload.md"),
        ("CON.md", "CON_.md"),
        ("nul.txt", "nul_.txt"),
        ("com1.pdf", "com1_.pdf"),
        ("Lpt9.md", "Lpt9_.md"),
        ("多頭注意力 筆記.md", "多頭注意力 筆記.md"),
        ("\u202egpj.md", "gpj.md"),  # a right-to-left override cannot disguise the type
        ("a\x00b.md", "a_b.md"),
        ("<img src=x onerror=alert(1)>.md", "img src_x onerror_alert_1.md"),
    ],
)
def test_upload_names_are_sanitized(name: str, clean: str) -> None:
    assert safe_upload_name(name) == clean


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/shadow", "x.md\x00.exe", "evil.md.sh", "page.html", ""]
)
def test_uploads_that_are_not_notes_are_refused(name: str) -> None:
    with pytest.raises(NoteAccessError, match="only .md, .txt, .pdf"):
        safe_upload_name(name)


def test_very_long_names_fit_a_file_system(tmp_path: Path) -> None:
    latin = safe_upload_name("a" * 1000 + ".md")
    cjk = safe_upload_name("注" * 1000 + ".md")
    assert len(latin) == MAX_NAME + 3
    assert len(cjk.encode()) <= MAX_NAME_BYTES + 3 and cjk.endswith(".md")
    saved, errors = save_uploads(
        [("a" * 1000 + ".md", b"# a"), ("注" * 1000 + ".md", b"# b")], tmp_path
    )
    assert not errors and [p.name for p in saved] == [latin, cjk]
    assert all(p.read_bytes().startswith(b"# ") for p in saved)


def test_hostile_uploads_land_only_in_the_uploads_folder(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    names = ["../../escape.md", "/abs.md", "..\\..\\win.md", ".hidden.md", "CON.md", "x.md"]
    saved, errors = save_uploads([(n, b"# hi") for n in names], notes)
    assert not errors and len(saved) == len(names)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(files) == sorted(saved)
    assert all(p.parent == notes / "uploads" for p in saved)
    assert not any(p.name.startswith(".") for p in saved)
