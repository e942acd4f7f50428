"""Ask a language model for assertion attributes instead of (or before) the rules.

The hook is a plain ``generate(prompt) -> completion`` callable, so any backend that can complete a prompt (a
local causal LM, an OpenAI-compatible server) plugs in without this module importing either
(:func:`prompt_completer` adapts a generative backend's batch function). The model answers one JSON object per
mention, a few mentions per prompt; mentions it leaves out, answers unreadably or cannot answer at all (the
backend raised :class:`~ctakes_llm.errors.BackendError`: timeout, server error) fall back to the rule engine and
are counted, so a bad answer never fails the note.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ctakes_llm.assertion.context import ContextEngine, attributes_for
from ctakes_llm.assertion.rules import Category
from ctakes_llm.errors import BackendError, ConfigError
from ctakes_llm.ner.formats.base import Message, Request
from ctakes_llm.ner.mention import Mention
from ctakes_llm.ner.sentences import split_sentences

if TYPE_CHECKING:
    from ctakes_llm.ner.generative import GenerateFn

logger = logging.getLogger(__name__)

_OBJECT = re.compile(r"\{[^{}]*\}")
#: Answer keys and the category each one signals when true.
ANSWER_KEYS: dict[str, Category] = {
    "negated": Category.NEGATED_EXISTENCE,
    "uncertain": Category.POSSIBLE_EXISTENCE,
    "hypothetical": Category.HYPOTHETICAL,
    "historical": Category.HISTORICAL,
    "family": Category.FAMILY,
}


@runtime_checkable
class AssertionClassifier(Protocol):
    """Gives the cTAKES assertion attributes of each mention of a text (the rule engine is one)."""

    def classify(
        self, text: str, mentions: Sequence[Mention], sentences: Sequence[tuple[int, int]] | None = None
    ) -> list[dict[str, str]]:
        """One attribute dict per mention, in order, with cTAKES string encodings.

        ``sentences`` are the text's sentence spans when the caller has them (the CAS's); None: find them.
        """
        ...


def build_prompt(text: str, mentions: Sequence[Mention], sentences: Sequence[tuple[int, int]] | None = None) -> str:
    """A prompt that lists each mention with its sentence and asks for one JSON object per mention.

    ``sentences`` are the text's sentence spans (the CAS's); None splits the text with :func:`split_sentences`.
    """
    if sentences is None:
        sentences = split_sentences(text)
    lines = [
        "For each numbered clinical mention, say how the sentence asserts it. Answer one JSON object per line:",
        '{"id": <n>, "negated": bool, "uncertain": bool, "hypothetical": bool, "historical": bool, "family": bool}',
        "negated: the finding is absent or ruled out; uncertain: possible or suspected; hypothetical: conditional "
        "or future; historical: past history; family: about a family member, not the patient.",
        "",
    ]
    for number, mention in enumerate(mentions, start=1):
        begin, end = next(((b, e) for b, e in sentences if b <= mention.begin < e), (0, len(text)))
        lines.append(f'{number}. "{mention.text}" in: "{text[begin:end]}"')
    return "\n".join(lines) + "\n"


def parse_answer(answer: str, count: int) -> dict[int, frozenset[Category]]:
    """Read the model's JSON objects; returns mention index (0-based) → categories for the objects understood."""
    found: dict[int, frozenset[Category]] = {}
    for match in _OBJECT.finditer(answer):
        try:
            item = json.loads(match.group())
        except json.JSONDecodeError:
            continue
        number = item.get("id") if isinstance(item, dict) else None
        if not isinstance(number, int) or not 1 <= number <= count:
            continue
        found[number - 1] = frozenset(cat for key, cat in ANSWER_KEYS.items() if item.get(key) is True)
    return found


