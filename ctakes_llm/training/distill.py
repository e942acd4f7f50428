"""Distillation targets: the averaged label distribution of teacher taggers over the training windows.

Why: a teacher labels text no one annotated (clinical visit notes, unlike MACCROBAT's case reports), and its
distribution says more than a hard label (which class a wordpiece nearly was). A student trained on the teachers'
per-wordpiece distribution over the gold corpus and such notes beat each of its three teachers on MACCROBAT dev and
test and on clinical-note complaint recall, though the teachers' average itself was no better than its best member
(numbers in the shipped model card). This is UniversalNER's targeted distillation with fine-tuned taggers as the
teacher instead of an LLM, since no LLM runs offline here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ctakes_llm.errors import ModelLoadError
from ctakes_llm.ner.bio import BIO_LABELS
from ctakes_llm.training.data import ANY_LABEL, LabelledWindow, padded_inputs
from ctakes_llm.training.predict import ensemble_log_probs

SoftTargets = npt.NDArray[np.float32]


def load_teachers(paths: Sequence[Path], tokenizer: Any) -> list[Any]:
    """Load teacher token classifiers that share the student's label set and wordpieces.

    A teacher whose vocabulary numbers the same wordpieces differently (another architecture, such as MPNet) is
    wrapped to take the student's ids.

    Raises:
        ModelLoadError: a teacher cannot be loaded, tags other labels, or tokenizes differently.
    """
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from ctakes_llm.training.vocab_bridge import TranslatedTeacher, translation_table

    teachers = []
    for path in paths:
        try:
            model = AutoModelForTokenClassification.from_pretrained(str(path), dtype=torch.float32)
            teacher_tokenizer = AutoTokenizer.from_pretrained(str(path))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"[E544] cannot load teacher {path} ({exc}); give a trained model folder") from exc
        labels = tuple(model.config.id2label[index] for index in range(model.config.num_labels))
        if labels != BIO_LABELS:
            raise ModelLoadError(f"[E592] teacher {path} tags {labels}, not the student's {BIO_LABELS}")
        if teacher_tokenizer.get_vocab() != tokenizer.get_vocab():
            table = translation_table(tokenizer, teacher_tokenizer)
            if table is None:
                raise ModelLoadError(
                    f"[E593] teacher {path} cuts text into other wordpieces than the student; "
                    "its labels cannot be matched position by position"
                )
            model = TranslatedTeacher(model, table)
        teachers.append(model.eval())
    return teachers


def teacher_distributions(
    teachers: Sequence[Any], windows: Sequence[LabelledWindow], batch_size: int = 16, bf16_autocast: bool = False
) -> list[SoftTargets]:
    """Each window's mean teacher label distribution, ``[len(input_ids), len(BIO_LABELS)]``.

    The teachers run on the device their weights are on.

    Rows of the special tokens ([CLS], [SEP]) and of tokens whose gold label is unknown (``ANY_LABEL``: the teachers
    learnt the same gaps in the gold) are zero, which :func:`soft_cross_entropy` leaves unscored.
    """
    import torch

    targets: list[SoftTargets] = [np.zeros((len(w.input_ids), len(BIO_LABELS)), np.float32) for w in windows]
    order = sorted(range(len(windows)), key=lambda index: len(windows[index].input_ids))
    device = next(teachers[0].parameters()).device
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16_autocast):
        for first in range(0, len(order), batch_size):
            batch = order[first : first + batch_size]
            ids, attention = padded_inputs([windows[index].input_ids for index in batch])
            mean = ensemble_log_probs(teachers, ids.to(device), attention.to(device)).exp().cpu()
            for row, index in enumerate(batch):
                length = len(windows[index].input_ids)
                targets[index][1 : length - 1] = mean[row, 1 : length - 1].numpy()
                targets[index][np.asarray(windows[index].allowed) == ANY_LABEL] = 0
    return targets


def soft_cross_entropy(logits: Any, targets: Any, weights: Any) -> Any:
    """Mean over positions that have a target of ``-sum_l p_l log q_l``, weighted by each window's weight.

    Args:
        logits: ``[batch, length, labels]`` student logits.
        targets: ``[batch, length, labels]`` teacher probabilities; all-zero rows are not scored.
        weights: ``[batch]`` window weights.
    """
    import torch

    scored = targets.sum(-1) > 0
    per_token = -(targets * torch.log_softmax(logits, -1)).sum(-1)
    token_weights = weights[:, None] * scored
    return (per_token * token_weights).sum() / token_weights.sum().clamp(min=1e-9)


def padded_targets(targets: Sequence[SoftTargets], width: int) -> Any:
    """Stack windows' targets into a ``[batch, width, labels]`` tensor, zero-padded."""
    import torch

    stacked = torch.zeros((len(targets), width, len(BIO_LABELS)), dtype=torch.float32)
    for row, target in enumerate(targets):
        stacked[row, : len(target)] = torch.from_numpy(target)
    return stacked
