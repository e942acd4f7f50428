from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from ctakes_llm.annotators.assertion import AssertionAnnotator
from ctakes_llm.annotators.concepts import ConceptAnnotator
from ctakes_llm.annotators.dictionary import DictionaryAnnotator, DictionaryConfig
from ctakes_llm.annotators.ner import NerAnnotator
from ctakes_llm.assertion.llm import LlmAssertionClassifier
from ctakes_llm.backends.generative_base import GenerativeBackend
from ctakes_llm.cas.ctakes_types import MEDICATION_MENTION, SIGN_SYMPTOM_MENTION
from ctakes_llm.cas.mentions import read_mentions
from ctakes_llm.cas.xmi import read_xmi
from ctakes_llm.errors import BackendError, ConfigError, InputError
from ctakes_llm.knowledge.index import KnowledgeIndex, build_index
from ctakes_llm.ner.chunking import ChunkConfig
from ctakes_llm.ner.formats import Request
from ctakes_llm.ner.generative import Generation, GenerativeConfig
from ctakes_llm.ner.mention import MentionClass
from ctakes_llm.pipeline import Pipeline
from ctakes_llm.runner import (
    JSONL_NAME,
    MANIFEST_NAME,
    LlmAssertionCounts,
    NerCounts,
    RunConfig,
    RunReport,
    run_corpus,
)

CTAKES_XMI = "ctakes/ctakes-run-output/xmi/examples__small__pain_no_swelling.txt.xmi"


@pytest.fixture()
def corpus(tmp_path: Path, shared_dir: Path) -> Path:
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("Denies chest pain. Takes aspirin.\n", encoding="utf-8")
    (root / "sub" / "b.txt").write_text("Chest pain 🙂 and chest pain again.\n", encoding="utf-8")
    (root / "ctakes.xmi").write_bytes((shared_dir / CTAKES_XMI).read_bytes())
    return root


def pipeline(fake_backend) -> Pipeline:
    return Pipeline([NerAnnotator(fake_backend)])


def test_run_corpus_writes_one_xmi_per_note_and_keeps_input_xmi_content(corpus, tmp_path, fake_backend, shared_dir):
    out = tmp_path / "out"
    report = run_corpus([corpus], pipeline(fake_backend), RunConfig(out, progress=False))
    assert report.ok and report.written == 3
    a = read_xmi(out / "a.txt.xmi")
    assert [fs.get_covered_text() for fs in a.select(MEDICATION_MENTION)] == ["aspirin"]
    b = read_xmi(out / "sub" / "b.txt.xmi")
    assert [fs.get_covered_text() for fs in b.select(SIGN_SYMPTOM_MENTION)] == ["chest pain"]
    original = read_xmi(shared_dir / CTAKES_XMI)
    ours = read_xmi(out / "ctakes.xmi")
    assert len(ours.select_all_fs()) >= len(original.select_all_fs())
    assert len(read_mentions(ours)) == len(read_mentions(original))  # fake backend finds nothing in that note
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["documents"] == {"written": 3, "skipped": 0, "failed": 0}
    assert manifest["pipeline"][0]["counts"]["mentions"] == 3


def test_run_corpus_on_its_own_output_folder_skips_the_run_manifest(corpus, tmp_path, fake_backend):
    """Chained runs (annotate notes/ -o a/, then annotate a/ -o b/) read the XMI, not the manifest as a note."""
    first, second = tmp_path / "first", tmp_path / "second"
    run_corpus([corpus], pipeline(fake_backend), RunConfig(first, progress=False))
    (first / "sub" / MANIFEST_NAME).write_text("{}")  # a run's output folder copied into a subfolder
    report = run_corpus([first], pipeline(fake_backend), RunConfig(second, progress=False))
    assert report.ok and report.written == 3
    assert sorted(str(p.relative_to(second)) for p in second.rglob("*")) == sorted(
        [MANIFEST_NAME, "a.txt.xmi", "ctakes.xmi", "sub", "sub/b.txt.xmi"]
    )
    # named on its own, it is a file like any other
    assert run_corpus([first / MANIFEST_NAME], pipeline(fake_backend), RunConfig(tmp_path / "third")).written == 1


