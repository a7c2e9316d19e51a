"""Whether the passages an answer would quote name what the question asks about.

A question's specific terms are the names it uses: an acronym or a name with an inner capital,
digit as written ("NMS", "PointPillars", "YOLOv3"; "R-CNN-style" names R-CNN), a capitalised
word inside a sentence ("Thompson sampling"), and the multi-word ML terms of the bilingual
glossary (``app/glossary_zh.tsv``: "batch normalization", "gradient clipping") in an English
question; a Chinese question is judged on its names, on what it writes in English (a run of
Latin-script words, "Swin Transformer", is a term, or its names and glossary phrases are when it
has any: "2D detector" names 2D) and on its topic (``zh_anchored``), not on its Chinese glossary
entries, which map to plain words as often as to terms. A term is
covered when one passage holds all its words (or another form of each: "popular" for
"popularity"), its acronym or its expansion (the glossary pairs "non-maximum suppression" with
"NMS"), or, for a Chinese term, the Chinese itself; English written in a Chinese question is
also covered by its Chinese glossary spelling ("variance" by 變異數). Topical
overlap ("gradient", "IoU" for a question about NMS) is not coverage: a near-miss question on a
method the notes never name is refused whatever the embeddings say.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sharpnotes.app.crosslingual import find_terms, glossary
from sharpnotes.ingest.bm25 import stem
from sharpnotes.ingest.text import HEADING_SEP, has_cjk, terms, units, written_in_chinese

# an acronym or a name with an inner capital or a digit, as written (a hyphen alone makes plain
# words: "wall-clock", "trade-off", "brand-new")
_NAME = re.compile(  # ASCII word characters: "DETR為什麼不需要NMS" names DETR and NMS
    r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*(?:[A-Z][A-Za-z0-9_-]*[A-Z]|[a-z][A-Z]|\d))"
    r"[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9]"
)
# a name in code: "torch.compile", "nn.Module.eval()", "F.grid_sample"
# (not two sentences run together: "What is BN.Why ...")
_CODE_NAME = re.compile(
    r"(?<![\w./])(?![A-Z]+\.[A-Z][a-z]+\b)[A-Za-z_]\w*(?:\.[A-Za-z_]\w+)+(?![\w/])"
)
# a run of Latin-script words inside a Chinese question ("Swin Transformer", "noise schedule");
# a word may open with digits glued to its letters ("1x1 卷積" names 1x1, not "x1")
_LATIN_RUN = re.compile(
    r"(?<![A-Za-z0-9_])(?=\d*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_'/.-]*"
    r"(?:[ \t]+[A-Za-z][A-Za-z0-9_'/.-]*)*"
)
# ... and one word of it, in ASCII: not the 用 of "DETR用", and "1x1" whole
_LATIN_WORD = re.compile(r"(?<![A-Za-z0-9_])(?=\d*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_-]*")
# capitals that are not names of methods
# names a question may write that are no topic of their own: the hardware a method runs on is
# named in passing ("... save GPU memory")
COMMON = frozenset("I II III IV OK TODO FAQ QA US UK EU AI ML DL CV GPU CPU".split())  # noqa: SIM905


# a suffix that makes a name into a description of something like it: "R-CNN-style" heads
_KIND_OF = re.compile(r"-(?:style|like|based|type|esque|inspired)$", re.IGNORECASE)
# a capitalised word inside a sentence of an English question: a proper noun, the name of a
# method or of the person it is named after ("Thompson sampling", "Xavier initialization")
_CAPITALISED = re.compile(r"(?<=[a-z,;/(] )(?:[A-Z][a-z]{2,})(?:[ /-][A-Z][a-z]{2,})*(?![\w-])")


def proper_nouns(question: str) -> list[str]:
    """The capitalised words of an English question that are not at the start of a sentence."""
    return [m.group(0) for m in _CAPITALISED.finditer(question) if m.group(0) not in COMMON]


@dataclass(frozen=True)
class Term:
    """One specific term: its English words (folded by ``terms``) and other names for it."""

    text: str
    names: frozenset[str]  # lower-cased spellings that cover it (acronym, expansion, Chinese)


def english_of(entry: str) -> tuple[str, list[str]]:
    """(phrase, aliases) of a glossary English side: "non-maximum suppression NMS" gives the
    phrase and the acronym (also "IoU", "seq2seq"), "batch normalization batchnorm" the phrase
    and the run-together alias."""
    words = entry.split()
    aliases: list[str] = []
    while len(words) > 2 and (
        sum(c.isupper() for c in words[-1]) >= 2  # NMS, IoU, MoE
        or any(c.isdigit() for c in words[-1])  # seq2seq
        or (words[-1].lower().startswith(words[0].lower()) and words[-1] != words[0])
    ):
        aliases.insert(0, words.pop())
    return " ".join(words), aliases


@lru_cache(maxsize=1)
def phrases() -> dict[str, frozenset[str]]:
    """Multi-word English glossary terms (lower case) -> the other names that cover each: its
    aliases and acronym and its Chinese spellings."""
    out: dict[str, set[str]] = {}
    for zh, en in glossary().items():
        phrase, aliases = english_of(en)
        if len(phrase.split()) < 2:
            continue
        names = out.setdefault(phrase.lower(), set())
        names.update(a.lower() for a in aliases)
        names.add(zh)
    acronyms = {a: p for p, names in out.items() for a in names if a.isascii() and " " not in a}
    for acronym, phrase in acronyms.items():  # an acronym's own entry names its phrase
        out.setdefault(acronym, set()).add(phrase)
    return {p: frozenset(n) for p, n in out.items()}


@lru_cache(maxsize=1)
def chinese_names() -> dict[str, frozenset[str]]:
    """English glossary terms (lower case, one word or more) -> their Chinese spellings: a
    Chinese question that writes "variance" is answered by a note that writes 變異數."""
    out: dict[str, set[str]] = {}
    for zh, en in glossary().items():
        out.setdefault(english_of(en)[0].lower(), set()).add(zh)
    return {en: frozenset(names) for en, names in out.items()}


@lru_cache(maxsize=1)
def _phrase_pattern() -> re.Pattern[str]:
    """The multi-word English terms of the glossary as written in a question, longest first."""
    keys = sorted((en for en in chinese_names() if " " in en), key=len, reverse=True)
    return re.compile(
        r"(?<![\w-])(?:" + "|".join(re.escape(k) for k in keys) + r")(?![\w-])", re.IGNORECASE
    )


def chinese_spellings(question: str) -> list[str]:
    """The Chinese spellings of the multi-word glossary terms an English question writes: "what
    is the Kalman filter used for" -> 卡爾曼濾波 and its Simplified spelling, which a note
    written in Chinese holds where an English one writes the term."""
    if has_cjk(question):
        return []
    out: list[str] = []
    for match in _phrase_pattern().finditer(question):
        out += [zh for zh in sorted(chinese_names()[match.group(0).lower()]) if zh not in out]
    return out


# a word the notes write as an acronym ("KTO", "NMS", "IoU"): capitals after its first letter
_ACRONYM = re.compile(r"(?<![\w-])[A-Za-z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*(?![\w-])")
_LOWER_WORD = re.compile(r"(?<![\w-])[a-z][a-z0-9]{1,7}(?![\w-])")


def recased(question: str, texts: Sequence[str], english: frozenset[str] = frozenset()) -> str:
    """The question with each lower-case word that the passages write only as an acronym
    spelled as they write it: a quick "kto binary feedback" asks about KTO as "KTO ..." does,
    and its name is then held to the same checks. An English word (its stem in ``english``:
    "not" where the notes shout **NOT**, "map" beside "MAP") and a word the notes also write in
    lower case are left as typed."""
    if has_cjk(question):
        return question
    asked = {w for w in _LOWER_WORD.findall(question) if stem([w])[0] not in english}
    if not asked:
        return question
    spellings: dict[str, set[str]] = {}
    lower: set[str] = set()
    for text in texts:
        for m in _ACRONYM.finditer(text):
            spellings.setdefault(m.group(0).lower(), set()).add(m.group(0))
        lower |= asked & set(re.findall(r"(?<![\w-])[a-z][a-z0-9]*(?![\w-])", text))
    swap = {
        word: next(iter(spellings[word]))
        for word in asked - lower
        if word in spellings and len(spellings[word]) == 1 and word.upper() not in COMMON
    }
    if not swap:
        return question
    return _LOWER_WORD.sub(lambda m: swap.get(m.group(0), m.group(0)), question)


def specific_terms(question: str) -> list[Term]:
    """The specific terms of a question (see the module docstring), without repeats."""
    found: dict[str, Term] = {}
    known = phrases()
    q_terms = _ordered_terms(question)
    joined = " " + " ".join(q_terms) + " "
    english = not has_cjk(question)
    for phrase, others in known.items():
        if english and " " in phrase and _in_question(phrase, joined, question):
            found.setdefault(phrase, Term(phrase, others))
    if has_cjk(question):  # what a Chinese question writes in English is a term it names
        for run in _LATIN_RUN.findall(question):
            for part in _run_terms(run, known):
                words = terms(part)
                if re.sub(r"(?<=[A-Z])s$", "", part).upper() in COMMON:  # "GPUs" as "GPU"
                    continue
                if words and not any(words <= terms(t.text) for t in found.values()):
                    others = known.get(part.lower(), frozenset()) | chinese_names().get(
                        part.lower(), frozenset()
                    )
                    found.setdefault(part.lower(), Term(part.lower(), others))
    names = [m.group(0) for m in _CODE_NAME.finditer(question)]
    names += [m.group(0) for m in _NAME.finditer(question)]
    if not has_cjk(question):
        names += proper_nouns(question)
    for written in names:
        name = re.sub(r"(?<=[A-Z])s$", "", written)  # "GPUs" is "GPU"
        name = _KIND_OF.sub("", name)  # "R-CNN-style" names R-CNN
        if name in COMMON or name.lower() in found:
            continue
        if any(name.lower() in t.names or terms(name) <= terms(t.text) for t in found.values()):
            continue
        found[name.lower()] = Term(name.lower(), known.get(name.lower(), frozenset()))
    return list(found.values())


# a word of a Latin run that is a name: a capital after its first letter, a digit, a hyphen or a
# dot in it ("R-CNN", "PYMK", "2D", "two-stage"; not "Faster" or "Mixed")
_NAMED_WORD = re.compile(r"\w[\w'.-]*(?:[A-Z0-9.-])[\w'.-]*|[0-9][\w'.-]*")


def _run_terms(run: str, known: dict[str, frozenset[str]]) -> list[str]:
    """The terms a Latin run of a Chinese question names: the run when it is one word or a
    phrase of the glossary; else the glossary phrases in it and its words that are names, names
    next to each other as one ("two-stage detector" names two-stage, "2D detector" 2D, "D. mock
    PYMK" PYMK, "Faster R-CNN 的 RPN" Faster R-CNN); else the run ("noise schedule"), as a note
    writes "two-stage 有 RPN" without the plain word a question puts after it."""
    words = run.split()
    if len(words) < 2 or run.lower() in known or run.lower() in chinese_names():
        return [run]
    found: list[str] = []
    runs: list[list[str]] = [[]]
    i = 0
    while i < len(words):
        phrase = next(
            (
                " ".join(words[i:j])
                for j in range(len(words), i + 1, -1)
                if " ".join(words[i:j]).lower() in known
            ),
            "",
        )
        if phrase:  # "Non-maximum suppression threshold" names the glossary phrase
            found.append(phrase)
            runs.append([])
            i += len(phrase.split())
            continue
        word = words[i]
        if len(word.strip(".")) > 1 and _NAMED_WORD.fullmatch(word):
            runs[-1].append(word)
        elif runs[-1]:
            runs.append([])
        i += 1
    found += [" ".join(r) for r in runs if r]
    if not found:
        return [run]
    # a plain word that opens the run goes with the name after it ("Faster R-CNN")
    return [
        f"{words[0]} {part}" if part.startswith(words[1]) and words[0].istitle() else part
        for part in found
    ]


def _in_question(phrase: str, joined: str, question: str) -> bool:
    """A glossary phrase is in the question: its content terms in a row (``joined``), or, for a
    phrase with a word ``terms`` drops, as written ("A/B testing" writes "A/B test")."""
    if _has_plain_words(phrase):
        return _written(phrase).search(question.lower()) is not None
    return f" {' '.join(_ordered_terms(phrase))} " in joined


def heading_names(question: str, headings: Sequence[str]) -> dict[str, set[int]]:
    """Each specific term of the question -> the indexes of the heading paths whose own heading
    (the last part) names it: "AdaGrad vs RMSProp" names the sections "AdaGrad" and "RMSProp"."""
    asked = specific_terms(question)
    found: dict[str, set[int]] = {term.text: set() for term in asked}
    for i, heading in enumerate(headings):
        for own in specific_terms(heading.rsplit(HEADING_SEP, 1)[-1]):
            for term in asked:  # the same term, or one is the other's acronym or expansion
                if own.text == term.text or own.text in term.names or term.text in own.names:
                    found[term.text].add(i)
    return found


def named_sections(question: str, headings: Sequence[str]) -> set[int]:
    """The indexes of the heading paths whose own heading names a specific term of the
    question (``heading_names``)."""
    return {i for where in heading_names(question, headings).values() for i in where}


def all_named(question: str, headings: Sequence[str], min_letters: int = 3) -> bool:
    """True when the question uses names and each of them (of at least ``min_letters``) heads
    a section: a question on SECOND, with a section "SECOND (Yan et al., 2018)". A question
    on FlashAttention for LLMs is not vouched for by a section on LLMs."""
    found = heading_names(question, headings)
    return bool(found) and all(where and len(term) >= min_letters for term, where in found.items())


# what a note marks as a name besides a heading: a bold span, the first cell of a table row
_BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*")
_ROW_NAME = re.compile(r"^[ \t]*\|[ \t]*([^|\n]{1,80}?)[ \t]*\|", re.MULTILINE)
# ... the label of a list item ("- ByteTrack: associate low-score dets too"), as terse notes
# define things
_ITEM_NAME = re.compile(
    r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+([^:：\n]{1,40}?)[ \t]*(?::(?!//)|：)", re.MULTILINE
)


# ... and an acronym written with its expansion, either way round: "IPM (inverse perspective
# mapping)", "inverse perspective mapping (IPM)": the note defines it
_DEFINED = re.compile(  # in ASCII or full-width brackets, as Chinese is written: "IPM（...）"
    r"(?<![\w-])([A-Za-z][\w-]*[A-Z][\w-]*)\s*[(（]\s*[A-Za-z][a-z]+(?:[ -][A-Za-z][a-z]+)+\s*[)）]"
    r"|(?:[A-Za-z][a-z]+[ -]){1,6}[A-Za-z][a-z]+\s*[(（]\s*([A-Za-z][\w-]*[A-Z][\w-]*)\s*[)）]"
)


# ... and a name (an acronym, an inner capital or a digit) that opens a line written in Chinese
# as its subject ("DeepSORT 加了一個 appearance embedding", "5. NDS 是什麼？"): MiniLM, whose
# score decides for an English line ("SECOND uses sparse convolutions"), reads the Chinese
# around it as noise
_OPENING_NAME = re.compile(
    r"^[ \t]*(?:(?:[-*+]|\d+[.)])[ \t]+)?([A-Za-z][\w-]*[A-Z0-9][\w-]*)(?=[ \t,:，：])"
)


def marked(text: str) -> list[str]:
    """What a passage marks as names: its bold spans, the first cells of its table rows, the
    labels of its list items, the acronyms it spells out and the names that open its lines
    written in Chinese."""
    defined = [m.group(1) or m.group(2) for m in _DEFINED.finditer(text)]
    return (
        [m.group(1) for m in _BOLD.finditer(text)]
        + [m.group(1) for m in _ROW_NAME.finditer(text)]
        + [m.group(1) for m in _ITEM_NAME.finditer(text)]
        + [
            m.group(1)
            for line in text.splitlines()
            if has_cjk(line)
            for m in [_OPENING_NAME.match(line)]
            if m
        ]
        + defined
    )


def all_marked(question: str, headings: Sequence[str], texts: Sequence[str]) -> bool:
    """``all_named`` where a name may also be marked in a passage's text (bold, or naming a
    table row: "| **KTO** | binary thumbs up/down |"): notes mark what they define."""
    return all_named(question, marked_spans(headings, texts))


def marked_spans(headings: Sequence[str], texts: Sequence[str]) -> list[str]:
    """Where passages name things: their own headings and what their texts mark (``marked``)."""
    return [h.rsplit(HEADING_SEP, 1)[-1] for h in headings] + [
        span for text in texts for span in marked(text)
    ]


# a question that asks only what something is: "What is the KV cache?", "How does SMOTE work?"
_WHAT_IS = re.compile(
    r"^\s*(?:what\s+(?:is|are|was|were|does|do)|what's|define|explain|describe|how\s+(?:does|do)|"
    r"tell\s+me\s+about)\s+(?:an?\s+|the\s+)?(?!(?:how|why|when|where|which|what)\b)"
    r"(?P<name>[^?]+?)"
    r"(?:\s+(?:work|works|mean|means|stand\s+for|do))?\s*\??\s*$",
    re.IGNORECASE,
)
ASKED_NAME_WORDS = 5


def asked_name(question: str) -> str:
    """What a question asks the meaning of, when that is all it asks ("What is the novelty
    effect?" -> "novelty effect"; up to ASKED_NAME_WORDS words), else ""."""
    match = _WHAT_IS.match(question)
    name = match.group("name").strip(" .") if match else ""
    return name if name and len(name.split()) <= ASKED_NAME_WORDS and terms(name) else ""


# what follows a name a note defines where it writes it: "KV cache: ...", "ECE = ...", "RoPE
# (rotary, ...)", "novelty effect / primacy effect: ...", "... -> ..." ("the model is trained"
# defines nothing, and "X is ..." is left to the evidence score)
_DEFINES = r"(?:\s*/\s*[^\n:：/]{1,30}?)?\s*(?:[:：=(（]|-+>|→)"


def defines_asked_name(question: str, passages: Sequence[str]) -> bool:
    """A question that only asks what something is, whose name a passage writes as the question
    does (words apart by spaces or hyphens) and defines there: "What is logQ correction?" over
    "fix with logQ correction (subtract log of sampling prob from the logit)", "What is the KV
    cache?" over "KV cache: at inference store K,V of past tokens". MiniLM scores such short
    questions on rare names low, however plainly the notes define them. A name used in passing
    ("a moving average of g^2") is not defined there."""
    defined = definition_of_asked(question)
    return defined is not None and any(defined.search(p.lower()) for p in passages)


def definition_of_asked(question: str) -> re.Pattern[str] | None:
    """For a question that only asks what a name is, a pattern that finds the name defined where
    it is written (in lower-cased text), else None."""
    name = asked_name(question)
    return re.compile(_written(name).pattern + _DEFINES) if name else None


def _has_plain_words(phrase: str) -> bool:
    """True when a phrase holds a word that ``terms`` drops ("he" of "he initialization"): its
    content terms alone would match far more than the phrase."""
    return len(_ordered_terms(phrase)) < len(phrase.split())


@lru_cache(maxsize=4096)
def _written(phrase: str) -> re.Pattern[str]:
    """The phrase as written, words apart by spaces or hyphens (lower case), its last word
    also with an ending ("A/B testing" writes "A/B test", "he initializations")."""
    words = [re.escape(w) for w in phrase.lower().split()]
    return re.compile(r"(?<![\w-])" + r"[\s-]+".join(words) + r"(?:s|es|ing|ed)?(?![\w-])")


def _ordered_terms(text: str) -> list[str]:
    """Content terms in order (``terms`` of each word), for phrase matching."""
    out = []
    for word in re.findall(r"[\w-]+", text):
        out += sorted(terms(word))
    return out


# British spellings as American ones, for matching only: "neighbour" names "neighbor",
# "quantisation" names "quantization", "centre" names "center"
_SPELLING = [
    (re.compile(r"(?<=\w{2})our(s?)$"), r"or\1"),
    (re.compile(r"(?<=\w{3})is(e|ed|es|ing|ation|ations|er|ers)$"), r"iz\1"),
    (re.compile(r"(?<=\w{2})tre(s?)$"), r"ter\1"),
]
# English names of one thing that the bilingual glossary does not pair
ALIASES = {
    "validation set": ("val set", "val split", "validation split", "dev set"),
    "ram": ("memory",),
}


def american(words: set[str]) -> set[str]:
    """Words as American English spells them (``_SPELLING``), for matching only."""
    out = set()
    for word in words:
        for pattern, american in _SPELLING:
            word = pattern.sub(american, word)
        out.add(word)
    return out


# a word also names another form of itself: the same BM25 stem, at most this many letters
# longer or shorter ("popularity" and "popular", "triggered" and "trigger"; not "normalization"
# and "normal", nor "optimization" and "optimal")
FORM_LETTERS = 3


def word_forms(have: set[str]) -> dict[str, list[str]]:
    """A passage's words by BM25 stem."""
    words = sorted(have)
    out: dict[str, list[str]] = {}
    for word, root in zip(words, stem(words), strict=True):
        out.setdefault(root, []).append(word)
    return out


def holds(
    words: set[str],
    have: set[str],
    forms: dict[str, list[str]],
    letters: int = FORM_LETTERS,
) -> bool:
    """Every one of ``words`` is in ``have``, or a word of ``have`` (``forms``: ``word_forms``)
    has its stem and is at most ``letters`` letters longer or shorter."""
    missing = words - have
    if not missing:
        return True
    return all(
        any(abs(len(other) - len(word)) <= letters for other in forms.get(root, ()))
        for word, root in zip(missing, stem(list(missing)), strict=True)
    )


# a Greek letter's name and its symbol (lower case): a question types the name, a note the symbol
GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "pi": "π", "rho": "ρ",
    "sigma": "σ", "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
}  # fmt: skip


