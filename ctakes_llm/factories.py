"""Every annotator a pipeline can name, built from a plain dict of options (one registry, imported on first use).

A pipeline file is JSON: ``{"steps": [{"annotator": "preprocess"}, {"annotator": "ner", "backend": "token"}, ...]}``;
an LLM assertion step reads ``{"annotator": "assertion", "method": "llm", "backend": "openai", "model": NAME,
"options": {"base_url": URL}}``.
The CLI builds the same step dicts from its flags, so a pipeline file and a command line mean the same thing.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctakes_llm.annotators.base import Annotator
from ctakes_llm.backends.base import Backend
from ctakes_llm.errors import ConfigError
from ctakes_llm.pipeline import Pipeline

if TYPE_CHECKING:
    from ctakes_llm.backends.http_retry import RetryPolicy
    from ctakes_llm.ner.generative import GenerateFn

Step = Mapping[str, Any]
Factory = Callable[[dict[str, Any], "BackendPool"], Annotator]
#: Backends that complete prompts, so they can also answer the assertion step's questions.
GENERATIVE_BACKENDS = ("causal", "openai")
ASSERTION_METHODS = ("context", "llm")

ANNOTATOR_FACTORIES: dict[str, str] = {
    "preprocess": "ctakes_llm.factories:make_preprocess",
    "ner": "ctakes_llm.factories:make_ner",
    "dictionary": "ctakes_llm.factories:make_dictionary",
    "assertion": "ctakes_llm.factories:make_assertion",
    "concepts": "ctakes_llm.factories:make_concepts",
}


class BackendPool:
    """The backends one pipeline loaded, by kind, model and options: steps that name the same model share it.

    An NER step and an LLM assertion step on the same causal LM then hold one copy of the weights.
    """

    def __init__(self) -> None:
        self._loaded: dict[str, Backend] = {}

    def get(self, kind: str, model: str | None, options: Mapping[str, Any]) -> Backend:
        """The backend for these settings, loaded on first request.

        Raises:
            ConfigError: unknown kind or option.
            ModelLoadError: the model cannot be loaded.
        """
        from ctakes_llm.backends.registry import load_backend

        key = json.dumps([kind, model, dict(options)], sort_keys=True, default=repr)
        if key not in self._loaded:
            self._loaded[key] = load_backend(kind, model, backend_config(kind, dict(options)))
        return self._loaded[key]


def build_pipeline(steps: Sequence[Step]) -> Pipeline:
    """Build a checked pipeline from step dicts.

    Raises:
        ConfigError: a step names no known annotator, or its options are invalid.
    """
    backends = BackendPool()
    return Pipeline([build_annotator(step, backends) for step in steps])


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


def build_annotator(step: Step, backends: BackendPool | None = None) -> Annotator:
    """Build one annotator from its step dict (``{"annotator": NAME, ...options}``).

    Args:
        step: The annotator's name and options.
        backends: Backends already loaded by other steps of the same pipeline; None for a fresh pool.
    """
    name = step.get("annotator")
    if name not in ANNOTATOR_FACTORIES:
        known = ", ".join(ANNOTATOR_FACTORIES)
        raise ConfigError(f"[E412] unknown annotator {name!r} in pipeline step {dict(step)!r}; known: {known}")
    module_name, _, function_name = ANNOTATOR_FACTORIES[name].partition(":")
    factory: Factory = getattr(importlib.import_module(module_name), function_name)
    options = {key: value for key, value in step.items() if key != "annotator"}
    try:
        return factory(options, backends or BackendPool())
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
    assertion_method: str | None = None,
    assertion_backend: str | None = None,
    assertion_model: str | None = None,
) -> list[dict[str, Any]]:
    """The pipeline ``ctakes-llm annotate`` runs: preprocess, NER and/or dictionary, assertion, concepts.

    Args:
        backend: The NER backend kind; None for no NER model.
        model: The NER model.
        backend_options: The NER backend's options (server, device, prompt format...).
        dictionary: A BSV dictionary to look up.
        assertion: Run the assertion step.
        knowledge_index: A knowledge index for UmlsConcepts.
        assertion_method: ``context`` (the rules; the default) or ``llm``.
        assertion_backend: For ``llm``: ``causal`` or ``openai``; None reuses a generative NER backend.
        assertion_model: For ``llm``: the model; None reuses the NER model when the backend is the NER's.

    Raises:
        ConfigError: assertion options that do not apply (``llm`` options without ``llm``, or with no assertion).
    """
    options = dict(backend_options or {})
    steps: list[dict[str, Any]] = [{"annotator": "preprocess"}]
    if backend is not None:
        steps.append({"annotator": "ner", "backend": backend, "model": model, "options": options})
    if dictionary is not None:
        steps.append({"annotator": "dictionary", "path": str(dictionary)})
    if assertion:
        steps.append(_assertion_step(assertion_method, backend, model, options, assertion_backend, assertion_model))
    else:
        given = _assertion_flags(assertion_method, assertion_backend, assertion_model)
        if given:
            raise ConfigError(f"[E418] {' and '.join(given)} given with --no-assertion; drop one or the other.")
    if knowledge_index is not None:
        steps.append({"annotator": "concepts", "index": str(knowledge_index)})
    return steps


def _assertion_flags(method: str | None, backend: str | None, model: str | None) -> list[str]:
    """The CLI flags of the assertion options that were given."""
    flags = {"--assertion": method, "--assertion-backend": backend, "--assertion-model": model}
    return [flag for flag, value in flags.items() if value is not None]


def _assertion_step(
    method: str | None,
    ner_backend: str | None,
    ner_model: str | None,
    ner_options: dict[str, Any],
    backend: str | None,
    model: str | None,
) -> dict[str, Any]:
    """The assertion step; for ``llm``, the NER's generative backend and model unless others are named.

    With the NER's settings the step shares its loaded backend. A model of its own gets those NER options that its
    backend has (server, key, device, offline) but none about NER prompts (format, few-shot, hints).
    """
    if method != "llm":
        stray = _assertion_flags(None, backend, model)
        if stray:
            raise ConfigError(f"[E418] {' and '.join(stray)} only apply to --assertion llm; add it or drop them.")
        return {"annotator": "assertion", **({"method": method} if method else {})}
    step: dict[str, Any] = {"annotator": "assertion", "method": "llm"}
    kind = backend or (ner_backend if ner_backend in GENERATIVE_BACKENDS else None)
    shared = kind == ner_backend and model in (None, ner_model)
    kind = _check_llm_assertion(kind, ner_model if shared else model)
    if shared:
        return step | {"backend": kind, "model": ner_model, "options": dict(ner_options)}
    config_class = _generative_config_class(kind)
    known = {item.name for item in dataclasses.fields(config_class)} if config_class else set()
    return step | {"backend": kind, "model": model, "options": {k: v for k, v in ner_options.items() if k in known}}


def make_preprocess(options: dict[str, Any], backends: BackendPool) -> Annotator:
    from ctakes_llm.annotators.preprocess import PreprocessAnnotator, PreprocessConfig

    return PreprocessAnnotator(PreprocessConfig(**options))


def make_ner(options: dict[str, Any], backends: BackendPool) -> Annotator:
    from ctakes_llm.annotators.ner import NerAnnotator, NerConfig

    backend = backends.get(options.pop("backend", "token"), options.pop("model", None), options.pop("options", {}))
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

    A pipeline file's options are plain JSON, so a ``"retry": {...}`` object becomes the backend's ``RetryPolicy``.

    Raises:
        ConfigError: an option the backend does not have, or a ``retry`` that is no retry policy.
    """
    config_class = _generative_config_class(kind)
    if config_class is None:
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
    if "retry" in options:
        options["retry"] = _retry_policy(kind, options["retry"])
    return config_class(generative=generative, **options)


