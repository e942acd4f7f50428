"""The BSV dictionary annotator: TUI → class, concepts, CAS output, and the real cTAKES lookup it replaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctakes_llm.annotators.base import Annotator
from ctakes_llm.annotators.dictionary import DictionaryAnnotator, DictionaryConfig
from ctakes_llm.cas.ctakes_types import (
    DISCOVERY_DICTIONARY_LOOKUP,
    DISEASE_DISORDER_MENTION,
    SENTENCE,
    SIGN_SYMPTOM_MENTION,
)
from ctakes_llm.cas.mentions import read_mentions
from ctakes_llm.cas.readers import cas_from_text
from ctakes_llm.cas.xmi import read_xmi, xmi_bytes
from ctakes_llm.errors import ConfigError
from ctakes_llm.knowledge.dictionary_matcher import MatchPolicy
from ctakes_llm.ner.mention import Concept, Grounding, MentionClass

BSV = """// test dictionary
C0008031|T184|chest pain|Chest Pain
C0008031|T184|CP
C0020538|T047|hypertension|Hypertensive disease
C0020538|T047|HTN
C0004057|T121|aspirin
C0817096|T029|chest
C0011849|T047|diabetes
C0011849|T033|diabetes
C0022885|T059|blood test
C0022885|T034|troponin
C0025080|T074|stent
C0000001|T184|over
C0000002|headache
"""


@pytest.fixture
def bsv(tmp_path: Path) -> Path:
    path = tmp_path / "test.bsv"
    path.write_text(BSV, encoding="utf-8")
    return path


def _spans(mentions: list) -> list[tuple[str, MentionClass]]:  # type: ignore[type-arg]
    return [(m.text, m.cls) for m in mentions]


def test_dictionary_annotator_follows_the_annotator_protocol(bsv: Path) -> None:
    annotator = DictionaryAnnotator(DictionaryConfig(bsv))
    assert isinstance(annotator, Annotator)
    assert annotator.requires == ()
    assert DISEASE_DISORDER_MENTION in annotator.produces


def test_find_mentions_maps_tuis_to_ctakes_classes(bsv: Path) -> None:
    annotator = DictionaryAnnotator(DictionaryConfig(bsv))
    text = "Hypertension, chest pain over 2 days; aspirin. Stent placed; troponin ok."
    mentions = annotator.find_mentions(text)
    assert _spans(mentions) == [
        ("Hypertension", MentionClass.DISEASE_DISORDER),
        ("chest pain", MentionClass.SIGN_SYMPTOM),
        ("aspirin", MentionClass.MEDICATION),
    ]
    assert all(text[m.begin : m.end] == m.text and m.grounding is Grounding.MODEL_OFFSETS for m in mentions)
    assert annotator.counters["entries_without_class"] == 2  # the device and the lab result
    assert annotator.counters["function_words"] == 1  # "over"


def test_find_mentions_fills_concepts_like_ctakes(bsv: Path) -> None:
    annotator = DictionaryAnnotator(DictionaryConfig(bsv, coding_scheme="SNOMEDCT_US"))
    [mention] = annotator.find_mentions("Known HTN.")
    assert mention.concepts == (Concept("C0020538", "T047", "C0020538", "SNOMEDCT_US", None),)
    [mention] = DictionaryAnnotator(DictionaryConfig(bsv)).find_mentions("no chest pain")
    assert mention.concepts[0].preferred_text == "Chest Pain"
    assert mention.concepts[0].coding_scheme == "custom"


def test_a_term_with_tuis_of_two_classes_gives_one_mention_per_class(bsv: Path) -> None:
    annotator = DictionaryAnnotator(DictionaryConfig(bsv))
    mentions = annotator.find_mentions("Diabetes.")
    assert _spans(mentions) == [("Diabetes", MentionClass.DISEASE_DISORDER), ("Diabetes", MentionClass.SIGN_SYMPTOM)]
    assert [c.tui for m in mentions for c in m.concepts] == ["T047", "T033"]


def test_policy_all_keeps_nested_terms_like_ctakes(bsv: Path) -> None:
    annotator = DictionaryAnnotator(DictionaryConfig(bsv, policy=MatchPolicy.ALL))
    assert _spans(annotator.find_mentions("chest pain")) == [
        ("chest", MentionClass.ANATOMICAL_SITE),
        ("chest pain", MentionClass.SIGN_SYMPTOM),
    ]


def test_short_terms_and_tui_less_entries_follow_the_config(bsv: Path) -> None:
    default = DictionaryAnnotator(DictionaryConfig(bsv))
    assert _spans(default.find_mentions("CP and headache")) == []
    assert default.counters["shorter_than_min_chars"] == 1
    loose = DictionaryAnnotator(
        DictionaryConfig(bsv, min_chars=2, default_class=MentionClass.SIGN_SYMPTOM, skip_function_words=False)
    )
    assert _spans(loose.find_mentions("CP and headache over")) == [
        ("CP", MentionClass.SIGN_SYMPTOM),
        ("headache", MentionClass.SIGN_SYMPTOM),
        ("over", MentionClass.SIGN_SYMPTOM),
    ]


def test_terms_are_looked_up_within_sentences(bsv: Path) -> None:
    annotator = DictionaryAnnotator(DictionaryConfig(bsv, policy=MatchPolicy.ALL))
    assert _spans(annotator.find_mentions("Chest\npain")) == [("Chest", MentionClass.ANATOMICAL_SITE)]


def test_process_writes_dictionary_mentions_with_umls_concepts(bsv: Path) -> None:
    text = "😀 No chest pain.\nHTN"
    cas = cas_from_text(text)
    DictionaryAnnotator(DictionaryConfig(bsv)).process(cas)
    [pain] = cas.select(SIGN_SYMPTOM_MENTION)
    assert (pain.get_covered_text(), pain.discoveryTechnique, pain.typeID) == (
        "chest pain",
        DISCOVERY_DICTIONARY_LOOKUP,
        3,
    )
    [concept] = pain.ontologyConceptArr.elements
    assert (concept.cui, concept.tui, concept.code, concept.codingScheme, concept.preferredText) == (
        "C0008031",
        "T184",
        "C0008031",
        "custom",
        "Chest Pain",
    )
    assert [m.text for m in read_mentions(cas)] == ["chest pain", "HTN"]
    assert b"ontologyConceptArr" in xmi_bytes(cas)


def test_process_uses_the_sentences_in_the_cas(bsv: Path) -> None:
    cas = cas_from_text("chest pain")
    cas.add(cas.typesystem.get_type(SENTENCE)(begin=0, end=5, sentenceNumber=0))
    DictionaryAnnotator(DictionaryConfig(bsv)).process(cas)
    assert [(m.text, m.cls) for m in read_mentions(cas)] == [("chest", MentionClass.ANATOMICAL_SITE)]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"path": ""}, "E510"),
        ({"min_chars": 0}, "E511"),
        ({"coding_scheme": " "}, "E512"),
        ({"policy": "most"}, "E513"),
        ({"default_class": "Lab"}, "E514"),
    ],
)
def test_dictionary_config_checks_itself(kwargs: dict[str, object], code: str) -> None:
    options: dict[str, object] = {"path": "dict.bsv", **kwargs}
    with pytest.raises(ConfigError, match=code):
        DictionaryConfig(**options)  # type: ignore[arg-type]


def test_dictionary_config_accepts_names_from_pipeline_files() -> None:
    config = DictionaryConfig(path="dict.bsv", policy="ALL", default_class="Medication")  # type: ignore[arg-type]
    assert (config.policy, config.default_class) == (MatchPolicy.ALL, MentionClass.MEDICATION)


def test_dictionary_lookup_finds_what_real_ctakes_found(shared_dir: Path, tmp_path: Path) -> None:
    """A BSV made from the mentions of real cTAKES fast-lookup output finds those mentions again.

    cTAKES's run used a 582-row BSV we do not have; rebuilding the rows from each note's mentions lets our lookup
    be compared with cTAKES's on the same text. Known differences: cTAKES found a 2-character "f/" (below our
    min_chars) and skipped one "over" by part of speech.
    """
    total = same = extra = 0
    for path in sorted((shared_dir / "ctakes" / "ctakes-run-output" / "xmi").glob("*.xmi")):
        cas = read_xmi(path)
        theirs = read_mentions(cas)
        if not theirs:
            continue
        rows = sorted({f"{c.cui}|{c.tui}|{m.text}" for m in theirs for c in m.concepts})
        bsv = tmp_path / f"{path.stem}.bsv"
        bsv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        annotator = DictionaryAnnotator(DictionaryConfig(bsv, policy=MatchPolicy.ALL))
        sentences = [(s.begin, s.end) for s in cas.select(SENTENCE)]
        ours = annotator.find_mentions(cas.sofa_string, sentences)

        def key(m):  # type: ignore[no-untyped-def]
            return (m.cls, m.begin, m.end, frozenset((c.cui, c.tui) for c in m.concepts))

        their_keys, our_keys = {key(m) for m in theirs}, {key(m) for m in ours}
        total += len(their_keys)
        same += len(their_keys & our_keys)
        extra += len(our_keys - their_keys)
    assert total > 200
    assert same / total >= 0.98
    assert extra <= 0.02 * total


def test_dictionary_adds_no_second_mention_where_the_model_annotated_and_fills_its_concepts(tmp_path) -> None:
    from ctakes_llm.annotators.dictionary import DictionaryAnnotator, DictionaryConfig
    from ctakes_llm.cas.ctakes_types import MEDICATION_MENTION
    from ctakes_llm.cas.mentions import read_mentions, write_mentions
    from ctakes_llm.cas.readers import cas_from_text
    from ctakes_llm.ner.mention import Mention, MentionClass

    bsv = tmp_path / "terms.bsv"
    bsv.write_text("C0004057|T121|aspirin\nC0008031|T184|chest pain\n", encoding="utf-8")
    cas = cas_from_text("Takes aspirin. No chest pain.", "4.0.0")
    write_mentions(cas, [Mention(MentionClass.MEDICATION, 6, 13, "aspirin")], discovery_technique=3)
    annotator = DictionaryAnnotator(DictionaryConfig(bsv))
    annotator.process(cas)
    assert len(cas.select(MEDICATION_MENTION)) == 1
    by_text = {m.text: [c.cui for c in m.concepts] for m in read_mentions(cas)}
    assert by_text == {"aspirin": ["C0004057"], "chest pain": ["C0008031"]}
    assert annotator.counters["already_annotated"] == 1
