"""The quality gate: rules that drop items a learner would skip, whoever wrote them.

``app.quiz.verify`` checks that an item is true to its passage; this module checks that it is
worth asking. An item is dropped, with the reason counted, when

- its passage is not study content (a licence, a contributors list, a link list);
- its blank is a label ("____ for deployment: ..."; a bold term with its definition is not
  one), a year, a venue, a number or a lone symbol, one entry of an enumeration
  (copy-the-sentence trivia), or sits in a note fragment, inside a formula or in a
  parenthetical aside;
- the question still shows the answer (inside a longer word, or an acronym's words);
- its blank is an acronym the notes neither spell out nor emphasise (bold, heading);
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
from collections.abc import Collection
from pathlib import PurePosixPath

from sharpnotes.app.quiz import offline
from sharpnotes.app.quiz.items import CARD_GENERATOR, QuizItem
from sharpnotes.app.quiz.terms import fold, term_kind
from sharpnotes.ingest.text import HEADING_SEP

NOT_STUDY = "not study content"
LABEL_BLANK = "blank on a label"
TRIVIA_BLANK = "blank on a number, year, venue or symbol"
LIST_ENTRY = "blank on one entry of a list"
RAW_MARKUP = "raw markup"
NOT_A_SENTENCE = "prompt is not a sentence"
AMBIGUOUS_OPTIONS = "ambiguous options"
GIVEAWAY = "answer shown in the question"
FRAGMENT = "blank in a fragment or formula"
UNDEFINED_ACRONYM = "blank on an acronym the notes neither expand nor emphasise"
ASIDE = "blank in a parenthetical aside"

_NOT_STUDY_NAMES = re.compile(
    r"^(?:licen[cs]e|copying|notice|authors|contributors|contributing|code[-_]of[-_]conduct"
    r"|changelog|changes|history|security)(?:\.\w+)?$",
    re.IGNORECASE,
)
_LICENSE_TEXT = re.compile(
    r"permission is hereby granted|copyright \(c\)|licensed under the|all rights reserved"
    r"|without warranty|THE SOFTWARE IS PROVIDED|pull request|create a PR\b|contributions? welcome",
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
    r"|now|next|so|ok|okay|note|see|also|e\.g\.|i\.e\.|etc|at|in|on|for|with|by|from|to|of)\b",
    re.IGNORECASE,
)
_VERB = re.compile(
    r"\b(?:is|are|was|were|be|been|has|have|had|do|does|did|can|cannot|can't|could|will|would"
    r"|should|may|might|must|need|needs|works?|helps?|makes?|gives?|uses?|keeps?|reduces?"
    r"|increases?|improves?|fails?|needs?|matters?|depends?|requires?|avoids?|leads?|causes?"
    r"|becomes?|stays?|learns?|converges?|overfits?|\w{3,}(?:es|ed|s)|\w+n't)\b",
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


_IMPERATIVE = re.compile(
    r"^(?:use|add|manage|keep|run|check|pick|make|get|set|train|avoid|start|compute|write|try"
    r"|do|don't|remember|note|tip|step|why|how|what|when)\b",
    re.IGNORECASE,
)
_BOLD_LABEL = re.compile(
    r"^\s*(?:[-*+]|\d+[.)])?\s*\*\*(?P<label>[^*]+)\*\*\s*[:：]\s*(?P<gloss>.+)"
)


def label_blank(item: QuizItem) -> bool:
    """The blank opens a "Label: text" line, or sits in a "Related:"/"See also" line. A bold
    term defined by what follows it ("**GradNorm**: adapt weights so ...") is a definition, not
    a label, when the gloss says something (five words or more) and the term is not an
    instruction ("**Manage lifecycle**")."""
    question = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", item.question)
    if re.match(r"^\s*(?:[-*+]\s+)?(?:related|see also|see)\b", item.evidence, re.I):
        return True
    if not re.match(r"^_{4}[^:.;]{0,40}[:：]\s", question):
        return False
    m = _BOLD_LABEL.match(item.evidence)
    defined = (
        m is not None
        and fold(m["label"]) == fold(item.answer)
        and len(m["gloss"].split()) >= 5
        and not _IMPERATIVE.match(m["label"])
    )
    return not defined


def hidden_in_question(item: QuizItem) -> bool:
    """The question still shows the answer: inside a longer word ("DistilmBERT" for BERT), a
    word of a longer answer in the sentence ("linear" for "linear relationships"; the heading
    path after it may hold one), the acronym of a longer answer ("NMS" for "NMS-free"), or an
    acronym answer spelled out by the initials of a CamelCase word or of consecutive words
    ("BatchNorm" for BN, "Cross Entropy" for CE)."""
    answer = item.answer.strip()
    words = re.findall(r"[A-Za-z][A-Za-z0-9-]*", item.question.replace("____", " "))
    if len(answer) >= 3 and any(
        answer.lower() in w.lower() and w.lower() != answer.lower() for w in words
    ):
        return True
    parts = re.findall(r"[A-Za-z0-9]+", answer)
    shown = {w.lower() for w in words}
    sentence = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", without_context(item))}
    if len(parts) > 1 and any(p.lower() in sentence for p in parts if len(p) >= 4):
        return True  # "a linear model can only learn ____" for "linear relationships"
    if len(parts) > 1 and any(
        re.fullmatch(r"[A-Z]{2,}\d*", p) and p.lower() in shown for p in parts
    ):
        return True  # "NMS-free" with "NMS" in the question, "Faster R-CNN" with "CNN"
    if not re.fullmatch(r"[A-Z]{2,5}s?", answer):
        return False
    target = answer.rstrip("s")
    for w in words:  # CamelCase: BatchNorm -> BN
        caps = re.findall(r"[A-Z][a-z]+", w)
        if len(caps) == len(target) and "".join(c[0] for c in caps) == target:
            return True
    for i in range(len(words) - len(target) + 1):  # Cross Entropy -> CE
        span = words[i : i + len(target)]
        if "".join(x[0].upper() for x in span) == target and all(len(x) > 2 for x in span):
            return True
    return False


def without_context(item: QuizItem) -> str:
    """The question without the heading path its first line ends with (``offline.with_context``;
    the lines after it are an MCQ's clues)."""
    question, newline, clues = item.question.rstrip().partition("\n")
    parts = {p.strip() for p in item.citation.heading.split(HEADING_SEP)}
    parts |= {offline.short_part(p) for p in parts}
    at = question.rfind(" (")
    while at > 0 and question.endswith(")"):
        inner = question[at + 2 : -1]
        if all(p.strip() in parts for p in inner.split(HEADING_SEP)):
            return question[:at].rstrip() + newline + clues
        at = question.rfind(" (", 0, at)
    return question + newline + clues


def fragment(item: QuizItem) -> bool:
    """A generated blank in a note fragment, not a sentence: it opens lower case ("each task
    is a binary classific so e.g. ____"), does not end as a sentence ends ("ML on the Edge
    (on-device ____)", "Ads ____"), or the blank sits inside a formula."""
    body = item.question.replace("____", "\x00")
    for math in re.finditer(r"\$[^$\n]+?\$", body):  # "$...$" spans, paired in order
        if "\x00" in math.group(0) or re.search(r"[/^_+\-*=]\$$", math.group(0)):
            return True
    sentence = without_context(item).split("\n", 1)[0]  # an MCQ's clues follow the question
    if not re.search(r"[.!?。！？][\"'”’)*]*$", sentence):
        return True
    return bool(re.match(r"^[a-z]", body))


def aside_blank(item: QuizItem) -> bool:
    """The blank sits inside parentheses of the sentence ("the biggest ResNet (____) took 18
    days", "Repeat factor sampling (____)"): an aside, a citation or an example, not what the
    sentence teaches. Rated 1.5 on the tune half against 2.3 for other blanks."""
    sentence = without_context(item).split("\n", 1)[0]
    return bool(re.search(r"[(（][^()（）]*_{4}[^()（）]*[)）]", sentence))


def trivia_blank(answer: str) -> bool:
    text = answer.strip()
    if re.fullmatch(r"(?:19|20)\d{2}s?", text) or _VENUE.match(text):
        return True
    return bool(_NUMBER.match(text) or _SYMBOL.match(text))


def list_entry(item: QuizItem) -> bool:
    """The blank is one entry of an enumeration of three or more ("(MSE, ____, IoU)"): any entry
    would do as well, so the item tests the sentence, not the concept."""
    if "____" not in item.question:
        return False
    parts = re.split(r",|;|\band\b|\bor\b|/", item.question)
    if len(parts) < 3:
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


# a line of a diary, not a fact: "今天複習 ViT 和 DETR", "Today I read the Swin paper"
_DIARY = re.compile(
    r"^\W*(?:今天|昨天|明天|今晚|這週|本週|上週|下週"
    r"|(?:today|yesterday|tomorrow|tonight|this week|last week|next week)(?![\w'’]))",
    re.IGNORECASE,
)
# ... or a clause whose object points back to a sentence not shown: "... dodge this."
_ENDS_POINTING_BACK = re.compile(r"\b(?:this|that|these|those|it|them)\W*$", re.IGNORECASE)


def not_a_sentence(item: QuizItem) -> bool:
    """A generated "Explain why ..." prompt whose clause is talk, not a claim, has no verb, or
    ends on a word that points back ("Explain why two-stage detectors dodge this."); or a
    generated item on a diary line ("今天複習 ViT 和 ____")."""
    if item.generator == CARD_GENERATOR:
        return False
    if _DIARY.match(without_context(item)):
        return True
    if item.type != "recall":
        return False
    m = _EXPLAIN.match(item.question)
    if not m:
        return False
    clause = m["clause"]
    if _ENDS_POINTING_BACK.search(clause):
        return True
    if ":" in clause or re.search(r"\d", clause):
        return True  # "position: DCG takes ...", "at 70k peak QPS that's 21 M ...": not a claim
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


def reason(item: QuizItem, defined: Collection[str] | None = None) -> str | None:
    """Why ``item`` is not worth asking, or None. ``defined``: the folded terms the notes define
    or emphasise (``Lexicon.emphasised``: acronyms spelled out, bold terms, heading terms); when
    given, a blank on any other acronym is dropped (a dataset, venue or shorthand the notes
    never explain is trivia). The
    learner's own cards pass every rule but the markup and study-content ones: their wording is
    theirs."""
    if not_study(item.citation.source, item.passage):
        return NOT_STUDY
    if item.generator != CARD_GENERATOR:
        if item.type in ("cloze", "mcq"):
            if label_blank(item):
                return LABEL_BLANK
            if trivia_blank(item.answer):
                return TRIVIA_BLANK
            if list_entry(item):
                return LIST_ENTRY
            if hidden_in_question(item):
                return GIVEAWAY
            if fragment(item):
                return FRAGMENT
            if aside_blank(item):
                return ASIDE
            acronym = term_kind(item.answer) == "acronym" and "____" in item.question
            if defined is not None and acronym and fold(item.answer) not in defined:
                return UNDEFINED_ACRONYM
        if not_a_sentence(item):
            return NOT_A_SENTENCE
        if item.type == "mcq" and ambiguous_options(item):
            return AMBIGUOUS_OPTIONS
    if raw_markup(item.question) or (item.type != "recall" and raw_markup(item.answer)):
        return RAW_MARKUP
    return None
