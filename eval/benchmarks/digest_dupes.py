"""Repeated facts in topic digests, on the sample notes (which repeat facts across notes on
purpose): how many facts a digest shows twice, and how many different facts it merges into one.

    python -m sharpnotes.eval.benchmarks.digest_dupes --home HOME --candidates OUT.jsonl
    python -m sharpnotes.eval.benchmarks.digest_dupes --home HOME \
        [--pairs eval/digest_pairs.jsonl] [--tune] [--out eval/benchmarks/results/digest-dupes.json]

``HOME`` holds an index of ``notes/`` (ingested into it when empty). The first form writes the
pairs to label: for every topic of ``eval/topics_eval.jsonl`` (whose ``split`` gives the
tuning and holdout halves), every pair of the units a digest is made from (``app.digest``:
the units of the topic's linked passages) that either test of the merge rule would come near:
a MiniLM cosine, or the mean of MiniLM's and USE's, >= ``NEAR_COSINE``, or a share of shared
content terms >= ``NEAR_TERMS`` with a MiniLM cosine >= ``NEAR_TERMS_COSINE``. Every pair the
merge can join (a cosine >= 0.62 in the grid) is labelled; a repeat written so differently that
both models score it lower is not, and counts as two facts. Each pair is
then labelled by hand, ``same`` true when the two say the same fact (a reworded sentence, the
same list item in two notes) and false otherwise; identical texts need no label.

The second form reads the labels and, per half, makes every digest with the shipped thresholds,
and with MiniLM's vectors alone (as where USE is not installed), and, with ``--tune``, a grid of
them, and counts:
- **duplicates shown**: pairs of lines of one digest labelled the same fact;
- **wrong merges**: pairs labelled different facts that the merge put on one line (a fact the
  reader no longer sees);
pairs never labelled (below both "near" bounds) count as different facts.
"""

from __future__ import annotations

import argparse
import json
from itertools import combinations
from pathlib import Path

import numpy as np

from sharpnotes.eval.benchmarks.paths import REPO, RESULTS, write_results

TOPICS = REPO / "eval" / "topics_eval.jsonl"
PAIRS = REPO / "eval" / "digest_pairs.jsonl"
NEAR_COSINE = 0.6
# or this share of content terms with a cosine of at least NEAR_TERMS_COSINE (a shared share
# alone pairs every short list item with every table of the topic)
NEAR_TERMS = 0.6
NEAR_TERMS_COSINE = 0.4
GRID_COSINE = (0.62, 0.65, 0.68, 0.7, 0.72, 0.75, 0.8, 0.85, 0.9)
GRID_TERMS = (0.0, 0.3, 0.4, 0.5, 0.6)


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def topic_material(home: Path) -> dict[str, tuple[str, list, np.ndarray, np.ndarray, float]]:
    """Topic id -> (split, digest candidates, the vectors ``merge`` compares, their MiniLM
    vectors, the bound the digest merges those vectors at), for the labelled topics."""
    from sharpnotes.app.digest import topic_units, unit_vectors
    from sharpnotes.app.digest_lines import line_text
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.app.topics import syllabus_links
    from sharpnotes.ingest.settings import Settings
    from sharpnotes.ingest.sync import ingest

    settings = Settings(home=home)
    if not (home / "index").exists():
        ingest([REPO / "notes"], settings)
    searcher = Searcher(settings)
    _, links = syllabus_links(searcher)
    out = {}
    for line in TOPICS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        candidates = topic_units(searcher, links.get(row["topic"], []))
        vectors, same = unit_vectors(searcher, candidates)
        # MiniLM's own vectors (``unit_vectors`` scales them down beside USE's, when installed)
        texts = [line_text(u) for u, _, _ in candidates]
        minilm = searcher.embedder().embed(texts) if texts else vectors
        out[row["topic"]] = (row["split"], candidates, vectors, minilm, same)
    return out