def _retry_policy(kind: str, value: object) -> RetryPolicy:
    """A ``retry`` option as a ``RetryPolicy``: an object of its fields is converted, a policy passes through.

    Raises:
        ConfigError: ``value`` is neither, or names a field the policy does not have.
    """
    from ctakes_llm.backends.http_retry import RetryPolicy

    if isinstance(value, RetryPolicy):
        return value
    fields = [item.name for item in dataclasses.fields(RetryPolicy)]
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"[E419] the {kind!r} backend's 'retry' must be an object with any of {', '.join(fields)} "
            f'(e.g. {{"max_retries": 1}}), not {value!r}.'
        )
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ConfigError(
            f"[E419] the {kind!r} backend's 'retry' has no field {', '.join(map(repr, unknown))}; "
            f"its fields are: {', '.join(fields)}."
        )
    return RetryPolicy(**value)


def _generative_config_class(kind: str) -> Any:
    """The config dataclass of a generative backend kind; None for the others."""
    if kind == "causal":
        from ctakes_llm.backends.causal_lm import CausalLmConfig

        return CausalLmConfig
    if kind == "openai":
        from ctakes_llm.backends.openai_server import OpenAiConfig

        return OpenAiConfig
    return None


def make_dictionary(options: dict[str, Any], backends: BackendPool) -> Annotator:
    from ctakes_llm.annotators.dictionary import DictionaryAnnotator, DictionaryConfig

    return DictionaryAnnotator(DictionaryConfig(**options))


