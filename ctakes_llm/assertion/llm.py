"""Ask a language model for assertion attributes instead of (or before) the rules.

The hook is a plain ``generate(prompt) -> completion`` callable, so any backend that can complete a prompt (a
local causal LM, an OpenAI-compatible server) plugs in without this module importing either. The model answers
one JSON object per mention; mentions it leaves out or answers unreadably fall back to the rule engine and are
counted.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from ctakes_llm.assertion.context import ContextEngine, attributes_for
from ctakes_llm.assertion.rules import Category
from ctakes_llm.ner.mention import Mention
from ctakes_llm.ner.sentences import split_sentences

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

    def classify(self, text: str, mentions: Sequence[Mention]) -> list[dict[str, str]]:
        """One attribute dict per mention, in order, with cTAKES string encodings."""
        ...


def build_prompt(text: str, mentions: Sequence[Mention]) -> str:
    """A prompt that lists each mention with its sentence and asks for one JSON object per mention."""
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


class LlmAssertionClassifier:
    """Asks ``generate`` for the attributes of all mentions of a text in one prompt.

    Args:
        generate: Completes a prompt; e.g. a causal LM backend's raw generation or a chat-completion call.
        fallback: Answers the mentions the model skipped; None uses the rule engine with the shipped rules.
    """

    def __init__(self, generate: Callable[[str], str], fallback: AssertionClassifier | None = None) -> None:
        self.generate = generate
        self.fallback = fallback or ContextEngine()
        self.counters: Counter[str] = Counter()

    def classify(self, text: str, mentions: Sequence[Mention]) -> list[dict[str, str]]:
        """One attribute dict per mention; unanswered mentions get the fallback's attributes."""
        if not mentions:
            return []
        parsed = parse_answer(self.generate(build_prompt(text, mentions)), len(mentions))
        missing = [i for i in range(len(mentions)) if i not in parsed]
        self.counters["model_answers"] += len(parsed)
        if missing:
            self.counters["fallback"] += len(missing)
            logger.warning(
                "[E361] the model gave no readable assertion for %d of %d mentions; the rules answer them",
                len(missing),
                len(mentions),
            )
        fallback = dict(zip(missing, self.fallback.classify(text, [mentions[i] for i in missing]), strict=True))
        return [attributes_for(parsed[i]) if i in parsed else fallback[i] for i in range(len(mentions))]
