"""XMI gold: real cTAKES output and XMI we write read back into GoldDocuments."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from ctakes_llm.cas.ctakes_types import DISCOVERY_EXPLICIT, MENTION_TYPE_BY_CLASS
from ctakes_llm.cas.mentions import write_mentions
from ctakes_llm.cas.readers import cas_from_text
from ctakes_llm.cas.xmi import write_xmi
from ctakes_llm.corpora.xmi_gold import read_xmi_corpus, read_xmi_document
from ctakes_llm.errors import CorpusError
from ctakes_llm.ner.mention import Concept, Mention, MentionClass

MENTION_TAGS = {name.rsplit(".", 1)[1] for name in MENTION_TYPE_BY_CLASS.values()}


def count_mention_elements(path: Path) -> int:
    """Mentions with text in an XMI file, counted straight from the XML."""
    root = etree.parse(str(path)).getroot()
    return sum(
        1
        for element in root
        if isinstance(element.tag, str)
        and etree.QName(element).localname in MENTION_TAGS
        and int(element.get("begin")) < int(element.get("end"))
    )


def test_read_xmi_corpus_reads_every_ctakes_mention(shared_dir: Path) -> None:
    folder = shared_dir / "ctakes" / "ctakes-run-output" / "xmi"
    documents = read_xmi_corpus(folder)
    files = sorted(folder.glob("*.xmi"))
    assert [doc.doc_id for doc in documents] == [p.name.removesuffix(".xmi") for p in files]
    assert sum(len(doc.mentions) for doc in documents) == sum(count_mention_elements(p) for p in files)
    for doc in documents:
        assert all(doc.text[m.begin : m.end] == m.text for m in doc.mentions)


def test_read_xmi_document_keeps_ctakes_negation_and_cuis(shared_dir: Path) -> None:
    path = shared_dir / "ctakes" / "ctakes-run-output" / "xmi" / "examples__small__pain_no_swelling.txt.xmi"
    doc = read_xmi_document(path)
    assert doc.doc_id == "examples__small__pain_no_swelling.txt"
    negated = [m.text for m in doc.mentions if m.attributes.get("polarity") == "-1"]
    assert negated == ["swelling"]
    assert all(m.concepts and m.concepts[0].cui.startswith("C") for m in doc.mentions)


def test_read_xmi_corpus_round_trips_our_xmi_with_nested_ids(tmp_path: Path) -> None:
    text = "No fever. Takes aspirin \u00e9 daily \U0001f600 for knee pain."
    cas = cas_from_text(text)
    mentions = [
        Mention(MentionClass.SIGN_SYMPTOM, 3, 8, "fever", attributes={"polarity": "-1"}),
        Mention(MentionClass.MEDICATION, 16, 23, "aspirin", concepts=(Concept("C0004057", tui="T121"),)),
        Mention(MentionClass.SIGN_SYMPTOM, 38, 47, "knee pain"),
    ]
    assert [text[m.begin : m.end] for m in mentions] == [m.text for m in mentions]
    write_mentions(cas, mentions, discovery_technique=DISCOVERY_EXPLICIT)
    write_xmi(cas, tmp_path / "sub" / "note.txt.xmi")
    [doc] = read_xmi_corpus(tmp_path)
    assert doc.doc_id == "sub/note.txt" and doc.text == text
    assert [(m.cls, m.begin, m.end, m.text) for m in doc.mentions] == [
        (m.cls, m.begin, m.end, m.text) for m in mentions
    ]
    assert doc.mentions[0].attributes["polarity"] == "-1"
    assert [c.cui for c in doc.mentions[1].concepts] == ["C0004057"]


def test_read_xmi_corpus_accepts_one_file(shared_dir: Path, tmp_path: Path) -> None:
    source = shared_dir / "ctakes" / "ctakes-run-output" / "xmi" / "examples__small__claudication.xmi"
    shutil.copy(source, tmp_path / "a.xmi")
    [doc] = read_xmi_corpus(tmp_path / "a.xmi")
    assert doc.doc_id == "a" and doc.mentions


def test_read_xmi_corpus_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="E545"):
        read_xmi_corpus(tmp_path / "missing")
    with pytest.raises(CorpusError, match="E556"):
        read_xmi_corpus(tmp_path)
