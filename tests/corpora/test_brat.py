"""BRAT reader: spans, discontinuous spans, A -> E -> T attributes, quirks, the MACCROBAT corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctakes_llm.corpora.brat import read_brat_corpus, read_brat_document
from ctakes_llm.corpora.label_map import load_label_map
from ctakes_llm.corpora.splits import read_split
from ctakes_llm.errors import CorpusError
from ctakes_llm.ner.mention import MentionClass

TEXT = "No fever. CT of the left arm showed a fracture.\n"
ANN = "\n".join(
    [
        "T1\tSign_symptom 3 8\tfever",
        "E1\tSign_symptom:T1 ",
        "A1\tPOLARITY E1 NEG",
        "T2\tDiagnostic_procedure 10 12\tCT",
        "T3\tBiological_structure 20 24;25 28\tleft arm",
        "T4\tDisease_disorder 38 46\tfracture\t",
        "E2\tDisease_disorder:T4 ",
        "A2\tPOLARITY E2 MAYBE_POS",
        "T5\tTherapeutic_procedure 10 12\tCT",
        "T6\tLab_value 0 2\tNo",
        "R1\tMODIFY Arg1:T3 Arg2:E2\t",
        "#1\tAnnotatorNotes T1\ta note",
    ]
)


@pytest.fixture()
def brat_dir(tmp_path: Path) -> Path:
    (tmp_path / "doc1.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "doc1.ann").write_text(ANN + "\n", encoding="utf-8")
    return tmp_path


def test_read_brat_document_maps_labels_spans_and_attributes(brat_dir: Path) -> None:
    doc = read_brat_document(brat_dir / "doc1.txt", brat_dir / "doc1.ann", load_label_map("maccrobat"))
    found = {(m.cls, m.begin, m.end, m.text, tuple(sorted(m.attributes.items()))) for m in doc.mentions}
    assert found == {
        (MentionClass.SIGN_SYMPTOM, 3, 8, "fever", (("polarity", "-1"),)),
        (MentionClass.PROCEDURE, 10, 12, "CT", (("polarity", "1"),)),
        (MentionClass.ANATOMICAL_SITE, 20, 28, "left arm", (("polarity", "1"),)),
        (MentionClass.DISEASE_DISORDER, 38, 46, "fracture", (("polarity", "1"), ("uncertainty", "1"))),
    }
    assert doc.doc_id == "doc1"
    assert [m.begin for m in doc.mentions] == sorted(m.begin for m in doc.mentions)


def test_history_spans_are_unknown_regions_not_mentions(tmp_path: Path) -> None:
    text = "He had a history of coronary artery disease and asthma.\n"
    (tmp_path / "h.txt").write_text(text, encoding="utf-8")
    ann = [
        "T1\tHistory 9 43\thistory of coronary artery disease",
        "T2\tFamily_history 48 54\tasthma",
        "T3\tDisease_disorder 48 54\tasthma",
        "T4\tHistory 9 43\thistory of coronary artery disease",
    ]
    (tmp_path / "h.ann").write_text("\n".join(ann) + "\n", encoding="utf-8")
    doc = read_brat_document(tmp_path / "h.txt", tmp_path / "h.ann", load_label_map("maccrobat"))
    assert [(m.cls, m.text) for m in doc.mentions] == [(MentionClass.DISEASE_DISORDER, "asthma")]
    assert doc.unknown_spans == ((9, 43), (48, 54))
    plain = load_label_map("ncbi_disease")  # no unknown labels: History is simply dropped
    assert read_brat_document(tmp_path / "h.txt", tmp_path / "h.ann", plain).unknown_spans == ()


def test_read_brat_corpus_rejects_out_of_range_span(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("short", encoding="utf-8")
    (tmp_path / "bad.ann").write_text("T1\tMedication 0 50\tshort\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"\[E209\].*bad.ann:1"):
        read_brat_corpus(tmp_path, load_label_map("maccrobat"))


def test_read_brat_corpus_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"\[E208\]"):
        read_brat_corpus(tmp_path / "nope", load_label_map("maccrobat"))


def test_maccrobat_counts_match_readme(shared_dir: Path) -> None:
    corpus = shared_dir / "data" / "maccrobat"
    test_ids = read_split(corpus, "test")
    docs = read_brat_corpus(corpus / "brat", load_label_map("maccrobat"), test_ids)
    assert len(docs) == 20
    for doc in docs:
        for mention in doc.mentions:
            assert doc.text[mention.begin : mention.end] == mention.text
    all_docs = read_brat_corpus(corpus / "brat", load_label_map("maccrobat"))
    negated = sum(m.attributes["polarity"] == "-1" for d in all_docs for m in d.mentions)
    assert len(all_docs) == 200
    # README: 14,411 relevant mentions, two of which repeat a span as both procedure types; 1,008 NEG on them.
    assert sum(len(d.mentions) for d in all_docs) == 14_409
    assert negated == 1_008


def test_read_brat_reads_back_what_our_brat_writer_writes(tmp_path) -> None:
    from ctakes_llm.cas.brat_writer import write_brat
    from ctakes_llm.cas.mentions import write_mentions
    from ctakes_llm.cas.readers import cas_from_text
    from ctakes_llm.corpora.load import load_corpus
    from ctakes_llm.ner.mention import Concept, Mention

    text = "Denies chest pain. Mother had asthma."
    written = [
        Mention(
            MentionClass.SIGN_SYMPTOM,
            7,
            17,
            "chest pain",
            attributes={"polarity": "-1"},
            concepts=(Concept("C0008031", "T184", preferred_text="Chest Pain"),),
        ),
        Mention(
            MentionClass.DISEASE_DISORDER, 30, 36, "asthma", attributes={"polarity": "1", "subject": "family_member"}
        ),
    ]
    cas = cas_from_text(text, "4.0.0")
    write_mentions(cas, written, discovery_technique=3)
    write_brat(cas, tmp_path / "n.txt", tmp_path / "n.ann")
    [doc] = load_corpus(tmp_path, format="brat")  # our class labels need no label map
    pain, asthma = doc.mentions
    assert (pain.text, pain.attributes["polarity"], [c.cui for c in pain.concepts]) == (
        "chest pain",
        "-1",
        ["C0008031"],
    )
    assert pain.concepts[0].preferred_text == "Chest Pain"
    assert (asthma.attributes["polarity"], asthma.attributes["subject"]) == ("1", "family_member")
