"""The BM25 side of the index: a tokenizer for mixed English / CJK notes and a bm25s index
persisted beside the vector store.

Each build goes to a new folder ``bm25-<generation>``; ``bm25.json`` names the current one and is
replaced atomically, so a reader never sees a half-written index and a crash leaves the old one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ingest.atomic import fsync_path, write_json_atomic

TOKENIZER_VERSION = 1
POINTER = "bm25.json"

# Latin letters/digits as words; runs of CJK ideographs, kana and hangul as separate runs.
_TOKEN = re.compile(
    r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]+"
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")


def _bm25s():  # type: ignore[no-untyped-def]
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
    return bm25s


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    """English words are lower-cased, stop-word filtered and Snowball-stemmed; CJK runs become
    overlapping character bigrams (a lone character stays a unigram), as in Lucene's CJK
    analyzer, which needs no dictionary and works for Traditional and Simplified Chinese."""
    stop = _stopwords()
    words: list[str] = []
    tokens: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        run = match.group(0)
        if _CJK.match(run):
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif run not in stop:
            words.append(run)
    return _stemmer().stemWords(words) + tokens


@dataclass
class BM25Params:
    k1: float = 1.2
    b: float = 0.75
    method: str = "lucene"


class BM25Index:
    """A bm25s retriever plus the chunk ids in its document order."""

    def __init__(self, retriever, ids: list[str], params: dict) -> None:  # type: ignore[no-untyped-def]
        self.retriever = retriever
        self.ids = ids
        self.params = params

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], params: BM25Params) -> BM25Index:
        bm25s = _bm25s()
        retriever = None
        if texts:  # bm25s cannot index an empty corpus; an empty index scores nothing
            retriever = bm25s.BM25(k1=params.k1, b=params.b, method=params.method)
            retriever.index([tokenize(t) for t in texts], show_progress=False)
        meta = {"tokenizer_version": TOKENIZER_VERSION, **params.__dict__}
        return cls(retriever, list(ids), meta)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document, in ``self.ids`` order."""
        if self.retriever is None:
            return np.zeros(0, dtype=np.float32)
        tokens = [t for t in tokenize(query) if t in self.retriever.vocab_dict]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return self.retriever.get_scores(tokens)

    # persistence ------------------------------------------------------------------------------
    def save(self, index_dir: Path) -> None:
        """Write a new generation, fsync it, then switch the pointer to it atomically."""
        current = read_pointer(index_dir)
        generation = (current or {}).get("generation", 0) + 1
        folder = index_dir / f"bm25-{generation}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        if self.retriever is not None:
            self.retriever.save(str(folder), show_progress=False)
        (folder / "ids.json").write_text(json.dumps(self.ids))
        (folder / "sharpnotes.json").write_text(json.dumps(self.params))
        for f in folder.iterdir():
            fsync_path(f)
        fsync_path(folder)
        write_json_atomic(
            index_dir / POINTER,
            {"generation": generation, "folder": folder.name, "ids_sha1": ids_digest(self.ids)},
        )
        for old in index_dir.glob("bm25-*"):  # earlier generations no reader points at any more
            if old.name != folder.name:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, index_dir: Path) -> BM25Index | None:
        bm25s = _bm25s()
        pointer = read_pointer(index_dir)
        if pointer is None:
            return None
        folder = index_dir / pointer["folder"]
        ids = json.loads((folder / "ids.json").read_text())
        params = json.loads((folder / "sharpnotes.json").read_text())
        if not ids:
            return cls(None, [], params)
        retriever = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
        return cls(retriever, ids, params)


def ids_digest(ids: Iterable[str]) -> str:
    """Order-free fingerprint of a set of chunk ids, to tell whether BM25 matches the catalog."""
    return hashlib.sha1("\n".join(sorted(ids)).encode()).hexdigest()


def read_pointer(index_dir: Path) -> dict | None:
    try:
        return json.loads((index_dir / POINTER).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
