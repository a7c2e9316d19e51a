"""Eval: run retriever configurations over an eval set; the table, charts and failed queries.

The page only lays out widgets: loading sets, running and scoring are ``eval.harness``, the same
code as ``sharpnotes eval``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from sharpnotes.app.ui import services
from sharpnotes.app.ui.render import literal
from sharpnotes.eval.harness import (
    PRESETS,
    ConfigError,
    Report,
    header,
    parse_configs,
    prepare_index,
    run_eval,
    table_rows,
)
from sharpnotes.eval.sets import SAMPLE_SET, EvalSetError, load_set, user_sets

cfg = services.settings()
st.title("Eval")
st.caption(
    "How well search finds the passage that answers each question of a set. Unanswerable "
    "questions are left out of the metrics. Make a set from your notes with "
    "`sharpnotes eval generate`; sets under SHARPNOTES_HOME/evalsets are listed here."
)

OTHER = "Another file or BEIR folder…"
choices: dict[str, Path] = {}
if SAMPLE_SET.is_file():
    choices[f"Sample set ({SAMPLE_SET.name})"] = SAMPLE_SET
for found in user_sets(cfg.paths.home):
    choices[f"{found.name} (yours)"] = found

with st.container(border=True):
    pick = st.selectbox("Eval set", [*choices, OTHER], key="eval_set")
    set_path = choices.get(pick)
    if pick == OTHER:
        typed = st.text_input("Path to a .jsonl set or a BEIR folder", key="eval_path")
        set_path = Path(typed.strip()).expanduser() if typed.strip() else None
    picked = st.multiselect(
        "Configurations", list(PRESETS), default=["bm25", "dense", "hybrid"], key="eval_configs"
    )
    extra = st.text_input(
        "More configurations, comma-separated (a preset with setting overrides)",
        placeholder="hybrid:bm25_weight=0.4:candidates=100",
        key="eval_extra",
    )
    k = int(st.number_input("k (Recall@k)", min_value=1, max_value=100, value=10, key="eval_k"))
    left_button, right_button = st.columns(2)
    run = left_button.button("Run", icon=":material/play_arrow:", disabled=set_path is None)
    run_answers_now = right_button.button(
        "Measure answers",
        icon=":material/fact_check:",
        disabled=set_path is None,
        help="Ask every question with the configured generator and judge the answers "
        "(the same as `sharpnotes eval answers`).",
    )

if run_answers_now and set_path is not None:
    from sharpnotes.app.generators import GeneratorError
    from sharpnotes.eval.answers import run_answers

    answer_bar = st.progress(0.0, text="answering…")

    def answer_progress(name: str, done: int, total: int) -> None:
        answer_bar.progress(min(done / max(total, 1), 1.0), text=f"{name}: {done}/{total}")

    try:
        answer_set = load_set(set_path)
        if answer_set.format != "jsonl":
            raise EvalSetError(f"{set_path}: answers need a .jsonl set with evidence labels")
        st.session_state.answer_report = run_answers(
            answer_set,
            prepare_index(answer_set, cfg),
            [cfg.answers.generator],
            progress=answer_progress,
        )
    except (EvalSetError, GeneratorError) as exc:
        answer_bar.empty()
        st.error(str(exc))
        st.stop()
    answer_bar.progress(1.0, text="done")

answer_report = st.session_state.get("answer_report")
if answer_report is not None:
    from sharpnotes.eval.answers import COLUMNS

    st.subheader("Answers")
    st.caption(
        "Evidence recall: share of the labelled evidence's words the answer holds; cited: a "
        "cited passage holds the evidence; refusal rates for answerable, unanswerable and "
        "near-miss questions; duplicate quotes and answers that restate the question."
    )
    for generator, figures in answer_report.summary()["configs"].items():
        st.caption(generator)
        st.dataframe(
            [
                {"group": group} | {label: fig[key] for key, label in COLUMNS}
                for group, fig in figures["groups"].items()
            ],
            hide_index=True,
            width="stretch",
        )

with st.expander(
    "Quiz quality", icon=":material/quiz:", expanded="quiz_checks" in st.session_state
):
    st.caption(
        "Generate items from your notes and run every automatic check: the verification "
        "(evidence in its passage, answer in the evidence, no giveaway, valid options) and the "
        "quality gate, with what it drops and why. A ratings file (a .jsonl of items scored 0-5 "
        "with the quiz rubric) adds the mean score. The same as `sharpnotes eval quiz`."
    )
    n_col, kind_col, seed_col = st.columns(3)
    quiz_n = n_col.number_input("Items", min_value=1, max_value=200, value=20, key="quiz_n")
    quiz_kind = kind_col.selectbox("Kind", ["mixed", "mcq", "cloze", "recall"], key="quiz_kind")
    quiz_seed = seed_col.number_input("Seed", min_value=0, value=0, key="quiz_seed")
    ratings_path = st.text_input("Ratings file (optional)", key="quiz_ratings")
    if st.button("Check quiz items", icon=":material/rule:"):
        from sharpnotes.app.generators import GeneratorError
        from sharpnotes.app.retrieval import EmptyIndexError
        from sharpnotes.eval.quiz import RatingsError, check_items, load_ratings, rating_report

        try:
            typed_ratings = ratings_path.strip()
            rated = (
                rating_report(load_ratings(Path(typed_ratings).expanduser()))
                if typed_ratings
                else None
            )
            with st.spinner("generating and checking items…"):
                checks = check_items(cfg, n=int(quiz_n), kind=quiz_kind, seed=int(quiz_seed))
        except (EmptyIndexError, GeneratorError, RatingsError) as exc:
            st.error(literal(str(exc)))
        else:
            st.session_state.quiz_checks = (checks, rated)
    if "quiz_checks" in st.session_state:
        from sharpnotes.eval.quiz import rated_groups

        checks, rated = st.session_state.quiz_checks
        generated, passed, own = st.columns(3)
        generated.metric("Generated", checks["generated"])
        passed.metric("Pass the gate", checks["passed"])
        own.metric("Your own cards", checks["own_cards"])
        findings = [
            {"check": "verification", "reason": reason, "items": count}
            for reason, count in checks["verification_failures"].items()
        ] + [
            {"check": "quality gate", "reason": reason, "items": count}
            for reason, count in checks["gate_drops"].items()
        ]
        if findings:
            st.dataframe(findings, hide_index=True, width="stretch", key="quiz_findings")
        else:
            st.success("Every item passes the verification and the quality gate.")
        if rated:
            st.dataframe(
                [
                    {"group": name, "items": row["items"]}
                    | {
                        "mean of 5": row["mean"],
                        "at 3+": row["share_at_least_3"],
                        "at 4+": row["share_at_least_4"],
                        "at 1 or less": row["share_at_most_1"],
                    }
                    for name, row in rated_groups(rated)
                ],
                hide_index=True,
                width="stretch",
                key="quiz_ratings_table",
            )
        st.dataframe(
            [
                {
                    "type": item["type"],
                    "question": item["question"],
                    "answer": item["answer"],
                    "gate": item["gate"] or "kept",
                }
                for item in checks["items"]
            ],
            hide_index=True,
            width="stretch",
            key="quiz_items",
        )

if run and set_path is not None:
    bar = st.progress(0.0, text="loading the set and the index…")
    try:
        configs = parse_configs(",".join([*picked, extra]))
        eval_set = load_set(set_path)
        index_settings = prepare_index(eval_set, cfg)
        names = [c.name for c in configs]

        def progress(name: str, done: int, total: int) -> None:
            fraction = (names.index(name) * total + done) / (len(names) * total)
            bar.progress(min(fraction, 1.0), text=f"{name}: {done}/{total} questions")

        st.session_state.eval_report = run_eval(
            eval_set, configs, index_settings, k=k, progress=progress
        )
    except (ConfigError, EvalSetError) as exc:
        bar.empty()
        st.error(str(exc))
        st.stop()
    bar.progress(1.0, text="done")

report: Report | None = st.session_state.get("eval_report")
if report is None:
    st.info("Pick a set and configurations, then Run.")
    st.stop()

summary = report.summary()
info = summary["set"]
st.subheader(f"{info['name']}: {info['answerable']} questions scored")
if info["unanswerable_excluded"]:
    st.caption(f"{info['unanswerable_excluded']} unanswerable questions excluded from the metrics.")
st.dataframe(table_rows(summary), hide_index=True, width="stretch")
st.caption("\\* best in column; latency per query in ms.")
if report.unmatched:
    st.warning(
        f"{len(report.unmatched)} questions have a label that no indexed passage holds "
        f"(counted as misses): {', '.join(report.unmatched[:10])}"
    )

quality = [c for c in report.columns if not c.endswith("_ms")]
frame = pd.DataFrame(summary["configs"]).T
left, right = st.columns(2)
with left:
    st.caption("Quality")
    st.bar_chart(frame[quality].astype(float).rename(columns=header), stack=False)
with right:
    st.caption("Latency per query (ms)")
    st.bar_chart(frame[["mean_ms", "p95_ms"]].astype(float).rename(columns=header), stack=False)

# failed queries -------------------------------------------------------------------------------
st.subheader("Failed queries")
col_a, col_b = st.columns(2)
config_name = col_a.selectbox("Configuration", list(summary["configs"]), key="eval_failed_cfg")
cutoffs = {"not at rank 1": 1, "not in the top 5": 5, f"not in the top {report.k}": report.k}
cutoff = cutoffs[col_b.radio("Show questions whose answer is", list(cutoffs), key="eval_cut")]
failed = [
    r
    for r in report.results
    if r.config == config_name and (r.first_rank is None or r.first_rank > cutoff)
]
failed.sort(key=lambda r: r.first_rank or 10**6, reverse=True)
st.caption(f"{len(failed)} questions")
for row in failed[:50]:
    where = f"rank {row.first_rank}" if row.first_rank else f"not in top {report.k}"
    with st.expander(literal(f"{where} · {row.question}")):
        for label in row.expected:  # sources and evidence are note text: shown, not rendered
            page = f" p.{label['page']}" if label.get("page") else ""
            evidence = f": “{literal(label['evidence'])}”" if label.get("evidence") else ""
            st.markdown(f"Expected **{literal(label['source'] + page)}**{evidence}")
        hits = set(r for r in row.relevant_ranks if r is not None)
        st.dataframe(
            [
                {
                    "rank": t["rank"],
                    "relevant": "yes" if t["rank"] in hits else "",
                    "source": t["source"] + (f" p.{t['page']}" if t["page"] else ""),
                    "heading": t["heading"],
                }
                for t in row.top[:5]
            ],
            hide_index=True,
            width="stretch",
        )