def test_run_corpus_reports_bad_documents_by_name_and_writes_the_rest(corpus, tmp_path, fake_backend):
    (corpus / "empty.txt").write_text("  \n", encoding="utf-8")
    (corpus / "latin.txt").write_bytes("caf\xe9 chest pain".encode("cp1252"))
    (corpus / "broken.xmi").write_text(
        '<?xml version="1.0"?><xmi:XMI xmlns:xmi="http://www.omg.org/XMI"><cas:Sofa', encoding="utf-8"
    )
    out = tmp_path / "out"
    report = run_corpus([corpus], pipeline(fake_backend), RunConfig(out, progress=False))
    assert report.written == 3
    failed = {Path(failure.path).name: failure.message for failure in report.failures}
    assert set(failed) == {"empty.txt", "latin.txt", "broken.xmi"}
    assert all("\n" not in message and name in message for name, message in failed.items())
    assert not (out / "empty.txt.xmi").exists() and not (out / "broken.xmi").exists()
    assert "FAILED" in report.summary()


def test_run_corpus_resume_skips_finished_documents(corpus, tmp_path, fake_backend):
    out = tmp_path / "out"
    run_corpus([corpus], pipeline(fake_backend), RunConfig(out, progress=False))
    (out / "a.txt.xmi").unlink()
    fake_backend.calls.clear()
    report = run_corpus([corpus], pipeline(fake_backend), RunConfig(out, progress=False, resume=True))
    assert (report.written, report.skipped) == (1, 2)
    assert fake_backend.calls == [1]


def test_run_corpus_backend_failure_is_isolated_to_its_document(corpus, tmp_path, fake_backend):
    original = fake_backend.predict

    def flaky(texts):
        if any("again" in text for text in texts):
            raise RuntimeError("server said 500")
        return original(texts)

    fake_backend.predict = flaky
    out = tmp_path / "out"
    report = run_corpus([corpus], pipeline(fake_backend), RunConfig(out, progress=False))
    assert report.written == 2
    assert [Path(f.path).name for f in report.failures] == ["b.txt"]
    assert "server said 500" in report.failures[0].message


def test_run_corpus_jsonl_writes_one_line_per_document_and_resumes(corpus, tmp_path, fake_backend):
    out = tmp_path / "out"
    run_corpus([corpus], pipeline(fake_backend), RunConfig(out, output_format="jsonl", progress=False))
    records = [json.loads(line) for line in (out / JSONL_NAME).read_text().splitlines()]
    assert sorted(record["id"] for record in records) == ["a.txt", "ctakes", "sub/b.txt"]
    report = run_corpus(
        [corpus], pipeline(fake_backend), RunConfig(out, output_format="jsonl", progress=False, resume=True)
    )
    assert (report.written, report.skipped) == (0, 3)
    assert len((out / JSONL_NAME).read_text().splitlines()) == 3


def test_run_corpus_refuses_to_overwrite_inputs(tmp_path, fake_backend):
    (tmp_path / "note.txt.xmi").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="E407"):
        run_corpus(
            [tmp_path / "note.txt.xmi"],
            pipeline(fake_backend),
            RunConfig(tmp_path, progress=False),
        )


def test_run_corpus_with_no_inputs_is_an_input_error(tmp_path, fake_backend):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="E125"):
        run_corpus([tmp_path / "empty"], pipeline(fake_backend), RunConfig(tmp_path / "out", progress=False))


def test_run_corpus_per_document_backend_errors_fail_only_that_document_without_rerunning_others(
    corpus, tmp_path, fake_backend
):
    from ctakes_llm.errors import BackendError
    from ctakes_llm.ner.generative import DocumentResult

    class PerDocument:
        name = "per-document"
        counters: ClassVar[dict[str, int]] = {}

        def __init__(self) -> None:
            self.seen: list[int] = []

        def predict(self, texts):
            raise AssertionError("predict_documents should be used")

        def predict_documents(self, texts):
            self.seen.append(len(texts))
            results = []
            for text, mentions in zip(texts, fake_backend.predict(texts), strict=True):
                error = BackendError("[E999] server returned 500 three times") if "again" in text else None
                results.append(DocumentResult([] if error else mentions, Counter(), error=error))
            return results

    backend = PerDocument()
    report = run_corpus([corpus], Pipeline([NerAnnotator(backend)]), RunConfig(tmp_path / "out", progress=False))
    assert backend.seen == [3]
    assert report.written == 2
    assert [(Path(f.path).name, "E999" in f.message) for f in report.failures] == [("b.txt", True)]


def test_run_corpus_xmi_with_a_feature_no_ctakes_type_system_has_is_reported_by_name(
    corpus, tmp_path, fake_backend, shared_dir
):
    sample = shared_dir / "ctakes" / "xmi-samples" / "JuliaHealth-CTakesParser.jl" / "test_no_preferred_text.xmi"
    (corpus / "wrong_ts.xmi").write_bytes(sample.read_bytes())
    report = run_corpus([corpus], pipeline(fake_backend), RunConfig(tmp_path / "out", progress=False))
    assert report.written == 3
    [failure] = report.failures
    assert Path(failure.path).name == "wrong_ts.xmi"
    assert "wrong_ts.xmi" in failure.message and "pText" in failure.message and "\n" not in failure.message


