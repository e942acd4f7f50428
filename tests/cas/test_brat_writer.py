"""BRAT standoff output: T lines per class, A lines for assertions, AnnotatorNotes with CUIs, line-break fragments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cassis
import pytest

from ctakes_llm.cas.brat_writer import brat_annotation_conf, cas_to_brat, fragments, write_brat
from ctakes_llm.corpora.brat import read_brat_document
from ctakes_llm.corpora.label_map import LabelMap
from ctakes_llm.ner.mention import Concept, Mention, MentionClass


def _m(text: str, span: str, cls: MentionClass, **kwargs: object) -> Mention:
    begin = text.index(span)
    return Mention(cls, begin, begin + len(span), span, **kwargs)  # type: ignore[arg-type]


def test_cas_to_brat_entities_attributes_and_notes(
    annotated_cas: Callable[[str, Sequence[Mention]], cassis.Cas],
) -> None:
    text = "No cough. Mother had asthma? Took aspirin."
    concepts = (
        Concept("C0004096", "T047", "195967001", "SNOMEDCT_US", "Asthma"),
        Concept("C0004096", "T047", "J45", "ICD10CM", "Asthma"),
        Concept("C0004099", "T047", "1", "SNOMEDCT_US", "Asthma attack"),
    )
    cas = annotated_cas(
        text,
        [
            _m(text, "cough", MentionClass.SIGN_SYMPTOM, attributes={"polarity": "-1"}),
            _m(
                text,
                "asthma",
                MentionClass.DISEASE_DISORDER,
                attributes={"polarity": "1", "uncertainty": "1", "subject": "family_member"},
                concepts=concepts,
            ),
            _m(text, "aspirin", MentionClass.MEDICATION, attributes={"subject": "patient"}),
        ],
    )
    assert cas_to_brat(cas).splitlines() == [
        "T1\tSignSymptom 3 8\tcough",
        "A1\tNegation T1",
        "T2\tDiseaseDisorder 21 27\tasthma",
        "A2\tUncertainty T2",
        "A3\tSubject T2 family_member",
        "#1\tAnnotatorNotes T2\tC0004096 Asthma; C0004099 Asthma attack",
        "T3\tMedication 34 41\taspirin",
    ]


def test_cas_to_brat_splits_spans_at_line_breaks(annotated_cas: Callable[[str, Sequence[Mention]], cassis.Cas]) -> None:
    text = "pain in the\r\nleft\n\nknee 😀"
    cas = annotated_cas(
        text,
        [_m(text, "left\n\nknee", MentionClass.ANATOMICAL_SITE), _m(text, "the\r\nleft", MentionClass.ANATOMICAL_SITE)],
    )
    lines = cas_to_brat(cas).splitlines()
    assert lines == ["T1\tAnatomicalSite 8 11;13 17\tthe left", "T2\tAnatomicalSite 13 17;19 23\tleft knee"]
    for line in lines:
        for piece in line.split("\t")[1].split(" ", 1)[1].split(";"):
            begin, end = map(int, piece.split())
            assert "\n" not in text[begin:end] and "\r" not in text[begin:end]


def test_fragments_drop_blank_pieces() -> None:
    text = "a\n \nb"
    assert fragments(text, 0, len(text)) == [(0, 1), (4, 5)]
    assert fragments(text, 1, 4) == []


def test_cas_to_brat_skips_whitespace_only_mention(
    annotated_cas: Callable[[str, Sequence[Mention]], cassis.Cas], caplog: pytest.LogCaptureFixture
) -> None:
    text = "fever\n\nchills"
    cas = annotated_cas(
        text, [Mention(MentionClass.SIGN_SYMPTOM, 5, 7, "\n\n"), _m(text, "chills", MentionClass.SIGN_SYMPTOM)]
    )
    assert cas_to_brat(cas) == "T1\tSignSymptom 7 13\tchills\n"
    assert "E150" in caplog.text


def test_write_brat_files_read_back_by_brat_gold_reader(
    annotated_cas: Callable[[str, Sequence[Mention]], cassis.Cas], tmp_path: Path
) -> None:
    text = "Fièvre 😷 and\nknee pain; no rash.\r\n"
    mentions = [
        _m(text, "Fièvre", MentionClass.SIGN_SYMPTOM),
        _m(text, "knee", MentionClass.ANATOMICAL_SITE),
        _m(text, "knee pain", MentionClass.SIGN_SYMPTOM),
        _m(text, "rash", MentionClass.SIGN_SYMPTOM),
    ]
    cas = annotated_cas(text, mentions)
    write_brat(cas, tmp_path / "d" / "note.txt", tmp_path / "d" / "note.ann")
    assert (tmp_path / "d" / "note.txt").read_bytes() == text.encode("utf-8")  # \r\n kept: offsets stay valid
    identity = LabelMap("ours", {c.label: c for c in MentionClass}, frozenset(MentionClass))
    gold = read_brat_document(tmp_path / "d" / "note.txt", tmp_path / "d" / "note.ann", identity)
    assert [(m.cls, m.begin, m.end, m.text) for m in gold.mentions] == [
        (m.cls, m.begin, m.end, m.text) for m in sorted(mentions, key=lambda m: (m.begin, m.end, m.cls.value))
    ]


def test_brat_annotation_conf_declares_every_label_and_attribute() -> None:
    conf = brat_annotation_conf()
    for cls in MentionClass:
        assert f"\n{cls.label}\n" in conf
    for name in ("Negation", "Uncertainty", "Conditional", "Generic", "HistoryOf", "Subject"):
        assert f"\n{name}\tArg:<ENTITY>" in conf
