"""The embedding backends behind one ``Embedder`` interface: sentence-transformers in fp32 or bf16
("st-*"), and an ONNX export of the same model run by onnxruntime in fp32 or dynamic int8
("onnx-*", torch-free). ``ingest.embedding`` chooses and loads them; ``ingest.onnx_export`` makes
the exports."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

POOLING_MODES = {"cls", "mean", "max", "mean_sqrt_len_tokens", "lasttoken"}

Backend = Literal["st-fp32", "st-bf16", "onnx-fp32", "onnx-int8"]
# Word pieces in one onnxruntime batch, padding included (8 chunks of 256, or 64 sentences of 32).
# onnxruntime's arena keeps the activations of the largest batch it ran, so a cap on tokens caps
# the memory an ingest holds (the figures behind this value are not in eval/benchmarks yet).
BATCH_TOKENS = 2048
# a batch ends before a text shorter than this share of its longest: padding a 20-token sentence
# to 120 costs six times its own work (and attention more), which dominated an answer's scoring
PAD_RATIO = 0.5

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
    pooling: str  # sentence-transformers' pooling mode of the model ("mean" for MiniLM)

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(len(texts), dim) float32 with L2-normalised rows."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without special tokens and without truncation."""
        ...

    def token_states(
        self, texts: Sequence[str], batch_size: int = 32
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """For each text, in the order the batches run: its index, the model's last hidden
        states of its tokens ((n, dim) float32, special tokens included, truncated as ``embed``
        truncates) and each token's character offsets in the text ((n, 2); (0, 0) for a special
        token). Mean-pooling all of a text's states gives its ``embed`` vector."""
        ...


def calibration_texts() -> list[str]:
    """A fixed set of 16 texts of 12-200 words (about 16-256 word pieces), like note chunks."""
    lengths = (200, 160, 128, 96, 64, 40, 24, 12)
    return [" ".join((_WORDS * 2)[(i * 37) % len(_WORDS) :][:n]) for i, n in enumerate(lengths * 2)]


# --- sentence-transformers -----------------------------------------------------------------------


class SentenceTransformerEmbedder:
    """sentence-transformers' own `encode`, in fp32 or bf16 weights."""

    def __init__(self, model_id: str, folder: Path, backend: Backend, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.model_id, self.backend = model_id, str(backend)  # the protocol's plain str
        self._model = load_sentence_transformer(folder, bf16=backend == "st-bf16")
        self.dim = st_dimension(self._model)
        self.max_tokens = int(self._model.max_seq_length)
        self.pooling = st_pooling(self._model)

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

    def token_states(
        self, texts: Sequence[str], batch_size: int = 32
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        texts = list(texts)
        offsets = self._model.tokenizer(
            texts, truncation=True, max_length=self.max_tokens, return_offsets_mapping=True
        )["offset_mapping"]
        states = self._model.encode(
            texts, batch_size=batch_size, output_value="token_embeddings", show_progress_bar=False
        )
        for i, (hidden, spans) in enumerate(zip(states, offsets, strict=True)):
            yield i, hidden.float().numpy(), np.asarray(spans, np.int64).reshape(-1, 2)


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


def st_pooling(model: Any) -> str:
    """The pooling mode of a Transformer -> Pooling model ("mean", "cls"...); "" if another kind."""
    pooling = model[1] if len(model) > 1 else None
    mode = getattr(pooling, "pooling_mode", None)  # sentence-transformers >= 6
    older = getattr(pooling, "get_pooling_mode_str", None)  # 3-5
    if mode is None and older is not None:
        mode = older()
    return str(mode or "")


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
        self.model_id, self.backend = model_id, str(backend)  # the protocol's plain str
        self.dim, self.max_tokens = meta["dim"], meta["max_seq_length"]
        self.pooling, self._pad_id, self._inputs = meta["pooling"], meta["pad_id"], meta["inputs"]
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
        self._export_dir = export_dir
        self._counter: Any = None  # an untruncated copy, loaded by the first count (ingest)

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        vectors = np.empty((len(texts), self.dim), np.float32)
        for rows, encodings in self._batches(texts, batch_size):
            hidden, mask = self._run(encodings)
            vectors[rows] = pool(hidden, mask, self.pooling)
        return normalise(vectors)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if self._counter is None:
            from tokenizers import Tokenizer

            self._counter = Tokenizer.from_file(str(self._export_dir / "tokenizer.json"))
            self._counter.no_padding()
            self._counter.no_truncation()
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def token_states(
        self, texts: Sequence[str], batch_size: int = 32
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        for rows, encodings in self._batches(texts, batch_size):
            hidden, _ = self._run(encodings)
            for j, (row, encoding) in enumerate(zip(rows, encodings, strict=True)):
                yield int(row), hidden[j, : len(encoding.ids)], np.asarray(encoding.offsets)

    def _batches(
        self, texts: Sequence[str], batch_size: int
    ) -> Iterator[tuple[np.ndarray, list[Any]]]:
        """Longest first, as sentence-transformers does, so that each batch pads little; a batch
        holds up to ``batch_size`` texts and ``BATCH_TOKENS`` word pieces (one text at least),
        none shorter than ``PAD_RATIO`` of its first."""
        if self._lower:  # a model whose tokenizer does not lowercase by itself
            texts = [text.lower() for text in texts]
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        start = 0
        lengths = [len(encodings[i].ids) for i in order]
        while start < len(order):
            end = start + max(1, min(batch_size, BATCH_TOKENS // lengths[start]))
            end = min(end, len(order))
            while end - start > 1 and lengths[end - 1] < PAD_RATIO * lengths[start]:
                end -= 1
            rows = order[start:end]
            yield rows, [encodings[i] for i in rows]
            start = end

    def _run(self, encodings: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """(last hidden states, attention mask) of one right-padded batch."""
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
        return hidden, feeds["attention_mask"]


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
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


def pool_spans(
    states: np.ndarray,
    offsets: np.ndarray,
    groups: Sequence[Sequence[tuple[int, int]]],
    special: bool = True,
) -> tuple[np.ndarray, list[int]]:
    """Late chunking: one mean vector per group of character ranges of a text, from the token
    states of the text's own forward pass (``Embedder.token_states``). A token belongs to a group
    when its characters overlap one of the ranges; with ``special`` the special tokens ([CLS],
    [SEP]) join every group, as they join the mean of a text embedded alone. Returns the
    L2-normalised vectors and the indices of the groups with a range no token overlaps (cut
    off by truncation), whose rows are zero."""
    starts, ends = offsets[:, 0], offsets[:, 1]
    specials = starts >= ends
    out = np.zeros((len(groups), states.shape[1]), np.float32)
    missing = []
    for g, ranges in enumerate(groups):
        hits = [(starts < b) & (ends > a) & ~specials for a, b in ranges]
        if not all(hit.any() for hit in hits):  # a range truncation cut off (the sentence)
            missing.append(g)
            continue
        member = np.logical_or.reduce(hits)
        out[g] = states[member | specials].mean(0) if special else states[member].mean(0)
    rows = np.setdiff1d(np.arange(len(groups)), missing)
    out[rows] = normalise(out[rows])
    return out, missing


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32, copy=False)
