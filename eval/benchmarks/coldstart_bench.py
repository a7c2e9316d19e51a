"""Cold start: ``sharpnotes --help``, ``search`` and ``ask`` each from a new process, timed in one
run (interleaved, so they share the machine's load), and the app's first answer after its page
is up.

Two series, interleaved: "warm", the default, where the first query started the warm query
process (``sharpnotes.app.warm``) and later commands are answered by it; and "cold", with it
switched off (``SHARPNOTES_WARM_MINUTES=0``), where every command loads the index itself. Each run
asks a question not asked before, so no cached vector helps.

    python -m sharpnotes.eval.benchmarks.coldstart_bench [--home HOME | --notes notes]
        [--runs 5] [--app-runs 5] [--no-app] [--out eval/benchmarks/results/coldstart.json]

Goals (issue 21): ``search`` within 3x and ``ask`` within 4x the time of ``--help``; the first app
answer within 2 s of the page being up (the chat box ready in headless Chromium). The operating
system's file cache is warm after the first run: "cold" is a new Python process, as a user's
second command is. Without ``--home`` the sample notes are ingested into a temporary home first.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sharpnotes.eval.benchmarks.paths import REPO, RESULTS, machine

QUERY = "Why does DETR not need non-maximum suppression?"
QUESTIONS = [
    "What is focal loss for?",
    "How does the Hungarian matching loss work?",
    "When should I use layer norm instead of batch norm?",
    "Why do vision transformers need so much data?",
    "What does deformable attention sample?",
    "How is a BEV feature map built from cameras?",
    "What is the trade-off between bias and variance?",
    "How does CLIP train its image and text encoders?",
    "Which metrics evaluate a pedestrian detector?",
    "What causes exploding gradients in RNNs?",
    "How do anchor boxes work in Faster R-CNN?",
    "Why is mixed precision training faster?",
]


def commands(question: str) -> dict[str, list[str]]:
    return {
        "help": ["--help"],
        "search": ["search", question, "--json"],
        "ask": ["ask", question, "--json"],
    }


GOALS = {"search": 3.0, "ask": 4.0}
APP_GOAL_S = 2.0
# how often the browser is looked at for the page and the answer: Selenium's default (0.5 s)
# added up to half a second to every measured answer (it did before 2026-12-06)
POLL_S = 0.05


def cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "sharpnotes.app.cli", *args]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO)
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-400:]}")
    return took


def time_cli(env: dict[str, str], runs: int) -> dict[str, dict[str, list[float]]]:
    """{"warm" | "cold": {command: seconds per run}}, the two series interleaved."""
    from sharpnotes.app import warm
    from sharpnotes.ingest.settings import Settings

    series = {
        "warm": env | {"SHARPNOTES_WARM_MINUTES": "30"},
        "cold": env | {"SHARPNOTES_WARM_MINUTES": "0"},
    }
    settings = Settings(home=Path(env["SHARPNOTES_HOME"]), warm_minutes=30)
    # the first command pays for the disk cache and the export, and starts the warm process
    timed(cli(commands(QUERY)["search"]), series["warm"])
    deadline = time.monotonic() + 300
    while not warm.socket_path(settings).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    times: dict[str, dict[str, list[float]]] = {kind: {} for kind in series}
    try:
        for run in range(runs):
            for kind, kind_env in series.items():
                question = QUESTIONS[(2 * run + (kind == "cold")) % len(QUESTIONS)]
                for name, args in commands(question).items():
                    took = round(timed(cli(args), kind_env), 3)
                    times[kind].setdefault(name, []).append(took)
    finally:
        warm.stop(settings)
    return times


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_peak_rss_mib(session: int) -> float:
    """The summed resident-set high-water marks (VmHWM) of the live processes of a session: the
    app and anything it started."""
    from sharpnotes.eval.benchmarks.scale_bench import vmhwm_mib

    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:  # after the name: state, ppid, pgrp, session
            owner = int(stat.read_text().rsplit(")", 1)[1].split()[3])
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
        if owner == session:
            total += vmhwm_mib(stat.parent.name) or 0.0  # 0: ended meanwhile
    return round(total, 1)


def time_app(env: dict[str, str], runs: int) -> dict:
    """Seconds from the chat box being ready (page up) to the first answer shown, for a question
    typed at once: the index and model load in the background while the page draws."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    results = []
    for _ in range(runs):
        port = _free_port()
        proc = subprocess.Popen(
            cli(["app", "--port", str(port)]),
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            started = time.perf_counter()
            url = f"http://127.0.0.1:{port}"
            while True:
                try:
                    urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                    break
                except OSError:
                    if time.perf_counter() - started > 120:
                        raise SystemExit("the app did not start within 120 s") from None
                    time.sleep(0.1)
            server_up = time.perf_counter() - started
            driver.get(url + "/chat")
            box = WebDriverWait(driver, 120, poll_frequency=POLL_S).until(
                ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"))
            )
            page_up = time.perf_counter()
            box.send_keys(QUESTIONS[-1 - len(results)])
            asked = time.perf_counter()
            box.send_keys(Keys.ENTER)
            WebDriverWait(driver, 120, poll_frequency=POLL_S).until(
                ec.visibility_of_element_located(  # an answer, or "my notes don't cover this"
                    (By.CSS_SELECTOR, "[class*='st-key-sn-answer'], [class*='st-key-sn-refused']")
                )
            )
            answered = time.perf_counter()
            results.append(
                {
                    "server_up_s": round(server_up, 3),
                    "page_up_s": round(page_up - started, 3),
                    "first_answer_after_page_s": round(answered - page_up, 3),
                    "typing_s": round(asked - page_up, 3),  # the question typed, then Enter
                    "peak_rss_mib": session_peak_rss_mib(proc.pid),  # after its first answer
                }
            )
        finally:
            driver.quit()
            os.killpg(proc.pid, 15)
            proc.wait(30)
    return {
        "runs": results,
        "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
        "median_first_answer_after_page_s": statistics.median(
            r["first_answer_after_page_s"] for r in results
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="An index home (default: a new one).")
    parser.add_argument("--notes", type=Path, default=REPO / "notes", help="Notes to ingest.")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-app", action="store_true", help="Skip the browser measurement.")
    parser.add_argument("--app-runs", type=int, default=5, help="App launches (one answer each).")
    parser.add_argument("--out", type=Path, default=RESULTS / "coldstart.json")
    args = parser.parse_args(argv)

    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARPNOTES_")}
    env.update(SHARPNOTES_CONFIG="none", SHARPNOTES_LIVE_SYNC="0")
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "home"
        env["SHARPNOTES_HOME"] = str(home)
        if args.home is None:
            subprocess.run(cli(["ingest", str(args.notes)]), env=env, check=True, cwd=REPO)
        env["SHARPNOTES_NOTES_DIR"] = str(args.notes.resolve())
        times = time_cli(env, args.runs)
        median = {
            kind: {name: statistics.median(values) for name, values in series.items()}
            for kind, series in times.items()
        }
        ratios = {
            kind: {name: round(m[name] / m["help"], 2) for name in GOALS}
            for kind, m in median.items()
        }
        app = None if args.no_app else time_app(env, max(1, args.app_runs))
    result = {
        "machine": machine(),
        "command": " ".join(
            ["python -m sharpnotes.eval.benchmarks.coldstart_bench", *sys.argv[1:]]
        ),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {
            "home": "temporary" if args.home is None else str(args.home),
            "notes": str(args.notes),
            "questions": QUESTIONS,
            "runs": args.runs,
            "app_runs": 0 if args.no_app else args.app_runs,
        },
        "seconds": times,
        "median_s": {k: {n: round(v, 3) for n, v in m.items()} for k, m in median.items()},
        "ratio_to_help": ratios,
        "goals": {
            **{
                f"{name}_within_{goal:g}x_help": ratios["warm"][name] <= goal
                for name, goal in GOALS.items()
            },
            **{
                f"cold_{name}_within_{goal:g}x_help": ratios["cold"][name] <= goal
                for name, goal in GOALS.items()
            },
            **(
                {
                    "app_first_answer_within_2s": app["median_first_answer_after_page_s"]
                    <= APP_GOAL_S
                }
                if app
                else {}
            ),
        },
        "app": app,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("median_s", "ratio_to_help", "goals")}, indent=2))
    if app:
        print(f"app: first answer {app['median_first_answer_after_page_s']:.2f} s after the page")


if __name__ == "__main__":
    main()
