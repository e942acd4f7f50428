"""The assertion annotator fills cTAKES assertion features on mentions with polarity 0 and leaves the rest."""

from __future__ import annotations

from collections.abc import Sequence

import cassis
import pytest

from ctakes_llm.annotators.assertion import AssertionAnnotator
from ctakes_llm.assertion.llm import (
    LlmAssertionClassifier,
    LlmAssertionConfig,
    build_prompt,
    parse_answer,
    prompt_completer,
)
from ctakes_llm.assertion.rules import Category
from ctakes_llm.cas.ctakes_types import DISCOVERY_EXPLICIT, SIGN_SYMPTOM_MENTION
from ctakes_llm.cas.mentions import write_mentions
from ctakes_llm.cas.typesystem import load_typesystem
from ctakes_llm.errors import BackendError, ConfigError
from ctakes_llm.ner.formats import Request
from ctakes_llm.ner.generative import Generation
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


def test_llm_classifier_asks_mentions_per_prompt_and_numbers_each_prompt_from_one() -> None:
    prompts: list[str] = []

    def generate(prompt: str) -> str:
        prompts.append(prompt)
        return '{"id": 1, "negated": true}'  # only the first mention of each prompt is answered

    classifier = LlmAssertionClassifier(generate, config=LlmAssertionConfig(mentions_per_prompt=2))
    terms = ("chest pain", "pneumonia", "breast cancer")
    attributes = classifier.classify(NOTE, [_mention(t) for t in terms])
    assert len(prompts) == 2 and '1. "breast cancer"' in prompts[1] and "pneumonia" not in prompts[1]
    assert attributes[0]["polarity"] == "-1" and attributes[2]["polarity"] == "-1"  # the model's answers
    assert attributes[1]["uncertainty"] == "1"  # "Possible pneumonia.": left out, so the rules answered
    assert dict(classifier.counters) == {"prompts": 2, "model_answers": 2, "fallback": 1}


def test_llm_classifier_falls_back_per_prompt_when_the_backend_fails() -> None:
    def generate(prompt: str) -> str:
        if "breast cancer" in prompt:
            raise BackendError("[E247] server answered HTTP 503")
        return '{"id": 1, "negated": true}'

    classifier = LlmAssertionClassifier(generate, config=LlmAssertionConfig(mentions_per_prompt=1))
    attributes = classifier.classify(NOTE, [_mention("cough"), _mention("breast cancer")])
    assert attributes[0]["polarity"] == "-1"  # the model, against the rules ("Reports cough.")
    assert attributes[1]["subject"] == "family_member"  # the rules, for the failed prompt
    assert classifier.counters["model_errors"] == 1 and classifier.counters["fallback"] == 1


def test_llm_config_refuses_empty_prompts() -> None:
    with pytest.raises(ConfigError, match="E363"):
        LlmAssertionConfig(mentions_per_prompt=0)


def test_prompt_completer_sends_one_user_message_and_returns_the_text() -> None:
    seen: list[Request] = []

    def generate(requests: Sequence[Request]) -> list[Generation]:
        seen.extend(requests)
        return [Generation("answer", truncated=False)]

    assert prompt_completer(generate)("question") == "answer"
    assert [(m.role, m.content) for m in seen[0].messages] == [("user", "question")]


def test_assertion_annotator_describes_its_method_model_and_counts(cas: cassis.Cas) -> None:
    write_mentions(cas, [_mention("cough")], discovery_technique=DISCOVERY_EXPLICIT)
    model = {"backend": "openai", "model": "m"}
    annotator = AssertionAnnotator(LlmAssertionClassifier(lambda prompt: "no idea", model=model))
    annotator.process(cas)
    described = annotator.describe()
    assert (described["method"], described["model"]) == ("llm", model)
    assert described["counts"] == {
        "asserted": 1,
        "negated": 0,
        "classifier_prompts": 1,
        "classifier_fallback": 1,
        "classifier_model_answers": 0,
    }
    assert AssertionAnnotator().describe()["method"] == "context"
