"""A local causal language model (``AutoModelForCausalLM``) as a generative NER backend.

The model and its tokenizer load the transformers way from a directory or a hub id, offline unless the config
allows the network. Prompts use the tokenizer's chat template when it has one, else a plain ``ROLE: text``
transcript (see :func:`plain_prompt`). Decoding is greedy by default; sampling is seeded per document. Requests are
generated in batches sorted by length, left-padded. Chunking, parsing and grounding are the shared
:class:`~ctakes_llm.ner.generative.GenerativeNer` driver's; windows are sized with this model's tokenizer and
context length. torch and transformers are imported only when a model is loaded.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ctakes_llm.backends.generative_base import GenerativeBackend
from ctakes_llm.backends.model_source import resolve_model, weights_sha256
from ctakes_llm.errors import ConfigError, ModelLoadError
from ctakes_llm.ner.formats import Message, Request
from ctakes_llm.ner.generative import Generation, GenerativeConfig

logger = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "float16", "bfloat16")


@dataclass(frozen=True)
class CausalLmConfig:
    """How to load and run a local causal LM.

    Attributes:
        generative: prompt format, entity types, chunking and grounding.
        max_new_tokens: the answer's token limit; an answer cut there counts in ``truncated_chunks``.
        do_sample: sample instead of greedy decoding.
        temperature: sampling temperature (only when sampling).
        top_p: nucleus sampling mass (only when sampling).
        seed: torch seed set before each document's generation when sampling.
        batch_size: requests generated together.
        device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:1``, ``mps``...
        dtype: weights dtype: ``auto`` (as saved), ``float32``, ``float16``, ``bfloat16``.
        offline: load only local files (``local_files_only``); set False to let transformers download.
        trust_remote_code: allow model code from the model directory (only for models you trust).
    """

    generative: GenerativeConfig = field(default_factory=GenerativeConfig)
    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 1.0
    seed: int = 0
    batch_size: int = 8
    device: str = "auto"
    dtype: str = "auto"
    offline: bool = True
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"[E230] max_new_tokens={self.max_new_tokens} must be at least 1; use 256")
        if self.batch_size < 1:
            raise ConfigError(f"[E231] batch_size={self.batch_size} must be at least 1")
        if self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ConfigError(
                f"[E232] temperature={self.temperature} must be > 0 and top_p={self.top_p} in (0, 1]; "
                "for deterministic output leave do_sample=False"
            )
        if self.dtype not in DTYPES:
            raise ConfigError(f"[E233] dtype={self.dtype!r} is not one of {', '.join(DTYPES)}")


def plain_prompt(messages: Sequence[Message]) -> str:
    """A transcript for tokenizers without a chat template (the Vicuna style UniversalNER was trained on).

    The system message comes first on its own, then ``USER: ...`` / ``ASSISTANT: ...`` lines, and a final
    ``ASSISTANT:`` for the model to continue.
    """
    lines = [m.content if m.role == "system" else f"{m.role.upper()}: {m.content}" for m in messages]
    return "\n".join([*lines, "ASSISTANT:"])


class CausalLmBackend(GenerativeBackend):
    """Finds mentions with a local causal LM through a prompt format; implements the Backend protocol."""

    name = "causal"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        config: CausalLmConfig,
        model_id: str,
        model_path: str | None = None,
        logits_processor: Any = None,
    ) -> None:
        """Wrap a loaded model; most callers use :func:`load`.

        Args:
            model: a transformers causal LM, already on its device and in eval mode.
            tokenizer: its tokenizer.
            config: generation and NER settings.
            model_id: the path or hub id the user gave (for the manifest).
            model_path: the directory the weights were loaded from (hashed for the manifest); None: ``model_id``.
            logits_processor: an optional ``transformers.LogitsProcessorList`` applied during generation
                (constrained decoding, forced answers).
        """
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.model_id = model_id
        self.model_path = model_path or model_id
        self.logits_processor = logits_processor
        self._weights_sha256: str | None = None
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token_id is None:
                raise ModelLoadError(
                    f"[E234] the tokenizer of {model_id} has neither a pad nor an eos token; add one "
                    "(tokenizer.add_special_tokens) and save it with the model."
                )
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        super().__init__(
            config.generative,
            count_tokens=self._count_tokens,
            prompt_tokens=self._prompt_tokens,
            context_tokens=getattr(model.config, "max_position_embeddings", None),
            max_new_tokens=config.max_new_tokens,
        )

    def describe(self) -> dict[str, object]:
        """Backend, model, weights hash, prompt format, settings and counts, for the run manifest."""
        if self._weights_sha256 is None:
            self._weights_sha256 = weights_sha256(self.model_path)
        generative = self.config.generative
        return {
            "backend": self.name,
            "model": self.model_id,
            "model_path": self.model_path,
            "weights_sha256": self._weights_sha256,
            "prompt_format": generative.prompt_format,
            "entity_types": generative.entity_types or "shipped",
            "chat_template": bool(getattr(self.tokenizer, "chat_template", None)),
            "chunk": dataclasses.asdict(self._ner.chunk_config),
            "grounding": dataclasses.asdict(generative.grounding),
            "generation": {
                "max_new_tokens": self.config.max_new_tokens,
                "do_sample": self.config.do_sample,
                "temperature": self.config.temperature if self.config.do_sample else None,
                "top_p": self.config.top_p if self.config.do_sample else None,
                "seed": self.config.seed,
                "batch_size": self.config.batch_size,
            },
            "device": str(self.model.device),
            "dtype": str(self.model.dtype),
            "counts": dict(self.counters),
        }

    def render(self, request: Request) -> tuple[str, bool]:
        """The prompt text of a request, and whether the tokenizer should add its special tokens to it."""
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": m.role, "content": m.content} for m in request.messages]
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False), False
        return plain_prompt(request.messages), True

    def _count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _prompt_tokens(self, request: Request) -> int:
        prompt, special = self.render(request)
        return len(self.tokenizer(prompt, add_special_tokens=special)["input_ids"])

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        """Answer requests in batches sorted by prompt length (left-padded); results come back in request order.

        When sampling, the torch seed is set first, so the same requests give the same answers.
        """
        import torch

        if self.config.do_sample:
            torch.manual_seed(self.config.seed)
        rendered = [self.render(request) for request in requests]
        order = sorted(range(len(rendered)), key=lambda index: len(rendered[index][0]))
        results: dict[int, Generation] = {}
        size = self.config.batch_size
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            # Rows of one batch share one special-tokens setting: they all come from the same renderer.
            special = rendered[batch[0]][1]
            texts = [rendered[index][0] for index in batch]
            for index, generation in zip(batch, self._generate_batch(texts, special), strict=True):
                results[index] = generation
        return [results[index] for index in range(len(requests))]

    def _generate_batch(self, prompts: list[str], add_special_tokens: bool) -> list[Generation]:
        import torch

        encoded = self.tokenizer(
            prompts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=add_special_tokens,
            return_token_type_ids=False,  # BERT-style tokenizers add them and generate() refuses them
        ).to(self.model.device)
        options: dict[str, Any] = {
            "max_new_tokens": self.config.max_new_tokens,
            "do_sample": self.config.do_sample,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if self.tokenizer.eos_token_id is not None:
            options["eos_token_id"] = self.tokenizer.eos_token_id
        if self.config.do_sample:
            options.update(temperature=self.config.temperature, top_p=self.config.top_p)
        else:
            options.update(temperature=None, top_p=None, top_k=None)
        if self.logits_processor is not None:
            options["logits_processor"] = self.logits_processor
        with torch.inference_mode():
            output = self.model.generate(**encoded, **options)
        generations = []
        eos = self.tokenizer.eos_token_id
        for row in output[:, encoded["input_ids"].shape[1] :].tolist():
            ended = eos is not None and eos in row
            if ended:
                row = row[: row.index(eos)]
            truncated = not ended and len(row) >= self.config.max_new_tokens
            generations.append(Generation(self.tokenizer.decode(row, skip_special_tokens=True), truncated))
        return generations


def load(model: str | None, config: CausalLmConfig | None = None) -> CausalLmBackend:
    """Load a causal LM backend from a model directory or hub id.

    Args:
        model: a directory saved with ``save_pretrained`` or a hub id (in the local cache unless
            ``config.offline`` is False).
        config: generation and NER settings; None for the defaults (greedy, UniversalNER prompts).

    Raises:
        ConfigError: no model was given.
        ModelLoadError: the model or tokenizer cannot be found or loaded.
    """
    if model is None:
        raise ConfigError("[E235] the causal backend needs a model: pass --model DIRECTORY_OR_HUB_ID")
    config = config or CausalLmConfig()
    path = resolve_model(model, offline=config.offline)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    options: dict[str, Any] = {"local_files_only": config.offline, "trust_remote_code": config.trust_remote_code}
    dtype = "auto" if config.dtype == "auto" else getattr(torch, config.dtype)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **options)
        lm: Any = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **options)
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(
            f"[E236] cannot load a causal LM and its tokenizer from {path}: {err}. Pass a directory saved with "
            "save_pretrained that holds a causal LM (config.json, weights, tokenizer files)."
        ) from err
    device = config.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        lm.to(device)
    except (RuntimeError, AssertionError) as err:
        raise ModelLoadError(f"[E237] cannot move the model to device {device!r}: {err}. Use --device cpu.") from err
    lm.eval()
    logger.info("loaded causal LM %s on %s", model, device)
    return CausalLmBackend(lm, tokenizer, config, model_id=model, model_path=path)