def covered(term: Term, lowered: str, have: set[str], forms: dict[str, list[str]]) -> bool:
    """A passage (``lowered``: its text in lower case; ``have``: its ``american`` terms;
    ``forms``: those by stem, ``word_forms``) names the term: all its words (British or American
    spelling, or another form of each, ``FORM_LETTERS``), or one of its other names."""
    words = american(terms(term.text))
    if "." in term.text.strip("."):  # a name in code: as written, or its last part if a name
        last = term.text.rsplit(".", 1)[-1]
        return term.text in lowered or (
            bool(_NAME.fullmatch(last)) and _writes_word(lowered, last.lower())
        )
    if " " in term.text and _has_plain_words(term.text):
        if _written(term.text).search(lowered):  # "he initialization" as written, not "init..."
            return True
    elif words and holds(words, have, forms):
        return True
    if not words and _writes_word(lowered, term.text):
        return True  # a name that is also a plain word ("SECOND", "ALL")
    if term.text in GREEK and GREEK[term.text] in lowered:
        return True  # "gamma" where the note writes "γ = 2"
    for name in term.names | frozenset(ALIASES.get(term.text, ())):
        if has_cjk(name) and name in lowered:
            return True
        if not has_cjk(name) and terms(name) and holds(american(terms(name)), have, forms):
            return True
    return False


