"""Mention ↔ cTAKES feature structures: classes, typeID, assertion encodings, concepts, offsets, real cTAKES XMI."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cassis
import pytest
from lxml import etree

from ctakes_llm.cas.ctakes_types import (
    DISCOVERY_DICTIONARY_LOOKUP,
    DISCOVERY_EXPLICIT,
    MENTION_TYPE_BY_CLASS,
    SIGN_SYMPTOM_MENTION,
    UMLS_CONCEPT,
)
from ctakes_llm.cas.mentions import read_mentions, set_assertion, write_mentions
from ctakes_llm.cas.typesystem import load_typesystem
from ctakes_llm.errors import OutputError, TypeSystemError
from ctakes_llm.ner.mention import Concept, Grounding, Mention, MentionClass

TS_4_0_0 = "4.0.0"
TEXTSEM_NS = "http:///org/apache/ctakes/typesystem/type/textsem.ecore"
CLASS_NAMES = {name.rsplit(".", 1)[1]: cls for cls, name in MENTION_TYPE_BY_CLASS.items()}


def _cas(ts: cassis.TypeSystem, text: str) -> cassis.Cas:
    cas = cassis.Cas(typesystem=ts)
    cas.sofa_string = text
    return cas


def _mention(text: str, span: str, cls: MentionClass, **kwargs: object) -> Mention:
    begin = text.index(span)
    return Mention(cls, begin, begin + len(span), span, **kwargs)  # type: ignore[arg-type]


def test_write_mentions_class_and_type_id_per_mention_class(ts: cassis.TypeSystem) -> None:
    text = "aspirin flu cough biopsy knee"
    spans = {
        "aspirin": MentionClass.MEDICATION,
        "flu": MentionClass.DISEASE_DISORDER,
        "cough": MentionClass.SIGN_SYMPTOM,
        "biopsy": MentionClass.PROCEDURE,
        "knee": MentionClass.ANATOMICAL_SITE,
    }
    cas = _cas(ts, text)
    fss = write_mentions(cas, [_mention(text, s, c) for s, c in spans.items()], discovery_technique=DISCOVERY_EXPLICIT)
    got = {fs.get_covered_text(): (fs.type.name, fs.typeID, fs.discoveryTechnique) for fs in fss}
    assert got == {s: (MENTION_TYPE_BY_CLASS[c], c.value, DISCOVERY_EXPLICIT) for s, c in spans.items()}
    assert {(fs.typeID) for fs in fss} == {1, 2, 3, 5, 6}
    assert len(cas.select(SIGN_SYMPTOM_MENTION)) == 1


def test_write_mentions_assertion_features_have_ctakes_types(ts: cassis.TypeSystem) -> None:
    text = "no chest pain"
    attrs = {
        "polarity": "-1",
        "uncertainty": "1",
        "conditional": "true",
        "generic": "0",
        "subject": "family_member",
        "historyOf": "1",
    }
    cas = _cas(ts, text)
    [fs] = write_mentions(
        cas,
        [_mention(text, "chest pain", MentionClass.SIGN_SYMPTOM, score=0.75, attributes=attrs)],
        discovery_technique=DISCOVERY_DICTIONARY_LOOKUP,
    )
    assert (fs.polarity, fs.uncertainty, fs.conditional, fs.generic, fs.subject, fs.historyOf) == (
        -1,
        1,
        True,
        False,
        "family_member",
        1,
    )
    assert fs.confidence == pytest.approx(0.75)
    xmi = cas.to_xmi()
    assert 'polarity="-1"' in xmi and 'conditional="true"' in xmi and 'generic="false"' in xmi


def test_write_mentions_polarity_zero_when_no_assertion_ran(ts: cassis.TypeSystem) -> None:
    text = "chest pain"
    cas = _cas(ts, text)
    [fs] = write_mentions(cas, [_mention(text, "chest pain", MentionClass.SIGN_SYMPTOM)], discovery_technique=3)
    assert fs.polarity == 0
    assert fs.confidence in (None, 0.0)


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("polarity", "yes", "E141"),
        ("polarity", "2", "E141"),
        ("uncertainty", "-1", "E141"),
        ("conditional", "maybe", "E142"),
        ("subject", "mother", "E143"),
    ],
)
def test_write_mentions_rejects_values_ctakes_does_not_use(
    ts: cassis.TypeSystem, key: str, value: str, code: str
) -> None:
    text = "chest pain"
    cas = _cas(ts, text)
    with pytest.raises(OutputError, match=code):
        write_mentions(
            cas,
            [_mention(text, "chest pain", MentionClass.SIGN_SYMPTOM, attributes={key: value})],
            discovery_technique=3,
        )


def test_write_mentions_unknown_attribute_is_logged_not_written(
    ts: cassis.TypeSystem, caplog: pytest.LogCaptureFixture
) -> None:
    text = "chest pain"
    cas = _cas(ts, text)
    write_mentions(
        cas,
        [_mention(text, "chest pain", MentionClass.SIGN_SYMPTOM, attributes={"severity": "high"})],
        discovery_technique=3,
    )
    assert "E146" in caplog.text and "severity" in caplog.text
    assert "severity" not in cas.to_xmi()


def test_write_mentions_offsets_outside_text_raise(ts: cassis.TypeSystem) -> None:
    cas = _cas(ts, "short")
    with pytest.raises(OutputError, match="E144"):
        write_mentions(cas, [Mention(MentionClass.SIGN_SYMPTOM, 2, 9, "ort and")], discovery_technique=3)


def test_write_mentions_missing_type_raises_type_system_error() -> None:
    cas = cassis.Cas()
    cas.sofa_string = "chest pain"
    with pytest.raises(TypeSystemError, match="E140"):
        write_mentions(cas, [Mention(MentionClass.SIGN_SYMPTOM, 0, 5, "chest")], discovery_technique=3)


def test_write_mentions_concepts_in_array_not_indexed(ts: cassis.TypeSystem) -> None:
    text = "chest pain"
    concepts = (
        Concept("C0008031", "T184", "29857009", "SNOMEDCT_US", "Chest Pain", 0.5),
        Concept("C0008031", "T184", "R07.9", "ICD10CM", "Chest Pain"),
    )
    cas = _cas(ts, text)
    [fs] = write_mentions(
        cas, [_mention(text, "chest pain", MentionClass.SIGN_SYMPTOM, concepts=concepts)], discovery_technique=3
    )
    elements = fs.ontologyConceptArr.elements
    assert [(c.type.name, c.cui, c.tui, c.code, c.codingScheme, c.preferredText) for c in elements] == [
        (UMLS_CONCEPT, "C0008031", "T184", "29857009", "SNOMEDCT_US", "Chest Pain"),
        (UMLS_CONCEPT, "C0008031", "T184", "R07.9", "ICD10CM", "Chest Pain"),
    ]
    assert elements[0].score == pytest.approx(0.5)
    assert cas.select(UMLS_CONCEPT) == []  # cTAKES keeps concepts out of the index
    root = etree.fromstring(cas.to_xmi().encode("utf-8"))
    members = root.find("{http:///uima/cas.ecore}View").get("members").split()
    umls = root.findall("{http:///org/apache/ctakes/typesystem/type/refsem.ecore}UmlsConcept")
    assert len(umls) == 2  # serialized, because the mention references them
    assert not {u.get("{http://www.omg.org/XMI}id") for u in umls} & set(members)


def test_write_mentions_emoji_offsets_are_utf16_in_xmi(ts: cassis.TypeSystem) -> None:
    text = "😀🩺 no chest pain 𝄞 fever"
    mentions = [
        _mention(text, "chest pain", MentionClass.SIGN_SYMPTOM),
        _mention(text, "fever", MentionClass.SIGN_SYMPTOM),
    ]
    cas = _cas(ts, text)
    write_mentions(cas, mentions, discovery_technique=3)
    root = etree.fromstring(cas.to_xmi().encode("utf-8"))
    utf16 = text.encode("utf-16-le")
    for element in root.iter(f"{{{TEXTSEM_NS}}}SignSymptomMention"):
        begin, end = int(element.get("begin")), int(element.get("end"))
        assert utf16[2 * begin : 2 * end].decode("utf-16-le") in ("chest pain", "fever")
    assert sorted(int(e.get("begin")) for e in root.iter(f"{{{TEXTSEM_NS}}}SignSymptomMention")) == [
        text.index("chest pain") + 2,
        text.index("fever") + 3,
    ]
    back = cassis.load_cas_from_xmi(cas.to_xmi(), typesystem=cas.typesystem)
    assert read_mentions(back) == [
        Mention(m.cls, m.begin, m.end, m.text, grounding=Grounding.MODEL_OFFSETS) for m in mentions
    ]


def test_read_mentions_inverts_write_mentions(ts: cassis.TypeSystem) -> None:
    text = "No cough; mother had asthma. Took 💊aspirin."
    mentions = [
        _mention(
            text,
            "cough",
            MentionClass.SIGN_SYMPTOM,
            score=0.8,
            attributes={"polarity": "-1"},
            grounding=Grounding.MODEL_OFFSETS,
        ),
        _mention(
            text,
            "asthma",
            MentionClass.DISEASE_DISORDER,
            attributes={"polarity": "1", "subject": "family_member", "historyOf": "1", "generic": "true"},
            concepts=(Concept("C0004096", "T047", "195967001", "SNOMEDCT_US", "Asthma"),),
            grounding=Grounding.MODEL_OFFSETS,
        ),
        _mention(
            text,
            "💊aspirin",
            MentionClass.MEDICATION,
            grounding=Grounding.MODEL_OFFSETS,
            concepts=(Concept("", code="1191", coding_scheme="RXNORM"),),
        ),
    ]
    cas = _cas(ts, text)
    write_mentions(cas, mentions, discovery_technique=3)
    back = cassis.load_cas_from_xmi(cas.to_xmi(), typesystem=ts)
    got = read_mentions(back)
    assert got == mentions
    assert [back.sofa_string[m.begin : m.end] for m in got] == [m.text for m in got]


def test_set_assertion_fills_only_untouched_mentions(ts: cassis.TypeSystem) -> None:
    text = "no cough, fever"
    cas = _cas(ts, text)
    cough, fever = write_mentions(
        cas,
        [
            _mention(text, "cough", MentionClass.SIGN_SYMPTOM),
            _mention(text, "fever", MentionClass.SIGN_SYMPTOM, attributes={"polarity": "-1"}),
        ],
        discovery_technique=3,
    )
    assert set_assertion(cough, {"uncertainty": "1"}) is True
    assert (cough.polarity, cough.uncertainty) == (1, 1)  # an assertion ran: polarity is now "not negated"
    assert set_assertion(cough, {"polarity": "-1"}) is False
    assert set_assertion(fever, {"polarity": "1"}) is False
    assert (cough.polarity, fever.polarity) == (1, -1)
    with pytest.raises(OutputError, match="E142"):
        set_assertion(
            write_mentions(cas, [_mention(text, "fever", MentionClass.SIGN_SYMPTOM)], discovery_technique=3)[0],
            {"generic": "often"},
        )


def _real_xmis(shared_dir: Path) -> list[tuple[Path, Path | str]]:
    ctakes = shared_dir / "ctakes"
    run = ctakes / "ctakes-run-output"
    pairs: list[tuple[Path, Path | str]] = [
        (path, run / "TypeSystem.xml") for path in sorted((run / "xmi").glob("*.xmi"))
    ]
    samples = ctakes / "xmi-samples"
    pairs += [(path, TS_4_0_0) for path in sorted(samples.glob("*/*.xmi")) if "no_preferred_text" not in path.name]
    return pairs


def _lxml_counts(path: Path) -> tuple[Counter[MentionClass], int, int]:
    """Mentions per class, negated mentions and concept references, counted straight from the XML."""
    root = etree.parse(str(path)).getroot()
    counts: Counter[MentionClass] = Counter()
    negated = concepts = 0
    for element in root:
        if not isinstance(element.tag, str) or not element.tag.startswith(f"{{{TEXTSEM_NS}}}"):
            continue
        cls = CLASS_NAMES.get(etree.QName(element).localname)
        if cls is None or int(element.get("begin")) >= int(element.get("end")):
            continue
        counts[cls] += 1
        negated += element.get("polarity") == "-1"
        concepts += len((element.get("ontologyConceptArr") or "").split())
    return counts, negated, concepts


def test_read_mentions_real_ctakes_xmi_counts_match_lxml(shared_dir: Path) -> None:
    pairs = _real_xmis(shared_dir)
    assert len(pairs) >= 21
    type_systems = {ts_path: load_typesystem(ts_path) for ts_path in {ts for _, ts in pairs}}
    total = 0
    for path, ts_path in pairs:
        with path.open("rb") as handle:
            cas = cassis.load_cas_from_xmi(handle, typesystem=type_systems[ts_path])
        mentions = read_mentions(cas)
        counts, negated, concepts = _lxml_counts(path)
        assert Counter(m.cls for m in mentions) == counts, path.name
        assert sum(m.attributes.get("polarity") == "-1" for m in mentions) == negated, path.name
        assert sum(len(m.concepts) for m in mentions) == concepts, path.name
        assert all(cas.sofa_string[m.begin : m.end] == m.text for m in mentions)
        assert all(m.grounding is Grounding.MODEL_OFFSETS for m in mentions)
        total += len(mentions)
    assert total > 300


def test_read_mentions_real_ctakes_attributes_and_concepts(shared_dir: Path) -> None:
    path = shared_dir / "ctakes" / "xmi-samples" / "JuliaHealth-CTakesParser.jl" / "mts_sample_note_97_1152.txt.xmi"
    with path.open("rb") as handle:
        cas = cassis.load_cas_from_xmi(handle, typesystem=load_typesystem(TS_4_0_0))
    mentions = read_mentions(cas)
    assert Counter(m.attributes.get("subject") for m in mentions) == Counter(patient=89, family_member=1)
    assert sum(m.attributes.get("conditional") == "true" for m in mentions) == 1
    assert all(c.cui.startswith("C") and c.coding_scheme for m in mentions for c in m.concepts)
    assert {c.coding_scheme for m in mentions for c in m.concepts} <= {"SNOMEDCT_US", "RXNORM"}
