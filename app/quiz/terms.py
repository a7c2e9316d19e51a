"""Key terms of the notes, for cloze blanks and multiple-choice distractors (no LLM).

A term is what a note writer marks as one: a **bold** span, a front-matter alias or title, a
short heading, an acronym, an expansion written next to its acronym ("non-maximum suppression
(NMS)"), or inline math. ``Lexicon`` collects them over the whole index, with the number of
passages each occurs in (rare terms make specific questions) and the acronym expansions (which
grading accepts as synonyms and a question must not give away). There is no part-of-speech
tagger among the dependencies; what the writer emphasised is a better signal in notes anyway.

Each term has a kind (``acronym``, ``formula``, ``phrase`` for several words, ``word``); a
distractor always has the kind of the answer, so no option is ruled out by its shape.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath

import numpy as np

from sharpnotes.ingest.text import HEADING_SEP, STOP_WORDS, has_cjk

TermKind = str  # "acronym" | "formula" | "phrase" | "word"

_BOLD = re.compile(r"\*\*([^*\n]{2,60}?)\*\*")
_ACRONYM = re.compile(r"(?<![\w$\\-])([A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*)(?![\w-])")
_INLINE_MATH = re.compile(r"(?<![$\\])\$([^$\n]{2,40}?)\$(?!\$)")
_PAREN_PAIR = re.compile(
    r"([A-Za-z][A-Za-z-]*(?: [A-Za-z][A-Za-z-]*){1,7}) \(([A-Z][A-Za-z0-9]*[A-Z]s?)\)"
    r"|([A-Z][A-Za-z0-9]*[A-Z]s?) \(([A-Za-z][A-Za-z-]*(?: [A-Za-z][A-Za-z-]*){1,7})\)"
)
_ACRONYM_PLURAL = re.compile(r"\b([A-Z][A-Za-z0-9]*[A-Z0-9])s\b")
_WORD = re.compile(r"[A-Za-z0-9]+")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
MAX_WORDS = 5
COMMON_CAPS = frozenset(
    "I II III IV OK TODO NB PS AM PM US UK EU ID IDs FAQ TL DR TLDR QA Q A".split()  # noqa: SIM905
)


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Comparison form of a term: NFKC, lower case, hyphens/underscores as spaces, punctuation
    out, each word singular ("Anchor-boxes" -> "anchor box")."""
    text = unicodedata.normalize("NFKC", text).replace("$", "")
    text = _ACRONYM_PLURAL.sub(r"\1", text).lower()
    words = re.findall(r"[^\W_]+", text.replace("-", " ").replace("_", " "))
    return " ".join(singular(w) for w in words)


def singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def is_formula(text: str) -> bool:
    return text.startswith("$") or bool(re.search(r"[\\^_=]", text))


@lru_cache(maxsize=65536)  # called for every candidate distractor of every MCQ
def term_kind(text: str) -> TermKind:
    """The shape of a term: options of one question all share it."""
    text = text.strip()
    if is_formula(text):
        return "formula"
    words = text.split()
    letters = [c for c in text if c.isalpha()]
    upper = sum(c.isupper() for c in letters)
    if len(words) == 1 and upper >= 2 and upper >= 0.5 * len(letters):
        return "acronym"
    return "phrase" if len(words) > 1 else "word"


def clean_term(text: str) -> str | None:
    """A candidate term as it should appear, or None when it is not one."""
    text = re.sub(r"\s*\([^)]*\)\s*", " ", text).strip(" .,:;!?*`'\"")
    text = _ARTICLE.sub("", " ".join(text.split()))
    if not text or has_cjk(text) or "?" in text or len(text) > 50:
        return None
    words = text.split()
    if len(words) > MAX_WORDS or not re.search(r"[A-Za-z]", text):
        return None
    lowered = [w.lower().strip(".,") for w in words]
    if lowered[0] in STOP_WORDS or lowered[-1] in STOP_WORDS:
        return None
    if not re.fullmatch(r"[A-Za-z][\w\s./+'-]*", text) or re.match(r"^\w+\.\s", text):
        return None
    return text