def uncovered(question: str, passages: Sequence[str]) -> list[str]:
    """The question's specific terms that none of the passages names."""
    asked = specific_terms(question)
    if not asked:
        return []
    read = _as_read(passages)
    return [t.text for t in asked if not any(covered(t, *passage) for passage in read)]


def forgiven(
    question: str, missing: Sequence[str], passages: Sequence[str], headings: Sequence[str]
) -> list[str]:
    """The ``missing`` terms (``uncovered``) that do not refuse the question: a glossary phrase of
    several words that a passage writes all but the last of ("L2 regularization" where the note
    writes "Adam + L2"; "positive sample" where it writes "positives"), in a question whose names
    (``_NAME``: "AdamW", "ATSS") are all named by a passage's heading or marked in its text, as
    a section or a table row on them is. A question with no such name ("How does gradient
    clipping work?") is held to every word of its phrases."""
    if not missing:
        return []
    written = sorted({n for n in _NAME.findall(question) if n.upper() not in COMMON})
    names = {n.lower() for n in written}
    asked = [t for t in specific_terms(question) if t.text in names]
    if not asked or any(t.text in missing for t in asked):
        return []
    vouched = heading_names(", ".join(written), marked_spans(headings, passages))
    if not all(vouched.get(t.text) for t in asked):
        return []
    read = _as_read(passages)
    glossary = phrases()
    out = []
    for term in missing:
        words = [american(terms(w)) for w in term.split()]
        if len(words) < 2 or term not in glossary or not all(words):
            continue
        # every word but the last (the phrase's head: "regularization", "sample"): "speculative
        # decoding" is not named by "decoder"
        if any(all(holds(w, have, forms) for w in words[:-1]) for _, have, forms in read):
            out.append(term)
    return out


