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
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sharpnotes.ingest.atomic import fsync_path, write_json_atomic
from sharpnotes.ingest.catalog import IndexFormatError
from sharpnotes.ingest.faults import crash_point
from sharpnotes.ingest.formats import newer_message
from sharpnotes.ingest.npz import read_npz
from sharpnotes.ingest.text import CJK, CJK_CHARS, STOP_WORDS, has_cjk

# 2: the stop list of ingest.text (168 words, question words among them) instead of bm25s's 33,
# measured by eval/benchmarks/bm25_stopwords.py (results/bm25-stopwords.json)
TOKENIZER_VERSION = 2
POINTER = "bm25.json"
POINTER_FORMAT = 1  # the pointer's own schema; a migration would map older pointers to it
# a build's score matrix and vocabulary as sharpnotes reads them (BM25Index.load)
MATRIX = "matrix.npz"
VOCAB = "vocab.json"

# Latin letters/digits as words; runs of CJK characters (``ingest.text.CJK``) as separate runs.
_TOKEN = re.compile(f"[a-z0-9]+|[{CJK_CHARS}]+")


def _bm25s():
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
    return bm25s


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def stem(words: list[str]) -> list[str]:
    """English words as BM25 indexes them: Snowball stems ("serving" -> "serv")."""
    return _stemmer().stemWords(words)


def tokenize(text: str) -> list[str]:
    """English words are lower-cased, stop-word filtered (``ingest.text.STOP_WORDS``) and
    Snowball-stemmed; CJK runs become overlapping character bigrams (a lone character stays a
    unigram), as in Lucene's CJK analyzer, which needs no dictionary and works for Traditional
    and Simplified Chinese."""
    words: list[str] = []
    tokens: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        run = match.group(0)
        if CJK.match(run):
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif run not in STOP_WORDS:
            words.append(run)
    return stem(words) + tokens


# Function words of written Chinese: interrogatives, conjunctions, demonstratives and
# sentence particles. In a folder of mostly English notes every CJK bigram is rare, so BM25
# weighs it heavily, and a question's 為什麼 or 怎麼 would find whichever Chinese note asks a
# question. They are cut from queries only (the index keeps them; no rebuild), longest first.
_FUNCTION_WORDS = """
為什麼 為何 什麼 怎麼 怎樣 如何 是否 有沒有 能不能 會不會 要不要 哪些 哪個 哪裡 多少
可以 能夠 應該 需要 還是 或是 或者 而是 而不是 不是 就是 只是 但是 因為 所以 如果 那麼
這樣 這個 那個 這些 那些 一個 時候 之後 之前 的話 的 了 嗎 呢 吧 啊
"""
CJK_FUNCTION_WORDS = sorted(_FUNCTION_WORDS.split(), key=len, reverse=True)
_FUNCTION = re.compile("|".join(map(re.escape, CJK_FUNCTION_WORDS)))


def query_tokens(query: str) -> list[str]:
    """A query's tokens: as ``tokenize``, after Chinese function words are cut (each becomes a
    break between runs, so no bigram spans it)."""
    return tokenize(_FUNCTION.sub(" ", query) if has_cjk(query) else query)


@dataclass
class BM25Params:
    """How the index is built. ``heading_weight`` repeats the heading path (the first paragraph of
    an embed text) that many times, a cheap field weight."""

    # chosen by ``python -m sharpnotes.eval.benchmarks.tune`` on SciFact train and half of the notes
    # set. "robertson" scored 0.0015 higher there, but its idf is zero for a term in half of the
    # chunks or more, so on a small notes folder common query words would find nothing.
    k1: float = 0.9
    b: float = 0.5
    method: str = "lucene"
    heading_weight: int = 3

    def signature(self) -> str:
        return json.dumps({"tokenizer_version": TOKENIZER_VERSION, **self.__dict__}, sort_keys=True)


def bm25_text(embed_text: str, heading_weight: int) -> str:
    """The text BM25 indexes: the embed text with its heading path repeated ``heading_weight``
    times in all."""
    if heading_weight <= 1:
        return embed_text
    heading, body = split_embed_text(embed_text)
    return "\n".join([heading] * heading_weight + [body])


def split_embed_text(embed_text: str) -> tuple[str, str]:
    """(heading path, text) of an embed text, which chunking writes as ``heading\n\ntext``."""
    heading, sep, body = embed_text.partition("\n\n")
    return (heading, body) if sep else ("", embed_text)


