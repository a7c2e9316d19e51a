"""Answer generators: one interface, a registry keyed by the explicit setting
``SHARPNOTES_GENERATOR`` (never guessed from a model name)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from app.retrieval import SearchResult
from ingest.settings import Settings

REFUSAL = "My notes don't cover this."

OnToken = Callable[[str], None]


class Generator(Protocol):
    name: str

    def generate(
        self, question: str, passages: Sequence[SearchResult], on_token: OnToken | None = None
    ) -> str:
        """An answer to ``question`` from ``passages`` only, with inline markers ``[n]`` that
        refer to ``passages[n - 1]``, or exactly ``REFUSAL`` when they do not answer it.
        Tokens are passed to ``on_token`` as they are produced (once, whole, if not streaming)."""
        ...


class GeneratorError(RuntimeError):
    """The generator cannot run (unreachable server, missing model file); says what to do."""


GeneratorFactory = Callable[[Settings], Generator]
_REGISTRY: dict[str, GeneratorFactory] = {}


def register(name: str) -> Callable[[GeneratorFactory], GeneratorFactory]:
    def deco(factory: GeneratorFactory) -> GeneratorFactory:
        _REGISTRY[name] = factory
        return factory

    return deco


def get_generator(settings: Settings, name: str | None = None) -> Generator:
    """The generator named ``name`` or ``settings.generator``."""
    import app.generator_backends  # noqa: F401 - registers the built-in backends

    name = name or settings.generator
    if name not in _REGISTRY:
        raise GeneratorError(f"unknown generator {name!r}; choose one of {sorted(_REGISTRY)}")
    return _REGISTRY[name](settings)
