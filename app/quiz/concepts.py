"""Quiz items about what a passage lays out, not about one of its sentences.

- A table of two or three named rows: a question a column ('How do SORT, DeepSORT and
  ByteTrack compare on "main fix"?'), what each row says as key points. A table of four rows
  gives no comparisons (four answers to recite).
- A row with a column that is a question in disguise ("use when", "reason", "pros" and
  "cons"): that question ("When would you use DPO?"), in a table of any length. An English row
  is not recited cell by cell ('For DPO, what are the "data required" and "cost"?') and its
  "key idea" is not asked: copying cells back rated 3.2 and 2.6 on the tune half, against
  3.8-3.9 for the other items of tables (the cells stay the clues of its MCQ). A Chinese row
  of a longer table is ("AbsRel：定義、方向各是什麼？", 3.8 on the tune half) when two of its
  cells say something.
- With four rows or more, each row is also an MCQ ("Which algorithm is this?" over a list of
  its cells, "- data required: preference pairs", ...; the other rows' names as options:
  siblings of the same kind and topic, each clearly wrong per the same table). A table whose
  columns are the things compared (``| | CNN | ViT |``) gives "How do CNN and ViT compare on
  X?" per row.
- A list the note names as pros, cons, limitations, failure modes or pitfalls (by the heading
  it sits under, or the line leading into it), or a set a lead-in line names ("Two ways to
  shrink a model:"): recall ("What are the cons of CNNs?"), the entries' leads as key points.
- In an outline, the pros, cons... an item lists as its nested items ("* GBDT" over "* pros:
  interpretable" and "* cons: slow to retrain"): "What are the pros and cons of GBDT?", the
  parts of their text as key points.

Rows that are all numbers or single words are trivia and make no item; a row's name must be a
short name, distinct within its table, and not a version tag alone ("v3"); an MCQ shows no
cell that hints at the name. The evidence is the row line or the list, verbatim. Items carry
``GENERATOR`` as provenance and pass ``app.quiz.verify`` and the quality gate like every
generated item."""

from __future__ import annotations

import random
import re

from sharpnotes.app.quiz import verify
from sharpnotes.app.quiz.items import QuizItem
from sharpnotes.app.quiz.offline import citation_of, context, lower_first, plain, with_context
from sharpnotes.app.quiz.terms import fold, term_kind
from sharpnotes.app.retrieval import SearchResult
from sharpnotes.ingest.text import (
    HEADING_SEP,
    Block,
    TableRow,
    blocks,
    clean_heading,
    has_cjk,
    is_lead_in,
    list_marker,
    list_parents,
    outline,
    table_rows,
    terms,
    units,
)

GENERATOR = "structure"  # provenance: made from a table or a named list of the notes
MAX_CELLS = 4  # columns asked about in one row question
# a Chinese row question about several columns asks for at least this many cells that say
# something (``_says``)
MIN_SAYING = 2
# a table of this many named rows is asked column by column ("How do A, B and C compare on
# X?"); one of four rows gives no comparisons (the answer is a table to recite: rated 3.1
# against 3.9-4.0 for two or three rows, tune half, round 9c)
MIN_COMPARED, MAX_COMPARED, MAX_UNRECITED = 2, 3, 4
MAX_COMPARED_CHARS = 300  # the cells of one column, together
HINT_PREFIX = 5  # letters two words share at their start when one hints at the other
MAX_POINTS = 5
MAX_NAME_WORDS = 6

