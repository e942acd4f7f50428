"""The UniversalNER conversation format (Zhou et al., 2023, "UniversalNER: Targeted Distillation from Large
Language Models for Open Named Entity Recognition").

One conversation per entity type, as in UniversalNER's instruction data and inference: the user gives the text,
the assistant acknowledges it, and the user asks ``What describes {type name} in the text?``; the answer is a JSON
list of the mention strings (``["chest pain", "fever"]``, ``[]`` when there are none). Type names come from the
editable entity types (``disease or disorder``). Training targets list each occurrence in text order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ctakes_llm.ner.entity_types import EntityType
from ctakes_llm.ner.formats.base import (
    Message,
    ParseResult,
    Request,
    load_json_prefix,
    ordered,
    salvage_strings,
    strip_code_fence,
)
from ctakes_llm.ner.grounding import Proposal
from ctakes_llm.ner.mention import Mention

SYSTEM = "A virtual assistant answers questions from a user based on the provided text."
ACKNOWLEDGEMENT = "I've read this text."
QUESTION = "What describes {name} in the text?"
ANSWER_SCHEMA = {"type": "array", "items": {"type": "string"}}


class UniversalNerFormat:
    """UniversalNER: one ``What describes {type} in the text?`` question per type, a JSON list of strings back."""

    name = "universal_ner"

    def __init__(self, types: Sequence[EntityType]) -> None:
        self.types = tuple(types)

    def requests(self, text: str) -> list[Request]:
        """One conversation per entity type."""
        return [
            Request(
                (
                    Message("system", SYSTEM),
                    Message("user", f"Text: {text}"),
                    Message("assistant", ACKNOWLEDGEMENT),
                    Message("user", QUESTION.format(name=entity_type.name)),
                ),
                cls=entity_type.cls,
                json_schema=ANSWER_SCHEMA,
            )
            for entity_type in self.types
        ]

    def target(self, text: str, request: Request, mentions: Sequence[Mention]) -> str:
        """A JSON list of the request's class's mention strings, one per occurrence, in text order."""
        return json.dumps([mention.text for mention in ordered(mentions, request.cls)], ensure_ascii=False)

    def parse(self, output: str, request: Request, text: str) -> ParseResult:
        """Read a JSON list of strings; from broken JSON, keep the complete string literals after the ``[``."""
        if request.cls is None:
            return ParseResult([], 1)
        cleaned = strip_code_fence(output)
        value, complete = load_json_prefix(cleaned, "[")
        if complete and isinstance(value, list):
            good = [item.strip() for item in value if isinstance(item, str) and item.strip()]
            return ParseResult([Proposal(request.cls, item) for item in good], len(value) - len(good))
        start = cleaned.find("[")
        if start == -1:
            return ParseResult([], 1)
        strings, bad = salvage_strings(cleaned[start:])
        good = [item.strip() for item in strings if item.strip()]
        return ParseResult([Proposal(request.cls, item) for item in good], 1 + bad + len(strings) - len(good))
