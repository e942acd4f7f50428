"""The causal LM backend on tiny GPT-2 models built here: real loading, generation, parsing and grounding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_causal_lm import ForcedAnswer, build_tiny_causal_lm

from ctakes_llm.backends.causal_lm import CausalLmBackend, CausalLmConfig, load, plain_prompt
from ctakes_llm.backends.model_source import weights_sha256
from ctakes_llm.backends.registry import load_backend
from ctakes_llm.errors import ConfigError, ModelLoadError
from ctakes_llm.ner.formats import Message, Request
from ctakes_llm.ner.generative import Generation, GenerativeConfig
from ctakes_llm.ner.mention import Grounding, MentionClass

NOTE = "The patient reports chest pain and fever. Started aspirin 81 mg daily."
ANSWER = (
    '[{"text": "chest pain", "type": "SignSymptom"}, {"text": "Aspirin", "type": "Medication"}, '
    '{"text": "unicorn horn", "type": "Medication"}]'
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="module")
def garbage_backend(model_dir: Path) -> CausalLmBackend:
    return load(str(model_dir), CausalLmConfig(max_new_tokens=8))


def _forced(backend: CausalLmBackend, answer: str, **overrides: object) -> CausalLmBackend:
    from transformers import LogitsProcessorList

    options: dict[str, object] = {"generative": GenerativeConfig(prompt_format="multi_term"), "max_new_tokens": 96}
    options.update(overrides)
    return CausalLmBackend(
        backend.model,
        backend.tokenizer,
        CausalLmConfig(**options),  # type: ignore[arg-type]
        model_id=backend.model_id,
        model_path=backend.model_path,
        logits_processor=LogitsProcessorList([ForcedAnswer(backend.tokenizer, answer)]),
    )


def test_causal_lm_counts_garbage_from_random_weights(garbage_backend: CausalLmBackend) -> None:
    before = dict(garbage_backend.counters)
    [mentions] = garbage_backend.predict([NOTE])
    counts = {key: value - before.get(key, 0) for key, value in garbage_backend.counters.items()}
    assert counts["requests"] == 5  # one UniversalNER question per entity type
    assert counts["unparseable"] >= 1
    assert counts["grounded"] == len(mentions)
    assert all(NOTE[m.begin : m.end] == m.text for m in mentions)


def test_causal_lm_grounds_a_forced_answer(garbage_backend: CausalLmBackend) -> None:
    backend = _forced(garbage_backend, ANSWER)
    [result] = backend.predict_documents([NOTE])
    assert [(m.cls, m.text, m.grounding) for m in result.mentions] == [
        (MentionClass.SIGN_SYMPTOM, "chest pain", Grounding.EXACT),
        (MentionClass.MEDICATION, "aspirin", Grounding.NORMALIZED),
    ]
    assert [proposal.text for _, proposal in result.ungrounded] == ["unicorn horn"]
    assert result.counts["ungrounded"] == 1 and result.counts["truncated_chunks"] == 0


def test_causal_lm_counts_an_answer_cut_at_max_new_tokens(garbage_backend: CausalLmBackend) -> None:
    backend = _forced(garbage_backend, ANSWER, max_new_tokens=12)
    [result] = backend.predict_documents([NOTE])
    assert result.counts["truncated_chunks"] == 1
    assert result.counts["unparseable"] >= 1
    assert all(NOTE[m.begin : m.end] == m.text for m in result.mentions)


def test_causal_lm_batches_requests_and_keeps_their_order(garbage_backend: CausalLmBackend) -> None:
    backend = _forced(garbage_backend, '[["chest pain", "SignSymptom"]]', batch_size=2, max_new_tokens=24)
    notes = [NOTE, "No complaints today. " + NOTE, "Chest pain again."]
    results = backend.predict(notes)
    assert [[(m.text, m.begin) for m in mentions] for mentions in results] == [
        [("chest pain", 20)],
        [("chest pain", 41)],
        [("Chest pain", 0)],
    ]
    for note, mentions in zip(notes, results, strict=True):
        assert all(note[m.begin : m.end] == m.text for m in mentions)


def test_causal_lm_greedy_and_seeded_sampling_are_repeatable(garbage_backend: CausalLmBackend) -> None:
    requests = garbage_backend._ner.format.requests(NOTE)
    assert garbage_backend.generate(requests) == garbage_backend.generate(requests)
    sampling = CausalLmBackend(
        garbage_backend.model, garbage_backend.tokenizer, CausalLmConfig(do_sample=True, seed=7, max_new_tokens=8), "x"
    )
    assert sampling.generate(requests) == sampling.generate(requests)


def _questions(*texts: str) -> list[Request]:
    return [Request((Message("system", "Answer briefly."), Message("user", text))) for text in texts]


def test_causal_lm_generate_answers_each_request_in_order(garbage_backend: CausalLmBackend) -> None:
    one_by_one = CausalLmBackend(
        garbage_backend.model, garbage_backend.tokenizer, CausalLmConfig(batch_size=1, max_new_tokens=8), "x"
    )
    requests = _questions("Is there chest pain?", "Fever?", "Does the patient take aspirin 81 mg daily?")
    answers = one_by_one.generate(requests)
    assert len({answer.text for answer in answers}) > 1  # else the order check below proves nothing
    assert answers == [one_by_one.generate([request])[0] for request in requests]
    assert dict(one_by_one.counters) == {}  # completing prompts is not NER work


def test_causal_lm_generate_reports_an_answer_cut_at_max_new_tokens(garbage_backend: CausalLmBackend) -> None:
    requests = _questions("Is there chest pain?", "Fever?")
    assert _forced(garbage_backend, ANSWER).generate(requests) == [Generation(ANSWER, False)] * 2
    [cut] = _forced(garbage_backend, ANSWER, max_new_tokens=4).generate(requests[:1])
    assert cut.truncated and ANSWER.startswith(cut.text) and cut.text != ANSWER


def test_causal_lm_uses_a_plain_prompt_without_chat_template(tmp_path: Path) -> None:
    directory = build_tiny_causal_lm(tmp_path, chat_template=False)
    backend = load(str(directory), CausalLmConfig(max_new_tokens=4))
    request = backend._ner.format.requests(NOTE)[0]
    prompt, special = backend.render(request)
    assert prompt == plain_prompt(request.messages) and special
    assert prompt.endswith("What describes disease or disorder in the text?\nASSISTANT:")
    backend.predict([NOTE])
    assert backend.counters["requests"] == 5


def test_causal_lm_renders_the_chat_template(garbage_backend: CausalLmBackend) -> None:
    prompt, special = garbage_backend.render(garbage_backend._ner.format.requests(NOTE)[0])
    assert prompt.startswith("<|system|>") and prompt.endswith("<|assistant|>") and not special


def test_plain_prompt_is_a_role_transcript() -> None:
    messages = (Message("system", "Be brief."), Message("user", "Text: x"), Message("assistant", "ok"))
    assert plain_prompt(messages) == "Be brief.\nUSER: Text: x\nASSISTANT: ok\nASSISTANT:"


def test_causal_lm_windows_fit_a_short_context(tmp_path: Path) -> None:
    directory = build_tiny_causal_lm(tmp_path, n_positions=160)
    backend = load(str(directory), CausalLmConfig(max_new_tokens=4, batch_size=16))
    note = " ".join([NOTE] * 6)
    [result] = backend.predict_documents([note])
    assert result.error is None
    assert backend._ner.chunk_config.max_tokens < 160
    assert result.counts["chunks"] > 1


def test_causal_lm_refuses_a_context_too_short_for_the_prompt(tmp_path: Path) -> None:
    directory = build_tiny_causal_lm(tmp_path, n_positions=48)
    with pytest.raises(ConfigError, match="E315"):
        load(str(directory), CausalLmConfig(max_new_tokens=4))


def test_causal_lm_describe_records_the_weights_hash(garbage_backend: CausalLmBackend, model_dir: Path) -> None:
    described = garbage_backend.describe()
    assert described["weights_sha256"] == weights_sha256(model_dir)
    assert described["backend"] == "causal" and described["prompt_format"] == "universal_ner"
    assert described["generation"]["do_sample"] is False  # type: ignore[index]
    json.dumps(described)


def test_causal_lm_loads_through_the_registry(model_dir: Path) -> None:
    backend = load_backend("causal", str(model_dir), CausalLmConfig(max_new_tokens=2))
    assert backend.name == "causal"


def test_causal_lm_offline_refuses_an_uncached_hub_id() -> None:
    with pytest.raises(ModelLoadError, match="E2"):
        load("nobody/no-such-model-xyz", CausalLmConfig())


def test_causal_lm_load_needs_a_model() -> None:
    with pytest.raises(ConfigError, match="E235"):
        load(None)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [({"max_new_tokens": 0}, "E230"), ({"batch_size": 0}, "E231"), ({"top_p": 0}, "E232"), ({"dtype": "int3"}, "E233")],
)
def test_causal_lm_config_rejects_bad_values(overrides: dict[str, object], code: str) -> None:
    with pytest.raises(ConfigError, match=code):
        CausalLmConfig(**overrides)  # type: ignore[arg-type]


def test_causal_lm_mentions_become_ctakes_annotations(garbage_backend: CausalLmBackend) -> None:
    from cassis import Cas, load_cas_from_xmi

    from ctakes_llm.annotators.ner import NerAnnotator
    from ctakes_llm.cas.ctakes_types import MEDICATION_MENTION, SIGN_SYMPTOM_MENTION
    from ctakes_llm.cas.typesystem import load_typesystem

    cas = Cas(typesystem=load_typesystem("4.0.0"))
    cas.sofa_string = NOTE
    annotator = NerAnnotator(_forced(garbage_backend, ANSWER))
    annotator.process(cas)
    assert [fs.get_covered_text() for fs in cas.select(SIGN_SYMPTOM_MENTION)] == ["chest pain"]
    assert [fs.get_covered_text() for fs in cas.select(MEDICATION_MENTION)] == ["aspirin"]
    reread = load_cas_from_xmi(cas.to_xmi(), typesystem=cas.typesystem)
    assert [fs.get_covered_text() for fs in reread.select(SIGN_SYMPTOM_MENTION)] == ["chest pain"]
    described = annotator.describe()
    assert described["counts"]["backend_ungrounded"] == 1  # type: ignore[index]
    json.dumps(described)
