"""The quality gate: rules that drop items a learner would skip, whoever wrote them.

``app.quiz.verify`` checks that an item is true to its passage; this module checks that it is
worth asking. An item is dropped, with the reason counted, when

- its passage is not study content (a licence, a contributors list, a link list);
- its blank is a label ("____ for deployment: ..."), a year, a venue, a number or a lone
  symbol, or one entry of a long enumeration (copy-the-sentence trivia);
- its question or answer shows markup a reader cannot read past (HTML tags, unbalanced ``**``
  or ``$``, an Obsidian ``==`` or ``{{c1::`` marker);
- a generated recall prompt is not a sentence about the notes ("Explain why let's skip the
  details here.", "Explain why our predictions are terribly wrong", "Explain why bad AP.");
- an MCQ option contains another (CE beside BCE: two defensible answers).

The rules were chosen on the tuning half of ``eval/quiz_ratings.jsonl`` (rated items, each with
its fixed ``split``); the holdout half is reported, never tuned on.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from sharpnotes.app.quiz.items import QuizItem
from sharpnotes.app.quiz.terms import fold

NOT_STUDY = "not study content"
LABEL_BLANK = "blank on a label"
TRIVIA_BLANK = "blank on a number, year, venue or symbol"
LIST_ENTRY = "blank on one entry of a list"
RAW_MARKUP = "raw markup"
NOT_A_SENTENCE = "prompt is not a sentence"
AMBIGUOUS_OPTIONS = "ambiguous options"

_NOT_STUDY_NAMES = re.compile(
    r"^(?:licen[cs]e|copying|notice|authors|contributors|contributing|code[-_]of[-_]conduct"
    r"|changelog|changes|history|security)(?:\.\w+)?$",
    re.IGNORECASE,
)
_LICENSE_TEXT = re.compile(
    r"permission is hereby granted|copyright \(c\)|licensed under the|all rights reserved"
    r"|without warranty|THE SOFTWARE IS PROVIDED",
    re.IGNORECASE,
)
_LINK_LINE = re.compile(r"https?://|\]\(|\[\[|^\s*(?:related|see also|see)\s*:", re.I | re.M)
_VENUE = re.compile(
    r"^(?:CVPR|ICCV|ECCV|NeurIPS|NIPS|ICLR|ICML|AAAI|IJCAI|ACL|EMNLP|NAACL|KDD|WACV|BMVC|IROS"
    r"|ICRA|RSS|CoRL|arXiv|TPAMI|JMLR)(?:\s*'?\d{2,4})?$",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"^[~≈<>]?\s*[\d.,]+\s*(?:%|[kKMBGTx×]|ms|s|px|m|fps|epochs?|bits?)?$")
_SYMBOL = re.compile(r"^\$?\\?[A-Za-z](?:_\{?\w+\}?)?\$?$")  # "k", "$\alpha$", "x_i"
_HTML = re.compile(r"</?(?:img|br|table|tr|td|div|span|strong|em|sub|sup|a|p)\b[^>]*>", re.I)
_OBSIDIAN = re.compile(r"==\S|\{\{c\d+::")
_DISCOURSE = re.compile(
    r"^(?:let'?s|let us|here|our|my|we|I|you|your|us|one|this|that|these|those|it|they|there"
    r"|now|next|so|ok|okay|note|see|also|e\.g\.|i\.e\.|etc)\b",
    re.IGNORECASE,
)
_VERB = re.compile(
    r"\b(?:is|are|was|were|be|been|has|have|had|do|does|did|can|cannot|can't|could|will|would"
    r"|should|may|might|must|need|needs|works?|helps?|makes?|gives?|uses?|keeps?|reduces?"
    r"|increases?|improves?|fails?|needs?|matters?|depends?|requires?|avoids?|leads?|causes?"
    r"|becomes?|stays?|learns?|converges?|overfits?|\w{3,}(?:es|ed|s))\b",
    re.IGNORECASE,
)
_EXPLAIN = re.compile(r"^Explain (?:why|the purpose:)\s+(?P<clause>.+?)\.?(?:\s+\([^)]*\))?$")


def not_study(source: str, passage: str) -> bool:
    """A licence, contributors list or changelog, or a passage that is mostly links."""
    if _NOT_STUDY_NAMES.match(PurePosixPath(source).name):
        return True
    if _LICENSE_TEXT.search(passage):
        return True
    lines = [line for line in passage.splitlines() if line.strip()]
    linked = sum(bool(_LINK_LINE.search(line)) for line in lines)
    return len(lines) >= 3 and linked * 2 > len(lines)


def label_blank(item: QuizItem) -> bool:
    """The blank opens a "Label: text" line, or sits in a "Related:"/"See also" line."""
    question = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", item.question)
    if re.match(r"^_{4}[^:.;]{0,40}[:：]\s", question):
        return True
    return bool(re.match(r"^\s*(?:[-*+]\s+)?(?:related|see also|see)\b", item.evidence, re.I))


def trivia_blank(answer: str) -> bool:
    text = answer.strip()
    if re.fullmatch(r"(?:19|20)\d{2}s?", text) or _VENUE.match(text):
        return True
    return bool(_NUMBER.match(text) or _SYMBOL.match(text))


def list_entry(item: QuizItem) -> bool:
    """The blank is one entry of an enumeration of four or more ("..., ____, ..."): any entry
    would do as well, so the item tests the sentence, not the concept."""
    if "____" not in item.question:
        return False
    parts = re.split(r",|;|\band\b|\bor\b|/", item.question)
    if len(parts) < 4:
        return False
    at = next(i for i, p in enumerate(parts) if "____" in p)
    blank = parts[at].strip(" .()")
    return len(blank.split()) <= 3 and all(
        0 < len(p.split()) <= 5 for p in parts[max(0, at - 1) : at + 2]
    )


def raw_markup(text: str) -> bool:
    """Markup a reader cannot read past. Inline math that renders (balanced ``$``) is fine."""
    if _HTML.search(text) or _OBSIDIAN.search(text):
        return True
    outside_code = re.sub(r"`[^`]*`", "", text)
    unescaped = re.sub(r"\\\$", "", outside_code)
    return unescaped.count("$") % 2 == 1 or outside_code.count("**") % 2 == 1


def not_a_sentence(item: QuizItem) -> bool:
    """A generated "Explain why ..." prompt whose clause is talk, not a claim, or has no verb."""
    if item.type != "recall" or item.generator == "notes":
        return False
    m = _EXPLAIN.match(item.question)
    if not m:
        return False
    clause = m["clause"]
    return bool(_DISCOURSE.match(clause)) or not _VERB.search(clause)


def ambiguous_options(item: QuizItem) -> bool:
    """Two options where one holds the other ("CE" and "BCE", "IoU" and "GIoU loss")."""
    options = [fold(o) or o.lower() for o in item.options or []]
    for i, a in enumerate(options):
        for b in options[i + 1 :]:
            if a != b and (a in b or b in a) and min(len(a), len(b)) >= 2:
                return True
            if re.fullmatch(r"[a-z]{1,2}" + re.escape(a), b) or re.fullmatch(
                r"[a-z]{1,2}" + re.escape(b), a
            ):
                return True
    return False


def reason(item: QuizItem) -> str | None:
    """Why ``item`` is not worth asking, or None. The learner's own cards pass every rule but
    the markup and study-content ones: their wording is theirs."""
    if not_study(item.citation.source, item.passage):
        return NOT_STUDY
    if item.generator != "notes":
        if item.type in ("cloze", "mcq"):
            if label_blank(item):
                return LABEL_BLANK
            if trivia_blank(item.answer):
                return TRIVIA_BLANK
            if list_entry(item):
                return LIST_ENTRY
        if not_a_sentence(item):
            return NOT_A_SENTENCE
        if item.type == "mcq" and ambiguous_options(item):
            return AMBIGUOUS_OPTIONS
    if raw_markup(item.question) or (item.type != "recall" and raw_markup(item.answer)):
        return RAW_MARKUP
    return None
