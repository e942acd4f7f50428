"""The shared generative driver with scripted answer functions: chunk, prompt, parse, ground, merge, count."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import pytest

from ctakes_llm.errors import BackendError, ConfigError
from ctakes_llm.ner.chunking import ChunkConfig
from ctakes_llm.ner.formats import Request, get_format
from ctakes_llm.ner.generative import PROMPT_MARGIN_TOKENS, Generation, GenerativeConfig, GenerativeNer, chunk_budget
from ctakes_llm.ner.mention import Grounding, MentionClass

NOTE = "The patient reports chest pain and fever. Started aspirin 81 mg daily."


def words(text: str) -> int:
    return len(text.split())


def _text_of(request: Request) -> str:
    return request.messages[1].content.removeprefix("Text: ")


def listing(answers: dict[MentionClass, Sequence[str]]) -> object:
    """An answer function for UniversalNER requests: a JSON list per asked class."""

    def generate(requests: Sequence[Request]) -> list[Generation]:
        return [Generation(json.dumps(list(answers.get(r.cls, [])))) for r in requests]  # type: ignore[arg-type]

    return generate


def every_occurrence(word: str, cls: MentionClass) -> object:
    """Answers each UniversalNER question about ``cls`` with every occurrence of ``word`` in the window."""

    def generate(requests: Sequence[Request]) -> list[Generation]:
        answers = []
        for request in requests:
            found = re.findall(rf"\b{word}\b", _text_of(request)) if request.cls is cls else []
            answers.append(Generation(json.dumps(found)))
        return answers

    return generate


def test_generative_ner_grounds_answers_and_counts_what_it_could_not() -> None:
    answers = {MentionClass.SIGN_SYMPTOM: ["Chest pain", "fever", "unicorn horn"], MentionClass.MEDICATION: ["asprin"]}
    ner = GenerativeNer(listing(answers), words, GenerativeConfig())  # type: ignore[arg-type]
    [result] = ner.predict_documents([NOTE])
    assert [(m.cls, m.text, m.grounding) for m in result.mentions] == [
        (MentionClass.SIGN_SYMPTOM, "chest pain", Grounding.NORMALIZED),
        (MentionClass.SIGN_SYMPTOM, "fever", Grounding.EXACT),
        (MentionClass.MEDICATION, "aspirin", Grounding.FUZZY),
    ]
    assert [(offset, proposal.text) for offset, proposal in result.ungrounded] == [(0, "unicorn horn")]
    counts = result.counts
    assert (counts["grounded"], counts["ungrounded"], counts["requests"], counts["chunks"]) == (3, 1, 5, 1)
    assert ner.counters == counts


def test_generative_ner_counts_garbage_and_truncation() -> None:
    def garbage(requests: Sequence[Request]) -> list[Generation]:
        return [Generation('["chest pain", "fev', truncated=True) for _ in requests]

    ner = GenerativeNer(garbage, words, GenerativeConfig())
    [result] = ner.predict_documents([NOTE])
    assert result.counts["unparseable"] == 5 and result.counts["truncated_chunks"] == 1
    # the complete string before the cut is still used, once per asked class
    assert len(result.mentions) == 5 and all(NOTE[m.begin : m.end] == m.text for m in result.mentions)


def test_generative_ner_merges_windows_of_a_100000_character_note() -> None:
    paragraph = "Aspirin was held. The patient took aspirin 81 mg daily for chest pain.\n"
    note = (paragraph * (100_000 // len(paragraph) + 1))[:100_000]
    config = GenerativeConfig(chunk=ChunkConfig(max_tokens=200, overlap_tokens=40))
    ner = GenerativeNer(every_occurrence("aspirin", MentionClass.MEDICATION), words, config)  # type: ignore[arg-type]
    [result] = ner.predict_documents([note])
    expected = [match.start() for match in re.finditer(r"\baspirin\b", note)]
    assert [m.begin for m in result.mentions] == expected
    assert all(note[m.begin : m.end] == "aspirin" for m in result.mentions)
    assert result.counts["chunks"] > 100 and result.counts["merged"] > 0
    assert result.counts["forced_chunks"] == 0 and result.counts["ungrounded"] == 0


def test_generative_ner_reports_a_failing_document_and_goes_on() -> None:
    def flaky(requests: Sequence[Request]) -> list[Generation]:
        if "FAIL" in _text_of(requests[0]):
            raise BackendError("[E240] server down")
        return [Generation('["fever"]' if r.cls is MentionClass.SIGN_SYMPTOM else "[]") for r in requests]

    ner = GenerativeNer(flaky, words, GenerativeConfig())
    first, failed, last = ner.predict_documents(["fever", "FAIL fever", "no fever"])
    assert failed.error is not None and failed.mentions == []
    assert [m.text for m in first.mentions] == ["fever"] and [m.text for m in last.mentions] == ["fever"]
    assert ner.counters["failed_documents"] == 1 and ner.counters["documents"] == 3
    with pytest.raises(BackendError, match=r"E240.*document 2 of 2"):
        ner.predict(["fever", "FAIL"])
    assert ner.counters["documents"] == 3  # a failed batch counts nothing: the runner re-runs it one by one
    with pytest.raises(BackendError, match=r"E240.*document 1 of 1"):
        ner.predict(["FAIL"])
    assert ner.counters["documents"] == 4 and ner.counters["failed_documents"] == 2


def test_generative_ner_asks_nothing_about_an_empty_note() -> None:
    def never(requests: Sequence[Request]) -> list[Generation]:
        raise AssertionError("no request expected")

    assert GenerativeNer(never, words, GenerativeConfig()).predict(["  \n"]) == [[]]


def test_generative_ner_with_another_format() -> None:
    def brat(requests: Sequence[Request]) -> list[Generation]:
        return [Generation("T1\tMedication 50 57\taspirin") for _ in requests]

    ner = GenerativeNer(brat, words, GenerativeConfig(prompt_format="multi_brat"))
    [mentions] = ner.predict([NOTE])
    assert [(m.cls, m.begin) for m in mentions] == [(MentionClass.MEDICATION, 50)]
    assert ner.counters["requests"] == 1


def test_generative_ner_shrinks_windows_to_the_context() -> None:
    ner = GenerativeNer(listing({}), words, GenerativeConfig(), max_chunk_tokens=100)  # type: ignore[arg-type]
    assert ner.chunk_config == ChunkConfig(max_tokens=100, overlap_tokens=25)
    with pytest.raises(ConfigError, match="E315"):
        GenerativeNer(listing({}), words, GenerativeConfig(), max_chunk_tokens=3)  # type: ignore[arg-type]


def test_chunk_budget_subtracts_the_prompt_and_the_answer() -> None:
    fmt = get_format("universal_ner")

    def prompt_tokens(request: Request) -> int:
        return sum(words(m.content) for m in request.messages)

    longest = max(prompt_tokens(r) for r in fmt.requests(""))
    assert chunk_budget(fmt, prompt_tokens, 1000, 100) == 1000 - longest - 100 - PROMPT_MARGIN_TOKENS
    assert chunk_budget(fmt, prompt_tokens, None, 100) is None


def test_generative_config_rejects_an_unknown_format() -> None:
    with pytest.raises(ConfigError, match="E314"):
        GenerativeConfig(prompt_format="conv_xml")
