"""The concept annotator fills ontologyConceptArr from the knowledge index and keeps upstream concepts."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import cassis
import pytest

from ctakes_llm.annotators.assertion import AssertionAnnotator
from ctakes_llm.annotators.concepts import ConceptAnnotator
from ctakes_llm.cas.ctakes_types import DISCOVERY_EXPLICIT, UMLS_CONCEPT
from ctakes_llm.cas.mentions import read_mentions, write_mentions
from ctakes_llm.cas.typesystem import load_typesystem
from ctakes_llm.knowledge.index import KnowledgeIndex, build_index
from ctakes_llm.knowledge.normalize import ConceptConfig
from ctakes_llm.ner.mention import Concept, Mention, MentionClass

BSV = """\
C0008031|T184|chest pain|Chest Pain
C0011849|T047|diabetes|Diabetes Mellitus
C0015967|T184|fever|Fever
C0015967|T184|cold|Fever
C0009443|T047|cold|Common Cold
C0013604|T033|edema|Edema
C0020538|T047|hypertension|Hypertensive disease
"""
NOTE = "Denies chest pain. Known diabetes. Treated hypertenson. He has a cold. No edema. Mild headache."


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeIndex]:
    root = tmp_path_factory.mktemp("kb")
    (root / "d.bsv").write_text(BSV, encoding="utf-8")
    build_index(root / "kb.sqlite", bsv=[root / "d.bsv"])
    with KnowledgeIndex(root / "kb.sqlite") as opened:
        yield opened


def _mention(term: str, cls: MentionClass = MentionClass.SIGN_SYMPTOM, **kwargs: object) -> Mention:
    begin = NOTE.index(term)
    return Mention(cls, begin, begin + len(term), term, **kwargs)  # type: ignore[arg-type]


def _cas(mentions: list[Mention]) -> cassis.Cas:
    cas = cassis.Cas(typesystem=load_typesystem("4.0.0"))
    cas.sofa_string = NOTE
    write_mentions(cas, mentions, discovery_technique=DISCOVERY_EXPLICIT)
    return cas


def test_concept_annotator_fills_cuis_exact_and_fuzzy(index: KnowledgeIndex) -> None:
    cas = _cas(
        [
            _mention("chest pain"),
            _mention("diabetes", MentionClass.DISEASE_DISORDER),
            _mention("hypertenson", MentionClass.DISEASE_DISORDER),
            _mention("headache"),
        ]
    )
    annotator = ConceptAnnotator(index)
    annotator.process(cas)
    found = {m.text: m.concepts for m in read_mentions(cas)}
    assert [(c.cui, c.tui, c.preferred_text, c.score) for c in found["chest pain"]] == [
        ("C0008031", "T184", "Chest Pain", 1.0)
    ]
    assert found["diabetes"][0].cui == "C0011849"
    assert found["hypertenson"][0].cui == "C0020538" and (found["hypertenson"][0].score or 1) < 0.8
    assert found["headache"] == ()
    assert annotator.counters["with_concepts"] == 3 and annotator.counters["without_concepts"] == 1


def test_concept_annotator_prefers_concepts_of_the_mention_class(index: KnowledgeIndex) -> None:
    cas = _cas([_mention("cold", MentionClass.DISEASE_DISORDER)])
    ConceptAnnotator(index).process(cas)
    assert [c.cui for c in read_mentions(cas)[0].concepts] == ["C0009443"]
    cas = _cas([_mention("cold", MentionClass.DISEASE_DISORDER)])
    ConceptAnnotator(index, ConceptConfig(match_class=False)).process(cas)
    assert sorted(c.cui for c in read_mentions(cas)[0].concepts) == ["C0009443", "C0015967"]


def test_concept_annotator_keeps_upstream_concepts(index: KnowledgeIndex) -> None:
    upstream = (Concept(cui="C1234567", tui="T184", preferred_text="Upstream"),)
    cas = _cas([_mention("chest pain", concepts=upstream)])
    annotator = ConceptAnnotator(index)
    annotator.process(cas)
    assert [c.cui for c in read_mentions(cas)[0].concepts] == ["C1234567"]
    assert annotator.counters["kept_upstream"] == 1


def test_default_steps_give_cuis_and_polarity_in_xmi(index: KnowledgeIndex, tmp_path: Path) -> None:
    """The issue's 'done when': CUIs where the index knows the concept, and negated findings negated."""
    cas = _cas([_mention("chest pain"), _mention("diabetes", MentionClass.DISEASE_DISORDER), _mention("edema")])
    AssertionAnnotator().process(cas)
    ConceptAnnotator(index).process(cas)
    xmi = cas.to_xmi()
    reread = cassis.load_cas_from_xmi(io.BytesIO(xmi.encode("utf-8")), typesystem=load_typesystem("4.0.0"))
    found = {m.text: m for m in read_mentions(reread)}
    assert found["chest pain"].attributes["polarity"] == "-1"
    assert found["edema"].attributes["polarity"] == "-1"
    assert "polarity" not in found["diabetes"].attributes or found["diabetes"].attributes["polarity"] == "1"
    assert found["diabetes"].concepts[0].cui == "C0011849"
    assert len(list(reread.select(UMLS_CONCEPT))) == 0  # concepts hang off the mentions, not the index


def test_concept_annotator_opens_an_index_path(index: KnowledgeIndex) -> None:
    cas = _cas([_mention("chest pain")])
    ConceptAnnotator(str(index.path)).process(cas)
    assert read_mentions(cas)[0].concepts[0].cui == "C0008031"
