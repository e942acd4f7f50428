"""The multi-type *span* format of the lightweight-LLM biomedical NER study (Epron, Coulet and Alam, LREC 2026,
"Analysing Lightweight Large Language Models for Biomedical Named Entity Recognition on Diverse Output Formats"),
in our reading: one request for all types, answered with the spans grouped by type.

The answer is one JSON object with a key per class label and a list of mention strings as each value, one string
per occurrence in text order (``{"DiseaseDisorder": ["pneumonia"], "SignSymptom": [], ...}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from ctakes_llm.ner.entity_types import EntityType, class_for
from ctakes_llm.ner.formats.base import (
    ParseResult,
    Request,
    instruction_messages,
    load_json_prefix,
    ordered,
    salvage_strings,
    strip_code_fence,
)
from ctakes_llm.ner.grounding import Proposal
from ctakes_llm.ner.mention import Mention

_GROUP = re.compile(r'"([^"\n]+)"\s*:\s*\[([^\]]*)(\]|$)')


class MultiSpanFormat:
    """All types at once; one JSON object mapping each class label to its list of mention strings."""

    name = "multi_span"

    def __init__(self, types: Sequence[EntityType]) -> None:
        self.types = tuple(types)
        labels = [t.cls.label for t in self.types]
        self._schema = {
            "type": "object",
            "properties": {label: {"type": "array", "items": {"type": "string"}} for label in labels},
            "required": labels,
            "additionalProperties": False,
        }
        example = ", ".join(f'"{label}": [...]' for label in labels)
        self._spec = (
            f"Answer with one JSON object that maps each type label to the list of its mentions: {{{example}}}. "
            "Use an empty list for a type with no mentions."
        )

    def requests(self, text: str) -> list[Request]:
        """One request for every type."""
        return [Request(instruction_messages(self.types, self._spec, text), json_schema=self._schema)]

    def target(self, text: str, request: Request, mentions: Sequence[Mention]) -> str:
        """A JSON object of label -> mention strings, one per occurrence, in text order."""
        groups = {t.cls.label: [m.text for m in ordered(mentions, t.cls)] for t in self.types}
        return json.dumps(groups, ensure_ascii=False)

    def parse(self, output: str, request: Request, text: str) -> ParseResult:
        """Read the object; from broken JSON, keep the complete strings of each ``"Label": [`` group."""
        cleaned = strip_code_fence(output)
        value, complete = load_json_prefix(cleaned, "{")
        proposals: list[Proposal] = []
        if complete and isinstance(value, dict):
            failures = 0
            groups = [(str(label), items) for label, items in value.items()]
        else:
            if "{" not in cleaned:
                return ParseResult([], 1)
            failures = 1
            groups = []
            for match in _GROUP.finditer(cleaned):
                strings, bad = salvage_strings(match.group(2))
                failures += bad
                groups.append((match.group(1), strings))
        for label, items in groups:
            cls = class_for(label, self.types)
            if cls is None or not isinstance(items, list):
                failures += 1
                continue
            for item in items:
                if isinstance(item, str) and item.strip():
                    proposals.append(Proposal(cls, item.strip()))
                else:
                    failures += 1
        return ParseResult(proposals, failures)
