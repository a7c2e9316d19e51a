"""Run retriever configurations over an eval set: per-query results, metrics and latency.

A configuration is a preset (``bm25``, ``dense``, ``hybrid``, ``hybrid-rrf``) plus overrides of
retrieval settings (``RetrievalSettings``), written ``hybrid:bm25_weight=0.4:candidates=100``;
the overrides are validated by the settings model itself, so a new retrieval knob works here
without code changes. Other settings (paths, servers, models) cannot be set this way: a
configuration only changes how the same index is searched.

Metrics come from pytrec_eval (nDCG@10, Recall@k, reciprocal rank on the top 10); hit@n is read
from the ranks. Unanswerable questions are left out of every metric.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sharpnotes.eval.sets import EvalSet, EvalSetError, Question
from sharpnotes.ingest.settings import RetrievalSettings, Settings

PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "bm25": ("bm25", {}),
    "dense": ("dense", {}),
    "hybrid": ("hybrid", {}),
    "hybrid-rrf": ("hybrid", {"fusion": "rrf"}),
}
DEFAULT_CONFIGS = "bm25,dense,hybrid"
LOWER_IS_BETTER = {"mean_ms", "p95_ms"}

Progress = Callable[[str, int, int], None]  # (configuration, done, total)


class ConfigError(ValueError):
    """A configuration that cannot run; the message names it and what to change."""


@dataclass(frozen=True)
class Config:
    name: str
    mode: str
    overrides: tuple[tuple[str, Any], ...] = ()

    def settings(self, base: Settings) -> Settings:
        """``base`` with this configuration's overrides, validated by the settings model."""
        from pydantic import ValidationError

        try:
            return base.replace(**dict(self.overrides))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(
                f"configuration {self.name!r}: bad value for {err['loc'][-1]}: {err['msg']}"
            ) from exc


def _value(text: str) -> Any:
    return None if text.lower() in ("none", "null") else text


def parse_config(spec: str) -> Config:
    """``preset[:key=value]...`` -> Config; unknown presets and setting names are errors."""
    spec = spec.strip()
    preset, *parts = spec.split(":")
    if preset not in PRESETS:
        raise ConfigError(
            f"unknown retriever {preset!r} in {spec!r}; start with one of {', '.join(PRESETS)}"
        )
    mode, overrides = PRESETS[preset]
    overrides = dict(overrides)
    for part in parts:
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{spec!r}: expected key=value after ':', got {part!r}")
        if key not in RetrievalSettings.model_fields:
            raise ConfigError(
                f"{spec!r}: {key!r} is not a retrieval setting; choose among "
                f"{', '.join(RetrievalSettings.model_fields)}"
            )
        overrides[key] = _value(value.strip())
    config = Config(spec, mode, tuple(sorted(overrides.items())))
    # validate now, not mid-run, and keep the typed values ("0.4" -> 0.4)
    typed = config.settings(Settings(home=Path("/nonexistent"))).retrieval.model_dump(mode="json")
    return Config(spec, mode, tuple((key, typed[key]) for key, _ in config.overrides))


def parse_configs(text: str) -> list[Config]:
    """Comma-separated configurations; duplicates are dropped."""
    configs: dict[str, Config] = {}
    for spec in text.split(","):
        if spec.strip():
            config = parse_config(spec)
            configs.setdefault(config.name, config)
    if not configs:
        raise ConfigError("no retriever configuration given; e.g. --retrievers bm25,hybrid")
    return list(configs.values())


# judging ----------------------------------------------------------------------------------------


def judge(eval_set: EvalSet, question: Question, results: list) -> tuple[list[str], list]:
    """(ranked unit ids, rank of each label or None: the passage's rank, or the document's).

    Passage level: a passage holding label j becomes unit ``L<j>`` (each label counted once);
    any other passage is itself a unit. Document level: units are sources, ranked where their
    best passage ranks."""
    units: list[str] = []
    label_ranks: list[int | None] = [None] * len(question.labels)
    for r in results:
        matched = [
            j for j, lab in enumerate(question.labels) if lab.matches(r.source, r.page, r.text)
        ]
        if eval_set.level == "document":
            if r.source not in units:
                units.append(r.source)
            rank = units.index(r.source) + 1
        else:
            units.extend(u for u in [f"L{j}" for j in matched] or [r.chunk_id] if u not in units)
            rank = r.rank
        for j in matched:
            if label_ranks[j] is None:
                label_ranks[j] = rank
    return units, label_ranks


def qrels_of(eval_set: EvalSet, question: Question) -> dict[str, int]:
    if eval_set.level == "document":
        return {lab.source: lab.grade for lab in question.labels}
    return {f"L{j}": lab.grade for j, lab in enumerate(question.labels)}