def write_candidates(material: dict, out: Path) -> int:
    from sharpnotes.app.digest import term_share
    from sharpnotes.ingest.text import terms

    seen: set[tuple[str, str]] = set()
    rows = []
    for topic, (split, candidates, both, vectors, _) in material.items():
        texts = [u.clean for u, _, _ in candidates]
        unit_terms = [terms(t) for t in texts]
        for i, j in combinations(range(len(texts)), 2):
            if texts[i] == texts[j] or _key(texts[i], texts[j]) in seen:
                continue
            share = term_share(unit_terms[i], unit_terms[j])
            cosine = float(vectors[i] @ vectors[j])
            mean = float(both[i] @ both[j])  # the two models' mean, which the merge compares
            near = cosine >= NEAR_COSINE or mean >= NEAR_COSINE
            if near or (share >= NEAR_TERMS and cosine >= NEAR_TERMS_COSINE):
                seen.add(_key(texts[i], texts[j]))
                rows.append(
                    {
                        "topic": topic,
                        "split": split,
                        "a": texts[i],
                        "b": texts[j],
                        "source_a": candidates[i][1].source,
                        "source_b": candidates[j][1].source,
                        "cosine": round(cosine, 3),
                        "terms": round(share, 3),
                        "same": None,
                    }
                )
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return len(rows)


def count(
    material: dict,
    labels: dict,
    split: str,
    same: float,
    share: float,
    across: bool,
    minilm_only: bool = False,
) -> dict:
    """Over one half's digests made with these thresholds: the pairs of shown lines labelled the
    same fact, and the pairs of wordings merged into one line labelled different facts. With
    ``minilm_only``, the merge compares MiniLM's vectors alone (as without USE)."""
    from sharpnotes.app import digest

    shown = wrong = lines_total = merged_total = 0
    for _topic, (half, candidates, both, minilm, _) in material.items():
        if half != split or not candidates:
            continue
        vectors = minilm if minilm_only else both
        lines, merged = digest.merge(candidates, vectors, same=same, share=share, across=across)
        kept = digest.arrange(lines)
        lines_total += len(kept)
        merged_total += merged
        shown += sum(labels.get(_key(x.text, y.text)) is True for x, y in combinations(kept, 2))
        for line in kept:
            wordings = [line.text, *line.also]
            wrong += sum(labels.get(_key(x, y)) is False for x, y in combinations(wordings, 2))
    return {
        "duplicates_shown": shown,
        "wrong_merges": wrong,
        "lines_shown": lines_total,
        "merged": merged_total,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--candidates", type=Path, help="Write the pairs to label here.")
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--tune", action="store_true", help="Also count over a threshold grid.")
    parser.add_argument("--out", type=Path, default=RESULTS / "digest-dupes.json")
    args = parser.parse_args(argv)

    from sharpnotes.app.digest import ACROSS_NOTES, SAME_FACT, SAME_FACT_MINILM, SAME_TERMS

    material = topic_material(args.home)
    if args.candidates:
        n = write_candidates(material, args.candidates)
        print(f"{n} pairs to label written to {args.candidates}")
        return
    labels = {}
    for line in args.pairs.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["same"] is None:
            raise SystemExit(f"{args.pairs}: a pair has no label yet ({row['a'][:60]!r})")
        labels[_key(row["a"], row["b"])] = bool(row["same"])
    # as the digest merges: at SAME_FACT, or SAME_FACT_MINILM where USE is not installed
    bound = next((m[4] for m in material.values() if m[1]), SAME_FACT)
    shipped = {
        split: count(material, labels, split, bound, SAME_TERMS, ACROSS_NOTES)
        for split in ("tune", "holdout")
    }
    minilm_only = {
        split: count(material, labels, split, SAME_FACT_MINILM, SAME_TERMS, ACROSS_NOTES, True)
        for split in ("tune", "holdout")
    }
    grid = []
    if args.tune:
        for alone in (False, True):
            for across in (False, True):
                for same in GRID_COSINE:
                    for share in GRID_TERMS:
                        tuned = count(material, labels, "tune", same, share, across, alone)
                        grid.append(
                            {
                                "vectors": "minilm" if alone else "minilm+use",
                                "same_fact": same,
                                "same_terms": share,
                                "across": across,
                                **tuned,
                            }
                        )
    write_results(
        args.out,
        {"shipped": shipped, "minilm_only": minilm_only, "grid_tune": grid},
        {
            "pairs": str(args.pairs),
            "labelled_pairs": len(labels),
            "labelled_same": sum(labels.values()),
            "same_fact": bound,
            "same_fact_minilm": SAME_FACT_MINILM,
            "same_terms": SAME_TERMS,
            "across_notes": ACROSS_NOTES,
            "near_cosine": NEAR_COSINE,
            "near_terms": NEAR_TERMS,
            "near_terms_cosine": NEAR_TERMS_COSINE,
        },
    )
    print(json.dumps(shipped, indent=2))


if __name__ == "__main__":
    main()
