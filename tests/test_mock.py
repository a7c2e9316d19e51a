"""Mock interviews on the real sample notes (the system-design folder with its framework and case
notes, two fundamentals notes) through the real index, grader, SQLite stores, CLI and Streamlit
page: the steps come from the framework note, a good answer scores above a poor one and the poor
one's missed points cite the case note, sessions are kept and listed, missed points become review
cards, bad answers files are refused without storing anything, and the page runs a mock with a
short timer to its report."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from conftest import REPO, write_notes
from sharpnotes.app.cli import cli
from sharpnotes.app.mock.plan import MockPlan, case_prompt, parse_framework
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

MAIN = str(REPO / "app" / "ui" / "main.py")
NOTES = REPO / "notes"
FRAMEWORK = NOTES / "system-design" / "ml-system-design-framework.md"
COPIED = ["fundamentals/bias-variance.md", "deployment/quantization.md", "syllabus.yaml"]
SET = [json.loads(line) for line in (REPO / "eval" / "mock_answers.jsonl").open(encoding="utf-8")]


def answer(row_id: str) -> str:
    return next(r["answer"] for r in SET if r["id"] == row_id)


def test_the_steps_are_read_from_the_framework_note() -> None:
    steps = parse_framework(FRAMEWORK.read_text(encoding="utf-8"))
    titles = [s.title for s in steps]
    assert titles[:2] == ["Clarify requirements", "Frame the ML problem"]
    # "7. Serving, monitoring, iteration" has one ### subsection per part: one step each
    assert titles[-3:] == ["Serving", "Monitoring", "Iteration loop"]
    assert "Evaluation: offline and online" in titles and "Time plan" not in " ".join(titles)
    evaluation = next(s for s in steps if s.title.startswith("Evaluation"))
    assert evaluation.names == ("Evaluation: offline and online", "Offline", "Online")
    serving = next(s for s in steps if s.key == "serving")
    assert "Multi-stage funnels" in serving.text and "Four layers" not in serving.text
    # another framework gives other steps: nothing is hard-coded
    mine = "# Mine\n## 1. Goals\nWhat to move.\n## 2. Baseline model\nStart simple.\n## Notes\n"
    assert [(s.key, s.title) for s in parse_framework(mine)] == [
        ("goals", "Goals"),
        ("baseline-model", "Baseline model"),
    ]
    # steps named in Chinese keep their own keys (they all were "step": every answer went to
    # the last step), and two steps of one title are told apart
    chinese = "# 框架\n## 1. 釐清需求\n- 誰用\n## 2. 指標\n- recall\n## 3. 指標\n- latency\n"
    assert [s.key for s in parse_framework(chinese)] == ["釐清需求", "指標", "指標-2"]


def test_a_framework_numbered_as_a_list_gives_its_items_as_steps() -> None:
    listed = (
        "# The 9 step template\n\nMy usual order.\n\n"
        "1. Problem formulation\n    * Clarifying questions\n    * Requirements\n\n"
        "2. Metrics\n    * Offline metrics\n    * Online metrics\n\n"
        "3. Serving:\n    * Latency budget\n\n## Notes\nNot a step.\n"
    )
    steps = parse_framework(listed)
    assert [(s.key, s.title) for s in steps] == [
        ("problem-formulation", "Problem formulation"),
        ("metrics", "Metrics"),
        ("serving", "Serving"),
    ]
    assert "Requirements" in steps[0].text and "Offline metrics" not in steps[0].text
    # what a step is called: its title and the items under it, matched with the case's headings
    assert steps[0].names == ("Problem formulation", "Clarifying questions", "Requirements")
    assert "Not a step" not in steps[-1].text  # the heading ends the last step
    # numbered headings win over a list; one numbered item is no framework
    assert parse_framework("## 1. Goals\nx\n\n1. a\n2. b\n")[0].title == "Goals"
    assert parse_framework("Steps:\n\n1. Only one\n") == []


def test_table_points_are_its_body_rows() -> None:
    from sharpnotes.app.mock.plan import _stems, _table_rows

    table = "Use stages:\n\n| Stage | Model |\n|---|---|\n| Retrieval | two-tower |\n| Rank | MLP |"
    assert _table_rows(table) == ["Retrieval: two-tower", "Rank: MLP"]
    assert not _stems("Failure modes to bring up") & _stems("Model")  # not "mode" in both
    from sharpnotes.app.mock.plan import is_point

    # a question is never a point to cover, with the stars and emoji of Q&A notes after it
    assert not is_point("+ Feature importance in gradient boosting trees — what options? ⭐️")
    assert is_point("Gain-based importance sums each feature's split gains over the trees.")
    assert _stems("Serving notes") & _stems("Serve")


def test_a_nested_point_is_reported_under_the_bullet_it_sits_under() -> None:
    from sharpnotes.app.mock.plan import Passage, Point, _points

    text = "* Model choice\n  * GBDT\n    * cons: inefficient for continual training\n"
    points = _points([Passage("c1", "ads.md", "Ads > Model", None, text)])
    [cons] = [p for p in points if "continual" in p.text]
    assert cons.text == "* cons: inefficient for continual training"  # graded as written
    # shown as plain text: no list marker, under the items it sits under
    assert cons.shown == "Model choice › GBDT › cons: inefficient for continual training"
    assert Point.from_dict(cons.to_dict()) == cons
    saved = {k: v for k, v in cons.to_dict().items() if k != "parents"}  # an older session
    assert Point.from_dict(saved).shown == "cons: inefficient for continual training"


@pytest.fixture(scope="module")
def mock_index(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("mock")
    notes = base / "notes"
    shutil.copytree(NOTES / "system-design", notes / "system-design")
    for rel in COPIED:
        (notes / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(NOTES / rel, notes / rel)
    home = base / "home"
    assert ingest([notes], Settings(home=home, models_dir=models_dir)).ok
    return home, notes


@pytest.fixture
def env(mock_index: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Settings:
    home, notes = mock_index
    for name in ("review.sqlite", "mock.sqlite"):
        for suffix in ("", "-wal", "-shm"):
            (home / (name + suffix)).unlink(missing_ok=True)
    monkeypatch.setenv("SHARPNOTES_HOME", str(home))
    monkeypatch.setenv("SHARPNOTES_NOTES_DIR", str(notes))
    return Settings()


def run(*args: str, input: str | None = None, code: int = 0) -> dict | str:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if "--json" in args and code == 0 else result.output


@pytest.mark.slow
def test_each_step_is_graded_on_the_cases_own_sections(env: Settings) -> None:
    from sharpnotes.app.mock.plan import plan_design
    from sharpnotes.app.retrieval import Searcher

    plan = plan_design(Searcher(env), 45, case="case-video-recommendation")
    model = next(step for step in plan.steps if step.key == "model")
    # the case has no section named for the model: the one that fits it best, not another note
    assert model.points and {p.passage.source for p in model.points} == {
        "system-design/case-video-recommendation.md"
    }
    assert not any("Failure modes" in p.passage.heading for p in model.points)
    assert not any(p.text.startswith("Stage: Input size") for s in plan.steps for p in s.points)


@pytest.mark.slow
def test_a_case_typed_in_is_graded_on_the_frameworks_asks_not_on_other_cases(
    env: Settings,
) -> None:
    """A newcomer's typed-in lidar case was graded on the pedestrian case's requirements and on
    a lidar note's list of four encodings (naming one, it "missed" all four): with no case note
    of its own, each step is graded on what the framework note asks of it, and the other notes'
    passages on it are listed to read, not graded."""
    from sharpnotes.app.mock.plan import case_notes, plan_design
    from sharpnotes.app.retrieval import Searcher

    searcher = Searcher(env)
    plan = plan_design(searcher, 45, text="Design a drowsy-driver warning from a cabin camera")
    cases = {c.source for c in case_notes(searcher)}
    framework = "system-design/ml-system-design-framework.md"
    graded = {p.passage.source for step in plan.steps for p in step.points}
    assert graded and not graded & cases
    assert sum(all(p.passage.source == framework for p in s.points) for s in plan.steps) >= 5
    read = {r.source for step in plan.steps for r in step.related}
    assert read and not read & cases and framework not in read
    # a case note of its own is graded on its own sections, as before
    case = plan_design(searcher, 45, case="pedestrian")
    assert not any(step.related for step in case.steps)


# the 9-step template of the mlnotes collection (Machine-Learning-Interviews/src/MLSD), as
# people keep it: its steps are named otherwise than the headings of a case note
TEMPLATE = """# The 9 Step ML System Design Formula Template

