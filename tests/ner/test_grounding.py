"""Grounding: the model's strings become spans of the text, or are counted; never invented."""

from __future__ import annotations

import difflib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.grounding import Grounder, GroundingConfig, Proposal, normalize, resolve_overlaps
from ctakes_llm.ner.mention import Grounding, Mention, MentionClass

SIGN = MentionClass.SIGN_SYMPTOM
DISEASE = MentionClass.DISEASE_DISORDER
SITE = MentionClass.ANATOMICAL_SITE


def _ground(text: str, *proposals: Proposal, **config: object) -> list[tuple[str, int, Grounding]]:
    result = Grounder(text, GroundingConfig(**config)).ground(proposals)  # type: ignore[arg-type]
    return [(m.text, m.begin, m.grounding) for m in result.mentions]


def test_grounding_exact_match_covers_the_said_text() -> None:
    assert _ground("No chest pain today.", Proposal(SIGN, "chest pain")) == [("chest pain", 3, Grounding.EXACT)]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("CHEST PAIN noted", "chest pain"),
        ("chest \n  pain noted", "chest pain"),
        ("s/p left\u2013sided weakness", "left-sided weakness"),
        ("s/p left-sided weakness", "left\u2014sided weakness"),
        ("he said \u201cdizzy\u201d", '"dizzy"'),
        ("patient\u2019s cough", "patient's cough"),
        ("no fever", "  fever "),
    ],
)
def test_grounding_normalizes_case_whitespace_dashes_and_quotes(text: str, said: str) -> None:
    [(covered, begin, grounding)] = _ground(text, Proposal(SIGN, said))
    assert grounding is Grounding.NORMALIZED
    assert normalize(covered) == normalize(said)
    assert text[begin : begin + len(covered)] == covered


def test_grounding_fuzzy_finds_a_misspelling_above_the_threshold() -> None:
    [(covered, _, grounding)] = _ground("History of hypertention.", Proposal(DISEASE, "hypertension"))
    assert (covered, grounding) == ("hypertention", Grounding.FUZZY)


def test_grounding_fuzzy_off_leaves_a_misspelling_ungrounded() -> None:
    result = Grounder("History of hypertention.", GroundingConfig(fuzzy=False)).ground(
        [Proposal(DISEASE, "hypertension")]
    )
    assert result.mentions == [] and result.counts()["ungrounded"] == 1


def test_grounding_never_fuzzy_matches_short_strings() -> None:
    assert _ground("the CBC was normal", Proposal(SIGN, "CBX")) == []


def test_grounding_counts_a_hallucinated_mention_and_invents_nothing() -> None:
    result = Grounder("No chest pain today.").ground([Proposal(SIGN, "unicorn horn"), Proposal(SIGN, "")])
    assert result.mentions == []
    assert [p.text for p in result.ungrounded] == ["unicorn horn", ""]


def test_grounding_respects_word_boundaries() -> None:
    assert _ground("painful swelling", Proposal(SIGN, "pain")) == []
    assert _ground("painful swelling; pain", Proposal(SIGN, "pain")) == [("pain", 18, Grounding.EXACT)]


def test_grounding_assigns_repeated_mentions_in_order() -> None:
    text = "fever at night, fever at noon, fever again"
    found = _ground(text, Proposal(SIGN, "fever"), Proposal(SIGN, "fever"))
    assert [begin for _, begin, _ in found] == [0, 16]


def test_grounding_counts_a_repeat_beyond_the_occurrences_as_duplicate() -> None:
    result = Grounder("fever and chills").ground([Proposal(SIGN, "fever"), Proposal(SIGN, "fever")])
    assert len(result.mentions) == 1 and result.duplicates == 1 and result.ungrounded == []


def test_grounding_repeat_goes_to_a_similar_free_occurrence() -> None:
    found = _ground("fever, then fevers", Proposal(SIGN, "fever"), Proposal(SIGN, "fever"))
    assert found == [("fever", 0, Grounding.EXACT), ("fevers", 12, Grounding.FUZZY)]


def test_grounding_fuzzy_never_contests_a_taken_span() -> None:
    result = Grounder("No chest pain.").ground([Proposal(SIGN, "chest pain"), Proposal(SIGN, "chest pains")])
    assert [(m.text, m.grounding) for m in result.mentions] == [("chest pain", Grounding.EXACT)]
    assert result.duplicates == 1


def test_grounding_hint_picks_the_nearest_occurrence() -> None:
    text = "fever at night, fever at noon, fever again"
    assert _ground(text, Proposal(SIGN, "fever", hint=29)) == [("fever", 31, Grounding.EXACT)]


def test_grounding_keeps_overlapping_mentions_of_different_classes() -> None:
    found = Grounder("chest pain").ground([Proposal(SIGN, "chest pain"), Proposal(SITE, "chest")]).mentions
    assert [(m.cls, m.text) for m in found] == [(SITE, "chest"), (SIGN, "chest pain")]


def test_grounding_resolves_overlaps_per_class_longest_wins() -> None:
    result = Grounder("severe chest pain").ground([Proposal(SIGN, "chest pain"), Proposal(SIGN, "severe chest")])
    assert [m.text for m in result.mentions] == ["severe chest"]
    assert result.overlaps == 1


