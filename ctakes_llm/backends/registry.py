"""One entry point for model backends: a kind name maps to a loader that is imported on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ctakes_llm.backends.base import Backend
from ctakes_llm.errors import ConfigError, ModelLoadError

#: Backend kind -> ``"module:function"``. Each loader is called as ``load(model, config)`` and returns a Backend.
BACKENDS: dict[str, str] = {
    "token": "ctakes_llm.backends.token_classifier:load",
    "causal": "ctakes_llm.backends.causal_lm:load",
    "openai": "ctakes_llm.backends.openai_server:load",
}


def load_backend(kind: str, model: str | None, config: Any = None) -> Backend:
    """Build the backend of one kind.

    Args:
        kind: A key of :data:`BACKENDS` (``"token"``, ``"causal"``, ``"openai"``).
        model: A model directory or hub id (for ``"openai"``, the served model name). None means the backend's
            default: the student shipped in the package for ``"token"``.
        config: The backend's own config object (``TokenClassifierConfig`` for ``"token"``), or None for its
            defaults.

    Returns:
        A ready backend.

    Raises:
        ConfigError: ``kind`` is not registered.
        ModelLoadError: the backend's module cannot be imported, or its loader did not return a Backend. Loaders
            raise their own ModelLoadError / ConfigError when the model cannot be loaded.
    """
    if kind not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(f"[E220] Unknown backend {kind!r}. Choose one of: {known}.")
    backend = _loader(kind)(model, config)
    if not isinstance(backend, Backend):
        raise ModelLoadError(
            f"[E222] The loader {BACKENDS[kind]} returned {type(backend).__name__}, which lacks the Backend "
            "interface (name, counters, predict). Fix the loader."
        )
    return backend


def _loader(kind: str) -> Callable[[str | None, Any], object]:
    module_name, _, function_name = BACKENDS[kind].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ModelLoadError(
            f"[E221] The {kind!r} backend ({module_name}) cannot be imported: {err}. Install the missing package "
            "or choose another --backend."
        ) from err
    loader: Callable[[str | None, Any], object] = getattr(module, function_name)
    return loader
