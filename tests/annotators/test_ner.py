from __future__ import annotations

from typing import ClassVar

import pytest
from cassis import Cas

from ctakes_llm.annotators.ner import NerAnnotator, NerConfig
from ctakes_llm.cas.ctakes_types import MEDICATION_MENTION, SIGN_SYMPTOM_MENTION
from ctakes_llm.cas.typesystem import load_typesystem
from ctakes_llm.errors import ConfigError, GroundingError
from ctakes_llm.ner.mention import Grounding, Mention, MentionClass


def new_cas(text: str) -> Cas:
    cas = Cas(typesystem=load_typesystem("4.0.0"))
    cas.sofa_string = text
    return cas


def test_ner_annotator_adds_one_mention_per_backend_mention(fake_backend) -> None:
    cas = new_cas("No chest pain today. Takes aspirin, not chest pain.")
    NerAnnotator(fake_backend).process(cas)
    assert [fs.get_covered_text() for fs in cas.select(SIGN_SYMPTOM_MENTION)] == ["chest pain", "chest pain"]
    assert [fs.get_covered_text() for fs in cas.select(MEDICATION_MENTION)] == ["aspirin"]


def test_ner_annotator_batches_documents_into_one_backend_call(fake_backend) -> None:
    cases = [new_cas("chest pain"), new_cas("aspirin"), new_cas("nothing here")]
    annotator = NerAnnotator(fake_backend)
    annotator.process_batch(cases)
    assert fake_backend.calls == [3]
    assert [len(list(cas.select(SIGN_SYMPTOM_MENTION))) for cas in cases] == [1, 0, 0]
    assert annotator.describe()["counts"]["mentions"] == 2


def test_ner_annotator_drops_and_counts_mentions_below_min_score(fake_backend) -> None:
    cas = new_cas("chest pain")
    annotator = NerAnnotator(fake_backend, NerConfig(min_score=0.95))
    annotator.process(cas)
    assert list(cas.select(SIGN_SYMPTOM_MENTION)) == []
    assert annotator.counters["below_min_score"] == 1


class LyingBackend:
    name = "liar"
    counters: ClassVar[dict[str, int]] = {}

    def predict(self, texts):
        return [[Mention(MentionClass.SIGN_SYMPTOM, 0, 5, "fever", grounding=Grounding.EXACT)] for _ in texts]


def test_ner_annotator_refuses_offsets_that_do_not_hold_the_mention_text() -> None:
    with pytest.raises(GroundingError, match="E301"):
        NerAnnotator(LyingBackend()).process(new_cas("cough and fever"))


def test_ner_config_checks_min_score() -> None:
    with pytest.raises(ConfigError, match="E402"):
        NerConfig(min_score=2.0)
