"""The ONNX export cache: a sentence-transformers model exported once with torch, fused by
onnxruntime's optimizer, verified against sentence-transformers, and quantised to dynamic int8.

Exports live under ``settings.model_cache / "onnx" / <content hash of the model folder>`` (once
per machine: the user cache folder), so a different model never reuses one. Each step runs in a
child process (``python -m sharpnotes.ingest.onnx_export``): torch and the quantiser leave about
1 GB behind in a process, and the ingest that asked for the export needs neither afterwards.
``optimum`` would do this, but it pins transformers to versions that break
sentence-transformers, so the few steps are written here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sharpnotes.ingest.atomic import write_json_atomic
from sharpnotes.ingest.embedders import (
    POOLING_MODES,
    OnnxEmbedder,
    OnnxUnavailable,
    calibration_texts,
    load_sentence_transformer,
    normalise,
    st_dimension,
)
from sharpnotes.ingest.machine import library_versions

log = logging.getLogger(__name__)

_EXPORT_VERSION = 1  # bump when the export or quantisation recipe changes: old caches are ignored
# A MatMul fed by the feed-forward activation sees outliers that per-tensor int8 loses (an unfused
# GELU ends in Mul). Keeping those fp32 lifts MiniLM's worst cosine on SciFact from 0.990 to 0.996.
_ACTIVATIONS = {"Gelu", "BiasGelu", "FastGelu", "QuickGelu", "Relu", "Mul"}


def onnx_export_dir(folder: Path, cache: Path, int8: bool = False) -> Path:
    """The folder holding the model's ONNX export (and int8 copy), making them if missing."""
    target = cache / "onnx" / model_fingerprint(folder, cache / "onnx" / MEMO)
    graph = target / ("model.int8.onnx" if int8 else "model.onnx")
    if graph.exists():
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"):  # one export per model, even with parallel ingests
        if not (target / "model.onnx").exists():
            marker = target.with_name(f"{target.name}.failed")
            _attempt(marker, lambda: _in_child("export", str(folder), str(target)))
            log.info("Exported %s to ONNX in %s", folder, target)
        if not graph.exists():
            marker = graph.with_name(f"{graph.name}.failed")
            _attempt(marker, lambda: _in_child("quantise", str(target), str(graph)))
    return target


