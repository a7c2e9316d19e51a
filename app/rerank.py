"""Optional rerank stage over the fused candidates: a local sentence-transformers CrossEncoder.

Off by default (no cross-encoder installs with its weights from PyPI). Set
``SHARPNOTES_RERANK_MODEL`` to a CrossEncoder folder and the ``SHARPNOTES_RERANK_DEPTH`` best fused
passages are re-scored by it and re-ordered; the model is never fetched from a hub.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from sharpnotes.ingest.settings import Settings


class RerankModelError(RuntimeError):
    """The configured reranker cannot be loaded; the message says what to set."""


class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    def score(self, query: str, passages: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    def __init__(self, folder: Path, threads: int, batch_size: int = 16) -> None:
        if not folder.is_dir():
            raise RerankModelError(
                f"SHARPNOTES_RERANK_MODEL={folder} is not a folder; point it at a saved "
                "sentence-transformers CrossEncoder, or unset it to search without reranking"
            )
        import torch
        from sentence_transformers import CrossEncoder

        if threads:
            torch.set_num_threads(threads)
        try:
            self.model = CrossEncoder(str(folder), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise RerankModelError(
                f"cannot load a CrossEncoder from {folder} ({exc}); "
                "set SHARPNOTES_RERANK_MODEL to a folder saved by CrossEncoder.save()"
            ) from exc
        self.batch_size = batch_size

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        pairs = [(query, p) for p in passages]
        scores = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in scores]


_LOADED: dict[tuple[str, int], Reranker] = {}
_LOADING = threading.Lock()


def load_reranker(settings: Settings) -> Reranker | None:
    """The configured reranker (loaded once per process), or None when reranking is off."""
    if settings.retrieval.rerank_model is None:
        return None
    from sharpnotes.ingest.machine import thread_count

    key = (
        str(Path(settings.retrieval.rerank_model).expanduser().resolve()),
        thread_count(settings),
    )
    with _LOADING:
        if key not in _LOADED:
            _LOADED[key] = CrossEncoderReranker(Path(key[0]), key[1])
        return _LOADED[key]


def rerank_order(
    reranker: Reranker, query: str, passages: Sequence[str]
) -> list[tuple[int, float]]:
    """(index into ``passages``, reranker score), best first; ties keep the fused order."""
    scores = reranker.score(query, passages)
    return sorted(enumerate(scores), key=lambda pair: (-pair[1], pair[0]))
