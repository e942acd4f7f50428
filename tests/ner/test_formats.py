"""Prompt/output formats: renderers, tolerant parsers, entity types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.entity_types import class_for, load_entity_types
from ctakes_llm.ner.formats import FORMATS, get_format, training_pairs
from ctakes_llm.ner.grounding import Grounder
from ctakes_llm.ner.mention import Mention, MentionClass

SIGN = MentionClass.SIGN_SYMPTOM
MED = MentionClass.MEDICATION
SITE = MentionClass.ANATOMICAL_SITE
TEXT = "Pt has chest pain and fever. Took aspirin for chest pain."
GOLD = [
    Mention(SIGN, 7, 17, "chest pain"),
    Mention(SITE, 7, 12, "chest"),
    Mention(SIGN, 22, 27, "fever"),
    Mention(MED, 34, 41, "aspirin"),
    Mention(SIGN, 46, 56, "chest pain"),
]


def _key(mention: Mention) -> tuple[int, int, int]:
    return (mention.cls.value, mention.begin, mention.end)


def _parse_all(name: str, outputs: list[str], text: str = TEXT) -> tuple[list[tuple[MentionClass, str]], int]:
    fmt = get_format(name)
    proposals, failures = [], 0
    for request, output in zip(fmt.requests(text), outputs, strict=False):
        parsed = fmt.parse(output, request, text)
        proposals.extend((p.cls, p.text) for p in parsed.proposals)
        failures += parsed.failures
    return proposals, failures


@pytest.mark.parametrize("name", list(FORMATS))
def test_format_target_parses_back_to_the_gold_mentions(name: str) -> None:
    fmt = get_format(name)
    proposals = []
    for request, target in training_pairs(fmt, TEXT, GOLD):
        parsed = fmt.parse(target, request, TEXT)
        assert parsed.failures == 0, target
        proposals.extend(parsed.proposals)
    found = sorted(map(_key, Grounder(TEXT).ground(proposals).mentions))
    expected = sorted(map(_key, GOLD))
    if name == "multi_bio":  # one tag per token: the nested AnatomicalSite inside "chest pain" cannot be held
        expected = [key for key in expected if key[0] != SITE.value]
    assert found == expected


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize("output", ["", "I am sorry, I cannot help with that.", "<html>500</html>", "[[[{{{", "null"])
def test_format_parsers_survive_garbage(name: str, output: str) -> None:
    fmt = get_format(name)
    for request in fmt.requests(TEXT):
        parsed = fmt.parse(output, request, TEXT)
        assert all(p.text.strip() for p in parsed.proposals)
        assert parsed.failures >= 0


@pytest.mark.parametrize("name", ["universal_ner", "multi_term", "multi_span"])
@pytest.mark.parametrize("output", ["", "I cannot help.", "null"])
def test_json_formats_count_a_non_json_answer_as_a_failure(name: str, output: str) -> None:
    proposals, failures = _parse_all(name, [output])
    assert proposals == [] and failures == 1


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(FORMATS)), st.text(alphabet='[]{}",:<>/ \n\tabTO-BI1SignSymptom', max_size=80))
def test_format_parsers_never_raise(name: str, output: str) -> None:
    fmt = get_format(name)
    for request in fmt.requests(TEXT):
        fmt.parse(output, request, TEXT)


def test_universal_ner_asks_one_question_per_type() -> None:
    fmt = get_format("universal_ner")
    requests = fmt.requests(TEXT)
    assert [r.cls for r in requests] == [t.cls for t in load_entity_types()]
    first = requests[1]
    assert [m.role for m in first.messages] == ["system", "user", "assistant", "user"]
    assert first.messages[1].content == f"Text: {TEXT}"
    assert first.messages[-1].content == "What describes sign or symptom in the text?"
    assert first.json_schema == {"type": "array", "items": {"type": "string"}}
    assert fmt.target(TEXT, first, GOLD) == '["chest pain", "fever", "chest pain"]'


def test_universal_ner_salvages_truncated_json() -> None:
    request = get_format("universal_ner").requests(TEXT)[1]
    parsed = get_format("universal_ner").parse('```json\n["chest pain", "fev', request, TEXT)
    assert [p.text for p in parsed.proposals] == ["chest pain"] and parsed.failures == 1


def test_universal_ner_counts_non_string_items() -> None:
    request = get_format("universal_ner").requests(TEXT)[1]
    parsed = get_format("universal_ner").parse('["fever", 3, "", null] trailing words', request, TEXT)
    assert [p.text for p in parsed.proposals] == ["fever"] and parsed.failures == 3


def test_multi_term_reads_pairs_and_counts_unknown_types() -> None:
    output = '[{"text": "fever", "type": "SignSymptom"}, ["aspirin", "medication"], {"text": "x", "type": "Gene"}]'
    assert _parse_all("multi_term", [output]) == ([(SIGN, "fever"), (MED, "aspirin")], 1)


def test_multi_term_salvages_truncated_json() -> None:
    output = '[{"text": "chest pain", "type": "SignSymptom"}, {"text": "fe'
    assert _parse_all("multi_term", [output]) == ([(SIGN, "chest pain")], 1)


def test_multi_span_salvages_truncated_json() -> None:
    output = '{"SignSymptom": ["chest pain", "fever"], "Medication": ["asp'
    assert _parse_all("multi_span", [output]) == ([(SIGN, "chest pain"), (SIGN, "fever")], 1)


def test_multi_span_counts_unknown_labels() -> None:
    assert _parse_all("multi_span", ['{"Gene": ["BRCA1"], "Medication": ["aspirin"]}']) == ([(MED, "aspirin")], 1)


def test_multi_brat_uses_offsets_only_as_hints() -> None:
    fmt = get_format("multi_brat")
    [request] = fmt.requests(TEXT)
    parsed = fmt.parse("T1\tSignSymptom 44 54\tchest pain\nT2 SignSymptom fever\nbroken line", request, TEXT)
    assert [(p.text, p.hint) for p in parsed.proposals] == [("chest pain", 44), ("fever", None)]
    assert parsed.failures == 1
    [mention, _] = Grounder(TEXT).ground(parsed.proposals).mentions[::-1]
    assert (mention.begin, mention.end) == (46, 56)  # the occurrence nearest the stated offset, not the first


def test_multi_tag_counts_unclosed_and_mismatched_tags() -> None:
    output = "Pt has <SignSymptom>chest pain</SignSymptom> and </Medication><SignSymptom>fev"
    assert _parse_all("multi_tag", [output]) == ([(SIGN, "chest pain")], 2)


def test_multi_tag_ignores_unknown_markup() -> None:
    output = "Pt <b>has</b> <Medication>aspirin</Medication> <5 mg>"
    assert _parse_all("multi_tag", [output]) == ([(MED, "aspirin")], 0)


def test_multi_bio_aligns_tokens_to_the_text_and_counts_bad_tags() -> None:
    text = "No chest-pain today."
    output = "No\tO\nchest\tB-SignSymptom\n-\tI-SignSymptom\npain\tI-SignSymptom\ntoday\tB-Gene\n.\tO\nlonely"
    assert _parse_all("multi_bio", [output], text) == ([(SIGN, "chest-pain")], 2)


def test_multi_formats_list_the_entity_definitions() -> None:
    [request] = get_format("multi_term").requests(TEXT)
    user = request.messages[-1].content
    assert "- SignSymptom (sign or symptom):" in user and user.endswith(TEXT)


def test_get_format_rejects_an_unknown_name() -> None:
    with pytest.raises(ConfigError, match=r"E314.*universal_ner"):
        get_format("conv_xml")


def test_entity_types_load_a_user_file_with_a_subset(tmp_path: Path) -> None:
    path = tmp_path / "types.json"
    path.write_text(json.dumps({"types": [{"label": "Medication", "name": "drug", "definition": "a drug"}]}))
    types = load_entity_types(path)
    fmt = get_format("universal_ner", types)
    [request] = fmt.requests("x")
    assert request.cls is MED and request.messages[-1].content == "What describes drug in the text?"
    assert class_for("drug", types) is MED and class_for("SignSymptom", types) is None


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("not json", "E308"),
        ('{"types": [{"label": "Gene", "name": "g", "definition": "d"}]}', "E309"),
        (
            '{"types": [{"label": "Medication", "name": "a", "definition": "d"}, '
            '{"label": "Medication", "name": "b", "definition": "d"}]}',
            "E310",
        ),
        ('{"types": [{"label": "Medication", "name": " ", "definition": "d"}]}', "E311"),
        ('{"types": []}', "E312"),
    ],
)
def test_entity_types_reject_bad_files(tmp_path: Path, content: str, code: str) -> None:
    path = tmp_path / "types.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=code):
        load_entity_types(path)
