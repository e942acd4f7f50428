"""The ConText rule engine: cue phrases, scopes, terminators, pseudo cues, sentence bounds, cTAKES encodings."""

from __future__ import annotations

import pytest

from ctakes_llm.assertion.context import ContextConfig, ContextEngine, assert_mentions, attributes_for
from ctakes_llm.assertion.rules import Category, ContextRule, Direction
from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.mention import Mention, MentionClass


@pytest.fixture(scope="module")
def engine() -> ContextEngine:
    return ContextEngine()


def _assert(engine: ContextEngine, text: str, term: str, occurrence: int = 0) -> dict[str, str]:
    begin = -1
    for _ in range(occurrence + 1):
        begin = text.index(term, begin + 1)
    mention = Mention(MentionClass.SIGN_SYMPTOM, begin, begin + len(term), term)
    return dict(assert_mentions(text, [mention], engine=engine)[0].attributes)


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Patient denies chest pain.", "chest pain"),
        ("There is no evidence of DVT on ultrasound.", "DVT"),
        ("She was negative for fever and chills.", "fever"),
        ("She was negative for fever and chills.", "chills"),
        ("Myocardial infarction was ruled out.", "Myocardial infarction"),
        ("Ruled out pulmonary embolism.", "pulmonary embolism"),
        ("Discharged home without complications.", "complications"),
        ("No fever, chills, or night sweats.", "night sweats"),
        ("Blood cultures were negative.", "Blood cultures"),
    ],
)
def test_context_negation_cues_give_polarity_minus_one(engine: ContextEngine, text: str, term: str) -> None:
    assert _assert(engine, text, term)["polarity"] == "-1"


@pytest.mark.parametrize(
    ("text", "term", "key", "value"),
    [
        ("Possible pneumonia in the left lower lobe.", "pneumonia", "uncertainty", "1"),
        ("CT chest to r/o pulmonary embolism.", "pulmonary embolism", "uncertainty", "1"),
        ("Sepsis cannot be ruled out.", "Sepsis", "uncertainty", "1"),
        ("Family history of breast cancer.", "breast cancer", "subject", "family_member"),
        ("History of stroke in 2010.", "stroke", "historyOf", "1"),
        ("Return to the ED if chest pain recurs.", "chest pain", "conditional", "true"),
    ],
)
def test_context_other_categories_use_ctakes_encodings(
    engine: ContextEngine, text: str, term: str, key: str, value: str
) -> None:
    attributes = _assert(engine, text, term)
    assert attributes[key] == value
    assert attributes["polarity"] == "1"


def test_context_family_history_is_not_patient_history(engine: ContextEngine) -> None:
    attributes = _assert(engine, "Family history of breast cancer.", "breast cancer")
    assert attributes["historyOf"] == "0"


def test_context_affirmed_mention_gets_all_six_defaults(engine: ContextEngine) -> None:
    assert _assert(engine, "The patient reports chest pain.", "chest pain") == {
        "polarity": "1",
        "uncertainty": "0",
        "conditional": "false",
        "generic": "false",
        "subject": "patient",
        "historyOf": "0",
    }


def test_context_terminator_ends_negation_scope(engine: ContextEngine) -> None:
    assert _assert(engine, "No fever but productive cough.", "fever")["polarity"] == "-1"
    assert _assert(engine, "No fever but productive cough.", "productive cough")["polarity"] == "1"


def test_context_pseudo_cue_blocks_the_cue_it_contains(engine: ContextEngine) -> None:
    assert _assert(engine, "No increase in abdominal pain.", "abdominal pain")["polarity"] == "1"
    assert _assert(engine, "Gram negative rods in sputum.", "rods")["polarity"] == "1"


def test_context_scope_stops_at_sentence_boundary(engine: ContextEngine) -> None:
    text = "He denies nausea. Vomiting started yesterday."
    assert _assert(engine, text, "nausea")["polarity"] == "-1"
    assert _assert(engine, text, "Vomiting")["polarity"] == "1"


def test_context_max_scope_limits_forward_reach() -> None:
    text = "No one two three four five six seven eight nine ten rash."
    near = ContextEngine(config=ContextConfig(max_scope=20))
    far = ContextEngine(config=ContextConfig(max_scope=3))
    assert _assert(near, text, "rash")["polarity"] == "-1"
    assert _assert(far, text, "rash")["polarity"] == "1"


def test_context_backward_cue_does_not_reach_forward(engine: ContextEngine) -> None:
    text = "Infection was ruled out and antibiotics were started."
    assert _assert(engine, text, "Infection")["polarity"] == "-1"
    assert _assert(engine, text, "antibiotics")["polarity"] == "1"


def test_context_cue_inside_mention_does_not_modify_it(engine: ContextEngine) -> None:
    assert _assert(engine, "Absent pulses.", "Absent pulses")["polarity"] == "1"


def test_context_existing_attributes_are_kept(engine: ContextEngine) -> None:
    text = "Denies chest pain."
    mention = Mention(MentionClass.SIGN_SYMPTOM, 7, 17, "chest pain", attributes={"polarity": "1"})
    assert assert_mentions(text, [mention], engine=engine)[0].attributes["polarity"] == "1"


def test_context_custom_rules_replace_shipped_ones() -> None:
    rule = ContextRule(category=Category.NEGATED_EXISTENCE, direction=Direction.FORWARD, literal="nope")
    engine = ContextEngine([rule])
    assert _assert(engine, "Nope, fever.", "fever")["polarity"] == "-1"
    assert _assert(engine, "No fever.", "fever")["polarity"] == "1"


def test_context_find_cues_prefers_longest_match(engine: ContextEngine) -> None:
    text = "Family history of diabetes."
    cues = [c for c in engine.find_cues(text) if c.rule.category is not None]
    assert [(text[c.begin : c.end], c.rule.category) for c in cues] == [("Family history of", Category.FAMILY)]


def test_attributes_for_maps_every_category() -> None:
    attributes = attributes_for(set(Category))
    assert attributes == {
        "polarity": "-1",
        "uncertainty": "1",
        "conditional": "true",
        "generic": "false",
        "subject": "family_member",
        "historyOf": "1",
    }


def test_context_config_rejects_bad_scope() -> None:
    with pytest.raises(ConfigError, match="E362"):
        ContextConfig(max_scope=0)