class BM25Index:
    """The BM25 score matrix of a build (bm25s's sparse token x document scores) with its
    vocabulary and the chunk ids in its document order. bm25s builds it; a search reads the
    arrays from ``MATRIX`` with numpy alone (importing bm25s and scipy cost a new process about
    0.25 s); a build saved before that file existed is read through bm25s."""

    def __init__(
        self,
        ids: list[str],
        params: dict,
        matrix: dict[str, np.ndarray] | None = None,
        vocab: dict[str, int] | None = None,
        retriever=None,
    ) -> None:
        self.ids = ids
        self.params = params
        self.matrix = matrix
        self.vocab = vocab or {}
        self.retriever = retriever  # the bm25s retriever of a build made in this process

    @classmethod
    def _of(cls, retriever, ids: list[str], params: dict) -> BM25Index:
        matrix = {key: np.asarray(retriever.scores[key]) for key in ("data", "indices", "indptr")}
        if retriever.nonoccurrence_array is not None:
            matrix["nonoccurrence"] = np.asarray(retriever.nonoccurrence_array)
        return cls(ids, params, matrix, dict(retriever.vocab_dict), retriever)

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], params: BM25Params) -> BM25Index:
        meta = {"tokenizer_version": TOKENIZER_VERSION, **params.__dict__}
        if not texts:  # bm25s cannot index an empty corpus; an empty index scores nothing
            return cls(list(ids), meta)
        retriever = _bm25s().BM25(k1=params.k1, b=params.b, method=params.method)
        corpus = [tokenize(bm25_text(t, params.heading_weight)) for t in texts]
        retriever.index(corpus, show_progress=False)
        return cls._of(retriever, list(ids), meta)

    def query_weights(self, query: str) -> dict[int, float]:
        """Token id -> weight (its count in the query) of the query's indexed tokens."""
        weights: dict[int, float] = {}
        vocab = self.vocab
        for token in query_tokens(query):
            if token in vocab:
                weights[vocab[token]] = weights.get(vocab[token], 0.0) + 1.0
        return weights

    def frequency(self, token: str) -> int:
        """How many documents hold ``token`` (a stem as ``tokenize`` makes it); 0 when none."""
        row = self.vocab.get(token)
        if row is None or self.matrix is None:
            return 0
        indptr = self.matrix["indptr"]
        return int(indptr[row + 1] - indptr[row])

    def holders(self, token: str, limit: int) -> list[str]:
        """Ids of at most ``limit`` documents that hold ``token``, in document order."""
        row = self.vocab.get(token)
        if row is None or self.matrix is None:
            return []
        lo = int(self.matrix["indptr"][row])
        hi = min(int(self.matrix["indptr"][row + 1]), lo + limit)
        return [self.ids[i] for i in self.matrix["indices"][lo:hi]]

    def weighted_scores(self, weights: dict[int, float]) -> np.ndarray:
        """Sum over tokens of weight x the token's BM25 score, for every document."""
        if self.matrix is None:
            return np.zeros(0, dtype=np.float32)
        m = self.matrix
        data, indices, indptr = m["data"], m["indices"], m["indptr"]
        out = np.zeros(len(self.ids), dtype=np.float32)
        nonoccurrence = m.get("nonoccurrence")
        for token, weight in weights.items():
            lo, hi = indptr[token], indptr[token + 1]
            if nonoccurrence is not None:  # bm25l / bm25+ score documents without the token too
                out += weight * nonoccurrence[token]
            out[indices[lo:hi]] += weight * data[lo:hi]
        return out

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document, in ``self.ids`` order."""
        if self.matrix is None:
            return np.zeros(0, dtype=np.float32)
        weights = self.query_weights(query)
        if not weights:
            return np.zeros(len(self.ids), dtype=np.float32)
        return self.weighted_scores(weights)

    # persistence ------------------------------------------------------------------------------
    def save(self, index_dir: Path) -> None:
        """Write a new generation, fsync it, then switch the pointer to it atomically. The
        previous generation stays until the next save, so a reader that has just read the old
        pointer can still load it."""
        current = read_pointer(index_dir) or {}
        generation = current.get("generation", 0) + 1
        folder = index_dir / f"bm25-{generation}"
        if folder.exists():  # left by a save that was killed before its pointer switch
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        if self.retriever is not None:  # bm25s's own files, which older sharpnotes read
            self.retriever.save(str(folder), show_progress=False)
        if self.matrix is not None:
            arrays: dict[str, Any] = dict(self.matrix)  # savez's own keywords are typed apart
            with open(folder / MATRIX, "wb") as out:
                np.savez(out, **arrays)
            (folder / VOCAB).write_text(json.dumps(self.vocab))
        crash_point("bm25_files")
        (folder / "ids.json").write_text(json.dumps(self.ids))
        (folder / "sharpnotes.json").write_text(json.dumps(self.params))
        for f in folder.iterdir():
            fsync_path(f)
        fsync_path(folder)
        crash_point("bm25_pointer")
        write_json_atomic(
            index_dir / POINTER,
            {
                "format": POINTER_FORMAT,
                "generation": generation,
                "folder": folder.name,
                "build": uuid.uuid4().hex,  # tells readers apart builds after a --rebuild
                "ids_sha1": ids_digest(self.ids),
            },
        )
        crash_point("bm25_cleanup")
        keep = {folder.name, current.get("folder")}
        for old in index_dir.glob("bm25-*"):
            if old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)
        for tmp in index_dir.glob(f".{POINTER}.*.tmp"):  # a pointer write that was killed
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, index_dir: Path, pointer: dict | None = None) -> BM25Index | None:
        """The build ``pointer`` names (by default the current one); None if there is none."""
        pointer = pointer or read_pointer(index_dir)
        if pointer is None:
            return None
        folder = index_dir / pointer["folder"]
        ids = json.loads((folder / "ids.json").read_text())
        params = json.loads((folder / "sharpnotes.json").read_text())
        if not ids:
            return cls([], params)
        if (folder / MATRIX).exists():
            matrix = read_npz(folder / MATRIX)
            return cls(ids, params, matrix, json.loads((folder / VOCAB).read_text()))
        retriever = _bm25s().BM25.load(str(folder), mmap=False, show_progress=False)
        return cls._of(retriever, ids, params)


def ids_digest(ids: Iterable[str]) -> str:
    """Order-free fingerprint of a set of chunk ids and of how BM25 is built, to tell whether the
    BM25 index matches the catalog (an ingest rebuilds it, without re-embedding, when not)."""
    text = "\n".join([BM25Params().signature(), *sorted(ids)])
    return hashlib.sha1(text.encode()).hexdigest()


def read_pointer(index_dir: Path) -> dict | None:
    """The current build's pointer, None if there is none; refused if a newer sharpnotes wrote
    it. Pointers written before ``format`` was recorded are format 1."""
    path = index_dir / POINTER
    try:
        pointer = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    found = pointer.get("format", 1)
    if found > POINTER_FORMAT:
        raise IndexFormatError(newer_message(path, "BM25 pointer", found, POINTER_FORMAT))
    return pointer
