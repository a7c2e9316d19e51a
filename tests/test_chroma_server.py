"""SHARPNOTES_CHROMA_HOST/_PORT: the same ingest and search against a real Chroma server (the
`chroma run` that the chromadb package installs), on 127.0.0.1 and a free port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import write_notes
from sharpnotes.app.retrieval import Searcher
from sharpnotes.ingest import bm25
from sharpnotes.ingest.index import open_catalog
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest
from sharpnotes.ingest.vectors import VectorStore, VectorStoreError

pytestmark = pytest.mark.slow
CHROMA = Path(sys.executable).with_name("chroma")
SHARPNOTES = Path(sys.executable).with_name("sharpnotes")
ARMED = Path(__file__).with_name("armed_cli.py")  # the command line with a crash plan armed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"chroma did not listen on {port}")


def start_server(path: Path, port: int) -> subprocess.Popen:
    if not CHROMA.exists() and not shutil.which("chroma"):
        pytest.skip("the chroma command of the chromadb package is not installed")
    server = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
    except TimeoutError:
        server.kill()
        raise
    return server


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture
def chroma_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    server = start_server(tmp_path / "server", port)
    try:
        yield port
    finally:
        stop_server(server)


def test_ingest_and_search_through_a_chroma_server(
    tmp_path: Path, settings: Settings, chroma_port: int
) -> None:
    remote = settings.replace(chroma_host="127.0.0.1", chroma_port=chroma_port)
    notes = write_notes(tmp_path / "notes")
    first = ingest([notes], remote)
    assert first.ok and first.chunks_embedded > 5
    assert not (remote.index_dir / "chroma").exists()  # vectors went to the server
    store = VectorStore(remote)
    assert (
        store.location == f"http://127.0.0.1:{chroma_port}"
        and store.count() == first.chunks_embedded
    )
    hit = Searcher(remote).search("Hungarian matching one-to-one", k=1, mode="dense")[0]
    assert hit.source == "detection/detr.md"
    (notes / "fundamentals/bias-variance.md").unlink()
    again = ingest([notes], remote)
    assert again.removed == ["fundamentals/bias-variance.md"] and again.chunks_embedded == 0
    assert store.count() == first.chunks_embedded - again.chunks_deleted


def test_unreachable_server_is_a_clear_error(settings: Settings) -> None:
    remote = settings.replace(chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(VectorStoreError, match="cannot reach the Chroma server at 127.0.0.1"):
        VectorStore(remote)


def remote_env(settings: Settings, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SHARPNOTES_HOME": str(settings.paths.home),
        "SHARPNOTES_MODELS_DIR": str(settings.model_cache),
        "SHARPNOTES_CHROMA_HOST": "127.0.0.1",
        "SHARPNOTES_CHROMA_PORT": str(port),
        "SHARPNOTES_EMBED_BACKEND": "onnx-int8",
        **extra,
    }


def wait_stopped(pid: int, seconds: float = 120) -> None:
    """Until the process is stopped (SIGSTOP, state T in /proc)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in "tT":
            return
        time.sleep(0.05)
    raise TimeoutError(f"process {pid} never reached its stop point")


def test_reingest_then_server_dies_mid_ingest_then_resume(tmp_path: Path, settings: Settings):
    settings = settings.replace(embed_backend="onnx-int8")
    port, data = free_port(), tmp_path / "server"
    remote = settings.replace(chroma_host="127.0.0.1", chroma_port=port)
    notes = write_notes(tmp_path / "notes")
    server = start_server(data, port)
    try:
        first = ingest([notes], remote)
        assert first.ok and first.chunks_embedded > 5
        detr = notes / "detection/detr.md"  # one section edited: one chunk embedded again
        detr.write_text(detr.read_text().replace("generalized IoU", "generalized IoU and focal"))
        edited = ingest([notes], remote)
        assert edited.updated == ["detection/detr.md"] and edited.unchanged == 4
        assert edited.chunks_embedded == 1 and edited.chunks_deleted == 1

        catalog = open_catalog(remote)
        before = set(catalog.chunk_ids())
        catalog.close()
        write_notes(notes, {"inbox/new.md": "# New\n\nLiDAR returns are sparse at long range.\n"})
        (notes / "inbox/todo.txt").write_text("Write up BEVFormer's temporal self-attention.\n")
        # the ingest stops itself just before its Chroma write; the server goes away meanwhile
        proc = subprocess.Popen(
            [sys.executable, str(ARMED), "chroma:1:stop", "ingest", str(notes)],
            env=remote_env(settings, port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_stopped(proc.pid)
    finally:
        stop_server(server)
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert len(err.strip().splitlines()) == 1, err
    assert f"cannot reach the Chroma server at 127.0.0.1:{port}" in err
    assert "start it (chroma run" in err and "run the command again" in err

    catalog = open_catalog(remote)
    assert catalog.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert set(catalog.chunk_ids()) == before  # nothing of the failed run was committed
    catalog.close()

    server = start_server(data, port)
    try:
        resumed = ingest([notes], remote)
        assert resumed.ok and resumed.added == ["inbox/new.md"]
        assert resumed.updated == ["inbox/todo.txt"]
        catalog = open_catalog(remote)
        in_catalog = set(catalog.chunk_ids())
        catalog.close()
        in_server = VectorStore(remote).all_ids()
        in_bm25 = set(bm25.BM25Index.load(remote.index_dir).ids)
        clean = Settings(
            home=tmp_path / "clean", models_dir=settings.model_cache, embed_backend="onnx-int8"
        )
        assert ingest([notes], clean).ok
        expected = set(VectorStore(clean).all_ids())
        assert in_catalog == in_server == in_bm25 == expected
        hit = Searcher(remote).search("sparse LiDAR returns at long range", k=1)[0]
        assert hit.source == "inbox/new.md"
    finally:
        stop_server(server)
