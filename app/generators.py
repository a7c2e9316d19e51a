"""Answer generators: one base class that declares the whole contract, and a registry keyed by
the explicit setting ``SHARPNOTES_GENERATOR`` (never guessed from a model name).

The built-in backends live in ``app.extractive`` (offline, the default) and ``app.llm``
(``openai``, ``llamacpp``); their modules are imported when one of them is first asked for, so a
command that answers offline never imports an LLM client.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

from sharpnotes.app.retrieval import SearchResult
from sharpnotes.ingest.settings import GeneratorName, Settings
from sharpnotes.ingest.text import terms

REFUSAL = "My notes don't cover this."
REFUSAL_ZH = "我的筆記沒有寫到這個。"  # said after REFUSAL to a question asked in Chinese

OnToken = Callable[[str], None]

# a question that points back at the previous one ("and its loss?", "what about 它")
FOLLOW_UP = re.compile(
    r"\b(?:it|its|they|them|their|this|that|these|those)\b"
    r"|^(?:and|or|but|also|what about|how about)\b|[它這那其此]"
)


class GeneratorError(RuntimeError):
    """The generator cannot run (unreachable server, missing model file); says what to do."""


class Generator(ABC):
    """Writes answers from passages. Subclasses set ``name`` and implement ``generate``; the LLM
    backends also override ``complete``, ``condense`` and ``check`` and set ``is_llm``."""

    name: ClassVar[str]
    is_llm: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def generate(
        self, question: str, passages: Sequence[SearchResult], on_token: OnToken | None = None
    ) -> str:
        """An answer to ``question`` from ``passages`` only, with inline markers ``[n]`` that
        refer to ``passages[n - 1]``, or exactly ``REFUSAL`` when they do not answer it.
        Tokens are passed to ``on_token`` as they are produced (once, whole, if not streaming)."""

    def complete(self, prompt: str, max_tokens: int) -> str:
        """Free text for a prompt of the caller's own (quiz writing, grading); LLMs only."""
        raise GeneratorError(f"the {self.name} generator writes no free text; use an LLM one")

    def condense(self, question: str, history: Sequence[str]) -> str:
        """The retrieval query for a follow-up question. Offline: fold the previous question's
        key terms that the new one lacks into it, but only when it reads as a follow-up (short,
        or pointing back with "it", "that", "and", "what about", 它/這/那); a new topic keeps its
        own words, so it can be refused."""
        if not history or not (len(terms(question)) <= 2 or FOLLOW_UP.search(question.lower())):
            return question
        have = terms(question)
        extra: list[str] = []
        for word in history[-1].split():
            word = word.strip(".,;:!?()[]{}\"'")
            new = terms(word) - have
            if new and not word.isdigit():
                extra.append(word)
                have |= new
        return f"{question} {' '.join(extra[:6])}".strip() if extra else question

    def check(self) -> str:
        """A one-line description when the generator can answer; raises ``GeneratorError``
        (saying what to do) when it cannot."""
        return "offline, built in"


GeneratorFactory = Callable[[Settings], Generator]
_REGISTRY: dict[str, GeneratorFactory] = {}
# where the built-in backends register themselves, imported on first use
_BUILT_IN: dict[str, str] = {
    "extractive": "sharpnotes.app.extractive",
    "openai": "sharpnotes.app.llm",
    "llamacpp": "sharpnotes.app.llm",
}
assert set(_BUILT_IN) == set(GeneratorName.__args__)  # type: ignore[attr-defined]


def register(name: str) -> Callable[[GeneratorFactory], GeneratorFactory]:
    def deco(factory: GeneratorFactory) -> GeneratorFactory:
        _REGISTRY[name] = factory
        return factory

    return deco


def get_generator(settings: Settings, name: str | None = None) -> Generator:
    """The generator named ``name`` or ``settings.answers.generator``."""
    name = name or settings.answers.generator
    if name not in _REGISTRY and name in _BUILT_IN:
        importlib.import_module(_BUILT_IN[name])
    if name not in _REGISTRY:
        raise GeneratorError(f"unknown generator {name!r}; choose one of {sorted(_BUILT_IN)}")
    return _REGISTRY[name](settings)