def _as_read(passages: Sequence[str]) -> list[tuple[str, set[str], dict[str, list[str]]]]:
    """Each passage as ``covered`` reads it: its lower-cased text, spelled terms and forms."""
    return [(p.lower(), have, word_forms(have)) for p in passages for have in [american(terms(p))]]


def named_in_chinese(question: str, passages: Sequence[str]) -> list[str]:
    """The specific terms of an English question that the passages name only in Chinese ("Kalman
    filter" where the one note on it writes 卡爾曼濾波): MiniLM, which reads Chinese as noise,
    cannot say how well those passages answer."""
    if has_cjk(question):
        return []
    read = _as_read(passages)
    out = []
    for term in specific_terms(question):
        zh = frozenset(n for n in term.names if has_cjk(n))
        english = Term(term.text, term.names - zh)
        if (
            zh
            and any(covered(Term(term.text, zh), *p) for p in read)
            and not any(covered(english, *p) for p in read)
        ):
            out.append(term.text)
    return out


def answered_in_chinese(
    question: str, passages: Sequence[str], headings: Sequence[str] = ()
) -> bool:
    """An English question whose first passage is written in Chinese and writes one of the
    question's content words in its text or heading path (the English terms a Chinese note
    keeps: "Pre-labeling（預標）", "QA 抽 5%", "標註（Annotation）"): MiniLM, which reads the
    Chinese around them as noise, cannot score that passage, so the term checks decide, as for
    a question asked in Chinese. Whether it is written in Chinese is read from its text alone:
    a heading path of English terms does not make a Chinese note English."""
    if has_cjk(question) or not passages or not written_in_chinese(passages[0]):
        return False
    heading = headings[0] if headings else ""
    return bool(terms(question) & terms(f"{heading}\n{passages[0]}"))