@dataclass(frozen=True)
class LlmAssertionConfig:
    """Options of the LLM assertion classifier.

    Attributes:
        mentions_per_prompt: Mentions asked about in one prompt. An answer line takes about 30-40 tokens, so 8 fits
            the causal backend's default 256 new tokens; mentions that a cut-off answer leaves out fall back.
    """

    mentions_per_prompt: int = 8

    def __post_init__(self) -> None:
        if self.mentions_per_prompt < 1:
            raise ConfigError(f"[E363] LlmAssertionConfig.mentions_per_prompt={self.mentions_per_prompt} must be >= 1")


def prompt_completer(generate: GenerateFn) -> Callable[[str], str]:
    """A ``generate(prompt) -> completion`` hook over a generative backend's batch function (one user message)."""

    def complete(prompt: str) -> str:
        [generation] = generate([Request((Message("user", prompt),))])
        return generation.text

    return complete


class LlmAssertionClassifier:
    """Asks ``generate`` for the attributes of a text's mentions, ``mentions_per_prompt`` mentions per prompt.

    Args:
        generate: Completes a prompt; e.g. :func:`prompt_completer` over a causal LM or OpenAI-server backend.
        fallback: Answers the mentions the model skipped; None uses the rule engine with the shipped rules.
        config: Prompt size.
        model: Who answers (backend, model name, server), recorded in the run manifest.
    """

    def __init__(
        self,
        generate: Callable[[str], str],
        fallback: AssertionClassifier | None = None,
        config: LlmAssertionConfig | None = None,
        model: Mapping[str, object] | None = None,
    ) -> None:
        self.generate = generate
        self.fallback = fallback or ContextEngine()
        self.config = config or LlmAssertionConfig()
        self.model = dict(model or {})
        self.counters: Counter[str] = Counter()

    def classify(
        self, text: str, mentions: Sequence[Mention], sentences: Sequence[tuple[int, int]] | None = None
    ) -> list[dict[str, str]]:
        """One attribute dict per mention; mentions the model did not answer get the fallback's attributes.

        ``sentences`` (the CAS's) are what the prompts quote and what the fallback scopes by; None: each splits the
        text itself.
        """
        if not mentions:
            return []
        quoted = split_sentences(text) if sentences is None else sentences  # the fallback splits its own way
        parsed: dict[int, frozenset[Category]] = {}
        size = self.config.mentions_per_prompt
        for start in range(0, len(mentions), size):
            group = mentions[start : start + size]
            parsed.update((start + index, found) for index, found in self._ask(text, group, quoted).items())
        missing = [i for i in range(len(mentions)) if i not in parsed]
        self.counters["model_answers"] += len(parsed)
        self.counters["fallback"] += len(missing)
        fallback: dict[int, dict[str, str]] = {}
        if missing:
            answers = self.fallback.classify(text, [mentions[i] for i in missing], sentences)
            fallback = dict(zip(missing, answers, strict=True))
        return [attributes_for(parsed[i]) if i in parsed else fallback[i] for i in range(len(mentions))]

    def _ask(
        self, text: str, group: Sequence[Mention], sentences: Sequence[tuple[int, int]]
    ) -> dict[int, frozenset[Category]]:
        """The model's categories for the group's mentions it answered readably (index in the group)."""
        self.counters["prompts"] += 1
        try:
            answer = self.generate(build_prompt(text, group, sentences))
        except BackendError as err:
            self.counters["model_errors"] += 1
            logger.warning(
                "[E364] the model could not answer for %d mentions (%s); the rules answer them", len(group), err
            )
            return {}
        parsed = parse_answer(answer, len(group))
        if len(parsed) < len(group):
            logger.warning(
                "[E361] the model gave no readable assertion for %d of %d mentions; the rules answer them",
                len(group) - len(parsed),
                len(group),
            )
        return parsed

    def describe(self) -> dict[str, object]:
        """Method, model, prompt size and counts, for the run manifest."""
        return {
            "method": "llm",
            "model": dict(self.model),
            "mentions_per_prompt": self.config.mentions_per_prompt,
            "counts": dict(self.counters),
        }
