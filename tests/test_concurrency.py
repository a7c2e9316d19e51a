"""Concurrency: one writer at a time (a second ingest waits or names the holder; a killed holder
leaves nothing stuck), and readers that keep answering while an ingest rewrites the index."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sharpnotes.app.retrieval import Filters, Searcher
from sharpnotes.ingest.index import open_catalog
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import IngestError, ingest

pytestmark = pytest.mark.slow
SHARPNOTES = Path(sys.executable).with_name("sharpnotes")
BACKEND = "onnx-int8"
WORDS = re.findall(
    r"\w+",
    "anchor attention batch camera depth epoch feature gradient horizon lidar momentum "
    "optimizer pooling quantize radar stride tensor voxel warmup yaw",
)


def note(i: int, version: int) -> str:
    rng = random.Random(i * 1000 + version)
    paragraphs = [
        " ".join(rng.choice(WORDS) for _ in range(40)) + f" note{i} revision{version}."
        for _ in range(3)
    ]
    return f"# Note {i}\n\n" + "\n\n## Part\n\n".join(paragraphs) + "\n"


def write(root: Path, i: int, version: int) -> None:
    path = root / f"f{i % 4}" / f"note-{i}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(note(i, version), encoding="utf-8")


def env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SHARPNOTES_HOME": str(settings.paths.home),
        "SHARPNOTES_MODELS_DIR": str(settings.model_cache),
        "SHARPNOTES_EMBED_BACKEND": BACKEND,
        "SHARPNOTES_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        **extra,
    }


def snapshot(settings: Settings) -> dict[str, str]:
    catalog = open_catalog(settings)
    try:
        return {c: r.text for c, r in catalog.get_chunks(catalog.chunk_ids()).items()}
    finally:
        catalog.close()


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.replace(embed_backend=BACKEND, threads=1)


@pytest.mark.parametrize("sharing", ["one shared Searcher", "a Searcher per thread"])
def test_queries_during_an_ingest_see_before_or_after(
    tmp_path: Path, fast: Settings, sharing: str
) -> None:
    notes = tmp_path / "notes"
    for i in range(40):
        write(notes, i, 0)
    assert ingest([notes], fast).ok
    before = snapshot(fast)
    for i in range(0, 10):  # 10 deleted, 10 edited, 15 added
        (notes / f"f{i % 4}" / f"note-{i}.md").unlink()
    for i in range(10, 20):
        write(notes, i, 1)
    for i in range(40, 55):
        write(notes, i, 0)

    shared = Searcher(fast)
    shared.search("warmup", k=5)  # loaded, as the app holds it
    errors: list[str] = []
    results: list[tuple[str, str]] = []
    queries = [0] * 8
    bm25_alone = [0] * 8
    done = threading.Event()

    def reader(t: int) -> None:
        searcher = shared if sharing == "one shared Searcher" else Searcher(fast)
        rng = random.Random(t)
        while True:
            finished = done.is_set()
            query = " ".join(rng.sample(WORDS, 3))
            folder = rng.choice([None, None, "f1"])
            try:
                hits = searcher.search(query, k=8, filters=Filters(folder=folder))
            except Exception as exc:  # noqa: BLE001 - every failure is what the test counts
                errors.append(f"{type(exc).__name__}: {exc}")
                hits = []
            results.extend((h.chunk_id, h.text) for h in hits)
            queries[t] += 1
            bm25_alone[t] += bool(searcher.notices())  # said so, beside the results
            if finished:
                return

    threads = [threading.Thread(target=reader, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    proc = subprocess.run(
        [str(SHARPNOTES), "ingest", str(notes)], env=env(fast), capture_output=True, text=True
    )
    done.set()
    for th in threads:
        th.join(timeout=120)
    assert proc.returncode == 0, proc.stderr
    after = snapshot(fast)
    assert set(after) != set(before)
    skipped = sum(bm25_alone)
    print(
        f"{sharing}: {sum(queries)} queries, {len(results)} results, {len(errors)} errors, "
        f"{skipped} answered by BM25 alone (Chroma read failed during the write)"
    )
    assert errors == []
    assert sum(queries) >= 40, queries
    half = [(cid, text) for cid, text in results if text not in (before.get(cid), after.get(cid))]
    assert half == [], half[:3]
    assert all(text for _, text in results)
    # once the ingest is done, the same searcher answers from the new build
    newest = shared.search("note54 revision0", k=3, mode="bm25")
    assert newest and "note54" in newest[0].text
    dense = {cid for cid, _ in shared.dense_candidates("warmup radar", 500, Filters())}
    assert dense == set(after)  # the dense side sees the new build too, not its old view


def start_holder(notes: Path, settings: Settings) -> subprocess.Popen:
    """An ingest stopped (SIGSTOP) while it holds the lock."""
    holder = subprocess.Popen(
        [str(SHARPNOTES), "ingest", str(notes)],
        env=env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_file = settings.index_dir / "ingest.pid"
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text().strip() == str(holder.pid)):
        assert time.monotonic() < deadline and holder.poll() is None, "holder never locked"
        time.sleep(0.02)
    holder.send_signal(signal.SIGSTOP)
    return holder


def test_second_ingest_names_the_holder_or_waits_for_it(tmp_path: Path, fast: Settings) -> None:
    notes = tmp_path / "notes"
    for i in range(12):
        write(notes, i, 0)
    holder = start_holder(notes, fast)
    try:
        with pytest.raises(IngestError, match=rf"another sharpnotes ingest \(pid {holder.pid}\)"):
            ingest([notes], fast)
        started = time.monotonic()
        with pytest.raises(IngestError, match=r"\(waited 1 s\)"):
            ingest([notes], fast, wait=1)
        assert time.monotonic() - started >= 1
        cli = subprocess.run(
            [str(SHARPNOTES), "ingest", str(notes)], env=env(fast), capture_output=True, text=True
        )
        assert cli.returncode == 1
        assert f"pid {holder.pid}" in cli.stderr and len(cli.stderr.strip().splitlines()) == 1
        waiter = subprocess.Popen(
            [str(SHARPNOTES), "ingest", "--wait", "120", str(notes)],
            env=env(fast),
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)
        assert waiter.poll() is None  # still waiting for the stopped holder
    finally:
        holder.send_signal(signal.SIGCONT)
    assert holder.wait(timeout=300) == 0
    out, _ = waiter.communicate(timeout=300)
    assert waiter.returncode == 0 and "0 added" in out  # it ran after the holder had finished


def test_killed_holder_does_not_leave_the_index_locked(tmp_path: Path, fast: Settings) -> None:
    notes = tmp_path / "notes"
    for i in range(12):
        write(notes, i, 0)
    holder = start_holder(notes, fast)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    report = ingest([notes], fast)  # no wait: the kernel released the lock with the process
    assert report.ok and len(report.added) == 12
    assert not (fast.index_dir / "ingest.pid").exists()
