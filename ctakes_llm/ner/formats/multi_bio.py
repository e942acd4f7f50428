"""The multi-type *BIO* format of the lightweight-LLM biomedical NER study (Epron, Coulet and Alam, LREC 2026,
"Analysing Lightweight Large Language Models for Biomedical Named Entity Recognition on Diverse Output Formats"),
in our reading: one request for all types, answered with one ``token<TAB>tag`` line per token of the text.

Tokens are those of :func:`ctakes_llm.ner.tokens.tokenize` (line breaks left out) and tags are the BIO labels of
:mod:`ctakes_llm.ner.bio` (``O``, ``B-SignSymptom``, ``I-SignSymptom``...). The parser aligns the tokens the model
wrote to the text in order, so a mention's string is the text between its first and last token (or, where the
model's tokens do not align, its tokens joined by spaces); grounding then verifies it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ctakes_llm.ner.bio import OUTSIDE, encode_bio
from ctakes_llm.ner.entity_types import class_for
from ctakes_llm.ner.formats.base import AllTypesFormat, ParseResult, Request, strip_code_fence
from ctakes_llm.ner.grounding import Proposal
from ctakes_llm.ner.mention import Mention, MentionClass
from ctakes_llm.ner.tokens import TokenKind, tokenize

ANSWER_SPEC = (
    "Answer with one line per token of the text, 'token<TAB>tag', where tag is O outside mentions, B-<Label> on "
    "the first token of a mention and I-<Label> on its following tokens, for example 'chest\tB-SignSymptom'."
)
#: How far past the previous aligned token a model's token may be found in the text.
ALIGN_WINDOW_CHARS = 200


class MultiBioFormat(AllTypesFormat):
    """All types at once; one ``token<TAB>tag`` line per token back."""

    name = "multi_bio"
    answer_spec = ANSWER_SPEC

    def target(self, text: str, request: Request, mentions: Sequence[Mention]) -> str:
        """One ``token<TAB>tag`` line per token of ``text``."""
        wanted = {t.cls for t in self.types}
        tokens = [token for token in tokenize(text) if token.kind is not TokenKind.NEWLINE]
        offsets = [(token.begin, token.end) for token in tokens]
        tags = encode_bio(offsets, [(m.cls, m.begin, m.end) for m in mentions if m.cls in wanted])
        return "\n".join(f"{text[begin:end]}\t{tag}" for (begin, end), tag in zip(offsets, tags, strict=True))

    def parse(self, output: str, request: Request, text: str) -> ParseResult:
        """Read token/tag lines into spans; a line without a known tag is a failure (and ends the open span)."""
        proposals: list[Proposal] = []
        failures = 0
        cursor = 0
        current: tuple[MentionClass, list[str], list[int | None]] | None = None

        def close() -> None:
            if current is not None:
                proposals.append(_span_proposal(text, *current))

        for line in strip_code_fence(output).splitlines():
            parts = line.strip().rsplit(maxsplit=1)
            if not parts:
                continue
            if len(parts) != 2:
                failures += 1
                close()
                current = None
                continue
            token, tag = parts
            found = text.find(token, cursor, cursor + ALIGN_WINDOW_CHARS + len(token))
            position = found if found != -1 else None
            if position is not None:
                cursor = position + len(token)
            if tag == OUTSIDE:
                close()
                current = None
                continue
            prefix, _, label = tag.partition("-")
            cls = class_for(label, self.types) if prefix in ("B", "I") else None
            if cls is None:
                failures += 1
                close()
                current = None
                continue
            if prefix == "I" and current is not None and current[0] is cls:
                current[1].append(token)
                current[2].append(position)
            else:
                close()
                current = (cls, [token], [position])
        close()
        return ParseResult(proposals, failures)


def _span_proposal(text: str, cls: MentionClass, tokens: list[str], positions: list[int | None]) -> Proposal:
    """The mention string of a run of tagged tokens: the text they cover when all aligned, else the joined tokens."""
    first, last = positions[0], positions[-1]
    if all(position is not None for position in positions) and first is not None and last is not None:
        return Proposal(cls, text[first : last + len(tokens[-1])], hint=first)
    return Proposal(cls, " ".join(tokens), hint=first)
