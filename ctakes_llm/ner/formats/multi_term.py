"""The multi-type *term* format of the lightweight-LLM biomedical NER study (Epron, Coulet and Alam, LREC 2026,
"Analysing Lightweight Large Language Models for Biomedical Named Entity Recognition on Diverse Output Formats"),
in our reading: one request for all types, answered by typed pairs.

The answer is a JSON list of ``{"text": mention, "type": label}`` objects, one per occurrence in text order, with
the class labels of the entity types (``[{"text": "chest pain", "type": "SignSymptom"}]``). The parser also
accepts ``["chest pain", "SignSymptom"]`` pairs and type names (``sign or symptom``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ctakes_llm.ner.entity_types import EntityType, class_for
from ctakes_llm.ner.formats.base import (
    ParseResult,
    Request,
    instruction_messages,
    load_json_prefix,
    ordered,
    strip_code_fence,
)
from ctakes_llm.ner.grounding import Proposal
from ctakes_llm.ner.mention import Mention

_OBJECT = re.compile(r"\{[^{}]*\}|\[\s*\"[^\[\]]*\]")
ANSWER_SPEC = (
    'Answer with a JSON list of objects {"text": mention, "type": label}, one per mention, '
    'for example [{"text": "chest pain", "type": "SignSymptom"}]. Answer [] when there are none.'
)


class MultiTermFormat:
    """All types at once; a JSON list of typed ``{"text", "type"}`` pairs back."""

    name = "multi_term"

    def __init__(self, types: Sequence[EntityType]) -> None:
        self.types = tuple(types)
        labels = [t.cls.label for t in self.types]
        self._schema = {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"text": {"type": "string"}, "type": {"type": "string", "enum": labels}},
                "required": ["text", "type"],
                "additionalProperties": False,
            },
        }

    def requests(self, text: str) -> list[Request]:
        """One request for every type."""
        return [Request(instruction_messages(self.types, ANSWER_SPEC, text), json_schema=self._schema)]

    def target(self, text: str, request: Request, mentions: Sequence[Mention]) -> str:
        """A JSON list of typed pairs, one per occurrence, in text order."""
        wanted = {t.cls for t in self.types}
        pairs = [{"text": m.text, "type": m.cls.label} for m in ordered(mentions) if m.cls in wanted]
        return json.dumps(pairs, ensure_ascii=False)

    def parse(self, output: str, request: Request, text: str) -> ParseResult:
        """Read typed pairs; from broken JSON, keep each complete ``{...}`` object or ``[..]`` pair."""
        cleaned = strip_code_fence(output)
        value, complete = load_json_prefix(cleaned, "[")
        if complete and isinstance(value, list):
            items: list[Any] = value
            failures = 0
        else:
            start = cleaned.find("[")
            if start == -1:
                return ParseResult([], 1)
            items, failures = [], 1
            for match in _OBJECT.finditer(cleaned, start + 1):
                try:
                    items.append(json.loads(match.group(0)))
                except ValueError:
                    failures += 1
        proposals = []
        for item in items:
            proposal = self._proposal(item)
            if proposal is None:
                failures += 1
            else:
                proposals.append(proposal)
        return ParseResult(proposals, failures)

    def _proposal(self, item: Any) -> Proposal | None:
        if isinstance(item, dict):
            mention, label = item.get("text"), item.get("type")
        elif isinstance(item, list) and len(item) == 2:
            mention, label = item
        else:
            return None
        if not isinstance(mention, str) or not isinstance(label, str) or not mention.strip():
            return None
        cls = class_for(label, self.types)
        return None if cls is None else Proposal(cls, mention.strip())