def per_query_metrics(
    qrels: dict[str, dict[str, int]], ranked: dict[str, list[str]], k: int
) -> dict[str, dict[str, float]]:
    """hit@1, hit@5, MRR@10, nDCG@10 and Recall@k of each query, from ranked unit lists."""
    import pytrec_eval

    def run_of(cut: int) -> dict[str, dict[str, float]]:
        out = {}
        for q in qrels:
            units = ranked.get(q, [])[:cut]
            out[q] = {u: float(len(units) - i) for i, u in enumerate(units)} or {"__none__": 0.0}
        return out

    deep = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run_of(10))
    rec = pytrec_eval.RelevanceEvaluator(qrels, {f"recall.{k}"}).evaluate(run_of(k))
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run_of(10))
    out = {}
    for q, rels in qrels.items():
        units = ranked.get(q, [])
        first = next((i for i, u in enumerate(units, 1) if rels.get(u, 0) > 0), None)
        out[q] = {
            "hit@1": float(first is not None and first <= 1),
            "hit@5": float(first is not None and first <= 5),
            "mrr@10": rr[q]["recip_rank"],
            "ndcg@10": deep[q]["ndcg_cut_10"],
            f"recall@{k}": rec[q][f"recall_{k}"],
        }
    return out


# running ----------------------------------------------------------------------------------------


@dataclass
class QueryResult:
    query_id: str
    question: str
    config: str
    relevant_ranks: list[int | None]
    first_rank: int | None
    top: list[dict]
    metrics: dict[str, float]
    latency_ms: float
    expected: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    set_info: dict
    k: int
    configs: dict[str, dict]  # name -> mode, overrides, metrics, latency
    results: list[QueryResult]
    unmatched: list[str]

    @property
    def columns(self) -> list[str]:
        return ["hit@1", "hit@5", "mrr@10", "ndcg@10", f"recall@{self.k}", "mean_ms", "p95_ms"]

    def best(self) -> dict[str, list[str]]:
        """Per column, the configuration(s) with the best value."""
        out = {}
        for col in self.columns:
            values = {name: row[col] for name, row in self.configs.items()}
            if not values:
                continue
            pick = min if col in LOWER_IS_BETTER else max
            top = pick(values.values())
            out[col] = [name for name, v in values.items() if v == top]
        return out

    def summary(self) -> dict:
        return {
            "set": self.set_info,
            "k": self.k,
            "unmatched_labels": self.unmatched,
            "configs": self.configs,
            "best": self.best(),
        }

    def write(self, folder: Path) -> tuple[Path, Path]:
        """``results.jsonl`` (one line per query and configuration) and ``summary.json``."""
        return write_run(folder, [r.to_dict() for r in self.results], self.summary())


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else 0.0


def prepare_index(
    eval_set: EvalSet, settings: Settings, cache_root: Path | None = None
) -> Settings:
    """The settings whose index the set is judged on. A JSONL set uses the index in
    ``settings.paths.home``; a BEIR corpus is ingested into a cache home (incremental, as
    ``sharpnotes.eval.benchmarks.beir`` does; under ``cache_root`` when given)."""
    if eval_set.format == "beir":
        from sharpnotes.eval.sets import CACHE, cache_home, write_notes
        from sharpnotes.ingest.sync import ingest

        home = cache_home(eval_set.path)
        if cache_root is not None:
            home = cache_root / home.relative_to(CACHE)
        beir_settings = settings.replace(home=home)
        write_notes(eval_set.corpus or {}, home.parent / "notes")
        report = ingest([home.parent / "notes"], beir_settings)
        if report.failed:
            raise EvalSetError(f"{eval_set.path}: ingest failed for {report.failed[:3]}")
        return beir_settings
    if not (settings.index_dir / "catalog.sqlite").exists():
        raise EvalSetError(
            f"no index at {settings.index_dir}; run: sharpnotes ingest PATH-TO-NOTES first"
        )
    return settings


def unmatched_labels(eval_set: EvalSet, settings: Settings) -> list[str]:
    """Ids of answerable questions with a label that no indexed passage satisfies."""
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(settings)
    try:
        rows = catalog.get_chunks(catalog.chunk_ids())
    finally:
        catalog.close()
    by_source: dict[str, list] = {}
    for row in rows.values():
        by_source.setdefault(row.source, []).append(row)
    missing = []
    for q in eval_set.answerable:
        for lab in q.labels:
            if not any(
                lab.matches(r.source, r.page, r.text) for r in by_source.get(lab.source, [])
            ):
                missing.append(q.id)
                break
    return missing


