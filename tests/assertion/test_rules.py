"""Rules as data: the shipped file loads, and bad rules fail when built, naming the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctakes_llm.assertion.rules import (
    Category,
    ContextRule,
    Direction,
    RuleIndex,
    load_rules,
    parse_rules,
    rule_from_dict,
)
from ctakes_llm.errors import ConfigError


def test_rules_shipped_file_covers_every_category_and_direction() -> None:
    rules = load_rules()
    assert {r.category for r in rules if r.category is not None} == set(Category)
    assert {r.direction for r in rules} == set(Direction)


def test_rules_literal_matches_on_word_boundaries_only() -> None:
    rule = ContextRule(category=Category.NEGATED_EXISTENCE, direction=Direction.FORWARD, literal="no evidence of")
    assert rule.regex.search("NO  evidence\nof DVT")
    assert not rule.regex.search("nono evidence of")
    assert not rule.regex.search("no evidence offered")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"literal": "no", "pattern": "no", "category": "NEGATED_EXISTENCE", "direction": "FORWARD"}, "E350"),
        ({"literal": "  ", "category": "NEGATED_EXISTENCE", "direction": "FORWARD"}, "E351"),
        ({"literal": "no", "direction": "FORWARD"}, "E352"),
        ({"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "FORWARD", "max_scope": 0}, "E353"),
        ({"pattern": "(", "category": "NEGATED_EXISTENCE", "direction": "FORWARD"}, "E354"),
        ({"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "FORWARD", "scope": 3}, "E355"),
        ({"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "SIDEWAYS"}, "E356"),
        ({"literal": "no", "category": "ABSENT", "direction": "FORWARD"}, "E357"),
        ({"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "FORWARD", "max_scope": "3"}, "E358"),
    ],
)
def test_rules_invalid_rule_fails_with_its_code(data: dict[str, object], code: str) -> None:
    with pytest.raises(ConfigError, match=code):
        rule_from_dict(data, "test rule")


def test_rules_terminate_without_category_is_valid() -> None:
    rule = rule_from_dict({"literal": "but", "direction": "TERMINATE"})
    assert rule.category is None


def test_rules_empty_document_fails() -> None:
    with pytest.raises(ConfigError, match="E359"):
        parse_rules({"rules": []})


def test_rules_load_names_the_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"E360.*rules\.json"):
        load_rules(path)
    path.write_text(json.dumps({"rules": [{"literal": "x", "direction": "UP"}]}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"E356.*rule #0"):
        load_rules(path)


def _rule(literal: str | None = None, pattern: str | None = None) -> ContextRule:
    return ContextRule(Category.NEGATED_EXISTENCE, Direction.FORWARD, literal=literal, pattern=pattern)


def test_rule_index_runs_only_rules_whose_longest_word_is_in_the_span() -> None:
    rules = [_rule("No Evidence of"), _rule("denies"), _rule(pattern=r"neg\w*"), _rule("-"), _rule("sin síntomas")]
    index = RuleIndex(rules)
    text = "NO EVIDENCE of DVT; she DENIES pain"
    assert index.candidates(text, 0, len(text)) == rules  # in rule order, whatever case the text has
    # pattern rules, literals without a word character and non-ASCII literals always run
    assert index.candidates(text, 0, 18) == [rules[0], *rules[2:]]
    assert index.candidates(text, 20, len(text)) == rules[1:]
    assert index.candidates("evidences, undenied", 0, 19) == rules[2:]  # whole word runs only


def test_rule_index_candidates_include_every_rule_that_matches() -> None:
    rules = load_rules()
    index = RuleIndex(rules)
    text = "Family history of DM; no evidence of PE, cannot be ruled out; was negative; mother with asthma."
    candidates = index.candidates(text, 0, len(text))
    assert [r for r in rules if r.regex.search(text)] == [r for r in candidates if r.regex.search(text)]
    assert len(candidates) < len(rules) / 4
