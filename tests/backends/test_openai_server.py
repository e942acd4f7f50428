"""The OpenAI-compatible backend against a real HTTP server on loopback around a tiny transformers model."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_test_server import OpenAiTestServer
from tiny_causal_lm import build_tiny_causal_lm

from ctakes_llm.backends.http_retry import RetryPolicy
from ctakes_llm.backends.openai_server import OpenAiConfig, OpenAiServerBackend, load
from ctakes_llm.backends.registry import load_backend
from ctakes_llm.errors import BackendError, ConfigError, ModelLoadError
from ctakes_llm.ner.formats import Message, Request
from ctakes_llm.ner.generative import Generation, GenerativeConfig
from ctakes_llm.ner.mention import Grounding, MentionClass

NOTE = "The patient reports chest pain and fever. Started aspirin 81 mg daily."
FAST_RETRY = RetryPolicy(max_retries=2, backoff_s=0.01, max_backoff_s=0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAiTestServer]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))
    model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    running = OpenAiTestServer(model, tokenizer).start()
    yield running
    running.stop()


@pytest.fixture
def live(server: OpenAiTestServer) -> Iterator[OpenAiTestServer]:
    server.reset()
    yield server
    server.reset()


def _config(server: OpenAiTestServer, **overrides: object) -> OpenAiConfig:
    options: dict[str, object] = {"base_url": server.base_url, "max_tokens": 8, "retry": FAST_RETRY}
    options.update(overrides)
    return OpenAiConfig(**options)  # type: ignore[arg-type]


def _canned(messages: list[dict[str, str]]) -> str:
    question = messages[-1]["content"]
    if "sign or symptom" in question:
        return '["Chest pain", "unicorn horn", "fever"]'
    if "medication" in question:
        return '```json\n["aspirin"]\n```'
    return "[]"


def test_openai_backend_counts_garbage_from_a_random_model(live: OpenAiTestServer) -> None:
    backend = load(live.model_name, _config(live))
    [mentions] = backend.predict([NOTE])
    assert all(NOTE[m.begin : m.end] == m.text for m in mentions)
    counts = backend.counters
    assert counts["requests"] == 5 and len(live.requests) == 5
    assert counts["unparseable"] >= 1
    assert counts["grounded"] == len(mentions)
    schema = live.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema == {"type": "array", "items": {"type": "string"}}
    assert live.requests[0]["temperature"] == 0.0 and live.requests[0]["max_tokens"] == 8


def test_openai_backend_grounds_a_canned_answer_over_http(live: OpenAiTestServer) -> None:
    live.answer = _canned
    backend = load(live.model_name, _config(live))
    [mentions] = backend.predict([NOTE])
    found = {(m.cls, m.text, m.grounding) for m in mentions}
    assert found == {
        (MentionClass.SIGN_SYMPTOM, "chest pain", Grounding.NORMALIZED),
        (MentionClass.SIGN_SYMPTOM, "fever", Grounding.EXACT),
        (MentionClass.MEDICATION, "aspirin", Grounding.EXACT),
    }
    assert all(NOTE[m.begin : m.end] == m.text for m in mentions)
    assert backend.counters["ungrounded"] == 1
    assert backend.counters["unparseable"] == 0
    [result] = backend.predict_documents([NOTE])
    assert [proposal.text for _, proposal in result.ungrounded] == ["unicorn horn"]


def test_openai_backend_retries_server_errors_then_succeeds(live: OpenAiTestServer) -> None:
    live.answer = _canned
    backend = load(live.model_name, _config(live, concurrency=1))
    live.fail_next = 2
    [mentions] = backend.predict([NOTE])
    assert len(mentions) == 3
    assert backend.counters["retries"] == 2
    assert len(live.requests) == 5 + 2


def test_openai_backend_retries_rate_limits(live: OpenAiTestServer) -> None:
    live.answer = _canned
    backend = load(live.model_name, _config(live, concurrency=1))
    live.fail_next, live.fail_status = 1, 429
    assert len(backend.predict([NOTE])[0]) == 3
    assert backend.counters["retries"] == 1


def test_openai_backend_does_not_retry_client_errors(live: OpenAiTestServer) -> None:
    live.answer = _canned
    backend = load(live.model_name, _config(live, concurrency=1))
    live.fail_next, live.fail_status = 1, 422
    with pytest.raises(BackendError, match=r"E247.*422"):
        backend.predict([NOTE])
    assert backend.counters["retries"] == 0


def test_retry_policy_backs_off_exponentially_within_the_cap() -> None:
    policy = RetryPolicy(max_retries=5, backoff_s=0.5, max_backoff_s=3.0)
    assert [policy.delay_s(n) for n in range(4)] == [0.5, 1.0, 2.0, 3.0]
    assert policy.delay_s(0, retry_after="2") == 2.0
    assert policy.delay_s(0, retry_after="60") == 3.0
    assert policy.delay_s(0, retry_after="Wed, 21 Oct 2015 07:28:00 GMT") == 0.5
    with pytest.raises(ConfigError, match="E238"):
        RetryPolicy(max_retries=-1)


def test_openai_backend_fails_the_document_after_retries_and_goes_on(live: OpenAiTestServer) -> None:
    live.answer = _canned
    backend = load(live.model_name, _config(live, retry=RetryPolicy(max_retries=1, backoff_s=0.01)))
    live.fail_next = 10_000
    with pytest.raises(BackendError, match="E240"):
        backend.predict([NOTE])
    live.fail_next = 10_000
    (failed,) = backend.predict_documents([NOTE])
    assert failed.error is not None and failed.mentions == []
    live.fail_next = 0
    [mentions] = backend.predict([NOTE])
    assert len(mentions) == 3
    assert backend.counters["failed_documents"] == 2
    assert backend.counters["documents"] == 3


def test_openai_backend_retries_timeouts_then_reports_them(live: OpenAiTestServer) -> None:
    live.answer = _canned
    live.sleep_s = 1.0
    config = _config(live, timeout_s=0.2, concurrency=1, retry=RetryPolicy(max_retries=1, backoff_s=0.01))
    backend = load(live.model_name, config)
    with pytest.raises(BackendError, match=r"E240.*timed out"):
        backend.predict([NOTE])
    assert backend.counters["retries"] == 1


def test_openai_backend_falls_back_when_the_server_rejects_json_schema(live: OpenAiTestServer) -> None:
    live.answer = _canned
    live.reject_schema = True
    backend = load(live.model_name, _config(live, concurrency=1))
    [mentions] = backend.predict([NOTE])
    assert len(mentions) == 3
    assert backend.counters["schema_fallbacks"] == 1
    assert "response_format" in live.requests[0]
    assert all("response_format" not in body for body in live.requests[1:])
    assert backend.describe()["structured_output"] is False


def test_openai_backend_sends_no_schema_for_free_text_formats(live: OpenAiTestServer) -> None:
    live.answer = lambda messages: "T1\tSignSymptom 20 30\tchest pain\nnot a standoff line"
    config = _config(live, generative=GenerativeConfig(prompt_format="multi_brat"))
    backend = load(live.model_name, config)
    [mentions] = backend.predict([NOTE])
    assert [(m.text, m.begin) for m in mentions] == [("chest pain", 20)]
    assert backend.counters["unparseable"] == 1
    assert "response_format" not in live.requests[0]


def test_openai_backend_reads_the_key_from_the_named_variable(
    live: OpenAiTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    live.api_key = "s3cret"
    monkeypatch.setenv("CTAKES_TEST_KEY", "s3cret")
    backend = load(live.model_name, _config(live, api_key_env="CTAKES_TEST_KEY"))
    live.answer = _canned
    assert len(backend.predict([NOTE])[0]) == 3
    monkeypatch.setenv("CTAKES_TEST_KEY", "wrong")
    with pytest.raises(ModelLoadError, match="E253"):
        load(live.model_name, _config(live, api_key_env="CTAKES_TEST_KEY"))
    monkeypatch.delenv("CTAKES_TEST_KEY")
    with pytest.raises(ModelLoadError, match="E250"):
        load(live.model_name, _config(live, api_key_env="CTAKES_TEST_KEY"))


def test_openai_load_refuses_a_model_the_server_does_not_serve(live: OpenAiTestServer) -> None:
    with pytest.raises(ModelLoadError, match=r"E255.*tiny-gpt2"):
        load("other-model", _config(live))


def test_openai_load_reports_an_unreachable_server() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ModelLoadError, match="E252"):
        load("tiny-gpt2", OpenAiConfig(base_url=f"http://127.0.0.1:{port}/v1", connect_timeout_s=1.0))


def test_openai_backend_generate_answers_each_request_in_order(live: OpenAiTestServer) -> None:
    live.answer = lambda messages: messages[-1]["content"].upper()
    backend = load(live.model_name, _config(live, concurrency=3))
    questions = [f"question {index}" for index in range(7)]
    requests = [Request((Message("system", "Answer briefly."), Message("user", text))) for text in questions]
    answers = backend.generate(requests)
    assert answers == [Generation(text.upper(), False) for text in questions]
    assert sorted(body["messages"][-1]["content"] for body in live.requests) == questions
    assert all("response_format" not in body for body in live.requests)  # no schema asked, none sent
    assert dict(backend.counters) == {}  # completing prompts is not NER work


def test_openai_backend_generate_raises_when_the_server_refuses(live: OpenAiTestServer) -> None:
    backend = load(live.model_name, _config(live, concurrency=1))
    live.fail_next, live.fail_status = 1, 422
    with pytest.raises(BackendError, match=r"E247.*422"):
        backend.generate([Request((Message("user", "Fever?"),))])


def test_openai_backend_through_the_registry_describes_itself(live: OpenAiTestServer) -> None:
    live.answer = _canned
    backend = load_backend("openai", live.model_name, _config(live))
    assert isinstance(backend, OpenAiServerBackend)
    backend.predict([NOTE])
    described = backend.describe()
    assert described["backend"] == "openai" and described["model"] == live.model_name
    assert described["prompt_format"] == "universal_ner"
    assert described["counts"]["grounded"] == 3  # type: ignore[index]
    json.dumps(described)


def test_openai_backend_sizes_windows_to_the_context(live: OpenAiTestServer) -> None:
    live.answer = _canned
    note = " ".join([NOTE] * 40)
    backend = load(live.model_name, _config(live, context_tokens=400))
    [mentions] = backend.predict([note])
    chunks = backend.counters["chunks"]
    assert chunks > 1
    # The canned answer names "aspirin" once per window: each window grounds the first one it holds.
    aspirin = [m.begin for m in mentions if m.text == "aspirin"]
    assert 1 < len(aspirin) <= chunks and len(set(aspirin)) == len(aspirin)
    assert all(note[m.begin : m.end] == m.text for m in mentions)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [({"base_url": "localhost:8000"}, "E241"), ({"concurrency": 0}, "E242"), ({"timeout_s": 0}, "E243")],
)
def test_openai_config_rejects_bad_values(overrides: dict[str, object], code: str) -> None:
    with pytest.raises(ConfigError, match=code):
        OpenAiConfig(**overrides)  # type: ignore[arg-type]


def test_openai_load_needs_a_model_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="E249"):
        load(None, OpenAiConfig())
