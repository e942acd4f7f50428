"""The assertion annotator fills cTAKES assertion features on mentions with polarity 0 and leaves the rest."""

from __future__ import annotations

import cassis
import pytest

from ctakes_llm.annotators.assertion import AssertionAnnotator
from ctakes_llm.assertion.llm import LlmAssertionClassifier, build_prompt, parse_answer
from ctakes_llm.assertion.rules import Category
from ctakes_llm.cas.ctakes_types import DISCOVERY_EXPLICIT, SIGN_SYMPTOM_MENTION
from ctakes_llm.cas.mentions import write_mentions
from ctakes_llm.cas.typesystem import load_typesystem
from ctakes_llm.ner.mention import Mention, MentionClass

NOTE = "Patient denies chest pain. Possible pneumonia. Mother had breast cancer. Reports cough."


def _mention(term: str, attributes: dict[str, str] | None = None) -> Mention:
    begin = NOTE.index(term)
    return Mention(MentionClass.SIGN_SYMPTOM, begin, begin + len(term), term, attributes=attributes or {})


@pytest.fixture()
def cas() -> cassis.Cas:
    cas = cassis.Cas(typesystem=load_typesystem("4.0.0"))
    cas.sofa_string = NOTE
    return cas


def _by_text(cas: cassis.Cas) -> dict[str, object]:
    return {fs.get_covered_text(): fs for fs in cas.select(SIGN_SYMPTOM_MENTION)}


def test_assertion_annotator_fills_ctakes_features(cas: cassis.Cas) -> None:
    write_mentions(
        cas,
        [_mention(t) for t in ("chest pain", "pneumonia", "breast cancer", "cough")],
        discovery_technique=DISCOVERY_EXPLICIT,
    )
    annotator = AssertionAnnotator()
    annotator.process(cas)
    found = _by_text(cas)
    assert found["chest pain"].polarity == -1
    assert found["pneumonia"].polarity == 1 and found["pneumonia"].uncertainty == 1
    assert found["breast cancer"].subject == "family_member"
    assert found["cough"].polarity == 1 and found["cough"].subject == "patient"
    assert found["cough"].conditional is False and found["cough"].historyOf == 0
    assert annotator.counters["asserted"] == 4 and annotator.counters["negated"] == 1


def test_assertion_annotator_never_overwrites_upstream_polarity(cas: cassis.Cas) -> None:
    write_mentions(cas, [_mention("chest pain", {"polarity": "1"})], discovery_technique=DISCOVERY_EXPLICIT)
    annotator = AssertionAnnotator()
    annotator.process(cas)
    assert _by_text(cas)["chest pain"].polarity == 1
    assert annotator.counters["kept_upstream"] == 1


def test_assertion_annotator_uses_the_model_hook(cas: cassis.Cas) -> None:
    write_mentions(cas, [_mention("cough"), _mention("chest pain")], discovery_technique=DISCOVERY_EXPLICIT)
    prompts: list[str] = []

    def generate(prompt: str) -> str:
        prompts.append(prompt)
        return 'Here you go:\n{"id": 1, "negated": false, "uncertain": false}\n{"id": 2, "negated": true}'

    AssertionAnnotator(LlmAssertionClassifier(generate)).process(cas)
    found = _by_text(cas)
    assert found["chest pain"].polarity == 1  # the model said mention 1 ("chest pain", first in text) is affirmed
    assert found["cough"].polarity == -1
    assert '1. "chest pain" in: "Patient denies chest pain."' in prompts[0]


def test_llm_classifier_falls_back_to_rules_for_unreadable_answers() -> None:
    classifier = LlmAssertionClassifier(lambda prompt: "I cannot answer that.")
    attributes = classifier.classify(NOTE, [_mention("chest pain")])
    assert attributes[0]["polarity"] == "-1"
    assert classifier.counters["fallback"] == 1


def test_llm_parse_answer_ignores_bad_ids_and_json() -> None:
    answer = '{"id": 3, "negated": true} {"id": 1, "family": true} {broken} {"id": "2", "negated": true}'
    assert parse_answer(answer, 2) == {0: frozenset({Category.FAMILY})}


def test_llm_prompt_lists_each_mention_with_its_sentence() -> None:
    prompt = build_prompt(NOTE, [_mention("pneumonia")])
    assert '1. "pneumonia" in: "Possible pneumonia."' in prompt
