"""An OpenAI-compatible chat completions server (vLLM, llama.cpp server, Ollama, TGI, OpenAI) as a NER backend.

We call the HTTP API with ``httpx`` directly rather than through the ``openai`` package: retries, backoff and
timeouts must follow our policy and be counted (the ``openai`` client retries on its own schedule, out of sight),
the structured-output fallback needs the raw status of a rejected ``response_format``, and httpx is already a core
dependency, so this backend adds none.

Per request: ``POST {base_url}/chat/completions`` with the format's messages, ``temperature`` (0: greedy by
default), ``seed``, ``max_tokens`` and, when the format has a JSON schema and ``structured_output`` is on,
``response_format = {"type": "json_schema", "json_schema": {"name": ..., "schema": ...}}`` (the OpenAI form, which
vLLM and llama.cpp also accept). A server that answers 400 to a request with ``response_format`` is asked again
without it, and the backend stops sending it (counted as ``schema_fallbacks``). Timeouts, connection errors, 408,
429 and 5xx are retried with exponential backoff (:mod:`ctakes_llm.backends.http_retry`); when retries run out the
document fails with a :class:`~ctakes_llm.errors.BackendError`, which the corpus runner records before going on.
Requests of a document run concurrently, at most ``concurrency`` at a time.

The API key is read from the environment variable *named* in the config when the backend is built (never at
import, never stored in the config). Windows are counted with a local tokenizer when one is given, else estimated
as one token per :data:`CHARS_PER_TOKEN` characters (conservative for clinical text).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from ctakes_llm.backends.generative_base import GenerativeBackend
from ctakes_llm.backends.http_retry import RetryPolicy, post_json
from ctakes_llm.errors import BackendError, ConfigError, ModelLoadError
from ctakes_llm.ner.formats import Request
from ctakes_llm.ner.generative import Generation, GenerativeConfig

logger = logging.getLogger(__name__)

#: Characters per token assumed when no tokenizer is given (real tokenizers give 3.5-4.5 on clinical English).
CHARS_PER_TOKEN = 3


@dataclass(frozen=True)
class OpenAiConfig:
    """How to reach and use an OpenAI-compatible server.

    Attributes:
        generative: prompt format, entity types, chunking and grounding.
        base_url: the API root, ending in ``/v1``.
        api_key_env: the NAME of the environment variable holding the API key; None for servers without keys.
        max_tokens: the answer's token limit; an answer cut there counts in ``truncated_chunks``.
        temperature: 0 for greedy decoding.
        seed: sent to servers that support seeded sampling; None to leave it out.
        timeout_s: the read timeout of one request.
        connect_timeout_s: the connect timeout.
        retry: retries and backoff for transient failures.
        concurrency: requests in flight at once.
        structured_output: send the format's JSON schema as ``response_format`` when it has one.
        tokenizer: a local tokenizer directory or hub id to count window tokens exactly; None to estimate.
        context_tokens: the served model's context length, to size windows; None when unknown.
        offline: load the tokenizer from local files only.
        check_model: at load, ask ``GET /models`` that the server is up and serves ``model``.
    """

    generative: GenerativeConfig = field(default_factory=GenerativeConfig)
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    seed: int | None = 0
    timeout_s: float = 60.0
    connect_timeout_s: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    concurrency: int = 4
    structured_output: bool = True
    tokenizer: str | None = None
    context_tokens: int | None = None
    offline: bool = True
    check_model: bool = True

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"[E241] base_url={self.base_url!r} must start with http:// or https://")
        if self.max_tokens < 1 or self.concurrency < 1:
            raise ConfigError(
                f"[E242] max_tokens={self.max_tokens} and concurrency={self.concurrency} must be at least 1"
            )
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise ConfigError(
                f"[E243] timeout_s={self.timeout_s}, connect_timeout_s={self.connect_timeout_s} must be > 0"
            )
        if self.temperature < 0:
            raise ConfigError(f"[E244] temperature={self.temperature} must be >= 0 (0 is greedy)")
        if self.context_tokens is not None and self.context_tokens < 1:
            raise ConfigError(f"[E245] context_tokens={self.context_tokens} must be positive or None")


class OpenAiServerBackend(GenerativeBackend):
    """Finds mentions with a model behind an OpenAI-compatible server; implements the Backend protocol."""

    name = "openai"

    def __init__(
        self,
        model: str,
        config: OpenAiConfig,
        api_key: str | None = None,
        count_tokens: Callable[[str], int] | None = None,
    ) -> None:
        """Build the backend; most callers use :func:`load`, which also reads the key and checks the server.

        Args:
            model: the served model name.
            config: server and NER settings.
            api_key: the key sent as ``Authorization: Bearer``; None to send none.
            count_tokens: a token counter for window sizing; None to estimate from characters.
        """
        self.model = model
        self.config = config
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        self.client = httpx.Client(base_url=config.base_url.rstrip("/"), headers=headers, timeout=timeout)
        self._count = count_tokens or _estimate_tokens
        self._lock = threading.Lock()
        self._structured = config.structured_output
        super().__init__(
            config.generative,
            count_tokens=self._count,
            prompt_tokens=self._prompt_tokens,
            context_tokens=config.context_tokens,
            max_new_tokens=config.max_tokens,
        )

    def describe(self) -> dict[str, object]:
        """Backend, server, model, prompt format, settings and counts, for the run manifest.

        The weights hash is None: the server does not expose its weights.
        """
        generative = self.config.generative
        return {
            "backend": self.name,
            "model": self.model,
            "base_url": self.config.base_url,
            "weights_sha256": None,
            "prompt_format": generative.prompt_format,
            "entity_types": generative.entity_types or "shipped",
            "structured_output": self._structured,
            "token_counting": "tokenizer" if self.config.tokenizer else f"estimate ({CHARS_PER_TOKEN} chars/token)",
            "chunk": dataclasses.asdict(self._ner.chunk_config),
            "grounding": dataclasses.asdict(generative.grounding),
            "generation": {
                "max_tokens": self.config.max_tokens,
                "temperature": self.config.temperature,
                "seed": self.config.seed,
                "concurrency": self.config.concurrency,
            },
            "counts": dict(self.counters),
        }

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def _prompt_tokens(self, request: Request) -> int:
        return sum(self._count(message.content) + 4 for message in request.messages) + 2

    def _count_event(self, key: str) -> None:
        with self._lock:
            self.counters[key] += 1

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        """Answer requests over HTTP, at most ``concurrency`` at a time; results come back in request order.

        Raises:
            BackendError: a request failed for good (after retries, or with a client error); the requests not yet
                started are cancelled.
        """
        if len(requests) == 1 or self.config.concurrency == 1:
            return [self._complete(request) for request in requests]
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            futures = [pool.submit(self._complete, request) for request in requests]
            try:
                return [future.result() for future in futures]
            except BackendError:
                for future in futures:
                    future.cancel()
                raise

    def _body(self, request: Request, structured: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
        }
        if self.config.seed is not None:
            body["seed"] = self.config.seed
        if structured and request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "mentions", "schema": dict(request.json_schema)},
            }
        return body

    def _complete(self, request: Request) -> Generation:
        structured = self._structured and request.json_schema is not None
        response = self._post(self._body(request, structured))
        if structured and response.status_code == 400:
            logger.warning(
                "[E246] %s rejected response_format json_schema (%s); asking without it from now on",
                self.config.base_url,
                response.text[:200],
            )
            self._structured = False
            self._count_event("schema_fallbacks")
            response = self._post(self._body(request, structured=False))
        if response.status_code != 200:
            raise BackendError(
                f"[E247] {self.config.base_url}/chat/completions answered HTTP {response.status_code}: "
                f"{response.text[:300]}. Check the model name {self.model!r}, the API key and the server log."
            )
        return _generation(response, self.config.base_url)

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        return post_json(
            self.client,
            "/chat/completions",
            body,
            self.config.retry,
            on_retry=lambda _reason: self._count_event("retries"),
        )


def _generation(response: httpx.Response, base_url: str) -> Generation:
    """The answer text and whether it was cut at the token limit (``finish_reason == "length"``)."""
    try:
        choice = response.json()["choices"][0]
        content = choice["message"].get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
        raise BackendError(
            f"[E248] {base_url}/chat/completions returned no choices[0].message: {response.text[:300]}. "
            "Is it an OpenAI-compatible server?"
        ) from err
    return Generation(str(content), choice.get("finish_reason") == "length")


def _estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def load(model: str | None, config: OpenAiConfig | None = None) -> OpenAiServerBackend:
    """Connect to an OpenAI-compatible server.

    Args:
        model: the served model name (as ``GET /models`` lists it).
        config: server and NER settings.

    Raises:
        ConfigError: no model was given.
        ModelLoadError: the key's environment variable is unset, the tokenizer cannot be loaded, or the server
            cannot be reached or does not serve ``model``.
    """
    if not model:
        raise ConfigError("[E249] the openai backend needs the served model name: pass --model NAME")
    config = config or OpenAiConfig()
    api_key = None
    if config.api_key_env is not None:
        api_key = os.environ.get(config.api_key_env)
        if not api_key:
            raise ModelLoadError(
                f"[E250] the environment variable {config.api_key_env} holds no API key. Export it, or set "
                "api_key_env to None for a server that needs no key."
            )
    count_tokens = _tokenizer_counter(config.tokenizer, config.offline) if config.tokenizer else None
    backend = OpenAiServerBackend(model, config, api_key=api_key, count_tokens=count_tokens)
    if config.check_model:
        _check_model(backend)
    return backend


def _tokenizer_counter(name: str, offline: bool) -> Callable[[str], int]:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=offline)
    except (OSError, ValueError) as err:
        raise ModelLoadError(
            f"[E251] cannot load the tokenizer {name!r} used to count tokens: {err}. Pass a local tokenizer "
            "directory, or leave tokenizer unset to estimate."
        ) from err

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


def _check_model(backend: OpenAiServerBackend) -> None:
    url = f"{backend.config.base_url.rstrip('/')}/models"
    try:
        response = backend.client.get("/models")
    except httpx.HTTPError as err:
        backend.close()
        raise ModelLoadError(
            f"[E252] cannot reach {url}: {err}. Start the server, check base_url, or set check_model=False."
        ) from err
    if response.status_code != 200:
        backend.close()
        raise ModelLoadError(
            f"[E253] {url} answered HTTP {response.status_code}: {response.text[:200]}. Check the API key and base_url."
        )
    try:
        served = [str(entry["id"]) for entry in response.json().get("data", [])]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        backend.close()
        raise ModelLoadError(f"[E254] {url} did not return an OpenAI model list: {response.text[:200]}") from err
    if served and backend.model not in served:
        backend.close()
        raise ModelLoadError(
            f"[E255] {url} does not serve {backend.model!r}; it serves: {', '.join(served)}. "
            "Pass one of them to --model."
        )
