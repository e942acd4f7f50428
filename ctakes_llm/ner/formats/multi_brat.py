"""The multi-type *brat* (standoff) format of the lightweight-LLM biomedical NER study (Epron, Coulet and Alam,
LREC 2026, "Analysing Lightweight Large Language Models for Biomedical Named Entity Recognition on Diverse Output
Formats"), in our reading: one request for all types, answered with BRAT standoff text-bound lines.

Each answer line is ``T{n}<TAB>{Label} {begin} {end}<TAB>{mention}`` with character offsets into the text the
model was shown, one line per occurrence in text order. The stated offsets are never believed: they are only a
hint that chooses among repeated occurrences of the same string, and grounding computes the real span. The parser
also accepts lines without offsets (``T1<TAB>SignSymptom<TAB>chest pain``).
"""

from __future__ import annotations

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
from ctakes_llm.ner.mention import Mention

_LINE = re.compile(
    r"^T\d+\s+(?P<label>[A-Za-z_]+)(?:\s+(?P<begin>\d+)\s+(?P<end>\d+)(?:;\d+\s+\d+)*)?\s+(?P<text>\S.*?)\s*$"
)
ANSWER_SPEC = (
    "Answer in BRAT standoff format: one line per mention, 'T<number><TAB><Label> <begin> <end><TAB><mention>', "
    "with character offsets into the text, for example 'T1\tSignSymptom 12 22\tchest pain'. "
    "Answer with nothing when there are none."
)


class MultiBratFormat(AllTypesFormat):
    """All types at once; BRAT text-bound annotation lines back."""

    name = "multi_brat"
    answer_spec = ANSWER_SPEC

    def target(self, text: str, request: Request, mentions: Sequence[Mention]) -> str:
        """One standoff line per mention, numbered from T1, in text order."""
        wanted = {t.cls for t in self.types}
        kept = [m for m in ordered(mentions) if m.cls in wanted]
        return "\n".join(
            f"T{number}\t{m.cls.label} {m.begin} {m.end}\t{m.text}" for number, m in enumerate(kept, start=1)
        )

    def parse(self, output: str, request: Request, text: str) -> ParseResult:
        """Read standoff lines; every non-empty line that is not one (or names an unknown label) is a failure."""
        proposals: list[Proposal] = []
        failures = 0
        for line in strip_code_fence(output).splitlines():
            if not line.strip():
                continue
            match = _LINE.match(line.strip())
            cls = class_for(match.group("label"), self.types) if match else None
            if match is None or cls is None:
                failures += 1
                continue
            hint = int(match.group("begin")) if match.group("begin") is not None else None
            proposals.append(Proposal(cls, match.group("text"), hint=hint))
        return ParseResult(proposals, failures)
