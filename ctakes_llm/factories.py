"""Every annotator a pipeline can name, built from a plain dict of options (one registry, imported on first use).

A pipeline file is JSON: ``{"steps": [{"annotator": "preprocess"}, {"annotator": "ner", "backend": "token"}, ...]}``.
The CLI builds the same step dicts from its flags, so a pipeline file and a command line mean the same thing.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ctakes_llm.annotators.base import Annotator
from ctakes_llm.errors import ConfigError
from ctakes_llm.pipeline import Pipeline

Step = Mapping[str, Any]

ANNOTATOR_FACTORIES: dict[str, str] = {
    "preprocess": "ctakes_llm.factories:make_preprocess",
    "ner": "ctakes_llm.factories:make_ner",
    "dictionary": "ctakes_llm.factories:make_dictionary",
    "assertion": "ctakes_llm.factories:make_assertion",
    "concepts": "ctakes_llm.factories:make_concepts",
}


def build_pipeline(steps: Sequence[Step]) -> Pipeline:
    """Build a checked pipeline from step dicts.

    Raises:
        ConfigError: a step names no known annotator, or its options are invalid.
    """
    return Pipeline([build_annotator(step) for step in steps])


def load_pipeline(path: Path) -> Pipeline:
    """Build a pipeline from a JSON pipeline file.

    Raises:
        ConfigError: the file is missing, is not JSON, or describes an invalid pipeline.
    """
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"[E410] cannot read pipeline file {str(path)!r}: {err}") from err
    if not isinstance(spec, dict) or not isinstance(spec.get("steps"), list):
        raise ConfigError(f"[E411] pipeline file {str(path)!r} must be a JSON object with a list 'steps'.")
    return build_pipeline(spec["steps"])


def build_annotator(step: Step) -> Annotator:
    """Build one annotator from its step dict (``{"annotator": NAME, ...options}``)."""
    name = step.get("annotator")
    if name not in ANNOTATOR_FACTORIES:
        known = ", ".join(ANNOTATOR_FACTORIES)
        raise ConfigError(f"[E412] unknown annotator {name!r} in pipeline step {dict(step)!r}; known: {known}")
    module_name, _, function_name = ANNOTATOR_FACTORIES[name].partition(":")
    factory: Callable[[dict[str, Any]], Annotator] = getattr(importlib.import_module(module_name), function_name)
    options = {key: value for key, value in step.items() if key != "annotator"}
    try:
        return factory(options)
    except TypeError as err:
        raise ConfigError(f"[E413] bad options for annotator {name!r}: {err}") from err


def default_steps(
    *,
    backend: str | None = "token",
    model: str | None = None,
    backend_options: Mapping[str, Any] | None = None,
    dictionary: Path | None = None,
    assertion: bool = True,
    knowledge_index: Path | None = None,
) -> list[dict[str, Any]]:
    """The pipeline ``ctakes-llm annotate`` runs: preprocess, NER and/or dictionary, assertion, concepts."""
    steps: list[dict[str, Any]] = [{"annotator": "preprocess"}]
    if backend is not None:
        steps.append({"annotator": "ner", "backend": backend, "model": model, "options": dict(backend_options or {})})
    if dictionary is not None:
        steps.append({"annotator": "dictionary", "path": str(dictionary)})
    if assertion:
        steps.append({"annotator": "assertion"})
    if knowledge_index is not None:
        steps.append({"annotator": "concepts", "index": str(knowledge_index)})
    return steps


def make_preprocess(options: dict[str, Any]) -> Annotator:
    from ctakes_llm.annotators.preprocess import PreprocessAnnotator, PreprocessConfig

    return PreprocessAnnotator(PreprocessConfig(**options))


def make_ner(options: dict[str, Any]) -> Annotator:
    from ctakes_llm.annotators.ner import NerAnnotator, NerConfig
    from ctakes_llm.backends.registry import load_backend

    kind = options.pop("backend", "token")
    backend_options = dict(options.pop("options", {}))
    backend = load_backend(kind, options.pop("model", None), backend_config(kind, backend_options))
    return NerAnnotator(backend, NerConfig(**options))


GENERATIVE_OPTIONS = (
    "prompt_format",
    "entity_types",
    "fewshot_corpus",
    "fewshot_label_map",
    "fewshot_k",
    "fewshot_encoder",
    "rag_index",
)


def backend_config(kind: str, options: dict[str, Any]) -> object:
    """The config object a backend's loader takes, from flat options (``prompt_format`` goes to the generative part).

    Raises:
        ConfigError: an option the backend does not have.
    """
    if kind == "token":
        return options
    if kind == "causal":
        from ctakes_llm.backends.causal_lm import CausalLmConfig as config_class
    elif kind == "openai":
        from ctakes_llm.backends.openai_server import OpenAiConfig as config_class  # type: ignore[assignment]
    else:
        return options
    from ctakes_llm.ner.generative import GenerativeConfig

    generative = GenerativeConfig(**{key: options.pop(key) for key in GENERATIVE_OPTIONS if key in options})
    known = {item.name for item in dataclasses.fields(config_class)} - {"generative"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(
            f"[E414] the {kind!r} backend has no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(sorted(known | set(GENERATIVE_OPTIONS)))}."
        )
    return config_class(generative=generative, **options)


def make_dictionary(options: dict[str, Any]) -> Annotator:
    from ctakes_llm.annotators.dictionary import DictionaryAnnotator, DictionaryConfig

    return DictionaryAnnotator(DictionaryConfig(**options))


def make_assertion(options: dict[str, Any]) -> Annotator:
    from ctakes_llm.annotators.assertion import AssertionAnnotator
    from ctakes_llm.assertion.context import ContextConfig

    return AssertionAnnotator(config=ContextConfig(**options))


def make_concepts(options: dict[str, Any]) -> Annotator:
    from ctakes_llm.annotators.concepts import ConceptAnnotator
    from ctakes_llm.knowledge.normalize import ConceptConfig

    index = options.pop("index")
    return ConceptAnnotator(index, ConceptConfig(**options))
