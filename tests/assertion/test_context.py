"""The ConText rule engine: cue phrases, scopes, terminators, pseudo cues, sentence bounds, cTAKES encodings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ctakes_llm.annotators.preprocess import PreprocessAnnotator, PreprocessConfig
from ctakes_llm.assertion.context import ContextConfig, ContextEngine, Cue, assert_mentions, attributes_for
from ctakes_llm.assertion.rules import Category, ContextRule, Direction
from ctakes_llm.cas.ctakes_types import SENTENCE, WORD_TOKEN
from ctakes_llm.cas.readers import cas_from_text, decode_text
from ctakes_llm.corpora.brat import read_brat_corpus
from ctakes_llm.corpora.label_map import load_label_map
from ctakes_llm.corpora.splits import read_split
from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.mention import Mention, MentionClass
from ctakes_llm.ner.sentences import split_sentences


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


class _EveryRuleEngine(ContextEngine):
    """The reference: every rule's regex over the span, then the same overlap resolution (no rule index)."""

    def find_cues(self, text: str, begin: int = 0, end: int | None = None) -> list[Cue]:
        stop = len(text) if end is None else end
        found = [
            Cue(match.start(), match.end(), rule)
            for rule in self.rules
            for match in rule.regex.finditer(text, begin, stop)
            if match.end() > match.start()
        ]
        found.sort(key=lambda cue: (cue.begin - cue.end, cue.begin))
        kept: list[Cue] = []
        for cue in found:
            if all(cue.end <= o.begin or cue.begin >= o.end or (cue.begin, cue.end) == (o.begin, o.end) for o in kept):
                kept.append(cue)
        kept.sort(key=lambda cue: (cue.begin, cue.end))
        return kept


def _cues(cues: list[Cue]) -> list[tuple[int, int, ContextRule]]:
    return [(cue.begin, cue.end, cue.rule) for cue in cues]


def test_context_finds_the_same_cues_and_categories_as_every_rule_on_maccrobat_test(shared_dir: Path) -> None:
    corpus = shared_dir / "data" / "maccrobat"
    docs = read_brat_corpus(corpus / "brat", load_label_map("maccrobat"), read_split(corpus, "test"))
    engine, reference = ContextEngine(), _EveryRuleEngine()
    sentences = cues = 0
    for doc in docs:
        for begin, end in split_sentences(doc.text):
            ours = _cues(engine.find_cues(doc.text, begin, end))
            assert ours == _cues(reference.find_cues(doc.text, begin, end)), doc.text[begin:end]
            sentences, cues = sentences + 1, cues + len(ours)
        assert _cues(engine.find_cues(doc.text)) == _cues(reference.find_cues(doc.text))
        bare = [replace(m, attributes={}) for m in doc.mentions]
        assert engine.categories(doc.text, bare) == reference.categories(doc.text, bare)
    assert len(docs) == 20 and sentences > 300 and cues > 100


@pytest.mark.parametrize(
    "text",
    [
        "Patient DENIE\u017f fever; lac\u212a of appetite.",  # long s and Kelvin sign fold to "s" and "k"
        "NO  evidence\nof DVT, nono evidence, not ruled-out, r/o PE, w/o pain; 2nd-degree burn without chills.",
        "Café: negative for fever — possible pneumonia (PNA)? Hx: denies_pain, deniespain, mother's asthma.",
    ],
)
def test_context_finds_the_same_cues_as_every_rule_in_any_window(text: str) -> None:
    """Windows that cut words in two, and non-ASCII letters that match ASCII cues, give the reference's cues."""
    engine, reference = ContextEngine(), _EveryRuleEngine()
    assert engine.find_cues(text)  # the text has cues, so the comparison below means something
    for begin in range(len(text) + 1):
        for end in range(begin, len(text) + 1, 4):
            assert _cues(engine.find_cues(text, begin, end)) == _cues(reference.find_cues(text, begin, end))


def test_context_finds_a_cue_written_with_a_character_that_only_folds_to_ascii() -> None:
    text = "Patient DENIE\u017f fever."  # a long s, which matches "s" case-insensitively
    cues = ContextEngine().find_cues(text)
    assert [text[c.begin : c.end] for c in cues if c.rule.category is Category.NEGATED_EXISTENCE] == ["DENIE\u017f"]


def _preprocessed(text: str, break_on_newline: bool) -> tuple[list[tuple[int, int]], list[Mention]]:
    """The sentences preprocessing puts in the CAS, and a mention on every word token of three letters or more."""
    cas = cas_from_text(text, "4.0.0")
    PreprocessAnnotator(PreprocessConfig(break_on_newline=break_on_newline)).process(cas)
    sentences = [(fs.begin, fs.end) for fs in cas.select(SENTENCE)]
    words = [fs for fs in cas.select(WORD_TOKEN) if fs.end - fs.begin >= 3]
    return sentences, [Mention(MentionClass.SIGN_SYMPTOM, w.begin, w.end, w.get_covered_text()) for w in words]


@pytest.mark.parametrize("break_on_newline", [True, False])
def test_context_cas_sentences_give_the_categories_of_splitting_on_ctakes_example_notes(
    shared_dir: Path, break_on_newline: bool
) -> None:
    paths = sorted(p for p in (shared_dir / "ctakes" / "notes").rglob("*") if p.is_file() and p.suffix != ".xml")
    engine = ContextEngine(config=ContextConfig(break_on_newline=break_on_newline))
    modified = 0
    for path in paths:
        text = decode_text(path.read_bytes(), "auto", source=path.name)  # some are cp1252
        sentences, mentions = _preprocessed(text, break_on_newline)
        reused = engine.categories(text, mentions, sentences)
        assert reused == engine.categories(text, mentions), path.name
        modified += sum(bool(found) for found in reused)
    assert len(paths) >= 15 and modified > 50  # cues were found, so the comparison means something


def test_context_cas_sentences_give_the_categories_of_splitting_on_maccrobat_test(shared_dir: Path) -> None:
    corpus = shared_dir / "data" / "maccrobat"
    docs = read_brat_corpus(corpus / "brat", load_label_map("maccrobat"), read_split(corpus, "test"))
    engine = ContextEngine()
    negated = 0
    for doc in docs:
        sentences, _ = _preprocessed(doc.text, break_on_newline=True)
        bare = [replace(m, attributes={}) for m in doc.mentions]
        reused = engine.classify(doc.text, bare, sentences)
        assert reused == engine.classify(doc.text, bare), doc.text[:60]
        negated += sum(found["polarity"] == "-1" for found in reused)
    assert negated > 10


def test_context_given_sentences_bound_the_scope() -> None:
    text = "No fever and chills today."
    chills = Mention(MentionClass.SIGN_SYMPTOM, text.index("chills"), text.index("chills") + 6, "chills")
    engine = ContextEngine()
    assert engine.categories(text, [chills]) == [frozenset({Category.NEGATED_EXISTENCE})]
    cut = [(0, text.index(" and")), (text.index("and"), len(text))]  # a sentence boundary the splitter would not make
    assert engine.categories(text, [chills], cut) == [frozenset()]
    assert engine.categories(text, [chills], cut[::-1]) == [frozenset()]  # in any order
