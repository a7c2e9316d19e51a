"""Every case of issue 17's finding 10, through the real command line (CliRunner or a
subprocess) or the app (AppTest): one line naming the setting, file or folder and what to do,
never a traceback, and nothing stored is lost.

A read-only home and a full disk are real: a read-only bind mount and a small tmpfs, made in a
private mount namespace (``unshare``) that ends with the test, so the machine's own mounts are
never touched; a home without write permission is enforced for root too by dropping the
capabilities that let root ignore file modes (``setpriv``, as tests/test_broken_corpus.py does).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from conftest import REPO, SAMPLE_NOTES, write_notes
from sharpnotes.app.cli import cli
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

BACKEND = "onnx-int8"
MAIN = str(REPO / "app" / "ui" / "main.py")
PYTHON_CLI = f"{sys.executable} -m sharpnotes.app.cli"


def one_line_error(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), text
    assert "Traceback" not in text
    return lines[0]


# ---------------------------------------------------------------- settings at start-up


@pytest.mark.parametrize(
    ("variable", "value", "range_words"),
    [
        ("CANDIDATES", "-5", "greater than or equal to 1"),
        ("REFUSAL_THRESHOLD", "5", "less than or equal to 2.2"),
        ("RRF_K", "0", "greater than or equal to 1"),
        ("CHROMA_PORT", "99999", "less than or equal to 65535"),
        ("DENSE_PRF_ALPHA", "inf", "finite number"),
        ("DENSE_PRF_ALPHA", "nan", "finite number"),
        ("EMBED_BATCH_SIZE", "0", "greater than or equal to 1"),
        ("THREADS", "-3", "greater than or equal to 0"),
        ("RERANK_MODEL", "/nonexistent", "not a folder"),
        ("BM25_WEIGHT", "1.5", "less than or equal to 1"),
        ("APP_PORT", "0", "greater than or equal to 1"),
    ],
)
@pytest.mark.parametrize("command", [["search", "x"], ["ingest", "."], ["status"]])
def test_a_bad_setting_stops_every_command_in_one_line(
    variable: str, value: str, range_words: str, command: list[str]
) -> None:
    result = CliRunner().invoke(cli, command, env={f"SHARPNOTES_{variable}": value})
    assert result.exit_code == 1, result.output
    line = one_line_error(result.output)
    assert line.startswith(f"Error: bad setting: SHARPNOTES_{variable}='{value}': ")
    assert range_words in line


@pytest.mark.parametrize("kind", ["a folder", "missing"])
def test_a_config_file_that_is_not_a_file_is_named(tmp_path: Path, kind: str) -> None:
    target = tmp_path if kind == "a folder" else tmp_path / "nope.env"
    result = CliRunner().invoke(cli, ["status"], env={"SHARPNOTES_CONFIG": str(target)})
    assert result.exit_code == 1
    line = one_line_error(result.output)
    assert f"SHARPNOTES_CONFIG={target} is {kind}" in line and "unset it" in line


# ---------------------------------------------------------------- a home that cannot be written


def _namespace_prefix() -> list[str] | None:
    """A command prefix that runs a shell in a private mount namespace where it may mount."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    prefix = [unshare, "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        prefix.insert(1, "--map-root-user")
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


def in_namespace(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    prefix = _namespace_prefix()
    if prefix is None:
        pytest.skip("needs unshare and a kernel that allows a private mount namespace")
    return subprocess.run(
        [*prefix, "sh", "-c", script], env=env, capture_output=True, text=True, timeout=900
    )


def steps(out: Path) -> dict[str, dict[str, str]]:
    """What each step of a script left: its exit status, stdout and stderr."""
    found: dict[str, dict[str, str]] = {}
    for path in out.iterdir():
        name, kind = path.stem, path.suffix.lstrip(".")
        found.setdefault(name, {})[kind] = path.read_text()
    return found


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "SHARPNOTES_MODELS_DIR": str(settings.model_cache),
        "SHARPNOTES_EMBED_BACKEND": BACKEND,
        "SHARPNOTES_THREADS": "1",
    }


# a shell function: run a command, keep its stdout, stderr and exit status under {out}
STEP = (
    'step() {{ name=$1; shift; "$@" >"{out}/$name.out" 2>"{out}/$name.err"; '
    'echo $? >"{out}/$name.rc"; }}'
)
READ_ONLY_COMMANDS = {
    "ingest-fresh": ("fresh", f"{PYTHON_CLI} ingest {{notes}}"),
    "ingest-built": ("built", f"{PYTHON_CLI} ingest {{notes}}"),
    "status": ("built", f"{PYTHON_CLI} status"),
    "search": ("built", f"{PYTHON_CLI} search detr"),
    "ask": ("built", f"{PYTHON_CLI} ask 'why no nms'"),
}


