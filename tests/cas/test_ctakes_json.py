"""cTAKES REST summary JSON: the service's shape, parsed by the PyPI client ``ctakesclient``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cassis
from ctakesclient.client import _adjust_character_indexes
from ctakesclient.typesystem import CtakesJSON, Polarity, UmlsTypeMention

from ctakes_llm.cas.ctakes_json import cas_to_ctakes_json, utf16_offsets, write_ctakes_json
from ctakes_llm.cas.ctakes_types import IDENTIFIED_ANNOTATION
from ctakes_llm.cas.mentions import read_mentions, write_mentions
from ctakes_llm.cas.typesystem import load_typesystem
from ctakes_llm.ner.mention import Concept, Mention, MentionClass

TS_4_0_0 = "4.0.0"


def _cas_with_mentions(
    ts: cassis.TypeSystem,
    text: str,
    mentions: list[tuple[str, MentionClass, dict[str, str]]],
    concepts: tuple[Concept, ...] = (),
) -> cassis.Cas:
    cas = cassis.Cas(typesystem=ts)
    cas.sofa_string = text
    values = []
    for span, cls, attributes in mentions:
        begin = text.index(span)
        values.append(Mention(cls, begin, begin + len(span), span, attributes=attributes, concepts=concepts))
    write_mentions(cas, values, discovery_technique=1)
    return cas


def test_ctakes_json_shape_matches_rest_service(ts: cassis.TypeSystem) -> None:
    concepts = (
        Concept("C0008031", "T184", None, "SNOMEDCT_US", "Chest Pain"),
        Concept("", code="X", coding_scheme="x"),
    )
    cas = _cas_with_mentions(
        ts, "no chest pain", [("chest pain", MentionClass.SIGN_SYMPTOM, {"polarity": "-1"})], concepts
    )
    assert cas_to_ctakes_json(cas) == {
        "SignSymptomMention": [
            {
                "begin": 3,
                "end": 13,
                "text": "chest pain",
                "polarity": -1,
                "type": "SignSymptomMention",
                # cTAKES writes "n/a" for a missing code and lists UmlsConcepts only (not the plain OntologyConcept)
                "conceptAttributes": [{"codingScheme": "SNOMEDCT_US", "cui": "C0008031", "code": "n/a", "tui": "T184"}],
            }
        ]
    }


def test_ctakes_json_parses_with_ctakesclient(ts: cassis.TypeSystem) -> None:
    text = "Aspirin for flu, no cough; knee biopsy."
    cas = _cas_with_mentions(
        ts,
        text,
        [
            ("Aspirin", MentionClass.MEDICATION, {}),
            ("flu", MentionClass.DISEASE_DISORDER, {"polarity": "1"}),
            ("cough", MentionClass.SIGN_SYMPTOM, {"polarity": "-1"}),
            ("knee", MentionClass.ANATOMICAL_SITE, {}),
            ("knee biopsy", MentionClass.PROCEDURE, {"polarity": "1"}),
        ],
        (Concept("C1", "T047", "1", "SNOMEDCT_US"),),
    )
    ident = ts.get_type(IDENTIFIED_ANNOTATION)(begin=0, end=7, polarity=0)
    cas.add(ident)
    summary = json.loads(json.dumps(cas_to_ctakes_json(cas)))
    parsed = CtakesJSON(summary)
    assert [m.text for m in parsed.list_match(polarity=Polarity.neg)] == ["cough"]
    assert len(parsed.list_match(polarity=Polarity.pos)) == 5  # our polarity 1 and 0 both read as "pos" (0)
    assert [m.text for m in parsed.list_procedure()] == ["knee biopsy"]
    assert [m.text for m in parsed.list_identified_annotation()] == ["Aspirin"]
    assert parsed.list_concept_cui().count("C1") == 5
    assert set(parsed.mentions) == {*UmlsTypeMention}
    assert CtakesJSON(parsed.as_json()).as_json() == parsed.as_json()


def test_ctakes_json_offsets_are_utf16_like_the_java_service(ts: cassis.TypeSystem) -> None:
    text = "😀🩺 chest pain, 𝄞 fever 😷"
    cas = _cas_with_mentions(
        ts, text, [("chest pain", MentionClass.SIGN_SYMPTOM, {}), ("fever", MentionClass.SIGN_SYMPTOM, {})]
    )
    items = cas_to_ctakes_json(cas)["SignSymptomMention"]
    utf16 = text.encode("utf-16-le")
    assert [utf16[2 * i["begin"] : 2 * i["end"]].decode("utf-16-le") for i in items] == ["chest pain", "fever"]
    assert [i["begin"] for i in items] == [text.index("chest pain") + 2, text.index("fever") + 3]
    parsed = CtakesJSON(cas_to_ctakes_json(cas))
    _adjust_character_indexes(text, parsed)  # what ctakesclient.extract does with a real server's answer
    assert [text[m.begin : m.end] for m in parsed.list_match()] == ["chest pain", "fever"]


def test_utf16_offsets_counts_surrogate_pairs() -> None:
    assert utf16_offsets("a😀b") == [0, 1, 3, 4]
    assert utf16_offsets("") == [0]


def test_write_ctakes_json_writes_file(ts: cassis.TypeSystem, tmp_path: Path) -> None:
    cas = _cas_with_mentions(ts, "fièvre 😷", [("fièvre", MentionClass.SIGN_SYMPTOM, {})])
    path = write_ctakes_json(cas, tmp_path / "out" / "note.json")
    assert json.loads(path.read_text(encoding="utf-8")) == cas_to_ctakes_json(cas)
    assert "fièvre" in path.read_text(encoding="utf-8")
    assert [p.name for p in path.parent.iterdir()] == ["note.json"]  # no temporary file left behind


def test_ctakes_json_real_ctakes_xmi_parses_and_counts_match(shared_dir: Path) -> None:
    run = shared_dir / "ctakes" / "ctakes-run-output"
    pairs = [(p, run / "TypeSystem.xml") for p in sorted((run / "xmi").glob("*.xmi"))]
    pairs.append(
        (
            shared_dir / "ctakes" / "xmi-samples" / "JuliaHealth-CTakesParser.jl" / "mts_sample_note_97_1152.txt.xmi",
            TS_4_0_0,
        )
    )
    type_systems = {path: load_typesystem(path) for path in {ts_path for _, ts_path in pairs}}
    for path, ts_path in pairs:
        with path.open("rb") as handle:
            cas = cassis.load_cas_from_xmi(handle, typesystem=type_systems[ts_path])
        summary = cas_to_ctakes_json(cas)
        parsed = CtakesJSON(summary)
        mentions = read_mentions(cas)
        got = Counter({key.value: len(value) for key, value in parsed.mentions.items()})
        assert got == Counter(f"{m.cls.label}Mention" for m in mentions), path.name
        negated = sum(m.attributes.get("polarity") == "-1" for m in mentions)
        assert len(parsed.list_match(polarity=Polarity.neg)) == negated, path.name
        assert sum(len(m.concepts) for m in mentions) == len(parsed.list_concept()), path.name