def special_word(word: str, bold: bool = False) -> bool:
    """A single word worth asking for: an acronym, a name with a digit, hyphen or inner capital,
    or a word the writer put in bold."""
    if word in COMMON_CAPS or word.lower() in STOP_WORDS:
        return False
    if term_kind(word) == "acronym" or re.search(r"\d|-|[a-z][A-Z]", word):
        return len(word) >= 2
    return bold and len(word) >= 5


@dataclass
class TermInfo:
    text: str  # the most common spelling
    kind: TermKind
    chunks: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    bold: bool = False
    heading_only: bool = True  # only ever seen as a heading part (a label, not a concept)
    lower: bool = False  # written in lower case somewhere: its capital is a line's, not a name's


class Lexicon:
    """The terms of an index by folded form, with where they occur and acronym expansions."""

    def __init__(self) -> None:
        self.terms: dict[str, TermInfo] = {}
        self.expansions: dict[str, set[str]] = defaultdict(set)  # folded acronym -> expansions
        self.formulas: dict[str, tuple[str, str]] = {}  # inline math -> (chunk id, source)
        self.links: set[str] = set()  # folded note names linked to: slugs, not terms
        self.headed: set[str] = set()  # folded terms that are (part of) a heading
        self.chunk_count = 0

    # building ------------------------------------------------------------------------------
    def _add(
        self, text: str | None, chunk_id: str, source: str, bold: bool = False, heading=False
    ) -> None:
        if text is None:
            return
        if " " not in text and not special_word(text, bold):
            return
        key = fold(text)
        if not key:
            return
        info = self.terms.get(key)
        if info is None:
            info = self.terms[key] = TermInfo(text, term_kind(text))
        info.chunks.add(chunk_id)
        info.sources.add(source)
        info.bold |= bold
        info.heading_only &= heading
        info.lower |= text[:1].islower()

    def add_passage(
        self, chunk_id: str, source: str, heading: str, text: str, meta: dict | None = None
    ) -> None:
        meta = meta or {}
        self.chunk_count += 1
        self.links.update(fold(link) for link in meta.get("links", []) if "-" in link)
        for alias in [meta.get("title") or "", *meta.get("aliases", [])]:
            self._add(clean_term(str(alias)), chunk_id, source)
        for part in heading.split(HEADING_SEP):
            self.headed.update(fold(t) for t in _ACRONYM.findall(part))
        for part in heading.split(HEADING_SEP)[1:]:
            term = clean_term(part)
            self._add(term, chunk_id, source, heading=True)
            if term:
                self.headed.add(fold(term))
        for match in _BOLD.finditer(text):
            self._add(clean_term(match.group(1)), chunk_id, source, bold=True)
        for match in _ACRONYM.finditer(text):
            self._add(clean_term(match.group(1)), chunk_id, source)
        for match in _INLINE_MATH.finditer(text):
            if usable_math(match.group(1)):
                self.formulas.setdefault(match.group(0), (chunk_id, source))
        for match in _PAREN_PAIR.finditer(re.sub(r"\*\*|__|`", "", text)):
            long, short = (match.group(1), match.group(2)) if match.group(1) else match.group(4, 3)
            short = short[:-1] if short.endswith("s") and short[-2].isupper() else short
            words = long.split()  # the expansion may start after the first words matched
            long = next(
                (" ".join(words[i:]) for i in range(len(words) - 1)
                 if initials_match(short, " ".join(words[i:]))),
                "",
            )  # fmt: skip
            if long:
                self.expansions[fold(short)].add(long)
                self._add(clean_term(long), chunk_id, source)
                self._add(short, chunk_id, source)

    @classmethod
    def from_rows(cls, rows: Iterable) -> Lexicon:  # ChunkRow-like
        lex = cls()
        for row in rows:
            lex.add_passage(row.chunk_id, row.source, row.heading, row.text, row.meta)
        return lex

    # use -----------------------------------------------------------------------------------
    def emphasised(self) -> set[str]:
        """Folded terms the notes define or emphasise: acronyms they spell out, bold terms and
        terms in headings (what a blank may be on, per the quality gate)."""
        bold = {key for key, info in self.terms.items() if info.bold}
        return set(self.expansions) | bold | self.headed

    def df(self, key: str) -> int:
        info = self.terms.get(key)
        return len(info.chunks) if info else 0

    def idf(self, key: str) -> float:
        return math.log((1 + self.chunk_count) / (1 + self.df(key)))

    def synonyms(self, answer: str) -> set[str]:
        """Folded forms that mean the answer: its acronym expansions, or the acronyms it
        expands."""
        key = fold(answer)
        out = {fold(e) for e in self.expansions.get(key, ())}
        out |= {short for short, longs in self.expansions.items() if key in map(fold, longs)}
        return out

    def find(self, sentence: str) -> list[tuple[int, int, str]]:
        """Lexicon terms and inline math in a sentence: (start, end, key), longest first and
        not overlapping. Terms never cross markup (a bold or link boundary)."""
        tokens = list(_WORD.finditer(sentence))
        found: list[tuple[int, int, str]] = []
        for i in range(len(tokens)):
            for j in range(min(len(tokens), i + MAX_WORDS) - 1, i - 1, -1):
                gaps = [sentence[tokens[m].end() : tokens[m + 1].start()] for m in range(i, j)]
                if any(g not in (" ", "-") for g in gaps):
                    continue
                start, end = tokens[i].start(), tokens[j].end()
                if sentence[start - 1 : start] == "-" or sentence[end : end + 1] == "-":
                    continue  # "CNN" inside "R-CNN" is not the term
                key = fold(sentence[start:end])
                if key in self.terms and key not in self.links:
                    found.append((start, end, key))
                    break
        for match in _INLINE_MATH.finditer(sentence):
            if usable_math(match.group(1)):
                found.append((match.start(), match.end(), "$"))
        found.sort(key=lambda f: (-(f[1] - f[0]), f[0]))
        kept: list[tuple[int, int, str]] = []
        for f in found:
            if all(f[1] <= k[0] or f[0] >= k[1] for k in kept):
                kept.append(f)
        return sorted(kept)