_KIND = (
    r"pros|cons|advantages|disadvantages|benefits|drawbacks|strengths|weaknesses|limitations"
    r"|failure modes|pitfalls|caveats|downsides|upsides"
)
_NAMED_LIST = re.compile(
    rf"^(?:(?:key|main|common|known|typical)\s+)?(?P<kind>{_KIND})\b(?:\s+(?P<prep>of|for)\s+"
    rf"(?P<subject>[^:(]+?))?\s*(?:\([^)]*\))?\s*[:：]?$",
    re.IGNORECASE,
)
_NAMED_LIST_ZH = re.compile(
    r"^(?P<subject>.*?)的?(?P<kind>優點|缺點|限制|缺陷|常見錯誤|失敗模式)\s*[:：]?$"
)
# a lead-in naming a set: "The main approaches to cold start:", "Two ways to shrink a model:"
_QUANTIFIERS = (
    r"^(?:the\s+)?(?:(?:two|three|four|five|\d+|main|key|common|several|typical|usual)\s+)*"
)
_SET_NOUNS = (
    r"(?:approaches|options|ways|steps|methods|techniques|strategies"
    r"|components|challenges|metrics|types|kinds|stages|reasons|causes|fixes|tricks|signals"
    r"|families|variants|categories|principles|sources|losses|architectures)"
)
_CATEGORY = re.compile(
    _QUANTIFIERS + r"(?:[\w/+-]+\s+){0,3}?" + _SET_NOUNS + r"\b[^:]*$", re.IGNORECASE
)
# "Fixes the two big problems of DETR": opening the line, the word is a verb, the line a sentence
_SET_NOUN_AS_VERB = re.compile(
    r"^" + _SET_NOUNS + r"\s+(?:the|a|an|this|these|those|its|our|their|both)\b", re.IGNORECASE
)
_NOT_A_SUBJECT = re.compile(
    r"^(?:it|this|that|these|we|you|they|there|here|depending|in|for|to|if|when|so)\b", re.I
)
MAX_LIST_ITEMS = 8
# where a lead-in line goes on past the set it names: a comma, a semicolon, "because", "which"
_CLAUSE = re.compile(r"\s*[,;]|\s+(?:because|since|which|so that|where)\b", re.IGNORECASE)
_SMALL = re.compile(r"(?:the|and|for|per|not|all|one|two|are|use|can|with|its|any|has|had|was)")
_POSSESSIVE = re.compile(r"^(?:my|our|the)\s+", re.IGNORECASE)
_LEAD = re.compile(r"\s*(?:[:：]\s|\s[—–-]\s|[.;。；](?:\s|$)|\()")
# header cells that name no property: a row is not asked about them alone
_GENERIC = re.compile(
    r"(?:notes?|comments?|values?|details|remarks|description|contents?|misc|info|other)"
)
_EXAMPLE = re.compile(r"(?i)(?:typical |real-world )?(?:examples?|e\.g\.?)")
# a first-column header that says a row has a name, not what kind of thing it names
_NAMES_NOTHING = re.compile(r"(?i)names?|items?|terms?|entry|entries|things?|concepts?|#")
_NOUN = {"how": "mechanism", "what": "description", "why": "reason", "idea": "idea"}
_ASPECT = {"", "aspect", "aspects", "property", "feature", "criterion", "dimension", "vs", "vs."}


def _recall(
    question: str, answer: str, evidence: str, points: list[str], passage: SearchResult, h: str
) -> QuizItem:
    return QuizItem(
        "recall", question, answer, evidence, passage.text, citation_of(passage),
        key_points=points[:MAX_POINTS], content_hash=h, generator=GENERATOR,
    )  # fmt: skip


def _header_word(cell: str) -> str:
    """A header cell as a noun phrase inside a question ("Use when" -> "use when")."""
    text = _POSSESSIVE.sub("", plain(cell)).strip(" ?")
    if not re.search(r"[^\W\d_]", text):
        return ""  # "+", "−", "#": no words to ask with
    if re.match(r"(?i)(?:what|how|which|why|when)\s+\S+\s", text):
        return ""  # "What I want on the whiteboard": no noun to ask for
    text = re.sub(r"(?i)^what\s+(?=\w+$)", "", text)  # "What changes" -> "changes"
    text = _NOUN.get(text.lower(), text)
    return lower_first(text)


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _name(cell: str) -> str | None:
    """A row's (or column's) name: short, with letters, not a measurement ("20 m", "1 ms") and
    not a version tag alone ("v3", "v8 / 11": which version did what is trivia)."""
    name = plain(cell).strip(" *")
    if not name or len(name.split()) > MAX_NAME_WORDS or len(name) > 60 or "?" in name:
        return None
    if re.fullmatch(r"[\d.,%×x~<>≈+\-\s]*(?:\d\s*[A-Za-z]{0,3})?", name):
        return None
    if re.fullmatch(r"(?i)v\d+(?:\.\d+)*(?:\s*/\s*v?\d+)*", name):
        return None
    return name


def _content(cell: str) -> bool:
    """A cell that says something: three words or more, or a short phrase with letters that is
    not a yes/no mark."""
    text = plain(cell)
    if len(text.split()) >= 3:
        return True
    return bool(re.search(r"[A-Za-z\u4e00-\u9fff]{3,}", text)) and not re.fullmatch(
        r"(?i)(?:yes|no|n/?a|none|-|—|✓|✗|x)", text.strip()
    )


