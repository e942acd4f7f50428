"""BIO tagging over the five cTAKES classes: spans to token tags (training) and tags back to spans (inference)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ctakes_llm.ner.mention import MentionClass

OUTSIDE = "O"
BIO_LABELS: tuple[str, ...] = (OUTSIDE, *(f"{prefix}-{cls.label}" for cls in MentionClass for prefix in ("B", "I")))
LABEL_TO_ID: dict[str, int] = {label: index for index, label in enumerate(BIO_LABELS)}


@dataclass(frozen=True, slots=True)
class TaggedSpan:
    """A span decoded from BIO tags, in character offsets of the tagged text."""

    cls: MentionClass
    begin: int
    end: int
    score: float


def encode_bio(token_offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[MentionClass, int, int]]) -> list[str]:
    """Tag each token: ``B-`` on the first token overlapping a span, ``I-`` on the following ones, else ``O``.

    Tokens with empty offsets (special tokens) get ``O``. When spans overlap, the longer one wins, as a
    flat tagger can hold only one.
    """
    tags = [OUTSIDE] * len(token_offsets)
    for cls, begin, end in sorted(spans, key=lambda span: span[1] - span[2]):
        covered = [
            index
            for index, (tok_begin, tok_end) in enumerate(token_offsets)
            if tok_end > tok_begin and tok_begin < end and tok_end > begin
        ]
        if not covered or any(tags[index] != OUTSIDE for index in covered):
            continue
        tags[covered[0]] = f"B-{cls.label}"
        for index in covered[1:]:
            tags[index] = f"I-{cls.label}"
    return tags


def decode_bio(
    tags: Sequence[str], token_offsets: Sequence[tuple[int, int]], scores: Sequence[float] | None = None
) -> list[TaggedSpan]:
    """Turn token tags back into character spans.

    An ``I-X`` that does not continue an ``X`` span starts a new one (the usual lenient reading). A span's score
    is the mean of its tokens' scores.
    """
    spans: list[TaggedSpan] = []
    current: tuple[MentionClass, int, int, list[float]] | None = None

    def close() -> None:
        if current is not None:
            cls, begin, end, token_scores = current
            spans.append(TaggedSpan(cls, begin, end, sum(token_scores) / len(token_scores)))

    for index, (tag, (tok_begin, tok_end)) in enumerate(zip(tags, token_offsets, strict=True)):
        if tok_end <= tok_begin:
            continue
        score = 1.0 if scores is None else float(scores[index])
        if tag == OUTSIDE:
            close()
            current = None
            continue
        prefix, _, label = tag.partition("-")
        cls = MentionClass.from_label(label)
        if prefix == "I" and current is not None and current[0] is cls:
            current = (cls, current[1], tok_end, [*current[3], score])
        else:
            close()
            current = (cls, tok_begin, tok_end, [score])
    close()
    return spans