def _in_child(*args: str) -> None:
    """One step (``main``) in a child process; its error as OnnxUnavailable."""
    done = subprocess.run(
        [sys.executable, "-m", "sharpnotes.ingest.onnx_export", *args],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        raise OnnxUnavailable(lines[-1] if lines else f"exit status {done.returncode}")


def main(argv: list[str]) -> int:
    """``export MODEL_FOLDER TARGET`` or ``quantise EXPORT_FOLDER INT8_FILE``; a failure is one
    line on stderr and exit status 1."""
    step, source, target = argv
    try:
        if step == "export":
            _export(Path(source), Path(target))
        else:
            _quantise(Path(source), Path(target))
    except Exception as exc:  # reported to the parent, which falls back to sentence-transformers
        message = str(exc) if isinstance(exc, OnnxUnavailable) else f"{type(exc).__name__}: {exc}"
        print(" ".join(message.split()) or type(exc).__name__, file=sys.stderr)
        return 1
    return 0


def _attempt(marker: Path, make: Callable[[], None]) -> None:
    """Run `make`, or raise OnnxUnavailable if it failed before with the same library versions
    (a failed export costs seconds of torch, so it is not retried on every query)."""
    versions = library_versions()
    if marker.exists():
        failure = json.loads(marker.read_text())
        if failure["versions"] == versions:
            raise OnnxUnavailable(failure["reason"], recorded=True)
    try:
        make()
    except Exception as exc:  # any exporter or quantiser failure means: use sentence-transformers
        reason = str(exc) if isinstance(exc, OnnxUnavailable) else f"{type(exc).__name__}: {exc}"
        reason = reason.splitlines()[0]
        marker.write_text(json.dumps({"reason": reason, "versions": versions}))
        raise OnnxUnavailable(reason) from exc


_FINGERPRINTS: dict[Path, str] = {}
MEMO = "fingerprints.json"


def model_fingerprint(folder: Path, memo: Path | None = None) -> str:
    """A digest of the model folder's files (names and bytes), so another model never matches.
    Hashing 90 MB of weights costs a new process about 0.1 s, so with ``memo`` (a JSON file) the
    digest is kept under the files' names, sizes and modification times and read back while
    they are unchanged; once per process either way."""
    folder = folder.resolve()
    if folder in _FINGERPRINTS:
        return _FINGERPRINTS[folder]
    named = [(path.relative_to(folder).as_posix(), path) for path in sorted(folder.rglob("*"))]
    files = [(name, path) for name, path in named if path.is_file() and not name.startswith(".")]
    stats = [(name, path.stat()) for name, path in files]
    state = hashlib.sha256(
        json.dumps([[str(folder), name, st.st_size, st.st_mtime_ns] for name, st in stats]).encode()
    ).hexdigest()
    known = _read_memo(memo) if memo else {}
    digest_hex = known.get(state)
    if digest_hex is None:
        digest = hashlib.sha256(f"sharpnotes-onnx-v{_EXPORT_VERSION}".encode())
        for name, path in files:
            digest.update(name.encode())
            with path.open("rb") as file:
                digest.update(hashlib.file_digest(file, "sha256").digest())
        digest_hex = digest.hexdigest()[:20]
        if memo:
            with contextlib.suppress(OSError):  # a read-only cache only costs the hashing
                memo.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(memo, {**known, state: digest_hex})
    _FINGERPRINTS[folder] = digest_hex
    return digest_hex


def _read_memo(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _export(folder: Path, target: Path) -> None:
    """Export the transformer with torch, fuse it for onnxruntime, and verify it against
    sentence-transformers; only then move it into `target`."""
    import torch

    pooling = _pooling_mode(folder)
    model = load_sentence_transformer(folder, eager_attention=True)
    transformer = model[0]
    if not getattr(transformer.tokenizer, "is_fast", False):
        raise OnnxUnavailable("the model has no fast tokenizer")
    inputs = [
        name
        for name in ("input_ids", "attention_mask", "token_type_ids")
        if name in transformer.tokenizer.model_input_names
    ]

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = transformer.auto_model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(inputs, tensors, strict=True))).last_hidden_state

    texts = calibration_texts()
    sample = transformer.tokenizer(texts[-3:], padding=True, return_tensors="pt")
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow
            torch.onnx.export(
                LastHiddenState().eval(),
                tuple(sample[name] for name in inputs),
                str(work / "raw.onnx"),
                dynamo=False,  # the dynamo exporter needs onnxscript, which we do not ship
                input_names=inputs,
                output_names=["last_hidden_state"],
                dynamic_axes={
                    name: {0: "batch", 1: "tokens"} for name in [*inputs, "last_hidden_state"]
                },
                opset_version=17,
            )
        transformer.tokenizer.backend_tokenizer.save(str(work / "tokenizer.json"))
        meta = {
            "export_version": _EXPORT_VERSION,
            "dim": st_dimension(model),
            "max_seq_length": int(model.max_seq_length),
            "pooling": pooling,
            "pad_id": int(transformer.tokenizer.pad_token_id or 0),
            "inputs": inputs,
            "do_lower_case": bool(getattr(transformer, "do_lower_case", False)),
        }
        (work / "meta.json").write_text(json.dumps(meta, indent=1))
        expected = normalise(model.encode(texts, show_progress_bar=False))
        config = transformer.auto_model.config
        for graph in (_fuse(work / "raw.onnx", config), work / "raw.onnx"):
            if graph is None:
                continue
            graph.replace(work / "model.onnx")
            embedder = OnnxEmbedder("verify", work, "onnx-fp32", torch.get_num_threads())
            worst = float((embedder.embed(texts) * expected).sum(1).min())
            if worst >= 0.9999:
                break
            log.debug("ONNX graph %s differs from sentence-transformers: cosine %.5f", graph, worst)
        else:
            raise OnnxUnavailable("the ONNX export does not reproduce sentence-transformers")
        (work / "raw.onnx").unlink(missing_ok=True)
        work.replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pooling_mode(folder: Path) -> str:
    """The pooling mode of a plain Transformer -> Pooling [-> Normalize] model, from its folder."""
    modules = json.loads((folder / "modules.json").read_text())
    kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise OnnxUnavailable(f"modules {kinds} are not Transformer, Pooling[, Normalize]")
    st_config = folder / "config_sentence_transformers.json"
    if st_config.exists() and json.loads(st_config.read_text()).get("default_prompt_name"):
        raise OnnxUnavailable("the model adds a default prompt")
    config = json.loads((folder / modules[1]["path"] / "config.json").read_text())
    mode = config.get("pooling_mode")  # sentence-transformers >= 6; older ones set flags
    if mode is None:
        flags = [k for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
        aliases = {"cls_token": "cls", "mean_tokens": "mean", "max_tokens": "max"}
        modes = [
            aliases.get(k.removeprefix("pooling_mode_"), k.removeprefix("pooling_mode_"))
            for k in flags
        ]
        mode = modes[0] if len(modes) == 1 else "+".join(modes)
    if mode not in POOLING_MODES:
        raise OnnxUnavailable(f"pooling mode {mode!r} is not supported")
    return mode


def _fuse(raw: Path, config: Any) -> Path | None:
    """Fuse attention, layer norm and GELU with onnxruntime's optimizer; None if it fails."""
    from onnxruntime.transformers import optimizer

    fused = raw.with_name("fused.onnx")
    try:
        optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=getattr(config, "num_attention_heads", 0),
            hidden_size=getattr(config, "hidden_size", 0),
        ).save_model_to_file(str(fused))
    except Exception as exc:  # an architecture the optimizer does not know: run it unfused
        log.debug("onnxruntime optimizer failed on %s: %s", raw, exc)
        return None
    return fused


def _quantise(export: Path, int8: Path) -> None:
    """Dynamic int8 weights (per channel) for attention and linear layers, except those after an
    activation function."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = export / "model.onnx"
    graph = onnx.load(str(fp32), load_external_data=False).graph
    producers = {output: node.op_type for node in graph.node for output in node.output}
    keep = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and producers.get(node.input[0]) in _ACTIVATIONS
    ]
    partial = int8.with_suffix(".partial")
    with _quiet_root_logger():
        quantize_dynamic(
            str(fp32),
            str(partial),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_exclude=keep,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # for fused contrib ops
        )
    partial.replace(int8)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Drop what the quantiser logs straight on the root logger (INFO per tensor, a WARNING
    advising pre-processing) and stop that WARNING from installing a stderr handler on the root."""
    handler, only_errors = logging.NullHandler(), lambda record: record.levelno >= logging.ERROR
    logging.root.addHandler(handler)
    logging.root.addFilter(only_errors)  # a logger's filters skip records from its children
    try:
        yield
    finally:
        logging.root.removeFilter(only_errors)
        logging.root.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
