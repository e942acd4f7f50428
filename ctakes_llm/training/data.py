"""Training data: gold corpora to windows whose tokens carry the *set* of labels they may take.

A fully annotated corpus (MACCROBAT for the five classes) gives each token exactly one allowed BIO label. A
partially annotated corpus must not teach the model that the classes it does not annotate are absent, so:

* a token inside a gold span may take ``B-``/``I-`` (as tagged) of every class the span may truly be (the label
  map's ``alternatives``: a BC5CDR "Disease" is a DiseaseDisorder or a SignSymptom);
* a token outside every gold span may take ``O`` or any ``B-``/``I-`` label of a class the corpus does not annotate
  (an NCBI-disease ``O`` token may still be a drug, a procedure, a symptom or an anatomical site).

The loss (``loop.partial_label_loss``) is the negative log of the probability mass on the allowed set, which for a
single allowed label is ordinary cross-entropy. Labels are stored as bit masks over ``BIO_LABELS``; [CLS], [SEP]
and padding allow nothing and are left out of the loss. A token outside every gold span but inside one of the
document's ``unknown_spans`` allows every label (:data:`ANY_LABEL`): it teaches nothing, and teachers' soft targets
skip it too, since they learnt the same corpus.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctakes_llm.corpora.brat import read_brat_corpus
from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.label_map import LabelMap, load_label_map
from ctakes_llm.corpora.pubtator import read_pubtator
from ctakes_llm.corpora.splits import read_split
from ctakes_llm.errors import CorpusError
from ctakes_llm.ner.bio import BIO_LABELS, LABEL_TO_ID, OUTSIDE, encode_bio
from ctakes_llm.ner.mention import MentionClass
from ctakes_llm.training.windows import Window, document_windows

logger = logging.getLogger(__name__)

#: The allowed-label mask of a token whose label nobody knows: every BIO label.
ANY_LABEL = (1 << len(BIO_LABELS)) - 1


@dataclass(frozen=True, slots=True)
class LabelledWindow:
    """A model input with [CLS]/[SEP] and, per position, a bit mask of the BIO labels it may take."""

    input_ids: tuple[int, ...]
    allowed: tuple[int, ...]
    weight: float


def load_corpus(data_dir: Path, corpus: str, split: str) -> tuple[list[GoldDocument], LabelMap]:
    """Read one split of a corpus in ``data_dir`` with its bundled label map.

    Raises:
        CorpusError: the corpus is unknown or its files cannot be read.
    """
    label_map = load_label_map(corpus)
    folder = Path(data_dir) / corpus
    entries = read_split(folder, split)
    if corpus == "maccrobat":
        return read_brat_corpus(folder / "brat", label_map, entries), label_map
    if corpus in ("ncbi_disease", "bc5cdr"):
        return [doc for entry in entries for doc in read_pubtator(folder / entry, label_map)], label_map
    raise CorpusError(f"[E536] no reader for corpus {corpus!r}; use maccrobat, ncbi_disease or bc5cdr")


def label_windows(
    documents: Sequence[GoldDocument], label_map: LabelMap, tokenizer: Any, max_wordpieces: int, weight: float = 1.0
) -> list[LabelledWindow]:
    """Cut documents into windows and give every token its allowed-label mask."""
    outside_mask = _bit(OUTSIDE)
    for cls in MentionClass:
        if cls not in label_map.annotated_classes:
            outside_mask |= _bit(f"B-{cls.label}") | _bit(f"I-{cls.label}")
    result = []
    for document in documents:
        spans = [(mention.cls, mention.begin, mention.end) for mention in document.mentions]
        for window in document_windows(document.text, tokenizer, max_wordpieces):
            tags = encode_bio(window.offsets, spans)
            allowed = [
                ANY_LABEL
                if tag == OUTSIDE and _overlaps(offset, document.unknown_spans)
                else _allowed(tag, label_map, outside_mask)
                for tag, offset in zip(tags, window.offsets, strict=True)
            ]
            result.append(_with_specials(window, allowed, tokenizer, weight))
    return result


def unlabelled_windows(
    texts: Sequence[str], tokenizer: Any, max_wordpieces: int, weight: float = 1.0
) -> list[LabelledWindow]:
    """Windows of text no one annotated: they allow no label, so only a teacher's soft targets score them."""
    return [
        _with_specials(window, [0] * len(window.input_ids), tokenizer, weight)
        for text in texts
        for window in document_windows(text, tokenizer, max_wordpieces)
    ]


def padded_inputs(sequences: Sequence[Sequence[int]]) -> tuple[Any, Any]:
    """``input_ids`` and ``attention_mask`` tensors for id sequences of different lengths, zero-padded on the right."""
    import torch

    width = max(len(sequence) for sequence in sequences)
    ids = torch.zeros((len(sequences), width), dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        attention[row, : len(sequence)] = 1
    return ids, attention


def _allowed(tag: str, label_map: LabelMap, outside_mask: int) -> int:
    if tag == OUTSIDE:
        return outside_mask
    prefix, _, label = tag.partition("-")
    mask = 0
    for cls in label_map.classes_for(MentionClass.from_label(label)):
        mask |= _bit(f"{prefix}-{cls.label}")
    return mask


def _overlaps(offset: tuple[int, int], regions: Sequence[tuple[int, int]]) -> bool:
    return any(begin < offset[1] and offset[0] < end for begin, end in regions)


def _with_specials(window: Window, allowed: list[int], tokenizer: Any, weight: float) -> LabelledWindow:
    ids = (tokenizer.cls_token_id, *window.input_ids, tokenizer.sep_token_id)
    return LabelledWindow(ids, (0, *allowed, 0), weight)


def _bit(label: str) -> int:
    return 1 << LABEL_TO_ID[label]
