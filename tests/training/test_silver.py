"""Silver corpora: annotate output becomes fully labelled training windows; held-out texts are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctakes_llm.annotators.ner import NerAnnotator
from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.errors import ConfigError, CorpusError
from ctakes_llm.ner.bio import BIO_LABELS
from ctakes_llm.ner.mention import MentionClass
from ctakes_llm.pipeline import Pipeline
from ctakes_llm.runner import RunConfig, run_corpus
from ctakes_llm.training.config import TrainConfig
from ctakes_llm.training.data import label_windows
from ctakes_llm.training.silver import SILVER_LABEL_MAP, read_silver

NOTE = "Denies chest pain. Takes aspirin daily.\n"  # the fake backend finds "chest pain" and "aspirin"
QUIET = "Slept well overnight.\n"  # it finds nothing here


def annotate(tmp_path: Path, backend, notes: dict[str, str], output_format: str = "xmi") -> Path:  # type: ignore[no-untyped-def]
    """Write notes and run our annotate path over them with the fake backend, as the LLM teacher would be run."""
    source, out = tmp_path / "notes", tmp_path / f"silver-{output_format}"
    source.mkdir(parents=True, exist_ok=True)
    for name, text in notes.items():
        (source / name).write_text(text, encoding="utf-8")
    report = run_corpus([source], Pipeline([NerAnnotator(backend)]), RunConfig(out, output_format, progress=False))
    assert report.ok
    return out


def _labels(mask: int) -> set[str]:
    return {label for index, label in enumerate(BIO_LABELS) if mask >> index & 1}


@pytest.mark.parametrize("output_format", ["xmi", "brat", "jsonl"])
def test_silver_from_annotate_gives_windows_that_annotate_all_five_classes(
    tmp_path, fake_backend, tokenizer, output_format
) -> None:  # type: ignore[no-untyped-def]
    silver = annotate(tmp_path, fake_backend, {"a.txt": NOTE, "q.txt": QUIET}, output_format)
    docs = read_silver(silver, {"dev": [], "test": []})
    by_text = {doc.text: doc for doc in docs}
    assert sorted(by_text) == sorted([NOTE, QUIET])
    found = [(m.cls, m.text) for m in by_text[NOTE].mentions]
    assert found == [(MentionClass.SIGN_SYMPTOM, "chest pain"), (MentionClass.MEDICATION, "aspirin")]
    assert by_text[QUIET].mentions == ()

    (window,) = label_windows([by_text[NOTE]], SILVER_LABEL_MAP, tokenizer, 32, weight=0.25)
    tokens = tokenizer.convert_ids_to_tokens(window.input_ids)
    assert tokens == ["[CLS]", "denies", "chest", "pain", ".", "takes", "as", "##pi", "##rin", "daily", ".", "[SEP]"]
    o = {"O"}
    assert [_labels(mask) for mask in window.allowed] == [
        set(),
        o,
        {"B-SignSymptom"},
        {"I-SignSymptom"},
        o,
        o,
        {"B-Medication"},
        {"I-Medication"},
        {"I-Medication"},
        o,
        o,
        set(),
    ]
    assert window.weight == 0.25
    (quiet,) = label_windows([by_text[QUIET]], SILVER_LABEL_MAP, tokenizer, 32)
    assert {frozenset(_labels(mask)) for mask in quiet.allowed[1:-1]} == {frozenset(o)}


def test_silver_refuses_a_held_out_text_even_with_other_whitespace(tmp_path, fake_backend) -> None:  # type: ignore[no-untyped-def]
    dev = GoldDocument("dev-1", "Denies   chest pain.\nTakes aspirin daily.", ())
    test = GoldDocument("test-7", "Slept well overnight.", ())
    held_out = {"dev": [dev], "test": [test]}
    leaky = annotate(tmp_path, fake_backend, {"a.txt": NOTE})
    with pytest.raises(CorpusError, match=r"\[E522\].*'a\.txt'.*dev document 'dev-1'.*model selection only"):
        read_silver(leaky, held_out)
    other = annotate(tmp_path, fake_backend, {"a.txt": "Takes aspirin.\n", "q.txt": QUIET}, "jsonl")
    with pytest.raises(CorpusError, match=r"\[E522\].*'q\.txt'.*test document 'test-7'.*evaluation only"):
        read_silver(other, held_out)
    assert len(read_silver(other, {"dev": [dev]})) == 2


def test_silver_without_documents_or_mentions_is_an_error_naming_the_path(tmp_path, fake_backend) -> None:  # type: ignore[no-untyped-def]
    fake_backend.terms = {"nowhere": MentionClass.PROCEDURE}  # an LLM that answered nothing
    silent = annotate(tmp_path, fake_backend, {"a.txt": NOTE, "q.txt": QUIET})
    with pytest.raises(CorpusError, match=rf"\[E521\] silver corpus {silent} has 2 documents but no mention"):
        read_silver(silent, {})
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"\[E520\] silver corpus .*empty\.jsonl holds no documents"):
        read_silver(empty, {})
    with pytest.raises(CorpusError, match=r"\[E545\].*missing"):
        read_silver(tmp_path / "missing", {})


def test_config_takes_silver_paths_and_refuses_a_non_positive_weight(tmp_path: Path) -> None:
    config = TrainConfig(output_dir=tmp_path, silver=("a", tmp_path), silver_weight=0.5)  # type: ignore[arg-type]
    assert config.silver == (Path("a"), tmp_path) and config.silver_weight == 0.5
    for weight in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match=r"\[E523\]"):
            TrainConfig(output_dir=tmp_path, silver_weight=weight)


def test_silver_refuses_a_note_that_pastes_a_held_out_passage(tmp_path, fake_backend) -> None:  # type: ignore[no-untyped-def]
    passage = "A 54-year-old man presented with two weeks of chest pain radiating to the left arm."
    dev = GoldDocument("dev-3", f"Case report. {passage} He was treated and recovered.", ())
    pasted = f"Visit note.\n{passage.upper()}\nTakes aspirin daily.\n"
    leaky = annotate(tmp_path, fake_backend, {"a.txt": pasted})
    with pytest.raises(CorpusError, match=r"\[E522\].*'a\.txt'.*dev document 'dev-3' \(\"a 54-year-old man"):
        read_silver(leaky, {"dev": [dev]})
    eleven_words = " ".join(passage.split()[:11])
    short = annotate(tmp_path / "short", fake_backend, {"b.txt": f"Visit note. {eleven_words} today. {NOTE}"})
    assert len(read_silver(short, {"dev": [dev]})) == 1
