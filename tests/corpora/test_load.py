"""load_corpus: the format is sniffed, each reader is reached, and ambiguity is an error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ctakes_llm.cas.jsonl import mention_to_dict
from ctakes_llm.corpora.load import CorpusFormat, detect_format, load_corpus
from ctakes_llm.errors import ConfigError, CorpusError
from ctakes_llm.ner.mention import Concept, Mention, MentionClass

TEXT = "No chest pain. Aspirin daily."


def write_brat(folder: Path, doc_id: str, labels: tuple[str, str] = ("SignSymptom", "Medication")) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{doc_id}.txt").write_text(TEXT)
    (folder / f"{doc_id}.ann").write_text(f"T1\t{labels[0]} 3 13\tchest pain\nT2\t{labels[1]} 15 22\tAspirin\n")


def test_load_corpus_reads_nested_brat_with_class_labels(tmp_path: Path) -> None:
    write_brat(tmp_path, "top")
    write_brat(tmp_path / "sub", "inner")
    assert detect_format(tmp_path) is CorpusFormat.BRAT
    documents = load_corpus(tmp_path)
    assert [doc.doc_id for doc in documents] == ["sub/inner", "top"]
    assert [(m.cls, m.text) for m in documents[0].mentions] == [
        (MentionClass.SIGN_SYMPTOM, "chest pain"),
        (MentionClass.MEDICATION, "Aspirin"),
    ]


def test_load_corpus_brat_uses_a_bundled_label_map(tmp_path: Path) -> None:
    write_brat(tmp_path, "case", labels=("Sign_symptom", "Medication"))
    [doc] = load_corpus(tmp_path, "brat", label_map="maccrobat")
    assert [m.cls for m in doc.mentions] == [MentionClass.SIGN_SYMPTOM, MentionClass.MEDICATION]


def test_load_corpus_reads_pubtator(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text("123|t|Fever title\n123|a|Patient with asthma.\n123\t25\t31\tasthma\tSpecificDisease\tD001249\n\n")
    assert detect_format(path) is CorpusFormat.PUBTATOR
    [doc] = load_corpus(path, label_map="ncbi_disease")
    assert doc.doc_id == "123" and [m.text for m in doc.mentions] == ["asthma"]


def test_load_corpus_reads_anafora(tmp_path: Path) -> None:
    (tmp_path / "N1").mkdir()
    (tmp_path / "N1" / "N1").write_text(TEXT)
    (tmp_path / "N1" / "N1.ctakes_4.gold.completed.xml").write_text(
        "<data><annotations><entity><id>1@e</id><span>3,13</span><type>Sign_symptom</type><properties/></entity>"
        "</annotations></data>"
    )
    assert detect_format(tmp_path) is CorpusFormat.ANAFORA
    [doc] = load_corpus(tmp_path)
    assert [(m.cls, m.text) for m in doc.mentions] == [(MentionClass.SIGN_SYMPTOM, "chest pain")]


def test_load_corpus_reads_xmi(shared_dir: Path, tmp_path: Path) -> None:
    source = shared_dir / "ctakes" / "ctakes-run-output" / "xmi" / "examples__small__pain_no_swelling.txt.xmi"
    shutil.copy(source, tmp_path / "pain.txt.xmi")
    assert detect_format(tmp_path) is CorpusFormat.XMI
    [doc] = load_corpus(tmp_path)
    assert doc.doc_id == "pain.txt" and len(doc.mentions) == 2


def test_load_corpus_reads_the_jsonl_our_runs_write(tmp_path: Path) -> None:
    mention = Mention(
        MentionClass.SIGN_SYMPTOM,
        3,
        13,
        "chest pain",
        score=0.9,
        attributes={"polarity": "-1"},
        concepts=(Concept("C0008031", tui="T184"),),
    )
    record = {"id": "notes/a.txt", "text": TEXT, "mentions": [mention_to_dict(mention)]}
    path = tmp_path / "annotations.jsonl"
    path.write_text(json.dumps(record) + "\n\n")
    [doc] = load_corpus(path)
    [got] = doc.mentions
    assert doc.doc_id == "notes/a.txt"
    assert (got.cls, got.begin, got.end, got.score, dict(got.attributes)) == (
        MentionClass.SIGN_SYMPTOM,
        3,
        13,
        0.9,
        {"polarity": "-1"},
    )
    assert got.concepts == mention.concepts
    path.write_text('{"id": "x", "text": "abc", "mentions": [{"class": "Nope", "begin": 0, "end": 1}]}\n')
    with pytest.raises(CorpusError, match="E555"):
        load_corpus(path)


def test_load_corpus_refuses_mixed_empty_and_unknown(tmp_path: Path, shared_dir: Path) -> None:
    write_brat(tmp_path / "mixed", "a")
    shutil.copy(
        shared_dir / "ctakes" / "ctakes-run-output" / "xmi" / "examples__small__claudication.xmi",
        tmp_path / "mixed" / "b.xmi",
    )
    with pytest.raises(CorpusError, match=r"E558.*brat, xmi"):
        load_corpus(tmp_path / "mixed")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="E557"):
        load_corpus(tmp_path / "empty")
    with pytest.raises(CorpusError, match="E545"):
        load_corpus(tmp_path / "missing")
    with pytest.raises(ConfigError, match="E548"):
        load_corpus(tmp_path / "mixed", format="conll")
    [doc] = load_corpus(tmp_path / "mixed", format="xmi")
    assert doc.doc_id == "b"


def test_load_corpus_warns_when_no_mention_has_a_class(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_brat(tmp_path / "brat", "a", labels=("Sign_symptom", "Medication_x"))
    (tmp_path / "annotations.jsonl").write_text(json.dumps({"id": "a", "text": TEXT, "mentions": []}) + "\n")
    load_corpus(tmp_path / "brat")
    load_corpus(tmp_path / "annotations.jsonl")
    warnings = [record.getMessage() for record in caplog.records if "E559" in record.getMessage()]
    assert len(warnings) == 2
    assert "pass a label map" in warnings[0]  # BRAT labels go through a map
    assert "no cTAKES mentions" in warnings[1] and "label map" not in warnings[1]  # JSONL has none