@pytest.mark.slow
@pytest.mark.parametrize("how", ["read-only mount", "no write permission"])
def test_a_home_that_cannot_be_written_is_named_with_what_to_do(
    tmp_path: Path, settings: Settings, how: str
) -> None:
    fast = settings.replace(embed_backend=BACKEND, threads=1)
    notes = write_notes(tmp_path / "notes")
    homes = tmp_path / "homes"
    assert ingest([notes], fast.replace(home=homes / "built")).ok
    (homes / "fresh").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    lines = [STEP.format(out=out)]
    if how == "read-only mount":
        lines.append(f"mount --bind {homes} {homes} && mount -o remount,bind,ro {homes} || exit 9")
    else:
        for path in [homes, *homes.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        setpriv = shutil.which("setpriv")
        if os.geteuid() == 0 and setpriv is None:
            pytest.skip("root without setpriv cannot have file modes enforced")
        caps = "-dac_override,-dac_read_search,-fowner"
        drop = f"{setpriv} --bounding-set={caps} --inh-caps={caps} --" if os.geteuid() == 0 else ""
    for name, (home, command) in READ_ONLY_COMMANDS.items():
        runner = "" if how == "read-only mount" else drop
        lines.append(
            f"SHARPNOTES_HOME={homes / home} step {name} {runner} {command.format(notes=notes)}"
        )
    script = "\n".join(lines)
    try:
        if how == "read-only mount":
            done = in_namespace(script, cli_env(fast))
        else:
            done = subprocess.run(
                ["sh", "-c", script], env=cli_env(fast), capture_output=True, text=True, timeout=900
            )
    finally:
        for path in [homes, *homes.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert done.returncode == 0, done.stderr
    why = "read-only file system" if how == "read-only mount" else "permission denied"
    for name, step in steps(out).items():
        assert step["rc"].strip() == "1", (name, step)
        line = one_line_error(step["err"])
        assert f"cannot write the index under {homes}" in line and f"({why})" in line, name
        assert "make that folder writable, or set SHARPNOTES_HOME" in line, name
    # nothing stored was lost: the index answers as before once the home is writable again
    again = {"SHARPNOTES_HOME": str(homes / "built"), "SHARPNOTES_EMBED_BACKEND": BACKEND}
    found = CliRunner().invoke(cli, ["search", "detr", "--json"], env=again)
    assert found.exit_code == 0 and json.loads(found.output)


# ---------------------------------------------------------------- a full disk


FULL_DISK = """
{step}
mount -t tmpfs -o size=16m tmpfs {home} || exit 9
step first {cli} ingest {notes}
free=$(df -k --output=avail {home} | tail -1)
fill=$((free - {left}))
[ $fill -gt 0 ] && dd if=/dev/zero of={home}/filler bs=1k count=$fill 2>/dev/null
i=0; while [ $i -lt 60 ]; do i=$((i + 1))
  note="# Fusion $i\\n\\nRadar and lidar fusion note $i about calibration.\\n"
  printf "$note\\n## More $i\\n\\nAnother part $i.\\n" > {notes}/new/n$i.md
done
step full {cli} ingest {notes}
step search-full {cli} search "radar lidar fusion calibration"
rm -f {home}/filler
step resume {cli} ingest {notes} --json
step status {cli} status --json
step search-after {cli} search "radar lidar fusion calibration" --json
cp -a {home} {copy}
"""


@pytest.mark.slow
@pytest.mark.parametrize("left_kb", [0, 300])
def test_a_full_disk_is_named_and_the_next_ingest_finishes(
    tmp_path: Path, settings: Settings, left_kb: int
) -> None:
    fast = settings.replace(embed_backend=BACKEND, threads=1)
    notes = write_notes(tmp_path / "notes")
    (notes / "new").mkdir()
    home, out, copy = tmp_path / "home", tmp_path / "out", tmp_path / "copy"
    home.mkdir()
    out.mkdir()
    script = FULL_DISK.format(
        step=STEP.format(out=out), cli=PYTHON_CLI, home=home, notes=notes, left=left_kb, copy=copy
    )
    done = in_namespace(script, {**cli_env(fast), "SHARPNOTES_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    ran = steps(out)
    assert ran["first"]["rc"].strip() == "0", ran["first"]

    full = ran["full"]
    assert full["rc"].strip() == "1", full
    line = one_line_error(full["err"])
    assert f"the disk holding {home}" in line and "is full" in line
    assert "free some space and run the command again" in line

    # while the disk is full, a search answers or says why not; never BM25 alone in silence
    search = ran["search-full"]
    if search["rc"].strip() == "0":
        notices = [s for s in search["err"].splitlines() if s.strip()]
        assert all(s.startswith("warning: dense search failed, these results come from BM25")
                   for s in notices), search["err"]  # fmt: skip
    else:
        assert "is full" in one_line_error(search["err"])

    resumed = json.loads(ran["resume"]["out"])
    assert ran["resume"]["rc"].strip() == "0" and not resumed["failed"], ran["resume"]
    assert json.loads(ran["status"]["out"])["files"] == len(SAMPLE_NOTES) + 60
    assert ran["search-after"]["rc"].strip() == "0" and not ran["search-after"]["err"].strip()
    assert json.loads(ran["search-after"]["out"])[0]["source"].startswith("new/")

    from test_ingest_safety import assert_in_step  # the copy of the index, after the resume

    assert_in_step(fast.replace(home=copy))


# ---------------------------------------------------------------- a vector store that fails


@pytest.fixture
def broken_store(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An index whose Chroma database and dense snapshot were damaged after the ingest (not a
    mock: the files are overwritten, so every read of the dense side fails)."""
    notes = write_notes(tmp_path / "notes")
    assert ingest([notes], settings).ok
    (settings.index_dir / "chroma" / "chroma.sqlite3").write_bytes(b"not a database any more")
    (held,) = settings.index_dir.glob("dense-*.npz")
    held.write_bytes(b"not a snapshot any more")
    monkeypatch.setenv("SHARPNOTES_NOTES_DIR", str(notes))
    return settings


@pytest.mark.slow
def test_search_says_when_only_bm25_answered(broken_store: Settings) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "sharpnotes.app.cli", "search", "Hungarian matching", "--json"],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0
    assert json.loads(run.stdout)[0]["source"] == "detection/detr.md"  # BM25 still answers
    damaged, line = [s for s in run.stderr.splitlines() if s.strip()]
    assert damaged.startswith("cannot read the dense snapshot ") and "dense-" in damaged
    assert "searching the vector store instead" in damaged and "ingest --check" in damaged
    assert line.startswith("warning: dense search failed, these results come from BM25 alone: ")
    assert "sharpnotes ingest --rebuild" in line

    at = AppTest.from_file(MAIN, default_timeout=120).run().switch_page("views/chat.py").run()
    at.chat_input[0].set_value("Why does DETR not need non-maximum suppression?").run()
    assert not at.exception, at.exception
    assert any("these results come from BM25 alone" in w.value for w in at.warning)


# ---------------------------------------------------------------- uploads into a read-only folder

UPLOAD_SCRIPT = """
import json, sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=120).run()
at = at.switch_page("views/library.py").run()
at.get("file_uploader")[0].set_value([("new.md", b"# New\\n\\nA new note.\\n", "")])
at.run()
next(b for b in at.button if b.label == "Add and index").click().run()
print(json.dumps({
    "exception": [str(e.value) for e in at.exception],
    "errors": [e.value for e in at.error],
}))
"""


@pytest.mark.slow
def test_an_upload_into_a_read_only_notes_folder_is_one_line(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes")
    assert ingest([notes], settings).ok
    for path in [notes, *notes.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    caps = "-dac_override,-dac_read_search,-fowner"
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and setpriv is None:
        pytest.skip("root without setpriv cannot have file modes enforced")
    drop = (
        [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", "--"] if os.geteuid() == 0 else []
    )
    try:
        run = subprocess.run(
            [*drop, sys.executable, "-c", UPLOAD_SCRIPT, MAIN],  # type: ignore[list-item]
            env={**os.environ, "SHARPNOTES_NOTES_DIR": str(notes)},
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        for path in [notes, *notes.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout.splitlines()[-1])
    assert shown["exception"] == []  # was a PermissionError traceback in the browser
    (error,) = shown["errors"]
    assert "new.md: not saved, cannot write into" in error.replace("\\", "")
    assert "make that folder writable" in error
    assert not (notes / "uploads").exists()
    assert sorted(p.relative_to(notes).as_posix() for p in notes.rglob("*.*")) == sorted(
        SAMPLE_NOTES
    )


# ---------------------------------------------------------------- names that talk to the terminal


@pytest.mark.slow
def test_control_characters_in_names_and_notes_reach_the_terminal_escaped(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes")
    (notes / "red\x1b[31mname.md").write_text(
        "# Title \x1b]0;owned\x07\n\nRadar returns and clutter.\n"
    )
    (notes / "two\nlines.md").write_text("")  # empty: reported as skipped, by its name
    env = {**os.environ, "SHARPNOTES_EMBED_BACKEND": BACKEND}
    run = subprocess.run(
        [sys.executable, "-m", "sharpnotes.app.cli", "ingest", str(notes)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0  # an empty note is said, not a failure (placeholders in clones)
    assert "\x1b" not in run.stdout + run.stderr
    assert "skipped two\\nlines.md: empty file" in run.stderr
    found = subprocess.run(
        [sys.executable, "-m", "sharpnotes.app.cli", "search", "radar returns clutter"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert (
        found.returncode == 0
        and "\x1b" not in found.stdout + found.stderr
        and "\x07" not in found.stdout
    )
    assert "red\\x1b[31mname.md" in found.stdout and "Title \\x1b]0;owned\\x07" in found.stdout
