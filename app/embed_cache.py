"""A per-process cache of text vectors, keyed by embedder and text: the same passages come back
for related questions, and the answer check embeds the units the generator already scored."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sharpnotes.ingest.embedders import Embedder

_CACHE: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
_CACHE_SIZE = 4096
_CACHE_LOCK = threading.Lock()


def embed_cached(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """``embedder.embed`` with a least-recently-used cache by text."""
    with _CACHE_LOCK:
        missing = list(dict.fromkeys(t for t in texts if (id(embedder), t) not in _CACHE))
    if missing:
        vectors = embedder.embed(missing)
        with _CACHE_LOCK:
            for text, vector in zip(missing, vectors, strict=True):
                _CACHE[(id(embedder), text)] = vector
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    with _CACHE_LOCK:
        out = []
        for text in texts:
            vector = _CACHE.get((id(embedder), text))
            if vector is None:  # evicted by another thread meanwhile
                vector = embedder.embed([text])[0]
            out.append(vector)
    return np.stack(out)
