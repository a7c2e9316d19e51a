"""Embedding backends with the real bundled model: quality against st-fp32, token counts against
the model's tokenizer, the torch-free query path, the cached "auto" choice and the fallback."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sharpnotes.ingest import embedding, machine, onnx_export
from sharpnotes.ingest.embedders import POOLING_MODES, Embedder, EmbeddingModelError, pool
from sharpnotes.ingest.embedding import load_embedder, resolve_model
from sharpnotes.ingest.settings import DEFAULT_MODEL, Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["st-fp32", "st-bf16", "onnx-fp32", "onnx-int8"]
SENTENCES = [
    "Mitochondria produce most of the cell's ATP through oxidative phosphorylation.",
    "The French Revolution began in 1789 with the storming of the Bastille.",
    "Gradient descent updates the weights against the gradient of the loss.",
    "Café crème, naïve résumé: accents and ünïcödé survive tokenisation.",
    "short",
    " ".join(["Dropout randomly zeroes activations during training to reduce overfitting."] * 40),
]
QUERY = "Which organelle makes ATP for the cell?"


def settings_for(home: Path, **overrides: object) -> Settings:
    # Module fixtures start before conftest's function-scoped environment cleanup: be explicit.
    defaults = {"home": home, "models_dir": home / "models", "embed_model": DEFAULT_MODEL}
    return Settings(**(defaults | {"threads": 0} | overrides))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def embedders(home: Path) -> dict[str, Embedder]:
    return {
        backend: load_embedder(settings_for(home, embed_backend=backend), "ingest")
        for backend in BACKENDS
    }


@pytest.fixture(scope="module")
def reference(embedders: dict[str, Embedder]) -> np.ndarray:
    return embedders["st-fp32"].embed(SENTENCES)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_gives_normalised_vectors_close_to_fp32(embedders, reference, backend):
    embedder = embedders[backend]
    vectors = embedder.embed(SENTENCES, batch_size=4)

    assert embedder.backend == backend  # no silent fallback for the bundled model
    assert (embedder.model_id, embedder.dim, embedder.max_tokens) == (DEFAULT_MODEL, 384, 256)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors * reference).sum(1).min() >= 0.99
    assert embedder.embed([]).shape == (0, 384)


@pytest.mark.parametrize("backend", BACKENDS)
def test_query_is_closest_to_its_matching_sentence(embedders, backend):
    embedder = embedders[backend]
    query, sentences = embedder.embed([QUERY]), embedder.embed(SENTENCES)
    scores = (sentences @ query.T).ravel()
    assert scores.argmax() == 0
    assert scores[0] > scores[1] + 0.2


def test_onnx_batches_pad_little_and_give_the_vectors_of_single_texts(embedders):
    """A short sentence is not padded to a long one's length (an answer scores both kinds);
    batching does not change a vector."""
    from sharpnotes.ingest.embedders import PAD_RATIO

    embedder = embedders["onnx-fp32"]
    texts = [SENTENCES[-1], *SENTENCES[:5], " ".join(SENTENCES[:3])]
    batches = [[len(e.ids) for e in encodings] for _, encodings in embedder._batches(texts, 32)]

    assert sorted(n for batch in batches for n in batch) == sorted(
        len(e.ids) for e in embedder._tokenizer.encode_batch(texts)
    )
    assert len(batches) > 1
    assert all(min(batch) >= PAD_RATIO * max(batch) for batch in batches)
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed([text])[0] for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_count_tokens_matches_the_tokenizer_without_truncation(embedders, backend):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model(DEFAULT_MODEL)[1]))
    expected = [len(ids) for ids in tokenizer(SENTENCES, add_special_tokens=False)["input_ids"]]

    assert embedders[backend].count_tokens(SENTENCES) == expected
    assert expected[-1] > 256  # the long sentence is counted whole


@pytest.mark.parametrize("mode", sorted(POOLING_MODES))
def test_onnx_pooling_matches_sentence_transformers(mode):
    import torch

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling
    hidden = np.random.default_rng(0).normal(size=(3, 7, 8)).astype(np.float32)
    mask = np.array([[1] * 7, [1] * 4 + [0] * 3, [1] + [0] * 6])
    features = {
        "token_embeddings": torch.from_numpy(hidden),
        "attention_mask": torch.from_numpy(mask),
    }
    expected = Pooling(8, pooling_mode=mode)(features)["sentence_embedding"].numpy()

    np.testing.assert_allclose(pool(hidden, mask, mode), expected, rtol=1e-5, atol=1e-6)


def test_resolve_model_finds_the_bundled_model_and_folders(tmp_path):
    model_id, folder = resolve_model("all-MiniLM-L6-v2")
    assert model_id == DEFAULT_MODEL and (folder / "modules.json").exists()
    assert resolve_model(DEFAULT_MODEL) == (model_id, folder)
    assert resolve_model(str(folder)) == (str(folder.resolve()), folder.resolve())


def test_resolve_model_says_what_to_do_for_an_unknown_model():
    with pytest.raises(EmbeddingModelError, match="SHARPNOTES_EMBED_MODEL") as error:
        resolve_model("no-such-org/no-such-model-0451")
    assert "\n" not in str(error.value)


def test_importing_the_module_loads_no_ml_library():
    code = (
        "import sys, ingest.embedding; "
        "heavy = {'torch', 'transformers', 'sentence_transformers', 'onnxruntime'}; "
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_query_path_uses_the_cached_export_without_torch(embedders, home, reference):
    code = f"""