1. Problem Formulation
    * Clarifying questions
    * Use case(s) and business goal
    * Requirements
    * Constraints
    * Data: sources and availability
    * Assumptions
    * ML formulation

2. Metrics
    * Offline metrics
    * Online metrics

3. Architectural Components
    * High level architecture

4. Data Collection and Preparation
    * Data needs
    * Data Sources
    * Data storage
    * ML Data types
    * Labelling

5. Feature Engineering
    * Feature selection
    * Feature representation
    * Feature preprocessing

6. Model Development and Offline Evaluation
    * Model selection
    * Dataset construction
    * Model Training
    * Model eval and HP tuning
    * Iterations

7. Prediction Service

8. Online Testing and Deployment
    * A/B Test
    * Deployment and release

9. Scaling, Monitoring, and Updates
    * Scaling (SW and ML systems)
    * Monitoring
    * Updates
"""


@pytest.mark.slow
def test_a_template_named_otherwise_grades_its_problem_step_on_requirements_and_framing(
    tmp_path: Path, settings: Settings
) -> None:
    from sharpnotes.app.mock.grade import grade_mock
    from sharpnotes.app.mock.plan import plan_design
    from sharpnotes.app.retrieval import Searcher

    notes = tmp_path / "notes"
    (notes / "system-design").mkdir(parents=True)
    (notes / "mlsd-template.md").write_text(TEMPLATE, encoding="utf-8")
    shutil.copy(NOTES / "system-design" / "case-pedestrian-detection.md", notes / "system-design")
    shutil.copy(NOTES / "fundamentals" / "bias-variance.md", notes)
    assert ingest([notes], settings).ok
    plan = plan_design(Searcher(settings), 45, case="pedestrian")
    assert plan.framework == "mlsd-template.md"
    steps = {s.key: s for s in plan.steps}

    def sections(key: str) -> set[str]:
        return {p.passage.heading.split(" > ")[-1] for p in steps[key].points}

    # "Problem Formulation" names none of the note's headings: its item "* Requirements" does,
    # and "Framing" follows "Requirements"; the Data section is the data step's alone
    assert sections("problem-formulation") == {"Requirements (what I'd ask and assume)", "Framing"}
    assert sections("data-collection-and-preparation") == {"Data"}
    assert sections("metrics") == {"Offline", "Online / on-road"}
    # "Serving" and "Service" start alike where their stems differ: the heading names the step
    assert sections("prediction-service") == {"Serving on the car"}
    # no key point, and no section, under two steps
    texts = [p.text for s in plan.steps for p in s.points]
    assert len(texts) == len(set(texts)) and sum("Phantom braking" in t for t in texts) == 1
    # (a step the case skips is graded on the framework's own lines, from one heading here)
    held = [
        h for s in plan.steps
        for h in {p.passage.heading for p in s.points if p.passage.source == plan.source}
    ]  # fmt: skip
    assert len(held) == len(set(held))
    # what the newcomer answered to step 1: the requirements and the framing, restated
    said = (
        "Eight surround cameras at 30 FPS plus a lidar and radars; I keep to the camera detector. "
        "Pedestrians must be detected out to 80 m in the forward cameras, 40 m to the sides. "
        "The camera detector gets about 25 ms of the 100 ms perception budget on an Orin GPU. "
        "Recall above 99% for pedestrians within 30 m near the drivable path, with few false "
        "positives so the planner does not phantom-brake. Vulnerable road users: children, "
        "wheelchairs, strollers, people partially hidden behind parked cars. Per camera image, "
        "predict 2D boxes for pedestrians with attributes, and track them over time."
    )
    report = grade_mock(plan, {"problem-formulation": said}, settings, 0.0, 60.0)
    first = report.steps[0]
    assert first.score is not None and first.score > 0.6  # it was graded against Data
    # a step that no section of the case fits has no key points and says so
    bare = [r for r in report.steps if not steps[r.key].points]
    assert bare and all(r.score is None for r in bare)
    assert bare[0].feedback == (
        "No section of system-design/case-pedestrian-detection.md matches this step; not scored."
    )


@pytest.mark.slow
def test_no_key_point_of_a_case_is_graded_under_two_steps(env: Settings) -> None:
    from sharpnotes.app.mock.plan import case_notes, plan_design
    from sharpnotes.app.retrieval import Searcher

    searcher = Searcher(env)
    for case in case_notes(searcher):
        plan = plan_design(searcher, 45, case=case.source)
        texts = [p.text for s in plan.steps for p in s.points]
        assert len(texts) == len(set(texts)), case.source
        held = [h for s in plan.steps for h in {p.passage.heading for p in s.points}]
        assert len(held) == len(set(held)), case.source
        # a summary that restates the whole case is no step's
        assert not any("30-second answer" in h for h in held), case.source


def test_missed_points_are_plain_text_grouped_under_their_passage() -> None:
    from sharpnotes.app.mock.grade import by_passage
    from sharpnotes.app.mock.plan import Passage, _points, plain_point

    data = (NOTES / "system-design" / "case-pedestrian-detection.md").read_text(encoding="utf-8")
    text = data.split("## Data\n", 1)[1].split("\n## ", 1)[0].strip()
    metrics = (
        "- **AP at IoU 0.5** for pedestrians; 0.5 rather than 0.7 because boxes are ambiguous."
    )
    data_passage = Passage("c1", "case.md", "Case > Data", None, text)
    metrics_passage = Passage("c2", "case.md", "Case > Metrics", None, metrics)
    points = _points([data_passage, metrics_passage])
    missed = [points[0], points[-1], *points[1:-1]]  # in any order
    groups = by_passage(missed)
    assert [(g[0].chunk_id, len(g[1])) for g in groups] == [("c1", 6), ("c2", 1)]
    fleet = groups[0][1][0]
    assert fleet.text.startswith("- **Fleet logs**: 200 vehicles")  # graded as written
    assert fleet.shown.startswith("Fleet logs: 200 vehicles x 8 h/day.")  # shown as text
    assert not any("*" in p.shown or p.shown.startswith("-") for p in missed)
    assert plain_point("1. `ONNX` export, see [TensorRT](trt.md); $h = f \\cdot H / Z$") == (
        "ONNX export, see TensorRT; $h = f \\cdot H / Z$"
    )
    assert plain_point("**Production v1**:\n\n- Backbone: ResNet-50") == (
        "Production v1: Backbone: ResNet-50"
    )


@pytest.mark.slow
def test_a_good_answer_scores_above_a_poor_one_and_missed_points_cite_the_case(
    env: Settings,
) -> None:
    from sharpnotes.app.mock.grade import grade_step
    from sharpnotes.app.mock.plan import plan_design
    from sharpnotes.app.retrieval import Searcher

    plan = plan_design(Searcher(env), 45, case="pedestrian")
    assert plan.source == "system-design/case-pedestrian-detection.md"
    assert plan.prompt.startswith("Design the pedestrian detection system")
    step = plan.steps[0]
    assert step.key == "clarify-requirements"
    assert {p.passage.heading.split(" > ")[-1] for p in step.points} == {
        "Requirements (what I'd ask and assume)"
    }
    good = grade_step(step, answer("mock-01-good"), env, offline=True)
    partial = grade_step(step, answer("mock-01-partial"), env, offline=True)
    poor = grade_step(step, answer("mock-01-poor"), env, offline=True)
    assert good.score > partial.score > poor.score  # type: ignore[operator]
    assert len(poor.missed) > len(good.missed)
    vru = [p for p in poor.missed if "Vulnerable road users" in p.text]
    assert vru and vru[0].passage.source == plan.source
    assert vru[0].text in vru[0].passage.text  # the point is quoted from its passage


@pytest.mark.slow
def test_cli_answers_file_json_history_and_cards(env: Settings, tmp_path: Path) -> None:
    from sharpnotes.app.quiz.store import open_store

    answers = tmp_path / "answers.json"
    answers.write_text(
        json.dumps(
            {
                "answers": {
                    "clarify-requirements": answer("mock-01-good"),
                    "Evaluation: offline and online": answer("mock-02-poor"),
                    "7": answer("mock-03-partial"),
                },
                "seconds": 1800,
            }
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["mock", "--case", "pedestrian", "--answers", str(answers), "--cards", "--json"]
    )
    assert result.exit_code == 0, result.output
    # the steps the file leaves out are named, not silently graded as empty
    assert "no answer for " in result.stderr and "graded as not answered" in result.stderr
    report = json.loads(result.stdout)
    assert isinstance(report, dict)
    assert report["kind"] == "design" and report["minutes"] == 45
    assert report["duration_s"] == 1800 and report["over_time"] is False
    keys = [s["key"] for s in report["steps"]]
    assert keys[0] == "clarify-requirements" and "serving" in keys and len(keys) == 9
    steps = {s["key"]: s for s in report["steps"]}
    assert steps["clarify-requirements"]["score"] > steps["serving"]["score"] > 0
    assert steps["model"]["answer"] == "" and steps["model"]["score"] == 0
    missed = steps["evaluation-offline-and-online"]["missed"]
    assert missed and {"text", "passage"} <= missed[0].keys()
    assert missed[0]["passage"]["source"] == "system-design/case-pedestrian-detection.md"
    assert 0 < report["score"] < 1
    # the missed points of the answered steps became cards, cited to their passages (a step
    # left blank was not asked: its points are the whole case, not what was missed)
    answered = [s for s in report["steps"] if s["answer"]]
    assert len(report["cards_added"]) == sum(len(s["missed"]) for s in answered)
    assert any(s["missed"] for s in report["steps"] if not s["answer"])
    with open_store(env) as store:
        cards = [store.get(i) for i in report["cards_added"]]
    assert all(c is not None and c.item.type == "recall" for c in cards)
    texts = {c.item.answer for c in cards if c}
    assert missed[0]["text"] in texts

    history = run("mock", "history", "--json")
    assert isinstance(history, dict)
    assert [s["id"] for s in history["sessions"]] == [report["id"]]
    assert history["sessions"][0]["score"] == report["score"]
    assert history["weeks"][0]["mocks"] == 1

    # a second run with the same answers adds no duplicate cards
    again = run("mock", "--case", "pedestrian", "--answers", str(answers), "--cards", "--json")
    assert isinstance(again, dict) and again["cards_added"] == []
    assert len(run("mock", "history", "--json")["sessions"]) == 2  # type: ignore[index]
    # a case is not silently dropped for the rapid round: the clash is named
    clash = run("mock", "--rapid", "2", "--case", "pedestrian", code=1)
    assert isinstance(clash, str) and "--rapid" in clash and "--case" in clash

    # a bad answers file: one line naming the file and the steps, nothing stored
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"no-such-step": "x"}), encoding="utf-8")
    out = run("mock", "--case", "pedestrian", "--answers", str(bad), "--json", code=1)
    assert "bad.json" in out and "clarify-requirements" in out  # type: ignore[operator]
    assert len(out.strip().splitlines()) == 1  # type: ignore[union-attr]
    # a file that is not there: the full path tried and where a relative one is read from
    out = run("mock", "--case", "pedestrian", "--answers", "no-such.json", "--json", code=1)
    assert str(Path.cwd() / "no-such.json") in out and "--questions" in out  # type: ignore[operator]
    assert len(run("mock", "history", "--json")["sessions"]) == 2  # type: ignore[index]
    # a case is not silently dropped for the rapid round: the clash is named
    clash = run("mock", "--rapid", "2", "--case", "pedestrian", code=1)
    assert isinstance(clash, str) and "--rapid" in clash and "--case" in clash


@pytest.mark.slow
def test_without_case_notes_the_error_says_how_to_write_one(
    tmp_path: Path, models_dir: Path
) -> None:
    notes = tmp_path / "notes"
    (notes / "system-design").mkdir(parents=True)
    shutil.copy(FRAMEWORK, notes / "system-design" / FRAMEWORK.name)  # a framework, no case
    assert ingest([notes], Settings(models_dir=models_dir)).ok  # SHARPNOTES_HOME: tmp_path
    for chosen in ([], ["--case", "pedestrian"]):  # a case of the day, or one by name
        out = run("mock", *chosen, "--questions", code=1)
        (line,) = str(out).strip().splitlines()
        assert "no case notes in the index (looked for notes named case-*, or tagged" in line
        assert f"write one as {notes}/case-NAME.md, then run: sharpnotes ingest {notes};" in line
        assert "sharpnotes mock --text 'Design ...'" in line
    # `mock cases` says so under the steps; its JSON is as before
    assert f"sharpnotes ingest {notes}" in str(run("mock", "cases"))
    assert run("mock", "cases", "--json")["cases"] == []  # type: ignore[index]

    # done as told: case notes written there, then the ingest it names
    cases = ["pedestrian-detection", "traffic-sign-detection", "video-recommendation"]
    for name in cases:
        shutil.copy(NOTES / "system-design" / f"case-{name}.md", notes / f"case-{name}.md")
    run("ingest", str(notes))
    assert len(run("mock", "cases", "--json")["cases"]) == 3  # type: ignore[index]
    # a case that is none of them, or two of them: the cases on one line, and what to run
    out = run("mock", "--case", "no-such-case", "--questions", code=1)
    (line,) = str(out).strip().splitlines()
    assert "no case note matches 'no-such-case'" in line
    assert all(f"case-{name}" in line for name in cases)
    assert "sharpnotes mock --case NAME" in line and "sharpnotes mock cases" in line
    out = run("mock", "--case", "detection", "--questions", code=1)
    (line,) = str(out).strip().splitlines()
    assert "'detection' matches 2 case notes" in line and "video-recommendation" not in line
    assert "sharpnotes mock --case case-pedestrian-detection" in line
    assert "Pedestrian Detection" in str(run("mock", "--case", "pedestrian", "--questions"))


@pytest.mark.slow
def test_cli_interactive_shows_the_time_left_at_each_prompt(env: Settings) -> None:
    out = run(
        "mock", "--case", "traffic-sign", "--minutes", "5",
        input=answer("mock-04-good").replace("\n", " ") + "\n\n",
    )  # fmt: skip
    assert isinstance(out, str)
    assert re.search(r"\[0[45]:\d\d left\] 1/9 Clarify requirements\n", out), out
    assert "Design a traffic sign recognition system" in out and "Score " in out
    # each step says what was covered, credited in part and missed, and quotes without markup
    counts = r"\nClarify requirements: \d+%, covered \d+(, partly \d+)?, missed \d+ of \d+\n"
    assert re.search(counts, out)
    report = out.split("Score ", 1)[1]
    assert "**" not in report
    # missed points under the passage that holds them, each passage named once a step
    for step in re.split(r"\n(?=\S)", report):
        headers = re.findall(r"^  missed, from \[(.+)\]:$", step, re.M)
        assert len(headers) == len(set(headers)), step
    assert "  missed, from [" in report
    sessions = run("mock", "history", "--json")["sessions"]  # type: ignore[index]
    assert [s["kind"] for s in sessions] == ["design"]


@pytest.mark.slow
def test_rapid_fire_round_json(env: Settings, tmp_path: Path) -> None:
    answers = tmp_path / "rapid.json"
    answers.write_text(json.dumps([answer("mock-12-good"), "no idea"]), encoding="utf-8")
    report = run("mock", "--rapid", "2", "--seed", "1", "--answers", str(answers), "--json")
    assert isinstance(report, dict) and report["kind"] == "rapid"
    assert len(report["steps"]) == 2 and report["minutes"] == 2
    assert report["duration_s"] == 0.0  # the file gave no time: untimed, not "00:00"
    text = run("mock", "--rapid", "2", "--seed", "1", "--answers", str(answers))
    assert isinstance(text, str) and " · untimed\n" in text
    history = run("mock", "history")
    assert isinstance(history, str) and "untimed/2 min" in history
    from sharpnotes.app.mock.sessions import took_of  # what the report and the Mock page show

    assert (took_of(0.0, 2), took_of(723.4, 45)) == ("untimed", "12:03 of 45 min")
    asked = [s["question"].split(" (", 1)[0] for s in report["steps"]]  # without "(its topic)"
    assert all(q.endswith(("?", ".")) for q in asked), asked
    assert report["steps"][1]["score"] is None or report["steps"][1]["score"] < 0.5
    # the questions first, with a template to fill: the same seed asks the same ones
    shown = run("mock", "--rapid", "2", "--seed", "1", "--questions", "--json")
    assert isinstance(shown, dict) and shown["seed"] == 1
    assert [s["question"] for s in shown["steps"]] == [s["question"] for s in report["steps"]]
    assert "points" not in shown["steps"][0]  # what it is graded on stays hidden
    assert list(shown["answers"]) == [s["key"] for s in report["steps"]]
    text = run("mock", "--rapid", "2", "--seed", "1", "--questions")
    first = shown["steps"][0]["question"]
    assert isinstance(text, str) and first in text and f"{first}: {first}" not in text
    assert "--seed 1 --answers FILE" in text
    assert len(run("mock", "history", "--json")["sessions"]) == 2  # type: ignore[index]
    # a case is not silently dropped for the rapid round: the clash is named
    clash = run("mock", "--rapid", "2", "--case", "pedestrian", code=1)
    assert isinstance(clash, str) and "--rapid" in clash and "--case" in clash
    # a missed point of one of the learner's own cards is that card, not a new copy of it
    from sharpnotes.app.quiz.store import open_store

    run("review", "--json")  # adds the notes' own cards to the store
    with open_store(env) as store:
        own = {(s.item.citation.chunk_id, s.item.answer) for s in store.items()}
    again = run("mock", "--rapid", "2", "--seed", "1", "--answers", str(answers), "--cards",
                "--json")  # fmt: skip
    assert isinstance(again, dict)
    missed = [p for s in again["steps"] if s["answer"] for p in s["missed"]]
    copies = [p for p in missed if any(c == p["passage"]["chunk_id"] and p["text"] in a
                                       for c, a in own)]  # fmt: skip
    assert copies, "the round asks an own card and the reply 'no idea' misses it"
    with open_store(env) as store:
        added = [store.get(i) for i in again["cards_added"]]
    assert not any(a is not None and a.item.answer in {p["text"] for p in copies} for a in added)


@pytest.mark.slow
def test_a_rapid_fire_card_is_graded_against_the_answer_written_beside_it(env: Settings) -> None:
    from sharpnotes.app.mock.grade import grade_step
    from sharpnotes.app.mock.rapid import plan_rapid
    from sharpnotes.app.retrieval import Searcher

    plan = plan_rapid(Searcher(env), 20, seed=1)
    more = next(s for s in plan.steps if s.question.startswith("Does adding more data always"))
    assert {p.passage.source for p in more.points} == {"fundamentals/bias-variance.md"}
    assert [p.text for p in more.points] == [  # the answer beside the question, clause by clause
        "If the model is bias-limited, more data of the same kind barely moves val error",
        "you need capacity or better features",
    ]  # ("It helps variance." states too little to be a point)
    assert all(p.text in p.passage.text for p in more.points)
    good = grade_step(more, "No: if the model is bias-limited, more data of the same kind "
                      "barely moves val error; you need more capacity or better features.", env,
                      offline=True)  # fmt: skip
    poor = grade_step(more, "Yes, more data always helps a model.", env, offline=True)
    assert good.score > poor.score  # type: ignore[operator]


@pytest.mark.slow
def test_mock_page_runs_a_short_mock_to_its_report(env: Settings) -> None:
    at = AppTest.from_file(MAIN, default_timeout=240).run()
    at.switch_page("views/mock.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="mock_case").set_value("Case: Pedestrian Detection for an Autonomous Vehicle")
    at.number_input(key="mock_minutes").set_value(0.05).run()
    at.button(key="mock_start").click().run()
    assert not at.exception, at.exception
    assert any("left" in m.value for m in at.markdown), "the countdown"
    assert at.text_area[0].label == "1. Clarify requirements"
    at.text_area(key="mock_answer_clarify-requirements").input(answer("mock-01-good"))
    at.button(key="mock_finish").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Score", "Time", "Missed points"} and int(metrics["Missed points"])
    assert at.expander[0].label.startswith("Clarify requirements: ")
    # each step's missed points under one header, each passage once with its points above it
    headers = [m.value for m in at.markdown if m.value.startswith("**Missed:** ")]
    assert headers
    missed = sum(int(h.split()[1]) for h in headers)
    cards = [b for b in at.button if str(b.key).startswith("mock-")]
    assert 0 < len(cards) < missed  # not once a point
    lines = [line for m in at.markdown for line in m.value.splitlines() if ":red[" in line]
    assert len(lines) == missed
    # plain text: the note's list markers and emphasis marks are not shown (escaped) as text
    assert not any(line.startswith(("- :red[\\-", "- :red[\\*")) for line in lines)
    assert not any("\\*" in line for line in lines)
    at.button(key="mock_cards").click().run()
    assert not at.exception, at.exception
    assert "new cards" in at.success[0].value
    assert at.dataframe, "the history table"
    at.button(key="mock_new").click().run()
    assert any(r.label == "Kind" for r in at.radio)


def test_a_card_for_a_missed_nested_bullet_names_what_it_sits_under() -> None:
    from sharpnotes.app.mock.grade import MockReport, StepResult
    from sharpnotes.app.mock.plan import Passage, Point
    from sharpnotes.app.mock.sessions import card_for

    text = "* Model choice\n  * GBDT\n    * cons: inefficient for continual training\n"
    passage = Passage("c1", "design/ads.md", "Ads > Model", None, text)
    nested = Point("* cons: inefficient for continual training", passage, ("Model choice", "GBDT"))
    plain = Point("* Model choice", passage)
    step = StepResult("model", "Model", "Which model?", "", 0.0, [], [nested, plain], "")
    report = MockReport(
        "r1", "design", "Ads ranking", "Design ads ranking", None, 0.0, 1.0, 45, 0.0
    )
    card = card_for(report, step, nested)
    # the label asks, its value is the answer: the question does not give it away
    assert (
        card.question
        == "Ads ranking · Model: what do your notes say on Model choice › GBDT › cons?"
    )
    assert card.answer == nested.text and card.evidence in passage.text  # the note's own words
    assert card_for(report, step, plain).question == (
        "Ads ranking · Model: how does your point “Model choice…” go on?"
    )
    latency = Point("- latency: < 50 ms for perception on the onboard GPU", passage)
    assert card_for(report, step, latency).question == (
        "Ads ranking · Model: what do your notes say on latency?"
    )
    url = Point("- see https://example.com/ads for the paper", passage)
    assert card_for(report, step, url).question.endswith(
        "Model: how does your point “see https://example.com/ads for the…” go on?"
    )
    # a section of another name than the step says where the point is
    other = Point("- latency: < 50 ms", Passage("c3", "design/ads.md", "Ads > Serving", None, "x"))
    assert card_for(report, step, other).question.startswith("Ads ranking · Model (Serving):")
    # a rapid round's point is the card's answer: its first words would give it away
    focal = Passage("c2", "fundamentals/focal-loss.md", "Focal loss", None, "x")
    answer = Point("Extreme foreground-background class imbalance in one-stage detectors", focal)
    asked = StepResult("q1", "Q1", "What problem does focal loss solve?", "", 0.0, [], [answer], "")
    rapid = MockReport("r2", "rapid", "Rapid", "", None, 0.0, 1.0, 8, 0.0)
    assert card_for(rapid, asked, answer).question == "What problem does focal loss solve?"
    nms = StepResult("q2", "Q2", "What does Soft-NMS change?", "", 0.0, [], [answer], "")
    assert card_for(rapid, nms, answer).question == "What does Soft-NMS change? (Focal loss)"


def test_chinese_step_words_name_english_steps_and_short_named_bullets_are_points() -> None:
    from sharpnotes.app.mock.plan import _stems, is_point

    # a case's "## 資料" or "## 部署與監控" under a framework written in English
    assert _stems("資料") & _stems("Data & labels")
    assert _stems("部署與監控") & _stems("Deployment") and _stems("部署與監控") & _stems(
        "Monitoring"
    )
    assert not _stems("模型") & _stems("Data & labels")
    # three terms are a point when one names something; three plain words are a fragment
    assert is_point("- INT8 on the ECU DSP")
    assert not is_point("- low band: allow")


@pytest.mark.slow
def test_a_template_note_numbered_as_a_list_is_found_as_the_framework(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes, home = tmp_path / "notes", tmp_path / "home"
    (notes / "fundamentals").mkdir(parents=True)
    shutil.copy(NOTES / "fundamentals" / "bias-variance.md", notes / "fundamentals")
    assert ingest([notes], Settings(home=home, models_dir=models_dir)).ok
    monkeypatch.setenv("SHARPNOTES_HOME", str(home))
    design = ("mock", "--text", "Design a pedestrian detector", "--questions", "--json")
    said = run(*design, code=1)
    assert "no framework note" in said and "tags: [framework]" in said  # what to do
    # an interview template as people write it: a numbered list, "template" in its name
    (notes / "mlsd-template.md").write_text(
        "# ML system design template\n\n1. Problem formulation\n    * Requirements\n\n"
        "2. Metrics\n    * Offline and online metrics\n\n3. Data\n    * Labels\n\n"
        "4. Model\n    * Baseline first\n",
        encoding="utf-8",
    )
    (notes / "note-template.md").write_text("# {{title}}\n\nTags:\n", encoding="utf-8")
    assert ingest([notes], Settings(home=home, models_dir=models_dir)).ok
    plan = run(*design)
    assert plan["framework"] == "mlsd-template.md"  # the note template of another kind passed over
    assert [s["title"] for s in plan["steps"]] == [
        "Problem formulation",
        "Metrics",
        "Data",
        "Model",
    ]


def test_a_case_note_whose_title_states_the_task_is_asked_that() -> None:
    """A case note with no prompt paragraph before its sections is asked what its title says,
    not "Design the system of case-traffic-light." nor a line from a later section."""
    note = (
        "---\ntags: [case-study]\n---\n"
        "# Case: design a traffic-light detection system for a self-driving car\n\n"
        "## 1. Clarify requirements\n\nDetect the light and its state at 150 m.\n"
    )
    assert case_prompt(note, "case-traffic-light") == (
        "Design a traffic-light detection system for a self-driving car."
    )
    stated = '# Pedestrians\n\n*"Design pedestrian detection for a robotaxi."*\n\n## 1. Scope\n'
    assert case_prompt(stated, "x") == "Design pedestrian detection for a robotaxi."
    assert case_prompt("# Notes\n\n## 1. Scope\n\nSome scope.\n", "Notes") == (
        "Design the system of Notes."
    )
    # an aside in brackets under the title is not the prompt; a title naming the system is
    aside = "# Case: design a driver drowsiness detection system\n\n(practiced twice)\n\n## Scope\n"
    assert case_prompt(aside, "x") == "Design a driver drowsiness detection system."
    named = "# Case: 3D object detection for a robotaxi\n\n- scope: urban, 360 deg\n"
    assert case_prompt(named, "case-robotaxi") == "Design 3D object detection for a robotaxi."


def planned(tmp_path: Path, settings: Settings, framework: str, name: str, case: str) -> MockPlan:
    """The design mock's plan of the case note ``name`` under ``framework``, both ingested."""
    from sharpnotes.app.mock.plan import plan_design
    from sharpnotes.app.retrieval import Searcher

    notes = write_notes(tmp_path / "notes", {"framework.md": framework, name: case})
    assert ingest([notes], settings).ok
    return plan_design(Searcher(settings), 45, case=Path(name).stem)


