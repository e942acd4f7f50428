"""The token-classifier backend: windows, batching, BIO decoding and offsets, on tiny models built in the test."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctakes_llm.backends.base import Backend
from ctakes_llm.backends.token_classifier import (
    TokenClassifierBackend,
    TokenClassifierConfig,
    load,
    plan_windows,
    trim_span,
)
from ctakes_llm.errors import ConfigError, ModelLoadError
from ctakes_llm.ner.mention import Grounding, Mention, MentionClass

NOTES = [
    "The patient reports chest pain and fever since Monday.",
    "Started aspirin 81 mg daily; pneumonia resolved.\n\nPlan: repeat CBC.",
    "Émoji 😀 test: chest pain 😷 and 发烧 fever!!  ",
    "",
    "   \n\t ",
]


@pytest.fixture(scope="module")
def random_backend(tiny_token_model: Path) -> TokenClassifierBackend:
    return TokenClassifierBackend(TokenClassifierConfig(model=str(tiny_token_model), max_length=24, overlap=4))


@pytest.fixture(scope="module")
def keyword_backend(keyword_token_model: Path) -> TokenClassifierBackend:
    """The keyword model in float32 on torch: exact logits, so windowing and decoding are all that is tested."""
    options = TokenClassifierConfig(
        model=str(keyword_token_model), max_length=128, overlap=16, dtype="float32", runtime="torch"
    )
    return TokenClassifierBackend(options)


def _assert_well_formed(text: str, mentions: list[Mention]) -> None:
    for mention in mentions:
        assert text[mention.begin : mention.end] == mention.text
        assert mention.grounding is Grounding.MODEL_OFFSETS
        assert mention.text == mention.text.strip()
        assert 0.0 <= (mention.score or 0.0) <= 1.0


KEYWORD_CLASSES = {
    "aspirin": MentionClass.MEDICATION,
    "metformin": MentionClass.MEDICATION,
    "pneumonia": MentionClass.DISEASE_DISORDER,
    "fever": MentionClass.SIGN_SYMPTOM,
    "chest": MentionClass.SIGN_SYMPTOM,
    "pain": MentionClass.SIGN_SYMPTOM,
    "abdomen": MentionClass.ANATOMICAL_SITE,
    "cbc": MentionClass.PROCEDURE,
}


def _keyword_mentions(text: str) -> list[tuple[MentionClass, str]]:
    """What the keyword model must find: each keyword as a word, ``chest pain`` merged into one mention."""
    found = []
    for match in re.finditer(r"chest pain|\w+", text, flags=re.IGNORECASE):
        word = match.group().lower()
        if word == "chest pain":
            found.append((MentionClass.SIGN_SYMPTOM, match.group()))
        elif word in KEYWORD_CLASSES:
            found.append((KEYWORD_CLASSES[word], match.group()))
    return found


def test_token_classifier_is_a_backend(random_backend: TokenClassifierBackend) -> None:
    assert isinstance(random_backend, Backend)
    assert random_backend.name == "token"


def test_token_classifier_offsets_hold_the_text(random_backend: TokenClassifierBackend) -> None:
    results = random_backend.predict(NOTES)
    assert len(results) == len(NOTES)
    assert sum(len(mentions) for mentions in results) > 0, "the random model should tag something"
    for text, mentions in zip(NOTES, results, strict=True):
        _assert_well_formed(text, mentions)
    assert results[3] == [] and results[4] == []


def test_token_classifier_keyword_model_finds_expected_mentions(keyword_backend: TokenClassifierBackend) -> None:
    text = "Chest pain and FEVER; aspirin given for pneumonia. Abdomen soft."
    (mentions,) = keyword_backend.predict([text])
    assert [(m.cls, m.text) for m in mentions] == [
        (MentionClass.SIGN_SYMPTOM, "Chest pain"),
        (MentionClass.SIGN_SYMPTOM, "FEVER"),
        (MentionClass.MEDICATION, "aspirin"),
        (MentionClass.DISEASE_DISORDER, "pneumonia"),
        (MentionClass.ANATOMICAL_SITE, "Abdomen"),
    ]
    _assert_well_formed(text, mentions)


def test_token_classifier_small_windows_give_the_same_mentions(
    keyword_token_model: Path, keyword_backend: TokenClassifierBackend
) -> None:
    """The keyword model ignores context, so cutting a text into many windows must change nothing."""
    text = " ".join(NOTES[:3]) * 6 + "\nchest pain at the very end"
    small = TokenClassifierBackend(replace(keyword_backend.config, max_length=12, overlap=3))
    (windowed,) = small.predict([text])
    assert small.counters["windows"] > 10 and small.counters["multi_window_texts"] == 1
    (whole,) = keyword_backend.predict([text])
    assert keyword_backend.counters["windows"] < small.counters["windows"]
    assert [(m.cls, m.begin, m.end) for m in windowed] == [(m.cls, m.begin, m.end) for m in whole]
    assert [m.score for m in windowed] == pytest.approx([m.score for m in whole], abs=1e-5)
    assert [(m.cls, m.text) for m in windowed] == _keyword_mentions(text)
    assert windowed[-1].text == "chest pain" and windowed[-1].end == len(text) - len(" at the very end")


def test_token_classifier_100k_character_note_is_not_truncated(keyword_backend: TokenClassifierBackend) -> None:
    sentence = "Follow up for pneumonia; continue aspirin. Denies chest pain. Emoji 😀 ok.\n"
    text = sentence * (100_000 // len(sentence) + 1) + "Last: metformin"
    assert len(text) > 100_000
    (mentions,) = keyword_backend.predict([text])
    assert [(m.cls, m.text) for m in mentions] == _keyword_mentions(text)
    assert mentions[-1].text == "metformin" and mentions[-1].end == len(text)
    _assert_well_formed(text, mentions)


def test_token_classifier_batching_does_not_change_results(random_backend: TokenClassifierBackend) -> None:
    texts = [NOTES[0] * 5, NOTES[1], NOTES[2] * 3]
    together = random_backend.predict(texts)
    alone = [random_backend.predict([text])[0] for text in texts]
    strip = [[(m.cls, m.begin, m.end) for m in mentions] for mentions in together]
    assert strip == [[(m.cls, m.begin, m.end) for m in mentions] for mentions in alone]
    for a, b in zip(itertools.chain(*together), itertools.chain(*alone), strict=True):
        assert a.score == pytest.approx(b.score, abs=1e-4)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int8"])
def test_token_classifier_runs_in_each_dtype_on_torch(keyword_token_model: Path, dtype: str) -> None:
    options = TokenClassifierConfig(dtype=dtype, device="cpu", runtime="torch")  # type: ignore[arg-type]
    backend = load(str(keyword_token_model), options)
    assert backend.dtype == dtype
    text = NOTES[2] * 3
    (mentions,) = backend.predict([text])
    _assert_well_formed(text, mentions)
    assert [(m.cls, m.text) for m in mentions] == _keyword_mentions(text)


def test_token_classifier_auto_dtype_is_float32_without_fast_bf16(
    keyword_token_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ctakes_llm.backends.token_classifier as module

    options = TokenClassifierConfig(model=str(keyword_token_model), device="cpu", runtime="torch")
    monkeypatch.setattr(module, "cpu_has_fast_bf16", lambda: False)
    assert TokenClassifierBackend(options).dtype == "float32"
    monkeypatch.setattr(module, "cpu_has_fast_bf16", lambda: True)
    assert TokenClassifierBackend(options).dtype == "bfloat16"


def test_token_classifier_describe_names_model_and_weights(keyword_backend: TokenClassifierBackend) -> None:
    described = keyword_backend.describe()
    assert described["model"] == keyword_backend.source
    assert re.fullmatch(r"[0-9a-f]{64}", str(described["weights_sha256"]))


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 0},
        {"max_length": 4},
        {"overlap": 65},
        {"overlap": -1},
        {"dtype": "float16"},
        {"device": "tpu"},
        {"num_threads": 0},
        {"dtype": "int8", "device": "cuda"},
    ],
)
def test_token_classifier_config_rejects_bad_values(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="E223"):
        TokenClassifierConfig(**options)  # type: ignore[arg-type]


def test_token_classifier_load_rejects_foreign_config() -> None:
    with pytest.raises(ConfigError, match="E228"):
        load("somewhere", ["batch_size", 8])  # type: ignore[arg-type]


def test_token_classifier_load_takes_options_as_a_mapping(keyword_token_model: Path) -> None:
    backend = load(str(keyword_token_model), {"offline": True, "batch_size": 3, "max_length": 128})
    assert backend.config == TokenClassifierConfig(model=str(keyword_token_model), batch_size=3, max_length=128)
    with pytest.raises(ConfigError, match=r"E229.*'prompt_format'.*batch_size"):
        load(str(keyword_token_model), {"prompt_format": "multi_span"})


def test_token_classifier_rejects_window_beyond_positions(keyword_token_model: Path) -> None:
    with pytest.raises(ConfigError, match=r"E223.*512 positions"):
        load(str(keyword_token_model), TokenClassifierConfig(max_length=1024))


def test_token_classifier_rejects_non_bio_labels(tiny_token_model: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "generic"
    shutil.copytree(tiny_token_model, model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    config["id2label"] = {str(index): f"LABEL_{index}" for index in range(len(config["id2label"]))}
    config["label2id"] = {label: int(index) for index, label in config["id2label"].items()}
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"E224.*generic.*LABEL_0"):
        load(str(model_dir))


def test_token_classifier_rejects_directory_without_weights(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelLoadError, match=r"E218\] No weight files.*Pass the directory that holds the weights"):
        load(str(tmp_path))  # OpenVINO hashes the weights for its cache first
    with pytest.raises(ModelLoadError, match="E225"):
        load(str(tmp_path), {"runtime": "torch"})


def test_token_classifier_cuda_without_cuda_is_refused(keyword_token_model: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ConfigError, match="E227"):
        load(str(keyword_token_model), TokenClassifierConfig(device="cuda"))


def test_plan_windows_covers_every_piece_within_the_limit() -> None:
    text = "word " * 100
    offsets = [(i * 5, i * 5 + 4) for i in range(100)]
    windows = plan_windows(text, offsets, content_length=20, overlap=5)
    assert windows[0][0] == 0 and windows[-1][1] == 100
    for (start, end), (next_start, next_end) in itertools.pairwise(windows):
        assert end - start <= 20 and next_end - next_start <= 20
        assert end - 10 <= next_start <= end - 5, "neighbours share overlap to 2 * overlap pieces"
    assert plan_windows("", [], content_length=20, overlap=5) == []
    assert plan_windows(text, offsets[:20], content_length=20, overlap=5) == [(0, 20)]


def test_plan_windows_cuts_at_sentence_ends() -> None:
    words = ["w"] * 30
    words[14] = "end."
    text = " ".join(words)
    offsets, position = [], 0
    for word in words:
        offsets.append((position, position + len(word)))
        position += len(word) + 1
    windows = plan_windows(text, offsets, content_length=16, overlap=0)
    assert windows[0] == (0, 15), "the first window ends after 'end.' rather than at the limit"


def test_plan_windows_never_exceeds_limit_inside_long_words() -> None:
    text = "x" * 50
    offsets = [(i, i + 1) for i in range(50)]
    windows = plan_windows(text, offsets, content_length=8, overlap=2)
    covered = set()
    for start, end in windows:
        assert 0 < end - start <= 8
        covered.update(range(start, end))
    assert covered == set(range(50))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" chest pain, ", "chest pain"),
        ("(pain)", "pain"),
        ("Crohn disease (CD)", "Crohn disease (CD)"),
        ("(CD) flare", "(CD) flare"),
        ("[(a) and (b)]", "(a) and (b)"),
        ('"fever".', "fever"),
        (" ,;. ", ""),
    ],
)
def test_trim_span_drops_edge_punctuation(text: str, expected: str) -> None:
    begin, end = trim_span(text, 0, len(text))
    assert text[begin:end] == (expected if begin < end else "")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300))
def test_token_classifier_offsets_hold_for_any_unicode(random_backend: TokenClassifierBackend, text: str) -> None:
    (mentions,) = random_backend.predict([text])
    _assert_well_formed(text, mentions)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pieces=st.lists(
        st.one_of(
            st.sampled_from(["chest pain", "fever", "aspirin", "😀", "🩺🩹", "发烧", "\n", "."]),
            st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8),
        ),
        max_size=60,
    )
)
def test_token_classifier_keyword_spans_hold_for_any_unicode(
    keyword_backend: TokenClassifierBackend, pieces: list[str]
) -> None:
    text = " ".join(pieces)
    (mentions,) = keyword_backend.predict([text])
    _assert_well_formed(text, mentions)
    aspirins = [m for m in mentions if m.text.lower() == "aspirin" and m.cls is MentionClass.MEDICATION]
    assert len(aspirins) >= pieces.count("aspirin")


def test_token_classifier_widens_spans_to_whole_words(keyword_token_model: Path) -> None:
    text = "Two aspirins daily."
    snapped = load(str(keyword_token_model), TokenClassifierConfig(snap_to_words=True))
    (mentions,) = snapped.predict([text])
    assert [m.text for m in mentions] == ["aspirins"], "the model tags only the piece 'aspirin' of 'aspirins'"
    assert snapped.counters["word_snapped_spans"] == 1
    (raw,) = load(str(keyword_token_model), TokenClassifierConfig(snap_to_words=False)).predict([text])
    assert [m.text for m in raw] == ["aspirin"]


@pytest.mark.gpu
def test_token_classifier_on_cuda_tags_as_on_cpu(keyword_token_model: Path) -> None:
    text = NOTES[2] * 3
    backend = load(str(keyword_token_model), TokenClassifierConfig(device="auto"))
    assert backend.device == "cuda" and backend.dtype == "bfloat16"
    (mentions,) = backend.predict([text])
    _assert_well_formed(text, mentions)
    assert [(m.cls, m.text) for m in mentions] == _keyword_mentions(text)
