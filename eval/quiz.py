"""Quiz quality in the product: generate items from the index, run the automatic checks, and
summarise rubric ratings (``../shared/quiz_rubric.md``) when a ratings file is given.

A ratings file is JSON lines, one rated item each: ``question``, ``answer``, ``score`` (0-5),
``tags`` (list), ``corpus``, ``split`` ("tune" or "holdout"; fixed per source file by
``split_of`` before any tuning) and, optionally, ``id``, ``type``, ``options``, ``source``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from sharpnotes.ingest.settings import Settings

TAGS = (
    "trivia", "ambiguous", "malformed", "giveaway", "implausible-distractors", "wrong",
    "raw-markup",
)  # fmt: skip


class RatingsError(ValueError):
    """A ratings file that cannot be read; the message names the file and line."""


def split_of(source: str) -> str:
    """The half a note belongs to, fixed by its path: "tune" or "holdout"."""
    return "tune" if int(hashlib.sha1(source.encode("utf-8")).hexdigest(), 16) % 2 else "holdout"


def load_ratings(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RatingsError(
            f"{path}: cannot read the ratings file ({exc.__class__.__name__}); give the path of "
            "a .jsonl of rated items"
        ) from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            score = float(record["score"])
        except (ValueError, KeyError, TypeError) as exc:
            raise RatingsError(
                f"{path}:{n}: not a rating ({exc}); each line is a JSON object with a 0-5 'score'"
            ) from None
        if not 0 <= score <= 5:
            raise RatingsError(f"{path}:{n}: score {score} is outside 0-5")
        out.append(record)
    return out


def summarise(ratings: list[dict]) -> dict:
    """Mean score, shares at >= 3, >= 4 and <= 1, and tag counts."""
    scores = [float(r["score"]) for r in ratings]
    n = len(scores)
    if not n:
        return {"items": 0}
    tags = Counter(t for r in ratings for t in r.get("tags", []))
    return {
        "items": n,
        "mean": round(sum(scores) / n, 2),
        "share_at_least_3": round(sum(s >= 3 for s in scores) / n, 3),
        "share_at_least_4": round(sum(s >= 4 for s in scores) / n, 3),
        "share_at_most_1": round(sum(s <= 1 for s in scores) / n, 3),
        "tags": dict(tags.most_common()),
    }


def rating_report(ratings: list[dict]) -> dict:
    """The summary overall, per split, per corpus, per split and corpus, and per item type."""

    def by(key) -> dict:
        groups: dict[str, list[dict]] = {}
        for r in ratings:
            groups.setdefault(key(r), []).append(r)
        return {k: summarise(v) for k, v in sorted(groups.items())}

    return {
        "all": summarise(ratings),
        "by_split": by(lambda r: r.get("split", "?")),
        "by_corpus": by(lambda r: r.get("corpus", "?")),
        "by_split_corpus": by(lambda r: f"{r.get('split', '?')}/{r.get('corpus', '?')}"),
        "by_type": by(lambda r: r.get("type", "?")),
    }


def rated_groups(report: dict) -> list[tuple[str, dict]]:
    """(name, summary) of "all" and of each split of a ``rating_report``, those with items."""
    groups = [("all", report["all"]), *report["by_split"].items()]
    return [(name, row) for name, row in groups if row.get("items")]


def check_items(settings: Settings, n: int, kind: str, seed: int) -> dict:
    """Generate ``n`` items (ungated, so the gate's drops are seen) and run every check: the
    verification (evidence in passage, answer in evidence, no giveaway, valid options) and the
    quality gate, with counts per reason."""
    from sharpnotes.app.quiz import verify
    from sharpnotes.app.quiz.generate import generate_quiz

    batch = generate_quiz(settings, n=n, kind=kind, seed=seed, gated=False)
    failed: Counter[str] = Counter()
    for item in batch.items:
        reason = verify.check(item)
        if reason:
            failed[reason] += 1
    gate = Counter(batch.flagged.values())
    kept = [i for i in batch.items if i.id not in batch.flagged]
    return {
        "generated": len(batch.items),
        "verification_failures": dict(failed),
        "gate_drops": dict(gate.most_common()),
        "passed": len(kept),
        "by_type": dict(Counter(i.type for i in kept)),
        "own_cards": sum(i.generator == "notes" for i in kept),
        "dropped_before_choice": dict(batch.dropped),
        "items": [i.to_dict() | {"gate": batch.flagged.get(i.id)} for i in batch.items],
    }
