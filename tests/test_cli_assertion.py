"""``ctakes-llm annotate --assertion llm`` and the pipeline file's assertion step, end to end.

Assertion prompts go over real HTTP to the loopback OpenAI-compatible test server (scripted answers) or to a tiny
random causal LM (garbage answers); the checks read the written XMI and the run manifest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from backends.openai_test_server import OpenAiTestServer
from backends.tiny_causal_lm import build_tiny_causal_lm
from click.testing import CliRunner, Result

from ctakes_llm.backends.http_retry import RetryPolicy
from ctakes_llm.cas.mentions import read_mentions
from ctakes_llm.cas.readers import cas_from_text
from ctakes_llm.cas.xmi import read_xmi
from ctakes_llm.cli import cli
from ctakes_llm.factories import BackendPool, build_pipeline, default_steps
from ctakes_llm.runner import MANIFEST_NAME

#: Words of the assertion prompt (``assertion/llm.py``) that no NER prompt has.
ASSERTION_PROMPT = "numbered clinical mention"
GARBAGE = "Sorry, I cannot help with that."


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAiTestServer]:
    running = OpenAiTestServer(model=None, tokenizer=None).start()  # every test scripts its answers
    yield running
    running.stop()


@pytest.fixture()
def scripted(server: OpenAiTestServer) -> Callable[[Callable[[str], str]], OpenAiTestServer]:
    """Reset the server and answer each request from its last message."""

    def script(answer: Callable[[str], str]) -> OpenAiTestServer:
        server.reset()
        server.answer = lambda messages: answer(messages[-1]["content"])
        return server

    return script


@pytest.fixture()
def bsv(tmp_path: Path) -> Path:
    path = tmp_path / "terms.bsv"
    path.write_text("C0008031|T184|chest pain\nC0015967|T184|fever\nC0010200|T184|cough\n", encoding="utf-8")
    return path


def write_notes(folder: Path, notes: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in notes.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def annotate(notes: Path, out: Path, *options: str) -> tuple[Result, dict]:
    result = CliRunner().invoke(cli, ["annotate", str(notes), "-o", str(out), "--no-progress", *options])
    assert result.exit_code == 0, result.output
    return result, json.loads((out / MANIFEST_NAME).read_text())


def assertion_step(manifest: dict) -> dict:
    [step] = [step for step in manifest["pipeline"] if step["annotator"] == "AssertionAnnotator"]
    return step


def written(out: Path, name: str) -> dict[str, dict[str, str]]:
    return {mention.text: dict(mention.attributes) for mention in read_mentions(read_xmi(out / f"{name}.xmi"))}


def assertion_requests(server: OpenAiTestServer) -> list[dict]:
    return [body for body in server.requests if ASSERTION_PROMPT in body["messages"][-1]["content"]]


def test_assertion_llm_asks_the_ner_server_and_falls_back_on_garbage(tmp_path, scripted) -> None:
    def answer(prompt: str) -> str:
        if ASSERTION_PROMPT in prompt:
            # against the rules on purpose: "Reports chest pain." is affirmed by them
            return '{"id": 1, "negated": true}' if '"chest pain"' in prompt else GARBAGE
        return '["chest pain", "fever"]' if "sign or symptom" in prompt else "[]"

    server = scripted(answer)
    notes = write_notes(tmp_path / "notes", {"a.txt": "Reports chest pain.\n", "b.txt": "Denies fever.\n"})
    out = tmp_path / "out"
    result, manifest = annotate(
        notes,
        out,
        *("--backend", "openai", "--base-url", server.base_url, "--model", server.model_name),
        *("--prompt-format", "universal_ner", "--assertion", "llm"),
    )
    assert written(out, "a.txt")["chest pain"]["polarity"] == "-1"  # the model's answer
    assert written(out, "b.txt")["fever"]["polarity"] == "-1"  # garbage: the rules read "Denies"
    step = assertion_step(manifest)
    assert step["method"] == "llm"
    assert step["model"] == {"backend": "openai", "model": server.model_name, "base_url": server.base_url}
    counts = step["counts"]
    assert (counts["asserted"], counts["classifier_prompts"]) == (2, 2)
    assert (counts["classifier_model_answers"], counts["classifier_fallback"]) == (1, 1)
    requests = assertion_requests(server)
    assert len(requests) == 2 and all(body["model"] == server.model_name for body in requests)
    assert not any("response_format" in body for body in requests)
    assert "; LLM assertion: 1 of 2 mentions fell back to the rules, 0 model errors" in result.output


def test_assertion_llm_with_its_own_backend_survives_a_server_error(tmp_path, scripted, bsv, caplog) -> None:
    server = scripted(lambda prompt: '{"id": 1, "negated": true} {"id": 2, "negated": true}')
    server.fail_next, server.fail_status = 1, 400  # not retried: the prompt fails at once
    notes = write_notes(tmp_path / "notes", {"a.txt": "Reports cough. Denies chest pain.\n"})
    out = tmp_path / "out"
    result, manifest = annotate(
        notes,
        out,
        *("--no-model", "--dictionary", str(bsv), "--device", "cpu"),  # --device: an option openai lacks, left out
        *("--assertion", "llm", "--assertion-backend", "openai", "--assertion-model", server.model_name),
        *("--base-url", server.base_url),
    )
    attributes = written(out, "a.txt")
    assert attributes["cough"]["polarity"] == "1" and attributes["chest pain"]["polarity"] == "-1"  # the rules
    counts = assertion_step(manifest)["counts"]
    assert (counts["classifier_model_errors"], counts["classifier_fallback"]) == (1, 2)
    assert manifest["documents"]["failed"] == 0
    assert "[E364]" in caplog.text and "HTTP 400" in caplog.text
    assert "; LLM assertion: 2 of 2 mentions fell back to the rules, 1 model errors" in result.output


def test_cli_summary_has_no_llm_assertion_counts_with_the_rules(tmp_path, bsv) -> None:
    notes = write_notes(tmp_path / "notes", {"a.txt": "Denies cough.\n"})
    result, _ = annotate(notes, tmp_path / "out", "--no-model", "--dictionary", str(bsv))
    assert "1 written" in result.output and "LLM assertion" not in result.output


def test_pipeline_file_assertion_step_selects_the_llm(tmp_path, scripted, bsv) -> None:
    server = scripted(lambda prompt: '{"id": 1, "historical": true}')
    pipeline = tmp_path / "pipeline.json"
    assertion = {
        "annotator": "assertion",
        "method": "llm",
        "backend": "openai",
        "model": server.model_name,
        "options": {"base_url": server.base_url},
        "mentions_per_prompt": 1,
    }
    steps = [{"annotator": "preprocess"}, {"annotator": "dictionary", "path": str(bsv)}, assertion]
    pipeline.write_text(json.dumps({"steps": steps}), encoding="utf-8")
    notes = write_notes(tmp_path / "notes", {"a.txt": "Reports cough. Reports fever.\n"})
    out = tmp_path / "out"
    _, manifest = annotate(notes, out, "--pipeline", str(pipeline))
    attributes = written(out, "a.txt")
    assert attributes["cough"]["historyOf"] == "1" and attributes["fever"]["historyOf"] == "1"
    assert len(assertion_requests(server)) == 2
    assert assertion_step(manifest)["mentions_per_prompt"] == 1


@pytest.mark.parametrize(("max_retries", "polarity", "model_errors"), [(0, "1", 1), (1, "-1", 0)])
def test_pipeline_file_retry_object_sets_the_backend_retry_policy(
    tmp_path, scripted, bsv, max_retries, polarity, model_errors
) -> None:
    server = scripted(lambda prompt: '{"id": 1, "negated": true}')
    server.fail_next = 1  # HTTP 500: retried only if the policy allows it
    retry = {"max_retries": max_retries, "backoff_s": 0.0}
    assertion = {
        "annotator": "assertion",
        "method": "llm",
        "backend": "openai",
        "model": server.model_name,
        "options": {"base_url": server.base_url, "retry": retry},
    }
    steps = [{"annotator": "preprocess"}, {"annotator": "dictionary", "path": str(bsv)}, assertion]
    pipeline = tmp_path / "pipeline.json"
    pipeline.write_text(json.dumps({"steps": steps}), encoding="utf-8")
    notes = write_notes(tmp_path / "notes", {"a.txt": "Reports cough.\n"})
    out = tmp_path / "out"
    _, manifest = annotate(notes, out, "--pipeline", str(pipeline))
    assert written(out, "a.txt")["cough"]["polarity"] == polarity  # the rules say 1, the model -1
    assert len(assertion_requests(server)) == 1 + max_retries
    assert assertion_step(manifest)["counts"].get("classifier_model_errors", 0) == model_errors


def test_pipeline_file_retry_object_with_an_unknown_field_is_refused(tmp_path) -> None:
    assertion = {"method": "llm", "backend": "openai", "model": "m"}
    options = {"base_url": "http://127.0.0.1:9/v1", "retry": {"retries": 1}}
    pipeline = tmp_path / "pipeline.json"
    pipeline.write_text(json.dumps({"steps": [{"annotator": "assertion", **assertion, "options": options}]}))
    result = CliRunner().invoke(cli, ["annotate", "-", "-o", "-", "--pipeline", str(pipeline)], input=b"x\n")
    assert result.exit_code == 1
    assert "E419" in result.output and "'retries'" in result.output and "max_retries" in result.output


def test_assertion_llm_timeout_falls_back_to_the_rules(scripted, bsv) -> None:
    server = scripted(lambda prompt: '{"id": 1, "negated": true}')
    server.sleep_s = 1.0
    options = {"base_url": server.base_url, "timeout_s": 0.2, "retry": RetryPolicy(max_retries=0)}
    steps = default_steps(
        backend=None,
        dictionary=bsv,
        assertion_method="llm",
        assertion_backend="openai",
        assertion_model=server.model_name,
        backend_options=options,
    )
    pipeline = build_pipeline(steps)
    cas = cas_from_text("Reports cough.\n")
    pipeline.process(cas)
    [cough] = read_mentions(cas)
    assert cough.attributes["polarity"] == "1"  # the rules; the model would have said negated
    counts = pipeline.describe()[-1]["counts"]
    assert (counts["classifier_model_errors"], counts["classifier_fallback"]) == (1, 1)


def test_assertion_llm_on_a_causal_lm_counts_its_garbage(tmp_path, bsv) -> None:
    model = build_tiny_causal_lm(tmp_path / "tiny_lm")
    notes = write_notes(tmp_path / "notes", {"a.txt": "Denies chest pain. Reports cough.\n"})
    out = tmp_path / "out"
    _, manifest = annotate(
        notes,
        out,
        *("--no-model", "--dictionary", str(bsv), "--device", "cpu"),
        *("--assertion", "llm", "--assertion-backend", "causal", "--assertion-model", str(model)),
    )
    attributes = written(out, "a.txt")
    assert attributes["chest pain"]["polarity"] == "-1" and attributes["cough"]["polarity"] == "1"
    step = assertion_step(manifest)
    assert step["model"] == {"backend": "causal", "model": str(model)}
    counts = step["counts"]
    assert counts["classifier_prompts"] >= 1
    assert counts["classifier_fallback"] == counts["asserted"] >= 2  # random weights: no readable answer


def test_ner_and_llm_assertion_on_the_same_settings_share_one_backend(server) -> None:
    options = {"base_url": server.base_url}
    steps = default_steps(backend="openai", model=server.model_name, backend_options=options, assertion_method="llm")
    ner, assertion = steps[1], steps[2]
    assert (ner["backend"], ner["model"], ner["options"]) == (assertion["backend"], assertion["model"], options)
    pool = BackendPool()
    first = pool.get("openai", server.model_name, options)
    assert pool.get("openai", server.model_name, dict(options)) is first
    assert pool.get("openai", server.model_name, options | {"timeout_s": 5.0}) is not first


@pytest.mark.parametrize(
    ("options", "code", "hint"),
    [
        (["--assertion", "llm"], "E415", "--assertion-backend"),  # the token backend cannot answer prompts
        (["--no-model", "--assertion", "llm"], "E415", "--assertion-model"),
        (["--no-model", "--assertion", "llm", "--assertion-backend", "openai"], "E416", "--assertion-model"),
        (["--no-model", "--assertion-model", "m"], "E418", "--assertion llm"),
        (["--no-model", "--no-assertion", "--assertion", "llm"], "E418", "--no-assertion"),
    ],
)
def test_cli_assertion_llm_config_errors_name_what_is_missing(options, code, hint) -> None:
    result = CliRunner().invoke(cli, ["annotate", "-", "-o", "-", *options], input=b"Denies chest pain.\n")
    assert result.exit_code == 1
    assert code in result.output and hint in result.output


@pytest.mark.parametrize(
    ("step", "code"),
    [
        ({"method": "llm", "backend": "token", "model": "m"}, "E415"),
        ({"method": "llm", "backend": "causal"}, "E416"),
        ({"method": "rules"}, "E417"),
        ({"method": "llm", "backend": "openai", "model": "m", "options": {"base_url": "x"}, "top_k": 3}, "E413"),
    ],
)
def test_pipeline_file_assertion_step_errors(tmp_path, step, code) -> None:
    pipeline = tmp_path / "pipeline.json"
    pipeline.write_text(json.dumps({"steps": [{"annotator": "assertion", **step}]}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["annotate", "-", "-o", "-", "--pipeline", str(pipeline)], input=b"x\n")
    assert result.exit_code == 1
    assert code in result.output
