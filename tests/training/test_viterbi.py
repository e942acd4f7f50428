"""BIO-constrained decoding: never an I- without its B-, and it agrees with brute force."""

from __future__ import annotations

import itertools
import math
import random

from ctakes_llm.ner.bio import viterbi_tags

LABELS = ("O", "B-X", "I-X", "B-Y", "I-Y")


def _valid(tags: tuple[str, ...]) -> bool:
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


def test_viterbi_repairs_a_broken_mention() -> None:
    probs = [{"B-X": 0.9}, {"I-Y": 0.5, "I-X": 0.4}, {"I-X": 0.9}]
    rows = [[math.log(p.get(label, 0.1 / len(LABELS))) for label in LABELS] for p in probs]
    assert viterbi_tags(rows, LABELS) == ["B-X", "I-X", "I-X"]
    assert viterbi_tags([], LABELS) == []


def test_viterbi_matches_brute_force_on_random_scores() -> None:
    rng = random.Random(7)
    for _ in range(30):
        rows = [[rng.uniform(-5, 0) for _ in LABELS] for _ in range(4)]
        best = max(
            (tags for tags in itertools.product(LABELS, repeat=4) if _valid(tags)),
            key=lambda tags: sum(rows[i][LABELS.index(t)] for i, t in enumerate(tags)),
        )
        assert tuple(viterbi_tags(rows, LABELS)) == best
