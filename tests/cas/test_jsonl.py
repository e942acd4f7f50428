"""JSON Lines records: one document per line, code-point offsets, mentions with polarity, attributes, concepts."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import cassis

from ctakes_llm.cas.jsonl import cas_to_record, record_to_line, write_jsonl
from ctakes_llm.ner.mention import Concept, Mention, MentionClass


def test_cas_to_record_fields(annotated_cas: Callable[[str, Sequence[Mention]], cassis.Cas]) -> None:
    text = "😀 No cough; asthma."
    cough, asthma = text.index("cough"), text.index("asthma")
    cas = annotated_cas(
        text,
        [
            Mention(MentionClass.SIGN_SYMPTOM, cough, cough + 5, "cough", score=0.5, attributes={"polarity": "-1"}),
            Mention(
                MentionClass.DISEASE_DISORDER,
                asthma,
                asthma + 6,
                "asthma",
                concepts=(Concept("C0004096", "T047", "195967001", "SNOMEDCT_US", "Asthma"),),
            ),
        ],
    )
    record = cas_to_record(cas, "notes/a.txt")
    assert record == {
        "id": "notes/a.txt",
        "text": text,
        "mentions": [
            {
                "class": "SignSymptom",
                "begin": 5,
                "end": 10,
                "text": "cough",
                "polarity": -1,
                "attributes": {"polarity": "-1"},
                "concepts": [],
                "score": 0.5,
            },
            {
                "class": "DiseaseDisorder",
                "begin": 12,
                "end": 18,
                "text": "asthma",
                "polarity": 0,
                "attributes": {},
                "concepts": [
                    {
                        "cui": "C0004096",
                        "tui": "T047",
                        "code": "195967001",
                        "coding_scheme": "SNOMEDCT_US",
                        "preferred_text": "Asthma",
                        "score": None,
                    }
                ],
                "score": None,
            },
        ],
    }
    assert all(text[m["begin"] : m["end"]] == m["text"] for m in record["mentions"])  # code points, not UTF-16


def test_record_to_line_is_one_line_for_any_text(annotated_cas: Callable[[str, Sequence[Mention]], cassis.Cas]) -> None:
    text = "a\nb\r\nc\u2028d\u2029e\x85f\x0bg\x1ch é 😀"
    line = record_to_line(cas_to_record(annotated_cas(text, [Mention(MentionClass.SIGN_SYMPTOM, 0, 1, "a")]), "x"))
    assert line.endswith("\n") and len(line.splitlines()) == 1
    assert json.loads(line)["text"] == text
    assert "é 😀" in line  # non-ASCII stays readable


def test_write_jsonl_roundtrips(annotated_cas: Callable[[str, Sequence[Mention]], cassis.Cas], tmp_path: Path) -> None:
    cas = annotated_cas("fever", [Mention(MentionClass.SIGN_SYMPTOM, 0, 5, "fever", attributes={"polarity": "1"})])
    path = write_jsonl(cas, tmp_path / "o" / "n.jsonl", "n")
    [line] = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line) == cas_to_record(cas, "n")
    assert json.loads(line)["mentions"][0]["polarity"] == 1
