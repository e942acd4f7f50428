"""Predict spans with a model under training, and score them for dev-set model selection.

This is the training-side view only (sentence-packed windows, BIO-constrained Viterbi, ``decode_bio``); the
shipped inference path is ``ctakes_llm.backends.token_classifier``. Scores come from ``ctakes_llm.evaluation``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.evaluation.metrics import score_corpus
from ctakes_llm.ner.bio import decode_bio, viterbi_tags
from ctakes_llm.ner.mention import Grounding, Mention, MentionClass
from ctakes_llm.training.data import padded_inputs
from ctakes_llm.training.windows import Window, document_windows

Span = tuple[MentionClass, int, int]


def predict_spans(
    model: Any, tokenizer: Any, texts: Sequence[str], max_wordpieces: int, batch_size: int = 16
) -> list[list[Span]]:
    """Predicted (class, begin, end) spans for each text.

    ``model`` may be a list of models sharing labels and vocabulary: their label distributions are averaged (an
    ensemble, as distillation teachers are), all on one device.
    """
    import torch

    models = list(model) if isinstance(model, Sequence) else [model]
    jobs: list[tuple[int, Window]] = [
        (doc_index, window)
        for doc_index, text in enumerate(texts)
        for window in document_windows(text, tokenizer, max_wordpieces)
    ]
    jobs.sort(key=lambda job: len(job[1].input_ids))
    results: list[list[Span]] = [[] for _ in texts]
    for member in models:
        member.eval()
    device = next(models[0].parameters()).device
    with torch.inference_mode():
        for start in range(0, len(jobs), batch_size):
            batch = jobs[start : start + batch_size]
            ids, attention = padded_inputs(
                [[tokenizer.cls_token_id, *window.input_ids, tokenizer.sep_token_id] for _, window in batch]
            )
            log_probs = ensemble_log_probs(models, ids.to(device), attention.to(device)).cpu()
            for row, (doc_index, window) in enumerate(batch):
                tags = viterbi_tags(log_probs[row, 1 : len(window.input_ids) + 1].tolist())
                results[doc_index].extend((s.cls, s.begin, s.end) for s in decode_bio(tags, window.offsets))
    return results


def ensemble_log_probs(models: Sequence[Any], ids: Any, attention: Any) -> Any:
    """``[batch, length, labels]`` log of the models' mean label distribution (one model: its log-softmax)."""
    import torch

    member_log_probs = [
        torch.log_softmax(member(input_ids=ids, attention_mask=attention).logits.float(), -1) for member in models
    ]
    return torch.logsumexp(torch.stack(member_log_probs), 0) - math.log(len(models))


def dev_f1(documents: Sequence[GoldDocument], predictions: Sequence[Sequence[Span]]) -> tuple[float, float]:
    """Strict and lenient micro-F1 of predicted spans, scored by ``ctakes_llm.evaluation.metrics``."""
    gold = {document.doc_id: document.mentions for document in documents}
    predicted = {
        document.doc_id: [
            Mention(cls, begin, end, document.text[begin:end], grounding=Grounding.MODEL_OFFSETS)
            for cls, begin, end in spans
        ]
        for document, spans in zip(documents, predictions, strict=True)
    }
    scores = score_corpus(gold, predicted, classes=tuple(MentionClass), bootstrap=0)
    return scores.micro("strict").f1, scores.micro("lenient").f1
