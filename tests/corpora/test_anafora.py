"""Anafora XML gold: classes, linked assertion entities, CUIs, line-end repair, layouts and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctakes_llm.corpora.anafora import read_anafora_corpus, read_anafora_document
from ctakes_llm.corpora.label_map import load_label_map
from ctakes_llm.errors import CorpusError
from ctakes_llm.ner.mention import MentionClass

NOTE = "Pt denies chest pain.\nHistory of asthma, on albuterol.\nMother had diabetes.\n"


def entity(eid: str, span: str, etype: str, **properties: str) -> str:
    props = "".join(f"<{k}>{v}</{k}>" for k, v in properties.items())
    return (
        f"<entity><id>{eid}</id><span>{span}</span><type>{etype}</type>"
        f"<parentsType>UMLSEntities</parentsType><properties>{props}</properties></entity>"
    )


def anafora_xml(*entities: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<data><info><savetime>now</savetime><progress>completed</progress>'
        f"</info><schema path='./' protocal='file'>ctakes_4-schema.xml</schema><annotations>{''.join(entities)}"
        "</annotations></data>"
    )


def span_of(text: str, needle: str, nth: int = 0) -> str:
    begin = -1
    for _ in range(nth + 1):
        begin = text.index(needle, begin + 1)
    return f"{begin},{begin + len(needle)}"


def standard_entities(text: str) -> list[str]:
    return [
        entity("1@e@ID1@gold", span_of(text, "chest pain"), "Sign_symptom", negation_indicator="2@e@ID1@gold"),
        entity(
            "2@e@ID1@gold",
            span_of(text, "denies"),
            "negation_indicator_class",
            negation_indicator_normalization="negation_present",
        ),
        entity(
            "3@e@ID1@gold",
            span_of(text, "asthma"),
            "Disease_Disorder",
            associatedCode="C0004096",
            historyOf="4@e@ID1@gold",
            negation_indicator="5@e@ID1@gold",
        ),
        entity(
            "4@e@ID1@gold", span_of(text, "History of"), "historyOf_indicator_class", historyOf_normalization="true"
        ),
        entity(
            "5@e@ID1@gold",
            span_of(text, "History"),
            "negation_indicator_class",
            negation_indicator_normalization="negation_absent",
        ),
        entity("6@e@ID1@gold", span_of(text, "albuterol"), "Medications/Drugs", associatedCode="C0001927, C0001928"),
        entity("7@e@ID1@gold", span_of(text, "diabetes"), "Disease_Disorder", subject="8@e@ID1@gold"),
        entity("8@e@ID1@gold", span_of(text, "Mother"), "Person", subject_normalization="family_member"),
        entity("9@e@ID1@gold", span_of(text, "on"), "Lab"),
    ]


def write_note(folder: Path, doc_id: str, text: str, xml: str, *, newline: str = "") -> Path:
    (folder / doc_id).mkdir(parents=True)
    (folder / doc_id / doc_id).write_bytes(text.encode("utf-8"))
    xml_path = folder / doc_id / f"{doc_id}.ctakes_4.gold.completed.xml"
    xml_path.write_text(xml, encoding="utf-8")
    return xml_path


def test_read_anafora_corpus_maps_types_attributes_and_cuis(tmp_path: Path) -> None:
    write_note(tmp_path, "ID1", NOTE, anafora_xml(*standard_entities(NOTE)))
    [doc] = read_anafora_corpus(tmp_path)
    assert doc.doc_id == "ID1" and doc.text == NOTE
    got = {(m.text, m.cls): dict(m.attributes) for m in doc.mentions}
    assert got == {
        ("chest pain", MentionClass.SIGN_SYMPTOM): {"polarity": "-1"},
        ("asthma", MentionClass.DISEASE_DISORDER): {"polarity": "1", "historyOf": "1"},
        ("albuterol", MentionClass.MEDICATION): {"polarity": "1"},
        ("diabetes", MentionClass.DISEASE_DISORDER): {"polarity": "1", "subject": "family_member"},
    }
    cuis = {m.text: [c.cui for c in m.concepts] for m in doc.mentions}
    assert cuis["asthma"] == ["C0004096"] and cuis["albuterol"] == ["C0001927", "C0001928"] and cuis["diabetes"] == []
    assert all(doc.text[m.begin : m.end] == m.text for m in doc.mentions)


def test_read_anafora_document_uses_the_covering_span_of_fragments(tmp_path: Path) -> None:
    text = "left and right knee pain"
    xml = anafora_xml(
        entity("1@e@x@g", "0,4;15,19", "Anatomical_site"), entity("2@e@x@g", "0,4;15,19", "Anatomical_site")
    )
    (tmp_path / "x.xml").write_text(xml)
    (tmp_path / "x.txt").write_text(text)
    doc = read_anafora_document(tmp_path / "x.xml", tmp_path / "x.txt", load_label_map("anafora"))
    assert doc.doc_id == "x"
    assert [(m.begin, m.end, m.text) for m in doc.mentions] == [(0, 19, "left and right knee")]


def test_read_anafora_corpus_repairs_offsets_made_on_lf_text_of_a_crlf_file(tmp_path: Path) -> None:
    crlf = NOTE.replace("\n", "\r\n")
    write_note(tmp_path, "ID1", crlf, anafora_xml(*standard_entities(NOTE)))  # offsets counted on the LF text
    [doc] = read_anafora_corpus(tmp_path)
    assert doc.text == crlf
    assert sorted(m.text for m in doc.mentions) == ["albuterol", "asthma", "chest pain", "diabetes"]


def test_read_anafora_corpus_repairs_offsets_made_on_crlf_text_of_an_lf_file(tmp_path: Path) -> None:
    crlf = NOTE.replace("\n", "\r\n")
    write_note(tmp_path, "ID1", NOTE, anafora_xml(*standard_entities(crlf)))  # offsets counted on the CRLF text
    [doc] = read_anafora_corpus(tmp_path)
    assert sorted(m.text for m in doc.mentions) == ["albuterol", "asthma", "chest pain", "diabetes"]


def test_read_anafora_corpus_keeps_matching_crlf_offsets(tmp_path: Path) -> None:
    crlf = NOTE.replace("\n", "\r\n")
    write_note(tmp_path, "ID1", crlf, anafora_xml(*standard_entities(crlf)))
    [doc] = read_anafora_corpus(tmp_path)
    assert sorted(m.text for m in doc.mentions) == ["albuterol", "asthma", "chest pain", "diabetes"]


def test_read_anafora_corpus_finds_texts_in_a_separate_folder(tmp_path: Path) -> None:
    (tmp_path / "gold").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "gold" / "ID2.ctakes_4.gold.completed.xml").write_text(anafora_xml(*standard_entities(NOTE)))
    (tmp_path / "notes" / "ID2.txt").write_text(NOTE)
    [doc] = read_anafora_corpus(tmp_path / "gold", text_dir=tmp_path / "notes")
    assert doc.doc_id == "ID2" and len(doc.mentions) == 4


def test_read_anafora_corpus_names_the_missing_text(tmp_path: Path) -> None:
    (tmp_path / "ID3.ctakes_4.gold.completed.xml").write_text(anafora_xml())
    with pytest.raises(CorpusError, match=r"E547.*ID3"):
        read_anafora_corpus(tmp_path)


def test_read_anafora_corpus_rejects_bad_spans_and_xml(tmp_path: Path) -> None:
    write_note(tmp_path / "a", "ID1", NOTE, anafora_xml(entity("1@e", "9,x", "Procedure")))
    with pytest.raises(CorpusError, match="E551"):
        read_anafora_corpus(tmp_path / "a")
    write_note(tmp_path / "b", "ID1", NOTE, anafora_xml(entity("1@e", "500,510", "Procedure")))
    with pytest.raises(CorpusError, match="E552"):
        read_anafora_corpus(tmp_path / "b")
    write_note(tmp_path / "c", "ID1", NOTE, "<data><annotations><entity></annotations>")
    with pytest.raises(CorpusError, match="E550"):
        read_anafora_corpus(tmp_path / "c")
    (tmp_path / "d").mkdir()
    with pytest.raises(CorpusError, match="E546"):
        read_anafora_corpus(tmp_path / "d")