@pytest.mark.slow
def test_a_section_joining_two_steps_gives_each_step_its_points(
    tmp_path: Path, settings: Settings
) -> None:
    framework = (
        "---\ntags: [framework]\n---\n# How I run a design round\n\n"
        "1. Clarify requirements: users, scope, latency budget\n"
        "2. Model: a baseline first, then the loss and training\n"
        "3. Serving and deployment: hardware, latency, shadow mode\n"
        "4. Monitoring: drift, feedback loop, retraining\n"
    )
    case = (
        "---\ntags: [case-study]\n---\n# Case: design lane detection for lane keeping\n\n"
        "## Requirements\n- lanes out to 60 m on highways, in rain and at night\n"
        "- under 20 ms per frame on the car's accelerator\n\n"
        "## Model\n- a row-anchor lane head on a small backbone, trained with focal loss\n\n"
        "## Deployment & monitoring\n"
        "- export to TensorRT in INT8 and run in shadow mode before release\n"
        "- track the rate of frames where lanes vanish and alert on drift per camera\n"
    )
    plan = planned(tmp_path, settings, framework, "case-lane-keeping.md", case)
    # a listed step's title stops at its colon
    assert [s.key for s in plan.steps] == [
        "clarify-requirements",
        "model",
        "serving-and-deployment",
        "monitoring",
    ]
    points = {s.key: [p.text for p in s.points] for s in plan.steps}
    assert any("TensorRT" in t for t in points["serving-and-deployment"])
    assert any("drift" in t for t in points["monitoring"])
    every = [t for ts in points.values() for t in ts]
    assert len(every) == len(set(every))  # still no point graded under two steps


