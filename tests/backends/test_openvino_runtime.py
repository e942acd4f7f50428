"""The token backend with runtime='openvino': same logits and mentions as torch, a cache that survives, clear errors."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
import torch

from ctakes_llm.backends.token_classifier import TokenClassifierBackend, TokenClassifierConfig
from ctakes_llm.errors import ConfigError, ModelLoadError

TEXTS = [
    "The patient reports chest pain and fever since Monday. " * 6,
    "Started aspirin 81 mg daily; pneumonia resolved.\n\nPlan: repeat CBC.",
    "",
]


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CTAKES_LLM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "openvino"


def _backend(model: Path, **options: object) -> TokenClassifierBackend:
    return TokenClassifierBackend(
        TokenClassifierConfig(model=str(model), max_length=24, overlap=4, num_threads=1, **options)  # type: ignore[arg-type]
    )


def test_float32_openvino_gives_the_torch_logits_and_mentions(tiny_token_model: Path) -> None:
    reference = _backend(tiny_token_model, dtype="float32", runtime="torch")
    compiled = _backend(tiny_token_model, dtype="float32", runtime="openvino")
    ids = torch.randint(5, 200, (3, 20))
    mask = torch.ones_like(ids)
    mask[1, 12:] = 0
    with torch.inference_mode():
        expected = reference._model(input_ids=ids, attention_mask=mask).logits
    found = compiled._model(input_ids=ids, attention_mask=mask).logits
    assert found.dtype == torch.float32 and found.shape == expected.shape
    assert torch.allclose(found[mask.bool()], expected[mask.bool()], atol=1e-4)
    found_mentions, expected_mentions = compiled.predict(TEXTS), reference.predict(TEXTS)
    assert [[(m.cls, m.begin, m.end) for m in text] for text in found_mentions] == [
        [(m.cls, m.begin, m.end) for m in text] for text in expected_mentions
    ]
    assert [m.score for text in found_mentions for m in text] == pytest.approx(
        [m.score for text in expected_mentions for m in text], abs=1e-5
    )
    assert compiled.describe()["runtime"] == "openvino"


def test_bfloat16_openvino_finds_the_keyword_mentions(keyword_token_model: Path) -> None:
    text = "Started aspirin for pneumonia; chest pain and fever resolved."
    reference = _backend(keyword_token_model, dtype="float32", runtime="torch")
    compiled = _backend(keyword_token_model, dtype="bfloat16", runtime="openvino")
    expected = [(m.cls, m.begin, m.end) for m in reference.predict([text])[0]]
    assert len(expected) == 4
    assert [(m.cls, m.begin, m.end) for m in compiled.predict([text])[0]] == expected


def test_the_converted_model_is_cached_and_read_back(
    tiny_token_model: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend(tiny_token_model, dtype="float32", runtime="openvino").predict(TEXTS)
    cached = list(private_cache.iterdir())
    assert len(cached) == 1 and (cached[0] / "model.xml").is_file() and (cached[0] / "model.bin").is_file()

    import openvino

    def no_conversion(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached model should have been read")

    monkeypatch.setattr(openvino, "convert_model", no_conversion)
    assert _backend(tiny_token_model, dtype="float32", runtime="openvino").predict(TEXTS) == first


def test_an_unwritable_cache_costs_only_the_cache(
    tiny_token_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("CTAKES_LLM_CACHE", str(blocker))
    with caplog.at_level(logging.WARNING, logger="ctakes_llm.backends.openvino_runtime"):
        backend = _backend(tiny_token_model, dtype="float32", runtime="openvino")
    assert "not cached" in caplog.text
    spans = [(m.cls, m.begin, m.end) for m in backend.predict(TEXTS)[1]]
    reference = _backend(tiny_token_model, dtype="float32", runtime="torch")
    assert spans == [(m.cls, m.begin, m.end) for m in reference.predict(TEXTS)[1]]


def test_openvino_refuses_int8_cuda_and_unknown_runtimes() -> None:
    with pytest.raises(ConfigError, match=r"E223.*runtime='torch'"):
        TokenClassifierConfig(runtime="openvino", dtype="int8")
    with pytest.raises(ConfigError, match=r"E223.*runtime='torch'"):
        TokenClassifierConfig(runtime="openvino", device="cuda")
    with pytest.raises(ConfigError, match=r"E223.*runtime='onnx'"):
        TokenClassifierConfig(runtime="onnx")  # type: ignore[arg-type]


def test_missing_openvino_is_a_clear_error(tiny_token_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(ConfigError, match=r"E256.*pip install openvino"):
        _backend(tiny_token_model, runtime="openvino")
    assert _backend(tiny_token_model).describe()["runtime"] == "torch"  # auto falls back


def test_auto_runtime_is_openvino_on_the_cpu_and_torch_for_int8(tiny_token_model: Path) -> None:
    assert _backend(tiny_token_model, device="cpu").describe()["runtime"] == "openvino"
    assert _backend(tiny_token_model, device="cpu", dtype="int8").describe()["runtime"] == "torch"


def test_auto_runtime_falls_back_to_torch_when_openvino_cannot_compile(
    tiny_token_model: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import openvino

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unsupported operation")

    monkeypatch.setattr(openvino, "convert_model", broken)
    with caplog.at_level(logging.WARNING):
        backend = _backend(tiny_token_model, dtype="float32", device="cpu")
    assert backend.describe()["runtime"] == "torch" and "E257" in caplog.text
    assert (
        backend.predict(TEXTS[1:2])[0]
        == _backend(tiny_token_model, dtype="float32", runtime="torch").predict(TEXTS[1:2])[0]
    )
    with pytest.raises(ModelLoadError, match=r"E257.*unsupported operation"):
        _backend(tiny_token_model, dtype="float32", runtime="openvino")


def test_cli_runtime_option_reaches_the_backend(keyword_token_model: Path, private_cache: Path) -> None:
    import json

    from click.testing import CliRunner

    from ctakes_llm.cli import cli

    def annotate(*options: str) -> list[tuple[str, int, int]]:
        command = ["annotate", "-", "-o", "-", "--format", "jsonl", "--model", str(keyword_token_model), *options]
        result = CliRunner().invoke(cli, command, input=b"Started aspirin for pneumonia.\n")
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)
        return [(m["class"], m["begin"], m["end"]) for m in record["mentions"]]

    plain = annotate("--dtype", "float32", "--runtime", "torch")
    assert not private_cache.exists()
    compiled = annotate("--runtime", "openvino", "--dtype", "float32")
    assert len(list(private_cache.iterdir())) == 1  # the OpenVINO conversion ran
    assert len(compiled) == 2 and compiled == plain
