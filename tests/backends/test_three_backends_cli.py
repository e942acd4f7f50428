"""The same notes through all three backends, end to end through ``ctakes-llm annotate``: only grounded spans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from openai_test_server import OpenAiTestServer
from tiny_causal_lm import build_tiny_causal_lm

from ctakes_llm.cas.mentions import read_mentions
from ctakes_llm.cas.xmi import read_xmi
from ctakes_llm.cli import cli
from ctakes_llm.ner.mention import MentionClass
from ctakes_llm.ner.rag import HINTS_HEADER
from ctakes_llm.runner import MANIFEST_NAME

NOTES = {
    "a.txt": "Fever and chest pain since Monday.\nStarted aspirin for pneumonia.\n",
    "b.txt": "CBC ordered. Abdomen soft. No fever \U0001f642 today.\n",
}


@pytest.fixture()
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def causal_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_causal_lm(tmp_path_factory.mktemp("causal"))


@pytest.fixture(scope="module")
def server(causal_model: Path) -> Iterator[OpenAiTestServer]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(causal_model, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(causal_model, local_files_only=True)
    running = OpenAiTestServer(model, tokenizer).start()
    yield running
    running.stop()


def annotate(notes: Path, out: Path, *options: str) -> dict:
    result = CliRunner().invoke(cli, ["annotate", str(notes), "-o", str(out), "--no-progress", *options])
    assert result.exit_code == 0, result.output
    return json.loads((out / MANIFEST_NAME).read_text())


def annotate_with_server(notes: Path, out: Path, server: OpenAiTestServer, *options: str) -> dict:
    return annotate(
        notes, out, "--backend", "openai", "--base-url", server.base_url, "--model", server.model_name, *options
    )


def written_mentions(out: Path) -> dict[str, list[tuple[MentionClass, str]]]:
    found = {}
    for name, text in NOTES.items():
        cas = read_xmi(out / f"{name}.xmi")
        assert cas.sofa_string == text
        mentions = read_mentions(cas)
        assert all(text[m.begin : m.end] == m.text for m in mentions)  # only grounded spans
        found[name] = [(m.cls, m.text) for m in mentions]
    return found


def test_token_backend_end_to_end(notes, tmp_path, keyword_token_model):
    out = tmp_path / "out"
    manifest = annotate(notes, out, "--backend", "token", "--model", str(keyword_token_model))
    found = written_mentions(out)
    assert (MentionClass.MEDICATION, "aspirin") in found["a.txt"]
    assert (MentionClass.SIGN_SYMPTOM, "chest pain") in found["a.txt"]
    assert (MentionClass.ANATOMICAL_SITE, "Abdomen") in found["b.txt"]
    assert manifest["pipeline"][1]["backend"]["weights_sha256"]


def test_causal_backend_with_garbage_model_writes_no_bad_span_and_counts_it(notes, tmp_path, causal_model):
    out = tmp_path / "out"
    manifest = annotate(
        notes, out, "--backend", "causal", "--model", str(causal_model), "--prompt-format", "universal_ner"
    )
    written_mentions(out)
    counts = manifest["pipeline"][1]["counts"]
    assert counts["backend_documents"] == 2
    assert counts["backend_requests"] > 0
    # a random-weight model answers garbage: it is counted, never written as a span
    assert counts.get("backend_unparseable", 0) + counts.get("backend_ungrounded", 0) > 0


def test_openai_backend_grounds_answers_and_counts_hallucinations(notes, tmp_path, server):
    def answer(messages: list[dict[str, str]]) -> str:
        question = messages[-1]["content"]
        if "sign or symptom" in question:
            return '["chest pain", "fever", "night sweats"]'  # "night sweats" is in neither note
        if "medication" in question:
            return '["aspirin"'  # half-JSON
        return "[]"

    server.reset()
    server.answer = answer
    out = tmp_path / "out"
    manifest = annotate_with_server(notes, out, server, "--prompt-format", "universal_ner")
    found = written_mentions(out)
    assert (MentionClass.SIGN_SYMPTOM, "chest pain") in found["a.txt"]
    assert (MentionClass.SIGN_SYMPTOM, "fever") in found["b.txt"]
    counts = manifest["pipeline"][1]["counts"]
    assert counts["backend_ungrounded"] >= 2  # "night sweats" in each note
    assert not any(text == "night sweats" for mentions in found.values() for _, text in mentions)


def test_openai_backend_prompts_carry_knn_examples_and_knowledge_hints(notes, tmp_path, server):
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "ex1.txt").write_text("The patient reported severe chest pain at rest.\n", encoding="utf-8")
    (examples / "ex1.ann").write_text("T1\tSignSymptom 27 37\tchest pain\n", encoding="utf-8")
    bsv = tmp_path / "terms.bsv"
    bsv.write_text("C0032285|T047|pneumonia|Pneumonia\n", encoding="utf-8")
    index = tmp_path / "kb.sqlite"
    assert CliRunner().invoke(cli, ["kb", "build", "-o", str(index), "--bsv", str(bsv)]).exit_code == 0

    server.reset()
    server.answer = lambda messages: "[]"
    out = tmp_path / "out"
    annotate_with_server(
        notes,
        out,
        server,
        "--fewshot-corpus",
        str(examples),
        "--fewshot-k",
        "1",
        "--rag-kb",
        str(index),
        "--no-assertion",
        "--batch-size",
        "1",
    )
    prompts = [" ".join(message["content"] for message in body["messages"]) for body in server.requests]
    assert prompts and all("severe chest pain at rest" in prompt for prompt in prompts)  # the kNN example
    with_pneumonia = [prompt for prompt in prompts if "for pneumonia" in prompt]
    without = [prompt for prompt in prompts if "for pneumonia" not in prompt]
    assert with_pneumonia and all(
        HINTS_HEADER in prompt and "Disease or Syndrome" in prompt for prompt in with_pneumonia
    )
    assert without and not any(HINTS_HEADER in prompt for prompt in without)  # note b has no index term