# a row asked about one column whose header is a question in disguise: ask that question
# ({subject}: the row's name with what the first column names, "the Stratified k-fold variant")
_PROS = r"pros|advantages?|strengths?|benefits?|upsides?"
_CONS = r"cons|disadvantages?|weakness(?:es)?|drawbacks?|limitations?|downsides?"
_ONE_COLUMN = [
    (
        r"use (?:it )?when|when to use|when|best for|good for|use cases?",
        "When would you use {subject}?",
    ),
    (r"reason|why|purpose", "Why use {subject}?"),
    (_PROS, "What are the strengths of {subject}?"),
    (_CONS, "What are the weaknesses of {subject}?"),
    (r"(?:likely |common |root )?causes?", "What is the likely cause of {name}?"),
    (
        r"(?:change|difference) (?:vs\.?|from|over) (?P<other>.+)",
        "What does {subject} change from {other}?",
    ),
]


def _is(pattern: str, word: str) -> bool:
    return re.fullmatch(pattern, word, re.IGNORECASE) is not None


def _asked_as(word: str) -> tuple[str, dict[str, str]] | None:
    """The question a column header stands for: its ``_ONE_COLUMN`` template and the parts it
    names ("change vs FPN": other="FPN"), or None."""
    for pattern, template in _ONE_COLUMN:
        if m := re.fullmatch(pattern, word, re.IGNORECASE):
            return template, m.groupdict()
    return None


def _pointed(columns: list[int], words: dict[int, str]) -> list[int]:
    """Of a row's columns, the one to ask as a question of its own (the first whose header is
    a question in disguise), or its pros and cons columns together; none when no header is."""
    pros = [i for i in columns if _is(_PROS, words[i])]
    cons = [i for i in columns if _is(_CONS, words[i])]
    if pros and cons:
        return [pros[0], cons[0]]
    return next(([i] for i in columns if _asked_as(words[i])), [])


_ASKS_ZH = re.compile(r"什麼|哪|多少|怎麼|如何|為什麼|幾")  # a Chinese header phrased as a question


def _question(name: str, words: list[str], what: str = "") -> str:
    """The question of a table row named ``name`` about the column or columns ``words`` that
    ``_pointed`` chose, or a Chinese row's columns; ``what``: what the first column names
    ("variant", "level"), added when the name alone is bare."""
    if has_cjk(" ".join(words)):
        if len(words) > 1:
            return f"{name}：{'、'.join(words)}各是什麼？"
        if _ASKS_ZH.search(words[0]):  # the header asks already: "切分什麼", "對付哪種不平衡"
            return f"{name} {words[0]}？"
        return f"{name} 的「{words[0]}」是什麼？"
    bare = what and len(name.split()) <= 3 and not set(fold(what).split()) & set(fold(name).split())
    subject = f"the {name} {what}" if bare else name
    if len(words) == 2:
        return f"What are the strengths and weaknesses of {subject}?"
    template, parts = _asked_as(words[0]) or ("", {})
    return template.format(subject=subject, name=name, **parts)


def _quoted(header: str) -> str:
    """A column header as a label inside a question: "acts on" with its quotes (a blind rater
    preferred 'what are the "acts on" and "main knob"?' to the same without quotes in 11 of 14
    tune items); one that holds quotes already stays as it is."""
    return header if '"' in header else f'"{header}"'


