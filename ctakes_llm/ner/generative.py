"""The shared driver of generative backends: chunk -> prompt -> generate -> parse -> ground -> merge.

A generative backend (local causal LM, OpenAI-compatible server) supplies only two things: a function that
answers a batch of chat :class:`~ctakes_llm.ner.formats.Request` s, and a token counter for its own tokenizer.
Everything else, and every count the run report needs, lives here so all generative backends behave alike.

Counters (running totals over the backend's life, copied into the run report and manifest):

- ``documents``, ``chunks``, ``requests``: work done;
- ``forced_chunks``: windows that cut through a sentence too long for one window (never silently truncated; E320);
- ``truncated_chunks``: windows with at least one answer cut off by the output token limit (E319);
- ``unparseable``: parts of answers the format's parser could not read (garbage, half-JSON, truncated output; E318);
- ``grounded`` (and ``grounded_exact`` / ``grounded_normalized`` / ``grounded_fuzzy``), ``ungrounded``: proposed
  mentions found / not found in the text (E307); ``duplicates``: proposals whose every occurrence was already taken;
  ``overlaps``: same-class overlapping mentions removed inside a window; ``merged``: the same across windows;
- ``failed_documents``: documents the backend could not answer (the error is re-raised, see :meth:`predict`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ctakes_llm.errors import BackendError, ConfigError
from ctakes_llm.ner.chunking import Chunk, ChunkConfig, chunk_text, merge_chunk_mentions
from ctakes_llm.ner.entity_types import load_entity_types
from ctakes_llm.ner.formats import PromptFormat, Request, get_format
from ctakes_llm.ner.grounding import Grounder, GroundingConfig, Proposal
from ctakes_llm.ner.mention import Mention

logger = logging.getLogger(__name__)

#: Fewest note tokens a window may hold once the prompt and the answer are taken from the model's context.
MIN_CHUNK_TOKENS = 16
#: Tokens kept free because a window's text may tokenize a little longer inside the prompt than on its own.
PROMPT_MARGIN_TOKENS = 8


@dataclass(frozen=True)
class GenerativeConfig:
    """What every generative backend shares: the prompt format, the entity types, chunking and grounding.

    Attributes:
        prompt_format: a name from :data:`ctakes_llm.ner.formats.FORMATS`.
        entity_types: a JSON file of edited entity type descriptions; None for the shipped ones.
        chunk: window and overlap sizes in the backend's tokens (shrunk to fit the model's context).
        grounding: how hard to look for the model's strings.
        fewshot_corpus: an annotated corpus (any format ``corpora.load_corpus`` reads) whose sentences most like
            each chunk are shown as worked examples; None: zero-shot.
        fewshot_label_map: the label map of that corpus (bundled name or JSON path).
        fewshot_k: examples per request.
        fewshot_encoder: the sentence encoder that ranks examples (local folder); None: the packaged MiniLM.
        rag_index: a knowledge index (``ctakes-llm kb build``) whose terms found in a chunk are given to the
            model as hints (term: semantic type / definition); None: no hints.
    """

    prompt_format: str = "universal_ner"
    entity_types: str | None = None
    chunk: ChunkConfig = field(default_factory=ChunkConfig)
    grounding: GroundingConfig = field(default_factory=GroundingConfig)
    fewshot_corpus: str | None = None
    fewshot_label_map: str | None = None
    fewshot_k: int = 3
    fewshot_encoder: str | None = None
    rag_index: str | None = None

    def __post_init__(self) -> None:
        get_format(self.prompt_format, load_entity_types(self.entity_types))
        if self.fewshot_k < 1:
            raise ConfigError(f"[E317] fewshot_k={self.fewshot_k} must be at least 1")


@dataclass(frozen=True, slots=True)
class Generation:
    """One answer: its text, and whether the output token limit cut it off."""

    text: str
    truncated: bool = False


#: Answers requests in order; raises BackendError when it cannot.
GenerateFn = Callable[[Sequence[Request]], list[Generation]]


@dataclass
class DocumentResult:
    """The outcome for one document.

    Attributes:
        mentions: grounded mentions, offsets into the document.
        counts: this document's counters (see the module docstring).
        ungrounded: the proposals that were found nowhere, with the offset of the window they came from.
        error: the backend's error when the document could not be answered; mentions are then empty.
    """

    mentions: list[Mention]
    counts: Counter[str]
    ungrounded: list[tuple[int, Proposal]] = field(default_factory=list)
    error: BackendError | None = None


class GenerativeNer:
    """Finds mentions with a generative model through a prompt format, with verified grounding."""

    def __init__(
        self,
        generate: GenerateFn,
        count_tokens: Callable[[str], int],
        config: GenerativeConfig,
        max_chunk_tokens: int | None = None,
        prompt_format: PromptFormat | None = None,
    ) -> None:
        """Build the driver.

        Args:
            generate: the backend's batch answer function.
            count_tokens: the backend's token counter for note text.
            config: format, entity types, chunking and grounding.
            max_chunk_tokens: the most note tokens the model's context leaves for a window (see
                :func:`chunk_budget`); None when unknown.
            prompt_format: the format to use when it is not simply ``config.prompt_format`` (a format wrapped
                with few-shot examples or knowledge hints, see ``backends.prompt_stages``).

        Raises:
            ConfigError: the model's context leaves fewer than :data:`MIN_CHUNK_TOKENS` for the note.
        """
        self.generate = generate
        self.count_tokens = count_tokens
        self.config = config
        self.format: PromptFormat = prompt_format or get_format(
            config.prompt_format, load_entity_types(config.entity_types)
        )
        self.chunk_config = _fit_chunk_config(config.chunk, max_chunk_tokens)
        self.counters: Counter[str] = Counter()

    def predict(self, texts: Sequence[str]) -> list[list[Mention]]:
        """Return the mentions of each text.

        Every document is attempted. When one of several documents fails, nothing is counted and the first
        failure is raised, so a caller that then re-runs the documents one by one (as the corpus runner does)
        counts each exactly once; callers that need per-document outcomes use :meth:`predict_documents`.

        Raises:
            BackendError: the backend could not answer a document.
        """
        results = [self._document(text) for text in texts]
        failed = [index for index, result in enumerate(results) if result.error is not None]
        if not failed or len(texts) == 1:
            for result in results:
                self.counters.update(result.counts)
        if failed:
            index = failed[0]
            error = results[index].error
            raise BackendError(f"{error} (document {index + 1} of {len(texts)})") from error
        return [result.mentions for result in results]

    def predict_documents(self, texts: Sequence[str]) -> list[DocumentResult]:
        """Process each text on its own; a backend failure is recorded on that document and the rest go on."""
        results = []
        for text in texts:
            result = self._document(text)
            self.counters.update(result.counts)
            results.append(result)
        return results

    def _document(self, text: str) -> DocumentResult:
        counts: Counter[str] = Counter(documents=1)
        chunks = chunk_text(text, self.count_tokens, self.chunk_config)
        counts["chunks"] = len(chunks)
        counts["forced_chunks"] = sum(chunk.forced for chunk in chunks)
        for chunk in chunks:
            if chunk.forced:
                logger.info(
                    "[E320] chunk [%d, %d) cuts through a sentence longer than max_tokens=%d; a mention across the "
                    "cut may be split or missed. Raise the chunk max_tokens if the model's context allows.",
                    chunk.begin,
                    chunk.end,
                    self.chunk_config.max_tokens,
                )
        jobs = [(index, request) for index, chunk in enumerate(chunks) for request in self.format.requests(chunk.text)]
        counts["requests"] = len(jobs)
        try:
            generations = self.generate([request for _, request in jobs]) if jobs else []
        except BackendError as err:
            logger.warning("%s", err)
            counts["failed_documents"] = 1
            return DocumentResult([], counts, error=err)
        proposals: list[list[Proposal]] = [[] for _ in chunks]
        truncated: set[int] = set()
        for (index, request), generation in zip(jobs, generations, strict=True):
            if generation.truncated:
                truncated.add(index)
                logger.info(
                    "[E319] the answer about chunk [%d, %d) stopped at the output token limit; mentions after the cut "
                    "are lost. Raise max_new_tokens (max_tokens for a server) or lower the chunk max_tokens.",
                    chunks[index].begin,
                    chunks[index].end,
                )
            parsed = self.format.parse(generation.text, request, chunks[index].text)
            counts["unparseable"] += parsed.failures
            if parsed.failures:
                logger.info(
                    "[E318] %d part(s) of a %s answer about chunk [%d, %d) could not be read: %r. Try a server with "
                    "structured output or another prompt format.",
                    parsed.failures,
                    self.format.name,
                    chunks[index].begin,
                    chunks[index].end,
                    generation.text[:200],
                )
            proposals[index].extend(parsed.proposals)
        counts["truncated_chunks"] = len(truncated)
        per_chunk: list[tuple[Chunk, list[Mention]]] = []
        ungrounded: list[tuple[int, Proposal]] = []
        for chunk, chunk_proposals in zip(chunks, proposals, strict=True):
            grounding = Grounder(chunk.text, self.config.grounding).ground(chunk_proposals)
            counts.update(grounding.counts())
            ungrounded.extend((chunk.begin, proposal) for proposal in grounding.ungrounded)
            per_chunk.append((chunk, grounding.mentions))
        mentions, merged = merge_chunk_mentions(per_chunk)
        counts["merged"] = merged
        return DocumentResult(mentions, counts, ungrounded)


def chunk_budget(
    fmt: PromptFormat, prompt_tokens: Callable[[Request], int], context_tokens: int | None, max_new_tokens: int
) -> int | None:
    """How many note tokens fit a window: the context less the longest empty-text prompt, the answer and a margin.

    Args:
        fmt: the prompt format (its requests for an empty text measure the prompt's own tokens).
        prompt_tokens: the backend's count of a whole rendered request (chat template included).
        context_tokens: the model's context length; None when unknown (no limit is derived).
        max_new_tokens: the answer's token limit.
    """
    if context_tokens is None:
        return None
    overhead = max(prompt_tokens(request) for request in fmt.requests(""))
    return context_tokens - overhead - max_new_tokens - PROMPT_MARGIN_TOKENS


def _fit_chunk_config(config: ChunkConfig, max_chunk_tokens: int | None) -> ChunkConfig:
    if max_chunk_tokens is None or config.max_tokens <= max_chunk_tokens:
        return config
    if max_chunk_tokens < MIN_CHUNK_TOKENS:
        raise ConfigError(
            f"[E315] the model's context leaves {max_chunk_tokens} tokens for note text after the prompt and "
            f"the answer; at least {MIN_CHUNK_TOKENS} are needed. Lower max_new_tokens or use a model with a "
            "longer context."
        )
    fitted = ChunkConfig(max_chunk_tokens, min(config.overlap_tokens, max_chunk_tokens // 4))
    logger.info(
        "[E316] chunk max_tokens lowered from %d to %d (overlap %d) to fit the model's context",
        config.max_tokens,
        fitted.max_tokens,
        fitted.overlap_tokens,
    )
    return fitted
