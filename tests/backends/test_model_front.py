"""The model front (tokenizer, special tokens, labels) read through transformers once, then from the cache."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ctakes_llm.backends.model_front import ModelFront, load_front
from ctakes_llm.backends.model_source import default_model_dir

TEXTS = [
    "Pt c/o SOB x3 days; BP 150/95, HR 88.  Denies chest pain.\nHx: CHF (EF 35%), T2DM on metformin 500mg BID.",
    "Ödem beidseits \u2013 naïve café patient résumé, 2nd visit™ … «quotes» and emoji 🙂 too.",
    "",
]


def _encodings(front: ModelFront) -> list[tuple[list[int], list[tuple[int, int]], list[int | None]]]:
    return [
        (encoding.ids, encoding.offsets, encoding.word_ids)
        for encoding in front.tokenizer.encode_batch(TEXTS, add_special_tokens=False)
    ]


@pytest.mark.parametrize("model", ["tiny", "shipped"])
def test_cached_front_is_what_transformers_reads(model: str, tiny_token_model: Path, tmp_path: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    source = str(tiny_token_model) if model == "tiny" else default_model_dir()
    first = load_front(source, offline=True, cache_dir=tmp_path)
    (entry,) = tmp_path.iterdir()
    cached = load_front(source, offline=True, cache_dir=tmp_path)
    assert cached.tokenizer is not first.tokenizer  # the second one was read from the file

    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    config = AutoConfig.from_pretrained(source, local_files_only=True)
    expected = [
        (encoding.ids, encoding.offsets, encoding.word_ids)
        for encoding in tokenizer.backend_tokenizer.encode_batch(TEXTS, add_special_tokens=False)
    ]
    assert any(ids for ids, _, _ in expected)
    assert _encodings(first) == _encodings(cached) == expected
    with_specials = tokenizer("fever", add_special_tokens=True)["input_ids"]
    plain = tokenizer("fever", add_special_tokens=False)["input_ids"]
    for front in (first, cached):
        assert list(front.prefix) + plain + list(front.suffix) == with_specials
        assert front.pad_id == tokenizer.pad_token_id
        assert front.id2label == {int(i): label for i, label in config.id2label.items()}
        assert front.max_positions == config.max_position_embeddings
    assert entry.suffix == ".json" and [p.name for p in tmp_path.iterdir()] == [entry.name]


def test_edited_model_files_make_a_new_entry(tiny_token_model: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_token_model, model)
    cache = tmp_path / "cache"
    before = load_front(str(model), offline=True, cache_dir=cache)
    config = json.loads((model / "config.json").read_text())
    config["id2label"]["1"], config["id2label"]["2"] = config["id2label"]["2"], config["id2label"]["1"]
    (model / "config.json").write_text(json.dumps(config))
    after = load_front(str(model), offline=True, cache_dir=cache)
    assert (after.id2label[1], after.id2label[2]) == (before.id2label[2], before.id2label[1])
    assert len(list(cache.iterdir())) == 2


def test_unreadable_entry_is_rebuilt(tiny_token_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    expected = load_front(str(tiny_token_model), offline=True, cache_dir=tmp_path)
    (entry,) = tmp_path.iterdir()
    entry.write_text('{"tokenizer": "not a tokenizer"')
    with caplog.at_level(logging.WARNING):
        front = load_front(str(tiny_token_model), offline=True, cache_dir=tmp_path)
    assert "is unreadable" in caplog.text and str(entry) in caplog.text
    assert _encodings(front) == _encodings(expected)
    assert load_front(str(tiny_token_model), offline=True, cache_dir=tmp_path).id2label == expected.id2label
    assert json.loads(entry.read_text())["id2label"]  # rewritten whole


def test_unwritable_cache_costs_only_the_reread(
    tiny_token_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING):
        front = load_front(str(tiny_token_model), offline=True, cache_dir=blocker / "fronts")
    assert "model front not cached" in caplog.text
    assert front.id2label


def test_unreadable_file_in_the_model_folder_only_skips_the_cache(
    tiny_token_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_token_model, model)
    (model / "training_log.txt").write_text("epoch 1")
    read_bytes = Path.read_bytes

    def refuse_the_log(path: Path) -> bytes:  # root reads any mode bits, so the refusal is simulated
        if path.name == "training_log.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse_the_log)
    with caplog.at_level(logging.WARNING):
        front = load_front(str(model), offline=True, cache_dir=tmp_path / "cache")
    assert "model front not cached" in caplog.text
    assert front.id2label and not (tmp_path / "cache").exists()


def test_cached_openvino_start_imports_neither_transformers_nor_torch(tiny_token_model: Path, tmp_path: Path) -> None:
    """The default CPU path (OpenVINO int8), once its caches exist, runs on numpy, tokenizers and OpenVINO alone."""
    script = (
        "import sys\n"
        "from ctakes_llm.backends.token_classifier import TokenClassifierConfig, load\n"
        f"backend = load({str(tiny_token_model)!r}, TokenClassifierConfig(device='cpu', max_length=24, overlap=4))\n"
        "backend.predict(['Fever and cough since Monday.'])\n"
        "print(backend.describe()['runtime'], backend.describe()['dtype'],"
        " sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    env = {**os.environ, "CTAKES_LLM_CACHE": str(tmp_path)}
    runs = [
        subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    assert runs[0].stdout.split("\n")[0] == "openvino int8 ['torch', 'transformers']"  # filling the caches
    assert runs[1].stdout.split("\n")[0] == "openvino int8 []"