def _table_items(
    block: Block, passage: SearchResult, content_hash: str, rng: random.Random
) -> list[QuizItem]:
    header, rows = table_rows(block.text)
    width = len(header)
    rows = [row for row in rows if len(row.cells) == width and row.line in passage.text]
    if width < 2 or len(rows) < 2:
        return []
    if plain(header[0]).strip().lower() in _ASPECT:
        return _compare_items(header, rows, passage, content_hash)
    rows = _cumulative(rows)  # down a column of named rows: each row builds on the one above
    named = [(row, _name(row.cells[0])) for row in rows]
    names = [n for _, n in named if n]
    if len(names) * 5 < len(rows) * 4 or len(set(map(fold, names))) != len(names):
        return []  # the first column does not name one thing a row
    what = _header_word(header[0])  # "algorithm": what a row names
    if _NAMES_NOTHING.fullmatch(what):
        what = ""  # "Name", "Term": "the Concept drift name" says no more than "Concept drift"
    words = {i: _header_word(header[i]) for i in range(1, width)}
    columns = [i for i in range(1, width) if words[i]]
    # a small table is compared column by column (``_column_items``), not recited row by row
    small = MIN_COMPARED <= len(named) <= MAX_UNRECITED and all(n for _, n in named)
    out: list[QuizItem] = []
    for row, name in named:
        if not name:
            continue
        asked = [i for i in columns if _content(row.cells[i])]
        specific = [i for i in asked if not _GENERIC.fullmatch(words[i].lower())]
        if not specific or not any(len(plain(row.cells[i]).split()) >= 3 for i in asked):
            continue  # only numbers, single words or "notes": trivia
        asked = specific[:MAX_CELLS]
        mcq = _row_mcq(row, name, names, what, words, asked, passage, content_hash, rng)
        # the note's example is a clue, not an answer to recall: many others would do
        recallable = [i for i in asked if not _EXAMPLE.fullmatch(words[i])]
        # a column that is a question in disguise ("use when", "pros") is asked that question;
        # an English row is not recited cell by cell ("For DPO, what are the ...?": 3.2 on the
        # tune half); a Chinese one is, as before (3.8: "AbsRel：定義、方向各是什麼？")
        pointed = _pointed(recallable, words)
        chinese = has_cjk(" ".join(words[i] for i in recallable))
        recalled = pointed or (recallable if chinese else [])
        points = [plain(row.cells[i]) for i in recalled]
        # recited: not in a small table (compared column by column), and its cells must say
        # something, not "medium", "low" or one word
        saying = sum(map(_says, points)) >= min(MIN_SAYING, len(points))
        if not recalled or not pointed and (small and len(recalled) > 1 or not saying):
            out += [mcq] if mcq else []
            continue
        # one column asked: its cell is the answer (the question names the column already)
        answer = (
            points[0]
            if len(recalled) == 1
            else "; ".join(f"{words[i]}: {p}" for i, p in zip(recalled, points, strict=True))
        )
        ctx = context(passage.heading, name, set())  # minus a part naming the row
        question = _question(name, [words[i] for i in recalled], what)
        q = with_context(question, ctx)
        out.append(_recall(q, answer, row.line, points, passage, content_hash))
        out += [mcq] if mcq else []
    return out + _column_items(block, named, columns, words, passage, content_hash)


# "| ZeRO-2 | + gradient |" under "| ZeRO-1 | optimizer state |": a cell that opens with "+"
# (not a number: "+0.4 AP" is a gain) adds to the cell above it, and alone says half of its row
_ADDS = re.compile(r"^\+\s*(?=[^\d\s.,%+-])")


def _cumulative(rows: list[TableRow]) -> list[TableRow]:
    """``rows`` with each cell that adds to the one above it written out whole ("optimizer
    state + gradient"); the first column (the row's name) as it is."""
    out: list[TableRow] = []
    for row in rows:
        cells = list(row.cells)
        for i in range(1, len(cells)):
            above = out[-1].cells[i] if out else ""
            if above.strip() and _ADDS.match(cells[i]):
                cells[i] = f"{above} + {_ADDS.sub('', cells[i])}"
        out.append(TableRow(cells, row.line))
    return out


def _compare_items(
    header: list[str], rows: list, passage: SearchResult, content_hash: str
) -> list[QuizItem]:
    """A table whose columns are the things compared and whose rows are aspects ("| | CNN |
    ViT |"): one "How do A and B compare on X?" per aspect row."""
    named = [_name(h) for h in header[1:]]
    names = [n for n in named if n]
    if len(names) < 2 or len(names) != len(named):
        return []
    out: list[QuizItem] = []
    ctx = context(passage.heading, "", set())
    for row in rows:
        aspect = _header_word(row.cells[0])
        cells = [plain(c) for c in row.cells[1:]]
        if not aspect or len(aspect) > 60 or not all(_content(c) for c in cells):
            continue
        if len(set(cells)) < len(cells) or not any(len(c.split()) >= 3 for c in cells):
            continue  # the same in every column, or numbers and single words
        out.append(_comparison(names, aspect, cells, row.line, passage, content_hash, ctx))
    return out


def _comparison(
    names: list[str], aspect: str, cells: list[str], evidence: str, passage: SearchResult,
    content_hash: str, ctx: str,
) -> QuizItem:  # fmt: skip
    """A comparison ("How do A and B compare on X?"), answered by what the table says of each."""
    if has_cjk(aspect):
        question = f"{'、'.join(names)}在「{aspect}」上有什麼不同？"
    elif re.search(r"\b(?:for|to|of|with|on|in|at|by|from)$", aspect):
        question = f"What are {_joined(names)} {aspect}?"  # "good for", "robust to"
    else:
        question = f"How do {_joined(names)} compare on {aspect}?"
    answer = "; ".join(f"{n}: {c}" for n, c in zip(names, cells, strict=True))
    return _recall(with_context(question, ctx), answer, evidence, cells, passage, content_hash)


