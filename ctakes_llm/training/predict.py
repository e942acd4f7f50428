"""Predict spans with a model under training, and score them for dev-set model selection.

This is the training-side view only (sentence-packed windows, BIO-constrained Viterbi, ``decode_bio``); the
shipped inference path is ``ctakes_llm.backends.token_classifier``. The full evaluation lives in
``ctakes_llm.evaluation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.ner.bio import decode_bio, viterbi_tags
from ctakes_llm.ner.mention import MentionClass
from ctakes_llm.training.windows import Window, document_windows

Span = tuple[MentionClass, int, int]


def predict_spans(
    model: Any, tokenizer: Any, texts: Sequence[str], max_wordpieces: int, batch_size: int = 16
) -> list[list[Span]]:
    """Predicted (class, begin, end) spans for each text."""
    import torch

    jobs: list[tuple[int, Window]] = [
        (doc_index, window)
        for doc_index, text in enumerate(texts)
        for window in document_windows(text, tokenizer, max_wordpieces)
    ]
    jobs.sort(key=lambda job: len(job[1].input_ids))
    results: list[list[Span]] = [[] for _ in texts]
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(jobs), batch_size):
            batch = jobs[start : start + batch_size]
            width = max(len(window.input_ids) for _, window in batch) + 2
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (_, window) in enumerate(batch):
                row_ids = [tokenizer.cls_token_id, *window.input_ids, tokenizer.sep_token_id]
                ids[row, : len(row_ids)] = torch.tensor(row_ids)
                attention[row, : len(row_ids)] = 1
            log_probs = torch.log_softmax(model(input_ids=ids, attention_mask=attention).logits.float(), -1)
            for row, (doc_index, window) in enumerate(batch):
                tags = viterbi_tags(log_probs[row, 1 : len(window.input_ids) + 1].tolist())
                results[doc_index].extend((s.cls, s.begin, s.end) for s in decode_bio(tags, window.offsets))
    return results


def micro_f1(documents: Sequence[GoldDocument], predictions: Sequence[Sequence[Span]]) -> tuple[float, float]:
    """Strict (same span and class) and lenient (overlap and class) micro-F1 over all documents."""
    strict_tp = lenient_pred = lenient_gold = gold_total = pred_total = 0
    for document, predicted in zip(documents, predictions, strict=True):
        gold = {(m.cls, m.begin, m.end) for m in document.mentions}
        pred = set(predicted)
        gold_total += len(gold)
        pred_total += len(pred)
        strict_tp += len(gold & pred)
        lenient_pred += sum(any(_overlap(p, g) for g in gold) for p in pred)
        lenient_gold += sum(any(_overlap(p, g) for p in pred) for g in gold)
    strict = _f1(strict_tp, strict_tp, pred_total, gold_total)
    lenient = _f1(lenient_pred, lenient_gold, pred_total, gold_total)
    return strict, lenient


def _overlap(a: Span, b: Span) -> bool:
    return a[0] is b[0] and a[1] < b[2] and b[1] < a[2]


def _f1(tp_pred: int, tp_gold: int, pred_total: int, gold_total: int) -> float:
    precision = tp_pred / pred_total if pred_total else 0.0
    recall = tp_gold / gold_total if gold_total else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
