"""Query-side cross-lingual expansion: a Chinese question about an English note.

BM25 sees Chinese as character bigrams and MiniLM is an English model, so neither side matches
"批次正規化" to a note about batch normalization. A bilingual glossary of ML terms
(`glossary_zh.tsv`) bridges them: the English terms of the glossary entries found in a query are
appended to it, and the original text is kept for the notes written in Chinese.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from sharpnotes.ingest.text import has_cjk


@lru_cache(maxsize=1)
def glossary() -> dict[str, str]:
    """Lower-cased Chinese term -> English term(s), read once from the packaged TSV."""
    text = files("sharpnotes.app").joinpath("glossary_zh.tsv").read_text(encoding="utf-8")
    terms: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        zh, _, en = line.partition("\t")
        if zh.strip() and en.strip():
            terms[zh.strip().lower()] = en.strip()
    return terms


def find_terms(query: str) -> list[tuple[str, str]]:
    """(Chinese term, English) for the glossary entries in the query, left to right, longest
    match first at each position and never overlapping."""
    terms = glossary()
    longest = max(map(len, terms), default=0)
    text = query.lower()
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        for size in range(min(longest, len(text) - i), 0, -1):
            piece = text[i : i + size]
            if piece in terms:
                found.append((query[i : i + size], terms[piece]))
                i += size
                break
        else:
            i += 1
    return found


def expand_query(query: str) -> str:
    """The query followed by the English terms of its glossary entries; unchanged when it has
    no CJK character or no entry."""
    if not has_cjk(query):
        return query
    english: list[str] = []
    for _, en in find_terms(query):
        if en not in english:
            english.append(en)
    return f"{query} {' '.join(english)}" if english else query
