"""A corpus of broken files ingests with each failure named on one line, and everything else
indexed and searchable.

Checked in under ``tests/data/broken/``: a truncated PDF, an encrypted PDF (password
``sharpnotes``), a PDF whose page has no text layer, zero-byte ``.md`` and ``.txt`` files, a PNG
named ``.md``, a Latin-1 and a UTF-16 note, and an HTML page named ``.pdf``. Made at test time:
a 50 MB text file, a file symlink loop, a folder symlink back to the root, a folder and a file
without read permission, and files that disappear while the ingest runs.

Tests run as root, for whom ``chmod 000`` stops nothing; the CLI run drops the capabilities that
let root ignore file permissions (``setpriv``, CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH), so
the kernel enforces the modes as it would for any user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sharpnotes.ingest.sync as sync
from conftest import REPO, SAMPLE_NOTES, write_notes
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

BROKEN = REPO / "tests" / "data" / "broken"

# source -> a phrase its reason must contain
EXPECTED = {
    "broken/truncated.pdf": "unreadable PDF",
    "broken/encrypted.pdf": "encrypted PDF",
    "broken/no-text-layer.pdf": "no text layer",
    "broken/empty.md": "empty file",
    "broken/empty.txt": "empty file",
    "broken/binary.md": "binary content",
    "broken/latin1.md": "not valid UTF-8",
    "broken/utf16.txt": "UTF-16",
    "broken/not-a-pdf.pdf": "not a PDF",
    "huge.txt": "50.0 MB is over the 20 MB limit",
    "loop-a.md": "symlink loop",
    "loop-b.md": "symlink loop",
    "locked-note.md": "permission denied",
}
# what the user can do, one of these in every reason
ACTIONS = ("re-save", "save a", "run OCR", "delete", "move it", "raise", "fix", "give your user",
           "rename", "write", "remove the link", "run ingest again")  # fmt: skip


def without_dac_override(command: list[str]) -> list[str]:
    """``command`` so that file permissions apply to it even when the tests run as root."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip(
            "running as root without setpriv (util-linux), so chmod 000 cannot be enforced; "
            "run the tests as a normal user or install util-linux"
        )
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", "--", *command]


def build_corpus(root: Path) -> Path:
    write_notes(root)  # the good notes
    shutil.copytree(BROKEN, root / "broken")
    with (root / "huge.txt").open("w") as fh:  # 50 MB of real text
        line = "A line of a very long text file that nobody should index whole.\n"
        fh.write(line * (50 * 2**20 // len(line) + 1))
    (root / "loop-a.md").symlink_to(root / "loop-b.md")
    (root / "loop-b.md").symlink_to(root / "loop-a.md")
    (root / "again").symlink_to(root, target_is_directory=True)  # a folder loop
    locked = root / "locked"
    locked.mkdir()
    (locked / "private.md").write_text("# Private\n\nThe locked folder's note.\n")
    locked.chmod(0)
    (root / "locked-note.md").write_text("# Locked\n\nA note without read permission.\n")
    (root / "locked-note.md").chmod(0)
    return root


def run_cli(*args: str, unprivileged: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "sharpnotes.app.cli", *args]
    return subprocess.run(
        without_dac_override(command) if unprivileged else command,
        cwd=REPO,
        env=dict(os.environ),  # this test's SHARPNOTES_HOME
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_broken_corpus_names_each_failure_and_indexes_the_rest(tmp_path: Path) -> None:
    corpus = build_corpus(tmp_path / "corpus")
    try:
        done = run_cli("ingest", str(corpus), "--json", unprivileged=True)
    finally:
        (corpus / "locked").chmod(0o755)
        (corpus / "locked-note.md").chmod(0o644)
    assert done.returncode == 3, done.stderr  # the CLI's status for "finished, some files failed"
    report = json.loads(done.stdout)
    failed = {f["source"]: f["reason"] for f in report["failed"]}

    lines = [line for line in done.stderr.splitlines() if line.startswith("skipped ")]
    assert len(lines) == len(failed), done.stderr  # one line per failure
    for source, phrase in EXPECTED.items():
        assert phrase in failed.get(source, ""), (source, failed)
        [line] = [line for line in lines if line.startswith(f"skipped {source}: ")]
        assert phrase in line and any(action in line for action in ACTIONS), line
    folder_failures = {s: r for s, r in failed.items() if s not in EXPECTED}
    assert folder_failures.keys() == {str(corpus / "locked"), str(corpus / "again")}
    assert "cannot list folder: Permission denied" in folder_failures[str(corpus / "locked")]
    assert "symlink loop" in folder_failures[str(corpus / "again")]
    for reason in failed.values():
        assert "\n" not in reason and any(action in reason for action in ACTIONS), reason

    assert sorted(report["added"]) == sorted(SAMPLE_NOTES)  # everything else is indexed
    found = run_cli("search", "Hungarian algorithm non-maximum suppression", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["source"] == "detection/detr.md"
    status = json.loads(run_cli("status", "--json").stdout)
    assert status["files"] == len(SAMPLE_NOTES)

    again = run_cli("ingest", str(corpus), "--json")  # as root now: the locked files are read
    assert again.returncode == 3
    second = json.loads(again.stdout)
    assert sorted(second["added"]) == ["locked-note.md", "locked/private.md"]
    assert second["unchanged"] == len(SAMPLE_NOTES) and not second["removed"]

    (corpus / "locked").chmod(0)  # unreadable again: its note is reported, not dropped
    try:
        third = run_cli("ingest", str(corpus), "--json", unprivileged=True)
    finally:
        (corpus / "locked").chmod(0o755)
    assert third.returncode == 3 and not json.loads(third.stdout)["removed"], third.stdout
    assert json.loads(run_cli("status", "--json").stdout)["files"] == len(SAMPLE_NOTES) + 2


@pytest.mark.slow
def test_files_that_disappear_mid_ingest_are_named_and_the_rest_indexed(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = write_notes(tmp_path / "notes")
    listed_then_gone = notes / "zz-listed-then-gone.md"
    opened_then_gone = notes / "zz-opened-then-gone.md"
    for path in (listed_then_gone, opened_then_gone):
        path.write_text(f"# {path.stem}\n\nThis note is deleted while the ingest runs.\n")

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "files" and done == 1:  # the folder is listed; nothing is read yet
            listed_then_gone.unlink()

    real_read_bytes = sync.read_bytes

    def read_bytes(path: Path, max_bytes: int) -> bytes:
        if path == opened_then_gone:  # looked at already, deleted just before it is opened
            path.unlink()
        return real_read_bytes(path, max_bytes)

    monkeypatch.setattr(sync, "read_bytes", read_bytes)
    report = ingest([notes], settings, progress=progress)
    failed = dict(report.failed)
    assert failed.keys() == {listed_then_gone.name, opened_then_gone.name}
    for reason in failed.values():
        assert reason.startswith("disappeared while ingesting") and "run ingest again" in reason
    assert sorted(report.added) == sorted(SAMPLE_NOTES)

    monkeypatch.setattr(sync, "read_bytes", real_read_bytes)
    again = ingest([notes], settings)
    assert again.ok and again.unchanged == len(SAMPLE_NOTES) and not again.added
