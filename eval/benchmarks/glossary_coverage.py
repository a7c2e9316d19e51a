"""Which frequent English words of a notes folder the Chinese glossary cannot reach.

    python -m sharpnotes.eval.benchmarks.glossary_coverage [FOLDER] [--top 600]

A Chinese question reaches an English note only through the English terms of the glossary
entries it contains (``app.crosslingual``). This lists the FOLDER's most frequent English words
(as BM25 stems them, counted once per Markdown section) that no entry's English side has, and
those that only longer entries have: the everyday technical words ("data", "frame", "split") a
Chinese question would otherwise lose. A person reads the list and skips its function words.
The general section of ``app/glossary_zh.tsv`` was filled this way from the public notes in
``../shared/data/mlnotes``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from sharpnotes.app.crosslingual import glossary
from sharpnotes.eval.benchmarks.paths import MLNOTES
from sharpnotes.ingest.bm25 import tokenize

WORD = re.compile(r"[a-z][a-z\-]{2,}")
SECTION = re.compile(r"\n#+ ")


def section_counts(folder: Path) -> Counter[str]:
    """How many Markdown sections of ``folder`` each English word stem (BM25's tokens: stop words
    out, Snowball-stemmed) occurs in."""
    counts: Counter[str] = Counter()
    for path in sorted(folder.rglob("*.md")):
        for section in SECTION.split(path.read_text(encoding="utf-8", errors="replace")):
            counts.update({t for t in tokenize(section) if WORD.fullmatch(t)})
    return counts


def coverage(counts: Counter[str], top: int) -> tuple[list[str], list[str]]:
    """Of the ``top`` most frequent content words, in order: those no entry's English side has,
    and those only longer entries have ("random" in "random forest": 隨機 alone reaches nothing)."""
    sides = [tokenize(english) for english in glossary().values()]
    anywhere = {w for side in sides for w in side}
    alone = {side[0] for side in sides if len(side) == 1}
    content = [w for w, _ in counts.most_common(top)]
    absent = [w for w in content if w not in anywhere]
    inside = [w for w in content if w in anywhere and w not in alone]
    return absent, inside


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=MLNOTES)
    parser.add_argument("--top", type=int, default=600)
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        raise SystemExit(f"{args.folder}: not a folder of notes; give one, e.g. notes/")
    absent, inside = coverage(section_counts(args.folder), args.top)
    print(f"of the {args.top} most frequent words of {args.folder}, {len(absent)} are in no entry:")
    print(" ".join(absent))
    print(f"{len(inside)} only inside longer entries:")
    print(" ".join(inside))


if __name__ == "__main__":
    main()
