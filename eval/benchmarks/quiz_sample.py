"""A seeded sample of quiz items to rate with ``../shared/quiz_rubric.md``.

    python -m sharpnotes.eval.benchmarks.quiz_sample --split tune --per-corpus 40 --seed 1 \\
        --out /tmp/sample.jsonl [--ungated] [--blind] [--as-shown] [--cache DIR]

Items come from cached indexes of the sample notes and ``mlnotes`` (``quiz_quality``'s), drawn
with ``generate_quiz`` (seeded), and kept when their note is in ``--split`` (``eval.quiz.
split_of``: fixed per source file). Each line holds what a rater needs (question, options,
answer, the passage) and the corpus and split; ``--blind`` leaves out anything that tells which
rule or generator made the item (generator, gate reason, item type is kept only as the shape of
the question) and shuffles the lines.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path

from sharpnotes.eval.benchmarks.quiz_quality import CORPORA, corpus_index
from sharpnotes.eval.quiz import split_of


def sample(
    corpus: str, split: str, per_corpus: int, seed: int, gated: bool, cache: Path | None = None
) -> list[dict]:
    from sharpnotes.app.quiz.generate import generate_quiz
    from sharpnotes.ingest.settings import Settings
    from sharpnotes.ingest.sync import ingest

    if cache is None:
        settings = corpus_index(corpus)
    else:  # an index of this corpus kept under CACHE/<corpus>/home, brought up to date
        settings = Settings(home=cache / corpus / "home")
        ingest([CORPORA[corpus]], settings)
    batch = generate_quiz(settings, n=per_corpus * 4, kind="mixed", seed=seed, gated=gated)
    out = []
    for item in batch.items:
        if split_of(item.citation.source) != split:
            continue
        out.append(
            item.to_dict()
            | {
                "corpus": corpus,
                "split": split,
                "source": item.citation.source,
                "generator": item.generator,
                "gate": batch.flagged.get(item.id),
            }
        )
        if len(out) >= per_corpus:
            break
    return out


def _chunks(root: Path) -> list:
    """The chunks ingest would make of ``root`` (the word-piece count approximated by 1.3 tokens
    a word: no model is loaded)."""
    from sharpnotes.ingest.chunking import chunk_documents
    from sharpnotes.ingest.readers import SkipFile, file_kind, read_file

    def count(texts: Sequence[str]) -> list[int]:
        return [int(len(t.split()) * 1.3) + 1 for t in texts]

    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or file_kind(path) is None:
            continue
        try:
            docs = read_file(path, path.relative_to(root).as_posix(), 20_000_000)
        except (SkipFile, OSError):
            continue
        out += chunk_documents(docs, count, 256)
    return out


def offline_writer(
    chunks: list, rng: random.Random, reasons: dict[str, str] | None = None
) -> Callable:
    """Without an index: the function that gives a passage of ``chunks`` its verified and
    gated items as ``generate_quiz`` does (``candidates(passage, written)``: the learner's
    cards and the items of tables and lists, then the offline writer's unless ``written`` is
    False; distractors from the terms of ``chunks``). The gate's drops are recorded in
    ``reasons`` instead when it is given."""
    from sharpnotes.app.quiz.generate import gate_items, passage_candidates
    from sharpnotes.app.quiz.handwritten import continued_sections, following_texts
    from sharpnotes.app.quiz.terms import DistractorPool, Lexicon

    pool = DistractorPool(Lexicon.from_rows(chunks))
    emphasised = pool.lexicon.emphasised()
    continued = continued_sections(chunks)
    following = following_texts(chunks)
    hashes = {c.chunk_id: c.content_hash for c in chunks}

    def candidates(passage, written: bool = True) -> list:
        items = passage_candidates(
            passage,
            hashes[passage.chunk_id],
            "mixed",
            pool,
            rng,
            {},
            written=written,
            continues=passage.chunk_id in continued,
            following=following.get(passage.chunk_id, ""),
        )
        return gate_items(items, {}, reasons, emphasised)

    return candidates


def sample_without_index(
    corpus: str,
    split: str,
    per_corpus: int,
    seed: int,
    gated: bool,
    cards: bool = True,
    sentence_share: float | None = None,
) -> list[dict]:
    """Like ``sample`` with no index and no model: the corpus chunked as ingest does, passages
    in a seeded order, their verified and gated items chosen as ``generate_quiz`` chooses
    (``choose``: the learner's cards first, then the items of tables and named lists, types
    rotating, at most ``sentence_share`` of them cut from single sentences: the setting's
    default unless given). MCQ distractors come from the lexicon without the embedding
    re-rank."""
    from sharpnotes.app.quiz.generate import OVERSAMPLE, _as_result, choose, gather, sentence_cap
    from sharpnotes.app.quiz.handwritten import GENERATOR as CARD
    from sharpnotes.ingest.settings import StudySettings

    chunks = [c for c in _chunks(CORPORA[corpus]) if split_of(c.source) == split]
    rng = random.Random(seed)
    reasons: dict[str, str] = {}
    written = offline_writer(chunks, rng, None if gated else reasons)
    rng.shuffle(chunks)
    passages = [_as_result(c, n) for n, c in enumerate(chunks)]
    share = StudySettings().sentence_share if sentence_share is None else sentence_share
    cap = sentence_cap(per_corpus, share)

    def candidates(passage, write: bool) -> list:
        items = written(passage, write)
        return items if cards else [i for i in items if i.generator != CARD]

    pools = gather(passages, per_corpus, OVERSAMPLE * per_corpus, cap, candidates)
    return [
        item.to_dict()
        | {"corpus": corpus, "split": split, "source": item.citation.source,
           "generator": item.generator, "gate": reasons.get(item.id)}
        for item in choose(pools, per_corpus, {}, cap=cap)
    ]  # fmt: skip


def as_shown(row: dict) -> dict:
    """An item's texts as a learner reads them in the app or the terminal."""
    from sharpnotes.ingest.text import html_as_text

    def shown(text: str) -> str:
        return html_as_text(text).strip()

    out = row | {k: shown(row[k]) for k in ("question", "answer", "passage") if row.get(k)}
    if row.get("options"):
        out["options"] = [shown(o) for o in row["options"]]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("tune", "holdout"), required=True)
    parser.add_argument("--per-corpus", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", choices=(*CORPORA, "both"), default="both")
    parser.add_argument("--ungated", action="store_true", help="Keep what the gate drops.")
    parser.add_argument("--blind", action="store_true", help="No provenance; shuffled.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cache", type=Path, help="Keep the indexes under this folder.")
    parser.add_argument(
        "--no-cards", action="store_true", help="Generated items only (with --no-index)."
    )
    parser.add_argument(
        "--no-index", action="store_true", help="Chunk the notes here; load no model."
    )
    parser.add_argument(
        "--as-shown",
        action="store_true",
        help="Question, options, answer and passage as the app and the terminal show them "
        "(GitHub's math images and <br> tags read as text: ingest.text.html_as_text).",
    )
    parser.add_argument(
        "--sentence-share",
        type=float,
        help="Share of items cut from single sentences (with --no-index; default: the setting's).",
    )
    args = parser.parse_args(argv)
    corpora = list(CORPORA) if args.corpus == "both" else [args.corpus]
    rows = []
    for corpus in corpora:
        if args.no_index:
            rows += sample_without_index(
                corpus,
                args.split,
                args.per_corpus,
                args.seed,
                not args.ungated,
                not args.no_cards,
                args.sentence_share,
            )
        else:
            rows += sample(
                corpus, args.split, args.per_corpus, args.seed, not args.ungated, args.cache
            )
    if args.as_shown:
        rows = [as_shown(r) for r in rows]
    if args.blind:
        random.Random(args.seed).shuffle(rows)
        keep = ("question", "options", "answer", "passage", "corpus", "split", "source")
        rows = [{"n": k + 1} | {key: r[key] for key in keep if key in r} for k, r in
                enumerate(rows)]  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} items -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