@pytest.mark.slow
def test_a_case_with_chinese_sections_under_an_english_framework(
    tmp_path: Path, settings: Settings
) -> None:
    """A newcomer's case headed 釐清需求 / 資料 / 模型 / 部署與監控 under a framework in English was
    graded on the framework's generic points: MiniLM reads the Chinese headings as noise."""
    framework = (
        "---\ntags: [framework]\n---\n# My framework\n\n"
        "## 1. Scope the problem\n- users, constraints, latency budget\n\n"
        "## 2. Data & labels\n- sources, labelling, splits by geography\n\n"
        "## 3. Model design\n- a baseline first, then the architecture\n\n"
        "## 4. Deployment\n- INT8 quantization and TensorRT\n- shadow mode, then a gated rollout\n"
        "- a fallback when the model is unsure\n\n"
        "## 5. Monitoring & iteration (data flywheel)\n"
        "- drift of input stats and per-region metrics\n"
        "- triggers send frames back to labelling, then retrain\n"
    )
    case = (
        "---\ntags: [case-study]\n---\n# Case: HD map 變化偵測\n\n"
        "## 釐清需求\n- 要偵測哪些變化：車道線、停止線、交通號誌、施工區\n\n"
        "## 資料\n- 每台車的 online map prediction 跟既有 HD map 比對\n"
        "- map team 確認過的 change tickets 當 labels\n\n"
        "## 模型\n- onboard 用 MapTR 預測 lane polylines，跟 prior map 算 Chamfer distance\n\n"
        "## 部署與監控\n- 上傳頻寬有限：只傳 candidate 片段\n- 每週看 false positive 的原因分類\n"
    )
    plan = planned(tmp_path, settings, framework, "case-hdmap.md", case)
    sources = {
        s.key: {p.passage.heading.rsplit(" > ", 1)[-1] for p in s.points} for s in plan.steps
    }
    assert sources["scope-the-problem"] == {"釐清需求"}
    assert sources["data-labels"] == {"資料"}  # not the step whose brackets say "data flywheel"
    assert sources["model-design"] == {"模型"}
    # the section both share gives each a bullet, though MiniLM fits both to Monitoring
    assert sources["deployment"] == {"部署與監控"} == sources["monitoring-iteration-data-flywheel"]