def test_grounding_all_occurrences_grounds_every_free_one() -> None:
    text = "fever at night, Fever at noon"
    found = _ground(text, Proposal(SIGN, "fever"), all_occurrences=True)
    assert found == [("fever", 0, Grounding.EXACT)]  # the exact level wins; "Fever" is only a normalized match
    found = _ground(text, Proposal(SIGN, "FEVER"), all_occurrences=True)
    assert [(covered, begin) for covered, begin, _ in found] == [("fever", 0), ("Fever", 16)]


def test_grounding_offsets_are_code_points_with_emoji_and_cjk() -> None:
    text = "\U0001f600 \u80f8\u75db and chest pain"
    [(covered, begin, _)] = _ground(text, Proposal(SIGN, "chest pain"))
    assert text[begin : begin + len(covered)] == "chest pain" and begin == 9


def test_grounding_casefold_expansion_is_verified() -> None:
    assert _ground("Stra\u00dfe pain", Proposal(SIGN, "STRASSE pain")) == [
        ("Stra\u00dfe pain", 0, Grounding.NORMALIZED)
    ]


def test_grounding_keeps_attributes() -> None:
    [mention] = Grounder("no fever").ground([Proposal(SIGN, "fever", attributes={"polarity": "-1"})]).mentions
    assert mention.attributes == {"polarity": "-1"}


def test_resolve_overlaps_prefers_better_grounding_for_equal_spans() -> None:
    fuzzy = Mention(SIGN, 0, 5, "fever", grounding=Grounding.FUZZY)
    exact = Mention(SIGN, 0, 5, "fever", grounding=Grounding.EXACT)
    other_class = Mention(DISEASE, 0, 5, "fever")
    kept, removed = resolve_overlaps([fuzzy, exact, other_class])
    assert removed == 1 and exact in kept and other_class in kept and fuzzy not in kept


@pytest.mark.parametrize(("options", "code"), [({"fuzzy_threshold": 0.0}, "E305"), ({"fuzzy_min_chars": 0}, "E306")])
def test_grounding_config_rejects_bad_values(options: dict[str, float], code: str) -> None:
    with pytest.raises(ConfigError, match=code):
        GroundingConfig(**options)  # type: ignore[arg-type]


_WORDS = ["chest", "pain", "Pain", "fever", "left", "sided", "x", "a", "cough", "\u00df", "\U0001f600"]
_SEPARATORS = [" ", "  ", "\n", "-", "\u2013", ", ", ". ", " \u201c", "\u201d ", "'", "\u2019"]


@st.composite
def _texts_and_proposals(draw: st.DrawFn) -> tuple[str, list[Proposal]]:
    words = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=14))
    separators = draw(st.lists(st.sampled_from(_SEPARATORS), min_size=len(words), max_size=len(words)))
    text = "".join(word + separator for word, separator in zip(words, separators, strict=True))
    proposals = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["slice", "perturbed", "random"]))
        begin = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(begin + 1, len(text)))
        said = text[begin:end]
        if kind == "perturbed":
            said = draw(
                st.sampled_from([said.upper(), said.lower(), said.replace(" ", "   "), said.replace("-", "\u2014")])
            )
        elif kind == "random":
            said = draw(st.text(alphabet="abcdefr -\u2013'", min_size=1, max_size=12))
        proposals.append(Proposal(draw(st.sampled_from([SIGN, DISEASE])), said))
    return text, proposals


@settings(max_examples=300, deadline=None)
@given(_texts_and_proposals())
def test_grounding_property_spans_cover_what_the_model_said(case: tuple[str, list[Proposal]]) -> None:
    text, proposals = case
    config = GroundingConfig()
    result = Grounder(text, config).ground(proposals)
    for proposal, mention in result.grounded:
        assert text[mention.begin : mention.end] == mention.text
        assert mention.cls is proposal.cls
        if mention.grounding is Grounding.EXACT:
            assert mention.text == proposal.text
        elif mention.grounding is Grounding.NORMALIZED:
            assert normalize(mention.text) == normalize(proposal.text)
        else:
            ratio = difflib.SequenceMatcher(None, normalize(mention.text), normalize(proposal.text)).ratio()
            assert ratio >= config.fuzzy_threshold
    accounted = len(result.grounded) + result.overlaps + len(result.ungrounded) + result.duplicates
    assert accounted == len(proposals)
    for cls in (SIGN, DISEASE):
        spans = sorted((m.begin, m.end) for m in result.mentions if m.cls is cls)
        assert all(first[1] <= second[0] for first, second in itertools.pairwise(spans))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=10), st.data())
def test_grounding_property_an_exact_word_sequence_is_always_grounded(words: list[str], data: st.DataObject) -> None:
    text = " ".join(words)
    first = data.draw(st.integers(0, len(words) - 1))
    last = data.draw(st.integers(first, len(words) - 1))
    said = " ".join(words[first : last + 1])
    result = Grounder(text).ground([Proposal(SIGN, said)])
    [mention] = result.mentions
    assert mention.text == said and mention.grounding is Grounding.EXACT