# a Chinese question shares at least this many topic pairs with the passages (or all it has)
ZH_PAIRS = 2
# characters of Chinese grammar and question words: a pair holding one says nothing of the topic
FUNCTION_ZH = frozenset(
    "的了是在有和與与跟及或要會会能可以把被讓让為为什麼么怎樣样如何哪裡里個个些多少幾几大概才就都也還还"
    "嗎吗呢吧呀啊這这那其它他她我你們们一不沒没很最更再又上下中來来去到從从對对於于說说用做得著着之"
)


def aspects_missed(question: str, text: str) -> list[str]:
    """What a Chinese question asks that ``text`` does not name: its glossary terms that the
    text writes in neither language ("缺點" for "CLIP 的 zero-shot 是怎麼做的？"), and the topic
    pairs of the rest of it."""
    missed, rest = [], question
    for zh, en in find_terms(question):
        rest = rest.replace(zh, " ")
        phrase, aliases = english_of(en)
        if not _names_term(text, zh, terms(phrase), aliases):
            missed.append(zh)
    return missed + sorted(zh_pairs(rest) - zh_pairs(text))


def zh_pairs(text: str) -> set[str]:
    """Adjacent pairs of Chinese characters, neither a function character (topic words:
    拉麵, 深度, 影像)."""
    runs = re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+", text)
    return {
        run[i : i + 2]
        for run in runs
        for i in range(len(run) - 1)
        if run[i] not in FUNCTION_ZH and run[i + 1] not in FUNCTION_ZH
    }