@pytest.mark.slow
def test_a_rapid_fire_round_asks_across_notes_and_reads_bold_question_cards(
    tmp_path: Path, settings: Settings
) -> None:
    """Six questions were all from the one note of "Q: ... A:" lines: a round takes one note's
    card in turn, and a note of bold questions over their answers gives cards too."""
    from sharpnotes.app.mock.rapid import rapid_questions
    from sharpnotes.app.retrieval import Searcher

    notes = tmp_path / "notes"
    notes.mkdir()
    lines = [
        (
            "Why can DETR skip NMS?",
            "Hungarian matching is one-to-one, so duplicates are penalised.",
        ),
        ("What does NMS do?", "It keeps the best box and drops the boxes that overlap it."),
        ("Why does focal loss help?", "It down-weights the easy negatives of dense detectors."),
        ("What is DETR's object query?", "A learned slot that decodes into one box or nothing."),
    ]
    (notes / "detection-qa.md").write_text(
        "# Detection Q&A\n\n" + "".join(f"Q: {q}\nA: {a}\n\n" for q, a in lines),
        encoding="utf-8",
    )
    (notes / "bias-variance.md").write_text(
        "# Bias and variance\n\n**What is high variance?**\n\nThe model overfits: low training "
        "error, much higher validation error.\n\n**How do you lower the bias of a model?**\n\n"
        "Use a bigger model or better features, and train for longer.\n",
        encoding="utf-8",
    )
    assert ingest([notes], settings).ok
    asked = rapid_questions(Searcher(settings), 4, seed=3)
    sources = [row.source for _, _, row in asked if row is not None]
    assert len(asked) == 4 and len(sources) == 4
    assert sources.count("bias-variance.md") == 2  # one of each note in turn, while both have some
    assert {q for q, _, _ in asked} >= {
        "What is high variance?",
        "How do you lower the bias of a model?",
    }


