"""Can a small scorer tell good quiz items cut from sentences from bad ones? Trained on the tune
half of ``eval/quiz_ratings.jsonl``, reported on its holdout half.

    python -m sharpnotes.eval.benchmarks.quiz_scorer --out eval/benchmarks/results/quiz-scorer.json

Items: the rated ones of the offline writer (``generator`` "offline": blanks, MCQs and
"explain" prompts cut from single sentences). Features, read from the item's text and the
corpus's lexicon only: type; answer length, digits, kind (acronym, phrase, formula) and whether
the notes emphasise it (bold, heading, spelled-out acronym) and in how many chunks; question
length, Chinese, blank at the start, two blanks, the "explain" templates, a definition verb, a
reason word, an example. Target: score >= 3. A logistic regression, its strength chosen by 5-fold
cross-validation on the tune half; then the holdout's AUC and the mean score of the items it
ranks in its top 30% and 50% (the cut-off taken on the tune half's cross-validated scores).
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

from sharpnotes.eval.benchmarks.paths import REPO, RESULTS, write_results

_CJK = re.compile(r"[\u3400-\u9fff]")


def features(item: dict, lexicon, emphasised: set[str]) -> list[float]:
    from sharpnotes.app.quiz.terms import fold, term_kind

    question = re.sub(r"\s*\([^()]*\)\s*$", "", item["question"])  # the heading context
    answer = str(item["answer"])
    kind = term_kind(answer)
    key = fold(answer)
    info = lexicon.terms.get(key)
    return [
        float(v)
        for v in (
            item["type"] == "cloze",
            item["type"] == "mcq",
            math.log1p(len(answer.split())),
            bool(re.search(r"\d", answer)),
            kind == "acronym",
            kind == "phrase",
            kind == "formula",
            key in emphasised,
            bool(info and info.bold),
            math.log1p(lexicon.df(key)),
            math.log1p(len(question.split())),
            bool(_CJK.search(question)),
            question.startswith("____"),
            question.count("____") > 1,
            question.startswith(("Explain why", "Explain the purpose")),
            question.startswith("Explain what"),
            bool(re.search(r"\b(?:is|are|means|refers)\b", question)),
            bool(re.search(r"\b(?:because|so|since|why|cost|trade|when|if)\b", question, re.I)),
            bool(re.search(r"\be\.g\.|for example|such as", question, re.I)),
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    from sharpnotes.app.quiz.terms import Lexicon
    from sharpnotes.eval.benchmarks.quiz_quality import CORPORA
    from sharpnotes.eval.benchmarks.quiz_sample import _chunks

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratings", type=Path, default=REPO / "eval" / "quiz_ratings.jsonl")
    parser.add_argument("--out", type=Path, default=RESULTS / "quiz-scorer.json")
    args = parser.parse_args(argv)
    rated = [json.loads(line) for line in args.ratings.open(encoding="utf-8")]
    lexicons = {c: Lexicon.from_rows(_chunks(CORPORA[c])) for c in CORPORA}
    emphasised = {c: lex.emphasised() for c, lex in lexicons.items()}

    def data(split: str) -> tuple[np.ndarray, np.ndarray]:
        rows = [r for r in rated if r["split"] == split and r["generator"] == "offline"]
        x = [features(r, lexicons[r["corpus"]], emphasised[r["corpus"]]) for r in rows]
        return np.array(x), np.array([r["score"] for r in rows], float)

    x_tune, y_tune = data("tune")
    x_hold, y_hold = data("holdout")
    grid = {}
    for strength in (0.03, 0.1, 0.3, 1.0):
        model = LogisticRegression(C=strength, max_iter=2000)
        cv = cross_val_predict(model, x_tune, y_tune >= 3, cv=5, method="predict_proba")[:, 1]
        grid[strength] = (roc_auc_score(y_tune >= 3, cv), cv)
    strength = max(grid, key=lambda c: grid[c][0])
    auc_tune, cv = grid[strength]
    model = LogisticRegression(C=strength, max_iter=2000).fit(x_tune, y_tune >= 3)
    held = model.predict_proba(x_hold)[:, 1]
    report: dict = {
        "items": {"tune": len(y_tune), "holdout": len(y_hold)},
        "strength": strength,
        "auc": {
            "tune_cv": round(auc_tune, 3),
            "holdout": round(roc_auc_score(y_hold >= 3, held), 3),
        },
        "mean_score": {"tune_all": round(y_tune.mean(), 2), "holdout_all": round(y_hold.mean(), 2)},
    }
    for top in (0.3, 0.5):
        cut = float(np.quantile(cv, 1 - top))
        report["mean_score"][f"tune_cv_top{int(top * 100)}"] = round(y_tune[cv >= cut].mean(), 2)
        kept = held >= cut
        report["mean_score"][f"holdout_top{int(top * 100)}"] = round(y_hold[kept].mean(), 2)
        report["mean_score"][f"holdout_top{int(top * 100)}_kept"] = int(kept.sum())
    print(json.dumps(report, indent=1))
    write_results(args.out, report, {"ratings": str(args.ratings.relative_to(REPO))})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