def test_run_corpus_refuses_two_inputs_that_map_to_one_output(tmp_path, fake_backend):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "note.txt").write_text("chest pain", encoding="utf-8")
    with pytest.raises(ConfigError, match="E408"):
        run_corpus(
            [tmp_path / "a", tmp_path / "b"], pipeline(fake_backend), RunConfig(tmp_path / "out", progress=False)
        )


def test_run_corpus_summary_counts_llm_assertion_fallbacks_and_model_errors_of_this_run(tmp_path, fake_backend):
    def generate(prompt: str) -> str:
        if "Reports chest pain." in prompt:
            raise BackendError("[E999] server returned 500")
        return '{"id": 1, "negated": true}'  # the prompt's second mention (aspirin) gets no answer

    notes = tmp_path / "in"
    notes.mkdir()
    (notes / "a.txt").write_text("Denies chest pain. Takes aspirin.\n", encoding="utf-8")
    (notes / "b.txt").write_text("Reports chest pain.\n", encoding="utf-8")
    llm = Pipeline([NerAnnotator(fake_backend), AssertionAnnotator(LlmAssertionClassifier(generate))])
    report = run_corpus([notes], llm, RunConfig(tmp_path / "out", progress=False))
    assert report.llm_assertion == LlmAssertionCounts(asserted=3, fallback=2, model_errors=1)
    [line] = report.summary().splitlines()
    assert line.endswith("; LLM assertion: 2 of 3 mentions fell back to the rules, 1 model errors")
    manifest = json.loads((tmp_path / "out" / MANIFEST_NAME).read_text())
    counts = manifest["pipeline"][1]["counts"]
    assert (counts["asserted"], counts["classifier_fallback"], counts["classifier_model_errors"]) == (3, 2, 1)

    again = run_corpus([notes / "a.txt"], llm, RunConfig(tmp_path / "again", progress=False))
    assert again.llm_assertion == LlmAssertionCounts(asserted=2, fallback=1, model_errors=0)


def test_run_corpus_summary_has_no_llm_assertion_counts_without_an_llm_step(corpus, tmp_path, fake_backend):
    rules = Pipeline([NerAnnotator(fake_backend), AssertionAnnotator()])
    report = run_corpus([corpus], rules, RunConfig(tmp_path / "out", progress=False))
    assert report.llm_assertion is None
    assert "LLM" not in report.summary()


class ScriptedGenerativeBackend(GenerativeBackend):
    """A generative backend without a model: ``answer`` gives the answer to each UniversalNER request."""

    name = "scripted"

    def __init__(self, answer: Callable[[Request], Generation], chunk: ChunkConfig | None = None) -> None:
        self.answer = answer
        super().__init__(
            GenerativeConfig(chunk=chunk or ChunkConfig()),
            count_tokens=lambda text: len(text.split()),
            prompt_tokens=lambda request: 0,
            context_tokens=None,
            max_new_tokens=0,
        )

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        return [self.answer(request) for request in requests]


def one_note(tmp_path: Path, text: str = "Denies chest pain. Takes aspirin.\n") -> Path:
    notes = tmp_path / "in"
    notes.mkdir(exist_ok=True)
    (notes / "a.txt").write_text(text, encoding="utf-8")
    return notes


def run(notes: Path, steps: Pipeline, out: Path) -> tuple[RunReport, dict]:
    report = run_corpus([notes], steps, RunConfig(out, progress=False))
    return report, json.loads((out / MANIFEST_NAME).read_text())


def test_run_report_summary_names_no_ner_counts_when_nothing_happened(corpus, tmp_path, fake_backend):
    report, manifest = run(corpus, pipeline(fake_backend), tmp_path / "out")
    assert report.ner == NerCounts()
    assert "NER" not in report.summary()
    assert list(manifest["counts"]) == ["ner"] and not any(manifest["counts"]["ner"].values())


