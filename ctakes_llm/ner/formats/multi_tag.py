"""The multi-type *tag* (inline markup) format of the lightweight-LLM biomedical NER study (Epron, Coulet and
Alam, LREC 2026, "Analysing Lightweight Large Language Models for Biomedical Named Entity Recognition on Diverse
Output Formats"), in our reading: one request for all types, answered by rewriting the text with inline tags.

The answer is the text with each mention wrapped in ``<Label>...</Label>`` (``No <SignSymptom>chest
pain</SignSymptom> today.``); tags may nest. The position of an opening tag in the answer with the tags removed is
a hint for grounding, never an offset. Unclosed or mismatched tags (truncated output) are failures.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from ctakes_llm.ner.entity_types import class_for
from ctakes_llm.ner.formats.base import (
    AllTypesFormat,
    ParseResult,
    Request,
    ordered,
    strip_code_fence,
)
from ctakes_llm.ner.grounding import Proposal
from ctakes_llm.ner.mention import Mention, MentionClass

logger = logging.getLogger(__name__)

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z_]*)>")
ANSWER_SPEC = (
    "Answer by repeating the text unchanged, with every mention wrapped in tags named by its label, for example "
    "'No <SignSymptom>chest pain</SignSymptom> today.'"
)


class MultiTagFormat(AllTypesFormat):
    """All types at once; the text with inline ``<Label>`` tags back."""

    name = "multi_tag"
    answer_spec = ANSWER_SPEC

    def target(self, text: str, request: Request, mentions: Sequence[Mention]) -> str:
        """The text with tags around each mention; a mention that crosses another's boundary is left out (logged)."""
        wanted = {t.cls for t in self.types}
        nested: list[Mention] = []
        for mention in sorted(ordered(mentions), key=lambda m: (m.begin, -m.end)):
            if mention.cls not in wanted:
                continue
            if any(o.begin < mention.begin < o.end < mention.end for o in nested):
                logger.info(
                    "[E313] multi_tag target leaves out %r at [%d, %d): it crosses another mention",
                    mention.text,
                    mention.begin,
                    mention.end,
                )
                continue
            nested.append(mention)
        inserts: list[tuple[int, int, str]] = []
        for order, mention in enumerate(nested):
            inserts.append((mention.begin, order, f"<{mention.cls.label}>"))
            inserts.append((mention.end, -order, f"</{mention.cls.label}>"))
        pieces = []
        cursor = 0
        for offset, _, tag in sorted(inserts, key=lambda item: (item[0], not item[2].startswith("</"), item[1])):
            pieces.append(text[cursor:offset])
            pieces.append(tag)
            cursor = offset
        pieces.append(text[cursor:])
        return "".join(pieces)

    def parse(self, output: str, request: Request, text: str) -> ParseResult:
        """Collect each tagged span; unknown tag names are plain text, unclosed or mismatched tags are failures."""
        cleaned = strip_code_fence(output)
        plain: list[str] = []
        length = 0
        stack: list[tuple[MentionClass, int]] = []
        proposals: list[Proposal] = []
        failures = 0
        cursor = 0
        for match in _TAG.finditer(cleaned):
            cls = class_for(match.group(2), self.types)
            if cls is None:
                continue
            plain.append(cleaned[cursor : match.start()])
            length += match.start() - cursor
            cursor = match.end()
            if not match.group(1):
                stack.append((cls, length))
                continue
            depth = next((i for i in range(len(stack) - 1, -1, -1) if stack[i][0] is cls), None)
            if depth is None:
                failures += 1
                continue
            failures += len(stack) - 1 - depth
            _, start = stack[depth]
            del stack[depth:]
            mention = "".join(plain)[start:length].strip()
            if mention:
                proposals.append(Proposal(cls, mention, hint=start))
            else:
                failures += 1
        failures += len(stack)
        return ParseResult(sorted(proposals, key=lambda p: p.hint or 0), failures)
