"""Compare two eval runs (``sharpnotes eval --out DIR``): metric deltas per configuration and,
query by query, what was gained (the relevant passage entered the top k, or moved up) and lost."""

from __future__ import annotations

import json
from pathlib import Path

from sharpnotes.eval.sets import EvalSetError


def load_run(path: Path) -> tuple[dict, list[dict]]:
    """(summary, per-query rows) from a results folder or its ``summary.json``."""
    path = Path(path).expanduser()
    summary_file = path / "summary.json" if path.is_dir() else path
    if not summary_file.is_file():
        raise EvalSetError(f"{path}: no summary.json here; give a folder written by eval --out")
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        results_file = summary_file.parent / summary.get("results", "results.jsonl")
        rows = [
            json.loads(line)
            for line in results_file.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    except (OSError, json.JSONDecodeError) as exc:
        raise EvalSetError(f"{summary_file}: not an eval run ({exc})") from exc
    return summary, rows


def _moved(a: dict | None, b: dict | None) -> dict:
    row = b or a or {}
    return {
        "query_id": row.get("query_id"),
        "question": row.get("question"),
        "rank_a": a.get("first_rank") if a else None,
        "rank_b": b.get("first_rank") if b else None,
    }


def compare_runs(a: Path, b: Path) -> dict:
    """Per configuration present in both runs: metric deltas (B - A), gained and lost queries."""
    summary_a, rows_a = load_run(a)
    summary_b, rows_b = load_run(b)
    by_a = {(r["config"], r["query_id"]): r for r in rows_a}
    by_b = {(r["config"], r["query_id"]): r for r in rows_b}
    configs_a, configs_b = summary_a["configs"], summary_b["configs"]
    out: dict = {
        "a": str(a),
        "b": str(b),
        "only_in_a": sorted(set(configs_a) - set(configs_b)),
        "only_in_b": sorted(set(configs_b) - set(configs_a)),
        "configs": {},
    }
    for name in [c for c in configs_b if c in configs_a]:
        deltas = {
            m: round(configs_b[name][m] - configs_a[name][m], 4)
            for m, v in configs_b[name].items()
            if isinstance(v, int | float) and isinstance(configs_a[name].get(m), int | float)
        }
        gained, lost, same = [], [], 0
        qids = [q for c, q in by_b if c == name] + [
            q for c, q in by_a if c == name and (c, q) not in by_b
        ]
        for qid in qids:
            ra, rb = by_a.get((name, qid)), by_b.get((name, qid))
            rank_a = ra.get("first_rank") if ra else None
            rank_b = rb.get("first_rank") if rb else None
            if rank_b is not None and (rank_a is None or rank_b < rank_a):
                gained.append(_moved(ra, rb))
            elif rank_a is not None and (rank_b is None or rank_a < rank_b):
                lost.append(_moved(ra, rb))
            else:
                same += 1
        before, after = configs_a[name].get("settings", {}), configs_b[name].get("settings", {})
        out["configs"][name] = {
            "settings_changed": {
                key: [before.get(key), after.get(key)]
                for key in sorted(set(before) | set(after))
                if before.get(key) != after.get(key)
            },
            "deltas": deltas,
            "gained": gained,
            "lost": lost,
            "unchanged": same,
        }
    return out


def _rank(r: int | None) -> str:
    return "-" if r is None else str(r)


def format_comparison(result: dict, limit: int = 20) -> str:
    lines = [f"A: {result['a']}", f"B: {result['b']}"]
    for side in ("only_in_a", "only_in_b"):
        if result[side]:
            lines.append(f"configurations {side.replace('_', ' ')}: {', '.join(result[side])}")
    for name, cmp in result["configs"].items():
        deltas = "  ".join(f"{m} {v:+.3f}" for m, v in cmp["deltas"].items())
        lines.append(f"\n{name}: {deltas}")
        for key, (was, now) in cmp["settings_changed"].items():
            lines.append(f"  setting {key}: {was} -> {now}")
        lines.append(
            f"  gained {len(cmp['gained'])}, lost {len(cmp['lost'])}, "
            f"unchanged {cmp['unchanged']} (rank of the first relevant passage, A -> B; "
            "- = not in top k)"
        )
        for label, rows in (("+", cmp["gained"]), ("-", cmp["lost"])):
            for row in rows[:limit]:
                lines.append(
                    f"  {label} {row['query_id']}: {_rank(row['rank_a'])} -> "
                    f"{_rank(row['rank_b'])}  {row['question'][:70]}"
                )
            if len(rows) > limit:
                lines.append(f"  {label} ... and {len(rows) - limit} more (see --json)")
    return "\n".join(lines)