import json, sys
from sharpnotes.ingest.embedding import load_embedder
from sharpnotes.ingest.settings import Settings
settings = Settings(
    home={str(home)!r}, models_dir={str(home / "models")!r}, embed_model={DEFAULT_MODEL!r},
    embed_backend="auto",
)
embedder = load_embedder(settings, "query")
vectors = embedder.embed({SENTENCES!r})
assert embedder.backend == "onnx-fp32", embedder.backend
for name in ("torch", "transformers", "sentence_transformers"):
    assert name not in sys.modules, name
print(json.dumps(vectors.tolist()))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    vectors = np.array(json.loads(done.stdout))
    assert (vectors * reference).sum(1).min() >= 0.999  # compatible with ingest vectors


def test_auto_choice_is_measured_once_then_read_from_the_cache(embedders, home):
    settings = settings_for(home, embed_backend="auto")
    chosen = load_embedder(settings, "ingest")
    cache = home / "models" / "auto_backend.json"
    decisions = json.loads(cache.read_text())
    (key, decision), *others = decisions.items()

    assert not others and machine.cpu_model() in key and DEFAULT_MODEL in key
    assert decision["backend"] == chosen.backend
    assert set(decision["measured"]) == set(embedding.plausible_backends())
    assert decision["measured"][chosen.backend]["min_cosine"] >= embedding.MIN_COSINE

    # Record another backend: a second load that measured again would not return it.
    decision["backend"] = "onnx-fp32" if chosen.backend != "onnx-fp32" else "st-fp32"
    cache.write_text(json.dumps(decisions))
    assert load_embedder(settings, "ingest") is chosen  # loaded once per process
    embedding.forget_loaded()
    assert load_embedder(settings, "ingest").backend == decision["backend"]
    assert json.loads(cache.read_text()) == decisions


def test_a_second_home_reuses_the_machine_calibration(
    embedders, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export and the "auto" choice live in the user cache folder, shared by every index
    home: the first ingest on the machine measures, an ingest into another home only reads."""
    from click.testing import CliRunner

    from conftest import write_notes
    from sharpnotes.app.cli import cli

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SHARPNOTES_MODELS_DIR")
    shared = tmp_path / "cache" / "sharpnotes" / "models"
    shared.mkdir(parents=True)
    (shared / "onnx").symlink_to(home / "models" / "onnx")  # this module's export, not made again
    first, second = Settings(home=tmp_path / "a"), Settings(home=tmp_path / "b")
    assert first.model_cache == second.model_cache == shared
    assert embedding.backend_choice(second) is None

    embedding.forget_loaded()
    chosen = load_embedder(first, "ingest")
    recorded = (shared / embedding.CHOICES_FILE).read_text()
    assert (embedding.backend_choice(second) or {}).get("backend") == chosen.backend

    embedding.forget_loaded()  # as a new process would
    monkeypatch.setattr(embedding, "calibrate", lambda *a, **k: pytest.fail("measured again"))
    monkeypatch.setenv("SHARPNOTES_HOME", str(second.paths.home))
    notes = write_notes(tmp_path / "notes", {"a.md": "# Anchors\n\nAnchors are reference boxes.\n"})
    result = CliRunner().invoke(cli, ["ingest", str(notes)])
    assert result.exit_code == 0, result.output
    status = json.loads(CliRunner().invoke(cli, ["status", "--json"]).output)
    assert status["embed_backend"] == status["backend_choice"]["backend"] == chosen.backend
    assert machine.cpu_model() in status["backend_choice"]["why"]
    assert (shared / embedding.CHOICES_FILE).read_text() == recorded


def test_calibration_times_once_more_only_within_its_budget(embedders, home: Path) -> None:
    settings = settings_for(home)
    model_id, folder = resolve_model(DEFAULT_MODEL)
    threads = machine.thread_count(settings)

    _, decision = embedding.calibrate(settings, model_id, folder, threads, budget_s=0)

    assert set(decision["measured"]) == set(embedding.plausible_backends())
    assert {m["rounds"] for m in decision["measured"].values()} == {1}
    assert decision["backend"] in decision["measured"] and decision["why"]


def test_a_model_onnx_cannot_reproduce_falls_back_to_sentence_transformers(home, tmp_path, caplog):
    # The bundled model with a pooling mode the ONNX path does not implement: another model.
    bundled = resolve_model(DEFAULT_MODEL)[1]
    for path in bundled.rglob("*"):
        if path.is_file():
            (tmp_path / path.relative_to(bundled)).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path.relative_to(bundled)).symlink_to(path)
    pooling = tmp_path / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text()) | {
        "pooling_mode_mean_tokens": False,
        "pooling_mode_weightedmean_tokens": True,
    }
    pooling.unlink()
    pooling.write_text(json.dumps(config))
    settings = settings_for(home, embed_model=str(tmp_path), embed_backend="onnx-int8")

    with caplog.at_level(logging.WARNING, logger="sharpnotes.ingest.embedding"):
        embedder = load_embedder(settings, "ingest")

    assert embedder.backend == "st-fp32" and embedder.model_id == str(tmp_path.resolve())
    assert "weightedmean" in caplog.text
    assert onnx_export.model_fingerprint(tmp_path) != onnx_export.model_fingerprint(bundled)
    assert embedder.embed(SENTENCES[:2]).shape == (2, 384)