def usable_math(body: str) -> bool:
    """Inline math worth blanking: a short expression with an operator, not a lone symbol."""
    body = body.strip()
    return len(body) >= 3 and bool(re.search(r"[=^_\\]", body))


def initials_match(acronym: str, expansion: str) -> bool:
    """True when the words of ``expansion`` (hyphen parts too) start with the letters of
    ``acronym`` in order, as "non-maximum suppression" does for NMS."""
    letters = [c.lower() for c in acronym if c.isalpha() and c.isupper()] or [
        c.lower() for c in acronym if c.isalpha()
    ]
    parts = [p.lower() for p in re.split(r"[\s-]+", expansion) if p]
    if len(letters) < 2 or len(parts) < 2:
        return False
    firsts = "".join(p[0] for p in parts)
    initials = "".join(letters)
    return firsts == initials or (
        len(firsts) > len(initials) and _subsequence(initials, firsts) and firsts[0] == initials[0]
    )


def spells(acronym: str, expansion: str) -> bool:
    """True when the words of ``expansion`` start with exactly the letters of ``acronym``, all of
    them or its capitals ("mean average precision" spells mAP, "non maximum suppression" NMS):
    a learner who types the expansion of an acronym knows it."""
    parts = [p.lower() for p in re.split(r"[\s-]+", expansion) if p]
    firsts = "".join(p[0] for p in parts)
    letters = "".join(c.lower() for c in acronym if c.isalpha())
    capitals = "".join(c.lower() for c in acronym if c.isalpha() and c.isupper())
    return len(parts) >= 2 and firsts in {letters, capitals}


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(c in it for c in short)


def near_equal(a: str, b: str) -> bool:
    """Same term up to case, plural, hyphens and spacing, or one inside the other."""
    fa, fb = fold(a), fold(b)
    if not fa or not fb:
        return a.strip() == b.strip()
    if fa == fb or fa.replace(" ", "") == fb.replace(" ", ""):
        return True
    return f" {fa} " in f" {fb} " or f" {fb} " in f" {fa} "


