"""resolve_model, weights_sha256 and default_model_dir: local directories, the hub cache offline, hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import ctakes_llm.backends.model_source as model_source
from ctakes_llm.backends.model_source import default_model_dir, resolve_model, weights_sha256
from ctakes_llm.errors import ModelLoadError


def _model_dir(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "config.json").write_text("{}")
    (root / "model.safetensors").write_bytes(b"weights-a")
    (root / "extra.bin").write_bytes(b"weights-b")
    (root / "tokenizer.json").write_text("{}")
    return root


def _fake_hub_cache(cache: Path, repo_id: str) -> Path:
    """Lay out a hub cache entry the way huggingface_hub does: refs/main names a snapshot folder."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return _model_dir(repo / "snapshots" / commit)


def test_resolve_model_returns_a_local_directory(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "m")
    assert resolve_model(str(model)) == str(model.resolve())


def test_resolve_model_refuses_a_directory_without_config(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"E215.*config\.json"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize("name", ["./no/such/model", "/no/such/model", "a/b/c"])
def test_resolve_model_refuses_a_missing_path(name: str) -> None:
    with pytest.raises(ModelLoadError, match="E216"):
        resolve_model(name)


def test_resolve_model_hub_id_missing_offline_says_how_to_fix(tmp_path: Path) -> None:
    expected = (
        "[E217] No files for 'org/ner' in the local model cache and offline mode is on. "
        "Pass a local directory to --model."
    )
    with pytest.raises(ModelLoadError) as caught:
        resolve_model("org/ner", offline=True, cache_dir=tmp_path)
    assert str(caught.value) == expected


def test_resolve_model_hub_id_in_the_cache_is_its_snapshot(tmp_path: Path) -> None:
    snapshot = _fake_hub_cache(tmp_path, "org/ner")
    assert resolve_model("org/ner", offline=True, cache_dir=tmp_path) == str(snapshot.resolve())


def test_resolve_model_online_leaves_the_hub_id_to_transformers(tmp_path: Path) -> None:
    assert resolve_model("org/ner", offline=False, cache_dir=tmp_path) == "org/ner"


def test_weights_sha256_matches_sha256sum_of_the_weight_files(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "m")
    listing = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in (("extra.bin", b"weights-b"), ("model.safetensors", b"weights-a"))
    )
    assert weights_sha256(model) == hashlib.sha256(listing.encode()).hexdigest()
    (model / "tokenizer.json").write_text('{"changed": true}')
    assert weights_sha256(model) == hashlib.sha256(listing.encode()).hexdigest(), "only weights count"
    (model / "model.safetensors").write_bytes(b"weights-c")
    assert weights_sha256(model) != hashlib.sha256(listing.encode()).hexdigest()


def test_weights_sha256_of_a_single_file(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    assert weights_sha256(gguf) == hashlib.sha256(b"GGUF").hexdigest()


def test_weights_sha256_refuses_a_directory_without_weights(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="E218"):
        weights_sha256(tmp_path)


def test_default_model_dir_points_into_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model_dir(tmp_path / "models" / "default")
    monkeypatch.setattr(model_source, "files", lambda package: tmp_path)
    assert default_model_dir() == str(model.resolve())


def test_default_model_dir_missing_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_source, "files", lambda package: tmp_path)
    with pytest.raises(ModelLoadError, match=r"E219.*models/default"):
        default_model_dir()
