"""Choosing the extractive composer's weights on the tuning halves of both answer sets.

    python -m sharpnotes.eval.benchmarks.composer --out eval/benchmarks/results/composer.json
        [--cache ~/.cache/sharpnotes/answers] [--sets notes,mlnotes,notes-dev,mlnotes-dev]
        [--only NAME-PART]

Every answerable question of the *tune* half of ``eval/notes_eval.jsonl`` (sample notes) and
``eval/mlnotes_eval.jsonl`` (other people's notes), and with ``--sets`` of the later questions
written for tuning only (``eval/notes_dev.jsonl``, ``eval/mlnotes_dev.jsonl``), goes once through
retrieval, the refusal gate (``app.answer.refusal_reason``) and unit scoring
(``app.extractive.score_units``), on the indexes of ``sharpnotes.eval.benchmarks.answers``. Then
each variant of the composer's weights composes an answer from the same scored units, judged as
``sharpnotes eval answers`` judges it: evidence recall (share of the evidence's content terms in
the answer) and evidence cited (a quoted passage holds the evidence), over all answerable questions
(a refused one scores 0), with the mean answer length. The holdout halves are not read here: they
are measured once, with the chosen weights, by ``sharpnotes.eval.benchmarks.answers``.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sharpnotes.eval.benchmarks.answers import CACHE, SETS, index_for
from sharpnotes.eval.benchmarks.paths import RESULTS, write_results

# how units are scored (module constants of app.extractive set while scoring): alone, or a
# nested list item with the items it sits under; the question as written, or ("expand") a Chinese
# question with the English terms of its glossary entries (``app.extractive.scoring_text``)
SCORINGS: dict[str, dict[str, float]] = {
    "alone": {"CONTEXT_PARENTS": 0},
    "parents 1": {"CONTEXT_PARENTS": 1},
    "parents 2": {"CONTEXT_PARENTS": 2},
    "parents 3": {"CONTEXT_PARENTS": 3},
    "parents 3, zh expanded": {"CONTEXT_PARENTS": 3, "expand": 1},
    # round 19: as the product scores (``extractive.answer_units``): a Chinese question also by
    # the multilingual model's cosine
    "as shipped": {"CONTEXT_PARENTS": 3, "expand": 1, "answer_units": 1},
}
# round 3's composer: units scored alone, at most four quoted
ROUND3 = {"scoring": "alone", "MAX_UNITS": 4}
# (name, composer, weights): each variant sets these module constants of app.extractive and
# scores units as the SCORINGS entry its "scoring" names (the shipped defaults otherwise)
VARIANTS: list[tuple[str, str, dict]] = [
    ("before: windows, prior 0.2, keep 0.8", "windows",
     ROUND3 | {"ANSWER_PRIOR_WEIGHT": 0.2, "KEEP_RATIO": 0.8}),
    ("windows, prior 1.0, keep 0.8", "windows", ROUND3 | {"KEEP_RATIO": 0.8}),
    ("windows, prior 1.0, keep 0.7", "windows", ROUND3),
    *[(f"units, prior {w}", "units", ROUND3 | {"ANSWER_PRIOR_WEIGHT": w})
      for w in (0.2, 0.6, 1.5, 2.0)],
    ("round 3: units, prior 1.0, keep 0.7, 4 units", "units", ROUND3),
    ("units, keep 0.6", "units", ROUND3 | {"KEEP_RATIO": 0.6}),
    ("units, keep 0.8", "units", ROUND3 | {"KEEP_RATIO": 0.8}),
    ("units, lexical 0.5", "units", ROUND3 | {"LEXICAL_WEIGHT": 0.5}),
    *[(f"units, {n} units", "units", ROUND3 | {"MAX_UNITS": n}) for n in (5, 6)],
    *[(f"4 units, {name}, parents not shown", "units",
       {"scoring": name, "MAX_UNITS": 4, "SHOW_PARENTS": False}) for name in list(SCORINGS)[1:4]],
    *[(f"4 units, {name}, parents shown", "units", {"scoring": name, "MAX_UNITS": 4})
      for name in list(SCORINGS)[1:4]],
    *[(f"{n} units, {name}, parents shown", "units", {"scoring": name, "MAX_UNITS": n})
      for name in list(SCORINGS)[2:4] for n in (5, 6)],
    # round 8: the best line of other passages after the answer; Chinese questions scored with
    # their glossary's English terms
    *[(f"6 units, {scoring}, {n} other passages at {r}", "units",
       {"MAX_UNITS": 6, "EXTRA_PASSAGES": n, "EXTRA_RATIO": r, "scoring": scoring})
      for scoring in ("parents 3", "parents 3, zh expanded")
      for n in (0, 1, 2, 3) for r in (0.7, 0.8, 0.9) if n or r == 0.8],
    # round 9: a passage's best unit also comes after the answer when the unit itself (its
    # score without the passage's rank) is within EXTRA_OWN_RATIO of the best such unit
    *[(f"round 9, own ratio {r}, {n} other passages", "units",
       {"MAX_UNITS": 6, "EXTRA_PASSAGES": n, "EXTRA_OWN_RATIO": r,
        "scoring": "parents 3, zh expanded"})
      for n in (2, 3) for r in (math.inf, 1.0, 0.95, 0.9, 0.85, 0.8)],
    # round 10: the passages that go on with the answer's section may give their best line when
    # it says CONTINUED_OWN_RATIO of the unit that says most
    *[(f"round 10, own ratio {o}, continued section at {r}", "units",
       {"MAX_UNITS": 6, "EXTRA_PASSAGES": 2, "EXTRA_OWN_RATIO": o, "CONTINUED_OWN_RATIO": r,
        "scoring": "parents 3, zh expanded"})
      for o in (0.85, 1.0) for r in (math.inf, 0.8, 0.7, 0.6, 0.5, 0.0)],
    # round 12 (not taken): the best unit first, with the quoted units that follow it in its
    # note ("ahead"), unless it leans on the line before it (``leans_back``); the same units
    # are quoted, only their order moves (``ahead``)
    *[(f"round 12, {order} order", "units",
       {"MAX_UNITS": 6, "EXTRA_PASSAGES": 2, "EXTRA_OWN_RATIO": 1.0, "CONTINUED_OWN_RATIO": 0.6,
        "scoring": "parents 3, zh expanded", "order": order})
      for order in ("note", "ahead")],
    # round 13: a short list item that other items sit under is a group's name, not an answer
    *[(f"round 13, bare labels of {n} words or fewer not quoted", "units",
       {"MAX_UNITS": 6, "EXTRA_PASSAGES": 2, "EXTRA_OWN_RATIO": 1.0, "CONTINUED_OWN_RATIO": 0.6,
        "scoring": "parents 3, zh expanded", "BARE_LABEL_WORDS": n})
      for n in (0, 2, 4, 6)],
    # round 14: a lead-in sentence that no block follows in its passage is not quoted
    *[(f"round 14, lead-ins left alone {'quoted' if alone else 'not quoted'}", "units",
       {"MAX_UNITS": 6, "EXTRA_PASSAGES": 2, "EXTRA_OWN_RATIO": 1.0, "CONTINUED_OWN_RATIO": 0.6,
        "scoring": "parents 3, zh expanded", "BARE_LABEL_WORDS": 4, "LEAD_IN_ALONE": alone})
      for alone in (True, False)],
    # round 18: a unit after the best one is quoted only when it says, on its own, this share of
    # what the best-saying unit says (``OWN_KEEP_RATIO``)
    *[(f"round 18, own keep {r}", "units",
       {"MAX_UNITS": 6, "EXTRA_PASSAGES": 2, "EXTRA_OWN_RATIO": 1.0, "CONTINUED_OWN_RATIO": 0.6,
        "scoring": "parents 3, zh expanded", "BARE_LABEL_WORDS": 4, "LEAD_IN_ALONE": False,
        "OWN_KEEP_RATIO": r, "KEEP_TOP_BEST": False})
      for r in (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)],
    # round 19: Chinese questions scored as the product does (``ZH_COSINE``), the shipped composer
    ("round 19, as shipped", "units",
     {"MAX_UNITS": 6, "EXTRA_PASSAGES": 2, "EXTRA_OWN_RATIO": 1.0, "CONTINUED_OWN_RATIO": 0.6,
      "scoring": "as shipped", "BARE_LABEL_WORDS": 4, "LEAD_IN_ALONE": False,
      "OWN_KEEP_RATIO": 0.5, "KEEP_TOP_BEST": True}),
    # round 21: a question holding Chinese keeps units nearer the best and quotes fewer other
    # passages (``KEEP_RATIO_ZH``, ``EXTRA_PASSAGES_ZH``); read with --zh
    *[(f"round 21, zh keep {k}, zh other passages {n}", "units",
       {"MAX_UNITS": 6, "EXTRA_PASSAGES": 2, "EXTRA_OWN_RATIO": 1.0, "CONTINUED_OWN_RATIO": 0.6,
        "scoring": "as shipped", "BARE_LABEL_WORDS": 4, "LEAD_IN_ALONE": False,
        "OWN_KEEP_RATIO": 0.5, "KEEP_TOP_BEST": True, "KEEP_RATIO_ZH": k, "EXTRA_PASSAGES_ZH": n})
      for k in (0.7, 0.75, 0.8, 0.85, 0.9) for n in (2, 1, 0)],
    *[(f"round 18b, own keep {r}, the top passage's best unit kept", "units",
       {"MAX_UNITS": 6, "EXTRA_PASSAGES": 2, "EXTRA_OWN_RATIO": 1.0, "CONTINUED_OWN_RATIO": 0.6,
        "scoring": "parents 3, zh expanded", "BARE_LABEL_WORDS": 4, "LEAD_IN_ALONE": False,
        "OWN_KEEP_RATIO": r, "KEEP_TOP_BEST": True})
      for r in (0.4, 0.5, 0.6)],
]  # fmt: skip
# every variant above that does not set them quotes no other passages, none for what its unit
# says on its own and none for going on with the answer's section (an infinite ratio: the
# composers they chose)
BEFORE = {
    "EXTRA_PASSAGES": 0, "EXTRA_OWN_RATIO": math.inf, "CONTINUED_OWN_RATIO": math.inf,
    "BARE_LABEL_WORDS": 0, "LEAD_IN_ALONE": True, "OWN_KEEP_RATIO": 0.0, "KEEP_TOP_BEST": False,
}  # fmt: skip
SHIPPED = "round 21, zh keep 0.75, zh other passages 2"
# the composer before this benchmark: the best unit with the units that follow it in its section
# while they score this share of it (a window), then the next window
FOLLOW_RATIO = 0.5


def compose_windows(scored, passages, question):
    """The composer of windows that ``app.extractive.compose`` replaced, for comparison."""
    from sharpnotes.app import extractive as ex

    found = ex.candidates(scored, passages, question)
    if not found:
        return []
    by_score = sorted(found, key=lambda c: -c.score)
    best, chosen, seen, chars = by_score[0], [], set(), 0
    for anchor in by_score:
        if chosen and (anchor.score < ex.KEEP_RATIO * best.score or len(chosen) >= ex.MAX_UNITS):
            break
        if ex._key(anchor.scored.unit) in seen:
            continue
        if chosen and anchor.asked is not None and anchor.asked < ex.KEEP_RATIO * best.score:
            continue
        window = [anchor]
        for nxt in found[found.index(anchor) + 1 :]:
            same = (nxt.scored.passage, nxt.section) == (anchor.scored.passage, anchor.section)
            if not same or nxt.score < FOLLOW_RATIO * anchor.score:
                break
            window.append(nxt)
        for c in window:
            key, size = ex._key(c.scored.unit), len(c.scored.unit.clean)
            full = chosen and chars + size > ex.MAX_CHARS
            if key in seen or full or len(chosen) >= ex.MAX_UNITS:
                continue
            seen.add(key)
            chosen.append(c.scored)
            chars += size
        if chars >= ex.MAX_CHARS:
            break
    return sorted(chosen, key=lambda s: (s.passage, s.unit.start))


# the opening of a line that leans on the line before it: a pronoun or a connective
_LEANS_BACK = re.compile(
    r"(?:they|them|their|it|its|this|these|that|those|here|there|but|however|so|thus|hence"
    r"|therefore|also|and|or|then|instead|otherwise|similarly|likewise|by the way|in that case"
    r"|as a result|in contrast|on the other hand)\b"
    r"|(?:所以|但|因此|而且|另外|這|那|它|其|然後|也|此外|相反|同樣)",
    re.IGNORECASE,
)


def leans_back(unit) -> bool:
    """A unit whose first words point back at the text before it."""
    from sharpnotes.ingest.text import list_marker

    text = unit.clean
    return bool(_LEANS_BACK.match(text[len(list_marker(text)) :].lstrip("*_ ")))


def ahead(chosen, scored, passages, question):
    """Round 12's order, tried and not taken: the composer's units (in the note's order) with the
    best-scoring one moved first, together with the quoted units that follow it in its note with
    nothing between; when it leans on the line before it, that line comes with it if quoted next
    to it, else nothing moves."""
    from sharpnotes.app import extractive as ex

    if not chosen:
        return chosen
    score = {id(c.scored): c.score for c in ex.candidates(scored, passages, question)}
    texts = [p.text for p in passages]

    def adjacent(a, b) -> bool:
        return a.passage == b.passage and not texts[a.passage][a.unit.end : b.unit.start].strip()

    at = chosen.index(max(chosen, key=lambda s: score.get(id(s), -math.inf)))
    first, last = at, at + 1
    while first > 0 and adjacent(chosen[first - 1], chosen[first]):
        if not leans_back(chosen[first].unit):
            break
        first -= 1
    if leans_back(chosen[first].unit):
        return chosen
    while last < len(chosen) and adjacent(chosen[last - 1], chosen[last]):
        last += 1
    return chosen[first:last] + chosen[:first] + chosen[last:]


@contextmanager
def weights(values: dict) -> Iterator[None]:
    from sharpnotes.app import extractive

    saved = {name: getattr(extractive, name) for name in values}
    for name, value in values.items():
        setattr(extractive, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(extractive, name, value)


def collect(name: str, cache: Path) -> list[dict]:
    """The tune half's answerable questions with their passages, gate decision and units."""
    from sharpnotes.app.answer import evidence_for, refusal_reason
    from sharpnotes.app.extractive import answer_units, score_units, scoring_text
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.eval.sets import load_set

    set_path, notes = SETS[name]
    settings = index_for(name, notes, cache)
    searcher = Searcher(settings)
    out = []
    for q in load_set(set_path).questions:
        if q.split not in ("tune", "dev") or not q.answerable:
            continue
        results = searcher.search(q.text, k=settings.answers.answer_k)
        why = refusal_reason(q.text, results, evidence_for(q.text, results, searcher), settings)
        scored = {}
        asked = scoring_text(q.text, settings)
        for scoring, values in SCORINGS.items():
            constants = {k: v for k, v in values.items() if k not in ("expand", "answer_units")}
            text = asked if values.get("expand") else q.text
            with weights(constants):
                context = values.get("CONTEXT_PARENTS", 0) > 0
                if not results:
                    scored[scoring] = []
                elif values.get("answer_units"):
                    scored[scoring] = answer_units(searcher.embedder(), q.text, results, settings)
                else:
                    scored[scoring] = score_units(searcher.embedder(), text, results, context)
        out.append(
            {"question": q, "results": results, "refused": why is not None, "scored": scored}
        )
    return out


def judge(items: list[dict], composer: str, scoring: str, order: str = "note") -> dict:
    from sharpnotes.app.extractive import compose, render
    from sharpnotes.eval.answers import evidence_recall

    recall, cited, lengths, lead = [], [], [], []
    for item in items:
        q, results = item["question"], item["results"]
        pick = compose_windows if composer == "windows" else compose
        scored = item["scored"][scoring]
        chosen = [] if item["refused"] else pick(scored, results, q.text)
        if order == "ahead":
            chosen = ahead(chosen, scored, results, q.text)
        if not chosen:
            recall.append(0.0)
            cited.append(0.0)
            lead.append(0.0)
            continue
        text = render(chosen)
        lengths.append(len(text))
        recall.append(evidence_recall(text, q))
        lead.append(evidence_recall(render(chosen[:1]), q))  # what the reader meets first
        quoted = [results[p] for p in {s.passage for s in chosen}]
        cited.append(
            float(any(lab.matches(r.source, r.page, r.text) for r in quoted for lab in q.labels))
        )
    return {
        "answerable": len(items),
        "refused": sum(item["refused"] for item in items),
        "evidence_recall": round(statistics.mean(recall), 4),
        "evidence_cited": round(statistics.mean(cited), 4),
        # the answer's first quoted unit: its evidence recall, and the share of questions where
        # it holds at least half of the evidence's content terms
        "lead_recall": round(statistics.mean(lead), 4),
        "evidence_first": round(sum(x >= 0.5 for x in lead) / len(lead), 4),
        "mean_length": round(statistics.mean(lengths), 1) if lengths else 0.0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "composer.json")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument(
        "--sets", default="notes,mlnotes", help="also notes-dev,mlnotes-dev (later questions)"
    )
    parser.add_argument("--only", default="", help="only the variants whose name holds this")
    parser.add_argument("--zh", action="store_true", help="only the questions holding Chinese")
    args = parser.parse_args(argv)
    names = [n for n in args.sets.split(",") if n]
    data = {name: collect(name, args.cache) for name in names}
    if args.zh:
        from sharpnotes.ingest.text import has_cjk

        data = {n: [i for i in items if has_cjk(i["question"].text)] for n, items in data.items()}
    table = []
    for label, composer, values in VARIANTS:
        if args.only not in label:
            continue
        scoring = str(values.get("scoring", "parents 3"))
        order = str(values.get("order", "note"))
        constants = BEFORE | {k: v for k, v in values.items() if k not in ("scoring", "order")}
        with weights(constants):
            row = {"variant": label, "composer": composer, "weights": values}
            row["shipped"] = label == SHIPPED
            row |= {name: judge(items, composer, scoring, order) for name, items in data.items()}
        table.append(row)
        figures = "  ".join(
            f"{n}: recall {row[n]['evidence_recall']:.3f} cited {row[n]['evidence_cited']:.3f} "
            f"first {row[n]['evidence_first']:.3f} len {row[n]['mean_length']:.0f}"
            for n in names
        )
        print(f"{label:<34}  {figures}")
    write_results(args.out, {"benchmark": "composer", "split": "tune", "variants": table}, {})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
