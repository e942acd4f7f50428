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


def viterbi_tags(log_probs: Sequence[Sequence[float]], labels: Sequence[str] = BIO_LABELS) -> list[str]:
    """The most probable tag sequence that is valid BIO: ``I-X`` only right after ``B-X`` or ``I-X``.

    Argmax tags read with :func:`decode_bio` break a mention wherever one wordpiece's best tag is off
    (``B-X I-Y I-X`` gives three spans); this decoder scores whole sequences instead, so mentions keep their
    boundaries. On MACCROBAT dev it raised strict micro-F1 of the student by several points over argmax.

    Args:
        log_probs: Per token, the log-probability of each label, in the order of ``labels``.
        labels: The label of each column.

    Returns:
        One tag per token.
    """
    if not log_probs:
        return []
    count = len(labels)
    inside_of = [labels.index(f"B-{label[2:]}") if label.startswith("I-") else -1 for label in labels]
    score = [float(lp) if inside_of[j] < 0 else float("-inf") for j, lp in enumerate(log_probs[0])]
    back: list[list[int]] = []
    for row in log_probs[1:]:
        best = max(range(count), key=score.__getitem__)
        pointers = []
        new_score = []
        for j in range(count):
            begin = inside_of[j]
            previous = best if begin < 0 else (begin if score[begin] >= score[j] else j)
            pointers.append(previous)
            new_score.append(score[previous] + float(row[j]))
        back.append(pointers)
        score = new_score
    path = [max(range(count), key=score.__getitem__)]
    for pointers in reversed(back):
        path.append(pointers[path[-1]])
    return [labels[index] for index in reversed(path)]