def _column_items(
    block: Block, named: list, columns: list[int], words: dict[int, str], passage: SearchResult,
    content_hash: str,
) -> list[QuizItem]:  # fmt: skip
    """A small table of named rows ((row, name) pairs) compared column by column: "How do SORT,
    DeepSORT and ByteTrack compare on "low-score dets"?" per column whose cells all say
    something different."""
    rows = [row for row, _ in named]
    names = [name for _, name in named if name]
    if not MIN_COMPARED <= len(rows) <= MAX_COMPARED or len(names) < len(rows):
        return []
    ctx = context(passage.heading, "", set())
    out: list[QuizItem] = []
    for i in columns:
        word = words[i]
        if _GENERIC.fullmatch(word.lower()) or _EXAMPLE.fullmatch(word) or len(word) > 60:
            continue
        if _asked_as(word):
            continue  # a column asked row by row already ("use when", "pros")
        cells = [plain(row.cells[i]) for row in rows]
        if not all(_content(c) for c in cells) or len(set(cells)) < len(cells):
            continue
        if not any(map(_says, cells)) or sum(map(len, cells)) > MAX_COMPARED_CHARS:
            continue  # numbers and single words; or a table to recite
        aspect = word if " " not in word or has_cjk(word) else _quoted(word)
        out.append(_comparison(names, aspect, cells, block.text, passage, content_hash, ctx))
    return out


def _says(cell: str) -> bool:
    """A cell of three words or more (a Chinese one: of four characters or more)."""
    text = plain(cell)
    return len(text.split()) >= 3 or len(re.findall(r"[\u4e00-\u9fff]", text)) >= 4


def _hints(cell: str, name: str) -> bool:
    """A cell that hints at the row's name: it holds a word of four letters or more that opens
    a part of the name ("batch size" for BatchNorm, "sin" for Sinusoidal), or that opens with
    the same HINT_PREFIX letters as one ("PointNet++" for Raw points) or holds one
    ("PointPillars" for Pillars)."""
    parts = [p.lower() for p in re.findall(r"[A-Z]?[a-z]{3,}|[A-Z]{2,}(?![a-z])", name)]
    words = [w for w in re.findall(r"[a-z]{3,}", plain(cell).lower()) if not _SMALL.fullmatch(w)]
    return any(
        p.startswith(w) or w.startswith(p) or p[:HINT_PREFIX] == w[:HINT_PREFIX] or p in w
        for p in parts
        for w in words
        if len(p) >= 4
    )


def _row_mcq(row, name, names, what, words, asked, passage, content_hash, rng) -> QuizItem | None:
    """Which row the shown cells describe; the options are names of the same table."""
    kind = term_kind(name)
    siblings = [n for n in names if n != name and term_kind(n) == kind]
    if len(siblings) < 3:
        return None
    shown = [
        i for i in asked if not verify.contains_term(row.cells[i], name)
        and not any(verify.contains_term(row.cells[i], s) for s in siblings)
        and not _hints(row.cells[i], name)
    ]  # fmt: skip
    if not shown or not any(len(plain(row.cells[i]).split()) >= 3 for i in shown):
        return None
    wrong = rng.sample(siblings, 3)
    options = [name, *wrong]
    rng.shuffle(options)
    # the clues as a list under the question, one a column (a blind rater scored this 4.34
    # against 3.45 for the clues run into one line; better for 26 of 29 items, tune half)
    clues = "\n".join(f"- {words[i]}: {plain(row.cells[i]).rstrip('.')}" for i in shown)
    ctx = context(passage.heading, name, set())
    asked = with_context(f"Which {what or 'one'} is this?", ctx)
    return QuizItem(
        "mcq", f"{asked}\n{clues}", name, row.line, passage.text, citation_of(passage),
        options=options, key_points=[name], content_hash=content_hash, generator=GENERATOR,
    )  # fmt: skip


def _list_kind(label: str) -> tuple[str, str, bool] | None:
    """(kind, subject, use) when ``label`` names a list of pros, cons, ...; subject may be "";
    ``use`` when the subject is a use, not the thing judged ("Cons for ads prediction": the
    cons of something else, for that use)."""
    m = _NAMED_LIST.match(label)
    if m:
        return m["kind"].lower(), (m["subject"] or "").strip(), (m["prep"] or "").lower() == "for"
    m = _NAMED_LIST_ZH.match(label)
    if m:
        return m["kind"], m["subject"].strip(), False
    return None


