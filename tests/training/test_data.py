"""Allowed-label masks: one label for fully annotated corpora, sets for partial ones."""

from __future__ import annotations

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.label_map import load_label_map
from ctakes_llm.ner.bio import BIO_LABELS
from ctakes_llm.ner.mention import Mention, MentionClass
from ctakes_llm.training.data import ANY_LABEL, label_windows

TEXT = "Aspirin caused asthma"  # wordpieces: as ##pi ##rin caused asthma


def _labels(mask: int) -> set[str]:
    return {label for index, label in enumerate(BIO_LABELS) if mask >> index & 1}


def _doc() -> GoldDocument:
    return GoldDocument(
        "d",
        TEXT,
        (Mention(MentionClass.MEDICATION, 0, 7, "Aspirin"), Mention(MentionClass.DISEASE_DISORDER, 15, 21, "asthma")),
    )


def test_full_corpus_allows_exactly_the_gold_tag(tokenizer) -> None:  # type: ignore[no-untyped-def]
    (window,) = label_windows([_doc()], load_label_map("maccrobat"), tokenizer, 32)
    tokens = tokenizer.convert_ids_to_tokens(window.input_ids)
    assert tokens == ["[CLS]", "as", "##pi", "##rin", "caused", "asthma", "[SEP]"]
    assert [_labels(m) for m in window.allowed] == [
        set(),
        {"B-Medication"},
        {"I-Medication"},
        {"I-Medication"},
        {"O"},
        {"B-DiseaseDisorder"},
        set(),
    ]


def test_partial_corpus_keeps_unannotated_classes_open(tokenizer) -> None:  # type: ignore[no-untyped-def]
    (window,) = label_windows([_doc()], load_label_map("bc5cdr"), tokenizer, 32, weight=0.5)
    allowed = [_labels(m) for m in window.allowed]
    assert allowed[1] == {"B-Medication"}
    assert allowed[4] == {"O", "B-Procedure", "I-Procedure", "B-AnatomicalSite", "I-AnatomicalSite"}
    assert allowed[5] == {"B-DiseaseDisorder", "B-SignSymptom"}
    assert window.weight == 0.5
    (ncbi,) = label_windows([_doc()], load_label_map("ncbi_disease"), tokenizer, 32)
    assert "B-Medication" in _labels(ncbi.allowed[4]) and "B-DiseaseDisorder" not in _labels(ncbi.allowed[4])


def test_tokens_of_an_unknown_region_allow_every_label_unless_a_mention_covers_them(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = "History of asthma and gout"  # history of asthma and go ##ut
    doc = GoldDocument("h", text, (Mention(MentionClass.DISEASE_DISORDER, 11, 17, "asthma"),), ((0, 17), (22, 26)))
    (window,) = label_windows([doc], load_label_map("maccrobat"), tokenizer, 32)
    assert tokenizer.convert_ids_to_tokens(window.input_ids)[1:-1] == ["history", "of", "asthma", "and", "go", "##ut"]
    assert window.allowed[1:-1] == (ANY_LABEL, ANY_LABEL, _bit("B-DiseaseDisorder"), _bit("O"), ANY_LABEL, ANY_LABEL)
    assert _labels(ANY_LABEL) == set(BIO_LABELS)


def _bit(label: str) -> int:
    return 1 << BIO_LABELS.index(label)