def make_assertion(options: dict[str, Any], backends: BackendPool) -> Annotator:
    """The assertion step: ``method`` ``context`` (rules; other options go to ``ContextConfig``) or ``llm``.

    ``llm`` takes ``backend`` (``causal`` or ``openai``), ``model``, ``options`` (the backend's, as for NER) and
    ``mentions_per_prompt``; the remaining options configure the rules that answer what the model does not.
    """
    from ctakes_llm.annotators.assertion import AssertionAnnotator
    from ctakes_llm.assertion.context import ContextConfig, ContextEngine
    from ctakes_llm.assertion.llm import LlmAssertionClassifier, LlmAssertionConfig, prompt_completer

    method = options.pop("method", "context")
    if method not in ASSERTION_METHODS:
        raise ConfigError(f"[E417] unknown assertion method {method!r}; choose one of: {', '.join(ASSERTION_METHODS)}.")
    if method == "context":
        return AssertionAnnotator(config=ContextConfig(**options))
    kind, model = options.pop("backend", None), options.pop("model", None)
    kind = _check_llm_assertion(kind, model)
    backend_options = options.pop("options", {})
    config = LlmAssertionConfig(**{key: options.pop(key) for key in ("mentions_per_prompt",) if key in options})
    rules = ContextEngine(config=ContextConfig(**options))  # before the model loads: bad options fail fast
    generate = prompt_completer(_generate_fn(backends.get(kind, model, backend_options)))
    identity = {"backend": kind, "model": model} | (
        {"base_url": backend_options["base_url"]} if "base_url" in backend_options else {}
    )
    return AssertionAnnotator(LlmAssertionClassifier(generate, rules, config, identity))


def _check_llm_assertion(kind: str | None, model: str | None) -> str:
    """Refuse an LLM assertion step without a generative backend or a model, before any model loads.

    Returns:
        The backend kind.
    """
    if kind is None:
        raise ConfigError(
            "[E415] --assertion llm needs a generative model to ask, and NER runs none (the token backend and "
            "--no-model cannot complete prompts): pass --assertion-backend causal|openai and --assertion-model "
            "(in a pipeline file: 'backend' and 'model' in the assertion step)."
        )
    if kind not in GENERATIVE_BACKENDS:
        raise ConfigError(
            f"[E415] --assertion llm cannot ask the {kind!r} backend: it cannot complete prompts. "
            f"Choose {' or '.join(GENERATIVE_BACKENDS)}."
        )
    if model is None:
        raise ConfigError(
            f"[E416] --assertion llm with the {kind!r} backend needs a model: pass --assertion-model (a model "
            "directory or hub id; for openai, the served model name), or 'model' in the pipeline file's step."
        )
    return kind


def _generate_fn(backend: Backend) -> GenerateFn:
    """The batch completion function of a generative backend (its public ``generate``, the one its NER uses)."""
    from ctakes_llm.backends.generative_base import GenerativeBackend

    if not isinstance(backend, GenerativeBackend):
        raise ConfigError(f"[E415] the {backend.name!r} backend cannot complete prompts for LLM assertion.")
    return backend.generate


def make_concepts(options: dict[str, Any], backends: BackendPool) -> Annotator:
    from ctakes_llm.annotators.concepts import ConceptAnnotator
    from ctakes_llm.knowledge.normalize import ConceptConfig

    index = options.pop("index")
    return ConceptAnnotator(index, ConceptConfig(**options))
