"""Scores against hand-computed values on a small two-document fixture."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctakes_llm.errors import ConfigError, InputError
from ctakes_llm.evaluation.metrics import match_mentions, parse_classes, parse_merge, score_corpus
from ctakes_llm.ner.mention import Concept, Mention, MentionClass

DD, SS, MED, PROC = (
    MentionClass.DISEASE_DISORDER,
    MentionClass.SIGN_SYMPTOM,
    MentionClass.MEDICATION,
    MentionClass.PROCEDURE,
)


def m(cls: MentionClass, begin: int, end: int, polarity: str | None = None, cuis: tuple[str, ...] = ()) -> Mention:
    attributes = {"polarity": polarity} if polarity else {}
    return Mention(
        cls, begin, end, "x" * (end - begin), attributes=attributes, concepts=tuple(Concept(c) for c in cuis)
    )


GOLD = {
    "d1": [m(DD, 0, 5, "-1", ("C0",)), m(SS, 10, 20, "1"), m(MED, 30, 35, "1", ("C1",)), m(DD, 40, 50, "1")],
    "d2": [m(DD, 0, 10, "-1"), m(PROC, 20, 30, "1")],
}
PRED = {
    "d1": [m(DD, 0, 5, "-1", ("C0",)), m(SS, 12, 20), m(MED, 30, 35, cuis=("C2",)), m(SS, 40, 50), m(PROC, 60, 70)],
    "d2": [m(DD, 2, 8, "1")],
}


def test_score_corpus_strict_matches_hand_count() -> None:
    scores = score_corpus(GOLD, PRED, bootstrap=0)
    assert scores.classes == (MED, DD, SS, PROC)
    assert (scores.strict[DD].tp, scores.strict[DD].fp, scores.strict[DD].fn) == (1, 1, 2)
    assert (scores.strict[SS].tp, scores.strict[SS].fp, scores.strict[SS].fn) == (0, 2, 1)
    assert (scores.strict[MED].tp, scores.strict[MED].fp, scores.strict[MED].fn) == (1, 0, 0)
    assert (scores.strict[PROC].tp, scores.strict[PROC].fp, scores.strict[PROC].fn) == (0, 1, 1)
    micro = scores.micro("strict")
    assert (micro.tp, micro.fp, micro.fn) == (2, 4, 4)
    assert micro.f1 == pytest.approx(1 / 3)
    assert scores.macro("strict")[2] == pytest.approx((0.4 + 0 + 1 + 0) / 4)


def test_score_corpus_lenient_matches_hand_count() -> None:
    scores = score_corpus(GOLD, PRED, bootstrap=0)
    assert (scores.lenient[DD].tp, scores.lenient[DD].fp, scores.lenient[DD].fn) == (2, 0, 1)
    assert (scores.lenient[SS].tp, scores.lenient[SS].fp, scores.lenient[SS].fn) == (1, 1, 0)
    assert scores.micro("lenient").f1 == pytest.approx(4 / 6)
    assert scores.macro("lenient") == pytest.approx(
        ((1 + 0.5 + 1 + 0) / 4, (2 / 3 + 1 + 1 + 0) / 4, (0.8 + 2 / 3 + 1) / 4)
    )


def test_score_corpus_span_only_ignores_class() -> None:
    scores = score_corpus(GOLD, PRED, bootstrap=0)
    assert (scores.span_strict.tp, scores.span_strict.fp, scores.span_strict.fn) == (3, 3, 3)
    assert (scores.span_lenient.tp, scores.span_lenient.fp, scores.span_lenient.fn) == (5, 1, 1)
    assert scores.span_lenient.f1 == pytest.approx(10 / 12)


def test_score_corpus_polarity_and_cui_on_lenient_pairs() -> None:
    scores = score_corpus(GOLD, PRED, bootstrap=0)
    assert scores.polarity is not None and scores.cui is not None
    assert (scores.polarity.pairs, scores.polarity.agree) == (4, 3)
    assert scores.polarity.accuracy == pytest.approx(0.75)
    assert (scores.polarity.negated.tp, scores.polarity.negated.fp, scores.polarity.negated.fn) == (1, 0, 1)
    assert scores.polarity.negated.f1 == pytest.approx(2 / 3)
    assert (scores.cui.pairs, scores.cui.agree, scores.cui.pred_without_cui) == (2, 1, 0)


def test_score_corpus_leaves_polarity_unscored_when_predictions_mark_none() -> None:
    bare = {doc: [m(x.cls, x.begin, x.end) for x in mentions] for doc, mentions in PRED.items()}
    scores = score_corpus(GOLD, bare, bootstrap=0)
    assert scores.polarity is None
    assert scores.to_dict()["polarity"] is None
    assert "polarity: not scored" in scores.format_table()


def test_score_corpus_gold_against_itself_is_perfect() -> None:
    scores = score_corpus(GOLD, GOLD, bootstrap=200, seed=3)
    for mode in ("strict", "lenient"):
        assert scores.micro(mode).f1 == 1.0
        assert scores.macro(mode) == (1.0, 1.0, 1.0)
    assert scores.span_strict.f1 == scores.span_lenient.f1 == 1.0
    assert scores.polarity is not None and scores.polarity.accuracy == 1.0
    assert scores.intervals["strict.micro.f1"].low == 1.0


def test_score_corpus_merge_joins_classes_on_both_sides() -> None:
    scores = score_corpus(GOLD, PRED, merge=parse_merge(["DiseaseDisorder+SignSymptom"]), bootstrap=0)
    assert SS not in scores.classes
    assert (scores.strict[DD].tp, scores.strict[DD].fp, scores.strict[DD].fn) == (2, 2, 2)
    assert (scores.lenient[DD].tp, scores.lenient[DD].fp, scores.lenient[DD].fn) == (4, 0, 0)


def test_score_corpus_classes_restricts_both_sides() -> None:
    scores = score_corpus(GOLD, PRED, classes=parse_classes(["DiseaseDisorder"]), bootstrap=0)
    assert scores.classes == (DD,)
    assert (scores.micro("strict").tp, scores.micro("strict").fp, scores.micro("strict").fn) == (1, 1, 2)
    assert scores.span_lenient.tp == 2  # the SignSymptom prediction on the DiseaseDisorder span is dropped


def test_score_corpus_rejects_restricting_to_a_merged_away_class() -> None:
    with pytest.raises(ConfigError, match="E607"):
        score_corpus(GOLD, PRED, classes=[SS], merge={SS: DD}, bootstrap=0)


def test_score_corpus_unpaired_documents_are_listed() -> None:
    with pytest.raises(InputError, match=r"E606.*'d2'"):
        score_corpus(GOLD, {"d1": PRED["d1"]}, bootstrap=0)


def test_score_corpus_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    first = score_corpus(GOLD, PRED, bootstrap=300, seed=7)
    again = score_corpus(GOLD, PRED, bootstrap=300, seed=7)
    assert first.intervals == again.intervals
    interval = first.intervals["strict.micro.f1"]
    assert interval.low <= first.micro("strict").f1 <= interval.high
    assert interval.low < interval.high


def test_scores_to_dict_is_json_and_table_lists_classes() -> None:
    scores = score_corpus(GOLD, PRED, bootstrap=50)
    data = json.loads(json.dumps(scores.to_dict()))
    assert data["strict"]["micro"]["tp"] == 2
    assert data["lenient"]["per_class"]["DiseaseDisorder"]["tp"] == 2
    assert data["span_only"]["lenient"]["tp"] == 5
    assert data["polarity"]["accuracy"] == 0.75
    assert "strict.micro.f1" in data["intervals"]
    table = scores.format_table()
    assert "DiseaseDisorder" in table and "micro" in table and "polarity accuracy: 0.750" in table


def test_match_mentions_lenient_finds_the_largest_one_to_one_matching() -> None:
    gold = [m(DD, 0, 10), m(DD, 5, 15)]
    pred = [m(DD, 0, 10), m(DD, 0, 4)]
    assert match_mentions(gold, pred, overlap=True, same_class=True) == [(0, 1), (1, 0)]
    assert match_mentions(gold, pred, overlap=False, same_class=True) == [(0, 0)]


def test_match_mentions_prefers_the_exact_span() -> None:
    gold = [m(DD, 0, 10)]
    pred = [m(DD, 2, 9), m(DD, 0, 10)]
    assert match_mentions(gold, pred, overlap=True, same_class=True) == [(0, 1)]


def test_parse_merge_rejects_unknown_and_repeated_classes() -> None:
    assert parse_merge(["DiseaseDisorder+SignSymptom"]) == {SS: DD}
    with pytest.raises(ConfigError, match="E601"):
        parse_merge(["Disease+Nope"])
    with pytest.raises(ConfigError, match="E602"):
        parse_merge(["DiseaseDisorder+SignSymptom", "SignSymptom+Procedure"])


spans = st.lists(st.tuples(st.integers(0, 12), st.integers(1, 5), st.sampled_from([DD, SS])), max_size=6)


@settings(max_examples=300, deadline=None)
@given(gold_spans=spans, pred_spans=spans)
def test_match_mentions_lenient_is_a_maximum_matching(gold_spans, pred_spans) -> None:
    gold = [m(cls, b, b + n) for b, n, cls in gold_spans]
    pred = [m(cls, b, b + n) for b, n, cls in pred_spans]
    pairs = match_mentions(gold, pred, overlap=True, same_class=True)
    assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs)
    for i, j in pairs:
        assert gold[i].cls == pred[j].cls and gold[i].begin < pred[j].end and pred[j].begin < gold[i].end

    def fits(i: int, j: int) -> bool:
        return gold[i].cls == pred[j].cls and gold[i].begin < pred[j].end and pred[j].begin < gold[i].end

    if len(gold) <= len(pred):
        assignments = (
            [(i, j) for i, j in enumerate(order)] for order in itertools.permutations(range(len(pred)), len(gold))
        )
    else:
        assignments = (
            [(i, j) for j, i in enumerate(order)] for order in itertools.permutations(range(len(gold)), len(pred))
        )
    best = max((sum(fits(i, j) for i, j in assignment) for assignment in assignments), default=0)
    assert len(pairs) == best