# a unit that names a glossary term says something of it when it holds this many other terms
SAID_TERMS = 3


def only_named(question: str, passages: Sequence[str]) -> list[str]:
    """The multi-word glossary terms of a Chinese question that the passages name only in
    lines that say nothing else ("Model compression › Knowledge distillation" in a list of
    topics): a near miss the notes list but never explain. MiniLM's evidence score, which
    refuses such an English question, says nothing of a Chinese one."""
    if not has_cjk(question):
        return []
    lines = [u.clean for p in passages for u in units(p, min_terms=0)]
    out = []
    for zh, en in find_terms(question):
        phrase, aliases = english_of(en)
        own = terms(phrase)
        if len(phrase.split()) < 2:
            continue  # a one-word entry is as often a plain word as a term

        naming = [line for line in lines if _names_term(line, zh, own, aliases)]
        if naming and all(len(terms(line) - own - terms(zh)) < SAID_TERMS for line in naming):
            out.append(phrase)
    return out


def _writes_word(text: str, word: str) -> bool:
    """``text`` writes ``word`` as a word of its own (not inside "R-CNN-style" or "RPN2")."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


# the generic head nouns of a glossary term named after someone: "Hungarian algorithm" is named
# where a note writes "Hungarian：O(n³)"
GENERIC_HEADS = frozenset("algorithm method".split())  # noqa: SIM905


def _names_term(text: str, zh: str, own: set[str], aliases: Sequence[str]) -> bool:
    """``text`` writes a glossary term: its Chinese, every word of its English (``own``: their
    content terms), or its acronym ("非極大值抑制" in a note that only writes "NMS")."""
    return (
        zh.lower() in text.lower()
        or own <= terms(text)
        or any(_writes_word(text, a) for a in aliases)
    )


def writes_glossary_term(text: str, zh: str, en: str) -> bool:
    """``text`` writes the glossary term ``zh`` (English side ``en``) in either language
    (``_names_term``); a term named after someone without its generic head noun too
    ("Hungarian" for "Hungarian algorithm")."""
    phrase, aliases = english_of(en)
    words = phrase.split()
    if len(words) > 1 and words[-1] in GENERIC_HEADS and all(w[:1].isupper() for w in words[:-1]):
        words = words[:-1]
    return _names_term(text, zh, terms(" ".join(words)), aliases)


def glossary_share(question: str, passages: Sequence[str]) -> float:
    """The share of a Chinese question's content characters (not ``FUNCTION_ZH``) held by its
    glossary terms that a passage writes, in Chinese or in English (``held_terms``)."""
    return held_share(question, held_terms(question, passages))


def held_terms(question: str, passages: Sequence[str]) -> list[str]:
    """The glossary terms of a Chinese question that a passage writes (``writes_glossary_term``)."""
    return [
        zh
        for zh, en in find_terms(question)
        if any(writes_glossary_term(p, zh, en) for p in passages)
    ]


def held_share(question: str, held: Sequence[str]) -> float:
    """The share of a Chinese question's content characters that its glossary terms ``held``
    (``held_terms``) hold."""
    content = [c for c in question if has_cjk(c) and c not in FUNCTION_ZH]
    kept = sum(sum(1 for c in zh if c not in FUNCTION_ZH) for zh in held)
    return kept / len(content) if content else 0.0


def thinly_anchored(
    question: str, passages: Sequence[str], share: float, held: Sequence[str] | None = None
) -> bool:
    """A Chinese question with no Latin-script term that the passages meet in one glossary term
    at most, holding less than ``share`` of its content (``glossary_share``), while not one
    topic pair of the rest of it (``zh_pairs``) is in them: "怎麼訓練我家的狗不要亂咬東西？" over
    notes that write 訓練 (training) and nothing of dogs or biting. Two glossary terms met
    ("隨機森林為什麼每次分裂只從一部分特徵裡挑？" over a note on random forests and features)
    are a topic, and passages with no Chinese are left to the multilingual model
    ("推薦系統的冷啟動怎麼處理？" over an English note on cold start). ``held``: its
    ``held_terms`` in the passages, when the caller has them."""
    if not has_cjk(question) or latin_terms(question):
        return False
    held = held_terms(question, passages) if held is None else held
    if len(held) > 1 or held_share(question, held) >= share:
        return False
    rest = question
    for zh, _ in find_terms(question):
        rest = rest.replace(zh, " ")
    pairs, written = zh_pairs(rest), zh_pairs(" ".join(passages))
    # over notes in English the glossary is the only bridge: the multilingual model decides
    return bool(pairs) and bool(written) and not pairs & written


def latin_terms(text: str) -> set[str]:
    """The content terms of the words ``text`` writes in Latin script (the English a Chinese
    question or card keeps: "DETR", "NMS", "zero-shot")."""
    return terms(" ".join(_LATIN_WORD.findall(text)))


def zh_anchored(question: str, passages: Sequence[str]) -> bool:
    """A Chinese question is about the passages when one of them holds one of its glossary
    terms, one of its Latin-script content words, or ZH_PAIRS of its Chinese topic pairs.
    MiniLM reads Chinese as little more than noise, so any two Chinese texts look alike to it:
    this is what tells a question on cooking from a note on lane detection."""
    if not has_cjk(question):
        return True
    text = " ".join(passages)
    if any(writes_glossary_term(text, zh, en) for zh, en in find_terms(question)):
        return True
    if latin_terms(question) & terms(text):
        return True
    pairs = zh_pairs(question)
    return len(pairs & zh_pairs(text)) >= min(ZH_PAIRS, len(pairs)) > 0