@pytest.mark.slow
def test_a_case_written_as_prose_is_graded_on_its_own_paragraphs(
    tmp_path: Path, settings: Settings
) -> None:
    """A case note of paragraphs without sections was graded against another note's case, and
    its prompt was its own first paragraph (the answer to step 1): each paragraph is now a
    section called by its first words, and the title states the task."""
    from sharpnotes.app.mock.plan import plan_design
    from sharpnotes.app.retrieval import Searcher

    notes = tmp_path / "notes"
    (notes / "system-design").mkdir(parents=True)
    shutil.copy(FRAMEWORK, notes / "system-design")
    (notes / "system-design" / "case-lanes.md").write_text(
        "---\ntags: [case-study]\n---\n# Case: design lane detection for a highway autopilot\n\n"
        "The goal is the ego lane and its neighbours as polylines up to 120 m ahead at 20 Hz; "
        "I would clarify the domain first: highways only, day and night, a 50 ms budget.\n\n"
        "For metrics, I would measure lane-level F1 with a 0.5 m lateral threshold offline, and "
        "disengagements per 1000 km caused by lane errors online.\n\n"
        "The data comes from fleet front cameras, auto-labelled offline by aggregating "
        "predictions over time in 3D, with humans fixing low-confidence clips.\n",
        encoding="utf-8",
    )
    shutil.copy(NOTES / "fundamentals" / "bias-variance.md", notes)
    assert ingest([notes], settings).ok
    plan = plan_design(Searcher(settings), 45, case="lanes")
    assert plan.prompt == "Design lane detection for a highway autopilot."
    # each step on the case's own paragraphs, or, where the case says nothing on it, on what
    # the framework note says the step asks for (if anything); never on another note
    case, framework = "system-design/case-lanes.md", f"system-design/{FRAMEWORK.name}"
    by_step = [{p.passage.source for p in s.points} for s in plan.steps]
    assert all(sources in ({case}, {framework}, set()) for sources in by_step), by_step
    assert {framework} in by_step
    assert sum(sources == {case} for sources in by_step) >= 3, by_step
    steps = {s.key: [p.text for p in s.points] for s in plan.steps}
    assert any("lane-level F1" in t for t in steps["evaluation-offline-and-online"])
    assert any("auto-labelled" in t for t in steps["data"])