def run_eval(
    eval_set: EvalSet,
    configs: list[Config],
    settings: Settings,
    k: int = 10,
    progress: Progress | None = None,
) -> Report:
    """Every configuration over the answerable questions of ``eval_set`` on the index of
    ``settings`` (see ``prepare_index``)."""
    from sharpnotes.app.retrieval import Searcher

    questions = eval_set.answerable
    if not questions:
        raise EvalSetError(f"{eval_set.path}: no answerable questions to score")
    depth = max(k, 10)
    fetch = depth * 3 if eval_set.level == "document" else depth  # several passages per document
    searchers: dict[str, Searcher] = {}
    results: list[QueryResult] = []
    table: dict[str, dict] = {}
    qrels = {q.id: qrels_of(eval_set, q) for q in questions}
    for config in configs:
        cfg = config.settings(settings)
        key = cfg.model_dump_json()
        if key not in searchers:
            try:
                searchers[key] = Searcher(cfg)
            except Exception as exc:  # index errors say what to run; name the configuration
                raise ConfigError(f"configuration {config.name!r}: {exc}") from exc
        searcher = searchers[key]
        searcher.search("warm up", k=1, mode=config.mode)  # type: ignore[arg-type]
        ranked: dict[str, list[str]] = {}
        rows: list[QueryResult] = []
        for done, q in enumerate(questions, start=1):
            start = time.perf_counter()
            hits = searcher.search(q.text, k=fetch, mode=config.mode)  # type: ignore[arg-type]
            latency = (time.perf_counter() - start) * 1000
            units, label_ranks = judge(eval_set, q, hits)
            ranked[q.id] = units[:depth]
            label_ranks = [r if r is not None and r <= depth else None for r in label_ranks]
            found = [r for r in label_ranks if r is not None]
            rows.append(
                QueryResult(
                    query_id=q.id,
                    question=q.text,
                    config=config.name,
                    relevant_ranks=label_ranks,
                    first_rank=min(found) if found else None,
                    top=[
                        {
                            "rank": h.rank,
                            "chunk_id": h.chunk_id,
                            "source": h.source,
                            "heading": h.heading,
                            "page": h.page,
                            "score": h.score,
                        }
                        for h in hits[:depth]
                    ],
                    metrics={},
                    latency_ms=round(latency, 2),
                    expected=[lab.to_dict() for lab in q.labels],
                )
            )
            if progress:
                progress(config.name, done, len(questions))
        metrics = per_query_metrics(qrels, ranked, k)
        for row in rows:
            row.metrics = {m: round(v, 4) for m, v in metrics[row.query_id].items()}
        results.extend(rows)
        latencies = [r.latency_ms for r in rows]
        table[config.name] = {
            "mode": config.mode,
            "overrides": dict(config.overrides),
            "settings": cfg.retrieval.model_dump(mode="json"),
            **{m: round(statistics.fmean(r.metrics[m] for r in rows), 4) for m in rows[0].metrics},
            "mean_ms": round(statistics.fmean(latencies), 1),
            "p95_ms": round(p95(latencies), 1),
        }
    return Report(
        set_info=eval_set.describe(),
        k=k,
        configs=table,
        results=results,
        unmatched=unmatched_labels(eval_set, settings),
    )


HEADERS = {"mrr@10": "MRR@10", "ndcg@10": "nDCG@10", "mean_ms": "mean ms", "p95_ms": "p95 ms"}


def header(col: str) -> str:
    return HEADERS.get(col, col.replace("recall", "Recall"))


def table_rows(summary: dict) -> list[dict[str, str]]:
    """The summary as rows of strings, the best value of each column marked with ``*``."""
    best = summary["best"]
    rows = []
    for name, row in summary["configs"].items():
        out = {"config": name}
        for col in best:
            digits = 1 if col.endswith("_ms") else 3
            mark = "*" if name in best[col] else " "
            out[header(col)] = f"{row[col]:.{digits}f}{mark}"
        rows.append(out)
    return rows


def format_table(summary: dict) -> str:
    rows = table_rows(summary)
    if not rows:
        return "(no configurations)"
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = [
        "  ".join(c.ljust(widths[c]) if i == 0 else c.rjust(widths[c]) for i, c in enumerate(cols))
    ]
    for r in rows:
        lines.append(
            "  ".join(
                r[c].ljust(widths[c]) if i == 0 else r[c].rjust(widths[c])
                for i, c in enumerate(cols)
            )
        )
    return "\n".join(lines)


def write_run(folder: Path, rows: list[dict], summary: dict) -> tuple[Path, Path]:
    """An eval run as ``compare.load_run`` reads it: ``results.jsonl`` (one row a line) and
    ``summary.json`` naming it."""
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / "results.jsonl"
    with results.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary_file = folder / "summary.json"
    data = summary | {"results": results.name}
    summary_file.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return results, summary_file
