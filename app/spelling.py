"""Typos in a question, corrected against the words of the notes.

A keyword question typed in a hurry ("factorizaton machine formula") finds nothing for its
misspelt word in BM25, and the refusal gate then reads it as a question the notes do not cover.
A word is corrected only when all of these hold:

- it is a plain lower-case word (or capitalised at the start) of at least MIN_LENGTH letters (a
  short word has too many neighbours one edit away); names as written ("PointPillars", "NMS",
  "YOLOv3") are never touched;
- the notes do not hold it (its BM25 stem is not in the build's vocabulary);
- it is not a known English word in any form (its stem is not the stem of a whole word of the
  embedding model's word-piece vocabulary) and no multi-word term of the glossary uses it: a
  real word the notes lack ("cooking", "clipping" in "gradient clipping") is what the question
  asks about, and the gate must see it;
- one edit (a letter deleted, added, replaced, or two neighbours swapped) makes a word that the
  notes write. Of several, the one whose stem the most passages hold wins. Dropping a leading
  "a" is no edit: that is the prefix a-, which says the opposite ("asymmetric" is not
  "symmetric", "asynchronous" not "synchronous").

No dictionary ships with it: the notes' own vocabulary is the dictionary, so the correction
follows what the user writes about.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from sharpnotes.ingest.bm25 import stem
from sharpnotes.ingest.text import STOP_WORDS

MIN_LENGTH = 6
# neighbours checked against the passages' text, most frequent stem first
MAX_CHECKED = 5
_WORD = re.compile(r"(?<![\w-])[A-Za-z]+(?![\w-])")


def edits(word: str) -> set[str]:
    """Every string one edit away from ``word`` (lower-case letters)."""
    letters = string.ascii_lowercase
    cuts = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deleted = {a + b[1:] for a, b in cuts if b}
    swapped = {a + b[1] + b[0] + b[2:] for a, b in cuts if len(b) > 1}
    replaced = {a + c + b[1:] for a, b in cuts if b for c in letters}
    inserted = {a + c + b for a, b in cuts for c in letters}
    return (deleted | swapped | replaced | inserted) - {word}


@lru_cache(maxsize=4)
def known_words(model_folder: Path) -> frozenset[str]:
    """The BM25 stems of the whole words (letters only) of the model's word-piece vocabulary:
    common English words in any form ("copes" and "cope" alike). Empty when the folder has no
    ``vocab.txt``."""
    path = model_folder / "vocab.txt"
    if not path.is_file():
        return frozenset()
    words = [w for w in path.read_text(encoding="utf-8").split() if w.isalpha() and w.islower()]
    return frozenset(stem(words))


@lru_cache(maxsize=1)
def glossary_words() -> frozenset[str]:
    """The words of the glossary's multi-word English terms ("gradient", "clipping")."""
    from sharpnotes.app.coverage import phrases

    return frozenset(word for phrase in phrases() for word in phrase.split())


def _eligible(word: str, common: frozenset[str]) -> bool:
    if len(word) < MIN_LENGTH or not (word.islower() or word.istitle()):
        return False
    lower = word.lower()
    if lower in STOP_WORDS or lower in glossary_words():
        return False
    return stem([lower])[0] not in common


class Vocabulary(Protocol):
    """What the correction asks of the notes (``Searcher`` answers from its BM25 build)."""

    def frequency(self, token: str) -> int:
        """How many passages hold a BM25 stem."""
        ...

    def written(self, word: str, token: str) -> bool:
        """Whether ``word`` is written as such in a passage holding its stem ``token``."""
        ...


def correct(query: str, notes: Vocabulary, common: frozenset[str]) -> str:
    """``query`` with its misspelt words replaced; ``common`` is the stems of known English
    words (``known_words``). Of the one-edit neighbours whose stem the notes hold, the most
    frequent stem that the notes write in that very form wins: a stem alone could come from a
    non-word the stemmer cuts short ("relatment" -> "relat")."""
    if not common:
        return query

    def fix(match: re.Match) -> str:
        word = match.group(0)
        if not _eligible(word, common):
            return word
        lower = word.lower()
        if notes.frequency(stem([lower])[0]) > 0:
            return word
        options = sorted(o for o in edits(lower) if lower != "a" + o)
        roots = dict(zip(options, stem(options), strict=True))
        counts = {o: notes.frequency(root) for o, root in roots.items()}
        held = sorted((o for o in options if counts[o]), key=lambda o: -counts[o])
        for option in held[:MAX_CHECKED]:
            if notes.written(option, roots[option]):
                return option.capitalize() if word.istitle() else option
        return word

    return _WORD.sub(fix, query)