def _lead(item_text: str) -> str:
    """A list item's lead: its bold part, or up to its first colon, dash or full stop."""
    text = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", item_text.strip())
    bold = re.match(r"\*\*([^*]+)\*\*", text)
    if bold:
        return plain(bold.group(1)).strip(" :")
    return plain(_LEAD.split(text, maxsplit=1)[0]).strip(" .:")


def _list_question(
    label: str, above: list[str], lead_in: bool = True, owner: str | None = None
) -> str | None:
    """The question a list answers, from the line leading into it (or its heading): its pros,
    cons, limitations... ("What are the cons of CNNs?"; the subject, when the label has none or
    names only a use, from the list item ``owner`` it sits under, else from the heading
    ``above``), or the set a ``lead_in`` line of three words or more names ("What are the two
    ways to shrink a model?"; a heading naming a set is too often a topic)."""
    label = clean_heading(re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", label)).strip(" *")
    found = _list_kind(label)
    if found:
        kind, subject, use = found
        # "Limitations" under "DETR", "Cons for ads prediction" under the outline item "NN"
        judged = owner or (re.sub(r"\s*\([^)]*\)", "", above[-1]).strip() if above else "")
        if use and not judged:  # "Pitfalls for beginners": no other subject to name
            return f"What are the {kind} for {subject}?"
        if use:
            subject = f"{judged} for {subject}"
        elif not subject:
            subject = judged
        if not subject:
            return None
        return (
            f"{subject} 的{kind}有哪些？" if has_cjk(kind) else f"What are the {kind} of {subject}?"
        )
    phrase = re.sub(r"\s*\([^)]*\)", "", label).rstrip(":： ")
    if not lead_in or len(phrase.split()) < 3 or _NOT_A_SUBJECT.match(phrase):
        return None
    if not _CATEGORY.match(phrase) or re.match(r"^\w+(?:ed|ing)\b", phrase):
        return None  # "Introduced two tricks ...": a sentence, not the name of a set
    if _SET_NOUN_AS_VERB.match(phrase):
        return None
    # "The two stages, because detection and recognition want different inputs": the set is
    # named before the clause that comments on it
    noun = re.search(rf"\b{_SET_NOUNS}\b", phrase, flags=re.IGNORECASE)
    if noun and (clause := _CLAUSE.search(phrase, noun.end())):
        phrase = phrase[: clause.start()]
    named = re.sub(_QUANTIFIERS, "", phrase, flags=re.IGNORECASE)
    if len(named.split()) < 2:
        return None  # "3 main components": of what, the lead-in does not say
    phrase = re.sub(r"^the\s+", "", lower_first(phrase), flags=re.IGNORECASE)
    return f"What are the {phrase}?"


def _owners(text: str) -> dict[int, str]:
    """Where each nested list item of ``text`` starts -> the name of the item it sits under,
    when that is a name ("* NN" over "* Cons for ads prediction:")."""
    items = outline(text)
    out = {}
    for item in items:
        name = _name(_lead(items[item.parent].name)) if item.parent >= 0 else None
        if name:
            out[item.start] = name
    return out


def _list_items(passage: SearchResult, content_hash: str, continues: bool) -> list[QuizItem]:
    """Items of the lists a lead-in line or the heading names (``_list_question``): the
    top-level entries' leads are the key points; 2 to ``MAX_LIST_ITEMS`` entries. A passage
    that ``continues`` its section takes no subject from the heading: the section's earlier
    part may have named another one."""
    parts = [p for p in passage.heading.split(HEADING_SEP) if p.strip()]  # clean already
    ctx = context(passage.heading, "", set())
    found = blocks(passage.text)
    owners = _owners(passage.text)
    out: list[QuizItem] = []
    i = 0
    while i < len(found):
        block = found[i]
        question, first = None, 0
        if i == 0 and block.kind == "list" and parts and not continues:  # all its section holds
            question = _list_question(parts[-1], parts[:-1], lead_in=False)
        if not question and i + 1 < len(found) and found[i + 1].kind == "list":
            label = block.text.lstrip("#").strip()
            if len(label) <= 100 and (block.kind == "heading" or is_lead_in(label)):
                heading = block.kind == "heading"
                # "Disadvantages:" after a paragraph may be about that paragraph's subject,
                # not the section's: only a lead-in opening the passage takes the heading's
                above = parts if heading or (i == 0 and not continues) else []
                owner = next(
                    (name for at, name in owners.items() if block.start <= at < block.end), None
                )
                question = _list_question(label, above, lead_in=not heading, owner=owner)
                first = i + 1
        if not question:
            i += 1
            continue
        entries = []
        indent = None
        j = first
        while j < len(found) and found[j].kind == "list":
            depth = len(found[j].text) - len(found[j].text.lstrip())
            indent = depth if indent is None else indent
            if depth < indent:
                break
            if depth == indent:
                entries.append(found[j])
            j += 1
        i = max(j, i + 1)
        if not 2 <= len(entries) <= MAX_LIST_ITEMS:
            continue
        leads = [_lead(b.text) for b in entries]
        points = [p for p in leads if p and not p.startswith("#") and len(terms(p)) >= 1]
        if len(points) < 2:
            continue
        evidence = passage.text[entries[0].start : found[j - 1].end]
        answer = "\n".join(plain(b.text) for b in entries)
        q = with_context(question, ctx)
        out.append(_recall(q, answer, evidence, points, passage, content_hash))
    return out


# "pros: interpretable", "**Cons**: slow to retrain": a named part of an outline item
_NAMED_PART = re.compile(r"^\**(?P<label>[^:：*\n]{2,40}?)\**\s*[:：]\s*(?P<body>\S.*)$", re.S)


# an outline item written as an instruction ("Use a multi-task classifier") is asked about as an
# activity ("the pros of using a multi-task classifier")
_INSTRUCTION = re.compile(
    r"^(use|add|train|apply|build|try|keep|run|pick|choose)\s+(?!(?:vs\.?|versus|or|and)\b)(?=\S)",
    re.I,
)
_GERUND = {"run": "running", "use": "using", "pick": "picking", "choose": "choosing"}


def _gerund(name: str) -> str:
    m = _INSTRUCTION.match(name)
    if not m:
        return name
    verb = m.group(1).lower()
    return _GERUND.get(verb, verb + "ing") + " " + name[m.end() :]


def _outline_items(passage: SearchResult, content_hash: str) -> list[QuizItem]:
    """Items of outline notes: the pros, cons, limitations... written as nested items of a
    named item ("* GBDT" over "* pros: interpretable" and "* cons: slow to retrain") ask for
    them by that name ("What are the pros and cons of GBDT?"), every part of the item's text
    after its label a key point."""
    text = passage.text
    parents = list_parents(text)
    groups: dict[tuple[str, ...], list[tuple[str, str, int, int]]] = {}
    for unit in units(text):
        up = parents.get(unit.end)
        if unit.kind != "list" or not up:
            continue
        item = unit.text.strip()
        named = _NAMED_PART.match(item[len(list_marker(item)) :])
        found = _list_kind(named["label"].strip()) if named else None
        if named and found and not found[1] and not found[2]:
            groups.setdefault(up, []).append((found[0], named["body"], unit.start, unit.end))
    base = context(passage.heading, "", set())
    out = []
    for up, parts in groups.items():
        name = _name(_lead(up[-1]))  # "Late Fusion: process modalities ..." -> "Late Fusion"
        if not name:
            continue
        kinds = list(dict.fromkeys(kind for kind, _, _, _ in parts))
        if has_cjk("".join(kinds)):
            question = f"{name} 的{'和'.join(kinds)}有哪些？"
        else:
            question = f"What are the {_joined(kinds)} of {_gerund(name)}?"
        points = [
            re.sub(r"^(?:and|or)\s+", "", p.strip(" ."))
            for _, body, _, _ in parts
            for p in re.split(r"[,;，；、]\s*", plain(body))
            if len(terms(p)) >= 1
        ]
        if not points:
            continue
        # the item it sits under says what the name is one of ("ML Category: two options" over
        # "Ranking problem"): part of the context, when it is a name that holds no key point
        over = _name(_lead(up[-2])) if len(up) > 1 else None
        if over and any(verify.gives_away(over, p) for p in points):
            over = None
        ctx = HEADING_SEP.join(c for c in (base, over) if c)
        evidence = text[parts[0][2] : parts[-1][3]]
        # one kind asked ("What are the cons of X?"): the items without their label
        labelled = len(kinds) > 1
        answer = "\n".join(
            f"{kind}: {plain(body)}" if labelled else plain(body) for kind, body, _, _ in parts
        )
        out.append(
            _recall(with_context(question, ctx), answer, evidence, points, passage, content_hash)
        )
    return out


# a list of named things, one a line ("- ByteTrack: associate low-score dets too"): a name (the
# item's bold part or what comes before its colon) and what the line says of it
_DEFINED = re.compile(
    r"^(?P<indent>[ \t]*)[-*+][ \t]+(?:\*\*)?(?P<name>[^:*\n]{1,40}?)(?:\*\*)?[ \t]*[:：]"
    r"[ \t]+(?P<says>\S.*)$"
)
# names that are aspects of one thing, not things of a kind: "Motivation: ...", "Result: ..."
_ASPECT_NAMES = re.compile(
    r"(?i)(?:key )?(?:idea|intuition|motivation|result|results|interpretation|definition|"
    r"example|examples|use|usage|use case|note|notes|why|how|what|when|problem|solution|fix|"
    r"method|approach|summary|tl;?dr|takeaway|cost|complexity|defaults?|paper defaults|"
    r"typical .+|pros|cons|input|output|inputs|outputs|goal|setup|training|inference|loss|"
    r"定義|動機|結果|例子|重點|優點|缺點|問題|解法|作法|做法)"
)
COMPARED_LINES = 3  # named lines a compared run holds: two are often two aspects of one thing


def _proper(name: str) -> bool:
    """A name of a thing rather than a facet: an acronym or formula ("GIoU", "minADE$_K$"), a
    capital inside a word ("nuScenes", "ByteTrack"), or words that all open with a capital
    ("Waymo Open")."""
    words = name.split()
    return (
        term_kind(name) in ("acronym", "formula")
        or any(re.search(r"\w[A-Z]", w) for w in words)
        or (len(words) >= 2 and all(w[:1].isupper() for w in words))
    )


def _defined_runs(text: str) -> list[list[re.Match[str]]]:
    """Runs of consecutive list lines at one indent that each name a thing and say something
    of it (``_DEFINED``)."""
    runs: list[list[re.Match[str]]] = []
    run: list[re.Match[str]] = []
    for line in [*text.splitlines(), ""]:
        m = _DEFINED.match(line)
        if m and run and m["indent"] == run[0]["indent"]:
            run.append(m)
            continue
        if len(run) >= 2:
            runs.append(run)
        run = [m] if m else []
    return runs


def _defined_items(passage: SearchResult, content_hash: str) -> list[QuizItem]:
    """A list of three named things, a line each ("- SORT: ...", "- DeepSORT: ...", "-
    ByteTrack: ..."), is compared ("How do SORT, DeepSORT and ByteTrack differ?"), as a table of
    three named rows is, when the three are proper names (``_proper``) and not facets of one
    thing ("Motivation", "Result"; "ML objective", "ML I/O"). Rated blind on the sample notes,
    mlnotes and a newcomer's notes: 3.94 of 5 (8 items, all at 3 or more); an MCQ a line of a
    longer list ("Which one is this?" over what it says) rated 2.69 (24 items, 38% at 3 or
    more: mostly category labels read off their clue) and is not made."""
    out: list[QuizItem] = []
    ctx = context(passage.heading, "", set())
    for run in _defined_runs(passage.text):
        if len(run) != COMPARED_LINES:
            continue
        names = [_name(m["name"]) for m in run]
        says = [plain(m["says"]).rstrip(".") for m in run]
        named = [n for n in names if n]
        if len(named) != len(run) or any(_ASPECT_NAMES.fullmatch(n) for n in named):
            continue
        if len(set(map(fold, named))) != len(named) or not all(map(_content, says)):
            continue
        firsts = {n.split()[0].lower() for n in named}
        if len(firsts) == 1 and all(len(n.split()) > 1 for n in named):
            continue  # "ML objective", "ML I/O", "ML category": facets of one thing
        if not all(map(_proper, named)):
            continue  # "Augmentation, Schedule and Compare" are facets of one recipe
        question = with_context(f"How do {_joined(named)} differ?", ctx)
        points = [f"{n}: {t}" for n, t in zip(named, says, strict=True)]
        evidence = "\n".join(m.group(0) for m in run)  # the lines as the note has them
        out.append(_recall(question, "; ".join(points), evidence, points, passage, content_hash))
    return out


def concept_items(
    passage: SearchResult,
    content_hash: str,
    *,
    rng: random.Random | None = None,
    continues: bool = False,
) -> tuple[list[QuizItem], dict[str, int]]:
    """The verified table-row and named-list items of ``passage``, in note order, and the count
    of those dropped by reason (``continues``: the passage continues its section)."""
    rng = rng or random.Random(0)
    made: list[QuizItem] = []
    for block in blocks(passage.text):
        if block.kind == "table":
            made += _table_items(block, passage, content_hash, rng)
    made += _list_items(passage, content_hash, continues)
    made += _outline_items(passage, content_hash)
    made += _defined_items(passage, content_hash)
    return verify.passing(made, "structure")
