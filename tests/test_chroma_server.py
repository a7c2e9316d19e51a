"""SHARPNOTES_CHROMA_HOST/_PORT: the same ingest and search against a real Chroma server (the
`chroma run` that the chromadb package installs), on 127.0.0.1 and a free port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_notes

from app.retrieval import Searcher
from ingest.settings import Settings
from ingest.sync import ingest
from ingest.vectors import VectorStore, VectorStoreError

pytestmark = pytest.mark.slow
CHROMA = Path(sys.executable).with_name("chroma")


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


@pytest.fixture
def chroma_port(tmp_path: Path) -> Iterator[int]:
    if not CHROMA.exists() and not shutil.which("chroma"):
        pytest.skip("the chroma command of the chromadb package is not installed")
    port = free_port()
    server = subprocess.Popen(
        [
            str(CHROMA),
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ingest_and_search_through_a_chroma_server(
    tmp_path: Path, settings: Settings, chroma_port: int
) -> None:
    remote = settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": chroma_port})
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
    remote = settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": free_port()})
    with pytest.raises(VectorStoreError, match="cannot reach the Chroma server at 127.0.0.1"):
        VectorStore(remote)
