"""The command line end to end: the --json contracts, batch search, status, errors, start-up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import write_notes
from sharpnotes.app.cli import cli

RESULT_KEYS = {"rank", "score", "chunk_id", "source", "heading", "page", "text"}


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    notes = write_notes(tmp_path / "notes")
    result = CliRunner().invoke(cli, ["ingest", str(notes)])
    assert result.exit_code == 0, result.output
    assert "5 added" in result.output and "0 failed" in result.output
    return notes


@pytest.mark.slow
def test_search_json_contract(indexed: Path) -> None:
    result = CliRunner().invoke(
        cli, ["search", "Hungarian matching one-to-one", "--json", "--k", "3"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 3 and all(set(r) >= RESULT_KEYS for r in rows)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert rows[0]["source"] == "detection/detr.md"
    assert rows[0]["heading"] == "DETR > Hungarian matching"
    assert rows[0]["page"] is None and isinstance(rows[0]["score"], float)
    assert rows[0]["score"] >= rows[1]["score"] >= rows[2]["score"]


@pytest.mark.slow
def test_search_filters_and_human_output(indexed: Path) -> None:
    runner = CliRunner()
    rows = json.loads(
        runner.invoke(cli, ["search", "attention", "--folder", "detection", "--json"]).output
    )
    assert rows and all(r["source"].startswith("detection/") for r in rows)
    rows = json.loads(runner.invoke(cli, ["search", "attention", "--tag", "bev", "--json"]).output)
    assert {r["source"] for r in rows} == {"inbox/bev-mixed.md"}
    human = runner.invoke(cli, ["search", "bias variance underfit"])
    assert human.exit_code == 0 and "fundamentals/bias-variance.md" in human.output
    # a folder or tag that no note has is a typo, said as one (not "my notes don't cover this")
    for args in (
        ["search", "attention", "--folder", "Detection"],
        ["ask", "What is DETR?", "--tag", "no-such-tag"],
        ["quiz", "--topic", "DETR", "--tag", "no-such-tag"],
    ):
        wrong = runner.invoke(cli, args)
        assert wrong.exit_code == 1 and "no indexed note matches --" in wrong.output, args
    assert "detection" in runner.invoke(cli, ["search", "x", "--folder", "Detection"]).output


@pytest.mark.slow
def test_batch_search_jsonl_and_plain(indexed: Path, tmp_path: Path) -> None:
    beir = tmp_path / "queries.jsonl"
    beir.write_text(
        '{"_id": "q1", "text": "deformable attention"}\n{"id": "q2", "text": "鳥瞰圖"}\n'
    )
    result = CliRunner().invoke(cli, ["search", "--batch", str(beir), "--json", "--k", "2"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2"]
    assert rows[0]["query"] == "deformable attention"
    assert rows[0]["results"][0]["source"] == "detection/deformable-detr.md"
    assert all(set(x) >= RESULT_KEYS for r in rows for x in r["results"])
    plain = tmp_path / "queries.txt"
    plain.write_text("bias variance\n\nBEVFormer\n")
    rows = [
        json.loads(x)
        for x in CliRunner()
        .invoke(cli, ["search", "--batch", str(plain), "--json"])
        .output.splitlines()
    ]
    assert [r["id"] for r in rows] == ["1", "3"]


@pytest.mark.slow
def test_status_json(indexed: Path) -> None:
    info = json.loads(CliRunner().invoke(cli, ["status", "--json"]).output)
    assert info["files"] == 5 and info["chunks"] >= 6
    assert info["roots"] == [str(indexed.resolve())]
    assert info["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert info["last_sync"]
    # these notes hold Chinese: every chunk has a multilingual vector, and status says so, with
    # how many are written in Chinese (read for English questions too)
    said = re.fullmatch(
        rf"{info['chunks']} chunks, (\d+) of them in Chinese \(read for questions in "
        r"either language\)",
        info["multilingual"],
    )
    assert said and 1 <= int(said.group(1)) < info["chunks"]


@pytest.mark.slow
def test_ingest_exit_status_names_skipped_files(indexed: Path) -> None:
    (indexed / "broken.md").write_bytes(b"\x00\x00binary")
    result = CliRunner().invoke(cli, ["ingest", str(indexed)])
    assert result.exit_code == 3
    assert "skipped broken.md: binary content" in result.output


def test_errors_are_one_line_and_say_what_to_run(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "anything"])
    assert result.exit_code == 1
    assert "run: sharpnotes ingest" in result.output
    result = runner.invoke(cli, ["ingest", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "no such file or folder" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys; from app.cli import cli; "
        "heavy = ('torch', 'sentence_transformers', 'chromadb', 'llama_index', 'transformers'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_console_script_search_in_a_fresh_process(indexed: Path) -> None:
    env = dict(os.environ)
    exe = Path(sys.executable).with_name("sharpnotes")
    out = subprocess.run(
        [str(exe), "search", "regularisation bias", "--json", "--k", "1"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert json.loads(out.stdout)[0]["source"] == "fundamentals/bias-variance.md"