def test_run_corpus_counts_a_model_string_not_in_the_text_as_dropped_per_run(tmp_path, caplog):
    def answer(request: Request) -> Generation:
        return Generation('["chest pain", "unicorn horn"]' if request.cls is MentionClass.SIGN_SYMPTOM else "[]")

    steps = Pipeline([NerAnnotator(ScriptedGenerativeBackend(answer))])
    notes = one_note(tmp_path)
    with caplog.at_level(logging.INFO):
        report, manifest = run(notes, steps, tmp_path / "out")
    assert report.ner == NerCounts(ungrounded=1)
    [line] = report.summary().splitlines()
    assert line.endswith("; NER: 1 dropped (model string not in the text, E307)")
    assert "[E307]" in caplog.text and "'unicorn horn'" in caplog.text
    assert manifest["counts"]["ner"]["ungrounded"] == 1
    assert manifest["pipeline"][0]["counts"]["backend_ungrounded"] == 1

    again, manifest = run(notes, steps, tmp_path / "again")  # the backend's totals go on; the report is this run's
    assert again.ner == NerCounts(ungrounded=1)
    assert manifest["counts"]["ner"]["ungrounded"] == 1 and manifest["pipeline"][0]["counts"]["backend_ungrounded"] == 2


def test_run_corpus_counts_unparseable_and_truncated_answers(tmp_path, caplog):
    def answer(request: Request) -> Generation:
        if request.cls is MentionClass.MEDICATION:
            return Generation("Sorry, I cannot help with that.")
        if request.cls is MentionClass.SIGN_SYMPTOM:
            return Generation('["chest pain"', truncated=True)
        return Generation("[]")

    with caplog.at_level(logging.INFO):
        report, manifest = run(
            one_note(tmp_path), Pipeline([NerAnnotator(ScriptedGenerativeBackend(answer))]), tmp_path / "out"
        )
    # the half-written list is one unreadable part as well; its complete string is still used
    assert report.ner == NerCounts(unparseable=2, truncated_chunks=1)
    assert report.written == 1
    assert "; NER: 2 unparseable (answer parts, E318), 1 truncated (answer hit the token limit, E319)" in (
        report.summary()
    )
    assert "[E318]" in caplog.text and "Sorry" in caplog.text and "[E319]" in caplog.text
    assert (manifest["counts"]["ner"]["unparseable"], manifest["counts"]["ner"]["truncated_chunks"]) == (2, 1)


def test_run_corpus_counts_chunks_that_cut_through_a_long_sentence(tmp_path, caplog):
    backend = ScriptedGenerativeBackend(lambda request: Generation("[]"), ChunkConfig(max_tokens=5, overlap_tokens=0))
    notes = one_note(tmp_path, "one two three four five six seven eight nine ten.\n")
    with caplog.at_level(logging.INFO):
        report, _ = run(notes, Pipeline([NerAnnotator(backend)]), tmp_path / "out")
    assert report.ner == NerCounts(forced_chunks=2)
    assert "; NER: 2 overflowing (chunk cut inside a sentence, E320)" in report.summary()
    assert caplog.text.count("[E320]") == 2


def test_run_corpus_counts_mentions_the_concept_step_finds_no_concept_for(tmp_path, fake_backend, caplog):
    (tmp_path / "terms.bsv").write_text("C0008031|T184|chest pain|Chest Pain\n", encoding="utf-8")
    build_index(tmp_path / "kb.sqlite", bsv=[tmp_path / "terms.bsv"])
    with KnowledgeIndex(tmp_path / "kb.sqlite") as index, caplog.at_level(logging.INFO):
        steps = Pipeline([NerAnnotator(fake_backend), ConceptAnnotator(index)])
        report, manifest = run(one_note(tmp_path), steps, tmp_path / "out")
    assert report.ner == NerCounts(without_concepts=1)  # aspirin; chest pain has its CUI
    assert "; NER: 1 without a concept (mentions, E516)" in report.summary()
    assert "[E516]" in caplog.text and "'aspirin'" in caplog.text
    assert manifest["counts"]["ner"]["without_concepts"] == 1


def test_run_corpus_counts_dictionary_matches_of_an_unknown_tui(tmp_path, caplog):
    bsv = tmp_path / "terms.bsv"
    bsv.write_text("C0008031|T184|chest pain\nC0004057|T999|aspirin\n", encoding="utf-8")
    with caplog.at_level(logging.INFO):
        report, _ = run(one_note(tmp_path), Pipeline([DictionaryAnnotator(DictionaryConfig(bsv))]), tmp_path / "out")
    assert report.ner == NerCounts(unknown_tuis=1)
    assert "; NER: 1 of unknown TUI (dictionary matches, E515)" in report.summary()
    assert "[E515]" in caplog.text and "'T999'" in caplog.text
    written = read_xmi(tmp_path / "out" / "a.txt.xmi")
    assert [fs.get_covered_text() for fs in written.select(MEDICATION_MENTION)] == []
    assert [fs.get_covered_text() for fs in written.select(SIGN_SYMPTOM_MENTION)] == ["chest pain"]
