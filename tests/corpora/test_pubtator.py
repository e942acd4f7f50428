"""PubTator reader: offsets into title + " " + abstract, label mapping, duplicate PMIDs, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctakes_llm.corpora.label_map import load_label_map
from ctakes_llm.corpora.pubtator import read_pubtator
from ctakes_llm.errors import CorpusError
from ctakes_llm.ner.mention import MentionClass

SAMPLE = (
    "11|t|Aspirin and asthma.\n"
    "11|a|Aspirin may cause bronchospasm.\n"
    "11\t0\t7\tAspirin\tChemical\tD001241\n"
    "11\t12\t18\tasthma\tDisease\tD001249\n"
    "11\t38\t50\tbronchospasm\tDisease\tD001986\n"
    "11\tCID\tD001241\tD001249\n"
    "\n"
    "11|t|Duplicate.\n"
    "11|a|Ignored.\n"
)


def test_read_pubtator_offsets_and_classes(tmp_path: Path) -> None:
    path = tmp_path / "sample.txt"
    path.write_text(SAMPLE, encoding="utf-8")
    docs = read_pubtator(path, load_label_map("bc5cdr"))
    assert len(docs) == 1
    doc = docs[0]
    assert doc.text == "Aspirin and asthma. Aspirin may cause bronchospasm."
    assert [(m.cls, m.text) for m in doc.mentions] == [
        (MentionClass.MEDICATION, "Aspirin"),
        (MentionClass.DISEASE_DISORDER, "asthma"),
        (MentionClass.DISEASE_DISORDER, "bronchospasm"),
    ]


def test_read_pubtator_rejects_offsets_outside_text(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("1|t|A.\n1|a|B.\n1\t0\t99\tA\tDisease\t-1\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"\[E214\]"):
        read_pubtator(path, load_label_map("bc5cdr"))


def test_ncbi_train_matches_readme(shared_dir: Path) -> None:
    docs = read_pubtator(
        shared_dir / "data" / "ncbi_disease" / "NCBItrainset_corpus.txt", load_label_map("ncbi_disease")
    )
    assert len(docs) == 592
    for doc in docs:
        for mention in doc.mentions:
            assert doc.text[mention.begin : mention.end] == mention.text