@lru_cache(maxsize=65536)
def top_folder(source: str) -> str:
    parts = PurePosixPath(source).parts
    return parts[0] if len(parts) > 1 else ""


class DistractorPool:
    """Terms of the index by kind, to draw wrong options from. A distractor has the answer's
    kind, is not the answer up to case/plural/hyphens (nor a synonym of it), does not occur in
    the question or its evidence, and comes from another passage; terms named elsewhere in the
    same note (siblings: other methods of the same topic), then from the same folder, and of a
    similar length come first, so none is absurd on sight.

    With ``embed`` (texts -> unit vectors), the best ``SHORTLIST`` of those are re-ranked by
    embedding cosine to the answer (an acronym with its expansion), so the options are neighbours
    in meaning (other losses for a loss); a near-synonym (cosine above ``TOO_CLOSE``) is left
    out, since it could pass for right."""

    SHORTLIST = 15
    TOO_CLOSE = 0.9

    def __init__(
        self, lexicon: Lexicon, embed: Callable[[Sequence[str]], np.ndarray] | None = None
    ) -> None:
        self.lexicon = lexicon
        self.embed = embed
        self.by_kind: dict[TermKind, list[TermInfo]] = defaultdict(list)
        for key, info in lexicon.terms.items():
            if key not in lexicon.links:
                self.by_kind[info.kind].append(info)

    def pick(
        self,
        answer: str,
        *,
        chunk_id: str,
        source: str,
        avoid: Sequence[str] = (),
        rng: random.Random | None = None,
        k: int = 3,
    ) -> list[str]:
        rng = rng or random.Random(0)
        kind = term_kind(answer)
        synonyms = self.lexicon.synonyms(answer)
        avoid_folded = " ".join(fold(a) for a in avoid)
        if kind == "formula":
            candidates = [(t, {c}, {s}) for t, (c, s) in self.lexicon.formulas.items()]
        else:
            candidates = [
                (i.text, i.chunks, i.sources)
                for i in self.by_kind.get(kind, [])
                if not i.heading_only
            ]
        folder = top_folder(source)
        scored = []
        for text, chunks, sources in candidates:
            if chunk_id in chunks or near_equal(text, answer) or fold(text) in synonyms:
                continue
            if term_kind(text) != kind or f" {fold(text)} " in f" {avoid_folded} ":
                continue
            ratio = max(len(text), len(answer)) / max(1, min(len(text), len(answer)))
            if ratio > (1.5 if kind == "acronym" else 2.5):
                continue
            near = any(top_folder(s) == folder for s in sources) if folder else False
            sibling = source in sources  # named elsewhere in the same note: the same topic
            cased = text[:1].isupper() == answer[:1].isupper()
            shared = bool(set(fold(text).split()) & set(fold(answer).split()))
            known = kind == "acronym" and fold(text) in self.lexicon.expansions
            score = 2.0 * sibling + 2.0 * near + 1.0 * shared + 0.5 * cased + 0.5 * known
            score -= 0.3 * ratio
            score += rng.random()
            scored.append((score, text))
        scored.sort(reverse=True)
        if self.embed is not None and kind != "formula" and scored:
            scored = self._by_meaning(answer, scored[: self.SHORTLIST])
        out: list[str] = []
        for _, text in scored:
            if all(not near_equal(text, o) for o in out):
                out.append(text)
            if len(out) == k:
                break
        return out

    def describe(self, term: str) -> str:
        expansions = sorted(self.lexicon.expansions.get(fold(term), ()))
        return f"{term} ({expansions[0]})" if expansions else term

    def _by_meaning(
        self, answer: str, shortlist: list[tuple[float, str]]
    ) -> list[tuple[float, str]]:
        assert self.embed is not None
        vectors = self.embed([self.describe(answer)] + [self.describe(t) for _, t in shortlist])
        cosines = vectors[1:] @ vectors[0]
        ranked = [
            (score + 3.0 * float(cos), text)
            for (score, text), cos in zip(shortlist, cosines, strict=True)
            if cos < self.TOO_CLOSE
        ]
        return sorted(ranked, reverse=True)
