"""The token backend with runtime='openvino': same logits and mentions as torch, int8 through NNCF, a cache that
survives, clear errors."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
import torch

from ctakes_llm.backends import openvino_runtime, token_classifier
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
    found = torch.from_numpy(compiled._model.logits(ids.numpy(), mask.numpy()))
    assert found.dtype == torch.float32 and found.shape == expected.shape
    assert torch.allclose(found[mask.bool()], expected[mask.bool()], atol=1e-4)
    found_mentions, expected_mentions = compiled.predict(TEXTS), reference.predict(TEXTS)
    assert [[(m.cls, m.begin, m.end) for m in text] for text in found_mentions] == [
        [(m.cls, m.begin, m.end) for m in text] for text in expected_mentions
    ]
    assert [m.score for text in found_mentions for m in text] == pytest.approx(
        [m.score for text in expected_mentions for m in text], abs=1e-5
    )
    assert compiled.describe()["runtime"] == "openvino" and "int8_calibration" not in compiled.describe()


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
    monkeypatch.setattr(token_classifier, "_load_model", no_conversion)  # nor the torch weights loaded
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


def test_openvino_refuses_cuda_and_unknown_runtimes() -> None:
    with pytest.raises(ConfigError, match=r"E223.*runtime='torch'"):
        TokenClassifierConfig(runtime="openvino", device="cuda")
    with pytest.raises(ConfigError, match=r"E223.*runtime='onnx'"):
        TokenClassifierConfig(runtime="onnx")  # type: ignore[arg-type]


def test_missing_openvino_is_a_clear_error(tiny_token_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(ConfigError, match=r"E256.*pip install openvino"):
        _backend(tiny_token_model, runtime="openvino")
    assert _backend(tiny_token_model).describe()["runtime"] == "torch"  # auto falls back


def test_auto_is_openvino_int8_on_the_cpu(tiny_token_model: Path) -> None:
    for options in ({}, {"dtype": "int8"}, {"runtime": "openvino"}):
        described = _backend(tiny_token_model, device="cpu", **options).describe()
        assert (described["runtime"], described["dtype"]) == ("openvino", "int8")


def test_without_nncf_auto_is_openvino_in_floating_point_and_int8_is_torch(
    tiny_token_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nncf", None)
    described = _backend(tiny_token_model, device="cpu").describe()
    assert described["runtime"] == "openvino" and described["dtype"] in ("bfloat16", "float32")
    described = _backend(tiny_token_model, device="cpu", dtype="int8").describe()
    assert (described["runtime"], described["dtype"]) == ("torch", "int8")
    with pytest.raises(ConfigError, match=r"E258.*pip install nncf"):
        _backend(tiny_token_model, runtime="openvino", dtype="int8")


def test_int8_openvino_finds_the_keyword_mentions_and_is_cached_apart(
    keyword_token_model: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Static int8 takes its activation ranges from the calibration notes. The keyword model gives each keyword a
    # hidden dimension of its own, so it keeps only the keywords those notes contain (not pneumonia or CBC); a
    # trained encoder's dimensions are dense and all see calibration.
    text = "Started aspirin and metformin; chest pain and fever resolved. Abdomen soft. " * 3
    expected = [(m.cls, m.begin, m.end) for m in _backend(keyword_token_model, runtime="torch").predict([text])[0]]
    assert len(expected) == 15
    quantized = _backend(keyword_token_model, runtime="openvino", dtype="int8")
    assert [(m.cls, m.begin, m.end) for m in quantized.predict([text])[0]] == expected
    int8_folders = [folder for folder in private_cache.iterdir() if "-int8-" in folder.name]
    assert len(int8_folders) == 1 and (int8_folders[0] / "model.xml").is_file()
    calibration = quantized.describe()["int8_calibration"]
    assert isinstance(calibration, dict) and int8_folders[0].name.endswith(f"-{calibration['calibration_key']}")
    assert f"-int8-{calibration['recipe']}-nncf{calibration['nncf']}-" in int8_folders[0].name
    assert len(list(private_cache.iterdir())) == 2  # the float32 conversion beside it

    import nncf

    def no_quantization(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached int8 model should have been read")

    monkeypatch.setattr(nncf, "quantize", no_quantization)
    again = _backend(keyword_token_model, runtime="openvino", dtype="int8")
    assert [(m.cls, m.begin, m.end) for m in again.predict([text])[0]] == expected
    with pytest.raises(ModelLoadError, match=r"E258.*cached int8 model should have been read"):
        _backend(keyword_token_model, runtime="openvino", dtype="int8", batch_size=3)  # other batches: recalibrate


def test_auto_falls_back_to_torch_in_floating_point_when_nncf_fails(
    tiny_token_model: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import nncf

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no quantizable operations")

    monkeypatch.setattr(nncf, "quantize", broken)
    with caplog.at_level(logging.WARNING):
        described = _backend(tiny_token_model, device="cpu").describe()
    assert described["runtime"] == "torch" and described["dtype"] in ("bfloat16", "float32")
    assert "E258" in caplog.text
    with pytest.raises(ModelLoadError, match=r"E258.*no quantizable operations"):
        _backend(tiny_token_model, runtime="openvino")
    monkeypatch.setitem(sys.modules, "nncf", None)  # installed, but its import fails
    monkeypatch.setattr(openvino_runtime, "installed", lambda package: True)
    assert _backend(tiny_token_model, device="cpu").describe()["runtime"] == "torch"
    with pytest.raises(ModelLoadError, match=r"E258.*import of nncf halted"):
        _backend(tiny_token_model, runtime="openvino")


def test_model_inputs_are_the_batches_predict_feeds_the_model(tiny_token_model: Path) -> None:
    backend = _backend(tiny_token_model, runtime="torch", batch_size=2)
    fed: list[tuple[torch.Tensor, torch.Tensor]] = []
    model = backend._model

    def recording(*, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> object:
        fed.append((input_ids, attention_mask))
        return model(input_ids=input_ids, attention_mask=attention_mask)

    backend._model = recording
    backend.predict(TEXTS)
    inputs = backend.model_inputs(TEXTS)
    assert len(inputs) == len(fed) > 2
    for batch, (input_ids, attention_mask) in zip(inputs, fed, strict=True):
        assert (batch["input_ids"] == input_ids.numpy()).all()
        assert (batch["attention_mask"] == attention_mask.numpy()).all()
    # widths are rounded up to 16 wordpieces (fewer shapes for OpenVINO to compile), never beyond max_length (24);
    # the widening is padding, masked out
    (short,) = backend.model_inputs(["Fever today."])
    assert short["input_ids"].shape == (1, 16) and short["attention_mask"].sum() < 16
    assert [batch["input_ids"].shape[1] for batch in inputs] == [16, 24, 24]
    assert inputs[1]["attention_mask"].sum(axis=1).max() == 22
    for batch in [short, *inputs]:
        assert (batch["attention_mask"][:, 1:] <= batch["attention_mask"][:, :-1]).all()
        assert (batch["input_ids"][batch["attention_mask"] == 0] == backend._pad_id).all()


def test_the_shipped_calibration_notes_are_twelve_paragraphs() -> None:
    paragraphs = openvino_runtime.calibration_texts()
    assert len(paragraphs) == 12 and all(len(paragraph) > 40 for paragraph in paragraphs)


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


def test_cli_default_int8_keeps_stdout_for_the_annotations(keyword_token_model: Path, private_cache: Path) -> None:
    """NNCF logs and draws progress bars on stdout; a first run that quantizes must still write clean JSONL there."""
    import json
    import os
    import subprocess

    command = [sys.executable, "-m", "ctakes_llm", "annotate", "-", "-o", "-", "--format", "jsonl"]
    done = subprocess.run(
        [*command, "--model", str(keyword_token_model)],
        input="Started aspirin and metformin for chest pain.\n",
        capture_output=True,
        text=True,
        env={**os.environ, "CTAKES_LLM_CACHE": str(private_cache.parent)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Statistics collection" in done.stderr  # NNCF quantized in this run
    (line,) = done.stdout.splitlines()
    assert [m["text"] for m in json.loads(line)["mentions"]] == ["aspirin", "metformin", "chest pain"]
    assert [folder.name for folder in private_cache.iterdir() if "-int8-" in folder.name]


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


def test_own_calibration_text_keeps_what_the_shipped_notes_lack(
    keyword_token_model: Path, private_cache: Path, tmp_path: Path
) -> None:
    """The shipped notes never say pneumonia or CBC, so the keyword model's int8 loses them (see above); notes that
    do say them keep them, in an int8 model cached apart. The CLI option reaches the backend."""
    import json

    from click.testing import CliRunner

    from ctakes_llm.cli import cli

    text = "Started aspirin for pneumonia; repeat CBC."
    notes = tmp_path / "our_notes.txt"
    notes.write_text(
        "Admitted with pneumonia, started aspirin.\n\nPlan: repeat CBC and chest x-ray.\n", encoding="utf-8"
    )
    shipped = _backend(keyword_token_model, runtime="openvino", dtype="int8")
    assert [m.text for m in shipped.predict([text])[0]] == ["aspirin"]
    own = _backend(keyword_token_model, runtime="openvino", dtype="int8", calibration_text=str(notes))
    assert [m.text for m in own.predict([text])[0]] == ["aspirin", "pneumonia", "CBC"]
    keys = {backend.describe()["int8_calibration"]["calibration_key"] for backend in (shipped, own)}  # type: ignore[index]
    assert len(keys) == 2 and len([f for f in private_cache.iterdir() if "-int8-" in f.name]) == 2

    command = ["annotate", "-", "-o", "-", "--format", "jsonl", "--model", str(keyword_token_model)]
    result = CliRunner().invoke(cli, [*command, "--calibration-text", str(notes)], input=text.encode())
    assert result.exit_code == 0, result.output
    assert [m["text"] for m in json.loads(result.stdout)["mentions"]] == ["aspirin", "pneumonia", "CBC"]


def test_unreadable_empty_or_unused_calibration_text_is_said(
    tiny_token_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        _backend(tiny_token_model, dtype="bfloat16", calibration_text=str(tmp_path / "never_read.txt"))
    assert "never_read.txt is unused" in caplog.text
    empty, latin1 = tmp_path / "empty.txt", tmp_path / "latin1.txt"
    empty.write_text("\n\n  \n", encoding="utf-8")
    latin1.write_bytes("Fièvre et toux.".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"E259.*empty.txt.*is empty"):
        _backend(tiny_token_model, dtype="int8", runtime="openvino", calibration_text=str(empty))
    with pytest.raises(ConfigError, match=r"E259.*cannot read the calibration text.*latin1.txt"):
        _backend(tiny_token_model, dtype="int8", runtime="openvino", calibration_text=str(latin1))
