"""Quiz items written without an LLM, from the sentences of one passage.

- cloze: a key term (``app.quiz.terms``) blanked out of a definition or explanation sentence;
- mcq: the same blank with the term and three distractors of the same kind from other passages;
- recall: "Explain why ..." from a "because", "so that" or ", so" sentence, or "Explain what X
  is" from a definition ("X is ...", "**X**: ..."); the reference answer is the sentence and the
  key points are the phrases of the part the question does not state.

Every question carries its context (the note's heading path, minus any part that names the
answer), so that it has one answer in the notes: used as a search query it finds its passage.
Code blocks, formulas, tables and headings are never used as sentences (``ingest.text.units``);
questions, fragments and mostly-symbol lines are skipped. Sentences in Chinese are used for
cloze and MCQ when the blank is an English term in them; recall patterns are English only.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from sharpnotes.app.quiz import verify
from sharpnotes.app.quiz.items import Citation, ItemType, QuizItem
from sharpnotes.app.quiz.terms import DistractorPool, Lexicon, clean_term, fold, term_kind
from sharpnotes.app.retrieval import SearchResult
from sharpnotes.ingest.text import CJK, HEADING_SEP, Unit, has_cjk, is_lead_in, terms, units

BLANK = "____"
MIN_WORDS, MAX_WORDS = 6, 45
MAX_KEY_POINTS = 4
COMMON_DF, COMMON_SHARE = 5, 0.08  # a term in more passages than both is not a blank

_WIKILINK = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]+))?\]\]")
_MDLINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_FOOTER = re.compile(r"\bpage \d+ of \d+\b", re.IGNORECASE)  # a PDF page footer
_OPENER = re.compile(r"^(?:(?:yes|no|but|and|so|also|then|however|thus|hence)\b,?\s*)+", re.I)
_PRONOUN = re.compile(r"^(?:we|it|they|this|these|that|those|you|he|she)\b", re.IGNORECASE)
# "(iou-ap-map)", "(bev-perception, lss)": words of two letters or more, not "(1-p)" or "(t-1)"
_SLUGS = re.compile(r"\s*\((?:[a-z0-9]{2,}(?:-[a-z0-9]{2,})+(?:,\s*)?)+\)")
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TASK = re.compile(r"^\[[ xX]\]\s+")  # a task list's box: "- [ ] Check the loss at init"
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE)  # blockquote markers
_DEFINED = re.compile(
    r"^(?P<art>(?:the|an?)\s+)?(?P<term>[^,;:()]{2,60}?)\s+(?P<verb>is|are)\s+"
    r"(?P<rest>(?:an?|the|one|how|what|when|where|refers to|means|denotes)\b.{12,})$",
    re.IGNORECASE | re.S,
)
_BOLD_HEAD = re.compile(
    r"^\s*(?:[-*+]\s+)?\*\*(?P<term>[^*]{2,60})\*\*\s*[:—–-]\s*(?P<rest>.{12,})$"
)
_BECAUSE = re.compile(r"^(?P<a>.{15,}?),?\s+(?:because|since)\s+(?P<b>.{12,})$", re.S)
_SO_THAT = re.compile(r"^(?P<a>.{15,}?),?\s+(?:so that|in order to)\s+(?P<b>.{12,})$", re.S)
_SO = re.compile(r"^(?P<b>.{15,}?)(?:,|;| —| -)\s+so\s+(?P<a>.{12,})$", re.S)
_POINT_SPLIT = re.compile(
    r"\s*(?:[,;:](?=\s)|\.\s|\band\b|\bor\b|\bwhich\b|\bbut\b|\bthen\b|—|\()\s*"
)


def plain(text: str) -> str:
    """A sentence as a question shows it: markup out, one line."""
    text = _QUOTE.sub("", text)
    text = _TASK.sub("", _LIST.sub("", text))
    text = _WIKILINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _MDLINK.sub(r"\1", text)
    text = re.sub(r"\*\*|__|`", "", text)
    text = _SLUGS.sub("", text)  # "(iou-ap-map)": a link to another note, not content
    return " ".join(text.split())


def lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if term_kind(first) == "acronym" or first[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def usable(unit: Unit) -> bool:
    if unit.kind not in ("sentence", "list"):
        return False
    text = plain(unit.text)
    words = text.split()
    if "?" in text or re.match(r"^(?:Q|A)\s*:", text) or is_lead_in(text):
        return False
    if unit.text.count("|") > 1 or "\n\n" in unit.text or _FOOTER.search(unit.text):
        return False
    if re.search(r"https?://|www\.|\]\(", unit.text):
        return False  # a list of links or references, not a statement to learn
    if has_cjk(text):
        return len(CJK.findall(text)) >= 6 and len(re.findall(r"[A-Za-z]{2,}", text)) >= 1
    alnum = sum(c.isalnum() or c.isspace() for c in text) / max(1, len(text))
    return MIN_WORDS <= len(words) <= MAX_WORDS and alnum > 0.8


# a heading's numbering ("6.1 ", "3. ") and a closing aside of three words or more or with a
# year ("Task zoo (people mix these up in interviews)", "CLIP (Radford et al., OpenAI, 2021)")
_NUMBERING = re.compile(r"^\s*(?:\d{1,3}\.)+\d{0,3}\s+(?=\S)")
_CLOSING_ASIDE = re.compile(r"\s*[(（]([^()（）]*)[)）]\s*$")


def short_part(part: str) -> str:
    """A heading as a question's context shows it: without its numbering and a closing aside
    of three words or more or with a year. "6.1 Candidate Generation" -> "Candidate
    Generation"; "Kinds of shift (know the names)" -> "Kinds of shift"; "Feature Pyramid
    Networks (FPN)" stays. A blind rater scored 19 tune items whose context this shortens 4.00
    with the whole headings and 4.37 without (better for 8, worse for 1)."""
    part = _NUMBERING.sub("", part.strip())
    aside = _CLOSING_ASIDE.search(part)
    if aside and aside.start() > 0:
        inner = aside.group(1)
        if len(inner.split()) >= 3 or re.search(r"\b(?:19|20)\d\d\b", inner):
            part = part[: aside.start()]
    # "DETR 筆記", "ViT notes": the word for notes says what the page is, not what it is about
    # (kept after a plain word: "Lecture notes")
    return _NOTES_WORD.sub("", part.strip()).strip() or part.strip()


_NOTES_WORD = re.compile(r"\s*(?:筆記|笔记)$|(?<=[A-Z0-9])\s+[Nn]otes?$")


def context(heading: str, answer: str, synonyms: set[str]) -> str:
    """The heading path as a question's context (``short_part``), minus any part that would
    give the answer away."""
    parts = [short_part(p) for p in heading.split(HEADING_SEP)]
    keep = [p for p in parts if p and not verify.gives_away(p, answer, synonyms)]
    return HEADING_SEP.join(keep)


# a phrase of plain words written with a capital only because it opened a line or a list item
_CAPITALISED_PHRASE = re.compile(r"[A-Z][a-z]+(?: [a-z][a-z-]*)+")
_LOWER_PHRASE = re.compile(r"[a-z][a-z-]*(?: [a-z][a-z-]*)+")


def same_case(option: str, answer: str, lexicon: Lexicon) -> str:
    """A distractor written as the answer is: "Gradient checkpointing" beside the answer
    "gradient clipping" would stand out by its capital alone (and the other way round). Only a
    phrase of plain words changes, and a capital only when the notes also write the phrase in
    lower case: names ("Adam", "Faster R-CNN", "Thompson sampling") stay as written."""
    info = lexicon.terms.get(fold(option))
    if answer[:1].islower() and _CAPITALISED_PHRASE.fullmatch(option) and info and info.lower:
        return option[0].lower() + option[1:]
    if _CAPITALISED_PHRASE.fullmatch(answer) and _LOWER_PHRASE.fullmatch(option):
        return option[0].upper() + option[1:]
    return option


def with_context(question: str, ctx: str) -> str:
    return f"{question} ({ctx})" if ctx else question


@dataclass
class _Blank:
    unit: Unit
    start: int  # span of the term inside unit.text
    end: int
    answer: str
    score: float


def _blanks(units: list[Unit], lexicon: Lexicon) -> list[_Blank]:
    """Every (sentence, term) pair that could be blanked, best first."""
    out: list[_Blank] = []
    for unit in units:
        text = unit.text
        defined = _BOLD_HEAD.match(text) or _DEFINED.match(plain(text))
        explains = bool(re.search(r"\b(because|so that|means|is|are|since|so)\b", text))
        n_words = len(plain(text).split())
        for start, end, key in lexicon.find(text):
            answer = text[start:end]
            if len(answer.split()) * 2 > n_words or re.fullmatch(r"[A-Z]?[a-z]+", answer):
                continue  # a plain word ("recall", "Fixes") is a label, not a key term
            if key != "$" and lexicon.df(key) > max(COMMON_DF, COMMON_SHARE * lexicon.chunk_count):
                continue  # "ML" in ML notes: too common to test anything
            score = lexicon.idf(key) if key != "$" else 2.0
            info = lexicon.terms.get(key)
            if info and info.bold:
                score += 1.0
            if defined and fold(defined.group("term")) == key:
                score += 2.0
            kind = term_kind(answer)
            score += {"acronym": 0.5, "phrase": 0.5, "word": -1.0}.get(kind, 0.0)
            if info and info.heading_only:
                score -= 1.0
            score += 0.5 * explains
            out.append(_Blank(unit, start, end, answer, score))
    out.sort(key=lambda b: -b.score)
    return out


def _blanked(unit: Unit, blank: _Blank, synonyms: set[str]) -> str:
    """The sentence with every occurrence of the answer blanked, markup out. An acronym in
    parentheses right after a blanked expansion ("____ (RPN)") goes too: it would give the
    answer away, and grading accepts it as a synonym."""
    pattern = re.compile(r"(?<![\w$])" + re.escape(blank.answer) + r"(?![\w$])", re.IGNORECASE)
    text = unit.text[: blank.start] + "\x00" + unit.text[blank.end :]
    text = plain(pattern.sub("\x00", text))
    for synonym in synonyms:
        words = r"[\s-]*".join(re.escape(w) for w in synonym.split())
        text = re.sub(rf"\x00\s*\(\s*{words}s?\s*\)", "\x00", text, flags=re.IGNORECASE)
    return text.replace("\x00", BLANK)


def citation_of(passage: SearchResult) -> Citation:
    return Citation(passage.chunk_id, passage.source, passage.heading, passage.page)


def _subject(term: str, lexicon: Lexicon, heading: str) -> bool:
    """A definition's subject worth asking about: a term of the notes or of the heading path,
    not a plain word ("Crowds", "win") that labels a list item."""
    term = term.strip()
    if clean_term(term) is None or re.fullmatch(r"[A-Z]?[a-z]+", term):
        return False
    return fold(term) in lexicon.terms or f" {fold(term)} " in f" {fold(heading)} "


def _recall(unit: Unit, lexicon: Lexicon, heading: str) -> tuple[str, str, list[str]] | None:
    """(question, reference answer, key points) for an explanation or definition sentence."""
    text = _OPENER.sub("", plain(unit.text).rstrip("."))
    if has_cjk(text):
        return None
    m = _BOLD_HEAD.match(unit.text)
    if m and _subject(plain(m.group("term")), lexicon, heading):
        term, rest = plain(m.group("term")), plain(m.group("rest"))
        question, told = f"Explain what {term} means.", term
    elif m := _BECAUSE.match(text):
        question, told, rest = f"Explain why {lower_first(m['a'])}.", m["a"], m["b"]
    elif m := _SO_THAT.match(text):
        question, told, rest = f"Explain the purpose: {lower_first(m['a'])}.", m["a"], m["b"]
    elif m := _SO.match(text):
        question, told, rest = f"Explain why {lower_first(m['a'])}.", m["a"], m["b"]
    elif (m := _DEFINED.match(text)) and _subject(m["term"], lexicon, heading):
        term, art = m["term"].strip(), (m["art"] or "").lower()
        question, told, rest = f"Explain what {art}{term} {m['verb']}.", term, m["rest"]
    else:
        return None
    asked = terms(told)
    vague = len(asked) < 2 and m.re not in (_BOLD_HEAD, _DEFINED)
    if vague or _PRONOUN.match(told):
        return None  # "Explain why we suppress them": too vague to have one answer
    points = []
    maths = re.findall(r"\$[^$]+\$", rest)  # formulas are not cut into points
    masked = re.sub(r"\$[^$]+\$", "\x01", rest)
    for piece in _POINT_SPLIT.split(masked):
        for formula in maths[: piece.count("\x01")]:
            piece = piece.replace("\x01", formula, 1)
        maths = maths[piece.count("$") // 2 :]
        piece = piece.strip(" .)")
        if len(terms(piece) - asked) >= 2 and piece not in points:
            points.append(piece)
    if not points:
        return None
    return question, plain(unit.text), points[:MAX_KEY_POINTS]


def items_from_passage(
    passage: SearchResult,
    content_hash: str,
    kind: str,
    pool: DistractorPool,
    *,
    rng: random.Random | None = None,
    per_type: int = 2,
) -> tuple[list[QuizItem], dict[str, int]]:
    """Verified candidate items of ``kind`` ("mcq", "cloze", "recall" or "mixed") from one
    passage, best first per type, and the count of candidates dropped by reason."""
    rng = rng or random.Random(0)
    types: tuple[ItemType, ...] = ("mcq", "cloze", "recall") if kind == "mixed" else (kind,)  # type: ignore[assignment]
    dropped: dict[str, int] = {}
    sentences = [u for u in units(passage.text) if usable(u)]
    if not sentences:
        verify.count(dropped, verify.NO_SENTENCE)
        return [], dropped
    citation = citation_of(passage)
    made: list[QuizItem] = []

    def keep(item: QuizItem) -> bool:
        reason = verify.check(item, pool.lexicon.synonyms(item.answer))
        if reason:
            verify.count(dropped, reason)
            return False
        made.append(item)
        return True

    blanks = _blanks(sentences, pool.lexicon) if {"mcq", "cloze"} & set(types) else []
    for item_type in types:
        got = 0
        if item_type == "recall":
            for unit in sentences:
                found = _recall(unit, pool.lexicon, passage.heading)
                if not found:
                    continue
                question, answer, points = found
                synonyms: set[str] = set()
                ctx = context(passage.heading, answer, synonyms)
                item = QuizItem(
                    "recall", with_context(question, ctx), answer, unit.text, passage.text,
                    citation, key_points=points, content_hash=content_hash,
                )  # fmt: skip
                got += keep(item)
                if got >= per_type:
                    break
            continue
        used: set[str] = set()
        for blank in blanks:
            if got >= per_type:
                break
            if fold(blank.answer) in used:
                continue
            synonyms = pool.lexicon.synonyms(blank.answer)
            ctx = context(passage.heading, blank.answer, synonyms)
            question = with_context(_blanked(blank.unit, blank, synonyms), ctx)
            if BLANK not in question:
                continue  # the term sat in markup the question does not show
            options = None
            if item_type == "mcq":
                wrong = pool.pick(
                    blank.answer, chunk_id=passage.chunk_id, source=passage.source,
                    avoid=[question, blank.unit.text], rng=rng,
                )  # fmt: skip
                if len(wrong) < 3:
                    verify.count(dropped, "no distractors of the same kind")
                    continue
                options = [blank.answer, *(same_case(w, blank.answer, pool.lexicon) for w in wrong)]
                rng.shuffle(options)
            item = QuizItem(
                item_type, question, blank.answer, blank.unit.text, passage.text, citation,
                options=options, key_points=[blank.answer], content_hash=content_hash,
            )  # fmt: skip
            if keep(item):
                got += 1
                used.add(fold(blank.answer))
    if not made and not dropped:
        verify.count(dropped, verify.NO_SENTENCE)
    return made, dropped
