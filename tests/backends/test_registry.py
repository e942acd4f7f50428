"""load_backend: kinds map to loaders imported on first use; the token kind defaults to the shipped student."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import pytest

import ctakes_llm.backends.model_source as model_source
from ctakes_llm.backends.base import Backend
from ctakes_llm.backends.registry import BACKENDS, load_backend
from ctakes_llm.backends.token_classifier import TokenClassifierBackend, TokenClassifierConfig
from ctakes_llm.errors import ConfigError, ModelLoadError


def test_registry_lists_the_three_kinds() -> None:
    assert set(BACKENDS) == {"token", "causal", "openai"}
    assert all(":" in target for target in BACKENDS.values())


def test_registry_unknown_kind_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"E220.*'crf'.*causal, openai, token"):
        load_backend("crf", None)


def test_registry_loads_token_backend_from_a_directory(keyword_token_model: Path) -> None:
    backend = load_backend("token", str(keyword_token_model), TokenClassifierConfig(batch_size=2))
    assert isinstance(backend, TokenClassifierBackend) and isinstance(backend, Backend)
    assert backend.config.batch_size == 2 and backend.source == str(keyword_token_model.resolve())
    assert [m.text for m in backend.predict(["aspirin for fever"])[0]] == ["aspirin", "fever"]


def test_registry_token_without_model_uses_the_shipped_default(
    keyword_token_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(keyword_token_model, tmp_path / "models" / "default")
    monkeypatch.setattr(model_source, "files", lambda package: tmp_path)
    backend = load_backend("token", None)
    assert isinstance(backend, TokenClassifierBackend)
    assert backend.source == str((tmp_path / "models" / "default").resolve())


def test_registry_token_without_model_and_no_default_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_source, "files", lambda package: tmp_path)
    with pytest.raises(ModelLoadError, match=r"E219.*--model"):
        load_backend("token", None)


def test_registry_reports_a_backend_module_that_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "broken", "ctakes_llm.backends.no_such_backend:load")
    with pytest.raises(ModelLoadError, match=r"E221.*'broken'.*no_such_backend"):
        load_backend("broken", "model")


def test_registry_refuses_a_loader_that_returns_no_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("fake_backends")
    module.load = lambda model, config: {"model": model}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_backends", module)
    monkeypatch.setitem(BACKENDS, "fake", "fake_backends:load")
    with pytest.raises(ModelLoadError, match=r"E222.*fake_backends:load.*dict"):
        load_backend("fake", "model")


def test_registry_imports_backend_modules_only_on_use() -> None:
    import subprocess

    code = (
        "import sys, ctakes_llm.backends.registry; "
        "print(any(m in sys.modules for m in ('torch', 'transformers', 'ctakes_llm.backends.token_classifier')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