@pytest.mark.slow
def test_a_case_of_flat_bullets_grades_every_bullet_and_credits_it_under_any_step(
    tmp_path: Path, settings: Settings
) -> None:
    """A case note written as one flat list: each top-level bullet was its own section, its
    nested pro/con bullets were sections too ("con: 2 models" graded as a requirement), and a
    step kept only one of the bullets it fitted, so most of the case was never graded. Now a
    bullet goes to the step it fits best with the items under it, every bullet is graded, and
    a point said under another step than the planner's is not named as missed there."""
    from sharpnotes.app.mock.grade import grade_mock
    from sharpnotes.app.mock.plan import plan_design
    from sharpnotes.app.retrieval import Searcher

    notes = tmp_path / "notes"
    (notes / "system-design").mkdir(parents=True)
    shutil.copy(FRAMEWORK, notes / "system-design")
    bullets = [
        "- goal: detect and classify traffic signs (stop, yield, speed limits) for a robotaxi",
        "- signs are small objects at distance -> need high-res input or tiling, and an FPN",
        "- two-stage pipeline: a sign detector, then a fine-grained classifier on each crop",
        "  - pro: the classifier can be retrained alone when new sign types appear",
        "  - con: two models, so more latency on the car",
        "- long tail: rare country-specific signs -> synthetic data, copy-paste augmentation",
        "- metrics: per-class recall, stop signs first; confusing speed limits 30 vs 80 is bad",
        "- temporal consistency: vote over several frames before the planner acts on a sign",
    ]
    (notes / "system-design" / "case-signs.md").write_text(
        "---\ntags: [case-study]\n---\n# Case: design traffic sign detection\n\n"
        + "\n".join(bullets)
        + "\n",
        encoding="utf-8",
    )
    assert ingest([notes], settings).ok
    plan = plan_design(Searcher(settings), 45, case="signs")
    graded = [p.text for s in plan.steps for p in s.points if p.passage.source.endswith("signs.md")]
    # every bullet is a key point of exactly one step
    assert sorted(graded) == sorted(b.strip() for b in bullets), graded
    home = {p.text: s.key for s in plan.steps for p in s.points}
    # a nested pro or con goes with the bullet it sits under
    assert home[bullets[3].strip()] == home[bullets[4].strip()] == home[bullets[2].strip()]
    # the whole case said as one answer under another step than where "temporal" went
    where = home[bullets[7].strip()]
    other = next(s.key for s in plan.steps if s.key != where)
    said = "We vote over several frames before the planner acts on a sign: temporal consistency."
    report = grade_mock(plan, {other: said}, settings, 0.0, 60.0)
    step = next(r for r in report.steps if r.key == where)
    # not named as missed (no card of it), shown as partly covered, and no credit for a step
    # whose own answer (here none) did not say it
    assert bullets[7].strip() in [p.text for p in step.unsure]
    assert bullets[7].strip() not in [p.text for p in step.missed + step.covered]
    assert step.score == 0.0
